"""NumPy's BLAS library itself, for the few places that need more than ``np.matmul``.

* :func:`blas_controllers`: its thread-count control (`threadpoolctl
  <https://github.com/joblib/threadpoolctl>`_, part of ``glassgrad[fast]``) and OpenBLAS's
  call that stops its idle threads (``ops/_parallel.py`` uses both).
* :func:`cblas_sgemm`: its ``cblas_sgemm`` as a ctypes function, which compiled kernels
  call without the GIL (``ops/_rnn_loops.py``) and :func:`linear_into` calls to add a
  product into an array already holding the bias.

Everything here is optional: where NumPy's BLAS is not an OpenBLAS that threadpoolctl can
drive (MKL, Accelerate, no threadpoolctl), the functions return None or empty and the
callers keep their NumPy code.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np

__all__ = ["blas_controllers", "cblas_sgemm", "linear_into"]

_STATE: dict[str, Any] = {"ctl": None, "sgemm": None}


def blas_controllers() -> list:
    """``[(controller, shutdown)]`` for NumPy's BLAS: threadpoolctl's controller and
    OpenBLAS's ``blas_thread_shutdown_`` (found once). Empty — no splitting — without
    threadpoolctl, when NumPy's BLAS cannot be told apart from other BLAS libraries in the
    process, or when it is not an OpenBLAS (on POSIX threads) that can stop its threads
    (see ``ops._parallel.run_blocks`` for why that is needed). Other BLAS libraries
    (SciPy's own OpenBLAS, say) are left alone: their threads, restarted, would spin
    against NumPy's."""
    ctl = _STATE["ctl"]
    if ctl is None:
        ctl = []
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            pass
        else:
            blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
            # a wheel's NumPy loads its OpenBLAS from numpy.libs/ (or numpy/.dylibs/)
            home = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy")
            mine = [c for c in blas if os.path.realpath(c.filepath).startswith(home)]
            if not mine and len(blas) == 1:   # a NumPy linked to a system BLAS
                mine = blas
            for c in mine[:1]:
                stop = getattr(getattr(c, "dynlib", None), "blas_thread_shutdown_", None)
                # (an OpenMP build's threads are OpenMP's, which this cannot stop)
                if (c.internal_api == "openblas" and stop is not None
                        and getattr(c, "threading_layer", None) == "pthreads"):
                    ctl = [(c, stop)]
        _STATE["ctl"] = ctl
    return ctl


def _sgemm_type(int_t: Any) -> Any:
    """The ctypes prototype of ``cblas_sgemm(order, transa, transb, M, N, K, alpha, A, lda,
    B, ldb, beta, C, ldc)`` with sizes of type ``int_t``."""
    return ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, int_t, int_t, int_t,
                            ctypes.c_float, ctypes.c_void_p, int_t, ctypes.c_void_p, int_t,
                            ctypes.c_float, ctypes.c_void_p, int_t)


def _ilp64(lib: Any) -> bool:
    """Whether an OpenBLAS without a symbol suffix was built with 64-bit integers (its
    configuration string says ``USE64BITINT``)."""
    for name in ("openblas_get_config64_", "openblas_get_config"):
        f = getattr(lib, name, None)
        if f is not None:
            f.restype = ctypes.c_char_p
            return b"USE64BITINT" in (f() or b"")
    return False


def cblas_sgemm() -> Any:
    """``cblas_sgemm`` of NumPy's BLAS as a ctypes function (which compiled kernels can call
    without the GIL), or None where :func:`blas_controllers` finds no OpenBLAS to drive or
    the function does not reproduce ``np.matmul`` on a test product (found once)."""
    f = _STATE["sgemm"]
    if f is None:
        f = False
        ctl = blas_controllers()
        lib = getattr(ctl[0][0], "dynlib", None) if ctl else None
        # NumPy's wheels name it with a prefix and the 64-bit-integer suffix
        # (scipy_cblas_sgemm64_); an unsuffixed name has the integers of the build
        for name in ("scipy_cblas_sgemm64_", "cblas_sgemm64_", "scipy_cblas_sgemm", "cblas_sgemm"):
            if lib is not None and hasattr(lib, name):
                wide = name.endswith("64_") or _ilp64(lib)
                g = _sgemm_type(ctypes.c_int64 if wide else ctypes.c_int)((name, lib))
                if _gemm_works(g):
                    f = g
                break
        _STATE["sgemm"] = f
    return f or None


def _gemm_works(g: Any) -> bool:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 9)).astype(np.float32)
    b = rng.standard_normal((11, 5)).astype(np.float32)[2:, :]   # a view: row stride 5
    c = np.zeros((7, 8), np.float32)[:, :5]                       # row stride 8
    g(101, 111, 111, 7, 5, 9, 1.0, a.ctypes.data, 9, b.ctypes.data, 5, 0.0, c.ctypes.data, 8)
    return bool(np.allclose(c, a @ b, rtol=1e-5, atol=1e-5))


def linear_into(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """``x·wᵀ + b`` for float32 C-ordered ``x (N, in)``, ``w (out, in)`` and ``b (out,)``
    as ``Z = b`` (broadcast) then one ``cblas_sgemm`` with β = 1, or None when
    :func:`cblas_sgemm` is not available.

    Same sum as ``z = x @ w.T; z += b`` whenever BLAS accumulates the product over ``in``
    before adding it to ``Z`` (one block of ``in``; a long ``in`` may be summed in blocks
    into ``Z``: then the same to float32 rounding). What it saves is memory traffic on
    large outputs: after a multi-threaded GEMM the product's rows sit in the caches of the
    threads that wrote them, and a separate bias pass on one core fetches them back
    (measured: ``(7168, 28)·(28, 512)`` plus bias, 2 threads, 4.0 ms as two passes, 2.8 ms
    this way; the bias pass alone 2.0 ms right after the product, 0.7 ms on a cold array).
    """
    f = cblas_sgemm()
    if f is None:
        return None
    n, k = x.shape
    m = w.shape[0]
    z = np.empty((n, m), np.float32)
    z[...] = b
    # row-major C (n, m) = x (n, k) · wᵀ: w as the transposed operand (112), row stride k
    f(101, 111, 112, n, m, k, 1.0, x.ctypes.data, k, w.ctypes.data, k, 1.0, z.ctypes.data, m)
    return z
