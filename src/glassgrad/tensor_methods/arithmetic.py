"""The operators of :class:`~glassgrad.tensor.Tensor` (a mixin): ``+ - * / // % ** @``, their
reflected and in-place forms, comparisons (``<``, ``==``, ``eq``, ...), the bitwise operators,
``equal``/``allclose``, and the in-place updates built on ``Tensor._inplace`` (``add_``,
``mul_``, ``clamp_``, ``zero_``, ``fill_``, ``copy_``, ...)."""

from __future__ import annotations

import builtins
import operator
from typing import TYPE_CHECKING, Any, Callable

from .. import dtypes as _dt
from ..autograd import recording
from ..autograd.grad_mode import STATE
from ..backend import is_array, np, xp_of
from ..ops import elementwise as E
from ..ops import linalg as L
from ..ops._util import op_error
from ._common import (
    _SCALARS,
    _T,
    _check_operand,
    _no_bool_sub,
    _no_dtype,
    _not_operand,
    _PyBool,
    _PyFloat,
    _PyInt,
)

if TYPE_CHECKING:
    from ..tensor import Tensor


class ArithmeticMethods:
    """The arithmetic methods of ``Tensor`` (a mixin; see the module docstring)."""

    __slots__ = ()

    def __add__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        return E.Add.apply(a, o)

    __radd__ = __add__  # + and * commute (the same result dtype either way round)

    def __sub__(self, o: Any) -> Tensor:
        _no_bool_sub(self, o)
        a, o = self._operands(o)
        return E.Sub.apply(a, o)

    def __rsub__(self, o: Any) -> Tensor:
        _no_bool_sub(self, o)
        a, o = self._operands(o)
        if isinstance(o, _T()):
            return E.Sub.apply(o, a)
        return E.RSub.apply(a, o)

    def __mul__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        return E.Mul.apply(a, o)

    __rmul__ = __mul__

    def __truediv__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        if a.array.dtype.kind in "biu":  # true division of integers gives the default float
            a = a.to(_dt.get_default_dtype())
            if isinstance(o, _T()):
                o = o.to(a.dtype)
        return E.Div.apply(a, o)

    def __rtruediv__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        if isinstance(o, _T()):
            return o.__truediv__(a)
        if a.array.dtype.kind in "biu":
            a = a.to(_dt.get_default_dtype())
        return E.RDiv.apply(a, o)

    def __floordiv__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        return _T()._make(xp_of(a.array).asarray(a.array // (o.array if isinstance(o, _T()) else o)),
                            False)

    def __mod__(self, o: Any) -> Tensor:
        return self.remainder(o)

    def __pow__(self, o: Any) -> Tensor:
        if isinstance(o, _T()) and o.array.dtype.kind == "b":
            _no_dtype(self, "pow", "b", "bool ** bool")
        if type(o) is _PyBool and self.array.dtype.kind == "b":  # bool ** True/False: bool
            return _T()._make(self.array.copy() if o else xp_of(self.array).ones_like(self.array),
                                False)
        if type(o) is _PyInt and o < 0:  # (also for an empty tensor, as PyTorch)
            _no_dtype(self, "pow", "biu", "integers to negative integer powers are not allowed")
        a, o = self._operands(o)
        return E.Pow.apply(a, o)

    def __rpow__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        if isinstance(o, _T()):
            return E.Pow.apply(o, a)
        if a.array.dtype.kind in "iu" and isinstance(o, _PyInt):  # int ** int tensor stays integer
            return a._int_scalar_op("pow", o, lambda x, c: c**x)
        if a.array.dtype.kind in "biu":
            a = a.to(_dt.get_default_dtype())
        return E.RPow.apply(a, o)

    def __neg__(self) -> Tensor:
        _no_dtype(self, "neg", "b", "use ~ or logical_not() to invert a mask")
        return E.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    def __matmul__(self, o: Any) -> Tensor:
        return L.MatMul.apply(self, self._other(o))

    def __rmatmul__(self, o: Any) -> Tensor:
        return L.MatMul.apply(self._other(o), self)

    # comparisons: results carry no gradient
    def _cmp(self, o: Any, fn: Callable) -> Tensor:
        if not isinstance(o, (_T(), np.generic) + _SCALARS) and not is_array(o):
            _check_operand(o)
        od = o.array if isinstance(o, _T()) else o
        a = self.array
        if isinstance(o, _T()) and od.dtype != a.dtype:  # compared in the promoted dtype
            d = _dt.result_type(a.dtype, a.ndim, od.dtype, od.ndim)
            a, od = a.astype(d, copy=False), od.astype(d, copy=False)
        try:
            return _T()._make(xp_of(self.array).asarray(fn(a, od)), False)
        except ValueError as e:
            raise op_error("compare", f"shapes {tuple(self.shape)} and "
                           f"{tuple(np.shape(od))} do not broadcast: {e}") from None

    def __lt__(self, o: Any) -> Tensor:
        return self._cmp(o, lambda a, b: a < b)

    def __le__(self, o: Any) -> Tensor:
        return self._cmp(o, lambda a, b: a <= b)

    def __gt__(self, o: Any) -> Tensor:
        return self._cmp(o, lambda a, b: a > b)

    def __ge__(self, o: Any) -> Tensor:
        return self._cmp(o, lambda a, b: a >= b)

    def __eq__(self, o: Any) -> Tensor:  # type: ignore[override]
        if _not_operand(o):
            return NotImplemented  # x == "a" is False, x != None is True (as PyTorch)
        return self._cmp(o, lambda a, b: a == b)

    def __ne__(self, o: Any) -> Tensor:  # type: ignore[override]
        if _not_operand(o):
            return NotImplemented
        return self._cmp(o, lambda a, b: a != b)

    # ------------------------------------------------------------------ integer ops
    def _int_binary(self, op: str, o: Any, fn: Callable, allow_bool: builtins.bool = True) -> Tensor:
        """``fn(self, o)`` on integer (and, with ``allow_bool``, bool) tensors with PyTorch's
        result dtype, no gradient: ``&``, ``|``, ``^`` and ``bitwise_*``, ``gcd``, ``lcm``."""
        T = _T()
        a, b = self._operands(o)
        kinds = "biu" if allow_bool else "iu"
        if isinstance(b, _PyFloat) or builtins.any(
                isinstance(v, T) and v.dtype.kind not in kinds for v in (a, b)):
            got = b.dtype if isinstance(b, T) else type(b).__name__
            what = "bool or integer" if allow_bool else "integer"
            raise op_error(op, f"needs {what} operands, got {a.dtype} and {got}", TypeError)
        bd = b.array if isinstance(b, T) else b
        try:
            return T._make(xp_of(a.array).asarray(fn(a.array, bd)), False)
        except ValueError as e:
            raise op_error(op, f"shapes {tuple(a.shape)} and {tuple(np.shape(bd))} do not "
                           f"broadcast: {e}") from None

    def bitwise_and(self, other: Any) -> Tensor:
        return self._int_binary("bitwise_and", other, operator.and_)

    def bitwise_or(self, other: Any) -> Tensor:
        return self._int_binary("bitwise_or", other, operator.or_)

    def bitwise_xor(self, other: Any) -> Tensor:
        return self._int_binary("bitwise_xor", other, operator.xor)

    # &, |, ^ commute (the same result dtype either way round)
    __and__ = __rand__ = bitwise_and
    __or__ = __ror__ = bitwise_or
    __xor__ = __rxor__ = bitwise_xor

    # ------------------------------------------------------------------ reflected integer ops
    def __rfloordiv__(self, o: Any) -> Tensor:
        """``number // tensor``, PyTorch's result dtype."""
        return self._other_t(o).__floordiv__(self)

    def __rmod__(self, o: Any) -> Tensor:
        """``number % tensor``: the remainder with the sign of the tensor (Python's ``%``)."""
        return self._other_t(o).remainder(self)

    def _int_scalar_op(self, op: str, c: Any, fn: Callable) -> Tensor:
        """``fn(integer array, Python int)`` as an integer tensor (no gradient)."""
        try:
            return _T()._make(xp_of(self.array).asarray(fn(self.array, c)), False)
        except ValueError as e:  # e.g. integers to negative integer powers
            raise op_error(op, f"on integer tensor {self.dtype} with {c!r}: {e}") from None

    def __invert__(self) -> Tensor:
        return _T()._make(~self.array, False)

    def eq(self, o: Any) -> Tensor:
        return self == o

    def ne(self, o: Any) -> Tensor:
        return self != o

    def lt(self, o: Any) -> Tensor:
        return self < o

    def le(self, o: Any) -> Tensor:
        return self <= o

    def gt(self, o: Any) -> Tensor:
        return self > o

    def ge(self, o: Any) -> Tensor:
        return self >= o

    def equal(self, o: Tensor) -> builtins.bool:
        """True when shapes and all values are equal."""
        return self.shape == o.shape and builtins.bool((self.array == o.array).all())

    def allclose(self, o: Any, rtol: float = 1e-5, atol: float = 1e-8) -> builtins.bool:
        od = o.array if isinstance(o, _T()) else o
        return builtins.bool(xp_of(self.array).allclose(self.array, od, rtol=rtol, atol=atol))

    # ------------------------------------------------------------------ in place
    def _inplace(self, op: str, fn: Callable[[Any], Any], out_of_place: Callable[[], Tensor],
                 other: Any = None) -> Tensor:
        """In-place update. On a tensor that is part of a recorded graph (or when ``other``
        requires grad) the op is done out of place and this tensor is re-pointed at the
        result (its old values stay intact for any backward that saved them)."""
        if STATE.grad_enabled and (self.requires_grad or (isinstance(other, _T())
                                                          and other.requires_grad)):
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad is being used in an in-place "
                    "operation; wrap the update in gg.no_grad() (as optimizers do)"
                )
            new = out_of_place()
            if new.shape != self.shape:
                raise op_error(op, f"the result has shape {tuple(new.shape)}, but an in-place "
                               f"op must keep the tensor's shape {tuple(self.shape)}")
            if new.dtype != self.dtype:  # in place keeps the dtype (as PyTorch)
                new = new.to(self.dtype)
            recording.inplace(self, op, True)
            self.array, self.grad_fn, self._out_idx = new.array, new.grad_fn, new._out_idx
            self._version = new._version
            self.requires_grad = new.requires_grad
            return self
        recording.inplace(self, op, False)
        try:
            fn(self.array)
        except (TypeError, ValueError) as e:  # dtype casting / broadcasting of the output
            raise op_error(op, f"cannot update a tensor of shape {tuple(self.shape)} "
                           f"{self.dtype} in place: {e}",
                           TypeError if isinstance(e, TypeError) else ValueError) from None
        self._version[0] += 1
        return self

    def _cast_in(self, o: Any) -> Any:
        od = o.array if isinstance(o, _T()) else o
        return od

    def add_(self, o: Any, alpha: Any = 1) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            if alpha == 1:
                d += od
            else:
                d += alpha * od

        return self._inplace("add_", f, lambda: self + (o if alpha == 1 else o * alpha), o)

    def sub_(self, o: Any, alpha: Any = 1) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            if alpha == 1:
                d -= od
            else:
                d -= alpha * od

        return self._inplace("sub_", f, lambda: self - (o if alpha == 1 else o * alpha), o)

    def mul_(self, o: Any) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            d *= od

        return self._inplace("mul_", f, lambda: self * o, o)

    def div_(self, o: Any) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            d /= od

        return self._inplace("div_", f, lambda: self / o, o)

    def pow_(self, o: Any) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            d **= od

        return self._inplace("pow_", f, lambda: self**o, o)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace("clamp_", lambda d: xp_of(d).clip(d, min, max, out=d),
                             lambda: self.clamp(min, max))

    def zero_(self) -> Tensor:
        def f(d: Any) -> None:
            d[...] = 0

        return self._inplace("zero_", f, lambda: self * 0)

    def fill_(self, value: Any) -> Tensor:
        v = self._cast_in(value)

        def f(d: Any) -> None:
            d[...] = v

        return self._inplace("fill_", f, lambda: self * 0 + value, value)

    def copy_(self, src: Any) -> Tensor:
        """Copy values from ``src`` (broadcast to this shape, cast to this dtype)."""
        s = src.array if isinstance(src, _T()) else np.asarray(src)
        try:
            np.broadcast_shapes(s.shape, self.shape)
        except ValueError:
            raise op_error("copy_", f"cannot copy shape {tuple(s.shape)} into "
                           f"{tuple(self.shape)}") from None

        def f(d: Any) -> None:
            d[...] = s

        return self._inplace("copy_", f, lambda: self * 0 + src, src)

    def __iadd__(self, o: Any) -> Tensor:
        return self.add_(o)

    def __isub__(self, o: Any) -> Tensor:
        return self.sub_(o)

    def __imul__(self, o: Any) -> Tensor:
        return self.mul_(o)

    def __itruediv__(self, o: Any) -> Tensor:
        return self.div_(o)
