"""More of ``torch.Tensor``'s methods, as a mixin that :class:`~glassgrad.tensor.Tensor`
inherits (kept apart from ``tensor.py`` so that file stays readable).

Almost every method here is written with existing ops (``+``, ``*``, ``where``, indexing,
``gather``, ``index_add``, ...), so its gradient is the gradient of that small graph and
needs no backward of its own. The exception, ``scatter``, is an op in
:mod:`glassgrad.ops.extra` with its derivation.

In-place variants (``x.add_(...)``, ``x.masked_fill_(...)``, ``x.normal_()``, ...) follow
``Tensor._inplace``: without autograd they overwrite the array; on a tensor that is part
of a recorded graph the out-of-place result replaces the tensor's value and history; on a
leaf that requires grad they raise (wrap the update in ``gg.no_grad()``), as PyTorch.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any, Callable

from .. import dtypes as _dt
from ..autograd.grad_mode import STATE, no_grad
from ..backend import np, to_numpy, xp_of
from ..ops import extra as X
from ..ops._util import norm_dim, op_error, shape_tuple
from ..random import Generator, _rng
from ._common import where

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])

_ROUNDING = (None, "trunc", "floor")


def _T() -> type:
    from ..tensor import Tensor

    return Tensor


def _arr(x: Any) -> Any:
    return x.array if isinstance(x, _T()) else x


def _index_array(op: str, index: Any, ndim: int | None = None) -> Any:
    idx = _arr(index)
    idx = idx if hasattr(idx, "dtype") else np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise op_error(op, f"index must be an integer tensor, got dtype {idx.dtype}", TypeError)
    if ndim is not None and idx.ndim != ndim:
        raise op_error(op, f"index must have {ndim} dimension(s), got shape {tuple(idx.shape)}")
    return idx


class TensorExtras:
    """Methods of ``torch.Tensor`` written with glassgrad's existing ops (mixin)."""

    __slots__ = ()

    # ------------------------------------------------------------------ in-place helpers
    def _inplace_from(self, op: str, compute: Callable[[], Any], other: Any = None) -> Any:
        """In place via the out-of-place ``compute()`` (same shape; cast to this dtype)."""

        def write(d: Any) -> None:
            with no_grad():
                r = compute()
            if tuple(r.shape) != tuple(d.shape):
                raise ValueError(f"the result has shape {tuple(r.shape)}, but an in-place op "
                                 f"must keep the tensor's shape {tuple(d.shape)}")
            d[...] = r.array

        return self._inplace(op, write, compute, other)

    def _inplace_view(self, op: str, compute: Callable[[], Any]) -> Any:
        """A shape-changing in-place op (``squeeze_``, ``t_``): this tensor becomes the
        result (same memory, new shape and, under autograd, new history)."""
        if STATE.grad_enabled and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(f"{op}: a leaf tensor that requires grad is being used in an "
                               "in-place operation; wrap it in gg.no_grad()")
        new = compute()
        # the one place here that re-points the tensor's array slot (as Tensor._inplace)
        self.array, self.grad_fn, self._out_idx = new.array, new.grad_fn, new._out_idx
        if new.grad_fn is not None:
            self._version = new._version
        return self

    def _random_fill(self, op: str, generator: Generator | None,
                     draw: Callable[[np.random.Generator, tuple], Any]) -> Any:
        """Overwrite with ``draw(rng, shape)`` (NumPy's generator of ``generator``, this
        tensor's shape; an array converted to this dtype)."""
        if self.requires_grad and STATE.grad_enabled:
            raise RuntimeError(f"{op}: a tensor that requires grad is being used in an "
                               "in-place operation; wrap it in gg.no_grad() (as nn.init does)")
        vals = np.asarray(draw(_rng(generator), self.shape)).astype(self.dtype)
        xp = xp_of(self.array)
        self.array[...] = xp.asarray(vals) if xp is not np else vals
        self._version[0] += 1
        return self

    # ------------------------------------------------------------------ arithmetic
    def add(self, other: Any, *, alpha: Any = 1) -> Any:
        """``self + alpha * other``."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other: Any, *, alpha: Any = 1) -> Any:
        """``self - alpha * other``."""
        return self - (other if alpha == 1 else other * alpha)

    subtract = sub

    def mul(self, other: Any) -> Any:
        return self * other

    multiply = mul

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Any:
        """``self / other``; ``rounding_mode='trunc'`` rounds toward zero, ``'floor'`` down
        (integers stay integers with a rounding mode; the gradient of a rounded result is 0)."""
        if rounding_mode not in _ROUNDING:
            raise op_error("div", f"rounding_mode must be None, 'trunc' or 'floor', got "
                           f"{rounding_mode!r}")
        if rounding_mode is None:
            return self / other
        T = _T()
        a, b = self._operands(other)
        bd = _arr(b)
        if a.dtype.kind in "biu":
            ad, bd = a.array, np.asarray(bd) if not hasattr(bd, "dtype") else bd
            if np.any(bd == 0):
                raise op_error("div", "integer division by zero", ZeroDivisionError)
            q = ad // bd
            if rounding_mode == "trunc":
                q = q + ((q < 0) & (q * bd != ad))
            return T._make(xp_of(ad).asarray(q, dtype=a.dtype), False)
        q = a / b
        return q.trunc() if rounding_mode == "trunc" else q.floor()

    divide = div

    def true_divide(self, other: Any) -> Any:
        return self / other

    def floor_divide(self, other: Any) -> Any:
        return self.div(other, rounding_mode="floor")

    def neg(self) -> Any:
        return -self

    negative = neg

    def positive(self) -> Any:
        return self

    def absolute(self) -> Any:
        return self.abs()

    def lerp(self, end: Any, weight: Any) -> Any:
        """``self + weight * (end - self)``."""
        return self + weight * (end - self)

    def addmm(self, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """``beta * self + alpha * (mat1 @ mat2)`` (``self`` ignored when ``beta == 0``)."""
        if mat1.ndim != 2 or mat2.ndim != 2:
            raise op_error("addmm", f"mat1 and mat2 must be matrices, got shapes "
                           f"{tuple(mat1.shape)} and {tuple(mat2.shape)}")
        return _beta_alpha(self, mat1.mm(mat2), beta, alpha)

    def baddbmm(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """``beta * self + alpha * (batch1 @ batch2)`` for batches of matrices."""
        return _beta_alpha(self, batch1.bmm(batch2), beta, alpha)

    def addbmm(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """``beta * self + alpha * Σ_b batch1[b] @ batch2[b]``."""
        return _beta_alpha(self, batch1.bmm(batch2).sum(0), beta, alpha)

    def addmv(self, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """``beta * self + alpha * (mat @ vec)``."""
        return _beta_alpha(self, mat.mv(vec), beta, alpha)

    def addr(self, vec1: Any, vec2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """``beta * self + alpha * outer(vec1, vec2)``."""
        return _beta_alpha(self, vec1.outer(vec2), beta, alpha)

    def addcmul(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
        """``self + value * tensor1 * tensor2``."""
        p = tensor1 * tensor2
        return self + (p if value == 1 else p * value)

    def addcdiv(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
        """``self + value * tensor1 / tensor2``."""
        q = tensor1 / tensor2
        return self + (q if value == 1 else q * value)

    def mv(self, vec: Any) -> Any:
        if self.ndim != 2 or vec.ndim != 1:
            raise op_error("mv", f"expects a matrix and a vector, got shapes "
                           f"{tuple(self.shape)} and {tuple(vec.shape)}")
        return self.matmul(vec)

    def inner(self, other: Any) -> Any:
        """Sum of products over the last dimension of both (shape
        ``self.shape[:-1] + other.shape[:-1]``)."""
        if self.ndim == 0 or other.ndim == 0:
            return self * other
        k = self.shape[-1]
        if other.shape[-1] != k:
            raise op_error("inner", f"last dimensions differ: {tuple(self.shape)} and "
                           f"{tuple(other.shape)}")
        r = self.reshape(-1, k).mm(other.reshape(-1, k).t())
        return r.reshape(*self.shape[:-1], *other.shape[:-1])

    def ger(self, vec2: Any) -> Any:
        return self.outer(vec2)

    def clamp_min(self, min: Any) -> Any:
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> Any:
        return self.clamp(max=max)

    def deg2rad(self) -> Any:
        return self._f() * (math.pi / 180)

    def rad2deg(self) -> Any:
        return self._f() * (180 / math.pi)

    def sgn(self) -> Any:
        return self.sign()

    def isclose(self, other: Any, rtol: float = 1e-5, atol: float = 1e-8,
                equal_nan: builtins.bool = False) -> Any:
        """Elementwise ``|self − other| ≤ atol + rtol·|other|`` (a bool tensor)."""
        d = self.array
        return _T()._make(xp_of(d).isclose(d, _arr(other), rtol=rtol, atol=atol,
                                           equal_nan=equal_nan), False)

    # ------------------------------------------------------------------ comparisons
    def greater(self, other: Any) -> Any:
        return self > other

    def greater_equal(self, other: Any) -> Any:
        return self >= other

    def less(self, other: Any) -> Any:
        return self < other

    def less_equal(self, other: Any) -> Any:
        return self <= other

    def not_equal(self, other: Any) -> Any:
        return self != other

    def logical_not(self) -> Any:
        return _T()._make(xp_of(self.array).logical_not(self.array), False)

    def logical_and(self, other: Any) -> Any:
        return _T()._make(xp_of(self.array).logical_and(self.array, _arr(other)), False)

    def logical_or(self, other: Any) -> Any:
        return _T()._make(xp_of(self.array).logical_or(self.array, _arr(other)), False)

    def logical_xor(self, other: Any) -> Any:
        return _T()._make(xp_of(self.array).logical_xor(self.array, _arr(other)), False)

    # ------------------------------------------------------------------ information
    def nelement(self) -> int:
        return self.numel()

    def ndimension(self) -> int:
        return self.ndim

    def element_size(self) -> int:
        """Bytes per element."""
        return int(self.array.itemsize)

    def is_floating_point(self) -> builtins.bool:
        return self.array.dtype.kind == "f"

    def is_signed(self) -> builtins.bool:
        return self.array.dtype.kind in "if"

    def is_same_size(self, other: Any) -> builtins.bool:
        return tuple(self.shape) == tuple(other.shape)

    def stride(self, dim: int | None = None) -> Any:
        """Steps in elements between neighbours along each dimension."""
        s = tuple(int(v) // self.array.itemsize for v in self.array.strides)
        return s if dim is None else s[norm_dim(dim, self.ndim, "stride")]

    def data_ptr(self) -> int:
        """Address of the first element."""
        a = self.array
        if xp_of(a) is np:
            return int(a.__array_interface__["data"][0])
        return int(a.data.ptr)  # pragma: no cover - CuPy

    def storage_offset(self) -> int:
        """Elements between the start of the underlying memory block and the first element
        (0 unless this tensor is a view into a larger array)."""
        a = base = self.array
        while getattr(base, "base", None) is not None and hasattr(base.base, "__array_interface__"):
            base = base.base
        if base is a or xp_of(a) is not np:
            return 0
        return (a.__array_interface__["data"][0] - base.__array_interface__["data"][0]) \
            // a.itemsize

    def get_device(self) -> int:
        """-1 on the CPU, else the GPU's index."""
        return -1 if self.device == "cpu" else int(getattr(self.array.device, "id", 0))

    @property
    def is_cpu(self) -> builtins.bool:
        return self.device == "cpu"

    @property
    def H(self) -> Any:
        """Conjugate transpose of a matrix (for real tensors: ``.T`` of a 2-D tensor)."""
        if self.ndim not in (0, 2):
            raise op_error("H", f"needs a matrix, got shape {tuple(self.shape)}")
        return self.T if self.ndim == 2 else self

    @property
    def mH(self) -> Any:
        return self.mT

    def adjoint(self) -> Any:
        return self.mT

    # ------------------------------------------------------------------ creation
    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None,
                 requires_grad: builtins.bool = False) -> Any:
        """A tensor of ``size`` filled with ``fill_value`` (this dtype and device)."""
        dt = self.dtype if dtype is None else _dt.to_dtype(dtype)
        arr = xp_of(self.array).full(_size(size), fill_value, dtype=dt)
        return _T()._make(arr, False).requires_grad_(requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None,
                  requires_grad: builtins.bool = False) -> Any:
        """An uninitialized tensor of ``size`` (this dtype and device)."""
        dt = self.dtype if dtype is None else _dt.to_dtype(dtype)
        arr = xp_of(self.array).empty(shape_tuple(size), dtype=dt)
        return _T()._make(arr, False).requires_grad_(requires_grad)

    # ------------------------------------------------------------------ random fills
    def normal_(self, mean: float = 0.0, std: float = 1.0, *,
                generator: Generator | None = None) -> Any:
        """Fill with samples of N(mean, std²)."""
        return self._random_fill("normal_", generator, lambda g, shape: g.normal(mean, std, shape))

    def uniform_(self, from_: float = 0.0, to: float = 1.0, *,
                 generator: Generator | None = None) -> Any:
        """Fill with samples of U[from_, to)."""
        return self._random_fill("uniform_", generator, lambda g, shape: g.uniform(from_, to, shape))

    def exponential_(self, lambd: float = 1.0, *, generator: Generator | None = None) -> Any:
        """Fill with samples of the exponential distribution of rate ``lambd``."""
        if lambd <= 0:
            raise op_error("exponential_", f"lambd must be positive, got {lambd}")
        return self._random_fill("exponential_", generator,
                                 lambda g, shape: g.exponential(1.0 / lambd, shape))

    def log_normal_(self, mean: float = 1.0, std: float = 2.0, *,
                    generator: Generator | None = None) -> Any:
        return self._random_fill("log_normal_", generator, lambda g, shape: g.lognormal(mean, std, shape))

    def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *,
                generator: Generator | None = None) -> Any:
        return self._random_fill("cauchy_", generator,
                                 lambda g, shape: median + sigma * g.standard_cauchy(shape))

    def geometric_(self, p: float, *, generator: Generator | None = None) -> Any:
        if not 0 < p <= 1:
            raise op_error("geometric_", f"p must be in (0, 1], got {p}")
        return self._random_fill("geometric_", generator, lambda g, shape: g.geometric(p, shape))

    def bernoulli_(self, p: Any = 0.5, *, generator: Generator | None = None) -> Any:
        """Fill with 0/1 samples, 1 with probability ``p`` (a number or a tensor)."""
        pa = to_numpy(_arr(p)) if isinstance(p, _T()) else np.asarray(p)
        if np.any((pa < 0) | (pa > 1)):
            raise op_error("bernoulli_", "p must be in [0, 1]")
        return self._random_fill("bernoulli_", generator, lambda g, shape: g.random(shape) < pa)

    def bernoulli(self, p: Any = None, *, generator: Generator | None = None) -> Any:
        """0/1 samples with probabilities ``self`` (or ``p``), no gradient."""
        probs = self if p is None else p
        out = _T()._make(xp_of(self.array).zeros(self.shape, dtype=self.dtype), False)
        return out.bernoulli_(probs, generator=generator)

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: Generator | None = None) -> Any:
        """Category indices drawn with the weights in each row (:func:`glassgrad.multinomial`)."""
        from ..creation import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)

    def random_(self, from_: int = 0, to: int | None = None, *,
                generator: Generator | None = None) -> Any:
        """Fill with integers uniform on ``[from_, to)`` (``random_(to)``: ``[0, to)``;
        no bound: ``[0, 2^mantissa]`` for floats, the dtype's range for integers)."""
        if to is None and from_ != 0:
            from_, to = 0, from_
        if to is None:
            dt = self.dtype
            to = (2 ** (np.finfo(dt).nmant + 1) + 1 if dt.kind == "f"
                  else 2 if dt.kind == "b" else int(np.iinfo(dt).max) + 1)
        if to <= from_:
            raise op_error("random_", f"expects from_ < to, got {from_} and {to}")
        dt = self.dtype if self.dtype.kind in "iu" else np.int64
        return self._random_fill("random_", generator,
                                 lambda g, shape: g.integers(from_, to, shape, dtype=dt))

    # ------------------------------------------------------------------ masking / indexing
    def masked_fill_(self, mask: Any, value: Any) -> Any:
        return self._inplace_from("masked_fill_", lambda: self.masked_fill(mask, value), value)

    def masked_select(self, mask: Any) -> Any:
        """The elements where ``mask`` is true, as a 1-D tensor (both broadcast)."""
        m = _arr(mask)
        shape = np.broadcast_shapes(tuple(self.shape), tuple(m.shape))
        mb = xp_of(m).broadcast_to(m, shape)
        x = self if tuple(self.shape) == shape else self.expand(shape)
        return x[mb]

    def masked_scatter(self, mask: Any, source: Any) -> Any:
        """``self`` with the positions where ``mask`` is true filled, in row-major order,
        with consecutive elements of ``source``."""
        m = _arr(mask)
        m = xp_of(m).broadcast_to(m, tuple(self.shape))
        k = int(m.sum())
        if source.numel() < k:
            raise op_error("masked_scatter", f"source has {source.numel()} elements but the "
                           f"mask selects {k}")
        pos = _T()._make(xp_of(m).flatnonzero(m), False)
        flat = _zeros_like(self).reshape(-1).index_add(0, pos, source.reshape(-1)[:k])
        return where(m, flat.reshape(self.shape), self)

    def masked_scatter_(self, mask: Any, source: Any) -> Any:
        return self._inplace_from("masked_scatter_", lambda: self.masked_scatter(mask, source),
                                  source)

    def _dim_mask(self, op: str, dim: int, index: Any) -> tuple:
        d = norm_dim(dim, self.ndim, op)
        idx = _index_array(op, index)
        if idx.ndim > 1:
            raise op_error(op, f"index must be 1-D, got shape {tuple(idx.shape)}")
        n = self.shape[d] if self.ndim else 1
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise op_error(op, f"index out of range for dim {d} of size {n}", IndexError)
        sel = np.zeros(n, dtype=bool)
        sel[to_numpy(idx).reshape(-1)] = True
        shape = [1] * self.ndim
        if self.ndim:
            shape[d] = n
        m = np.broadcast_to(sel.reshape(shape), tuple(self.shape))
        return d, idx, xp_of(self.array).asarray(m) if xp_of(self.array) is not np else m

    def index_fill(self, dim: int, index: Any, value: Any) -> Any:
        """``self`` with the slices ``index`` of ``dim`` set to ``value`` (a number or a
        0-d tensor, which then gets the gradient of those slices)."""
        _, _, m = self._dim_mask("index_fill", dim, index)
        v = value if isinstance(value, _T()) else _T()(np.asarray(value, dtype=self.dtype))
        return where(m, v.to(self.dtype), self)

    def index_fill_(self, dim: int, index: Any, value: Any) -> Any:
        return self._inplace_from("index_fill_", lambda: self.index_fill(dim, index, value),
                                  value)

    def index_copy(self, dim: int, index: Any, source: Any) -> Any:
        """``self`` with slice ``index[i]`` of ``dim`` replaced by slice ``i`` of ``source``."""
        d, idx, m = self._dim_mask("index_copy", dim, index)
        it = index if isinstance(index, _T()) else _T()._make(idx, False)
        placed = _zeros_like(self).index_add(d, it.reshape(-1), source.to(self.dtype))
        return where(m, placed, self)

    def index_copy_(self, dim: int, index: Any, source: Any) -> Any:
        return self._inplace_from("index_copy_", lambda: self.index_copy(dim, index, source),
                                  source)

    def index_add_(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
        return self._inplace_from(
            "index_add_", lambda: self.index_add(dim, index, source, alpha=alpha), source)

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Any:
        return self._inplace_from("scatter_add_", lambda: self.scatter_add(dim, index, src), src)

    def scatter(self, dim: int, index: Any, src: Any = None, *, value: Any = None,
                reduce: str | None = None) -> Any:
        """``self`` with ``src[i][j]`` (or the number ``value``) written at
        ``[index[i][j]][j]`` for ``dim=0`` (as ``torch.scatter``); ``reduce='add'`` adds,
        ``reduce='multiply'`` multiplies (no gradient) instead of replacing."""
        if src is None and value is None:
            raise op_error("scatter", "needs src (a tensor) or value (a number)", TypeError)
        if src is not None and not isinstance(src, _T()):
            value, src = src, None
        d = norm_dim(dim, self.ndim, "scatter")
        idx = _index_array("scatter", index, builtins.max(self.ndim, 1))
        for i in range(self.ndim):
            if i != d and idx.shape[i] > self.shape[i]:
                raise op_error("scatter", f"index of shape {tuple(idx.shape)} is larger than "
                               f"self {tuple(self.shape)} outside dim {d}", IndexError)
        n = self.shape[d]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise op_error("scatter", f"index out of range for dim {d} of size {n}", IndexError)
        if src is None:
            s = _T()._make(xp_of(self.array).full(idx.shape, value, dtype=self.dtype), False)
        else:
            if builtins.any(idx.shape[i] > src.shape[i] for i in range(idx.ndim)):
                raise op_error("scatter", f"index of shape {tuple(idx.shape)} is larger than "
                               f"src {tuple(src.shape)}", IndexError)
            s = src[tuple(slice(0, k) for k in idx.shape)].to(self.dtype)
        if reduce is None:
            m = X.scatter_mask(idx, d, tuple(self.shape))
            return where(m, X.ScatterPut.apply(s, idx, d, tuple(self.shape)), self)
        if reduce == "add":
            return self.scatter_add(d, _T()._make(idx, False), s)
        if reduce == "multiply":
            if STATE.grad_enabled and (self.requires_grad or s.requires_grad):
                raise op_error("scatter", "reduce='multiply' has no gradient", RuntimeError)
            out = self.array.copy()
            np.multiply.at(out, X._along_index(idx, d), s.array)
            return _T()._make(out, False)
        raise op_error("scatter", f"reduce must be 'add' or 'multiply', got {reduce!r}")

    def scatter_(self, dim: int, index: Any, src: Any = None, *, value: Any = None,
                 reduce: str | None = None) -> Any:
        return self._inplace_from("scatter_", lambda: self.scatter(
            dim, index, src, value=value, reduce=reduce), src)

    def nonzero(self, *, as_tuple: builtins.bool = False) -> Any:
        """Indices of the non-zero elements: an ``(n, ndim)`` int64 tensor, or with
        ``as_tuple=True`` one 1-D tensor per dimension."""
        a = self.array
        xp = xp_of(a)
        T = _T()
        if as_tuple:
            parts = xp.nonzero(a.reshape(1) if a.ndim == 0 else a)
            return tuple(T._make(p.astype(np.int64), False) for p in parts)
        return T._make(xp.argwhere(a).astype(np.int64), False)

    def argwhere(self) -> Any:
        return self.nonzero()

    def count_nonzero(self, dim: Any = None) -> Any:
        return (self != 0).sum(dim)

    def put_(self, index: Any, source: Any, accumulate: builtins.bool = False) -> Any:
        """Write ``source`` at the flat positions ``index`` (adding with ``accumulate``)."""
        def compute() -> Any:
            flat = self.reshape(-1)
            it = index if isinstance(index, _T()) else _T()(np.asarray(index))
            src = source.reshape(-1)
            if accumulate:
                return flat.index_add(0, it.reshape(-1), src).reshape(self.shape)
            return flat.index_copy(0, it.reshape(-1), src).reshape(self.shape)

        return self._inplace_from("put_", compute, source)

    def take(self, index: Any) -> Any:
        """Elements at the flat positions ``index`` (the result has ``index``'s shape)."""
        it = index if isinstance(index, _T()) else _T()(np.asarray(index))
        return self.reshape(-1)[it]

    # ------------------------------------------------------------------ scans
    def _cum_extreme(self, op: str, dim: int, better: Callable) -> Any:
        d = norm_dim(dim, self.ndim, op)
        a = to_numpy(self.array)
        if a.ndim == 0:
            return ValuesIndices(self.clone(), _T()._make(np.zeros((), np.int64), False))
        moved = np.moveaxis(a, d, 0)
        idx = np.zeros(moved.shape, dtype=np.int64)
        best = moved[0].copy() if moved.shape[0] else None
        for i in range(1, moved.shape[0]):
            v = moved[i]
            # PyTorch's rule: a NaN is taken, and once the running value is NaN it stays
            if a.dtype.kind == "f":
                take = np.isnan(v) | (~np.isnan(best) & better(v, best))
            else:
                take = better(v, best)
            best = np.where(take, v, best)
            idx[i] = np.where(take, i, idx[i - 1])
        it = _T()._make(xp_of(self.array).asarray(np.moveaxis(idx, 0, d)), False)
        return ValuesIndices(self.gather(d, it), it)

    def cummax(self, dim: int) -> Any:
        """Running maximum along ``dim`` and where it was reached (the last index on ties)."""
        return self._cum_extreme("cummax", dim, np.greater_equal)

    def cummin(self, dim: int) -> Any:
        """Running minimum along ``dim`` and where it was reached (the last index on ties)."""
        return self._cum_extreme("cummin", dim, np.less_equal)

    # ------------------------------------------------------------------ shape
    def fliplr(self) -> Any:
        if self.ndim < 2:
            raise op_error("fliplr", f"needs at least 2 dimensions, got {tuple(self.shape)}")
        return self.flip(1)

    def flipud(self) -> Any:
        if self.ndim < 1:
            raise op_error("flipud", "needs at least 1 dimension")
        return self.flip(0)

    def movedim(self, source: Any, destination: Any) -> Any:
        """Move dimension(s) ``source`` to position(s) ``destination``."""
        src = (source,) if isinstance(source, int) else tuple(source)
        dst = (destination,) if isinstance(destination, int) else tuple(destination)
        if len(src) != len(dst):
            raise op_error("movedim", f"source {src} and destination {dst} differ in length")
        n = self.ndim
        src = tuple(norm_dim(s, n, "movedim") for s in src)
        dst = tuple(norm_dim(s, n, "movedim") for s in dst)
        if len(set(src)) != len(src) or len(set(dst)) != len(dst):
            raise op_error("movedim", "repeated dims")
        order = [i for i in range(n) if i not in src]
        for s_, d_ in sorted(zip(dst, src)):
            order.insert(s_, d_)
        return self.permute(order)

    moveaxis = movedim

    def swapdims(self, dim0: int, dim1: int) -> Any:
        return self.transpose(dim0, dim1)

    def ravel(self) -> Any:
        return self.reshape(-1)

    def tensor_split(self, indices_or_sections: Any, dim: int = 0) -> tuple:
        """Split into ``n`` nearly equal parts (the first ``size % n`` one longer), or at
        the given indices (``np.array_split`` semantics)."""
        d = norm_dim(dim, self.ndim, "tensor_split")
        size = self.shape[d]
        ios = indices_or_sections
        if isinstance(ios, _T()):
            ios = ios.item() if ios.ndim == 0 else ios.tolist()
        if isinstance(ios, (int, np.integer)):
            n = int(ios)
            if n <= 0:
                raise op_error("tensor_split", f"number of sections must be positive, got {n}")
            q, r = divmod(size, n)
            cuts, pos = [], 0
            for i in range(n - 1):
                pos += q + (1 if i < r else 0)
                cuts.append(pos)
        else:
            cuts = [int(c) for c in ios]
        bounds = [0] + [builtins.min(builtins.max(c + size if c < 0 else c, 0), size)
                        for c in cuts] + [size]
        pre = (slice(None),) * d
        return tuple(self[pre + (slice(a, builtins.max(a, b)),)]
                     for a, b in zip(bounds[:-1], bounds[1:]))

    def hsplit(self, sections: Any) -> tuple:
        return self.tensor_split(sections, 1 if self.ndim > 1 else 0)

    def vsplit(self, sections: Any) -> tuple:
        return self.tensor_split(sections, 0)

    def dsplit(self, sections: Any) -> tuple:
        return self.tensor_split(sections, 2)

    def unfold(self, dimension: int, size: int, step: int) -> Any:
        """All windows of ``size`` elements, ``step`` apart, along ``dimension``: that
        dimension becomes the window count and a new last dimension of ``size`` is added."""
        d = norm_dim(dimension, builtins.max(self.ndim, 1), "unfold")
        n = self.shape[d] if self.ndim else 1
        if size < 0 or size > n or step <= 0:
            raise op_error("unfold", f"size {size} must be in [0, {n}] and step {step} "
                           "positive")
        x = self.reshape(1) if self.ndim == 0 else self
        count = (n - size) // step + 1
        idx = (np.arange(count)[:, None] * step + np.arange(size)[None, :]).reshape(-1)
        idx.flags.writeable = False  # a shape constant
        w = x.index_select(d, _T()._make(idx, False))
        shape = list(x.shape)
        shape[d:d + 1] = [count, size]
        out = w.reshape(shape).movedim(d + 1, -1)
        return out if self.ndim else out.reshape(size)

    def squeeze_(self, dim: Any = None) -> Any:
        return self._inplace_view("squeeze_", lambda: self.squeeze(dim))

    def unsqueeze_(self, dim: int) -> Any:
        return self._inplace_view("unsqueeze_", lambda: self.unsqueeze(dim))

    def t_(self) -> Any:
        return self._inplace_view("t_", lambda: self.t())

    def transpose_(self, dim0: int, dim1: int) -> Any:
        return self._inplace_view("transpose_", lambda: self.transpose(dim0, dim1))

    def swapdims_(self, dim0: int, dim1: int) -> Any:
        return self._inplace_view("swapdims_", lambda: self.transpose(dim0, dim1))

    swapaxes_ = swapdims_



def _beta_alpha(inp: Any, prod: Any, beta: Any, alpha: Any) -> Any:
    p = prod if alpha == 1 else prod * alpha
    if beta == 0:  # PyTorch ignores the input then (a NaN in it does not propagate)
        return p.expand(np.broadcast_shapes(tuple(inp.shape), tuple(p.shape)))
    return (inp if beta == 1 else inp * beta) + p


def _zeros_like(x: Any) -> Any:
    return _T()._make(xp_of(x.array).zeros(tuple(x.shape), dtype=x.dtype), False)


def _size(size: Any) -> tuple:
    return (int(size),) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)


