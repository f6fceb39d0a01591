"""Compiled kernels for the hottest array loops of a training step (optional, Numba).

NumPy runs every element-wise operation as its own pass over memory. A few loops of a
training step take several passes where one would do: the im2col copy (a padded copy,
then the window copy), the col2im sum (one strided addition per kernel offset), max
pooling (a running maximum, then a comparison per offset to find the arg-max in the
backward, then a masked product per offset), ReLU (a comparison, a negation, a product),
the recurrent steps (~20 calls on small slices), the softmax cross-entropy (ten calls on
rows of a few classes, where NumPy's per-call cost is all there is), the plain SGD update
(a product, then a difference) and the Adam/AdamW update (~12 calls per parameter). When
`Numba <https://numba.pydata.org>`_ is installed (``pip install 'glassgrad[fast]'``), the
ops, ``optim.SGD`` and ``optim.Adam``/``AdamW`` call the kernels below for those loops:
one pass each. One more replaces a GEMM: a 2-D convolution to a few output channels over
a large batch, when no weight gradient will need its im2col matrix (inference), runs as
direct loops over the input (``conv2d_direct``), which stays in cache where the matrix
would not.

They run on the calling thread (blocks of rows on several threads are started from
Python: ``ops/_parallel.py``). Numba's parallel loops were measured and left out: on a
2-core machine their OpenMP threads, spinning between kernels, took the cores OpenBLAS's
threads need (a kernel followed by a 256×256 product: 30 ms instead of 0.24 ms), and the
remedy, ``OMP_WAIT_POLICY=PASSIVE``, cannot be set for a runtime that PyTorch or another
library has already started in the process.

The NumPy code in the ops stays the reference: same results (the kernels do the same
arithmetic in the same order — copies, comparisons, and sums in the same order, so the
outputs are bit-identical; the tests compare both paths), and the path that runs when
Numba is missing, when an array is not float32/float64 on the CPU, and for shapes the
kernels do not cover. The float32 LSTM kernels agree to float32 rounding instead of bit
for bit: the whole loop over one or two sequences (``lstm_seq_small``, inference at batch
1), which sums its small products in its own order, and the large-batch forward step
(``lstm_fwd_step``, also inside ``lstm_fwd_rows``) compute e^x with a polynomial LLVM
vectorises, inlined into the loops that need it (``_expf``; Numba's ``math.exp`` is a
scalar libm call); the tests bound both.
The cross-entropy forward (``xent_fwd``) agrees to float32 rounding too (the same
polynomial; its row sums are float64, so long rows come out closer to the exact value than
NumPy's). ``lstm_fwd_rows`` / ``lstm_bwd_rows`` run a whole LSTM layer over a block of batch rows in
one call, calling NumPy's own ``cblas_sgemm`` for the per-step product (``ops/_blas.py``),
so that blocks on several threads never wait for the GIL (``ops/_parallel.py``); for
inference ``lstm_fwd_rows`` also makes each step's input projections itself.

Choose the path with ``GLASSGRAD_KERNELS=numba|numpy|auto`` (``auto``, the default: Numba
when importable) or :func:`set_backend` / :func:`using`; :func:`backend` says which runs.
The first call of each kernel compiles it (about a second; cached on disk beside this
file when the folder is writable, so later processes load it in milliseconds).

The formulas these loops compute are derived in ``docs/derivations/conv.md#backward``
(im2col, col2im), ``docs/derivations/conv.md#pooling`` and
``docs/derivations/elementwise.md#pointwise-functions`` (ReLU).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

import numpy as np

from . import _parallel as P
from ._util import batch_last_padded

__all__ = ["backend", "set_backend", "using", "preload"]

_CHOICES = ("auto", "numba", "numpy")
_STATE: dict[str, Any] = {"choice": None, "nb": None, "env": None}
# below this many elements a kernel call (Numba's argument dispatch, a few µs) costs as
# much as NumPy's passes: single images (LeNet at batch 1) stay on NumPy
_MIN_SIZE = 16384
# ReLU and its VJP (one pass against NumPy's one or three) pay from fewer: measured crossover
# ~3,000 elements (float32, 2-core AMD EPYC); from 4,096 the kernel is ahead by 0.3 µs and more
_MIN_SIZE_RELU = 4096
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _env_choice() -> str:
    """``GLASSGRAD_KERNELS``, read once (ops ask on every call)."""
    v = _STATE["env"]
    if v is None:
        v = os.environ.get("GLASSGRAD_KERNELS", "auto").strip().lower() or "auto"
        if v not in _CHOICES:
            raise ValueError(f"GLASSGRAD_KERNELS must be one of {', '.join(_CHOICES)}, got {v!r}")
        _STATE["env"] = v
    return v


def set_backend(name: str) -> None:
    """``"numba"`` (raise if Numba cannot be imported), ``"numpy"`` (the reference loops
    only) or ``"auto"`` (Numba when importable)."""
    if name not in _CHOICES:
        raise ValueError(f"kernels.set_backend: name must be one of {', '.join(_CHOICES)}, "
                         f"got {name!r}")
    if name == "numba" and _load() is None:
        raise ImportError("kernels.set_backend('numba'): Numba is not installed "
                          "(pip install 'glassgrad[fast]')")
    _STATE["choice"] = name


def backend() -> str:
    """The path the ops take now: ``"numba"`` or ``"numpy"``."""
    return "numba" if _kernels() is not None else "numpy"


@contextlib.contextmanager
def using(name: str) -> Iterator[None]:
    """``with kernels.using("numpy"): ...`` runs the block on that path."""
    old = _STATE["choice"]
    set_backend(name)
    try:
        yield
    finally:
        _STATE["choice"] = old


def preload() -> str:
    """Load Numba and the float32 kernels now rather than at their first use, and return
    :func:`backend`. Loading costs ~0.3 s and ~120 MB of resident memory (Numba, LLVM and
    the compiled code, from the on-disk cache; the first run ever also compiles, ~1 s per
    kernel); a server that must answer its first request fast, or a measurement that
    separates a library's fixed memory from what training uses, calls this at start."""
    k = _kernels()
    if k is not None:
        f = np.zeros(8, np.float32)
        k.relu_fwd(f, f.copy())
        k.relu_bwd(f, f, f.copy())
        k.adam_plain(f.copy(), f, f.copy(), f.copy(), *(np.float32(1),) * 7)
        x4 = np.zeros((1, 2, 2, 1), np.float32)
        k.maxpool2d_fwd(x4, 2, 2, x4[:, :1, :1].copy(), np.zeros((1, 1, 1, 1), np.uint8))
        k.xent_fwd(f.reshape(2, 4), np.zeros(2, np.int64), f.reshape(2, 4).copy())
        k.xent_bwd(f.reshape(2, 4), np.zeros(2, np.int64), np.float32(1), f.reshape(2, 4).copy())
        z = np.zeros((1, 1, 4), np.float32)
        k.lstm_seq_small(z, z[0], z[0, :, :1], np.zeros((2, 1, 1), np.float32), z[:, :, :1].copy(),
                         z[:, :, :1].copy(), z.copy(), False)
    return backend()


