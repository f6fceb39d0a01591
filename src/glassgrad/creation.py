"""Tensor constructors: ``zeros``, ``ones``, ``randn``, ``arange``, ``eye``, ... (PyTorch names)."""

from __future__ import annotations

from typing import Any, Callable

from . import dtypes as _dt
from ._sizes import size_arg
from .autograd import recording
from .autograd.grad_mode import STATE
from .backend import device_of, get_default_device, normalize_device, np, to_device, to_numpy
from .random import Generator, _rng
from .tensor import Tensor, _from_data, tensor

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "eye", "arange",
    "linspace", "rand", "randn", "randint", "randperm", "multinomial", "normal", "zeros_like", "ones_like",
    "full_like", "empty_like", "rand_like", "randn_like",
]


def _float_dtype(op: str, dtype: Any) -> Any:
    d = _dt.to_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"{op}: needs a floating dtype, got {d} (use randint for integers)")
    return d


def _out_dtype(op: str, dtype: Any, out: Tensor | None) -> Any:
    """The dtype of a factory call: ``dtype``, else ``out``'s (as PyTorch), else None."""
    if out is None:
        return dtype
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: argument 'out' must be a Tensor, got {type(out).__name__}")
    if dtype is not None and _dt.to_dtype(dtype) != out.dtype:
        raise TypeError(f"{op}: dtype {_dt.to_dtype(dtype)} does not match the dtype of out= "
                        f"({out.dtype})")
    return out.dtype


def _finish(arr: Any, dtype: Any, device: Any, requires_grad: bool, const: bool = True,
            out: Tensor | None = None, op: str = "") -> Tensor:
    if dtype is not None:
        arr = arr.astype(_dt.to_dtype(dtype), copy=False)
    if device is None:
        device = get_default_device() if out is None else out.device
    if normalize_device(device) != "cpu":
        arr = to_device(arr, normalize_device(device))
    if out is not None:
        return _write_out(op, out, arr, requires_grad)
    t = Tensor._make(arr, False)
    if requires_grad:
        t.requires_grad_(True)
    if const:
        recording.constant(t)  # the same values on every call: a recorded replay may keep it
    return t


