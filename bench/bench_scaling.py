"""Scaling of one training step (forward + backward + SGD) of an MLP 784-H-10.

Measures, for glassgrad and PyTorch (CPU, same threads as cores), the time per sample
against the batch size (H = 256) and against the hidden width H (batch 128), and the
fraction of the machine's measured matrix-multiply peak (float32 GEMM, NumPy/BLAS) that
glassgrad reaches on the large sizes — next to the fraction that the hand-written NumPy
loop of ``bench_mnist_mlp.py`` (same arithmetic, no framework) reaches on the same step.
Writes a plot (needs matplotlib) and prints tables.

    python bench/bench_scaling.py --out bench/scaling.png

No data set needed: random inputs (timing does not depend on values).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import glassgrad as gg
import glassgrad.nn as ggnn
import glassgrad.nn.functional as GF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mnist_mlp import NumpyLoop, init_weights  # noqa: E402


def gemm_peak(n: int = 2048, reps: int = 5) -> float:
    """Measured float32 GEMM throughput (GFLOP/s) of NumPy's BLAS on n×n matrices."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.copy()
    a @ b
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t0)
    return 2 * n**3 / min(ts) / 1e9


def step_flops(batch: int, sizes: list[int]) -> float:
    """FLOPs of one step: forward 2·b·i·o per layer, backward dW 2·b·i·o, dX 2·b·i·o
    (not for the first layer, whose input needs no gradient)."""
    f = 0.0
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        f += 2 * batch * i * o * (3 if k else 2)
    return f


def _gg_model(sizes: list[int]):
    layers = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(ggnn.Linear(i, o))
        if k < len(sizes) - 2:
            layers.append(ggnn.ReLU())
    return ggnn.Sequential(*layers)


def time_glassgrad(sizes: list[int], batch: int, steps: int) -> float:
    model = _gg_model(sizes)
    opt = gg.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    X = gg.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    y = gg.tensor(rng.integers(0, sizes[-1], batch))

    def step() -> None:
        opt.zero_grad()
        GF.cross_entropy(model(X), y).backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def time_torch(sizes: list[int], batch: int, steps: int) -> float:
    import torch

    layers = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(i, o))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    y = torch.tensor(rng.integers(0, sizes[-1], batch))

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def time_numpy(sizes: list[int], batch: int, steps: int) -> float:
    """The hand-written NumPy loop of bench_mnist_mlp.py (forward, fused softmax-CE
    gradient, backward, SGD in place) on the same step."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    loop = NumpyLoop(init_weights(sizes, 0))
    batches = [slice(0, batch)] * steps  # (a view: glassgrad's step gets its batch as is too)
    loop.run(X, y, batches[:1], 0.01)
    t0 = time.perf_counter()
    loop.run(X, y, batches, 0.01)
    return (time.perf_counter() - t0) / steps


def measure(sizes: list[int], batch: int, reps: int,
            budget: float = 0.3) -> tuple[float, float, float]:
    """Median step time of glassgrad, PyTorch and the NumPy loop, alternating repetitions."""
    probe = time_glassgrad(sizes, batch, 2)
    steps = max(3, int(budget / max(probe, 1e-5)))
    g, t, n = [], [], []
    for _ in range(reps):
        g.append(time_glassgrad(sizes, batch, steps))
        t.append(time_torch(sizes, batch, steps))
        n.append(time_numpy(sizes, batch, steps))
    return statistics.median(g), statistics.median(t), statistics.median(n)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batches", default="1,4,16,64,256,1024")
    ap.add_argument("--widths", default="64,256,1024,4096")
    ap.add_argument("--out", default=None, help="PNG path for the plot")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    peak = gemm_peak()
    print(f"float32 GEMM peak (NumPy BLAS, 2048^3): {peak:.1f} GFLOP/s; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} threads={os.cpu_count()}")
    rows_b, rows_w = [], []
    head = (f"{'gg us/sample':>13} {'torch us/sample':>16} {'ratio':>6} {'gg %peak':>9} "
            f"{'numpy %peak':>12}")
    print(f"\n{'batch':>6} {head}")
    for b in [int(v) for v in a.batches.split(",")]:
        sizes = [784, 256, 10]
        g, t, n = measure(sizes, b, a.reps)
        frac, nfrac = (step_flops(b, sizes) / v / 1e9 / peak for v in (g, n))
        rows_b.append((b, g / b, t / b, frac, n / b))
        print(f"{b:>6} {g / b * 1e6:>13.2f} {t / b * 1e6:>16.2f} {g / t:>6.2f} {frac * 100:>8.1f}% "
              f"{nfrac * 100:>11.1f}%")
    print(f"\n{'width':>6} {head}")
    for h in [int(v) for v in a.widths.split(",")]:
        sizes = [784, h, 10]
        g, t, n = measure(sizes, 128, a.reps)
        frac, nfrac = (step_flops(128, sizes) / v / 1e9 / peak for v in (g, n))
        rows_w.append((h, g / 128, t / 128, frac, n / 128))
        print(f"{h:>6} {g / 128 * 1e6:>13.2f} {t / 128 * 1e6:>16.2f} {g / t:>6.2f} "
              f"{frac * 100:>8.1f}% {nfrac * 100:>11.1f}%")
    if a.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        for col, rows, label in ((0, rows_b, "batch size (H=256)"), (1, rows_w, "hidden width (batch 128)")):
            xs = [r[0] for r in rows]
            ax[col].loglog(xs, [r[1] * 1e6 for r in rows], "o-", label="glassgrad")
            ax[col].loglog(xs, [r[2] * 1e6 for r in rows], "s--", label="PyTorch")
            ax[col].loglog(xs, [r[4] * 1e6 for r in rows], "^:", color="gray",
                           label="hand-written NumPy")
            ax[col].set_xlabel(label)
            ax[col].set_ylabel("µs per sample (train step)")
            ax[col].grid(True, which="both", alpha=0.3)
            ax[col].legend()
        fig.suptitle(f"MLP 784-H-10 train step, GEMM peak {peak:.0f} GFLOP/s")
        fig.tight_layout()
        tmp = a.out + ".tmp.png"
        fig.savefig(tmp, dpi=90)
        os.replace(tmp, a.out)
        print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
