"""Helpers shared by :class:`~glassgrad.tensor.Tensor` and its method mixins in this package:
the result namedtuples (``MinMax``, ``ValuesIndices``, ``SignLogAbsDet``), the operand checks
(``_check_operand``, ``_no_dtype``, ...), ``_correction`` (``var``/``std``'s ddof), the
factory of the dtype shorthands ``float()``, ``long()``, ... (``_cast_method``) and the
conversion of data to an array (``_to_array``). Nothing here imports ``glassgrad.tensor`` at
import time: ``_T()`` fetches the class when called."""

from __future__ import annotations

import builtins
from collections import namedtuple
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .. import dtypes as _dt
from ..backend import is_array, np, xp_of
from ..ops._util import op_error

if TYPE_CHECKING:
    from ..tensor import Tensor

MinMax = namedtuple("MinMax", ["values", "indices"])
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # sort, topk
SignLogAbsDet = namedtuple("SignLogAbsDet", ["sign", "logabsdet"])

_PyFloat, _PyInt, _PyBool = builtins.float, builtins.int, builtins.bool
_SCALARS = (_PyFloat, _PyInt, _PyBool)


def _T() -> type:
    """The Tensor class (imported when first needed: ``tensor.py`` imports this package)."""
    from ..tensor import Tensor

    return Tensor


_OPERAND_HELPERS = frozenset({"_other", "_operands", "_other_t", "_cast_in", "_cmp", "_check_operand",
                              "_int_binary"})


def _not_operand(o: Any) -> builtins.bool:
    """True for what cannot be an operand of a tensor op (str, None, containers, objects)."""
    if isinstance(o, (_T(), np.generic) + _SCALARS) or is_array(o):
        return False
    if o is None or isinstance(o, (str, bytes, list, tuple, dict, set)):
        return True
    try:
        return np.asarray(o).dtype.kind not in "biufc"
    except Exception:
        return True


def _no_bool_sub(a: Tensor, o: Any) -> None:
    """PyTorch refuses ``-`` when either side is bool (a tensor or a Python bool)."""
    if a.array.dtype.kind == "b" or isinstance(o, (_PyBool, np.bool_)) or (
            isinstance(o, _T()) and o.array.dtype.kind == "b"):
        raise op_error("sub", "subtraction with a bool tensor is not supported; use ^ "
                       "(logical_xor) instead, or ~ (logical_not) to invert a mask", RuntimeError)


def _no_dtype(t: Tensor, op: str, kinds: str, what: str) -> None:
    """PyTorch refuses some dtypes in some ops (``floor`` of bool, ``softmax`` of int64,
    ``var`` of int64...): a TypeError naming the op and the dtype."""
    if t.array.dtype.kind in kinds:
        raise op_error(op, f"not supported for {t.dtype} tensors ({what})", TypeError)


def _check_operand(o: Any) -> None:
    """Refuse an operand that is not a Tensor, a number or an array (a str, None, a list:
    PyTorch's operators refuse them too) with a TypeError naming the op (the method that
    called the operand helpers, e.g. ``add`` for ``__add__``)."""
    if not _not_operand(o):
        return
    import sys

    f = sys._getframe(1)
    while f is not None and f.f_code.co_name in _OPERAND_HELPERS:
        f = f.f_back
    op = f.f_code.co_name.strip("_") if f is not None else "operator"
    raise op_error(op, f"unsupported operand of type {type(o).__name__} ({o!r:.40}); expected a "
                   "Tensor, a Python number or a NumPy array", TypeError)


def _cast_method(name: str, dtype: np.dtype, owner: str) -> Callable[[Tensor], Tensor]:
    """The method ``owner.name`` that returns ``self.to(dtype)`` (``Tensor.float``, ``.long``,
    ``.byte``, ...): one definition for the dtype shorthands."""

    def method(self: Tensor) -> Tensor:
        return self.to(dtype)

    dt = np.dtype(dtype).name
    method.__name__, method.__qualname__ = name, f"{owner}.{name}"
    method.__doc__ = f"``self.to({dt})`` (``self`` itself if it is {dt} already)."
    return method


def _correction(unbiased: Any, correction: Any, ddof: Any) -> Any:
    if correction is not None:
        return correction
    if ddof is not None:
        return ddof
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


# ---------------------------------------------------------------------- construction
def _needs_copy(arr: Any, shape: tuple) -> builtins.bool:
    """Whether ``arr`` can only take ``shape`` by copying (PyTorch's ``view`` refuses then)."""
    try:
        xp_of(arr).reshape(arr, shape, copy=False)
    except ValueError as e:
        if "copy" in str(e) or "Incompatible" in str(e):
            return True
        return False  # a wrong size: reshape gives the error message
    except TypeError:  # NumPy < 2.1 has no copy= in reshape
        v = arr.view()
        try:
            v.shape = shape
        except AttributeError:
            return True
        except ValueError:
            return False
    return False


def _to_array(data: Any, dtype: Any) -> Any:
    """Convert ``data`` to an array: Python floats -> default float, ints -> int64."""
    if isinstance(data, _T()):
        arr = data.array.copy()
        return arr if dtype is None else arr.astype(_dt.to_dtype(dtype))
    if is_array(data):
        return data.astype(_dt.to_dtype(dtype)) if dtype is not None else data
    if dtype is not None:
        d = _dt.to_dtype(dtype)
        if isinstance(data, (list, tuple)) and builtins.any(isinstance(x, _T())
                                                            for x in _flat(data)):
            data = [x.array if isinstance(x, _T()) else x for x in data]
        return _np_array(data, d)
    if isinstance(data, (list, tuple)):
        data = [x.array if isinstance(x, _T()) else x for x in data] if builtins.any(
            isinstance(x, _T()) for x in data) else data
    arr = _np_array(data, None)
    if isinstance(data, np.generic):
        return arr
    k = arr.dtype.kind
    if k == "f":
        return arr.astype(_dt.get_default_dtype(), copy=False)
    if k in "iu":
        return arr.astype(np.int64, copy=False)
    if k == "O":
        raise TypeError(f"tensor: could not convert data of type {type(data).__name__} "
                        "(ragged nested lists?) to a numeric array")
    return arr


def _np_array(data: Any, dtype: Any) -> np.ndarray:
    try:
        return np.array(data, dtype=dtype)
    except ValueError as e:
        if "inhomogeneous" in str(e) or "sequence" in str(e):
            raise ValueError("tensor: could not convert data to an array: nested sequences "
                             f"have different lengths (ragged): {e}") from None
        raise


def _flat(x: Any) -> Iterator[Any]:
    for v in x:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def where(cond: Any, a: Any, b: Any) -> Any:
    """``where(cond, a, b)``: elements of ``a`` where ``cond`` is true, else of ``b`` (the op
    :class:`~glassgrad.ops.elementwise.Where` after PyTorch's type promotion)."""
    from ..ops.elementwise import Where

    Tensor = _T()
    c = cond.array if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != np.bool_:
        c = c.astype(bool)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        # Python floats -> default float dtype, as torch.where(c, 1.0, 0.0)
        a = Tensor._make(_to_array(a, None), False)
    # both branches in PyTorch's result dtype (a Python number takes the tensor's dtype)
    if isinstance(a, Tensor):
        a, b = a._operands(b)
        if not isinstance(b, Tensor):
            b = Tensor._make(np.asarray(b, dtype=a.dtype), False)
    else:
        b, a = b._operands(a)
        if not isinstance(a, Tensor):
            a = Tensor._make(np.asarray(a, dtype=b.dtype), False)
    return Where.apply(c, a, b)
