"""``gg.cuda``: is the GPU backend usable? (the parts of ``torch.cuda`` programs ask).

glassgrad runs on the GPU through CuPy (``pip install 'glassgrad[gpu]'``, an NVIDIA GPU).
:func:`is_available` is True only when CuPy imports and sees a GPU; without it, asking for
``'cuda'`` tensors is a ``RuntimeError`` that says what is missing.

>>> import glassgrad as gg
>>> device = gg.device("cuda" if gg.cuda.is_available() else "cpu")

Random numbers: glassgrad draws them all (GPU tensors too) from one generator, seeded by
``gg.manual_seed``; :func:`manual_seed` and :func:`manual_seed_all` are accepted so that
programs run, and have no effect of their own.
"""

from __future__ import annotations

import operator
from typing import Any

from . import tensortypes as _tt
from .backend import _get_cupy, cupy_available

__all__ = ["is_available", "device_count", "current_device", "manual_seed", "manual_seed_all",
           "synchronize", "empty_cache", "FloatTensor", "DoubleTensor", "HalfTensor",
           "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]


def is_available() -> bool:
    """True when the GPU backend works: CuPy imports and sees at least one GPU."""
    return cupy_available()


def device_count() -> int:
    """Number of GPUs CuPy sees (0 without the GPU backend)."""
    if not cupy_available():
        return 0
    return int(_get_cupy().cuda.runtime.getDeviceCount())  # pragma: no cover - needs a GPU


def current_device() -> int:
    """Index of the current GPU; a ``RuntimeError`` without the GPU backend."""
    if not cupy_available():
        raise RuntimeError("cuda.current_device: no GPU backend (CuPy with an NVIDIA GPU); "
                           "pip install 'glassgrad[gpu]'")
    return int(_get_cupy().cuda.Device().id)  # pragma: no cover - needs a GPU


def manual_seed(seed: int) -> None:
    """Accepted for PyTorch programs; no effect: every random number comes from the
    generator that ``gg.manual_seed`` seeds."""
    operator.index(seed)


def manual_seed_all(seed: int) -> None:
    """Accepted for PyTorch programs; no effect (see :func:`manual_seed`)."""
    operator.index(seed)


def synchronize(device: Any = None) -> None:
    """Wait for the GPU's queued work to finish (nothing to wait for without the GPU backend)."""
    if cupy_available():  # pragma: no cover - needs a GPU
        _get_cupy().cuda.Device().synchronize()


def empty_cache() -> None:
    """Give CuPy's cached GPU memory back to the driver (nothing to do without CuPy)."""
    if cupy_available():  # pragma: no cover - needs a GPU
        _get_cupy().get_default_memory_pool().free_all_blocks()


(FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor,
 BoolTensor) = _tt._types("cuda", "glassgrad.cuda")
