"""Padding layers (PyTorch's names), each a call of ``F.pad`` with its mode: constant
(``ZeroPad``/``ConstantPad``), ``reflect``, ``replicate`` and ``circular``. ``padding`` is an
int (all sides) or the ``(left, right, top, bottom, front, back)`` tuple of ``F.pad``."""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

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


class ZeroPad1d(_Pad):
    """Pad the last dim with zeros."""


class ZeroPad2d(_Pad):
    """Pad the last 2 dims with zeros."""

    _dims = 2


class ZeroPad3d(_Pad):
    """Pad the last 3 dims with zeros."""

    _dims = 3


class ConstantPad1d(_ConstantPad):
    """Pad the last dim with ``value``."""


class ConstantPad2d(_ConstantPad):
    """Pad the last 2 dims with ``value``."""

    _dims = 2


class ConstantPad3d(_ConstantPad):
    """Pad the last 3 dims with ``value``."""

    _dims = 3


class ReflectionPad1d(_Pad):
    """Pad the last dim by mirroring (the edge itself is not repeated)."""

    _mode = "reflect"


class ReflectionPad2d(_Pad):
    """Pad the last 2 dims by mirroring."""

    _dims, _mode = 2, "reflect"


class ReflectionPad3d(_Pad):
    """Pad the last 3 dims by mirroring."""

    _dims, _mode = 3, "reflect"


class ReplicationPad1d(_Pad):
    """Pad the last dim by repeating the edge."""

    _mode = "replicate"


class ReplicationPad2d(_Pad):
    """Pad the last 2 dims by repeating the edge."""

    _dims, _mode = 2, "replicate"


class ReplicationPad3d(_Pad):
    """Pad the last 3 dims by repeating the edge."""

    _dims, _mode = 3, "replicate"


class CircularPad1d(_Pad):
    """Pad the last dim by wrapping around."""

    _mode = "circular"


class CircularPad2d(_Pad):
    """Pad the last 2 dims by wrapping around."""

    _dims, _mode = 2, "circular"


class CircularPad3d(_Pad):
    """Pad the last 3 dims by wrapping around."""

    _dims, _mode = 3, "circular"
