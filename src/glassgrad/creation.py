"""Tensor constructors: ``zeros``, ``ones``, ``randn``, ``arange``, ``eye``, ... (PyTorch names)."""

from __future__ import annotations

from typing import Any

from . import dtypes as _dt
from .autograd.grad_mode import STATE
from .backend import normalize_device, np, to_device
from .ops._util import shape_tuple
from .random import Generator, _rng
from .tensor import Tensor, tensor

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "eye", "arange",
    "linspace", "rand", "randn", "randint", "randperm", "normal", "zeros_like", "ones_like",
    "full_like", "empty_like", "rand_like", "randn_like",
]


def _float_dtype(op: str, dtype: Any) -> Any:
    d = _dt.to_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"{op}: needs a floating dtype, got {d} (use randint for integers)")
    return d


def _shape(op: str, size: Any) -> tuple:
    shp = shape_tuple(size)
    if any(s < 0 for s in shp):
        raise ValueError(f"{op}: negative dimension in size {shp}")
    return shp


def _finish(arr: Any, dtype: Any, device: Any, requires_grad: bool, const: bool = True) -> Tensor:
    if dtype is not None:
        arr = arr.astype(_dt.to_dtype(dtype), copy=False)
    if device is not None and normalize_device(device) != "cpu":
        arr = to_device(arr, normalize_device(device))
    t = Tensor._make(arr, False)
    if requires_grad:
        t.requires_grad_(True)
    if const and STATE.recorder is not None:
        STATE.recorder.constant(t)  # gg.capture may use it: same values on every call
    return t


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor` but shares memory with a NumPy array when it can."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    if isinstance(data, np.ndarray):
        return _finish(data, dtype, device, False, const=False)
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``a`` (dtype kept)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(a).__name__}")
    return Tensor._make(a, False)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(_shape("zeros", size), dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(_shape("ones", size), dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.empty(_shape("empty", size), dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = (_dt.get_default_dtype() if isinstance(fill_value, float) else
                 _dt.bool if isinstance(fill_value, bool) else
                 _dt.int64 if isinstance(fill_value, int) else None)
    shp = (size,) if isinstance(size, int) else tuple(size)
    return _finish(np.full(shp, fill_value, dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=_dt.to_dtype(dtype)), None, device, requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``arange(5)``, ``arange(1, 4)``, ``arange(0, 1, 0.25)``: int64 for integer
    arguments, the default float dtype otherwise (as PyTorch)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dt.int64 if ints else _dt.get_default_dtype()
    return _finish(np.arange(start, end, step, dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    return _finish(np.linspace(start, end, steps, dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    d = _float_dtype("rand", dtype)
    arr = _rng(generator).random(shape_tuple(size), dtype=d if d in (_dt.float32, _dt.float64)
                                 else np.float64).astype(d, copy=False)
    return _finish(arr, None, device, requires_grad, const=False)


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    d = _float_dtype("randn", dtype)
    arr = _rng(generator).standard_normal(
        shape_tuple(size), dtype=d if d in (_dt.float32, _dt.float64) else np.float64
    ).astype(d, copy=False)
    return _finish(arr, None, device, requires_grad, const=False)


def normal(mean: float, std: float, size: Any, generator: Generator | None = None,
           dtype: Any = None) -> Tensor:
    """Normal with the given mean and standard deviation."""
    d = _float_dtype("normal", dtype)
    shp = (size,) if isinstance(size, int) else tuple(size)
    return _finish((_rng(generator).normal(mean, std, shp)).astype(d), None, None, False, const=False)


def randint(low: int, high: int | None = None, size: Any = None,
            generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Integers uniform in [low, high); ``randint(high, size)`` also works."""
    if high is None or (size is None and isinstance(high, (tuple, list))):
        if size is None and isinstance(high, (tuple, list)):
            size = high
        low, high = 0, low
    arr = _rng(generator).integers(low, high, size=tuple(size) if size is not None else ())
    return _finish(arr.astype(_dt.to_dtype(dtype) if dtype is not None else np.int64), None,
                   device, False, const=False)


def randperm(n: int, generator: Generator | None = None, dtype: Any = None,
             device: Any = None) -> Tensor:
    arr = _rng(generator).permutation(n).astype(np.int64)
    return _finish(arr, dtype, device, False, const=False)


def _like(t: Tensor, dtype: Any) -> tuple:
    return t.shape, (dtype if dtype is not None else t.dtype)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    s, d = _like(t, dtype)
    return zeros(s, dtype=d, device=t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    s, d = _like(t, dtype)
    return ones(s, dtype=d, device=t.device, requires_grad=requires_grad)


def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    s, d = _like(t, dtype)
    return empty(s, dtype=d, device=t.device, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    s, d = _like(t, dtype)
    return full(s, fill_value, dtype=d, device=t.device, requires_grad=requires_grad)


def rand_like(t: Tensor, dtype: Any = None, generator: Generator | None = None) -> Tensor:
    s, d = _like(t, dtype)
    return rand(s, dtype=d, generator=generator)


def randn_like(t: Tensor, dtype: Any = None, generator: Generator | None = None) -> Tensor:
    s, d = _like(t, dtype)
    return randn(s, dtype=d, generator=generator)
