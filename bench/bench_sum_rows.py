"""Bias gradients: ``g.sum(axis=0)`` (NumPy's column reduction) vs ``ones(n) @ g`` (one BLAS
GEMV, what ``glassgrad.ops._util.sum_rows`` uses), time and error against a float64 sum.

The gradient of a bias added to a batch is the sum of the batch's rows of δZ; a
hand-written NumPy loop writes ``g.sum(0)``. Shapes are those of the MLP benches (batch ×
width) and a few extremes. Same process, alternating, best of several repeats.

    python bench/bench_sum_rows.py
"""

from __future__ import annotations

import argparse
import timeit
from functools import partial

import numpy as np

SHAPES = [(32, 256), (128, 256), (32, 10), (128, 4096), (1024, 256), (1024, 4096), (4, 1000),
          (100_000, 3)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'shape':>14} {'g.sum(0) µs':>12} {'ones@g µs':>10} {'speed-up':>9} "
          f"{'err sum':>9} {'err gemv':>9}")
    for n, k in SHAPES:
        g = rng.standard_normal((n, k)).astype(np.float32)
        ones = np.ones(n, np.float32)
        number = max(1, 20_000 // n)
        ts: dict[str, list[float]] = {"sum": [], "gemv": []}
        for _ in range(a.repeat):  # alternate the two
            ts["sum"].append(timeit.timeit(partial(g.sum, axis=0), number=number) / number)
            ts["gemv"].append(timeit.timeit(partial(np.matmul, ones, g), number=number) / number)
        ref = g.astype(np.float64).sum(axis=0)
        e_sum = float(np.abs(g.sum(axis=0) - ref).max())
        e_gemv = float(np.abs(ones @ g - ref).max())
        s, m = min(ts["sum"]) * 1e6, min(ts["gemv"]) * 1e6
        print(f"{str((n, k)):>14} {s:12.1f} {m:10.1f} {s / m:8.2f}x {e_sum:9.1e} {e_gemv:9.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
