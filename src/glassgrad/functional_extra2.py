"""Still more of ``torch``'s functions: the function forms of the methods in
:mod:`glassgrad.tensor_methods.extra2` / ``tensor_methods.extra3`` (``gg.median(x, 0)``, ...), the
in-place function forms (``gg.exp_(x)``), stacking helpers, index helpers, window
functions, dtype queries and a few process-wide settings.
"""

from __future__ import annotations

import builtins
import itertools
import math
import os
from typing import Any, Callable, Sequence

import numpy as _np

from . import dtypes as _dt
from ._printopts import set_printoptions  # noqa: F401 - re-exported
from .functional_extra import _make
from .ops._util import op_error
from .random import default_generator
from .tensor import Tensor, cat, stack

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan
newaxis = None
dtype = _np.dtype
uint16 = _np.dtype("uint16")
uint32 = _np.dtype("uint32")
uint64 = _np.dtype("uint64")

# function forms of methods: (name, takes out=)
_METHODS = (
    "aminmax as_strided bincount bitwise_not cholesky_inverse cholesky_solve "
    "corrcoef cov diag_embed diagflat diagonal_scatter diff digamma erfc erfinv frexp "
    "histc i0 index_put index_put_ is_nonzero is_inference isneginf isposinf isreal kron "
    "kthvalue lgamma logcumsumexp logdet logit matrix_exp matrix_power median mode msort "
    "mvlgamma nan_to_num nan_to_num_ nanmean nanmedian nanquantile nansum pinverse qr "
    "quantile renorm rot90 scatter_reduce select select_scatter signbit sinc slice_scatter "
    "split_with_sizes svd triangular_solve unique_consecutive vdot hardshrink cholesky "
    "unflatten is_same_size get_device histogram put index_reduce multinomial prelu "
    "nonzero_static"
).split()
_BINARY = ("bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift "
           "copysign cross dist float_power fmax fmin gcd lcm heaviside ldexp logaddexp2 "
           "nextafter xlogy").split()
_OUT = set(_BINARY) | {"bitwise_not", "diff", "digamma", "erfc", "erfinv", "i0", "lgamma",
                       "logit", "sinc", "signbit", "nan_to_num", "nansum", "nanmean", "kron",
                       "logcumsumexp", "matrix_power", "cholesky", "msort", "mvlgamma",
                       "renorm", "histc", "vdot", "cholesky_inverse", "cholesky_solve"}


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _inplace_fn(name: str) -> Callable:
    def fn(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if not isinstance(input, Tensor):
            raise op_error(name, f"input must be a Tensor, got {type(input).__name__}", TypeError)
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}``: :meth:`Tensor.{name}` of ``input`` (in place)."
    return fn


_INPLACE_FNS = (
    "abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ "
    "atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ detach_ erf_ erfc_ "
    "exp2_ exp_ expm1_ fill_ fix_ floor_ frac_ gcd_ i0_ lcm_ ldexp_ log10_ log1p_ log2_ log_ "
    "logit_ neg_ negative_ rad2deg_ reciprocal_ relu_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ "
    "sqrt_ square_ tan_ tanh_ trunc_ xlogy_ zero_ sinc_"
).split()


def polygamma(n: int, input: Any, *, out: Tensor | None = None) -> Tensor:
    """``ψ⁽ⁿ⁾(input)`` (note the argument order, as PyTorch)."""
    from .functional_extra import _write_out

    r = _t(input).polygamma(n)
    return r if out is None else _write_out("polygamma", r, out)


