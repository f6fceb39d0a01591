"""The pointwise methods of :class:`~glassgrad.tensor.Tensor` (a mixin): exponentials and
logarithms, roots, trigonometric and hyperbolic functions, activations (``relu``, ``gelu``,
``softplus``, ...), rounding, ``clamp``, ``maximum``/``minimum``, ``pow``, ``isnan``/``isinf``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import dtypes as _dt
from ..backend import is_array, np, xp_of
from ..ops import elementwise as E
from ..ops import extra as X
from ..ops import trig as TG
from ..ops._util import dim_int, op_error
from ..ops.rounding import Rounded
from ._common import _T, _no_dtype, _PyFloat, where

if TYPE_CHECKING:
    from ..tensor import Tensor


class PointwiseMethods:
    """The pointwise methods of ``Tensor`` (a mixin; see the module docstring)."""

    __slots__ = ()

    def isnan(self) -> Tensor:
        return _T()._make(xp_of(self.array).isnan(self.array), False)

    def isinf(self) -> Tensor:
        return _T()._make(xp_of(self.array).isinf(self.array), False)

    def isfinite(self) -> Tensor:
        return _T()._make(xp_of(self.array).isfinite(self.array), False)

    # ------------------------------------------------------------------ pointwise
    def exp(self) -> Tensor:
        return E.Exp.apply(self._f())

    def log(self) -> Tensor:
        return E.Log.apply(self._f())

    def log1p(self) -> Tensor:
        return E.Log1p.apply(self._f())

    def sqrt(self) -> Tensor:
        return E.Sqrt.apply(self._f())

    def rsqrt(self) -> Tensor:
        return self.sqrt().reciprocal()

    def abs(self) -> Tensor:
        _no_dtype(self, "abs", "b", "a bool has no sign")
        if self.dtype.kind != "f":
            return _T()._make(abs(self.array), False)
        return E.Abs.apply(self)

    def sin(self) -> Tensor:
        return TG.Sin.apply(self._f())

    def cos(self) -> Tensor:
        return TG.Cos.apply(self._f())

    def tanh(self) -> Tensor:
        return TG.Tanh.apply(self._f())

    def sigmoid(self) -> Tensor:
        return E.Sigmoid.apply(self._f())

    def relu(self) -> Tensor:
        _no_dtype(self, "relu", "b", "use .to(dtype) first")
        return E.Relu.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return E.LeakyRelu.apply(self, negative_slope)

    def elu(self, alpha: float = 1.0) -> Tensor:
        return E.Elu.apply(self, alpha)

    def gelu(self, approximate: str = "none") -> Tensor:
        if approximate not in ("none", "tanh"):
            raise op_error("gelu", f"approximate must be 'none' or 'tanh', got {approximate!r}")
        return E.Gelu.apply(self, approximate)

    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        return E.Softplus.apply(self, beta, threshold)

    def erf(self) -> Tensor:
        return E.Erf.apply(self._f())

    def expm1(self) -> Tensor:
        return E.Expm1.apply(self._f())

    def exp2(self) -> Tensor:
        return E.Exp2.apply(self._f())

    def log2(self) -> Tensor:
        return E.LogBase.apply(self._f(), 2)

    def log10(self) -> Tensor:
        return E.LogBase.apply(self._f(), 10)

    def tan(self) -> Tensor:
        return TG.Tan.apply(self._f())

    def sinh(self) -> Tensor:
        return TG.Sinh.apply(self._f())

    def cosh(self) -> Tensor:
        return TG.Cosh.apply(self._f())

    def asin(self) -> Tensor:
        return TG.Asin.apply(self._f())

    def acos(self) -> Tensor:
        return TG.Acos.apply(self._f())

    def atan(self) -> Tensor:
        return TG.Atan.apply(self._f())

    def asinh(self) -> Tensor:
        return X.Asinh.apply(self._f())

    def acosh(self) -> Tensor:
        return X.Acosh.apply(self._f())

    def atanh(self) -> Tensor:
        return X.Atanh.apply(self._f())

    arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh

    def atan2(self, other: Any) -> Tensor:
        """Angle of the point ``(other, self)``, i.e. ``atan2(y=self, x=other)``."""
        a, b = self._f()._operands(self._other_t(other))
        return TG.Atan2.apply(a, b)

    arctan2 = atan2

    def hypot(self, other: Any) -> Tensor:
        a, b = self._f()._operands(self._other_t(other))
        return TG.Hypot.apply(a, b)

    def logaddexp(self, other: Any) -> Tensor:
        a, b = self._f()._operands(self._other_t(other))
        return E.LogAddExp.apply(a, b)

    def fmod(self, other: Any) -> Tensor:
        """``a − b·trunc(a/b)``: the remainder with the sign of ``self`` (C's ``fmod``)."""
        a, b = self._operands(self._other_t(other))
        return E.Fmod.apply(a, b, False)

    def remainder(self, other: Any) -> Tensor:
        """``a − b·floor(a/b)``: the remainder with the sign of ``other`` (Python's ``%``)."""
        a, b = self._operands(self._other_t(other))
        return E.Fmod.apply(a, b, True)

    def _rounded(self, fn: str, *args: Any) -> Tensor:
        """Rounding is piecewise constant: derivative 0 almost everywhere (a zero gradient,
        as PyTorch)."""
        if fn != "sign":
            _no_dtype(self, fn, "b", "use .to(dtype) first")
        return Rounded.apply(self, fn, *args)

    def floor(self) -> Tensor:
        return self._rounded("floor")

    def ceil(self) -> Tensor:
        return self._rounded("ceil")

    def trunc(self) -> Tensor:
        return self._rounded("trunc")

    fix = trunc

    def round(self, decimals: int = 0) -> Tensor:
        """Round half to even (as PyTorch and NumPy), to ``decimals`` places."""
        return self._rounded("round", dim_int(decimals, "round", "decimals"))

    def frac(self) -> Tensor:
        """``x − trunc(x)`` (gradient 1)."""
        return self - self.trunc()

    def sign(self) -> Tensor:
        if self.dtype.kind == "b":  # sign of a bool is itself (as PyTorch)
            return _T()._make(self.array.copy(), False)
        return self._rounded("sign")

    def square(self) -> Tensor:
        x = self.to(_dt.int64) if self.array.dtype.kind == "b" else self  # bool -> int64 (torch)
        return x * x

    def reciprocal(self) -> Tensor:
        return E.RDiv.apply(self._f(), 1.0)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        if min is None and max is None:
            raise op_error("clamp", "at least one of min and max must be given")
        lo = min.item() if isinstance(min, np.generic) else min
        hi = max.item() if isinstance(max, np.generic) else max
        if isinstance(lo, _T()) or isinstance(hi, _T()) or is_array(lo) or is_array(hi):
            # tensor bounds (broadcast, and differentiable): x below lo -> lo, then above hi -> hi
            out = self
            if lo is not None:
                lo_t = self._other_t(lo)
                out = where(self.array < lo_t.array, lo_t, out)
            if hi is not None:
                hi_t = self._other_t(hi)
                out = where(out.array > hi_t.array, hi_t, out)
            return out
        if self.array.dtype.kind in "biu" and (isinstance(lo, _PyFloat) or isinstance(hi, _PyFloat)):
            return E.Clamp.apply(self.to(_dt.get_default_dtype()), lo, hi)
        return E.Clamp.apply(self, lo, hi)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        a, b = self._operands(self._other_t(other))
        return E.Maximum.apply(a, b)

    def minimum(self, other: Any) -> Tensor:
        a, b = self._operands(self._other_t(other))
        return E.Minimum.apply(a, b)

    def pow(self, e: Any) -> Tensor:
        return self**e

    def where(self, condition: Any, other: Any) -> Tensor:
        return where(condition, self, other)
