"""Padding layers (PyTorch's names), each a call of ``F.pad`` with its mode: constant
(``ZeroPad``/``ConstantPad``), ``reflect``, ``replicate`` and ``circular``. ``padding`` is an
int (all sides) or the ``(left, right, top, bottom, front, back)`` tuple of ``F.pad``."""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from .utils import _table_class

__all__ = [
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
]


class _Pad(Module):
    _dims = 1
    _mode = "constant"

    def __init__(self, padding: Any) -> None:
        self._setup(padding, 0.0)

    def _setup(self, padding: Any, value: float) -> None:
        Module.__init__(self)
        n = 2 * self._dims
        p = (int(padding),) * n if isinstance(padding, int) else tuple(int(v) for v in padding)
        if len(p) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of {n} "
                             f"ints, got {padding!r}")
        self.padding, self.value = p, float(value)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < self._dims + 1:
            raise ValueError(f"{type(self).__name__}: expected at least {self._dims + 1} dims, "
                             f"got shape {tuple(input.shape)}")
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding: Any, value: float) -> None:
        self._setup(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


_HOW = {"zero": "with zeros", "constant": "with ``value``",
        "reflect": "by mirroring (the edge itself is not repeated)",
        "replicate": "by repeating the edge", "circular": "by wrapping around"}


def _padding(name: str, dims: int, mode: str) -> type[_Pad]:
    """The layer ``name`` padding the last ``dims`` dims: ``mode`` is ``"zero"``,
    ``"constant"`` (with ``value``, the constructor's second argument) or the ``F.pad``
    mode; a row of the table below (see :func:`.utils._table_class`)."""
    base = _ConstantPad if mode == "constant" else _Pad
    doc = f"Pad the last {'dim' if dims == 1 else f'{dims} dims'} {_HOW[mode]}."
    return _table_class(name, base, doc, {"_dims": dims, "_mode": "constant" if mode == "zero"
                                          else mode}, depth=2)


ZeroPad1d = _padding("ZeroPad1d", 1, "zero")
ZeroPad2d = _padding("ZeroPad2d", 2, "zero")
ZeroPad3d = _padding("ZeroPad3d", 3, "zero")
ConstantPad1d = _padding("ConstantPad1d", 1, "constant")
ConstantPad2d = _padding("ConstantPad2d", 2, "constant")
ConstantPad3d = _padding("ConstantPad3d", 3, "constant")
ReflectionPad1d = _padding("ReflectionPad1d", 1, "reflect")
ReflectionPad2d = _padding("ReflectionPad2d", 2, "reflect")
ReflectionPad3d = _padding("ReflectionPad3d", 3, "reflect")
ReplicationPad1d = _padding("ReplicationPad1d", 1, "replicate")
ReplicationPad2d = _padding("ReplicationPad2d", 2, "replicate")
ReplicationPad3d = _padding("ReplicationPad3d", 3, "replicate")
CircularPad1d = _padding("CircularPad1d", 1, "circular")
CircularPad2d = _padding("CircularPad2d", 2, "circular")
CircularPad3d = _padding("CircularPad3d", 3, "circular")
