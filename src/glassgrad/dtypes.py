"""Data types. They are NumPy dtypes, so ``t.dtype == np.float32`` works too."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

float16 = half = np.dtype("float16")
float32 = float = np.dtype("float32")  # noqa: A001 - mirrors torch.float
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
int16 = short = np.dtype("int16")
int32 = int = np.dtype("int32")  # noqa: A001
int64 = long = np.dtype("int64")
uint8 = np.dtype("uint8")
bool = np.dtype("bool")  # noqa: A001

_default_float = float32


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype of tensors made from Python floats (float32 unless changed), like PyTorch."""
    global _default_float
    d = to_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _default_float = d


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats (float32 by default)."""
    return _default_float


def to_dtype(dtype: Any) -> np.dtype:
    """Accept a glassgrad/NumPy dtype, a type (``float``, ``np.float32``) or a name."""
    if isinstance(dtype, np.dtype):
        return dtype
    if dtype is None:
        return _default_float
    if dtype is builtins.float:
        return _default_float
    if dtype is builtins.int:
        return int64
    if dtype is builtins.bool:
        return bool
    try:
        # torch dtypes passed by habit: 'torch.float32' -> 'float32'
        if not isinstance(dtype, (str, type)) and "torch." in str(dtype):
            dtype = str(dtype).replace("torch.", "")
        return np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"unknown dtype {dtype!r}") from e


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's ``promote_types``: the higher category wins with its own width
    (int64 with float32 gives float32, where NumPy would give float64); within a category
    the wider type."""
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def result_type(a: np.dtype, a_ndim: int, b: np.dtype, b_ndim: int) -> np.dtype:
    """Result dtype of a binary op on two tensors, as PyTorch: a 0-d tensor only matters
    when its category (bool < int < float) is higher than that of the tensor with
    dimensions (``float32[3] * float64[]`` is float32, ``int64[3] * float64[]`` float64)."""
    if (a_ndim == 0) == (b_ndim == 0):
        return promote_types(a, b)
    dim, zero = (a, b) if b_ndim == 0 else (b, a)
    if _CATEGORY[zero.kind] > _CATEGORY[dim.kind]:
        return promote_types(dim, zero)
    return dim


# PyTorch's legacy tensor type names ('torch.FloatTensor' ...), which programs compare with
# Tensor.type()
LEGACY_NAMES = {
    float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor",
    int64: "LongTensor", int32: "IntTensor", int16: "ShortTensor", int8: "CharTensor",
    uint8: "ByteTensor", bool: "BoolTensor",
}
_FROM_LEGACY = {v: k for k, v in LEGACY_NAMES.items()}


def legacy_type_name(dtype: np.dtype) -> str:
    """``'torch.FloatTensor'`` for float32, ... (the string ``torch.Tensor.type()`` returns)."""
    try:
        return "torch." + LEGACY_NAMES[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"type(): no PyTorch tensor type name for dtype {dtype}") from None


def from_legacy_type(t: Any) -> np.dtype:
    """The dtype meant by ``'torch.LongTensor'``, ``gg.LongTensor`` or any dtype spelling."""
    if isinstance(t, str):
        name = t.rsplit(".", 1)[-1]
        if name in _FROM_LEGACY and (t == name or t.startswith(("torch.", "glassgrad."))):
            return _FROM_LEGACY[name]
        raise TypeError(f"type(): invalid type {t!r}: expected a tensor type name such as "
                        "'torch.FloatTensor' or 'torch.LongTensor', or a dtype")
    legacy = getattr(t, "_legacy_dtype", None)
    if legacy is not None:
        return legacy
    return to_dtype(t)


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


class memory_format:  # noqa: N801 - PyTorch's name
    """PyTorch's memory-format tags (``gg.contiguous_format``, ``gg.channels_last``, ...),
    accepted where PyTorch takes ``memory_format=`` (``Tensor.to``, ``Module.to``,
    ``Tensor.contiguous``). glassgrad keeps NumPy's layouts: the tag is checked and
    otherwise has no effect on values or results."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"glassgrad.{self.name}"

    def __reduce__(self) -> str:
        return self.name


preserve_format = memory_format("preserve_format")
contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


def check_memory_format(op: str, fmt: Any) -> None:
    """Raise a TypeError naming ``op`` unless ``fmt`` is None or a :class:`memory_format`."""
    if fmt is not None and not isinstance(fmt, memory_format):
        raise TypeError(f"{op}: memory_format must be a glassgrad memory format "
                        f"(gg.contiguous_format, gg.channels_last, ...), got {fmt!r}")
