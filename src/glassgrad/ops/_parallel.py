"""Batch rows on several cores for the recurrent loops, with NumPy's BLAS on one thread each.

A recurrent layer's step is one small GEMM (``h·W_hhᵀ``, e.g. 128×128 by 128×512) and
the gate arithmetic on its result. With the whole batch on one Python thread, OpenBLAS
spreads each small GEMM over its threads (and pays for waking them 2·T times a layer),
and the gate arithmetic — half of the step — runs on one core. The rows of a batch are
independent sequences, so the layer can instead run as ``n`` loops over ``n`` blocks of
rows, one per core, each loop making its own single-threaded BLAS calls: the cores meet
once per layer instead of twice per step, and the gate arithmetic is spread too.

The loops are Python threads. They run in parallel because everything heavy in them
releases the GIL: NumPy's BLAS calls and ufuncs on arrays of more than a few hundred
elements, and the compiled kernels (``nogil``; for float32 each block's whole loop is one
compiled call that calls NumPy's ``cblas_sgemm`` itself, ``ops/_rnn_loops.py``). For the
duration of such a region, NumPy's BLAS is set to one thread (through `threadpoolctl
<https://github.com/joblib/threadpoolctl>`_, part of ``glassgrad[fast]``) and its idle
threads are stopped (``ops/_blas.py``); the thread count is set back after, and the next
multi-threaded BLAS call starts its threads again. Without threadpoolctl, or where BLAS
already runs on one thread (a user's limit, ``OMP_NUM_THREADS=1``), or when another region
is running (one region at a time: the BLAS thread count is process-wide), or while other
Python threads of the program could be calling NumPy (:func:`_alone`), the layer runs as
one loop as before. Each row's
arithmetic is the same either way; only a GEMM's internal blocking may change with the
number of rows, so results agree to float32 rounding (tests/ops/test_parallel.py).

``GLASSGRAD_ROW_THREADS=0`` (or 1) turns the splitting off; ``GLASSGRAD_ROW_THREADS=n``
caps the number of blocks at ``n``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

from ._blas import blas_controllers

__all__ = ["row_blocks", "run_blocks", "run_rows", "max_blocks"]

# at least this many rows per block. LSTMLayer forward / backward, T 28, H 128, 2 cores,
# split vs one loop, medians of 7 rounds in one process (ms):
# - blocks running their whole loop in one compiled call (float32 with Numba): batch 32
#   2.63 / 3.27 vs 2.88 / 3.72, 64 3.95 / 5.15 vs 4.85 / 5.96, 128 5.58 / 8.79 vs
#   8.66 / 11.24 (batch 16, backward: 1.68 vs 2.27; left out, as too close to the noise)
MIN_ROWS = 16
# - blocks running a Python loop (~8 NumPy calls a step, each handing the GIL over):
#   forward at batch 32 3.82 vs 2.72, 64 4.20 vs 3.65, 128 5.91 vs 6.49 and 7.12 vs 9.66
#   (two processes), 256 9.57 vs 11.90
MIN_ROWS_PY = 64

_STATE: dict[str, Any] = {"pool": None, "pid": None, "cap": None}
_REGION = threading.Lock()


def _cap() -> int:
    """``GLASSGRAD_ROW_THREADS`` (read once): the largest number of blocks, 0 = no cap."""
    if _STATE["cap"] is None:
        v = os.environ.get("GLASSGRAD_ROW_THREADS", "").strip()
        if v and not v.isdigit():
            raise ValueError(f"GLASSGRAD_ROW_THREADS must be a non-negative integer, got {v!r}")
        _STATE["cap"] = int(v or 0)
    return _STATE["cap"]


@contextlib.contextmanager
def max_blocks(n: int) -> Iterator[None]:
    """Within the block, split rows into at most ``n`` blocks (1: never split; 0: no cap),
    as ``GLASSGRAD_ROW_THREADS=n`` does for the whole process."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"max_blocks: n must be a non-negative int, got {n!r}")
    before = _cap()
    _STATE["cap"] = n
    try:
        yield
    finally:
        _STATE["cap"] = before