def _load() -> Any:
    """The compiled-kernel namespace, or None when Numba is missing (tried once)."""
    if _STATE["nb"] is None:
        try:
            from . import _numba_kernels as nb
        except ImportError:
            nb = False
        _STATE["nb"] = nb
    return _STATE["nb"] or None


def _kernels() -> Any:
    choice = _STATE["choice"] or _env_choice()
    if choice == "numpy":
        return None
    return _load()


def _ok(*arrays: Any) -> Any:
    """The kernels when they apply to these arrays (NumPy, same float dtype), else None."""
    k = _kernels()
    if k is None:
        return None
    dt = arrays[0].dtype
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dt or dt not in _FLOATS:
            return None
    return k


def dense_flat(a: np.ndarray) -> np.ndarray | None:
    """A 1-D view of ``a``'s memory when ``a`` is dense in some axis order, else None."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    t = a.transpose(sorted(range(a.ndim), key=lambda i: -a.strides[i]))
    return t.reshape(-1) if t.flags.c_contiguous else None


# ----------------------------------------------------------------------------- entry points
def relu(x: np.ndarray) -> np.ndarray | None:
    """``np.maximum(x, 0)`` (NaN kept) in ``x``'s memory order."""
    if x.size < _MIN_SIZE_RELU:
        return None
    k = _ok(x)
    if k is None:
        return None
    xf = dense_flat(x)
    if xf is None:
        return None
    out = np.empty_like(x)
    k.relu_fwd(xf, dense_flat(out))
    return out


