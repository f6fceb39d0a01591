"""``--threads N`` read from the command line before NumPy is imported: OpenBLAS (and
OpenMP/MKL) take their thread count from the environment when they load, so a bench
script calls :func:`from_argv` first, then imports NumPy."""

from __future__ import annotations

import os
import sys


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