def all(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where all elements (along ``dim``) are non-zero."""
    return _t(input).all(dim, keepdim)


def any(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where any element (along ``dim``) is non-zero."""
    return _t(input).any(dim, keepdim)


def fill(input: Tensor, value: Any) -> Tensor:
    """A copy of ``input`` filled with ``value``."""
    return _t(input).clone().fill_(value) if not _t(input).requires_grad else \
        _t(input) * 0 + value


concat = cat


def var_mean(input: Any, dim: Any = None, *args: Any, **kwargs: Any) -> tuple:
    """``(var, mean)`` over ``dim`` (same arguments as :meth:`Tensor.var`)."""
    x = _t(input)
    keep = kwargs.get("keepdim", args[1] if len(args) > 1 else False)
    return x.var(dim, *args, **kwargs), x._f().mean(dim, keep)


def std_mean(input: Any, dim: Any = None, *args: Any, **kwargs: Any) -> tuple:
    """``(std, mean)`` over ``dim`` (same arguments as :meth:`Tensor.std`)."""
    x = _t(input)
    keep = kwargs.get("keepdim", args[1] if len(args) > 1 else False)
    return x.std(dim, *args, **kwargs), x._f().mean(dim, keep)


def lu_unpack(LU_data: Any, LU_pivots: Any, unpack_data: bool = True,
              unpack_pivots: bool = True) -> tuple:
    """``(P, L, U)`` with ``A = P L U`` from :meth:`Tensor.lu`'s output."""
    from ._lu import lu_unpack as f

    return f(_t(LU_data), _t(LU_pivots), unpack_data, unpack_pivots)


def lu_solve(b: Any, LU_data: Any, LU_pivots: Any) -> Tensor:
    """``X`` with ``A X = b`` from ``A``'s LU factorization."""
    return _t(b).lu_solve(LU_data, LU_pivots)


# ---------------------------------------------------------------------------- shapes
def atleast_1d(*tensors: Any) -> Any:
    """Each input with at least one dimension (one input: a tensor, else a tuple)."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors: Any) -> Any:
    """Each input with at least two dimensions (``(n,)`` becomes ``(1, n)``)."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors: Any) -> Any:
    """Each input with at least three dimensions (``(n,)`` → ``(1, n, 1)``,
    ``(m, n)`` → ``(m, n, 1)``)."""
    return _atleast(tensors, 3)


def _atleast(tensors: Sequence[Any], n: int) -> Any:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = []
    for t in map(_t, tensors):
        if t.ndim == 0:
            t = t.reshape((1,) * n)
        elif t.ndim == 1 and n >= 2:
            t = t.reshape(1, -1, 1) if n == 3 else t.reshape(1, -1)
        elif t.ndim == 2 and n == 3:
            t = t.unsqueeze(-1)
        out.append(t)
    return out[0] if len(out) == 1 else tuple(out)


def _seq(op: str, tensors: Any) -> list:
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise op_error(op, "expects a non-empty sequence of tensors", TypeError)
    return [_t(t) for t in tensors]


def hstack(tensors: Sequence[Any]) -> Tensor:
    """Concatenate along dim 1 (dim 0 for 1-D inputs)."""
    ts = [atleast_1d(t) for t in _seq("hstack", tensors)]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    """Concatenate along dim 0 after making inputs at least 2-D."""
    return cat([atleast_2d(t) for t in _seq("vstack", tensors)], 0)


row_stack = vstack


def dstack(tensors: Sequence[Any]) -> Tensor:
    """Concatenate along dim 2 after making inputs at least 3-D."""
    return cat([atleast_3d(t) for t in _seq("dstack", tensors)], 2)


def column_stack(tensors: Sequence[Any]) -> Tensor:
    """1-D and 0-D inputs become columns; concatenate along dim 1."""
    ts = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in _seq("column_stack", tensors)]
    return cat(ts, 1)


