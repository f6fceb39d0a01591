"""More of ``torch.Tensor``'s methods (a second mixin, as :mod:`glassgrad.tensor_methods.extra`):
special functions, bitwise and integer functions, NaN-aware reductions, order statistics
(median, mode, kthvalue, quantile) and small elementwise helpers.

Most are compositions of existing ops, so their gradients come from those ops. The order
statistics choose *which* element answers with NumPy (an index, no gradient) and then
read the value with ``gather``, so the gradient goes to the chosen element as in PyTorch.
The special functions are ops of :mod:`glassgrad.ops.special`.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections import namedtuple
from typing import Any, Callable

from .. import dtypes as _dt
from ..backend import np, to_numpy, xp_of
from ..ops import special as S
from ..ops._util import norm_axis, norm_dim, op_error
from ._common import _cast_method
from .extra import _make_inplace

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
MinMaxPair = namedtuple("MinMaxPair", ["min", "max"])
MantissaExponent = namedtuple("MantissaExponent", ["mantissa", "exponent"])


def _T() -> type:
    from ..tensor import Tensor

    return Tensor


def _wrap(arr: Any) -> Any:
    return _T()._make(arr, False)


def _np(x: Any) -> np.ndarray:
    return to_numpy(x.array) if isinstance(x, _T()) else np.asarray(x)


def _const(like: Any, arr: Any) -> Any:
    """A constant tensor (no gradient) on ``like``'s device."""
    xp = xp_of(like.array)
    return _wrap(xp.asarray(arr) if xp is not np else np.asarray(arr))


def _pick_along(x: Any, op: str, dim: int, keepdim: bool, choose: Callable) -> Any:
    """``(values, indices)``: ``choose`` maps an array ``(..., n)`` (``dim`` moved last) to
    the chosen index per row; the value is read with ``gather`` (its gradient)."""
    if x.ndim == 0:
        norm_dim(dim, 0, op)
        return ValuesIndices(x.clone(), _wrap(np.zeros((), dtype=np.int64)))
    d = norm_dim(dim, x.ndim, op)
    if x.shape[d] == 0:
        raise op_error(op, f"cannot compute on an empty dimension {d} of shape {tuple(x.shape)}",
                       IndexError)
    a = np.moveaxis(_np(x), d, -1)
    idx = np.asarray(choose(a), dtype=np.int64)
    idx_k = np.expand_dims(idx, d)
    vals = x.gather(d, _const(x, idx_k))
    if not keepdim:
        vals = vals.squeeze(d)
        return ValuesIndices(vals, _const(x, idx))
    return ValuesIndices(vals, _const(x, idx_k))


