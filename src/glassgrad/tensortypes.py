"""PyTorch's legacy tensor types: ``gg.FloatTensor``, ``gg.LongTensor``, ...

Each is a dtype (and device) with a constructor and an ``isinstance`` test, as in PyTorch:

>>> import glassgrad as gg
>>> gg.FloatTensor(2, 3).shape               # sizes: a zero-filled tensor
(2, 3)
>>> gg.LongTensor([1, 2]).dtype              # data: converted
dtype('int64')
>>> isinstance(gg.zeros(2), gg.FloatTensor), isinstance(gg.zeros(2), gg.LongTensor)
(True, False)

``x.type()`` returns the matching name (``'torch.FloatTensor'``, PyTorch's spelling, since
programs compare it) and ``x.type(gg.LongTensor)`` converts. They are not subclasses of
:class:`~glassgrad.Tensor` (nor are PyTorch's of ``torch.Tensor``).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from . import dtypes as _dt
from .backend import normalize_device
from .tensor import Tensor

__all__ = ["tensortype", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
           "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]


class tensortype(type):  # noqa: N801 - torch's name
    """The metaclass of the legacy types: calling one makes a tensor, ``isinstance`` checks
    dtype and device."""

    _legacy_dtype: np.dtype
    _legacy_device: str

    def __instancecheck__(cls, obj: Any) -> builtins.bool:
        return (isinstance(obj, Tensor) and obj.dtype == cls._legacy_dtype
                and normalize_device(obj.device).startswith(cls._legacy_device))

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:
        from .creation import zeros

        dev = cls._legacy_device if device is None else device
        if not args:
            return zeros(0, dtype=cls._legacy_dtype, device=dev)
        if builtins.all(isinstance(a, (builtins.int, np.integer)) and not isinstance(a, builtins.bool)
                        for a in args):
            return zeros(*args, dtype=cls._legacy_dtype, device=dev)
        if len(args) == 1:
            data = args[0]
            if isinstance(data, Tensor):
                data = data.detach()
            return Tensor(data, dtype=cls._legacy_dtype, device=dev)
        raise TypeError(f"{cls.__name__}(): expected sizes (ints) or one sequence of data, got "
                        f"{', '.join(type(a).__name__ for a in args)}")

    def __repr__(cls) -> str:
        return f"<class '{cls.__module__}.{cls.__name__}'>"

    @property
    def dtype(cls) -> np.dtype:
        return cls._legacy_dtype

    @property
    def is_cuda(cls) -> builtins.bool:
        return cls._legacy_device == "cuda"


def _make(name: str, dtype: np.dtype, device: str, module: str) -> tensortype:
    doc = f"Legacy constructor for {dtype} tensors on {device!r} (``isinstance`` checks too)."
    return tensortype(name, (), {"_legacy_dtype": dtype, "_legacy_device": device,
                                 "__module__": module, "__doc__": doc})


def _types(device: str, module: str) -> tuple:
    """The nine types for ``device``, in the order of ``dtypes.LEGACY_NAMES`` (Float, Double,
    Half, Long, Int, Short, Char, Byte, Bool)."""
    return tuple(_make(name, dt, device, module) for dt, name in _dt.LEGACY_NAMES.items())


(FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor,
 BoolTensor) = _types("cpu", "glassgrad")
