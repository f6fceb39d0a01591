"""The one seam between glassgrad and the array module.

Everything in glassgrad that needs to know *which* array library holds the data
(NumPy on the CPU, CuPy on an NVIDIA GPU) asks this module. Ops receive plain
arrays and call ``xp_of(array)`` (or use array methods), so a GPU backend is a
matter of this file, not of rewriting ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "device",
    "is_device_arg",
    "get_default_device",
    "set_default_device",
    "np",
    "xp_of",
    "is_array",
    "device_of",
    "to_device",
    "cupy_available",
    "normalize_device",
    "to_numpy",
]

_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device(str):
    """A device name, as ``torch.device``: ``device("cpu")``, ``device("cuda:0")``,
    ``device("cuda", 1)``.

    ``type`` is ``'cpu'``, ``'cuda'``, ``'mps'``, ``'xpu'`` or ``'meta'``; ``index`` is the
    device number or None. ``str(d)`` is ``'cpu'`` / ``'cuda:1'``, ``repr(d)`` is
    ``device(type='cuda', index=1)``. Usable wherever a device is accepted (``device=``
    arguments, ``Tensor.to``, ``Module.to``); ``Tensor.device`` returns one.

    It is a ``str`` subclass, so a device also equals its string (``x.device == "cpu"``
    holds; PyTorch answers False there) and hashes like it. Tensors can live on ``'cpu'``
    (NumPy) and ``'cuda'`` (CuPy, ``pip install 'glassgrad[gpu]'``); the other types can be
    named but not used for tensors.
    """

    __slots__ = ()

    def __new__(cls, type: Any, index: int | None = None) -> device:  # noqa: A002 - torch's name
        if isinstance(type, device) and index is None:
            return type
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0' (and an optional "
                            f"index), got {type!r}")
        kind, sep, num = type.partition(":")
        if kind not in _DEVICE_TYPES:
            raise ValueError(f"device: unknown device type {kind!r} in {type!r}: expected one of "
                             f"{', '.join(_DEVICE_TYPES)}")
        if sep:
            if index is not None:
                raise ValueError(f"device: {type!r} already names an index, so index={index!r} "
                                 "cannot be passed as well")
            if not num.isdigit():
                raise ValueError(f"device: invalid device string {type!r}: the index after ':' "
                                 "must be a non-negative integer")
            index = int(num)
        elif index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
                raise ValueError(f"device: index must be a non-negative integer, got {index!r}")
            index = int(index)
        return str.__new__(cls, kind if index is None else f"{kind}:{index}")

    @property
    def type(self) -> str:
        return self.partition(":")[0]

    @property
    def index(self) -> int | None:
        num = self.partition(":")[2]
        return int(num) if num else None

    def __repr__(self) -> str:
        i = self.index
        return f"device(type='{self.type}')" if i is None else f"device(type='{self.type}', index={i})"

    def __reduce__(self) -> tuple:
        return (device, (str(self),))


_CPU = device("cpu")
_default_device = _CPU


def is_device_arg(x: Any) -> bool:
    """True when a positional argument of ``.to(...)`` names a device (not a dtype)."""
    if isinstance(x, device):
        return True
    return isinstance(x, str) and (x.partition(":")[0] in _DEVICE_TYPES or x == "gpu")


def set_default_device(dev: Any) -> None:
    """The device of tensors made without ``device=`` (``'cpu'`` unless changed), as
    ``torch.set_default_device``. ``None`` restores ``'cpu'``. A device that cannot hold
    tensors here (``'cuda'`` without CuPy, ``'mps'``) is refused now, with the reason."""
    global _default_device
    if dev is None:
        _default_device = _CPU
        return
    canon = normalize_device(dev)
    if canon != "cpu" and not cupy_available():
        to_device(np.zeros(0), canon)  # raises the explanation
        raise RuntimeError(f"set_default_device: {canon!r} needs a GPU that CuPy can see")
    _default_device = device(canon)


def get_default_device() -> device:
    """The device of tensors made without ``device=`` (see :func:`set_default_device`)."""
    return _default_device


_cupy: Any = None
_cupy_checked = False


def _get_cupy():
    """Import CuPy on first use (it is an optional extra: ``pip install glassgrad[gpu]``)."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # type: ignore

            _cupy = cupy
        except Exception:  # pragma: no cover - depends on the machine
            _cupy = None
    return _cupy


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    cp = _get_cupy()
    if cp is None:
        return False
    try:  # pragma: no cover - needs a GPU
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # pragma: no cover
        return False


def is_array(x: Any) -> bool:
    """True for a NumPy or CuPy ndarray (not for a Tensor)."""
    if isinstance(x, np.ndarray):
        return True
    cp = _cupy
    return cp is not None and isinstance(x, cp.ndarray)


def xp_of(a: Any):
    """The array module (``numpy`` or ``cupy``) that owns array ``a``."""
    if isinstance(a, np.ndarray) or _cupy is None:
        return np
    return _cupy.get_array_module(a)  # pragma: no cover - needs a GPU


def device_of(a: Any) -> device:
    """``device('cpu')`` for NumPy data, ``device('cuda:N')`` for CuPy data."""
    if isinstance(a, np.ndarray) or _cupy is None or not isinstance(a, _cupy.ndarray):
        return _CPU
    return device("cuda", a.device.id)  # pragma: no cover - needs a GPU


def normalize_device(device: Any) -> str:
    """Turn ``None``, ``'cpu'``, ``'cuda'``, ``'cuda:1'`` or a ``Device`` into a canonical string."""
    if device is None:
        return "cpu"
    d = str(device).lower()
    if d == "cpu" or (d.startswith("cpu:") and d[4:].isdigit()):
        return "cpu"
    if d == "cuda" or d == "gpu":
        return "cuda:0"
    if d.startswith("cuda:") and d[5:].isdigit():
        return d
    kind = d.partition(":")[0]
    if kind in _DEVICE_TYPES:
        raise ValueError(f"device {str(device)!r} is not supported: glassgrad computes on 'cpu' "
                         "(NumPy) and 'cuda' (CuPy, pip install 'glassgrad[gpu]')")
    raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")


def to_device(a: Any, device: str):
    """Move array ``a`` to ``device`` (a device string or :class:`device`)."""
    device = normalize_device(device)
    if device == "cpu":
        return to_numpy(a)
    cp = _get_cupy()
    if cp is None:
        raise RuntimeError(
            f"device {device!r} needs glassgrad's GPU backend, CuPy, which is not installed: "
            "pip install 'glassgrad[gpu]' (cupy-cuda12x) on a machine with an NVIDIA GPU "
            "(gg.cuda.is_available() says whether the GPU backend is usable)"
        )
    if not cupy_available():  # pragma: no cover - depends on the machine
        raise RuntimeError(
            f"device {device!r} needs glassgrad's GPU backend, CuPy: it is installed but sees no "
            "NVIDIA GPU (check the driver and CUDA_VISIBLE_DEVICES; gg.cuda.is_available() is False)"
        )
    idx = int(device.split(":")[1])  # pragma: no cover - needs a GPU
    with cp.cuda.Device(idx):  # pragma: no cover
        return cp.asarray(a)


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy array with the data of ``a`` (copied from the GPU when needed)."""
    if isinstance(a, np.ndarray):
        return a
    if _cupy is not None and isinstance(a, _cupy.ndarray):  # pragma: no cover
        return _cupy.asnumpy(a)
    return np.asarray(a)