def broadcast_tensors(*tensors: Any) -> tuple:
    """The inputs expanded to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [_t(t) for t in tensors]
    try:
        shape = _np.broadcast_shapes(*(tuple(t.shape) for t in ts))
    except ValueError:
        raise op_error("broadcast_tensors", "shapes " + ", ".join(str(tuple(t.shape)) for t in ts)
                       + " do not broadcast") from None
    return tuple(t.expand(*shape) for t in ts)


def broadcast_shapes(*shapes: Any) -> tuple:
    """The broadcast shape of the given shapes."""
    try:
        return tuple(_np.broadcast_shapes(*(tuple(s) if isinstance(s, (list, tuple)) else (s,)
                                            for s in shapes)))
    except ValueError:
        raise op_error("broadcast_shapes", f"shapes {shapes} do not broadcast") from None


def tensordot(a: Any, b: Any, dims: Any = 2) -> Tensor:
    """Sum over the last ``dims`` dims of ``a`` and the first of ``b`` (or over the listed
    pairs ``dims=([a dims], [b dims])``)."""
    a, b = _t(a), _t(b)
    if isinstance(dims, (int, _np.integer)):
        if dims < 0:
            raise op_error("tensordot", f"dims must be non-negative, got {dims}")
        da, db = list(builtins.range(a.ndim - dims, a.ndim)), list(builtins.range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da = [d % a.ndim for d in da]
    db = [d % b.ndim for d in db]
    if len(da) != len(db) or builtins.any(a.shape[i] != b.shape[j] for i, j in zip(da, db)):
        raise op_error("tensordot", f"contracted dims {da} of {tuple(a.shape)} and {db} of "
                       f"{tuple(b.shape)} do not match")
    fa = [i for i in builtins.range(a.ndim) if i not in da]
    fb = [j for j in builtins.range(b.ndim) if j not in db]
    k = int(_np.prod([a.shape[i] for i in da]))
    am = a.permute(*(fa + da)).reshape(-1, k)
    bm = b.permute(*(db + fb)).reshape(k, -1)
    return (am @ bm).reshape(*[a.shape[i] for i in fa], *[b.shape[j] for j in fb])


def block_diag(*tensors: Any) -> Tensor:
    """A block-diagonal matrix of the inputs (0-D and 1-D inputs count as one row)."""
    ts = [_t(t) for t in tensors]
    ts = [t.reshape(1, -1) if t.ndim < 2 else t for t in ts]
    if builtins.any(t.ndim != 2 for t in ts):
        raise op_error("block_diag", "inputs must have at most 2 dimensions")
    if not ts:
        return Tensor(_np.zeros((1, 0), dtype=_dt.get_default_dtype()))
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = _dt.promote_types(dt, t.dtype)
    total = builtins.sum(t.shape[1] for t in ts)
    rows, left = [], 0
    from .functional_api import pad

    for t in ts:
        c = t.shape[1]
        rows.append(pad(t.to(dt), (left, total - left - c)))
        left += c
    return cat(rows, 0)


def cartesian_prod(*tensors: Any) -> Tensor:
    """All combinations of the elements of 1-D inputs, one per row."""
    ts = [_t(t) for t in tensors]
    if len(ts) == 1:
        return ts[0]
    from .functional_api import meshgrid

    grids = meshgrid(*ts, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def combinations(input: Any, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of a 1-D tensor's elements, one per row."""
    x = _t(input)
    if x.ndim != 1:
        raise op_error("combinations", f"expects a 1-D tensor, got shape {tuple(x.shape)}")
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = _np.array(list(gen(builtins.range(x.shape[0]), r)), dtype=_np.int64).reshape(-1, r)
    if idx.shape[0] == 0:
        return x.new_zeros((0, r))
    return x[Tensor._make(idx, False)]


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None,
                 device: Any = None, layout: Any = None) -> Tensor:
    """``(2, N)`` row and column indices of the lower triangle of a ``row×col`` matrix."""
    r, c = _np.tril_indices(row, offset, col)
    return Tensor._make(_np.stack([r, c]).astype(_dt.to_dtype(dtype or _dt.int64)), False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None,
                 device: Any = None, layout: Any = None) -> Tensor:
    """``(2, N)`` row and column indices of the upper triangle of a ``row×col`` matrix."""
    r, c = _np.triu_indices(row, offset, col)
    return Tensor._make(_np.stack([r, c]).astype(_dt.to_dtype(dtype or _dt.int64)), False)


def bucketize(input: Any, boundaries: Any, *, out_int32: bool = False, right: bool = False,
              out: Tensor | None = None) -> Tensor:
    """For each value, the index of its bucket in the sorted 1-D ``boundaries``
    (``right=False``: ``boundaries[i-1] < v <= boundaries[i]``)."""
    b = _t(boundaries)
    if b.ndim != 1:
        raise op_error("bucketize", f"boundaries must be 1-D, got shape {tuple(b.shape)}")
    x = input.numpy() if isinstance(input, Tensor) else _np.asarray(input)
    r = _np.searchsorted(b.numpy(), x, side="right" if right else "left")
    res = Tensor._make(_np.asarray(r, dtype=_np.int32 if out_int32 else _np.int64), False)
    if out is not None:
        out.array[...] = res.array
        return out
    return res


