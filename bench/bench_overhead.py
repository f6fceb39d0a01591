"""Per-op overhead of glassgrad's autograd over bare NumPy.

For a few ops (add, mul, matmul, relu, sum) and array sizes from 1x1 to large, it times:

* ``numpy fwd``       the bare NumPy call of the forward (``a + b``, ``a @ b``, ...);
* ``numpy f+b``       the same forward plus the NumPy arithmetic of its backward, written by
                      hand (for ``z = a * b``: ``a * b``, ``g * b``, ``g * a``) — the work any
                      autodiff must do;
* ``gg f+b``          glassgrad with ``requires_grad=True``: the tracked forward plus the
                      op's share of ``backward()``. Measured on a chain of ``--chain`` ops
                      (each with its own leaf, like the layers of a network) and divided by
                      the chain length, so the fixed cost of one ``backward()`` call is
                      shared as in a real model; ``sum`` (which ends a chain) is timed as a
                      one-op graph, fixed cost included;
* ``torch f+b``       the same with PyTorch on the CPU, if it is installed (for reference).

``overhead`` is ``gg f+b − numpy f+b`` in microseconds: what the graph bookkeeping costs per
op. The ratios are ``gg f+b / numpy fwd`` and ``gg f+b / numpy f+b``.

Run:  ``python bench/bench_overhead.py``  (``--quick`` for a shorter run, ``--threads N``
sets the BLAS/torch threads; the default is 1 so that both libraries compute alike).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def _best_time(fn: Callable[[], object], budget: float, repeat: int) -> float:
    """Best (minimum) seconds per call over ``repeat`` rounds of ``number`` calls each."""
    fn()  # warm up
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(budget / repeat / one))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def _cases(np, n: int, chain: int):
    """For each op: (numpy fwd, numpy fwd+bwd, glassgrad builder, torch builder, per-op count)."""
    import glassgrad as gg

    rng = np.random.default_rng(0)
    shape = (n, n)
    a = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    b = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    g = np.ones(shape, np.float32)
    W = (np.eye(n) + rng.standard_normal(shape) * (0.1 / max(n, 1) ** 0.5)).astype(np.float32)

    def np_fwd_add():
        return a + b

    def np_fb_add():
        z = a + b
        return z, g.copy(), g.copy()  # dL/da = g, dL/db = g (the engine hands out copies too)

    def np_fwd_mul():
        return a * b

    def np_fb_mul():
        return a * b, g * b, g * a

    def np_fwd_mm():
        return a @ W

    def np_fb_mm():
        return a @ W, g @ W.T, a.T @ g

    def np_fwd_relu():
        return np.maximum(a, 0)

    def np_fb_relu():
        z = np.maximum(a, 0)
        return z, g * (z > 0)

    def np_fwd_sum():
        return a.sum()

    def np_fb_sum():
        return a.sum(), np.broadcast_to(np.float32(1.0), shape).copy()

    def gg_chain(step: Callable, leaves: int) -> Callable[[], None]:
        x = gg.tensor(a, requires_grad=True)
        ws = [gg.tensor(b if step is not _mm else W, requires_grad=True) for _ in range(leaves)]
        gt = gg.tensor(g)

        def run() -> None:
            y = x
            for w in ws:
                y = step(y, w)
            y.backward(gt)
            x.grad = None
            for w in ws:
                w.grad = None

        return run

    def gg_sum() -> Callable[[], None]:
        x = gg.tensor(a, requires_grad=True)

        def run() -> None:
            x.sum().backward()
            x.grad = None

        return run

    def _add(y, w):
        return y + w

    def _mul(y, w):
        return y * w

    def _mm(y, w):
        return y @ w

    def _relu(y, w):
        return y.relu()

    cases = {
        "add": (np_fwd_add, np_fb_add, lambda: gg_chain(_add, chain), _add, chain),
        "mul": (np_fwd_mul, np_fb_mul, lambda: gg_chain(_mul, chain), _mul, chain),
        "matmul": (np_fwd_mm, np_fb_mm, lambda: gg_chain(_mm, chain), _mm, chain),
        "relu": (np_fwd_relu, np_fb_relu, lambda: gg_chain(_relu, chain), _relu, chain),
        "sum": (np_fwd_sum, np_fb_sum, gg_sum, None, 1),
    }
    return cases, (a, b, W, g)


def _torch_runner(torch, step, arrays, chain: int, op: str):
    a, b, W, g = arrays
    x = torch.tensor(a, requires_grad=True)
    tg = torch.tensor(g)
    if op == "sum":
        def run() -> None:
            x.sum().backward()
            x.grad = None
        return run
    ws = [torch.tensor(W if op == "matmul" else b, requires_grad=True) for _ in range(chain)]

    def run() -> None:
        y = x
        for w in ws:
            y = step(y, w)
        y.backward(tg)
        x.grad = None
        for w in ws:
            w.grad = None

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 32, 256, 1024],
                   help="side n of the n x n arrays (default: 1 32 256 1024)")
    p.add_argument("--ops", nargs="+", default=["add", "mul", "matmul", "relu", "sum"])
    p.add_argument("--chain", type=int, default=32, help="ops per chain (default 32)")
    p.add_argument("--budget", type=float, default=0.3, help="seconds per measurement")
    p.add_argument("--repeat", type=int, default=15,
                   help="rounds per measurement; the best round counts (default 15)")
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    p.add_argument("--quick", action="store_true", help="sizes 1 32 256, shorter budget")
    args = p.parse_args(argv)
    _set_threads(args.threads)
    if args.quick:
        args.sizes, args.budget, args.repeat = [1, 32, 256], 0.15, 9

    import numpy as np

    torch = None
    if not args.no_torch:
        try:
            import torch  # type: ignore

            torch.set_num_threads(args.threads)
        except ImportError:
            torch = None

    print(f"glassgrad per-op overhead (float32, {args.threads} thread(s), chain of {args.chain}; "
          f"times in microseconds per op, best of {args.repeat})")
    cols = ["op", "size", "numpy fwd", "numpy f+b", "gg f+b", "overhead", "x fwd", "x f+b"]
    if torch is not None:
        cols += ["torch f+b", "gg/torch"]
    widths = [7, 10, 10, 10, 10, 10, 8, 8, 10, 9]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths)))
    for n in args.sizes:
        chain = args.chain if n <= 256 else max(4, args.chain // 8)
        cases, arrays = _cases(np, n, chain)
        for op in args.ops:
            np_fwd, np_fb, gg_build, step, per = cases[op]
            budget = args.budget
            t_fwd = _best_time(np_fwd, budget, args.repeat) * 1e6
            t_fb = _best_time(np_fb, budget, args.repeat) * 1e6
            t_gg = _best_time(gg_build(), budget, args.repeat) * 1e6 / per
            row = [op, f"{n}x{n}", f"{t_fwd:.2f}", f"{t_fb:.2f}", f"{t_gg:.2f}",
                   f"{t_gg - t_fb:.2f}", f"{t_gg / t_fwd:.1f}", f"{t_gg / t_fb:.2f}"]
            if torch is not None:
                t_t = _best_time(_torch_runner(torch, step, arrays, chain, op), budget,
                                 args.repeat) * 1e6 / per
                row += [f"{t_t:.2f}", f"{t_gg / t_t:.2f}"]
            print("  ".join(c.rjust(w) for c, w in zip(row, widths)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