def _twin_flat(min_size: int, *arrays: np.ndarray) -> tuple | None:
    """``(kernels, flat_1, flat_2, ...)`` for arrays of one shape and memory layout (element
    i of one flat view is element i of the others) of at least ``min_size`` elements, or
    None when the kernels do not apply to them."""
    a = arrays[0]
    if a.size < min_size or any(b.shape != a.shape or b.strides != a.strides for b in arrays):
        return None
    k = _ok(*arrays)
    if k is None:
        return None
    flats = [dense_flat(b) for b in arrays]
    if any(f is None for f in flats):
        return None
    return (k, *flats)


def sgd_step(x: np.ndarray, g: np.ndarray, lr: float) -> bool:
    """``x -= lr·g`` in one pass instead of two (``optim.SGD`` without momentum, decay or
    ``maximize``), bit-identical to the NumPy pair; False, doing nothing, where the kernels
    do not apply (then the caller runs its NumPy lines)."""
    twin = _twin_flat(_MIN_SIZE, x, g)
    if twin is None:
        return False
    k, xf, gf = twin
    k.sgd_plain(xf, gf, x.dtype.type(lr))
    return True


def adam_step(x: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, b1: float,
              b2: float, bc2_sqrt: float, eps: float, step_size: float, decay: float) -> bool:
    """One Adam update of ``x`` (AdamW's decoupled decay ``x ·= decay`` first; no AMSGrad, L2
    penalty or ``maximize``) in one pass instead of ~12 NumPy calls, bit-identical to
    ``optim.Adam``'s NumPy lines; False, doing nothing, where the kernels do not apply (four
    arrays of one shape, layout and float dtype). Every size: the NumPy lines' per-call cost
    is what it saves."""
    twin = _twin_flat(0, x, g, m, v)
    if twin is None:
        return False
    k, *f = twin
    t = x.dtype.type
    k.adam_plain(*f, t(1.0 - b1), t(b2), t(1.0 - b2), t(bc2_sqrt), t(eps), t(-step_size),
                 t(decay))
    return True


def relu_grad(g: np.ndarray, z: np.ndarray) -> np.ndarray | None:
    """``g ⊙ [¬(z ≤ 0)]``: ReLU's VJP from its output ``z`` (``g`` passes where ``z`` is NaN)."""
    twin = _twin_flat(_MIN_SIZE_RELU, g, z)
    if twin is None:
        return None
    k, gf, zf = twin
    out = np.empty_like(g)
    k.relu_bwd(gf, zf, dense_flat(out))
    return out


_F32 = np.dtype(np.float32)


def softmax_xent(x: np.ndarray, y: np.ndarray) -> tuple | None:
    """Softmax cross-entropy of float32 logits ``x: (N, C)`` with class indices ``y:
    (N,)`` in one call: ``(p, Σ_i ℓ_i)`` with ``p`` the softmax (kept for the backward)
    and the sum of the per-row losses as a Python float. None where the kernel does not
    apply (not float32 C-contiguous NumPy arrays, non-integer targets, Numba missing) or
    when a target is outside ``[0, C)`` (the caller's NumPy path reports it, or ignores
    it). Every size: NumPy's path is ~10 calls of a few µs on rows this short."""
    if (type(x) is not np.ndarray or x.dtype != _F32 or x.ndim != 2 or not x.flags.c_contiguous
            or type(y) is not np.ndarray or y.dtype.kind not in "iu" or y.ndim != 1
            or y.shape[0] != x.shape[0] or not x.size):
        return None
    k = _kernels()
    if k is None:
        return None
    p = np.empty_like(x)
    tot, bad = k.xent_fwd(x, y, p)
    return None if bad >= 0 else (p, tot)