# In-place versions of out-of-place methods: ``x.exp_()`` is ``x`` overwritten with
# ``x.exp()`` (cast back to x's dtype), through ``_inplace_from``.
_INPLACE = (
    "abs absolute neg negative exp log log1p log2 log10 expm1 exp2 sqrt rsqrt sin cos tan "
    "asin acos atan sinh cosh tanh asinh acosh atanh arcsin arccos arctan arcsinh arccosh "
    "arctanh sigmoid relu floor ceil trunc fix frac round sign sgn square reciprocal erf "
    "clamp_min clamp_max deg2rad rad2deg lerp addmm addbmm baddbmm addmv addr addcmul "
    "addcdiv multiply subtract divide true_divide floor_divide fmod remainder hypot atan2 "
    "logaddexp xlogy eq ne lt le gt ge greater greater_equal less less_equal not_equal "
    "logical_not logical_and logical_or logical_xor cumsum cumprod tril triu index_fill "
    "masked_scatter clip"
).split()


def _make_inplace(name: str, owner: str = "TensorExtras") -> Callable:
    """``name_``: the in-place form of the method ``name`` (for the mixin class ``owner``)."""
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        other = next((a for a in args if isinstance(a, _T())), None)
        return self._inplace_from(name + "_", lambda: getattr(self, name)(*args, **kwargs),
                                  other)

    method.__name__ = name + "_"
    method.__qualname__ = f"{owner}.{name}_"
    method.__doc__ = f"In-place :meth:`{name}` (keeps this tensor's dtype)."
    return method


for _name in _INPLACE:  # methods Tensor defines itself win (it comes first in the MRO)
    setattr(TensorExtras, _name + "_", _make_inplace(_name))
del _name