def searchsorted(sorted_sequence: Any, input: Any, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter: Any = None) -> Tensor:
    """Insertion indices of ``input`` into ``sorted_sequence`` along its last dim (a 1-D
    sequence serves every value; otherwise leading dims must match)."""
    s = _t(sorted_sequence).numpy()
    x = input.numpy() if isinstance(input, Tensor) else _np.asarray(input)
    if side is not None:
        if side not in ("left", "right") or (right and side == "left"):
            raise op_error("searchsorted", f"side must be 'left' or 'right' (consistent with "
                           f"right={right}), got {side!r}")
        right = side == "right"
    if sorter is not None:
        srt = _t(sorter).numpy()
        s = _np.take_along_axis(s, srt, -1)
    how = "right" if right else "left"
    if s.ndim == 1:
        r = _np.searchsorted(s, x, side=how)
    else:
        if s.shape[:-1] != x.shape[:-1]:
            raise op_error("searchsorted", f"leading dims of sorted_sequence {s.shape} and "
                           f"input {x.shape} must match")
        s2, x2 = s.reshape(-1, s.shape[-1]), x.reshape(-1, x.shape[-1])
        r = _np.stack([_np.searchsorted(a, v, side=how) for a, v in zip(s2, x2)]).reshape(x.shape)
    return Tensor._make(_np.asarray(r, dtype=_np.int32 if out_int32 else _np.int64), False)


def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """True where an element of ``elements`` is in ``test_elements``."""
    a = elements.numpy() if isinstance(elements, Tensor) else _np.asarray(elements)
    b = test_elements.numpy() if isinstance(test_elements, Tensor) else _np.asarray(test_elements)
    return Tensor._make(_np.isin(a, b, invert=invert), False)


def unique(input: Any, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None) -> Any:
    """:meth:`Tensor.unique` of ``input``."""
    return _t(input).unique(sorted, return_inverse, return_counts, dim)


def chain_matmul(*matrices: Any) -> Tensor:
    """The product of the matrices, left to right."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise op_error("chain_matmul", "expects at least one matrix")
    out = _t(matrices[0])
    for m in matrices[1:]:
        out = out @ _t(m)
    return out


def frobenius_norm(input: Any, dim: Any = (-2, -1), keepdim: bool = False) -> Tensor:
    """``sqrt(Σ x²)`` over ``dim``."""
    return _t(input).norm(2, dim, keepdim)


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix: columns are powers of ``x`` (decreasing by default)."""
    x = _t(x)
    if x.ndim != 1:
        raise op_error("vander", f"expects a 1-D tensor, got shape {tuple(x.shape)}")
    n = x.shape[0] if N is None else N
    pw = builtins.range(n) if increasing else builtins.range(n - 1, -1, -1)
    cols = [x ** p if p else x * 0 + 1 for p in pw]
    return stack(cols, 1) if cols else x.new_zeros((x.shape[0], 0))


