"""The batched tensor behind :func:`glassgrad.func.vmap` and the dispatch to batching rules.

A :class:`BatchedTensor` stands, inside one batched run of ``vmap``, for a whole batch of
per-sample tensors. Its *physical* tensor (an ordinary ``Tensor``, ``_phys``) holds the
batch with the mapped axis at position 0; its *logical* shape — what ``.shape``, ``.ndim``,
``size()``, ``dim()``, ``numel()`` and ``len()`` report, what the function sees — excludes
that axis. ``_level`` says which ``vmap`` call made it (nested calls never mix).

Ops reach a batched tensor in two ways:

* ``Function.apply`` (every glassgrad op) asks the hook ``STATE.batching`` first; with a
  batched argument the hook runs the op's batching rule (``_batch_rules.RULES``), which
  calls the op on the physical tensors (so autograd records an ordinary graph) and wraps
  the result. An op without a rule raises :class:`NoBatchRule` naming it.
* Python code that reads the array (``t.array``: ``.item()``, ``.numpy()``, ``.tolist()``,
  ``bool(t)``, in-place writes, NumPy calls) gets a :class:`_LogicalArray`: it answers
  ``dtype``/``shape``/``ndim``/``size`` (logical) and raises :class:`NoBatchRule` for
  everything else — data is never read with the batch axis mixed in. Random draws raise it
  too while a batched run is active.

``vmap`` catches :class:`NoBatchRule` and reruns the function as a loop.
"""

from __future__ import annotations

import sys
from typing import Any

from ..autograd.grad_mode import STATE
from ..backend import np
from ..tensor import Tensor

__all__ = ["BatchedTensor", "NoBatchRule"]


