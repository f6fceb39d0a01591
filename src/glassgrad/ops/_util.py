"""Helpers shared by the ops: un-broadcasting, axis normalization, error messages."""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..backend import np

_ONES: dict = {}


def cached_constant(table: dict, key: Any, make: Any, *args: Any, **kwargs: Any) -> Any:
    """``make(*args, **kwargs)`` built once per ``key`` and kept read-only in ``table``
    (a small per-process cache of constant arrays; cleared when it grows past 64 entries)."""
    r = table.get(key)
    if r is None:
        if len(table) > 64:
            table.clear()
        r = table[key] = make(*args, **kwargs)
        r.flags.writeable = False
    return r


def cached_ones(shape: tuple, dtype: Any) -> Any:
    """``np.ones(shape, dtype)``, cached read-only (:func:`cached_constant`)."""
    return cached_constant(_ONES, (shape, dtype), np.ones, shape, dtype=dtype)


def sum_rows(g: Any) -> Any:
    """``g.sum(axis=0)`` of a 2-D ``(n, k)`` gradient, the bias gradient of a linear layer.

    For a NumPy float32/float64 array it is computed as ``ones(n) @ g``: one BLAS
    matrix-vector product, which is faster than NumPy's column reduction (1.6–3x on the
    development machine from 4x1000 to 1024x4096, ``bench/bench_sum_rows.py``) with an
    error against a float64 sum of the same order (smaller on those shapes, twice as
    large on 100,000 rows of 3). Other arrays (CuPy, integers, Tensors under double
    backward) take ``g.sum(axis=0)``.
    """
    if type(g) is np.ndarray and g.dtype.char in "fd":
        return cached_ones((g.shape[0],), g.dtype) @ g
    return g.sum(axis=0)


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum gradient ``g`` back to ``shape`` after NumPy broadcasting.

    Broadcasting copies an input along new leading axes and along its size-1 axes; the
    gradient of a copy is the sum of the gradients of all copies. So we sum ``g`` over
    the leading axes it has in excess and over the axes where ``shape`` has size 1.
    Works on arrays and on Tensors (double backward).
    """
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1
    )
    if len(axes) == lead and type(g) is np.ndarray and g.flags.c_contiguous and g.size:
        # only leading axes to sum (a bias added to a batch): the rows of a 2-D view
        return sum_rows(g.reshape((-1, math.prod(shape)))).reshape(shape)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead or g.shape != shape:
        g = g.reshape(shape)
    return g


def broadcast_axes(in_shape: tuple, out_shape: tuple) -> tuple:
    """The axes of ``out_shape`` over which un-broadcasting to ``in_shape`` sums."""
    lead = len(out_shape) - len(in_shape)
    return tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(in_shape) if s == 1 and out_shape[i + lead] != 1
    )


def op_error(op: str, msg: str, kind: type = ValueError) -> Exception:
    """An error that names its op and is not re-wrapped by ``Function.apply``."""
    e = kind(f"{op}: {msg}")
    e._glassgrad = True  # type: ignore[attr-defined]
    return e


def norm_axis(axis: Any, ndim: int, op: str) -> tuple | None:
    """Normalize ``axis`` (None, int, or sequence; negatives allowed) to a sorted tuple."""
    if axis is None:
        return None
    if isinstance(axis, int) or hasattr(axis, "__index__"):
        axis = (int(axis),)
    out = []
    for a in axis:
        a = int(a)
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise op_error(
                op, f"dim {a} is out of range for a tensor of {ndim} dimensions", IndexError
            )
        out.append(a % max(ndim, 1) if ndim else 0)
    if len(set(out)) != len(out):
        raise op_error(op, f"dim {tuple(axis)} repeats an axis")
    if ndim == 0:
        return ()  # dim 0 / -1 of a 0-d tensor (allowed by PyTorch) reduces nothing
    return tuple(sorted(out))


def norm_dim(dim: int, ndim: int, op: str) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise op_error(op, f"dim {dim} is out of range for a tensor of {ndim} dimensions", IndexError)
    return dim % n


def pick(dim: Any, axis: Any, default: Any = None) -> Any:
    """PyTorch's ``dim`` or NumPy's ``axis`` (whichever was given)."""
    if dim is not None and axis is not None and dim != axis:
        raise TypeError("give either dim or axis, not both")
    return dim if dim is not None else (axis if axis is not None else default)


def shape_tuple(shape: Sequence[Any]) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both mean shape (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)