def softmax_xent_grad(p: np.ndarray, y: np.ndarray, scale: Any) -> np.ndarray | None:
    """``(p − onehot(y))·scale`` (the VJP of :func:`softmax_xent` for the mean), bit-identical
    to the NumPy difference then product; None where the kernels do not apply."""
    if type(p) is not np.ndarray or p.dtype != _F32 or p.ndim != 2 or not p.flags.c_contiguous:
        return None
    k = _kernels()
    if k is None:
        return None
    out = np.empty_like(p)
    k.xent_bwd(p, y, scale, out)
    return out


def _batch_last(a: np.ndarray) -> bool:
    """Whether ``(N, C, H, W)`` is laid out as a C-ordered ``(C, H, W, N)`` (as the
    convolutions leave their outputs)."""
    return a.shape[0] > 1 and a.transpose(1, 2, 3, 0).flags.c_contiguous


def _ahwb(a: np.ndarray, batch_last: bool) -> np.ndarray:
    """The 4-D view the pooling kernels walk, ``(A, H, W, B)``, innermost over the axis
    that is contiguous in memory: ``(C, H, W, N)`` batch-last, else ``(N·C, H, W, 1)``."""
    if batch_last:
        return a.transpose(1, 2, 3, 0)
    n, c, h, w = a.shape
    return a.reshape(n * c, h, w, 1)


def _empty(shape: tuple, dtype: Any, batch_last: bool) -> np.ndarray:
    if batch_last:
        return np.empty(tuple(shape[1:]) + tuple(shape[:1]), dtype).transpose(3, 0, 1, 2)
    return np.empty(shape, dtype)


def max_pool2d(x: np.ndarray, ks: tuple, stride: tuple, pads: tuple, dil: tuple,
               out_sp: tuple) -> tuple | None:
    """Forward of a 2-D max pool with windows that tile the input (stride = kernel, no
    padding or dilation): ``(y, arg)`` with ``arg`` the offset (``0..kh·kw−1``, uint8) of
    each window's first maximum (NaN counts as the maximum; ties go to the first), both
    in ``x``'s memory order. None where not covered."""
    if (x.ndim != 4 or len(ks) != 2 or tuple(ks) != tuple(stride) or tuple(dil) != (1, 1)
            or any(lo or hi for lo, hi in pads) or ks[0] * ks[1] > 255 or x.size < _MIN_SIZE):
        return None
    k = _ok(x)
    if k is None:
        return None
    last = _batch_last(x)
    if not last and not x.flags.c_contiguous:
        return None
    shape = tuple(x.shape[:2]) + tuple(out_sp)
    y, arg = _empty(shape, x.dtype, last), _empty(shape, np.uint8, last)
    k.maxpool2d_fwd(_ahwb(x, last), ks[0], ks[1], _ahwb(y, last), _ahwb(arg, last))
    return y, arg


def max_pool2d_grad(g: np.ndarray, arg: np.ndarray, x_shape: tuple, ks: tuple) -> np.ndarray | None:
    """The VJP of :func:`max_pool2d`: ``g`` routed to each window's arg-max, zeros
    elsewhere; ``dx`` in the memory order of ``arg`` (that is, of the input)."""
    k = _ok(g)
    if k is None:
        return None
    last = _batch_last(arg)
    if last != _batch_last(g) or not (last or g.flags.c_contiguous):
        g2 = np.empty_like(arg, dtype=g.dtype)   # g in arg's memory order: one copy
        g2[...] = g
        g = g2
    dx = _empty(tuple(x_shape), g.dtype, last)
    k.maxpool2d_bwd(_ahwb(g, last), _ahwb(arg, last), ks[0], ks[1], _ahwb(dx, last))
    return dx


