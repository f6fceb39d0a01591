"""Row-by-row MNIST with an LSTM or a GRU: glassgrad vs PyTorch (CPU), seconds per epoch-equivalent.

Both frameworks train the same model (LSTM 28→H, or GRU 28→H with ``--cell gru``, over
the 28 rows of each image, then a Linear H→10 on the last hidden state; softmax
cross-entropy; Adam lr 1e-3) from the same initial weights over the same batches, for
``--batches`` batches; the time is scaled to one epoch (60,000 images). glassgrad runs
twice: with its fused path (the default: one ``LSTMLayer`` node, or a chain of fused GRU
cells) and with the cell composed of primitive ops (``module.fused = False``).

Timing: in this process, the variants alternate within each repetition; the median
wall-clock time is reported, and the median CPU time of the process (``time.process_time``,
steadier than wall time on a shared machine, and equal to it when one thread runs alone).
Memory: each variant runs the same batches in a fresh child process; reported
is the resident-set high-water mark above what the process held after importing the
framework and loading MNIST (VmHWM reset through /proc/self/clear_refs on Linux).

    python bench/bench_lstm.py --batches 40 --reps 3
    python bench/bench_lstm.py --hidden 128 --batch-size 64 --threads 2
    python bench/bench_lstm.py --cell gru --threads 2

``--threads`` (default 1) sets both PyTorch's intra-op threads and the BLAS threads NumPy
uses (``OPENBLAS_NUM_THREADS`` etc., set before NumPy is imported). On a shared, loaded
machine one thread each is the fair setting: multi-threaded BLAS on small GEMMs spins and
slows down by several times when the cores are busy.

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

import _threads  # first: it sets the BLAS threads before NumPy loads

_threads.from_argv("1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
sys.path.insert(0, HERE)

from _memory import peak_above_base_mib  # noqa: E402
from _models import gg_lstm_classifier  # noqa: E402

VARIANTS = ("glassgrad", "glassgrad-composed", "torch", "numpy")


def load_mnist(root: str | None) -> tuple[np.ndarray, np.ndarray]:
    from glassgrad.data import MNIST

    X, y = MNIST(root, train=True, download=False).arrays()
    return X.reshape(-1, 28, 28), y


def init_weights(hidden: int, seed: int, cell: str = "LSTM") -> dict[str, np.ndarray]:
    """PyTorch's default inits (U(±1/√H) for the LSTM/GRU, U(±1/√fan_in) for the Linear)."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(hidden)
    G = (4 if cell == "LSTM" else 3) * hidden
    u = lambda b, *s: rng.uniform(-b, b, s).astype(np.float32)
    return {"rnn.weight_ih_l0": u(k, G, 28), "rnn.weight_hh_l0": u(k, G, hidden),
            "rnn.bias_ih_l0": u(k, G), "rnn.bias_hh_l0": u(k, G),
            "fc.weight": u(k, 10, hidden), "fc.bias": u(k, 10)}


def batches(n: int, batch: int, count: int, seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed + 1).permutation(n)
    out = [perm[i:i + batch] for i in range(0, n - batch + 1, batch)]
    return out[:count]


def make_glassgrad(weights: dict, hidden: int, fused: bool, cell: str) -> Callable:
    import glassgrad as gg
    from glassgrad import nn, optim

    gg.allocator.tune_for_training()  # as Trainer.fit does (glassgrad/allocator.py)
    # the compiled kernels' library (Numba, LLVM: ~120 MB, glassgrad/ops/kernels.py) is
    # loaded with the imports, as PyTorch's kernels are, not counted as training memory
    gg.ops.kernels.preload()

    model = gg_lstm_classifier(hidden, cell)
    model.rnn.fused = fused

    def run(X: np.ndarray, y: np.ndarray, order: list) -> float:
        model.load_state_dict({k: gg.tensor(v) for k, v in weights.items()})
        opt = optim.Adam(model.parameters(), lr=1e-3)
        loss = None
        for idx in order:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(gg.from_numpy(X[idx])), gg.from_numpy(y[idx]))
            loss.backward()
            opt.step()
        return float(loss.item())

    return run


def make_torch(weights: dict, hidden: int, threads: int, cell: str) -> Callable:
    import torch

    torch.set_num_threads(threads)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = getattr(torch.nn, cell)(28, hidden, batch_first=True)
            self.fc = torch.nn.Linear(hidden, 10)

        def forward(self, x: Any) -> Any:
            _, h = self.rnn(x)
            return self.fc((h[0] if cell == "LSTM" else h)[-1])

    model = Net()

    def run(X: np.ndarray, y: np.ndarray, order: list) -> float:
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        loss = None
        for idx in order:
            it = torch.from_numpy(idx)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xt[it]), yt[it])
            loss.backward()
            opt.step()
        return float(loss.item())

    return run


