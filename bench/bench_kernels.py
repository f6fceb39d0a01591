"""glassgrad with its compiled kernels (Numba) against glassgrad on its NumPy loops only.

    python bench/bench_kernels.py                       # LeNet-5, LSTM, GRU; 2 threads
    python bench/bench_kernels.py --models lenet --steps 100 --reps 7 --threads 1

The same model, weights and batches train on both paths in one process, the paths
alternating step block by step block (``glassgrad.ops.kernels.using``); printed are the
median and best milliseconds per training step of each and their ratio (kernels / NumPy).
The two paths compute bit-identical results (``tests/ops/test_kernels.py``), so the
losses printed must agree. MNIST from ``--data`` / ``$GLASSGRAD_DATA`` when present, else
random images (same speed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import _threads  # first: it sets the BLAS threads before NumPy loads

_threads.from_argv("2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
sys.path.insert(0, HERE)

MODELS = ("lenet", "lstm", "gru")


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated: lenet,lstm,gru")
    p.add_argument("--steps", type=int, default=40, help="training steps per block")
    p.add_argument("--reps", type=int, default=5, help="alternating blocks per path")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    shared = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "data", "mnist")
    p.add_argument("--data", default=os.environ.get("GLASSGRAD_DATA", shared))
    args = p.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    bad = [m for m in args.models if m not in MODELS]
    if bad:
        p.error(f"--models: unknown {bad}; choose from {', '.join(MODELS)}")
    return args


def _data(path: str, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    import glassgrad as gg

    try:
        X, y = gg.data.MNIST(path, train=True).arrays(flatten=False)
        return np.ascontiguousarray(X[:n], np.float32), y[:n].astype(np.int64), "MNIST"
    except Exception as e:  # noqa: BLE001 - any failure: synthetic data of the same shape
        rng = np.random.default_rng(0)
        return (rng.standard_normal((n, 1, 28, 28)).astype(np.float32),
                rng.integers(0, 10, n).astype(np.int64), f"random data ({type(e).__name__})")


def _model(name: str):
    from _models import gg_lstm_classifier
    from bench_lenet import gg_lenet

    import glassgrad as gg

    gg.manual_seed(0)
    if name == "lenet":
        return gg_lenet(), 64
    return gg_lstm_classifier(128, name.upper()), 128


def run(args: argparse.Namespace) -> None:
    import glassgrad as gg
    from glassgrad.ops import kernels

    if kernels.backend() != "numba":
        sys.exit("bench_kernels: Numba is not installed (pip install 'glassgrad[fast]')")
    gg.allocator.tune_for_training()  # as Trainer.fit does (glassgrad/allocator.py)
    X, y, src = _data(args.data, 128 * args.steps)
    print(f"glassgrad kernels (Numba) vs NumPy loops; {src}; {args.threads} BLAS thread(s); "
          f"{args.steps} steps per block, {args.reps} blocks per path, alternating")
    print(f"{'model':8s} {'numpy ms/step':>22s} {'kernels ms/step':>22s} {'kernels/numpy':>16s}")
    F = gg.nn.functional
    for name in args.models:
        model, bs = _model(name)
        xs = X if name == "lenet" else X.reshape(-1, 28, 28)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        times: dict[str, list[float]] = {"numpy": [], "numba": []}
        losses: dict[str, float] = {}
        for rep in range(args.reps + 1):              # block 0 of each path: warm-up
            for path in ("numpy", "numba"):
                model.load_state_dict(state)
                opt = gg.optim.Adam(model.parameters(), 1e-3)
                with kernels.using(path):
                    t0 = time.perf_counter()
                    for i in range(args.steps):
                        j = (i * bs) % (len(xs) - bs + 1)
                        loss = F.cross_entropy(model(gg.from_numpy(xs[j:j + bs])),
                                               gg.from_numpy(y[j:j + bs]))
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
                    dt = (time.perf_counter() - t0) / args.steps
                losses[path] = loss.item()
                if rep:
                    times[path].append(dt * 1e3)
        med = {p: statistics.median(t) for p, t in times.items()}
        best = {p: min(t) for p, t in times.items()}
        print(f"{name:8s} {med['numpy']:10.2f} (best {best['numpy']:6.2f}) "
              f"{med['numba']:10.2f} (best {best['numba']:6.2f}) "
              f"{med['numba'] / med['numpy']:8.2f}x ({best['numba'] / best['numpy']:.2f}x)"
              f"   last loss {losses['numpy']:.6f} / {losses['numba']:.6f}")


if __name__ == "__main__":
    run(_args())