def im2col2d(x: np.ndarray, ks: tuple, stride: tuple, pads: tuple, dil: tuple,
             out_sp: tuple) -> np.ndarray | None:
    """``cols: (C, kh, kw, OH, OW, N)`` (C-ordered) of ``x: (N, C, H, W)``, zero padding
    read as zeros (no padded copy of ``x``)."""
    if x.ndim != 4 or len(ks) != 2 or x.size < _MIN_SIZE:
        return None
    k = _ok(x)
    if k is None:
        return None
    N, C = x.shape[:2]
    xt = x.transpose(1, 2, 3, 0)
    if not xt.flags.c_contiguous:   # (e.g. images from a loader, batch-first): one
        xt = np.ascontiguousarray(xt)   # transposing copy, then contiguous rows to read
    cols = np.empty((C, ks[0], ks[1]) + tuple(out_sp) + (N,), x.dtype)
    k.im2col2d(xt, stride[0], stride[1], pads[0][0], pads[1][0], dil[0], dil[1], cols)
    return cols


# direct loops instead of im2col + GEMM for a 2-D convolution without a weight gradient
# (inference) when the im2col matrix would be at least this large and the output channels
# this few: the GEMM with ≤ 8 rows cannot hide streaming the matrix through memory, and
# the loops read the input from cache. 2 cores, float32, forward of conv 5×5 pad 2
# (im2col + GEMM vs direct): 1→6 channels 28×28 at batch 128 (a 10 MB matrix) 1.24 vs
# 1.51 ms, batch 256 (20 MB) 2.70 vs 1.15, batch 512 11.3 vs 3.3; 3→8 channels 32×32 at
# batch 256 (78 MB) 19.1 vs 10.0; but 3→16 channels 3×3 at batch 256 (28 MB) 8.3 vs 9.2.
_DIRECT_MIN_COLS_BYTES = 16 << 20
_DIRECT_MAX_OUT = 8


def conv2d_direct(x: np.ndarray, w: np.ndarray, stride: tuple, pads: tuple, dil: tuple,
                  out_sp: tuple) -> np.ndarray | None:
    """``y: (O, OH, OW, N)`` (C-ordered, batch last) of a float32 2-D convolution with
    groups 1 by direct loops (``conv2d_direct``), the output rows in blocks on several
    cores (``ops/_parallel.py``), where that beats im2col + GEMM (see
    ``_DIRECT_MIN_COLS_BYTES``); else None."""
    if x.ndim != 4 or w.ndim != 4 or x.dtype != np.float32 or len(out_sp) != 2:
        return None
    N, C = x.shape[:2]
    O, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    cols_bytes = C * kh * kw * out_sp[0] * out_sp[1] * N * 4
    if O > _DIRECT_MAX_OUT or cols_bytes < _DIRECT_MIN_COLS_BYTES:
        return None
    k = _ok(x, w)
    if k is None:
        return None
    xpad = batch_last_padded(x, pads)
    wc = np.ascontiguousarray(w)
    y = np.empty((O,) + tuple(out_sp) + (N,), np.float32)
    P.run_rows(lambda r: k.conv2d_direct(xpad, wc, stride[0], stride[1], dil[0], dil[1], y,
                                         r.start, r.stop), out_sp[0], 4)
    return y


def col2im2d(dcols: np.ndarray, x_shape: tuple, stride: tuple, pads: tuple,
             dil: tuple) -> np.ndarray | None:
    """``dx: (C, H, W, N)`` = the sum of each column entry into the input position it
    was copied from (the VJP of :func:`im2col2d`), in the NumPy loop's order."""
    k = _ok(dcols)
    if k is None or dcols.ndim != 6 or not dcols.flags.c_contiguous:
        return None
    N, C, H, W = x_shape
    dx = np.empty((C, H, W, N), dcols.dtype)
    k.col2im2d(dcols, stride[0], stride[1], pads[0][0], pads[1][0], dil[0], dil[1], dx)
    return dx


def rnn(*arrays: np.ndarray) -> Any:
    """The recurrent kernels when they apply to these arrays, else None: per-step passes
    (``lstm_fwd_pre``, ``lstm_fwd_cell``, ``lstm_bwd_step``, ``gru_bwd_step``: the ~20
    products and sums around NumPy's exponentials and ``tanh`` as one pass a step), and for
    float32 the whole step (``lstm_fwd_step``), the whole loop over a block of rows
    (``lstm_fwd_rows``, ``lstm_bwd_rows``) or over a few sequences (``lstm_seq_small``)."""
    return _ok(*arrays)
