"""Helpers shared by the ops: un-broadcasting, axis normalization, error messages."""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

from ..backend import np, xp_of

_ONES: dict = {}


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a Tensor (ops may not import the Tensor class: it duck-types). The
    class is asked, not the instance: a batched tensor inside ``vmap`` refuses to show its
    graph (reading ``grad_fn`` raises) but is a Tensor all the same."""
    return hasattr(type(x), "grad_fn")


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


def batch_last_padded(x: Any, pads: Sequence[tuple]) -> Any:
    """``x: (N, C, *sp)`` copied channels first and batch last with its zero padding
    (``pads``: one ``(lo, hi)`` per spatial axis): ``(C, *padded sp, N)``, C-ordered — the
    input layout of the convolutions' im2col and direct loops (``ops/conv.py``)."""
    xp = xp_of(x)
    t = x.transpose(tuple(range(1, x.ndim)) + (0,))
    if not any(lo or hi for lo, hi in pads):
        return xp.ascontiguousarray(t)
    sp = x.shape[2:]
    out = xp.zeros((x.shape[1],) + tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
                   + (x.shape[0],), dtype=x.dtype)
    out[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(sp, pads))] = t
    return out


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


# reductions that read an empty list of dims as "all dims" (as PyTorch does)
_EMPTY_DIMS_MEAN_ALL = frozenset({"sum", "mean", "var", "std", "amax", "amin", "norm", "nansum",
                                  "logsumexp",
                                  "nanmean", "var_mean", "std_mean"})


def dim_int(d: Any, op: str, arg: str = "dim") -> int:
    """``d`` as a Python int, or a TypeError naming ``op`` and ``arg``.

    Accepted: ints, NumPy integers and one-element integer tensors (anything with
    ``__index__``); refused as PyTorch does: bool, float, str, None and the rest.
    """
    if isinstance(d, int) and not isinstance(d, bool):
        return d
    if not isinstance(d, (bool, np.bool_)):
        try:
            return operator.index(d)
        except (TypeError, ValueError, RuntimeError):
            pass
    raise op_error(op, f"argument '{arg}' must be int, not {type(d).__name__} ({d!r})", TypeError)


def dim_out_of_range(op: str, d: int, ndim: int) -> IndexError:
    n = max(ndim, 1)
    return op_error(op, f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but "
                    f"got {d})", IndexError)


def dim_list(axis: Any, op: str, arg: str = "dim") -> tuple:
    """``axis`` (an int or a sequence of ints) as a tuple of Python ints (types checked)."""
    if isinstance(axis, (list, tuple)):
        return tuple(dim_int(a, op, arg) for a in axis)
    if hasattr(axis, "__index__") and not isinstance(axis, (bool, np.bool_)) and not (
            hasattr(axis, "ndim") and axis.ndim > 0):
        return (dim_int(axis, op, arg),)
    raise op_error(op, f"argument '{arg}' must be an int or a tuple of ints, not "
                   f"{type(axis).__name__} ({axis!r})", TypeError)


def norm_axis(axis: Any, ndim: int, op: str, arg: str = "dim") -> tuple | None:
    """Normalize ``axis`` (None, int, or sequence; negatives allowed) to a sorted tuple.

    Types and ranges are checked as PyTorch does (an IndexError "Dimension out of range"
    naming ``op``; a TypeError for bool/float/str dims). An empty sequence means all dims
    for the reductions that PyTorch reads so (sum, mean, var, std, amax, amin, norm), no
    dim for the others.
    """
    if axis is None:
        return None
    dims = dim_list(axis, op, arg)
    if not dims and op in _EMPTY_DIMS_MEAN_ALL:
        return None
    n = max(ndim, 1)
    out = []
    for a in dims:
        if not -n <= a < n:
            raise dim_out_of_range(op, a, ndim)
        out.append(a % n)
    if len(set(out)) != len(out):
        raise op_error(op, f"dim {min(a for a in out if out.count(a) > 1)} appears multiple "
                       f"times in the list of dims {dims}", RuntimeError)
    if ndim == 0:
        return ()  # dim 0 / -1 of a 0-d tensor (allowed by PyTorch) reduces nothing
    return tuple(sorted(out))


