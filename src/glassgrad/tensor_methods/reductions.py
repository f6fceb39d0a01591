"""The reductions of :class:`~glassgrad.tensor.Tensor` (a mixin): ``sum``, ``mean``, ``var``,
``std``, ``amax``/``amin``, ``max``/``min``, ``argmax``/``argmin``, ``any``/``all``, scans
(``cumsum``, ``cumprod``), ``prod``, ordering (``sort``, ``argsort``, ``topk``), ``logsumexp``,
``softmax``/``log_softmax`` and ``norm``."""

from __future__ import annotations

import builtins
import math
import operator
from typing import TYPE_CHECKING, Any

from .. import dtypes as _dt
from ..backend import np, xp_of
from ..ops import reduce as R
from ..ops._util import norm_axis, norm_dim, op_error, pick
from ..ops.movement import Clone
from ._common import _T, MinMax, ValuesIndices, _correction, _no_dtype, _PyInt

if TYPE_CHECKING:
    from ..tensor import Tensor


class ReductionMethods:
    """The reductions methods of ``Tensor`` (a mixin; see the module docstring)."""

    __slots__ = ()

    def any(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None) -> Tensor:
        ax = pick(dim, axis)
        return _T()._make(xp_of(self.array).asarray(self.array.any(
            axis=ax, keepdims=keepdim if keepdims is None else keepdims)), False)

    def all(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None) -> Tensor:
        ax = pick(dim, axis)
        return _T()._make(xp_of(self.array).asarray(self.array.all(
            axis=ax, keepdims=keepdim if keepdims is None else keepdims)), False)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None, dtype: Any = None) -> Tensor:
        """Sum over ``dim`` (all axes by default); ``axis``/``keepdims`` are NumPy aliases."""
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind in "bu" or (x.dtype.kind == "i" and x.dtype != np.int64):
            x = x.to(_dt.int64)
        ax = norm_axis(pick(dim, axis), self.ndim, "sum")
        kd = keepdim if keepdims is None else keepdims
        return R.Sum.apply(x, ax, builtins.bool(kd))

    def mean(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
             keepdims: Any = None, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind != "f":
            raise op_error("mean", f"needs a floating tensor, got {x.dtype} (use .float())",
                           TypeError)
        ax = norm_axis(pick(dim, axis), self.ndim, "mean")
        kd = keepdim if keepdims is None else keepdims
        return R.Mean.apply(x, ax, builtins.bool(kd))

    def var(self, dim: Any = None, unbiased: Any = None, keepdim: builtins.bool = False, *,
            correction: Any = None, axis: Any = None, keepdims: Any = None,
            ddof: Any = None) -> Tensor:
        """Variance with ``correction`` (1 = unbiased, the default, as PyTorch)."""
        return self._spread(R.Var, "var", dim, unbiased, keepdim, correction, axis, keepdims, ddof)

    def std(self, dim: Any = None, unbiased: Any = None, keepdim: builtins.bool = False, *,
            correction: Any = None, axis: Any = None, keepdims: Any = None,
            ddof: Any = None) -> Tensor:
        """Standard deviation with ``correction`` (1 = unbiased, the default, as PyTorch)."""
        return self._spread(R.Std, "std", dim, unbiased, keepdim, correction, axis, keepdims, ddof)

    def _spread(self, op: Any, name: str, dim: Any, unbiased: Any, keepdim: Any, correction: Any,
                axis: Any, keepdims: Any, ddof: Any) -> Tensor:
        """``var`` or ``std`` (``op``), with PyTorch's and NumPy's spellings of the arguments."""
        c = _correction(unbiased, correction, ddof)
        _no_dtype(self, name, "biu", "needs a floating tensor: use .float()")
        ax = norm_axis(pick(dim, axis), self.ndim, name)
        kd = keepdim if keepdims is None else keepdims
        return op.apply(self._f(), ax, c, builtins.bool(kd))

    def amax(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
             keepdims: Any = None) -> Tensor:
        ax = norm_axis(pick(dim, axis), self.ndim, "amax")
        self._nonempty("amax", ax)
        return R.Amax.apply(self, ax, builtins.bool(keepdim if keepdims is None else keepdims))

    def amin(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
             keepdims: Any = None) -> Tensor:
        ax = norm_axis(pick(dim, axis), self.ndim, "amin")
        self._nonempty("amin", ax)
        return R.Amin.apply(self, ax, builtins.bool(keepdim if keepdims is None else keepdims))

    def max(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None) -> Any:
        """Without ``dim``: the maximum (ties share the gradient). With ``dim``: a
        ``(values, indices)`` pair; the gradient goes to the returned index. With a
        tensor argument: elementwise ``maximum``."""
        if isinstance(dim, _T()):
            return self.maximum(dim)
        return self._max_min("max", dim, keepdim, axis, keepdims)

    def min(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None) -> Any:
        if isinstance(dim, _T()):
            return self.minimum(dim)
        return self._max_min("min", dim, keepdim, axis, keepdims)

    def _max_min(self, op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Any:
        """``max``/``min`` over everything (ties share the gradient) or along ``dim``
        (``(values, indices)``; the gradient goes to the returned index)."""
        largest = op == "max"
        d = pick(dim, axis)
        kd = builtins.bool(keepdim if keepdims is None else keepdims)
        if d is None:
            self._nonempty(op, None)
            return (R.Amax if largest else R.Amin).apply(self, None, kd, True)
        d = norm_dim(d, self.ndim, op)
        if self.ndim == 0:  # PyTorch allows dim 0 of a 0-d tensor: the element, index 0
            return MinMax(Clone.apply(self), _T()._make(np.zeros((), dtype=np.int64), False))
        self._nonempty(op, (d,))
        v, i = R.MaxDim.apply(self, d, kd, largest)
        return MinMax(v, i)

    def _nonempty(self, op: str, axes: Any) -> None:
        """Max/min/arg-max have no identity: reducing over an empty axis is an error
        (reducing a non-empty axis of a tensor that is empty elsewhere is fine)."""
        if self.array.size != 0:
            return
        shape = self.shape
        axes = range(len(shape)) if axes is None else axes
        if self.ndim == 0 or builtins.any(shape[a] == 0 for a in axes):
            raise op_error(op, f"cannot reduce an empty tensor of shape {tuple(self.shape)} "
                           "(the operation has no identity)", IndexError)

    def _arg(self, op: str, dim: Any, keepdim: Any, largest: builtins.bool) -> Tensor:
        _no_dtype(self, op, "b", "use .to(dtype) first")
        xp = xp_of(self.array)
        if dim is None:
            self._nonempty(op, None)
            r = self.array.argmax() if largest else self.array.argmin()
            r = xp.asarray(r, dtype=np.int64)
            if keepdim:
                r = r.reshape((1,) * self.ndim)
            return _T()._make(r, False)
        d = norm_dim(dim, self.ndim, op)
        self._nonempty(op, (d,) if self.ndim else None)
        if self.ndim == 0:
            return _T()._make(xp.zeros((), dtype=np.int64), False)
        r = (self.array.argmax if largest else self.array.argmin)(axis=d, keepdims=keepdim)
        return _T()._make(r.astype(np.int64, copy=False), False)

    def argmax(self, dim: Any = None, keepdim: builtins.bool = False, *,
               axis: Any = None) -> Tensor:
        """Index of the largest element (first one on ties, as PyTorch); flat without ``dim``."""
        return self._arg("argmax", pick(dim, axis), keepdim, True)

    def argmin(self, dim: Any = None, keepdim: builtins.bool = False, *,
               axis: Any = None) -> Tensor:
        """Index of the smallest element (first one on ties, as PyTorch)."""
        return self._arg("argmin", pick(dim, axis), keepdim, False)

    # ---- scans, products, sorting -----------------------------------------------------
    def _scan_input(self, op: str, dim: Any, dtype: Any) -> tuple:
        """(tensor to scan, normalized dim): integers and bools accumulate in int64, as
        PyTorch; a 0-d tensor is scanned as one element."""
        if dim is None:
            raise op_error(op, f"needs a dim (e.g. x.{op}(dim=0))", TypeError)
        x = self if dtype is None else self.to(dtype)
        if dtype is None and x.dtype.kind in "biu":
            x = x.to(_dt.int64)
        return x, norm_dim(dim, builtins.max(self.ndim, 1), op)

    def cumsum(self, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
        """Cumulative sum along ``dim``: ``z_k = Σ_{j ≤ k} x_j``."""
        x, d = self._scan_input("cumsum", pick(dim, axis), dtype)
        if x.ndim == 0:
            return R.CumSum.apply(x.reshape(1), 0).reshape(())
        return R.CumSum.apply(x, d)

    def cumprod(self, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
        """Cumulative product along ``dim``: ``z_k = Π_{j ≤ k} x_j`` (gradient exact with
        zeros)."""
        x, d = self._scan_input("cumprod", pick(dim, axis), dtype)
        if x.ndim == 0:
            return R.CumProd.apply(x.reshape(1), 0).reshape(())
        return R.CumProd.apply(x, d)

    def prod(self, dim: Any = None, keepdim: builtins.bool = False, *, dtype: Any = None,
             axis: Any = None, keepdims: Any = None) -> Tensor:
        """Product of all elements, or along one ``dim`` (gradient exact with zeros)."""
        x = self if dtype is None else self.to(dtype)
        if dtype is None and x.dtype.kind in "biu":
            x = x.to(_dt.int64)
        kd = builtins.bool(keepdim if keepdims is None else keepdims)
        d = pick(dim, axis)
        if d is not None and not isinstance(d, _PyInt):
            raise op_error("prod", f"dim must be one int or None, got {d!r}", TypeError)
        if d is not None:
            d = norm_dim(d, builtins.max(self.ndim, 1), "prod")
            if x.ndim == 0:
                return R.Prod.apply(x, None, False)
        return R.Prod.apply(x, d, kd)

    def sort(self, dim: int = -1, descending: builtins.bool = False,
             stable: builtins.bool = False) -> Any:
        """``(values, indices)`` sorted along ``dim``. Always stable (ties keep their
        order); NaN sorts as the largest value, as PyTorch. The gradient of ``values``
        goes back to the positions the values came from."""
        d = norm_dim(dim, builtins.max(self.ndim, 1), "sort")
        if self.ndim == 0:
            return ValuesIndices(Clone.apply(self),
                                 _T()._make(np.zeros((), dtype=np.int64), False))
        v, i = R.Sort.apply(self, d, builtins.bool(descending))
        return ValuesIndices(v, i)

    def argsort(self, dim: int = -1, descending: builtins.bool = False,
                stable: builtins.bool = False) -> Tensor:
        """Indices that sort ``dim`` (stable; NaN largest), as int64; no gradient."""
        d = norm_dim(dim, builtins.max(self.ndim, 1), "argsort")
        if self.ndim == 0:
            return _T()._make(np.zeros((), dtype=np.int64), False)
        idx = R.sort_indices(self.array, d, builtins.bool(descending))
        return _T()._make(idx.astype(np.int64, copy=False), False)

    def topk(self, k: int, dim: int = -1, largest: builtins.bool = True,
             sorted: builtins.bool = True) -> Any:
        """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) entries
        along ``dim``, in sorted order (also when ``sorted=False``); ties by position."""
        d = norm_dim(dim, builtins.max(self.ndim, 1), "topk")
        n = self.shape[d] if self.ndim else 1
        try:
            k = operator.index(k)
        except TypeError:
            raise op_error("topk", f"k must be an int, got {type(k).__name__}",
                           TypeError) from None
        if not 0 <= k <= n:
            raise op_error("topk", f"k={k} is out of range for dim {d} of size {n} of a tensor "
                           f"of shape {tuple(self.shape)} (expected 0 <= k <= {n})", IndexError)
        if self.ndim == 0:
            v, i = self.reshape(1).topk(k, 0, largest)
            return ValuesIndices(v.reshape(()), i.reshape(())) if k else ValuesIndices(v, i)
        v, i = R.TopK.apply(self, k, d, builtins.bool(largest))
        return ValuesIndices(v, i)

    def logsumexp(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
                  keepdims: Any = None) -> Tensor:
        ax = norm_axis(pick(dim, axis), self.ndim, "logsumexp")
        return R.LogSumExp.apply(self._f(), ax,
                                 builtins.bool(keepdim if keepdims is None else keepdims))

    def softmax(self, dim: Any = None, *, axis: Any = None) -> Tensor:
        d = pick(dim, axis, -1)
        if self.array.size:
            _no_dtype(self, "softmax", "biu", "needs a floating tensor: use .float()")
        return R.Softmax.apply(self, norm_dim(d, self.ndim, "softmax"))

    def log_softmax(self, dim: Any = None, *, axis: Any = None) -> Tensor:
        d = pick(dim, axis, -1)
        if self.array.size:
            _no_dtype(self, "log_softmax", "biu", "needs a floating tensor: use .float()")
        return R.LogSoftmax.apply(self, norm_dim(d, self.ndim, "log_softmax"))

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        """Vector p-norm over ``dim`` (all elements by default); its gradient is 0 where the
        norm is 0, as in PyTorch."""
        _no_dtype(self, "norm", "biu", "needs a floating tensor: use .float()")
        if p == "fro":
            if isinstance(dim, (list, tuple)) and len(dim) > 2:
                raise op_error("norm", f"the Frobenius norm (the default p) takes at most 2 dims, "
                               f"got dim={tuple(dim)}; pass p=2 for the 2-norm over more",
                               RuntimeError)
            p = 2
        if p == math.inf or p == "inf":
            return self.abs().amax(dim, keepdim)
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if p == 0:
            # the count of non-zeros: piecewise constant, so its gradient is 0 (as torch)
            x = self._f()
            return (x * 0).sum(dim, keepdim) + (x != 0).sum(dim, keepdim).to(x.dtype)
        if not p > 1:
            raise op_error("norm", f"p must be 0, 1, inf or greater than 1, got {p}")
        ax = norm_axis(dim, self.ndim, "norm")
        return R.PNorm.apply(self._f(), float(p), ax, builtins.bool(keepdim))
