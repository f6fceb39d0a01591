"""``--threads N`` read from the command line before NumPy is imported: OpenBLAS (and
OpenMP/MKL) take their thread count from the environment when they load, so a bench
script calls :func:`from_argv` first, then imports NumPy. And :func:`settle`, called
before each timed turn when frameworks take turns."""

from __future__ import annotations

import os
import sys
import time

SETTLE = 0.2  # seconds


def settle(seconds: float = SETTLE) -> None:
    """Wait, busy, until the previous turn's worker threads have gone idle, before timing
    the next turn. OpenBLAS's workers spin ~0.1 s after their last call, PyTorch's OpenMP
    workers for a while too: a turn that starts meanwhile shares a core with them (PyTorch's
    LSTM at batch 256 took 15.7 ms right after a NumPy product and 8.6 ms after a pause, on
    this 2-core machine). Busy rather than asleep: a sleeping process lets the virtual CPU
    halt, and the next turn starts on a cold one."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def from_argv(default: str, argv: list[str] | None = None) -> str:
    """Set ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` to the value of
    ``--threads`` in ``argv`` (``sys.argv`` by default), or ``default``; returns it."""
    argv = sys.argv if argv is None else argv
    n = default
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            n = argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = n
    return n
