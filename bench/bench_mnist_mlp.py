"""One epoch of MNIST with an MLP: glassgrad vs PyTorch (CPU) vs a hand-written NumPy loop.

All three train the same network (default 784-256-10 ReLU, softmax cross-entropy, SGD
lr 0.1, batch 128) from the same initial weights over the same batch order, so they do
the same arithmetic; the NumPy loop (forward, fused softmax-CE gradient, backward, SGD,
no framework at all) is the bar for "no framework tax".

Timing: in this process the frameworks take turns every ``--chunk`` batches (about a
twentieth of an epoch, turn order rotating), each carrying on its own training, so that a
slow phase of a shared machine hits all of them alike. Reported: seconds per epoch (median
over ``--reps`` epochs) and two ratios, of the median epochs and the median over turns of
the per-turn ratio (robust to the rare stall that hits one turn). Memory: each framework
runs one epoch in a fresh child process; reported is the resident-set high-water mark
during the epoch above what the process held after importing the framework and loading
MNIST (VmHWM reset through /proc/self/clear_refs on Linux; elsewhere ru_maxrss minus the
RSS after loading, which can under-count).

    python bench/bench_mnist_mlp.py --reps 3
    python bench/bench_mnist_mlp.py --layers 784-300-100-10 --reps 3 --data /path/to/mnist
    python bench/bench_mnist_mlp.py --frameworks numpy,tape,glassgrad,torch   # + the floor

``capture`` is glassgrad with the loss function wrapped in ``gg.capture`` (the ops are
recorded on the first batch and replayed after: same formulas, same arithmetic, one graph
node per step instead of one per op).

``tape`` (opt-in) is the floor of any eager Python autograd: a minimal closure tape doing
the NumPy loop's arithmetic (plus the loss value) with no framework features at all;
``tape / numpy`` is what recording and replaying a graph in Python costs at the least.

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

import _threads  # noqa: E402
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
# Each framework is a trainer: ``start()`` resets it to the initial weights, ``run(X, y,
# batches, lr)`` trains on a list of index batches (so that the frameworks can take turns
# chunk by chunk within one epoch) and ``weights()`` returns the current (W, b) pairs.
class NumpyLoop:
    """Hand-written: forward, fused softmax-CE gradient, backward, SGD (in place)."""

    def __init__(self, weights: list) -> None:
        self.init = weights
        self.start()

    def start(self) -> None:
        self.Ws = [(W.copy(), b.copy()) for W, b in self.init]

    def run(self, X: np.ndarray, y: np.ndarray, batches: list, lr: float) -> None:
        Ws = self.Ws
        L = len(Ws)
        lr32 = np.float32(lr)
        for idx in batches:
            xb, yb = X[idx], y[idx]
            n = len(yb)
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
                W -= lr32 * gW
                b -= lr32 * gb

    def weights(self) -> list:
        return [(W.copy(), b.copy()) for W, b in self.Ws]


class GlassgradLoop:
    """nn.Sequential of Linear/ReLU, F.cross_entropy, loss.backward(), optim.SGD."""

    def __init__(self, weights: list) -> None:
        import glassgrad as gg
        from glassgrad import nn

        gg.allocator.tune_for_training()  # as Trainer.fit does (glassgrad/allocator.py)
        # the compiled kernels' library (Numba, LLVM: ~120 MB, glassgrad/ops/kernels.py) is
        # loaded with the imports, as PyTorch's kernels are, not counted as training memory
        gg.ops.kernels.preload()

        self.gg, self.nn, self.init = gg, nn, weights
        layers: list[Any] = []
        for i, (W, _b) in enumerate(weights):
            layers.append(nn.Linear(W.shape[1], W.shape[0]))
            if i < len(weights) - 1:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        self.lins = [m for m in self.model if isinstance(m, nn.Linear)]
        self.start()

    def start(self) -> None:
        for lin, (W, b) in zip(self.lins, self.init):
            lin.weight.array[...] = W
            lin.bias.array[...] = b
        self.opt = None

    def run(self, X: np.ndarray, y: np.ndarray, batches: list, lr: float) -> None:
        gg, model, F = self.gg, self.model, self.nn.functional
        if self.opt is None:
            self.opt = gg.optim.SGD(model.parameters(), lr=lr)
        opt = self.opt
        for idx in batches:
            xb = gg.from_numpy(X[idx])
            yb = gg.from_numpy(y[idx])
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()

    def weights(self) -> list:
        return [(m.weight.array.copy(), m.bias.array.copy()) for m in self.lins]


class CaptureLoop(GlassgradLoop):
    """The same model, loss and optimizer, with the loss function captured
    (``gg.capture``): recorded on the first batch, its ops replayed after."""

    def start(self) -> None:
        super().start()
        model, F = self.model, self.nn.functional
        self.step = self.gg.capture(lambda x, y: F.cross_entropy(model(x), y))

    def run(self, X: np.ndarray, y: np.ndarray, batches: list, lr: float) -> None:
        gg, step = self.gg, self.step
        if self.opt is None:
            self.opt = gg.optim.SGD(self.model.parameters(), lr=lr)
        opt = self.opt
        for idx in batches:
            xb = gg.from_numpy(X[idx])
            yb = gg.from_numpy(y[idx])
            opt.zero_grad()
            loss = step(xb, yb)
            loss.backward()
            opt.step()


class TorchLoop:
    """torch.nn.Sequential, F.cross_entropy, backward, torch.optim.SGD (eager, CPU)."""

    def __init__(self, weights: list) -> None:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        self.torch, self.init = torch, weights
        layers: list[Any] = []
        for i, (W, _b) in enumerate(weights):
            layers.append(torch.nn.Linear(W.shape[1], W.shape[0]))
            if i < len(weights) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.lins = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        self.start()

    def start(self) -> None:
        torch = self.torch
        with torch.no_grad():
            for lin, (W, b) in zip(self.lins, self.init):
                lin.weight.copy_(torch.from_numpy(W))
                lin.bias.copy_(torch.from_numpy(b))
        self.opt = None
        self.Xt = self.yt = None

    def run(self, X: np.ndarray, y: np.ndarray, batches: list, lr: float) -> None:
        torch, model = self.torch, self.model
        if self.opt is None:
            self.opt = torch.optim.SGD(model.parameters(), lr=lr)
        if self.Xt is None or self.Xt.data_ptr() != X.ctypes.data:
            self.Xt, self.yt = torch.from_numpy(X), torch.from_numpy(y)
        opt, Xt, yt = self.opt, self.Xt, self.yt
        for idx in batches:
            it = torch.from_numpy(idx)
            xb, yb = Xt[it], yt[it]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()

    def weights(self) -> list:
        return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in self.lins]


class TapeLoop(NumpyLoop):
    """The floor of any eager Python autograd: a minimal tape (one closure per op, appended
    in the forward and called in reverse), no checks, no graph metadata, no modules, no
    optimizer object. Same arithmetic as the NumPy loop (weights bit-identical), plus the
    loss value, which glassgrad and PyTorch compute and the NumPy loop skips. Not a
    framework anyone should use: it measures what a tape costs at the least, so that
    glassgrad's overhead can be split into "any Python tape" and "glassgrad's features".
    Weights are kept as the NumPy loop keeps them (``start``/``weights`` inherited)."""

    def run(self, X: np.ndarray, y: np.ndarray, batches: list, lr: float) -> None:
        Ws = self.Ws
        L = len(Ws)
        lr32 = np.float32(lr)
        eye = np.eye(Ws[-1][0].shape[0], dtype=np.float32)
        for idx in batches:
            xb, yb = X[idx], y[idx]
            n = len(yb)
            tape: list = []                     # closures: gradient of the output -> input
            grads: list = [None] * (2 * L)
            h = xb
            for i, (W, b) in enumerate(Ws):
                a = h

                def linear_bw(g, a=a, W=W, i=i, grads=grads):
                    grads[2 * i], grads[2 * i + 1] = g.T @ a, g.sum(0)
                    return g @ W if i > 0 else None
                h = a @ W.T
                h += b
                tape.append(linear_bw)
                if i < L - 1:
                    z = np.maximum(h, 0)
                    tape.append(lambda g, z=z: g * (z > 0))
                    h = z
            s = h - h.max(1, keepdims=True)
            s_y = s[np.arange(n), yb]
            p = np.exp(s, out=s)
            se = p.sum(1, keepdims=True)
            p /= se
            loss = float((np.log(se)[:, 0] - s_y).sum()) / n  # noqa: F841 (computed, as a framework does)
            g = (p - eye.take(yb, axis=0)) * np.float32(1.0 / n)
            for bw in reversed(tape):
                g = bw(g)
            for i, (W, b) in enumerate(Ws):
                W -= lr32 * grads[2 * i]
                b -= lr32 * grads[2 * i + 1]


TRAINERS = {"numpy": NumpyLoop, "glassgrad": GlassgradLoop, "capture": CaptureLoop,
            "torch": TorchLoop, "tape": TapeLoop}


def runner(name: str, weights: list) -> Callable:
    """A function ``run(X, y, order, lr) -> weights`` training one epoch from the initial
    weights (used by bench_mlp_phases and the memory child)."""
    tr = TRAINERS[name](weights)

    def run(X: np.ndarray, y: np.ndarray, order: list, lr: float) -> list:
        tr.start()
        tr.run(X, y, order, lr)
        return tr.weights()

    return run


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
    ap.add_argument("--reps", type=int, default=3, help="epochs per framework")
    ap.add_argument("--chunk", type=int, default=0,
                    help="batches per turn when alternating (default: about 1/20 epoch)")
    ap.add_argument("--settle", type=float, default=_threads.SETTLE,
                    help="seconds of (untimed, busy) waiting before each turn, so that the BLAS "
                         "and OpenMP worker threads of the previous turn stop spinning")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", default=None, help="e.g. 784-300-100-10 (overrides --hidden)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=os.environ.get("GLASSGRAD_DATA"))
    ap.add_argument("--frameworks", default="numpy,glassgrad,capture,torch")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--max-batches", type=int, default=None, help="stop each epoch early (smoke runs)")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.layers.split("-")] if a.layers else [784, a.hidden, 10]
    if sizes[0] != 784 or sizes[-1] != 10:
        ap.error(f"--layers must start with 784 and end with 10, got {a.layers}")
    names = [s.strip() for s in a.frameworks.split(",") if s.strip()]
    bad = [n for n in names if n not in TRAINERS]
    if bad:
        ap.error(f"unknown framework(s) {bad}; choose from {sorted(TRAINERS)}")
    try:
        X, y, Xte, yte = load_mnist(a.data)
    except Exception as e:
        print(f"bench_mnist_mlp: cannot load MNIST ({e}); pass --data DIR or set GLASSGRAD_DATA",
              file=sys.stderr)
        return 2
    weights = init_weights(sizes, a.seed)
    order = batch_order(len(X), a.batch_size, a.seed)[:a.max_batches]
    chunk = a.chunk or max(1, len(order) // 20)
    chunks = [order[i:i + chunk] for i in range(0, len(order), chunk)]
    trainers = {n: TRAINERS[n](weights) for n in names}
    import torch

    n_img = min(len(X), len(order) * a.batch_size)
    print(f"MLP {'-'.join(map(str, sizes))} ReLU, batch {a.batch_size}, SGD lr {a.lr}, one epoch of "
          f"{n_img} images; torch {torch.__version__} with {torch.get_num_threads()} threads; NumPy "
          f"{np.__version__}; {a.reps} epochs each, the frameworks taking turns every {chunk} "
          "batches (turn order rotating)")
    for n in names:  # warm-up (imports, allocator, BLAS threads)
        trainers[n].start()
        trainers[n].run(X, y, order[:5], a.lr)
    times: dict[str, list[float]] = {n: [] for n in names}
    turns: dict[str, list[float]] = {n: [] for n in names}  # per-turn seconds, aligned
    final: dict[str, list] = {}
    pc = time.perf_counter
    k = 0
    for _ in range(a.reps):
        tot = dict.fromkeys(names, 0.0)
        for n in names:
            trainers[n].start()
        for ch in chunks:
            k += 1
            for j in range(len(names)):
                n = names[(j + k) % len(names)]
                if a.settle:
                    _threads.settle(a.settle)  # the previous turn's BLAS/OpenMP threads idle first
                t0 = pc()
                trainers[n].run(X, y, ch, a.lr)
                dt = pc() - t0
                tot[n] += dt
                turns[n].append(dt)
        for n in names:
            times[n].append(tot[n])
            final[n] = trainers[n].weights()
    mem: dict[str, tuple[float, bool]] = {}
    if not a.no_memory:
        margs = {"data": a.data, "sizes": sizes, "seed": a.seed, "batch": a.batch_size, "lr": a.lr,
                 "max_batches": a.max_batches}
        for n in names:
            mem[n] = measure_memory(n, margs)
    med = {n: statistics.median(times[n]) for n in names}
    print(f"{'framework':<10} {'s/epoch (median)':>17} {'min':>7} {'max':>7} {'test acc':>9} {'peak MiB':>9}")
    for n in names:
        m = f"{mem[n][0]:9.1f}" if n in mem else "        -"
        print(f"{n:<10} {med[n]:17.3f} {min(times[n]):7.3f} {max(times[n]):7.3f} "
              f"{100 * accuracy(final[n], Xte, yte):8.2f}% {m}")
    print("epoch seconds: " + "; ".join(f"{n} " + " ".join(f"{t:.2f}" for t in times[n]) for n in names))
    # ratios: of the median epoch times, and the median over turns of the per-turn ratio
    # (each turn's frameworks ran back to back on the same batches, so a slow phase of the
    # machine affects both sides of one ratio; the median drops the turns hit by a stall)
    print(f"{'ratio':<22} {'epoch medians':>14} {'median of turns':>16}")
    for n in names:
        for ref in ("torch", "numpy"):
            if ref == n or ref not in names:
                continue
            rt = statistics.median(x / r for x, r in zip(turns[n], turns[ref]))
            print(f"{n + ' / ' + ref:<22} {med[n] / med[ref]:13.2f}x {rt:15.2f}x")
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