def make_numpy(weights: dict) -> Callable:
    """The hand-written NumPy loop of ``_numpy_ref.py`` (LSTM only)."""
    from _numpy_ref import NumpyLSTM

    def run(X: np.ndarray, y: np.ndarray, order: list) -> float:
        net = NumpyLSTM(weights)
        loss = 0.0
        for idx in order:
            loss = net.step(X[idx], y[idx])
        return loss

    return run


def runner(name: str, weights: dict, hidden: int, threads: int, cell: str = "LSTM") -> Callable:
    if name == "numpy":
        if cell != "LSTM":
            raise ValueError("the NumPy reference loop exists for the LSTM only")
        return make_numpy(weights)
    if name == "torch":
        return make_torch(weights, hidden, threads, cell)
    return make_glassgrad(weights, hidden, fused=name == "glassgrad", cell=cell)


# ---------------------------------------------------------------------------- memory (child)
def _memory_child(name: str, args: dict, q: Any) -> None:
    if name == "torch":
        import torch  # noqa: F401  (import cost is not counted)
    else:
        import glassgrad.nn  # noqa: F401
        import glassgrad.optim  # noqa: F401
    X, y = load_mnist(args["data"])
    weights = init_weights(args["hidden"], args["seed"], args["cell"])
    order = batches(len(X), args["batch"], args["count"], args["seed"])
    run = runner(name, weights, args["hidden"], args["threads"], args["cell"])
    q.put(peak_above_base_mib(lambda: run(X, y, order))[0])


def measure_memory(name: str, args: dict) -> float:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_memory_child, args=(name, args, q))
    p.start()
    res = q.get(timeout=900)
    p.join()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=40, help="batches per timed run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=os.environ.get("GLASSGRAD_DATA"))
    ap.add_argument("--variants", default="glassgrad,glassgrad-composed,torch",
                    help=f"comma-separated, from {', '.join(VARIANTS)} (numpy: the hand-written loop)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="recurrent layer")
    a = ap.parse_args(argv)
    cell = a.cell.upper()
    names = [s.strip() for s in a.variants.split(",") if s.strip()]
    for n in names:
        if n not in VARIANTS:
            ap.error(f"unknown variant {n!r}; choose from {', '.join(VARIANTS)}")
    try:
        X, y = load_mnist(a.data)
    except Exception as e:
        print(f"bench_lstm: cannot load MNIST ({e}); pass --data DIR or set GLASSGRAD_DATA",
              file=sys.stderr)
        return 2
    weights = init_weights(a.hidden, a.seed, cell)
    order = batches(len(X), a.batch_size, a.batches, a.seed)
    per_epoch = len(X) / (len(order) * a.batch_size)
    runs = {n: runner(n, weights, a.hidden, a.threads, cell) for n in names}
    import torch

    print(f"{cell} 28->{a.hidden} over 28 rows + Linear {a.hidden}->10, batch {a.batch_size}, Adam 1e-3; "
          f"{len(order)} batches per run, scaled x{per_epoch:.1f} to one epoch; torch "
          f"{torch.__version__} and NumPy {np.__version__} with {a.threads} thread(s) each; {a.reps} reps "
          f"alternating")
    for n in names:  # warm-up
        runs[n](X, y, order[:2])
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    last: dict[str, float] = {}
    for _ in range(a.reps):
        for n in names:
            _threads.settle()   # the other framework's threads idle first
            t0, c0 = time.perf_counter(), time.process_time()
            last[n] = runs[n](X, y, order)
            times[n].append((time.perf_counter() - t0) * per_epoch)
            cpu[n].append((time.process_time() - c0) * per_epoch)
    mem: dict[str, float] = {}
    if not a.no_memory:
        margs = {"data": a.data, "hidden": a.hidden, "seed": a.seed, "batch": a.batch_size,
                 "count": min(len(order), 10), "threads": a.threads, "cell": cell}
        for n in names:
            mem[n] = measure_memory(n, margs)
    ref = statistics.median(times["torch"]) if "torch" in times else None
    cref = statistics.median(cpu["torch"]) if "torch" in cpu else None
    print(f"{'variant':<19} {'wall s/epoch':>12} {'min':>7} {'max':>7} {'vs torch':>9} "
          f"{'CPU s/epoch':>12} {'vs torch':>9} {'last loss':>10} {'peak MiB':>9}")
    for n in names:
        med, cmed = statistics.median(times[n]), statistics.median(cpu[n])
        ratio = f"{med / ref:8.2f}x" if ref else "      -"
        cratio = f"{cmed / cref:8.2f}x" if cref else "      -"
        m = f"{mem[n]:9.1f}" if n in mem else "        -"
        print(f"{n:<19} {med:12.2f} {min(times[n]):7.2f} {max(times[n]):7.2f} {ratio:>9} "
              f"{cmed:12.2f} {cratio:>9} {last[n]:10.5f} {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
