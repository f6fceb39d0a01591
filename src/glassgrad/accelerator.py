"""``gg.accelerator``: the device-neutral API of ``torch.accelerator`` (PyTorch 2.13).

glassgrad's only accelerator is an NVIDIA GPU through CuPy (``pip install 'glassgrad[gpu]'``).

>>> import glassgrad as gg
>>> device = gg.accelerator.current_accelerator() or gg.device("cpu")
"""

from __future__ import annotations

from typing import Any

from . import cuda as _cuda
from .backend import device

__all__ = ["is_available", "current_accelerator", "device_count", "synchronize"]


def is_available() -> bool:
    """True when an accelerator (a GPU CuPy can use) is there."""
    return _cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """``device('cuda')`` when glassgrad's GPU backend is usable, else None (as PyTorch on a
    CPU-only machine). ``check_available`` is accepted; the answer is always a usable one."""
    return device("cuda") if _cuda.is_available() else None


def device_count() -> int:
    """Number of accelerators (GPUs CuPy sees; 0 without the GPU backend)."""
    return _cuda.device_count()


def synchronize(device: Any = None) -> None:
    """Wait for the accelerator's queued work (nothing to do without one)."""
    _cuda.synchronize(device)