def trapezoid(y: Any, x: Any = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """The trapezoidal rule along ``dim`` (sample points ``x`` or spacing ``dx``)."""
    y = _t(y)
    n = y.shape[dim]
    if n == 0:
        return y.sum(dim) * 0
    a, b = y.narrow(dim, 1, n - 1), y.narrow(dim, 0, n - 1)
    if x is not None:
        xt = _t(x)
        d = xt.diff(dim=-1 if xt.ndim == 1 else dim)
        if xt.ndim == 1:
            shape = [1] * y.ndim
            shape[dim] = n - 1
            d = d.reshape(*shape)
        return ((a + b) * d).sum(dim) / 2
    return (a + b).sum(dim) * ((1.0 if dx is None else dx) / 2)


trapz = trapezoid


def cumulative_trapezoid(y: Any, x: Any = None, *, dx: float | None = None,
                         dim: int = -1) -> Tensor:
    """Running trapezoidal integral along ``dim`` (one element shorter)."""
    y = _t(y)
    n = y.shape[dim]
    a, b = y.narrow(dim, 1, n - 1), y.narrow(dim, 0, n - 1)
    if x is not None:
        xt = _t(x)
        d = xt.diff()
        if xt.ndim == 1:
            shape = [1] * y.ndim
            shape[dim] = n - 1
            d = d.reshape(*shape)
        return ((a + b) * d / 2).cumsum(dim)
    return ((a + b) * ((1.0 if dx is None else dx) / 2)).cumsum(dim)


def unravel_index(indices: Any, shape: Any) -> tuple:
    """Flat indices to a tuple of coordinate tensors for ``shape``."""
    idx = indices.numpy() if isinstance(indices, Tensor) else _np.asarray(indices)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    try:
        res = _np.unravel_index(idx, shape)
    except ValueError as err:
        raise op_error("unravel_index", str(err), IndexError) from None
    return tuple(Tensor._make(_np.asarray(r, dtype=_np.int64), False) for r in res)


# ---------------------------------------------------------------------------- creation
def range(start: float = 0, end: float | None = None, step: float = 1, *,  # noqa: A001
          dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` *inclusive* (deprecated in PyTorch; use
    :func:`arange`). Float (the default dtype) unless ``dtype`` is given."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise op_error("range", "step must be non-zero")
    n = int(math.floor((end - start) / step)) + 1
    vals = start + step * _np.arange(builtins.max(n, 0))
    return Tensor(vals.astype(_dt.to_dtype(dtype)), requires_grad=requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` values ``base ** linspace(start, end)``."""
    vals = _np.power(float(base), _np.linspace(start, end, steps))
    return Tensor(vals.astype(_dt.to_dtype(dtype)), requires_grad=requires_grad)


def scalar_tensor(s: Any, *, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
    """A 0-d tensor of the default float dtype (or ``dtype``)."""
    return Tensor(_np.asarray(s, dtype=_dt.to_dtype(dtype)), requires_grad=requires_grad)


def asarray(obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None,
            requires_grad: bool = False) -> Tensor:
    """A tensor from ``obj``; shares memory with a NumPy array or a tensor unless a copy
    is needed or ``copy=True``."""
    if isinstance(obj, Tensor):
        t = obj if dtype is None else obj.to(dtype)
        return t.clone() if copy else t
    from .creation import as_tensor

    if copy:
        return Tensor(_np.array(obj), dtype=dtype, requires_grad=requires_grad)
    t = as_tensor(obj, dtype=dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def empty_strided(size: Any, stride: Any, *, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False, **_: Any) -> Tensor:
    """An uninitialized (here: zero) tensor of ``size``; strides are NumPy's own."""
    return Tensor(_np.zeros(tuple(size), dtype=_dt.to_dtype(dtype)), requires_grad=requires_grad)


def randint_like(input: Any, low: int = 0, high: int | None = None, *, dtype: Any = None,
                 device: Any = None, requires_grad: bool = False) -> Tensor:
    """Random integers in ``[low, high)`` with ``input``'s shape (and dtype)."""
    from .creation import randint

    if high is None:
        low, high = 0, low
    t = _t(input)
    return randint(low, high, tuple(t.shape), dtype=dtype or t.dtype)


def _window(name: str, n: int, periodic: bool, dtype: Any, f: Callable) -> Tensor:
    if n < 0:
        raise op_error(name, f"window_length must be non-negative, got {n}")
    dt = _dt.to_dtype(dtype)
    if dt.kind != "f":
        raise op_error(name, f"expects a floating dtype, got {dt}", TypeError)
    if n == 0:
        return Tensor(_np.zeros(0, dtype=dt))
    if n == 1:
        return Tensor(_np.ones(1, dtype=dt))
    m = n + 1 if periodic else n
    return Tensor(f(m)[:n].astype(dt))


def hann_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                **_: Any) -> Tensor:
    """``½ − ½ cos(2πk/(N−1))`` (``N = window_length + 1`` when ``periodic``)."""
    return _window("hann_window", window_length, periodic, dtype, _np.hanning)


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype: Any = None, **_: Any) -> Tensor:
    """``α − β cos(2πk/(N−1))``."""
    def f(m: int) -> Any:
        return alpha - beta * _np.cos(2 * math.pi * _np.arange(m) / (m - 1))

    return _window("hamming_window", window_length, periodic, dtype, f)


def blackman_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                    **_: Any) -> Tensor:
    """``0.42 − 0.5 cos(2πk/(N−1)) + 0.08 cos(4πk/(N−1))``."""
    return _window("blackman_window", window_length, periodic, dtype, _np.blackman)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                    **_: Any) -> Tensor:
    """The triangular window ``1 − |2k/(N−1) − 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, _np.bartlett)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype: Any = None, **_: Any) -> Tensor:
    """``I₀(β√(1 − (2k/(N−1) − 1)²)) / I₀(β)``."""
    return _window("kaiser_window", window_length, periodic, dtype,
                   lambda m: _np.kaiser(m, beta))


# ---------------------------------------------------------------------------- dtypes
def promote_types(type1: Any, type2: Any) -> Any:
    """The dtype PyTorch's type promotion gives for two dtypes."""
    return _dt.promote_types(_dt.to_dtype(type1), _dt.to_dtype(type2))


