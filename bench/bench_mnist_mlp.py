"""One epoch of MNIST with an MLP: glassgrad vs PyTorch (CPU) vs a hand-written NumPy loop.

All three train the same network (default 784-256-10 ReLU, softmax cross-entropy, SGD
lr 0.1, batch 128) from the same initial weights over the same batch order, so they do
the same arithmetic; the NumPy loop (forward, fused softmax-CE gradient, backward, SGD,
no framework at all) is the bar for "no framework tax".

Timing: in this process, frameworks alternate within each repetition; the median and the
minimum seconds per epoch are reported (on a shared machine the minimum is the more stable
figure: contention only ever adds time). Memory: each framework runs one epoch in a fresh child process;
reported is the resident-set high-water mark during the epoch above what the process held
after importing the framework and loading MNIST (VmHWM reset through /proc/self/clear_refs
on Linux; elsewhere ru_maxrss minus the RSS after loading, which can under-count).

    python bench/bench_mnist_mlp.py --reps 3
    python bench/bench_mnist_mlp.py --layers 784-300-100-10 --reps 3 --data /path/to/mnist

MNIST comes from ``--data`` / ``$GLASSGRAD_DATA`` (IDX files, raw or .gz).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
sys.path.insert(0, HERE)

from _memory import peak_above_base_mib  # noqa: E402


# ---------------------------------------------------------------------------- setup
def load_mnist(root: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from glassgrad.data import MNIST

    tr = MNIST(root, train=True, download=False)
    te = MNIST(root, train=False, download=False)
    return (*tr.arrays(), *te.arrays())


def init_weights(sizes: list[int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch's default Linear init, U(±1/√fan_in), drawn once with NumPy (float32)."""
    rng = np.random.default_rng(seed)
    out = []
    for fi, fo in zip(sizes[:-1], sizes[1:]):
        b = 1.0 / np.sqrt(fi)
        out.append((rng.uniform(-b, b, (fo, fi)).astype(np.float32),
                    rng.uniform(-b, b, fo).astype(np.float32)))
    return out


def batch_order(n: int, batch: int, seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed + 1).permutation(n)
    return [perm[i:i + batch] for i in range(0, n, batch)]


def accuracy(weights: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray, y: np.ndarray) -> float:
    h = X
    for i, (W, b) in enumerate(weights):
        h = h @ W.T + b
        if i < len(weights) - 1:
            h = np.maximum(h, 0)
    return float((h.argmax(1) == y).mean())


# ---------------------------------------------------------------------------- the three loops
def epoch_numpy(weights: list, X: np.ndarray, y: np.ndarray, order: list, lr: float) -> list:
    """Hand-written: forward, fused softmax-CE gradient, backward, SGD (in place)."""
    Ws = [(W.copy(), b.copy()) for W, b in weights]
    L = len(Ws)
    for idx in order:
        xb, yb = X[idx], y[idx]
        n = len(idx)
        acts = [xb]
        h = xb
        for i, (W, b) in enumerate(Ws):
            h = h @ W.T
            h += b
            if i < L - 1:
                np.maximum(h, 0, out=h)
            acts.append(h)
        z = acts[-1]
        z -= z.max(1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(1, keepdims=True)
        z[np.arange(n), yb] -= 1.0
        z *= np.float32(1.0 / n)
        g = z                                   # dL/dlogits of the mean cross-entropy
        for i in range(L - 1, -1, -1):
            W, b = Ws[i]
            a = acts[i]
            gW = g.T @ a
            gb = g.sum(0)
            if i > 0:
                g = g @ W
                g *= acts[i] > 0                # ReLU'
            W -= np.float32(lr) * gW
            b -= np.float32(lr) * gb
    return Ws


def make_glassgrad(weights: list) -> tuple[Any, Callable]:
    import glassgrad as gg
    from glassgrad import nn, optim

    layers: list[Any] = []
    for i, (W, _b) in enumerate(weights):
        lin = nn.Linear(W.shape[1], W.shape[0])
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)

    def reset() -> None:
        lins = [m for m in model if isinstance(m, nn.Linear)]
        for lin, (W, b) in zip(lins, weights):
            lin.weight.data[...] = W
            lin.bias.data[...] = b

    def run(X: np.ndarray, y: np.ndarray, order: list, lr: float) -> list:
        reset()
        opt = optim.SGD(model.parameters(), lr=lr)
        for idx in order:
            xb = gg.from_numpy(X[idx])
            yb = gg.from_numpy(y[idx])
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        lins = [m for m in model if isinstance(m, nn.Linear)]
        return [(m.weight.data.copy(), m.bias.data.copy()) for m in lins]

    return model, run


def make_torch(weights: list) -> tuple[Any, Callable]:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    layers: list[Any] = []
    for i, (W, _b) in enumerate(weights):
        layers.append(torch.nn.Linear(W.shape[1], W.shape[0]))
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)

    def run(X: np.ndarray, y: np.ndarray, order: list, lr: float) -> list:
        lins = [m for m in model if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for lin, (W, b) in zip(lins, weights):
                lin.weight.copy_(torch.from_numpy(W))
                lin.bias.copy_(torch.from_numpy(b))
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        for idx in order:
            it = torch.from_numpy(idx)
            xb, yb = Xt[it], yt[it]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in lins]

    return model, run