def _write_out(op: str, out: Tensor, arr: Any, requires_grad: bool) -> Tensor:
    """Put a factory's result into ``out`` (resized when the shape differs, as PyTorch)."""
    if requires_grad or (out.requires_grad and STATE.grad_enabled):
        raise RuntimeError(f"{op}: functions with out= do not support automatic "
                           "differentiation, but out (or requires_grad=True) asks for it")
    if out.shape == arr.shape and out.device == device_of(arr):
        out.array[...] = arr
    else:
        out.array = arr.astype(out.dtype, copy=False)
    out._version[0] += 1
    return out


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor` but shares memory with a NumPy array when it can."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    if isinstance(data, np.ndarray):
        return _finish(data, dtype, device, False, const=False)
    return _from_data(data, dtype=dtype, device=device)


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``a`` (dtype and strides kept: a
    non-row-major ``a`` gives a tensor whose ``is_contiguous()`` is False, as PyTorch's)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(a).__name__}")
    t = Tensor._make(a, False)
    if not a.flags["C_CONTIGUOUS"]:
        t._strided = True
    return t


def _filled(op: str, fill: Callable[..., np.ndarray], doc: str) -> Callable[..., Tensor]:
    """The factory ``op(*size, out=None, dtype=None, device=None, requires_grad=False)`` whose
    values are ``fill(shape, dtype=...)`` (NumPy's ``zeros``, ``ones``, ``empty``)."""

    def factory(*size: Any, out: Tensor | None = None, dtype: Any = None, device: Any = None,
                requires_grad: bool = False, **kw: Any) -> Tensor:
        shp = size_arg(op, size, _size_kw(op, kw))
        d = _out_dtype(op, dtype, out)
        return _finish(fill(shp, dtype=_dt.to_dtype(d)), None, device, requires_grad,
                       out=out, op=op)

    factory.__name__ = factory.__qualname__ = op
    factory.__doc__ = doc
    return factory


zeros = _filled("zeros", np.zeros, "Zeros of the given size: ``zeros(2, 3)``, ``zeros((2, 3))``, "
                "``zeros(size=(2, 3))``.")
ones = _filled("ones", np.ones, "Ones of the given size (the same size forms as :func:`zeros`).")
empty = _filled("empty", np.empty, "An uninitialized tensor of the given size (the same size forms "
                "as :func:`zeros`).")


def _size_kw(op: str, kw: dict) -> Any:
    """``size=`` passed by keyword to a ``*size`` function arrives in ``kw``."""
    size = kw.pop("size", None)
    if kw:
        raise TypeError(f"{op}() got unexpected keyword arguments {sorted(kw)}")
    return size


def full(size: Any, fill_value: Any, *, out: Tensor | None = None, dtype: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; the dtype follows the value (float ->
    default float, int -> int64, bool -> bool) unless given."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dtype = _out_dtype("full", dtype, out)
    if dtype is None:
        dtype = (_dt.get_default_dtype() if isinstance(fill_value, float) else
                 _dt.bool if isinstance(fill_value, bool) else
                 _dt.int64 if isinstance(fill_value, int) else None)
    shp = size_arg("full", (size,))
    return _finish(np.full(shp, fill_value, dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad, out=out, op="full")


def eye(n: int, m: int | None = None, *, out: Tensor | None = None, dtype: Any = None,
        device: Any = None, requires_grad: bool = False) -> Tensor:
    size_arg("eye", (n,) if m is None else (n, m))
    dtype = _out_dtype("eye", dtype, out)
    return _finish(np.eye(n, m, dtype=_dt.to_dtype(dtype)), None, device, requires_grad,
                   out=out, op="eye")


def arange(start: Any, end: Any = None, step: Any = 1, *, out: Tensor | None = None,
           dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """``arange(5)``, ``arange(1, 4)``, ``arange(0, 1, 0.25)``: int64 for integer
    arguments, the default float dtype otherwise (as PyTorch)."""
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    dtype = _out_dtype("arange", dtype, out)
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dt.int64 if ints else _dt.get_default_dtype()
    return _finish(np.arange(start, end, step, dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad, out=out, op="arange")


def linspace(start: float, end: float, steps: int, *, out: Tensor | None = None,
             dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    size_arg("linspace", (steps,))
    dtype = _out_dtype("linspace", dtype, out)
    return _finish(np.linspace(start, end, steps, dtype=_dt.to_dtype(dtype)), None, device,
                   requires_grad, out=out, op="linspace")


def rand(*size: Any, generator: Generator | None = None, out: Tensor | None = None,
         dtype: Any = None, device: Any = None, requires_grad: bool = False, **kw: Any) -> Tensor:
    """Uniform on [0, 1) (the same size forms as :func:`zeros`)."""
    shp = size_arg("rand", size, _size_kw("rand", kw))
    d = _float_dtype("rand", _out_dtype("rand", dtype, out))
    arr = _rng(generator).random(shp, dtype=d if d in (_dt.float32, _dt.float64)
                                 else np.float64).astype(d, copy=False)
    return _finish(arr, None, device, requires_grad, const=False, out=out, op="rand")


def randn(*size: Any, generator: Generator | None = None, out: Tensor | None = None,
          dtype: Any = None, device: Any = None, requires_grad: bool = False, **kw: Any) -> Tensor:
    """Standard normal (the same size forms as :func:`zeros`)."""
    shp = size_arg("randn", size, _size_kw("randn", kw))
    d = _float_dtype("randn", _out_dtype("randn", dtype, out))
    arr = _rng(generator).standard_normal(
        shp, dtype=d if d in (_dt.float32, _dt.float64) else np.float64
    ).astype(d, copy=False)
    return _finish(arr, None, device, requires_grad, const=False, out=out, op="randn")


def normal(mean: float, std: float, size: Any, generator: Generator | None = None,
           dtype: Any = None, *, out: Tensor | None = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Normal with the given mean and standard deviation."""
    d = _float_dtype("normal", _out_dtype("normal", dtype, out))
    shp = size_arg("normal", (size,))
    return _finish((_rng(generator).normal(mean, std, shp)).astype(d), None, device,
                   requires_grad, const=False, out=out, op="normal")


def randint(low: int, high: Any = None, size: Any = None,
            generator: Generator | None = None, dtype: Any = None, device: Any = None, *,
            out: Tensor | None = None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high): ``randint(low, high, size)``; ``randint(high, size)``
    also works (as PyTorch). int64 unless ``dtype`` says otherwise."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: missing the argument 'size' (a tuple such as (2, 3))")
    shp = size_arg("randint", (size,))
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = _out_dtype("randint", dtype, out)
    arr = _rng(generator).integers(low, high, size=shp)
    return _finish(arr.astype(_dt.to_dtype(dtype) if dtype is not None else np.int64), None,
                   device, requires_grad, const=False, out=out, op="randint")


def randperm(n: int, generator: Generator | None = None, dtype: Any = None,
             device: Any = None, *, out: Tensor | None = None,
             requires_grad: bool = False) -> Tensor:
    size_arg("randperm", (n,))
    dtype = _out_dtype("randperm", dtype, out)
    arr = _rng(generator).permutation(n).astype(np.int64)
    return _finish(arr, dtype, device, requires_grad, const=False, out=out, op="randperm")


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,  # noqa: A002
                generator: Generator | None = None, out: Tensor | None = None) -> Tensor:
    """Draw category indices with probabilities proportional to the weights in ``input``.

    Parameters
    ----------
    input : Tensor
        Non-negative, finite floating weights: one distribution (1-D, ``n`` categories) or
        one per row (2-D, ``m x n``). They need not sum to 1; each row must have a positive sum.
    num_samples : int
        Draws per distribution (at least 1).
    replacement : bool
        Draw with replacement. Without it the draws of a row are distinct categories (drawn
        one after the other, each time from the categories left); ``num_samples`` may not
        exceed the number of categories, and once the categories of positive weight are used
        up the rest are zero-weight ones in random order (what PyTorch does too).
    generator : Generator, optional
        Source of randomness (the default generator otherwise).

    Returns
    -------
    Tensor
        int64 indices of shape ``(num_samples,)`` or ``(m, num_samples)``, on ``input``'s
        device. Same distribution as ``torch.multinomial``; not the same numbers (glassgrad's
        generator is NumPy's PCG64).
    """
    op = "multinomial"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor of weights, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: only supports floating-point dtypes for input, got {input.dtype}")
    if input.ndim not in (1, 2):
        raise ValueError(f"{op}: prob_dist must be 1 or 2 dim, got shape {tuple(input.shape)}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"{op}: num_samples must be an int, got {type(num_samples).__name__}")
    if num_samples <= 0:
        raise ValueError(f"{op}: cannot sample num_samples={num_samples} <= 0 samples")
    w = np.asarray(to_numpy(input.array), dtype=np.float64)
    rows = w.reshape(-1, w.shape[-1]) if w.ndim == 2 else w[None]
    n = rows.shape[1]
    if n == 0:
        raise ValueError(f"{op}: the distribution has no categories (shape {tuple(input.shape)})")
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise ValueError(f"{op}: probability tensor contains either inf, nan or element < 0")
    sums = rows.sum(axis=1)
    if np.any(sums <= 0):
        raise ValueError(f"{op}: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > n:
        raise ValueError(f"{op}: cannot sample num_samples={num_samples} > {n} categories "
                         "without replacement (pass replacement=True)")
    rng = _rng(generator)
    if replacement:
        draws = np.stack([rng.choice(n, size=num_samples, p=r / r.sum()) for r in rows])
    else:
        draws = np.stack([_draw_distinct(rng, r, num_samples) for r in rows])
    draws = draws.astype(np.int64)
    arr = draws if input.ndim == 2 else draws[0]
    return _finish(arr, None, input.device, False, const=False, out=out, op=op)


def _draw_distinct(rng: Any, w: Any, k: int) -> Any:
    """``k`` distinct categories, successively drawn with weights ``w`` (zero weights last)."""
    pos = np.flatnonzero(w > 0)
    first = rng.choice(pos, size=min(k, pos.size), replace=False, p=w[pos] / w[pos].sum())
    if k <= pos.size:
        return first
    return np.concatenate([first, rng.permutation(np.flatnonzero(w == 0))[:k - pos.size]])


def _like(op: str, t: Tensor, dtype: Any, device: Any) -> tuple:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    return t.shape, (dtype if dtype is not None else t.dtype), (device if device is not None
                                                               else t.device)


def zeros_like(input: Tensor, dtype: Any = None, device: Any = None,  # noqa: A002
               requires_grad: bool = False) -> Tensor:
    s, d, dev = _like("zeros_like", input, dtype, device)
    return zeros(s, dtype=d, device=dev, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype: Any = None, device: Any = None,  # noqa: A002
              requires_grad: bool = False) -> Tensor:
    s, d, dev = _like("ones_like", input, dtype, device)
    return ones(s, dtype=d, device=dev, requires_grad=requires_grad)


def empty_like(input: Tensor, dtype: Any = None, device: Any = None,  # noqa: A002
               requires_grad: bool = False) -> Tensor:
    s, d, dev = _like("empty_like", input, dtype, device)
    return empty(s, dtype=d, device=dev, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,  # noqa: A002
              requires_grad: bool = False) -> Tensor:
    s, d, dev = _like("full_like", input, dtype, device)
    return full(s, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def rand_like(input: Tensor, dtype: Any = None, generator: Generator | None = None,  # noqa: A002
              device: Any = None, requires_grad: bool = False) -> Tensor:
    s, d, dev = _like("rand_like", input, dtype, device)
    return rand(s, dtype=d, generator=generator, device=dev, requires_grad=requires_grad)


def randn_like(input: Tensor, dtype: Any = None, generator: Generator | None = None,  # noqa: A002
               device: Any = None, requires_grad: bool = False) -> Tensor:
    s, d, dev = _like("randn_like", input, dtype, device)
    return randn(s, dtype=d, generator=generator, device=dev, requires_grad=requires_grad)