def result_type(tensor1: Any, tensor2: Any) -> Any:
    """The dtype of a binary op on the two operands (tensors or Python numbers)."""
    def kind(v: Any) -> tuple:
        if isinstance(v, Tensor):
            return v.dtype, v.ndim
        if isinstance(v, bool):
            return _dt.bool, -1
        if isinstance(v, int):
            return _dt.int64, -1
        if isinstance(v, float):
            return _dt.get_default_dtype(), -1
        a = _np.asarray(v)
        return a.dtype, a.ndim

    (a, na), (b, nb) = kind(tensor1), kind(tensor2)
    if na == -1 and nb == -1:
        return _dt.promote_types(a, b)
    if na == -1 or nb == -1:  # a Python number counts like a 0-d tensor of its category
        return _dt.result_type(a, builtins.max(na, 0), b, builtins.max(nb, 0)) \
            if not (na == -1 and a == _dt.get_default_dtype() and b.kind == "f") and \
            not (nb == -1 and b == _dt.get_default_dtype() and a.kind == "f") else \
            (b if na == -1 else a)
    return _dt.result_type(a, na, b, nb)


_CAT = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def can_cast(from_: Any, to: Any) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` → ``to`` in type promotion (no
    float → integer, no non-bool → bool)."""
    f, t = _dt.to_dtype(from_), _dt.to_dtype(to)
    return _CAT[f.kind] <= _CAT[t.kind]


class finfo:
    """Machine limits of a floating dtype (``bits``, ``eps``, ``max``, ``min``, ``tiny``,
    ``smallest_normal``, ``resolution``, ``dtype``)."""

    def __init__(self, type: Any = None) -> None:  # noqa: A002
        d = _dt.to_dtype(type)
        if d.kind != "f":
            raise TypeError(f"finfo: expects a floating dtype, got {d}")
        i = _np.finfo(d)
        self.bits, self.eps, self.max, self.min = i.bits, float(i.eps), float(i.max), float(i.min)
        self.tiny = self.smallest_normal = float(i.smallest_normal)
        self.resolution = 10.0 ** -int(i.precision)
        self.dtype = str(d)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.smallest_normal}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype (``bits``, ``max``, ``min``, ``dtype``)."""

    def __init__(self, type: Any) -> None:  # noqa: A002
        d = _dt.to_dtype(type)
        if d.kind not in "iub":
            raise TypeError(f"iinfo: expects an integer dtype, got {d}")
        i = _np.iinfo(_np.uint8 if d.kind == "b" else d)
        self.bits, self.max, self.min, self.dtype = i.bits, int(i.max), int(i.min), str(d)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


class Size(tuple):
    """A shape: a tuple of ints with ``numel()``."""

    def __new__(cls, sizes: Any = ()) -> Size:
        return super().__new__(cls, (int(s) for s in sizes))

    def numel(self) -> int:
        return int(_np.prod(self, dtype=_np.int64)) if self else 1

    def __repr__(self) -> str:
        return f"glassgrad.Size({list(self)})"


# ---------------------------------------------------------------------------- settings
_THREADS = {"intra": None, "inter": 1}
_SETTINGS = {"matmul_precision": "highest", "deterministic": False, "warn_only": False,
             "warn_always": False, "debug_mode": 0}


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses (what ``torch.get_num_threads`` reports):
    read from the library when threadpoolctl can reach it (``glassgrad[fast]``), else the
    value given to :func:`set_num_threads`, else ``OMP_NUM_THREADS``, else the CPU count."""
    from .ops import _blas

    ctl = _blas.blas_controllers()
    if ctl:
        return int(ctl[0][0].num_threads)
    if _THREADS["intra"] is not None:
        return _THREADS["intra"]
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads, as ``torch.set_num_threads``: NumPy's BLAS is resized now when
    threadpoolctl can reach it (``glassgrad[fast]``; recurrent layers then split their
    rows into at most ``n`` blocks too, ``ops/_parallel.py``), and ``OMP_NUM_THREADS`` /
    ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` are exported for processes started
    afterwards (data-loader workers, ``spawn``). Without threadpoolctl a running process's
    BLAS keeps its pool (BLAS reads those variables when it starts)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    from .ops import _blas

    _THREADS["intra"] = n
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = str(n)
    for c, _ in _blas.blas_controllers():
        c.set_num_threads(n)