def runner(name: str, weights: list) -> Callable:
    if name == "numpy":
        return lambda X, y, order, lr: epoch_numpy(weights, X, y, order, lr)
    return (make_glassgrad if name == "glassgrad" else make_torch)(weights)[1]


# ---------------------------------------------------------------------------- memory (child process)
def _memory_child(name: str, args: dict, q: Any) -> None:
    if name == "torch":
        import torch  # noqa: F401  (import cost is not counted)
    elif name == "glassgrad":
        import glassgrad  # noqa: F401
        import glassgrad.nn  # noqa: F401
        import glassgrad.optim  # noqa: F401
    X, y, _, _ = load_mnist(args["data"])
    weights = init_weights(args["sizes"], args["seed"])
    order = batch_order(len(X), args["batch"], args["seed"])[:args["max_batches"]]
    run = runner(name, weights)
    mib, reset = peak_above_base_mib(lambda: run(X, y, order, args["lr"]))
    q.put((name, mib, reset))


def measure_memory(name: str, args: dict) -> tuple[float, bool]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_memory_child, args=(name, args, q))
    p.start()
    res = q.get(timeout=600)
    p.join()
    return res[1], res[2]


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", default=None, help="e.g. 784-300-100-10 (overrides --hidden)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=os.environ.get("GLASSGRAD_DATA"))
    ap.add_argument("--frameworks", default="numpy,glassgrad,torch")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--max-batches", type=int, default=None, help="stop each epoch early (smoke runs)")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.layers.split("-")] if a.layers else [784, a.hidden, 10]
    if sizes[0] != 784 or sizes[-1] != 10:
        ap.error(f"--layers must start with 784 and end with 10, got {a.layers}")
    names = [s.strip() for s in a.frameworks.split(",") if s.strip()]
    try:
        X, y, Xte, yte = load_mnist(a.data)
    except Exception as e:
        print(f"bench_mnist_mlp: cannot load MNIST ({e}); pass --data DIR or set GLASSGRAD_DATA",
              file=sys.stderr)
        return 2
    weights = init_weights(sizes, a.seed)
    order = batch_order(len(X), a.batch_size, a.seed)[:a.max_batches]
    runs = {n: runner(n, weights) for n in names}
    import torch

    n_img = min(len(X), len(order) * a.batch_size)
    print(f"MLP {'-'.join(map(str, sizes))} ReLU, batch {a.batch_size}, SGD lr {a.lr}, one epoch of "
          f"{n_img} images; torch {torch.__version__} with {os.cpu_count()} threads; NumPy "
          f"{np.__version__}; {a.reps} reps alternating")
    times: dict[str, list[float]] = {n: [] for n in names}
    final: dict[str, list] = {}
    for n in names:  # warm-up (imports, allocator, BLAS threads)
        runs[n](X, y, order[:5], a.lr)
    for _ in range(a.reps):
        for n in names:
            t0 = time.perf_counter()
            final[n] = runs[n](X, y, order, a.lr)
            times[n].append(time.perf_counter() - t0)
    mem: dict[str, tuple[float, bool]] = {}
    if not a.no_memory:
        margs = {"data": a.data, "sizes": sizes, "seed": a.seed, "batch": a.batch_size, "lr": a.lr,
                 "max_batches": a.max_batches}
        for n in names:
            mem[n] = measure_memory(n, margs)
    ref = statistics.median(times["torch"]) if "torch" in times else None
    ref_min = min(times["torch"]) if "torch" in times else None
    print(f"{'framework':<10} {'s/epoch (median)':>17} {'min':>7} {'max':>7} {'vs torch':>9} "
          f"{'(min/min)':>9} {'test acc':>9} {'peak MiB':>9}")
    for n in names:
        med = statistics.median(times[n])
        ratio = f"{med / ref:8.2f}x" if ref else "      -"
        ratio_min = f"{min(times[n]) / ref_min:8.2f}x" if ref_min else "      -"
        m = f"{mem[n][0]:9.1f}" if n in mem else "        -"
        print(f"{n:<10} {med:17.3f} {min(times[n]):7.3f} {max(times[n]):7.3f} {ratio:>9} {ratio_min:>9} "
              f"{100 * accuracy(final[n], Xte, yte):8.2f}% {m}")
    print("all times per rep: " + "; ".join(f"{n} " + " ".join(f"{t:.2f}" for t in times[n]) for n in names))
    if len(final) > 1:
        base = names[0]
        for n in names[1:]:
            d = max(float(np.abs(a_ - b_).max()) for (a_, _), (b_, _) in zip(final[base], final[n]))
            print(f"max |W_{n} - W_{base}| after one epoch: {d:.2e}")
    if mem and not all(r for _, r in mem.values()):
        print("note: peak memory from ru_maxrss minus RSS after loading (VmHWM reset unavailable)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