class NoBatchRule(Exception):
    """Internal: the batched run met something without a batching rule (``what`` names it)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"vmap: no batching rule for {what}")
        self.what = what


def _caller() -> str:
    """The first function outside this file on the stack (names what read the array)."""
    f = sys._getframe(2)
    here = __file__
    while f is not None and f.f_code.co_filename == here:
        f = f.f_back
    return f.f_code.co_name.strip("_") if f is not None else "?"


def _poison(*_a: Any, **_k: Any) -> Any:
    raise NoBatchRule(f"{_caller()} (reads the data of a batched tensor)")


def _refused(what: str) -> property:
    """A property of :class:`BatchedTensor` whose reading and setting raise
    :class:`NoBatchRule` naming the caller and ``what``."""

    def get(self: Any) -> Any:
        raise NoBatchRule(f"{_caller()} (reads {what} of a batched tensor)")

    def set_(self: Any, v: Any) -> None:
        raise NoBatchRule(f"{_caller()} (sets {what} of a batched tensor)")

    return property(get, set_)


class _LogicalArray:
    """What ``BatchedTensor.array`` returns: logical metadata only; any data access raises
    :class:`NoBatchRule`."""

    __slots__ = ("_bt",)

    def __init__(self, bt: BatchedTensor) -> None:
        self._bt = bt

    @property
    def dtype(self) -> Any:
        return self._bt._phys.array.dtype

    @property
    def shape(self) -> tuple:
        return self._bt._phys.array.shape[1:]

    @property
    def ndim(self) -> int:
        return self._bt._phys.array.ndim - 1

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def itemsize(self) -> int:
        return self._bt._phys.array.itemsize

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # NumPy probing (__array_struct__, ...): it wants the data
            raise NoBatchRule(f"{_caller()} (reads the data of a batched tensor)")
        raise NoBatchRule(f"{_caller()} (reads .{name} of a batched tensor's data)")

    __array__ = __array_ufunc__ = __array_function__ = _poison
    __len__ = __iter__ = __getitem__ = __setitem__ = __bool__ = __float__ = __int__ = _poison
    __index__ = __contains__ = _poison


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne", "neg", "pos", "abs",
              "invert", "radd", "rsub", "rmul", "rtruediv", "rfloordiv", "rmod", "rpow",
              "rmatmul", "rand", "ror", "rxor", "iadd", "isub", "imul", "itruediv", "ipow"):
    setattr(_LogicalArray, f"__{_name}__", _poison)
_LogicalArray.__hash__ = None  # type: ignore[assignment]


class BatchedTensor(Tensor):
    """A batch of tensors seen as one (see the module docstring). Made by ``vmap`` only."""

    __slots__ = ("_phys", "_level")

    @classmethod
    def wrap(cls, phys: Tensor, level: int) -> BatchedTensor:
        t = object.__new__(cls)
        t._phys = phys
        t._level = level
        t._version = [0]
        t._hooks = None
        t._name = None
        return t

    # the raw array: logical metadata only (see _LogicalArray)
    @property  # type: ignore[override]
    def array(self) -> Any:
        return _LogicalArray(self)

    @array.setter
    def array(self, v: Any) -> None:
        raise NoBatchRule(f"{_caller()} (writes into a batched tensor)")

    @property
    def shape(self) -> tuple:
        return self._phys.array.shape[1:]

    @property
    def ndim(self) -> int:
        return self._phys.array.ndim - 1

    @property
    def dtype(self) -> Any:
        return self._phys.array.dtype

    @property
    def device(self) -> Any:
        return self._phys.device

    @property  # type: ignore[override]
    def requires_grad(self) -> bool:
        return self._phys.requires_grad

    @requires_grad.setter
    def requires_grad(self, v: Any) -> None:
        raise NoBatchRule(f"{_caller()} (sets requires_grad of a batched tensor)")

    # autograd state of the logical tensor: reading or setting it raises NoBatchRule
    grad_fn = _refused("grad_fn")
    grad = _refused(".grad")
    _out_idx = _refused("the graph")

    # the strided-view mark of the view ops (is_contiguous, view): not tracked on the logical
    # tensor (reading it would read the physical array's flags); reshape copies when it must
    @property  # type: ignore[override]
    def _strided(self) -> bool:
        return False

    @_strided.setter
    def _strided(self, v: Any) -> None:
        pass

    @property  # type: ignore[override]
    def data(self) -> BatchedTensor:
        return self.detach()

    @data.setter
    def data(self, v: Any) -> None:
        raise NoBatchRule(f"{_caller()} (sets .data of a batched tensor)")

    def detach(self) -> BatchedTensor:
        return BatchedTensor.wrap(self._phys.detach(), self._level)

    def view(self, *shape: Any) -> Tensor:
        # the values of view and reshape are the same; reshape's rule works on the batch
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        if not isinstance(shape, tuple) or not all(isinstance(s, int) for s in shape):
            raise NoBatchRule("view with a dtype")
        return self.reshape(shape)

    def _cmp(self, o: Any, fn: Any) -> Tensor:
        from ..tensor_methods._common import _check_operand
        from ._batch_rules import aligned

        _check_operand(o)
        (a, b), level = aligned([self, o])
        out = fn(_arr(a), _arr(b))
        return BatchedTensor.wrap(Tensor._make(np.asarray(out), False), level)

    def __repr__(self) -> str:
        return (f"BatchedTensor(shape={tuple(self.shape)}, batch={self._phys.array.shape[0]}, "
                f"dtype={self.dtype}, level={self._level})")


def _arr(x: Any) -> Any:
    return x.array if isinstance(x, Tensor) else x


# ----------------------------------------------------------------------------- dispatch
def _has_batched(seq: Any) -> bool:
    for a in seq:
        t = type(a)
        if t is BatchedTensor or t is _LogicalArray:
            return True
        if (t is tuple or t is list) and any(type(x) in (BatchedTensor, _LogicalArray) for x in a):
            return True
    return False


def dispatch(cls: type, args: tuple, kwargs: dict) -> Any:
    """``STATE.batching`` while a batched run is active: the op's rule for batched
    arguments, ``NotImplemented`` (run the op as usual) for none."""
    if not _has_batched(args) and not (kwargs and _has_batched(kwargs.values())):
        return NotImplemented
    from ._batch_rules import RULES

    rule = RULES.get(cls)
    if rule is None:
        raise NoBatchRule(cls.__name__)
    return rule(cls, args, kwargs)


# the active batched runs, innermost last: (level, batch size)
ACTIVE: list = []
_NEXT = [0]
# vmap's ``randomness`` of each active batched run, by level
MODES: dict = {}


def randomness_error(what: str) -> RuntimeError:
    """The error of a random draw inside ``vmap(..., randomness='error')`` (the default, as
    ``torch.func.vmap``)."""
    return RuntimeError(
        f"vmap: {what} draws random numbers inside vmap with randomness='error' (the default, "
        "as torch.func.vmap). Pass randomness='different' (independent draws for every sample) "
        "or randomness='same' (one draw shared by all samples), or draw outside vmap")


def _random_guard(mode: str) -> Any:
    def guard(generator: Any = None) -> None:
        if mode == "error":
            raise randomness_error("a random operation")
        raise NoBatchRule("random number generation (each sample needs its own draw)")

    return guard


class random_allowed:
    """Context: random draws allowed (a batching rule that draws the batch's numbers itself)."""

    def __enter__(self) -> None:
        from .. import random as _random

        self._prev = _random._GUARD[0]
        _random._GUARD[0] = None

    def __exit__(self, *exc: Any) -> None:
        from .. import random as _random

        _random._GUARD[0] = self._prev


class batched_run:
    """Context: a batched run of one ``vmap`` call of the given batch size."""

    def __init__(self, size: int, randomness: str = "error") -> None:
        _NEXT[0] += 1
        self.level = _NEXT[0]
        self.size = size
        self.randomness = randomness

    def __enter__(self) -> batched_run:
        from .. import random as _random

        self._prev = (STATE.batching, _random._GUARD[0])
        ACTIVE.append((self.level, self.size))
        MODES[self.level] = self.randomness
        STATE.batching = dispatch
        _random._GUARD[0] = _random_guard(self.randomness)
        return self

    def __exit__(self, *exc: Any) -> None:
        from .. import random as _random

        ACTIVE.pop()
        MODES.pop(self.level, None)
        STATE.batching, _random._GUARD[0] = self._prev