def get_num_interop_threads() -> int:
    """1: glassgrad runs ops one after another."""
    return _THREADS["inter"]


def set_num_interop_threads(n: int) -> None:
    """Accepted for compatibility (ops run one after another); recorded only."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_interop_threads: n must be a positive int, got {n!r}")
    _THREADS["inter"] = n


def init_num_threads() -> None:
    """No-op (threads are NumPy's BLAS's)."""


def get_float32_matmul_precision() -> str:
    return _SETTINGS["matmul_precision"]


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted for compatibility: NumPy's float32 matmul is always full precision."""
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: expects 'highest', 'high' or "
                         f"'medium', got {precision!r}")
    _SETTINGS["matmul_precision"] = precision


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Recorded only: every glassgrad op is deterministic on the CPU."""
    _SETTINGS["deterministic"], _SETTINGS["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _SETTINGS["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _SETTINGS["warn_only"]


def set_deterministic_debug_mode(debug_mode: Any) -> None:
    modes = {"default": 0, "warn": 1, "error": 2}
    _SETTINGS["debug_mode"] = modes.get(debug_mode, debug_mode)


def get_deterministic_debug_mode() -> int:
    return _SETTINGS["debug_mode"]


def set_warn_always(b: bool) -> None:
    _SETTINGS["warn_always"] = bool(b)


def is_warn_always_enabled() -> bool:
    return _SETTINGS["warn_always"]


def is_inference_mode_enabled() -> bool:
    """True inside ``gg.inference_mode()`` (which is ``no_grad``): gradients are off."""
    from .autograd.grad_mode import STATE

    return not STATE.grad_enabled


def is_anomaly_enabled() -> bool:
    from .autograd.anomaly import is_anomaly_enabled as f

    return f()


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    from .autograd.anomaly import set_detect_anomaly

    set_detect_anomaly(enabled)


def is_anomaly_check_nan_enabled() -> bool:
    return is_anomaly_enabled()


def initial_seed() -> int:
    """The seed of the default generator (set by ``manual_seed`` or ``seed``)."""
    s = default_generator.initial_seed()
    return 0 if s is None else int(s)


for _n in _METHODS + _BINARY:
    globals()[_n] = _make(_n, _n in _OUT)
for _n in _INPLACE_FNS:
    globals()[_n] = _inplace_fn(_n)
del _n

__all__ = sorted(set(_METHODS) | set(_BINARY) | set(_INPLACE_FNS) | {
    "pi", "e", "inf", "nan", "newaxis", "dtype", "uint16", "uint32", "uint64", "polygamma",
    "all", "any", "fill", "concat", "var_mean", "std_mean", "atleast_1d", "atleast_2d",
    "atleast_3d", "hstack", "vstack", "row_stack", "dstack", "column_stack",
    "broadcast_tensors", "broadcast_shapes", "tensordot", "block_diag", "cartesian_prod",
    "combinations", "tril_indices", "triu_indices", "bucketize", "searchsorted", "isin",
    "unique", "chain_matmul", "frobenius_norm", "vander", "trapezoid", "trapz",
    "cumulative_trapezoid", "unravel_index", "range", "logspace", "scalar_tensor", "asarray",
    "empty_strided", "randint_like", "hann_window", "hamming_window", "blackman_window",
    "bartlett_window", "kaiser_window", "promote_types", "result_type", "can_cast", "finfo",
    "iinfo", "Size", "set_printoptions", "get_num_threads", "set_num_threads",
    "get_num_interop_threads", "set_num_interop_threads", "init_num_threads",
    "get_float32_matmul_precision", "set_float32_matmul_precision",
    "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
    "get_deterministic_debug_mode", "set_warn_always", "is_warn_always_enabled",
    "is_inference_mode_enabled", "is_anomaly_enabled", "set_anomaly_enabled",
    "is_anomaly_check_nan_enabled", "initial_seed", "default_generator", "lu_unpack",
    "lu_solve"})