def row_blocks(rows: int, min_rows: int = MIN_ROWS) -> list[slice] | None:
    """Contiguous blocks of ``rows`` for :func:`run_blocks`, one per BLAS thread (at most
    the cap, each of at least ``min_rows``), or None when the rows stay in one loop."""
    cap = _cap()
    if cap == 1 or rows < 2 * min_rows:
        return None
    ctl = blas_controllers()
    if not ctl:
        return None
    n = min(c.num_threads for c, _ in ctl)
    n = min(n, rows // min_rows, cap or n, os.cpu_count() or 1)
    if n < 2 or not _alone():
        return None
    edges = [rows * k // n for k in range(n + 1)]
    return [slice(edges[k], edges[k + 1]) for k in range(n)]


def _alone() -> bool:
    """Whether this thread is the only Python thread that could be calling NumPy now (the
    others being this module's idle workers, or tqdm's progress-bar monitor, which only
    sleeps and prints). :func:`run_blocks` stops OpenBLAS's threads, which must not happen
    while another thread is inside a multi-threaded BLAS call: OpenBLAS would then wait
    forever for the stopped threads. A program running NumPy on other threads keeps the
    one-loop path."""
    pool = _STATE["pool"]
    ours = set(getattr(pool, "_threads", ())) if pool is not None else set()
    me = threading.current_thread()
    for t in threading.enumerate():
        if t is not me and t not in ours and type(t).__name__ != "TMonitor":
            return False
    return True


def _pool(n: int) -> ThreadPoolExecutor:
    pool = _STATE["pool"]
    if pool is None or _STATE["pid"] != os.getpid() or getattr(pool, "_max_workers", 0) < n:
        if pool is not None and _STATE["pid"] == os.getpid():
            # a bigger pool replaces this one: let its idle threads end (left running, they
            # would count as other threads in _alone and stop all splitting)
            pool.shutdown(wait=False)
        # (a forked child inherits the executor object but not its threads: make a new one)
        pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="glassgrad-rows")
        _STATE["pool"], _STATE["pid"] = pool, os.getpid()
    return pool


def run_blocks(fn: Callable[[slice], Any], blocks: list[slice]) -> list:
    """``[fn(b) for b in blocks]``, the blocks on as many threads (this one runs the
    first) with NumPy's BLAS on one thread each; in order, on this thread alone when
    another region is running. An exception in any block is raised here after all
    blocks have finished."""
    if not _REGION.acquire(blocking=False):
        return [fn(b) for b in blocks]
    ctl = blas_controllers()
    before = [c.num_threads for c, _ in ctl]
    try:
        for c, stop in ctl:
            c.set_num_threads(1)
            # OpenBLAS's idle threads keep spinning on the cores for ~0.1 s after their last
            # job, taking half of each core from the blocks (measured: two 64-row blocks of
            # 28 GEMMs, 5.7 ms while they spin, 3.1 ms after). Stopping them costs ~0.1 ms;
            # the next multi-threaded BLAS call starts them again (~0.15 ms).
            stop()
        futures = [_pool(len(blocks) - 1).submit(fn, b) for b in blocks[1:]]
        try:
            first = fn(blocks[0])
        finally:
            rest = [f.exception() for f in futures]   # wait for every block
        for e in rest:
            if e is not None:
                raise e
        return [first] + [f.result() for f in futures]
    finally:
        for (c, _), n in zip(ctl, before):
            c.set_num_threads(n)
        _REGION.release()


def run_rows(fn: Callable[[slice], Any], rows: int, min_rows: int = MIN_ROWS,
             split: bool = True) -> list:
    """``fn`` over all ``rows`` rows: ``[fn(slice(0, rows))]``, or, where :func:`row_blocks`
    splits them (and ``split``), one result per block from :func:`run_blocks`, in order."""
    blocks = row_blocks(rows, min_rows) if split else None
    return [fn(slice(0, rows))] if blocks is None else run_blocks(fn, blocks)