def norm_dim(dim: Any, ndim: int, op: str, arg: str = "dim") -> int:
    """One dim (an int, negatives counting from the end) checked against ``ndim`` dims
    (a 0-d tensor accepts 0 and -1, as PyTorch)."""
    dim = dim_int(dim, op, arg)
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise dim_out_of_range(op, dim, ndim)
    return dim % n


def check_index(idx: Any, size: int, op: str, dim: int | None = None, negative: bool = False) -> None:
    """Refuse indices outside ``[0, size)`` (``[-size, size)`` with ``negative``) as PyTorch's
    gather/scatter/index_select/embedding do: an IndexError naming ``op`` and the first bad
    index. ``idx`` is an integer array."""
    if not idx.size:
        return
    lo, hi = idx.min(), idx.max()
    if lo < (-size if negative else 0) or hi >= size:
        bad = int(lo) if lo < (-size if negative else 0) else int(hi)
        where = f" for dimension {dim}" if dim is not None else ""
        raise op_error(op, f"index {bad} is out of bounds{where} with size {size}", IndexError)


def pick(dim: Any, axis: Any, default: Any = None) -> Any:
    """PyTorch's ``dim`` or NumPy's ``axis`` (whichever was given)."""
    if dim is not None and axis is not None and dim != axis:
        raise TypeError("give either dim or axis, not both")
    return dim if dim is not None else (axis if axis is not None else default)


def shape_tuple(shape: Sequence[Any], op: str = "shape", arg: str = "size") -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both mean shape (2, 3); every entry must be an int
    (a TypeError naming ``op`` otherwise, as PyTorch refuses ``reshape(2.0, 3)``)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(dim_int(s, op, arg) for s in shape)


def scaled_sum_sq(d: Any, axes: Any, small: bool = False) -> tuple:
    """``(t, s)`` with ``Σ_axes d² = t·s²`` (keepdims), computed without overflow.

    The plain ``Σ d²`` overflows in float32 once ``|d|`` passes about 1e19 (1e30 squared
    is inf), even where the variance or the norm it feeds is finite (a std of 1e30, or a
    layer norm's ``x̂`` of order 1). When the plain sum is not finite, it is redone on
    ``d/s`` with ``s = max|d|`` over ``axes`` (``s = 1`` where that is not finite or is
    below 1), which is exact up to rounding; otherwise ``s = 1.0``. With ``small`` the sum
    is also redone where it underflows (``|d|`` near 1e-20 in float32, whose squares are
    subnormal or 0: a norm or a std of 1e-30 is representable), with ``s = max|d|``
    there. ``d`` may be an array
    or a Tensor (double backward): ``s`` is then a constant, which is right because the
    results built from ``t·s²`` do not depend on the choice of ``s``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        t = (d * d).sum(axis=axes, keepdims=True)
    arr = d.array if hasattr(d, "grad_fn") else d
    tarr = t.array if hasattr(t, "grad_fn") else t
    xp = xp_of(arr)
    if arr.size == 0 or arr.dtype.kind != "f":
        return t, 1.0
    fi = np.finfo(arr.dtype)
    if bool(xp.isfinite(tarr).all()) and not (small and bool((tarr < fi.tiny / fi.eps).any())):
        return t, 1.0
    with np.errstate(invalid="ignore"):
        m = xp.abs(arr).max(axis=axes, keepdims=True)
        s = xp.where(xp.isfinite(m) & ((m > 1) | (small & (m > 0))), m, 1).astype(arr.dtype)
        u = d / s
        return (u * u).sum(axis=axes, keepdims=True), s