def _median_choose(a: np.ndarray, skip_nan: bool) -> np.ndarray:
    order = np.argsort(a, axis=-1, kind="stable")  # NaN last
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, dtype=bool)
    if skip_nan:
        m = (~nan).sum(-1)
        pos = np.maximum((m - 1) // 2, 0)
        return np.take_along_axis(order, pos[..., None], -1)[..., 0]
    idx = order[..., (a.shape[-1] - 1) // 2]
    return np.where(nan.any(-1), np.argmax(nan, axis=-1), idx)


def _mode_choose(a: np.ndarray) -> np.ndarray:
    rows = a.reshape(-1, a.shape[-1])
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        vals, counts = np.unique(row, return_counts=True)
        v = vals[int(np.argmax(counts))]  # the smallest of the most frequent
        hit = np.flatnonzero((row == v) | (np.isnan(row) & np.isnan(v)))
        out[r] = hit[-1]
    return out.reshape(a.shape[:-1])


_INTERP = ("linear", "lower", "higher", "midpoint", "nearest")


class TensorExtras2:
    """Special functions, bitwise ops, order statistics, NaN reductions (mixin)."""

    __slots__ = ()

    # ------------------------------------------------------------------ special functions
    def lgamma(self) -> Any:
        """``ln|Γ(x)|``; gradient ``ψ(x)`` (digamma)."""
        return S.Lgamma.apply(self._f())

    def digamma(self) -> Any:
        """``ψ(x) = Γ'(x)/Γ(x)`` (``-inf`` at 0, NaN at the negative integers)."""
        return S.Digamma.apply(self._f())

    psi = digamma

    def polygamma(self, n: int) -> Any:
        """``ψ⁽ⁿ⁾(x)``, the ``n``-th derivative of digamma (``n ≥ 0``)."""
        if isinstance(n, builtins.bool) or not isinstance(n, (builtins.int, np.integer)) or n < 0:
            raise op_error("polygamma", f"n must be a non-negative integer, got {n!r}")
        return S.Polygamma.apply(self._f(), builtins.int(n))

    def mvlgamma(self, p: int) -> Any:
        """Multivariate log-gamma ``Σᵢ lgamma(x − i/2) + p(p−1)/4 · ln π`` (``i < p``);
        every element must exceed ``(p − 1)/2``."""
        if not isinstance(p, (builtins.int, np.integer)) or p < 1:
            raise op_error("mvlgamma", f"p must be a positive integer, got {p!r}")
        x = self._f()
        if x.numel() and not bool(np.all(_np(x) > (p - 1) / 2)):
            raise op_error("mvlgamma", f"all elements must be greater than (p-1)/2 = "
                           f"{(p - 1) / 2}")
        out = x.lgamma()
        for i in range(1, p):
            out = out + (x - i / 2).lgamma()
        return out + p * (p - 1) / 4 * math.log(math.pi)

    def erfc(self) -> Any:
        """``1 − erf(x)``, accurate where ``erf(x)`` is close to 1."""
        return S.Erfc.apply(self._f())

    def erfinv(self) -> Any:
        """The inverse of ``erf`` (±inf at ±1, NaN outside ``[−1, 1]``)."""
        return S.Erfinv.apply(self._f())

    def i0(self) -> Any:
        """The modified Bessel function ``I₀``; gradient ``I₁``."""
        return S.I0.apply(self._f())

    def sinc(self) -> Any:
        """Normalized ``sin(πx)/(πx)``, 1 at 0 (gradient 0 there)."""
        x = self._f()
        zero = x == 0
        safe = x.masked_fill(zero, 1.0) * math.pi
        return (safe.sin() / safe).masked_fill(zero, 1.0)

    def logit(self, eps: float | None = None) -> Any:
        """``ln(x / (1 − x))``; with ``eps`` the input is clamped to ``[eps, 1 − eps]``."""
        x = self._f()
        if eps is not None:
            x = x.clamp(eps, 1 - eps)
        return (x / (1 - x)).log()

    def xlogy(self, other: Any) -> Any:
        """``x · ln(y)``, 0 where ``x == 0`` (unless ``y`` is NaN)."""
        T = _T()
        o = other if isinstance(other, T) else self._other_t(other)
        dt = _dt.promote_types(self.dtype, o.dtype)
        if dt.kind != "f":
            dt = _dt.get_default_dtype()
        x, y = self.to(dt), o.to(dt)
        # 0 where x == 0 (log y may be -inf or NaN there); as PyTorch, the gradient for x
        # is log y elsewhere, also where x == 0 < y
        ya = y.array
        zero = (x == 0) & _wrap((ya <= 0) | (ya == np.inf))
        return x * y.masked_fill(zero, 1.0).log()

    # ------------------------------------------------------------------ elementwise helpers
    def nan_to_num(self, nan: float = 0.0, posinf: float | None = None,
                   neginf: float | None = None) -> Any:
        """NaN → ``nan``, +inf → ``posinf`` (largest finite by default), −inf → ``neginf``;
        gradient passes where the input is finite."""
        if self.dtype.kind != "f":
            return self.clone()
        fi = np.finfo(self.dtype)
        hi = fi.max if posinf is None else posinf
        lo = fi.min if neginf is None else neginf
        a = self.array
        return self.masked_fill(_wrap(xp_of(a).isnan(a)), nan).masked_fill(
            _wrap(a == np.inf), hi).masked_fill(_wrap(a == -np.inf), lo)

    def signbit(self) -> Any:
        """True where the sign bit is set (``-0.0`` included)."""
        return _wrap(xp_of(self.array).signbit(self.array))

    def isposinf(self) -> Any:
        return _wrap(self.array == np.inf) if self.dtype.kind == "f" else \
            _wrap(xp_of(self.array).zeros(self.shape, dtype=bool))

    def isneginf(self) -> Any:
        return _wrap(self.array == -np.inf) if self.dtype.kind == "f" else \
            _wrap(xp_of(self.array).zeros(self.shape, dtype=bool))

    def isreal(self) -> Any:
        """All true: glassgrad tensors are real."""
        return _wrap(xp_of(self.array).ones(self.shape, dtype=bool))

    def _float_pair(self, op: str, other: Any) -> tuple:
        T = _T()
        o = other if isinstance(other, T) else self._other_t(other)
        dt = _dt.result_type(self.dtype, self.ndim, o.dtype, o.ndim)
        if dt.kind != "f":
            dt = _dt.get_default_dtype()
        return self.to(dt), o.to(dt)

    def copysign(self, other: Any) -> Any:
        """``|x|`` with the sign of ``other`` (gradient 0 for ``other``)."""
        x, o = self._float_pair("copysign", other)
        neg = _wrap(xp_of(o.array).signbit(o.array))
        a = x.abs()
        out = a.masked_fill(neg, 0.0) - a.masked_fill(~neg, 0.0)
        if o.requires_grad:  # PyTorch gives `other` a zero gradient (not none)
            out = out + o.masked_fill(_wrap(xp_of(o.array).ones(o.shape, dtype=bool)), 0.0)
        return out

    def fmax(self, other: Any) -> Any:
        """Elementwise maximum that ignores NaN (NaN only where both are)."""
        return self._fext(other, operator.ge)

    def fmin(self, other: Any) -> Any:
        """Elementwise minimum that ignores NaN (NaN only where both are)."""
        return self._fext(other, operator.le)

    def _fext(self, other: Any, better: Callable) -> Any:
        T = _T()
        o = other if isinstance(other, T) else self._other_t(other)
        dt = _dt.result_type(self.dtype, self.ndim, o.dtype, o.ndim)
        a, b = self.to(dt), o.to(dt)
        xa, xb = a.array, b.array
        take_a = better(xa, xb)
        if dt.kind == "f":
            take_a = take_a | xp_of(xb).isnan(xb)
        from ._common import where

        return where(_wrap(take_a), a, b)

    def heaviside(self, values: Any) -> Any:
        """0 where ``x < 0``, ``values`` where ``x == 0``, 1 where ``x > 0`` (no gradient)."""
        T = _T()
        v = values if isinstance(values, T) else self._other_t(values)
        if v.dtype != self.dtype:
            raise op_error("heaviside", f"input ({self.dtype}) and values ({v.dtype}) must "
                           "have the same dtype", TypeError)
        a = self.array
        xp = xp_of(a)
        out = xp.where(a == 0, v.array, (a > 0).astype(self.dtype))
        return _wrap(xp.asarray(out, dtype=self.dtype))

    def float_power(self, exponent: Any) -> Any:
        """``x ** exponent`` computed in float64 (the result is float64)."""
        T = _T()
        e = exponent.double() if isinstance(exponent, T) else exponent
        return self.double() ** e

    def float_power_(self, exponent: Any) -> Any:
        if self.dtype != _dt.float64:
            raise op_error("float_power_", f"the base must be float64 for the in-place "
                           f"version, got {self.dtype}", RuntimeError)
        other = exponent if isinstance(exponent, _T()) else None
        return self._inplace_from("float_power_", lambda: self.float_power(exponent), other)

    def ldexp(self, other: Any) -> Any:
        """``x · 2**other``."""
        T = _T()
        o = other if isinstance(other, T) else self._other_t(other)
        x = self._f()
        return x * (2.0 ** o.to(x.dtype) if o.dtype.kind != "f" else 2.0 ** o)

    def frexp(self) -> Any:
        """``(mantissa, exponent)`` with ``x = mantissa · 2**exponent``, ``|mantissa|`` in
        ``[0.5, 1)``; exponent int32 (no gradient)."""
        if self.dtype.kind != "f":
            raise op_error("frexp", f"expects a floating tensor, got {self.dtype}", TypeError)
        m, e = xp_of(self.array).frexp(self.array)
        return MantissaExponent(_wrap(m), _wrap(e.astype(np.int32)))

    def logaddexp2(self, other: Any) -> Any:
        """``log2(2**x + 2**y)`` without overflow."""
        x, o = self._float_pair("logaddexp2", other)
        ln2 = math.log(2.0)
        return (x * ln2).logaddexp(o * ln2) / ln2

    def nextafter(self, other: Any) -> Any:
        """The next float after ``x`` towards ``other`` (no gradient)."""
        x, o = self._float_pair("nextafter", other)
        return _wrap(xp_of(x.array).nextafter(x.array, o.array))

    def hardshrink(self, lambd: float = 0.5) -> Any:
        """``x`` where ``|x| > lambd``, else 0."""
        return self.masked_fill(self.abs() <= lambd, 0.0)

    # ------------------------------------------------------------------ integer / bitwise
    def bitwise_left_shift(self, other: Any) -> Any:
        return self._int_binary("bitwise_left_shift", other, operator.lshift, False)

    def bitwise_right_shift(self, other: Any) -> Any:
        return self._int_binary("bitwise_right_shift", other, operator.rshift, False)

    __lshift__, __rshift__ = bitwise_left_shift, bitwise_right_shift

    def bitwise_not(self) -> Any:
        if self.dtype.kind not in "biu":
            raise op_error("bitwise_not", f"needs a bool or integer tensor, got {self.dtype}",
                           TypeError)
        return _wrap(~self.array)

    def gcd(self, other: Any) -> Any:
        """Greatest common divisor (non-negative), elementwise."""
        return self._int_binary("gcd", other, lambda a, b: xp_of(a).gcd(a, b), False)

    def lcm(self, other: Any) -> Any:
        """Least common multiple (non-negative), elementwise."""
        return self._int_binary("lcm", other, lambda a, b: xp_of(a).lcm(a, b), False)

    byte = _cast_method("byte", _dt.uint8, "TensorExtras2")
    char = _cast_method("char", _dt.int8, "TensorExtras2")
    short = _cast_method("short", _dt.int16, "TensorExtras2")

    # ------------------------------------------------------------------ small queries
    def is_nonzero(self) -> builtins.bool:
        """The truth value of a one-element tensor."""
        if self.numel() != 1:
            raise op_error("is_nonzero", f"a tensor with {self.numel()} elements has no "
                           "single truth value", RuntimeError)
        return builtins.bool(self.array.reshape(()).item())

    def is_inference(self) -> builtins.bool:
        """False: glassgrad has no inference tensors (``inference_mode`` is ``no_grad``)."""
        return False

    @property
    def output_nr(self) -> int:
        """Which output of the op that made this tensor it is (0 for single outputs)."""
        return self._out_idx

    def dim_order(self) -> tuple:
        """The dimensions from outermost to innermost in memory (by stride)."""
        st = self.stride()
        return tuple(sorted(range(self.ndim), key=lambda i: -st[i]))

    # ------------------------------------------------------------------ NaN-aware reductions
    def nansum(self, dim: Any = None, keepdim: builtins.bool = False, *, dtype: Any = None) -> Any:
        """Sum treating NaN as 0."""
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind == "f":
            x = x.masked_fill(x.isnan(), 0.0)
        return x.sum(dim, keepdim)

    def nanmean(self, dim: Any = None, keepdim: builtins.bool = False, *,
                dtype: Any = None) -> Any:
        """Mean over the non-NaN elements (NaN where there are none)."""
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind != "f":
            raise op_error("nanmean", f"expects a floating tensor, got {x.dtype}; "
                           "pass dtype=...", TypeError)
        ok = ~x.isnan()
        return x.nansum(dim, keepdim) / ok.sum(dim, keepdim).to(x.dtype)

    def aminmax(self, *, dim: Any = None, keepdim: builtins.bool = False) -> Any:
        """``(min, max)`` over ``dim`` (everything by default)."""
        return MinMaxPair(self.amin(dim, keepdim), self.amax(dim, keepdim))

    # ------------------------------------------------------------------ order statistics
    def _global_pick(self, op: str, skip_nan: bool) -> Any:
        if self.numel() == 0:
            return _wrap(xp_of(self.array).full((), np.nan, dtype=self.dtype))
        a = _np(self).reshape(-1)
        i = builtins.int(_median_choose(a, skip_nan))
        v = a[i]
        if a.dtype.kind == "f" and np.isnan(v):
            mask = np.isnan(_np(self))
        else:
            mask = _np(self) == v
        # PyTorch spreads the gradient evenly over the elements equal to the result
        if self.dtype.kind != "f" or not self.requires_grad:
            return _wrap(xp_of(self.array).asarray(self.array.reshape(-1)[i]))
        # PyTorch spreads the gradient evenly over the elements equal to the result: a
        # term that is exactly 0 in value carries that gradient
        w = _const(self, (mask / mask.sum()).astype(self.dtype))
        spread = (self - self.detach()).masked_fill(_const(self, ~mask), 0.0) * w
        return spread.sum() + _const(self, np.asarray(v, dtype=self.dtype))

    def median(self, dim: Any = None, keepdim: builtins.bool = False) -> Any:
        """The lower median. Without ``dim``: a value (NaN if any is NaN). With ``dim``:
        ``(values, indices)``."""
        if dim is None:
            return self._global_pick("median", False)
        return _pick_along(self, "median", dim, keepdim, lambda a: _median_choose(a, False))

    def nanmedian(self, dim: Any = None, keepdim: builtins.bool = False) -> Any:
        """:meth:`median` ignoring NaN."""
        if dim is None:
            return self._global_pick("nanmedian", True)
        return _pick_along(self, "nanmedian", dim, keepdim, lambda a: _median_choose(a, True))

    def kthvalue(self, k: int, dim: int = -1, keepdim: builtins.bool = False) -> Any:
        """``(values, indices)`` of the ``k``-th smallest element along ``dim`` (1-based)."""
        n = self.shape[norm_dim(dim, self.ndim, "kthvalue")] if self.ndim else 1
        if not 1 <= k <= n:
            raise op_error("kthvalue", f"k ({k}) must be between 1 and the size {n} of dim "
                           f"{dim}", IndexError)
        return _pick_along(self, "kthvalue", dim, keepdim,
                           lambda a: np.argsort(a, axis=-1, kind="stable")[..., k - 1])

    def mode(self, dim: int = -1, keepdim: builtins.bool = False) -> Any:
        """``(values, indices)``: the most frequent value along ``dim`` (the smallest of
        ties) and the index of its last occurrence."""
        return _pick_along(self, "mode", dim, keepdim, _mode_choose)

    def msort(self) -> Any:
        """Sorted along the first dimension."""
        return self.sort(dim=0).values

    def quantile(self, q: Any, dim: Any = None, keepdim: builtins.bool = False, *,
                 interpolation: str = "linear") -> Any:
        """The ``q``-quantiles along ``dim`` (of all elements by default); NaN if a NaN is
        in the slice. A 1-D ``q`` adds a leading dimension."""
        return self._quantile("quantile", q, dim, keepdim, interpolation, False)

    def nanquantile(self, q: Any, dim: Any = None, keepdim: builtins.bool = False, *,
                    interpolation: str = "linear") -> Any:
        """:meth:`quantile` ignoring NaN."""
        return self._quantile("nanquantile", q, dim, keepdim, interpolation, True)

    def _quantile(self, op: str, q: Any, dim: Any, keepdim: builtins.bool, interpolation: str,
                  skip_nan: builtins.bool) -> Any:
        T = _T()
        if self.dtype.kind != "f":
            raise op_error(op, f"expects a floating tensor, got {self.dtype}", TypeError)
        if interpolation not in _INTERP:
            raise op_error(op, f"interpolation must be one of {', '.join(_INTERP)}, got "
                           f"{interpolation!r}")
        qa = np.asarray(_np(q) if isinstance(q, T) else q, dtype=np.float64)
        if isinstance(q, T) and q.dtype != self.dtype:
            raise op_error(op, f"q ({q.dtype}) must have the input's dtype {self.dtype}",
                           TypeError)
        if qa.ndim > 1:
            raise op_error(op, f"q must be a scalar or 1-D, got shape {qa.shape}")
        if np.any((qa < 0) | (qa > 1)):
            raise op_error(op, "q values must be in the range [0, 1]")
        if dim is None:
            x, d = self.reshape(-1), 0
            out_shape = (1,) * self.ndim if keepdim else ()
        else:
            d = norm_dim(dim, self.ndim, op)
            x = self if self.ndim else self.reshape(1)
            out_shape = tuple(1 if i == d else s for i, s in enumerate(self.shape)) if keepdim \
                else tuple(s for i, s in enumerate(self.shape) if i != d)
        if x.shape[d] == 0:
            raise op_error(op, "cannot compute on an empty tensor", IndexError)
        xs = x.movedim(d, -1).sort(dim=-1).values  # NaN last
        a = _np(xs)
        n = a.shape[-1]
        nan = np.isnan(a)
        m = (~nan).sum(-1, keepdims=True) if skip_nan else np.full(a.shape[:-1] + (1,), n)
        res = []
        for qi in qa.reshape(-1):
            rank = qi * (m - 1)
            if not skip_nan:
                rank = np.where(nan.any(-1, keepdims=True), n - 1, rank)
            rank = np.maximum(rank, 0)
            if interpolation == "nearest":
                rank = np.round(rank)
            lo = np.floor(rank).astype(np.int64)
            hi = np.ceil(rank).astype(np.int64)
            vlo = xs.gather(-1, _const(x, lo))
            vhi = xs.gather(-1, _const(x, hi))
            if interpolation in ("lower", "nearest"):
                r = vlo
            elif interpolation == "higher":
                r = vhi
            elif interpolation == "midpoint":
                r = (vlo + vhi) * 0.5
            else:
                w = _const(x, (rank - lo).astype(self.dtype))
                r = vlo.lerp(vhi, w)
            res.append(r.reshape(out_shape))
        if qa.ndim == 0:
            return res[0]
        from ..tensor import stack

        return stack(res, 0) if res else self.new_zeros((0,) + out_shape)


class TensorExtras2b:
    """LU, index_reduce, histogram, sampling and other small methods (mixin)."""

    __slots__ = ()

    def lu(self, pivot: builtins.bool = True, get_infos: builtins.bool = False) -> Any:
        """``(LU, pivots)`` (``get_infos``: and a zero ``infos`` tensor, or the 1-based
        index of the first zero pivot)."""
        from .._lu import lu_factor

        a, p = lu_factor(self, pivot)
        if not get_infos:
            return a, p
        d = np.abs(_np(a).diagonal(0, -2, -1)) == 0
        info = np.where(d.any(-1), np.argmax(d, -1) + 1, 0).astype(np.int32)
        return a, p, _wrap(info)

    def lu_solve(self, LU_data: Any, LU_pivots: Any) -> Any:
        """``X`` with ``A X = self`` given ``A``'s :meth:`lu` factorization."""
        from .._lu import lu_solve

        return lu_solve(self, LU_data, LU_pivots)

    def renorm_(self, p: float, dim: int, maxnorm: float) -> Any:
        return self._inplace_from("renorm_", lambda: self.renorm(p, dim, maxnorm))

    def put(self, index: Any, source: Any, accumulate: builtins.bool = False) -> Any:
        """Out-of-place :meth:`put_`."""
        out = self.clone()
        return out.put_(index, source, accumulate)

    def index_reduce(self, dim: int, index: Any, source: Any, reduce: str, *,
                     include_self: builtins.bool = True) -> Any:
        """``scatter_reduce`` of whole slices: slice ``i`` of ``source`` along ``dim`` goes
        to slice ``index[i]`` (``reduce``: ``'prod'``, ``'mean'``, ``'amax'``, ``'amin'``)."""
        if reduce not in ("prod", "mean", "amax", "amin"):
            raise op_error("index_reduce", f"reduce must be 'prod', 'mean', 'amax' or 'amin', "
                           f"got {reduce!r}")
        d = norm_dim(dim, self.ndim, "index_reduce")
        idx = _np(index)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise op_error("index_reduce", "index must be a 1-D integer tensor", TypeError)
        src = source if isinstance(source, _T()) else self._other_t(source)
        shape = [1] * src.ndim
        shape[d] = -1
        full = np.broadcast_to(idx.reshape(shape), tuple(src.shape)).copy()
        return self.scatter_reduce(d, _const(self, full), src, reduce, include_self=include_self)

    def index_reduce_(self, dim: int, index: Any, source: Any, reduce: str, *,
                      include_self: builtins.bool = True) -> Any:
        return self._inplace_from("index_reduce_", lambda: self.index_reduce(
            dim, index, source, reduce, include_self=include_self), source)

    def new_empty_strided(self, size: Any, stride: Any, *, dtype: Any = None, **_: Any) -> Any:
        """A new (zero-filled) tensor of ``size``; NumPy chooses the strides."""
        return _wrap(xp_of(self.array).zeros(tuple(size), dtype=_dt.to_dtype(dtype or self.dtype)))

    def histogram(self, bins: Any = 100, *, range: Any = None, weight: Any = None,  # noqa: A002
                  density: builtins.bool = False) -> Any:
        """``(hist, bin_edges)``: ``bins`` equal bins over ``range`` (the data's by
        default) or the given bin edges. No gradient."""
        a = _np(self).reshape(-1)
        b = _np(bins) if isinstance(bins, _T()) else bins
        w = None if weight is None else _np(weight).reshape(-1)
        h, edges = np.histogram(a, bins=b, range=range, weights=w, density=density)
        HE = namedtuple("histogram", ["hist", "bin_edges"])
        return HE(_const(self, h.astype(self.dtype)), _const(self, edges.astype(self.dtype)))

    def nonzero_static(self, *, size: int, fill_value: int = -1) -> Any:
        """:meth:`nonzero` padded (with ``fill_value``) or cut to exactly ``size`` rows."""
        nz = np.argwhere(_np(self))
        out = np.full((size, self.ndim), fill_value, dtype=np.int64)
        k = builtins.min(size, nz.shape[0])
        out[:k] = nz[:k]
        return _const(self, out)

    def prelu(self, weight: Any) -> Any:
        """``max(0, x) + weight · min(0, x)`` with one weight per channel (dim 1) or one
        shared weight."""
        w = weight if isinstance(weight, _T()) else self._other_t(weight)
        if w.numel() != 1 and (self.ndim < 2 or w.numel() != self.shape[1]):
            raise op_error("prelu", f"weight has {w.numel()} elements; expected 1 or the "
                           f"number of channels {self.shape[1] if self.ndim > 1 else 1}")
        if w.numel() != 1:
            w = w.reshape(-1, *([1] * (self.ndim - 2)))
        else:
            w = w.reshape(())
        return self.clamp_min(0) + (self.clamp_max(0) * w)


_INPLACE2 = ("lgamma digamma polygamma mvlgamma erfc erfinv i0 sinc logit xlogy nan_to_num "
             "copysign heaviside ldexp nextafter bitwise_and bitwise_or bitwise_xor bitwise_not "
             "bitwise_left_shift bitwise_right_shift gcd lcm arctan2 hardshrink").split()

for _name in _INPLACE2:
    setattr(TensorExtras2, _name + "_", _make_inplace(_name, "TensorExtras2"))
del _name

__all__ = ["TensorExtras2", "TensorExtras2b", "norm_axis"]
