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
    "np",
    "xp_of",
    "is_array",
    "device_of",
    "to_device",
    "cupy_available",
    "normalize_device",
    "to_numpy",
]

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


def device_of(a: Any) -> str:
    """``'cpu'`` for NumPy data, ``'cuda:N'`` for CuPy data."""
    if isinstance(a, np.ndarray) or _cupy is None or not isinstance(a, _cupy.ndarray):
        return "cpu"
    return f"cuda:{a.device.id}"  # pragma: no cover - needs a GPU


def normalize_device(device: Any) -> str:
    """Turn ``None``, ``'cpu'``, ``'cuda'``, ``'cuda:1'`` or a ``Device`` into a canonical string."""
    if device is None:
        return "cpu"
    d = str(device).lower()
    if d == "cpu":
        return "cpu"
    if d == "cuda" or d == "gpu":
        return "cuda:0"
    if d.startswith("cuda:") and d[5:].isdigit():
        return d
    raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")


def to_device(a: Any, device: str):
    """Move array ``a`` to ``device`` (a canonical device string)."""
    if device == "cpu":
        return to_numpy(a)
    cp = _get_cupy()
    if cp is None:
        raise RuntimeError(
            f"device {device!r} needs CuPy, which is not installed: "
            "pip install 'glassgrad[gpu]' (cupy-cuda12x) on a machine with an NVIDIA GPU"
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
