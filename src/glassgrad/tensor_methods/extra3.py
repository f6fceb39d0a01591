"""More of ``torch.Tensor``'s methods (a third mixin): structure (``diff``, ``cross``,
``kron``, ``rot90``, ``diag_embed``, the ``*_scatter`` family, ``as_strided``,
``index_put``, ``scatter_reduce``), linear algebra (``cholesky``, ``qr``, ``svd``,
``pinverse``, ``matrix_power``, ``matrix_exp``, ``logdet``, ``cov``) and counting
(``histc``, ``bincount``, ``unique``).

Compositions of existing ops unless noted; the decompositions and ``logcumsumexp`` are
ops of :mod:`glassgrad.ops.decomp`.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

from .. import dtypes as _dt
from ..backend import np
from ..ops import decomp as DC
from ..ops._util import norm_dim, op_error, shape_tuple
from ..ops.indexing import _along_index
from .extra2 import _T, _const, _np

QRResult = namedtuple("QRResult", ["Q", "R"])
SVDResult = namedtuple("SVDResult", ["U", "S", "V"])
TriangularSolve = namedtuple("TriangularSolve", ["solution", "cloned_coefficient"])


def _tensor(x: Any, like: Any) -> Any:
    return x if isinstance(x, _T()) else like._other_t(x)


def _where(c: Any, a: Any, b: Any) -> Any:
    from ._common import where

    return where(c, a, b)


def _diag_matrix(L: int, rows: int, cols: int, offset: int, dtype: Any) -> np.ndarray:
    """``E[i, r, c] = 1`` where the ``i``-th element of diagonal ``offset`` sits."""
    e = np.zeros((L, rows, cols), dtype=dtype)
    i = np.arange(L)
    r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
    e[i, r, c] = 1
    return e


def _embed(src: Any, offset: int, rows: int, cols: int, d1: int, d2: int) -> Any:
    """Put the last dim of ``src`` on diagonal ``offset`` of new dims ``(d1, d2)``."""
    from ..functional_api import einsum

    e = _const(src, _diag_matrix(src.shape[-1], rows, cols, offset, src.dtype))
    out = einsum("...i,irc->...rc", src, e)
    return out.movedim((-2, -1), (d1, d2))


def _matrix(op: str, x: Any) -> Any:
    if x.ndim < 2:
        raise op_error(op, f"expects a matrix or a batch of matrices, got shape {tuple(x.shape)}")
    return x._f()


class TensorExtras3:
    """Structure, linear algebra and counting methods (mixin)."""

    __slots__ = ()

    # ------------------------------------------------------------------ scans
    def logcumsumexp(self, dim: int) -> Any:
        """``log(cumsum(exp(x)))`` along ``dim``, computed as a running ``logaddexp`` (no
        overflow, no underflow of early small terms)."""
        x = self._f()
        if x.ndim == 0:
            return x.clone()
        return DC.LogCumSumExp.apply(x, norm_dim(dim, x.ndim, "logcumsumexp"))

    def diff(self, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Any:
        """``n``-th forward difference along ``dim`` (``prepend``/``append`` joined first)."""
        from ..tensor import cat

        if self.ndim == 0:
            raise op_error("diff", "expects a tensor with at least one dimension")
        d = norm_dim(dim, self.ndim, "diff")
        parts = [p for p in (prepend, self, append) if p is not None]
        x = cat([_tensor(p, self).expand(*[s if i != d else -1 for i, s in enumerate(self.shape)])
                 if isinstance(p, _T()) and p.ndim == self.ndim else
                 _tensor(p, self).reshape(*[1 if i != d else -1 for i in range(self.ndim)])
                 .expand(*[s if i != d else -1 for i, s in enumerate(self.shape)])
                 for p in parts], d) if len(parts) > 1 else self
        for _ in range(n):
            m = x.shape[d]
            if m == 0:
                break
            if x.dtype.kind == "b":
                x = x.narrow(d, 1, m - 1) ^ x.narrow(d, 0, m - 1)
            else:
                x = x.narrow(d, 1, m - 1) - x.narrow(d, 0, m - 1)
        return x

    # ------------------------------------------------------------------ products
    def cross(self, other: Any, dim: int | None = None) -> Any:
        """Cross product of 3-vectors along ``dim`` (default: the first dim of size 3)."""
        o = _tensor(other, self)
        shape = np.broadcast_shapes(tuple(self.shape), tuple(o.shape))
        a, b = self.expand(*shape), o.expand(*shape)
        if dim is None:
            dim = next((i for i, s in enumerate(shape) if s == 3), None)
            if dim is None:
                raise op_error("cross", f"no dimension of size 3 in shape {shape}")
        d = norm_dim(dim, len(shape), "cross")
        if shape[d] != 3:
            raise op_error("cross", f"dim {dim} must have size 3, got {shape[d]}")
        i1, i2 = _const(self, np.array([1, 2, 0])), _const(self, np.array([2, 0, 1]))
        return a.index_select(d, i1) * b.index_select(d, i2) - \
            a.index_select(d, i2) * b.index_select(d, i1)

    def kron(self, other: Any) -> Any:
        """Kronecker product."""
        o = _tensor(other, self)
        n = builtins.max(self.ndim, o.ndim)
        sa = (1,) * (n - self.ndim) + tuple(self.shape)
        sb = (1,) * (n - o.ndim) + tuple(o.shape)
        a = self.reshape(*[v for s in sa for v in (s, 1)])
        b = o.reshape(*[v for s in sb for v in (1, s)])
        return (a * b).reshape(*[p * q for p, q in zip(sa, sb)])

    def vdot(self, other: Any) -> Any:
        """Dot product of two 1-D tensors (real: ``dot``)."""
        o = _tensor(other, self)
        if self.ndim != 1 or o.ndim != 1:
            raise op_error("vdot", f"expects 1-D tensors, got shapes {tuple(self.shape)} and "
                           f"{tuple(o.shape)}")
        return self.dot(o)

    def dist(self, other: Any, p: float = 2) -> Any:
        """The ``p``-norm of ``self − other``."""
        return (self - _tensor(other, self)).norm(p)

    def renorm(self, p: float, dim: int, maxnorm: float) -> Any:
        """Each slice along ``dim`` with ``p``-norm above ``maxnorm`` is scaled down to it."""
        d = norm_dim(dim, self.ndim, "renorm")
        others = tuple(i for i in range(self.ndim) if i != d)
        x = self._f()
        nrm = x.norm(p, others, True) if others else x.abs()
        scale = maxnorm / (nrm + 1e-7)
        return x * scale.masked_fill(nrm <= maxnorm, 1.0)

    # ------------------------------------------------------------------ structure
    def rot90(self, k: int = 1, dims: Any = (0, 1)) -> Any:
        """Rotate by 90° ``k`` times in the plane of ``dims`` (from the first towards the
        second)."""
        if len(dims) != 2:
            raise op_error("rot90", f"dims must have 2 entries, got {dims!r}")
        d0, d1 = (norm_dim(d, self.ndim, "rot90") for d in dims)
        if d0 == d1:
            raise op_error("rot90", f"dims must differ, got {dims!r}")
        k %= 4
        if k == 1:
            return self.flip(d1).transpose(d0, d1)
        if k == 2:
            return self.flip(d0, d1)
        if k == 3:
            return self.flip(d0).transpose(d0, d1)
        return self.clone()

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:
        """Matrices whose diagonal ``offset`` (in dims ``dim1``, ``dim2``) is the last dim."""
        n = self.ndim + 1
        d1, d2 = norm_dim(dim1, n, "diag_embed"), norm_dim(dim2, n, "diag_embed")
        if d1 == d2:
            raise op_error("diag_embed", "dim1 and dim2 must differ")
        m = self.shape[-1] + abs(offset) if self.ndim else 1 + abs(offset)
        x = self if self.ndim else self.reshape(1)
        return _embed(x, offset, m, m, d1, d2)

    def diagflat(self, offset: int = 0) -> Any:
        """A 2-D matrix with the flattened input on diagonal ``offset``."""
        return self.reshape(-1).diag_embed(offset, 0, 1)

    def select(self, dim: int, index: int) -> Any:
        """The slice at ``index`` of ``dim`` (that dim removed)."""
        d = norm_dim(dim, self.ndim, "select")
        n = self.shape[d]
        if not -n <= index < n:
            raise op_error("select", f"index {index} is out of range for dim {dim} of size {n}",
                           IndexError)
        return self[(slice(None),) * d + (builtins.int(index),)]

    def select_scatter(self, src: Any, dim: int, index: int) -> Any:
        """A copy with ``self.select(dim, index)`` replaced by ``src``."""
        d = norm_dim(dim, self.ndim, "select_scatter")
        n = self.shape[d]
        i = index % n if -n <= index < n else None
        if i is None:
            raise op_error("select_scatter", f"index {index} is out of range for size {n}",
                           IndexError)
        s = _tensor(src, self)
        want = tuple(v for j, v in enumerate(self.shape) if j != d)
        if tuple(s.shape) != want:
            raise op_error("select_scatter", f"src must have shape {want}, got {tuple(s.shape)}")
        mask = np.zeros([n if j == d else 1 for j in range(self.ndim)], dtype=bool)
        mask[(slice(None),) * d + (i,)] = True
        return _where(_const(self, mask), s.to(self.dtype).unsqueeze(d), self)

    def slice_scatter(self, src: Any, dim: int = 0, start: int | None = None,
                      end: int | None = None, step: int = 1) -> Any:
        """A copy with ``self[start:end:step]`` along ``dim`` replaced by ``src``."""
        d = norm_dim(dim, self.ndim, "slice_scatter")
        n = self.shape[d]
        pos = np.arange(n)[slice(start, end, step)]
        s = _tensor(src, self)
        want = tuple(len(pos) if j == d else v for j, v in enumerate(self.shape))
        if tuple(s.shape) != want:
            raise op_error("slice_scatter", f"src must have shape {want}, got {tuple(s.shape)}")
        if len(pos) == 0:
            return self.clone()
        where_from = np.zeros(n, dtype=np.int64)
        where_from[pos] = np.arange(len(pos))
        mask = np.zeros([n if j == d else 1 for j in range(self.ndim)], dtype=bool)
        mask[(slice(None),) * d + (pos,)] = True
        full = s.to(self.dtype).index_select(d, _const(self, where_from))
        return _where(_const(self, mask), full, self)

    def diagonal_scatter(self, src: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
        """A copy with ``self.diagonal(offset, dim1, dim2)`` replaced by ``src``."""
        d1, d2 = norm_dim(dim1, self.ndim, "diagonal_scatter"), \
            norm_dim(dim2, self.ndim, "diagonal_scatter")
        want = tuple(self.diagonal(offset, d1, d2).shape)
        s = _tensor(src, self)
        if tuple(s.shape) != want:
            raise op_error("diagonal_scatter", f"src must have shape {want}, got "
                           f"{tuple(s.shape)}")
        rows, cols = self.shape[d1], self.shape[d2]
        e = _diag_matrix(want[-1], rows, cols, offset, bool).any(0)
        mshape = [1] * self.ndim
        mshape[d1], mshape[d2] = rows, cols
        mask = e if d1 < d2 else e.T
        return _where(_const(self, mask.reshape(mshape)),
                      _embed(s.to(self.dtype), offset, rows, cols, d1, d2), self)

    def as_strided(self, size: Any, stride: Any, storage_offset: int = 0) -> Any:
        """Elements of the (row-major) tensor at ``storage_offset + Σ iₖ·strideₖ``. A copy,
        not a view; overlapping positions get summed gradients."""
        size, stride = tuple(builtins.int(s) for s in size), tuple(builtins.int(s) for s in stride)
        if len(size) != len(stride):
            raise op_error("as_strided", f"size {size} and stride {stride} differ in length")
        if builtins.any(s < 0 for s in size + stride) or storage_offset < 0:
            raise op_error("as_strided", "size, stride and storage_offset must be non-negative")
        pos = np.full(size, storage_offset, dtype=np.int64)
        for k, (n, st) in enumerate(zip(size, stride)):
            pos = pos + np.arange(n).reshape([-1 if j == k else 1 for j in range(len(size))]) * st
        if pos.size and pos.max() >= self.numel():
            raise op_error("as_strided", f"size {size}, stride {stride} and offset "
                           f"{storage_offset} reach element {pos.max()} of a tensor with "
                           f"{self.numel()}", IndexError)
        return self.reshape(-1)[_const(self, pos)]

    # ------------------------------------------------------------------ writes
    def index_put(self, indices: Any, values: Any, accumulate: builtins.bool = False) -> Any:
        """A copy with ``out[indices] = values`` (``accumulate=True``: ``+=``, duplicates
        adding up)."""
        T = _T()
        idx = tuple(indices)
        v = _tensor(values, self).to(self.dtype)
        if not accumulate:
            out = self.clone()
            out[idx] = v
            return out
        arrs = []
        for i in idx:
            a = _np(i)
            if a.dtype == bool:
                arrs.extend(np.nonzero(a))
            elif a.dtype.kind in "iu":
                arrs.append(a)
            else:
                raise op_error("index_put", f"indices must be integer or bool tensors, got "
                               f"{a.dtype}", IndexError)
        k = len(arrs)
        lead, rest = tuple(self.shape[:k]), tuple(self.shape[k:])
        b = np.broadcast_arrays(*arrs)
        try:
            lin = np.ravel_multi_index(tuple(np.where(a < 0, a + n, a) for a, n in zip(b, lead)),
                                       lead).reshape(-1)
        except ValueError as e:
            raise op_error("index_put", f"index out of range for shape {tuple(self.shape)}: {e}",
                           IndexError) from None
        vv = v.expand(*(b[0].shape + rest)).reshape(-1, *rest) if isinstance(v, T) else v
        x2 = self.reshape(-1, *rest)
        return x2.index_add(0, _const(self, lin), vv).reshape(*self.shape)

    def index_put_(self, indices: Any, values: Any, accumulate: builtins.bool = False) -> Any:
        other = values if isinstance(values, _T()) else None
        return self._inplace_from("index_put_", lambda: self.index_put(indices, values,
                                                                       accumulate), other)

    def scatter_reduce(self, dim: int, index: Any, src: Any, reduce: str, *,
                       include_self: builtins.bool = True) -> Any:
        """Reduce ``src`` into a copy of ``self`` at ``index`` along ``dim``: ``reduce`` is
        ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``; with
        ``include_self=False`` the written positions start from ``src`` alone."""
        op = "scatter_reduce"
        if reduce not in ("sum", "prod", "mean", "amax", "amin"):
            raise op_error(op, f"reduce must be 'sum', 'prod', 'mean', 'amax' or 'amin', got "
                           f"{reduce!r}")
        s = _tensor(src, self)
        if s.dtype != self.dtype:
            raise op_error(op, f"src ({s.dtype}) must have self's dtype {self.dtype}", TypeError)
        d = norm_dim(dim, self.ndim, op)
        idx = _np(index)
        if idx.dtype.kind not in "iu" or idx.ndim != self.ndim:
            raise op_error(op, f"index must be an integer tensor with {self.ndim} dims", TypeError)
        if builtins.any(idx.shape[j] > s.shape[j] for j in range(idx.ndim)):
            raise op_error(op, f"index {idx.shape} is larger than src {tuple(s.shape)}")
        if idx.shape != tuple(s.shape):
            s = s[tuple(slice(0, k) for k in idx.shape)]
        where = _along_index(idx, d)
        hit = np.zeros(self.shape, dtype=np.int64)
        np.add.at(hit, where, 1)
        scattered = _const(self, hit > 0)
        ic = _const(self, idx)
        if reduce in ("sum", "mean"):
            base = self if include_self else self.masked_fill(scattered, 0)
            out = base.scatter_add(d, ic, s)
            if reduce == "mean":
                cnt = np.maximum(hit + (1 if include_self else 0), 1)
                if self.dtype.kind == "f":
                    out = out / _const(self, cnt.astype(self.dtype))
                else:
                    out = out.div(_const(self, cnt), rounding_mode="floor")
            return out
        # prod / amax / amin: the value with NumPy, the gradient through exact-zero terms
        r = _np(self).copy()
        ident = {"prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
        if not include_self:
            if self.dtype.kind != "f" and reduce != "prod":
                info = np.iinfo(self.dtype) if self.dtype.kind in "iu" else None
                ident = info.min if reduce == "amax" else info.max
            r[hit > 0] = ident
        ufunc = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
        sv = _np(s)
        ufunc.at(r, where, sv)
        res = _const(self, r)
        if self.dtype.kind != "f" or not (self.requires_grad or s.requires_grad):
            return res
        xs = _np(self)
        rg = np.take_along_axis(r, idx, d)
        if reduce == "prod":
            w_self, w_src = self._prod_weights(r, xs, sv, idx, d, include_self, hit)
        else:
            cnt = np.zeros(r.shape)
            eq_self = (xs == r) & (include_self | (hit == 0))
            eq_src = sv == rg
            cnt += xs == r  # PyTorch counts an equal self value even with include_self=False
            np.add.at(cnt, where, eq_src)
            w_self = np.where(eq_self, 1 / np.maximum(cnt, 1), 0)
            w_src = np.where(eq_src, 1 / np.maximum(np.take_along_axis(cnt, idx, d), 1), 0)
        dz_self = (self - self.detach()) * _const(self, w_self.astype(self.dtype))
        dz_src = (s - s.detach()) * _const(self, w_src.astype(self.dtype))
        return (res + dz_self).scatter_add(d, ic, dz_src)

    @staticmethod
    def _prod_weights(r: Any, xs: Any, sv: Any, idx: Any, d: int, include_self: builtins.bool,
                      hit: Any) -> tuple:
        """∂(product)/∂(each factor): the product of the other factors of its group,
        from the count of zero factors and the product of the non-zero ones."""
        where = _along_index(idx, d)
        self_in = include_self | (hit == 0)
        nz = np.where(self_in & (xs == 0), 1, 0)
        np.add.at(nz, where, (sv == 0).astype(np.int64))
        pnz = np.where(self_in & (xs != 0), xs, 1).astype(np.float64)
        np.multiply.at(pnz, where, np.where(sv != 0, sv, 1))

        def others(f: Any, nz_f: Any, p_f: Any) -> Any:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(f != 0, np.where(nz_f == 0, p_f / np.where(f != 0, f, 1), 0.0),
                                np.where(nz_f == 1, p_f, 0.0))

        w_self = np.where(self_in, others(xs, nz, pnz), 0.0)
        w_src = others(sv, np.take_along_axis(nz, idx, d), np.take_along_axis(pnz, idx, d))
        return w_self, w_src

    def scatter_reduce_(self, dim: int, index: Any, src: Any, reduce: str, *,
                        include_self: builtins.bool = True) -> Any:
        return self._inplace_from("scatter_reduce_", lambda: self.scatter_reduce(
            dim, index, src, reduce, include_self=include_self), src)

    def fill_diagonal_(self, fill_value: Any, wrap: builtins.bool = False) -> Any:
        """Write ``fill_value`` on the main diagonal (all dims equal beyond 2-D; ``wrap``
        continues below a tall matrix)."""
        if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
            raise op_error("fill_diagonal_", "needs a 2-D tensor or one with all dimensions "
                           f"equal, got shape {tuple(self.shape)}")
        mask = np.zeros(self.shape, dtype=bool)
        np.fill_diagonal(mask, True, wrap=wrap)
        m = _const(self, mask)
        return self._inplace_from("fill_diagonal_", lambda: self.masked_fill(m, fill_value))

    # ------------------------------------------------------------------ linear algebra
    def matrix_power(self, n: int) -> Any:
        """``Aⁿ`` by repeated squaring (``n < 0``: of the inverse; ``n = 0``: identity)."""
        x = self if self.dtype.kind == "f" or n >= 0 else self._f()
        if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
            raise op_error("matrix_power", f"expects square matrices, got shape {tuple(x.shape)}")
        if n == 0:
            eye = np.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape).copy()
            return _const(x, eye)
        if n < 0:
            x, n = x.inverse(), -n
        result, base = None, x
        while n:
            if n & 1:
                result = base if result is None else result @ base
            n >>= 1
            if n:
                base = base @ base
        return result

    def matrix_exp(self) -> Any:
        """``exp(A)`` by scaling and squaring of a degree-18 Taylor polynomial (built from
        matmuls, so the gradient is exact). Lower-precision inputs are computed in float64
        (the squarings amplify rounding) and the result is cast back."""
        x0 = _matrix("matrix_exp", self)
        x = x0.double() if x0.dtype != _dt.float64 else x0
        n = x.shape[-1]
        if x.shape[-2] != n:
            raise op_error("matrix_exp", f"expects square matrices, got shape {tuple(x.shape)}")
        a = _np(x)
        norm = float(np.abs(a).sum(-2).max()) if a.size else 0.0
        s = builtins.max(0, builtins.int(math.ceil(math.log2(norm / 0.5)))) if norm > 0.5 else 0
        b = x / float(2 ** s)
        eye = _const(x, np.eye(n, dtype=x.dtype))
        t = eye + b / 18.0
        for k in range(17, 0, -1):
            t = eye + (b @ t) / float(k)
        for _ in range(s):
            t = t @ t
        return t.to(x0.dtype)

    def logdet(self) -> Any:
        """``log det A`` (NaN for a negative determinant, ``-inf`` for 0)."""
        sign, logabs = self.slogdet()
        return logabs.masked_fill(sign < 0, math.nan)

    def cholesky(self, upper: builtins.bool = False) -> Any:
        """``L`` (lower) with ``A = L Lᵀ``; ``upper=True``: ``U = Lᵀ``."""
        return DC.Cholesky.apply(_matrix("cholesky", self), builtins.bool(upper))

    def cholesky_inverse(self, upper: builtins.bool = False) -> Any:
        """``A⁻¹`` from its Cholesky factor (this tensor)."""
        f = _matrix("cholesky_inverse", self)
        return (f.mT @ f if upper else f @ f.mT).inverse()

    def cholesky_solve(self, input2: Any, upper: builtins.bool = False) -> Any:
        """``X`` with ``A X = self``, ``A`` given by its Cholesky factor ``input2``."""
        from ..linalg import solve

        f = _matrix("cholesky_solve", _tensor(input2, self))
        return solve(f.mT @ f if upper else f @ f.mT, self._f())

    def triangular_solve(self, A: Any, upper: builtins.bool = True,
                         transpose: builtins.bool = False,
                         unitriangular: builtins.bool = False) -> Any:
        """``(X, A)`` with ``op(T) X = self``, ``T`` the upper (lower) triangle of ``A``."""
        from ..linalg import solve

        a = _matrix("triangular_solve", _tensor(A, self))
        t = a.triu() if upper else a.tril()
        if unitriangular:
            n = a.shape[-1]
            t = t.diagonal_scatter(_const(a, np.ones(a.shape[:-2] + (n,), dtype=a.dtype)),
                                   0, -2, -1)
        if transpose:
            t = t.mT
        return TriangularSolve(solve(t, self._f()), a.clone())

    def qr(self, some: builtins.bool = True) -> Any:
        """``(Q, R)``, ``A = Q R`` (``some=False``: complete ``Q``)."""
        q, r = DC.QR.apply(_matrix("qr", self), "reduced" if some else "complete")
        return QRResult(q, r)

    def svd(self, some: builtins.bool = True, compute_uv: builtins.bool = True) -> Any:
        """``(U, S, V)`` with ``A = U diag(S) Vᵀ`` (note: ``V``, not ``Vh``)."""
        u, s, vh = DC.SVD.apply(_matrix("svd", self), not some)
        if not compute_uv:
            return SVDResult(u.detach() * 0, s, vh.mT.detach() * 0)
        return SVDResult(u, s, vh.mT)

    def pinverse(self, rcond: float = 1e-15) -> Any:
        """The Moore–Penrose pseudo-inverse via the SVD (singular values up to
        ``rcond·max(S)`` count as 0)."""
        u, s, vh = DC.SVD.apply(_matrix("pinverse", self), False)
        if s.shape[-1] == 0:
            return self.mT.clone()
        small = s <= s.amax(-1, keepdim=True) * rcond
        sinv = s.masked_fill(small, 1.0).reciprocal().masked_fill(small, 0.0)
        return vh.mT @ (sinv.unsqueeze(-1) * u.mT)

    def cov(self, *, correction: int = 1, fweights: Any = None, aweights: Any = None) -> Any:
        """Covariance of the rows (variables) over the columns (observations)."""
        x = self._f()
        if x.ndim > 2:
            raise op_error("cov", f"expects a 1-D or 2-D tensor, got shape {tuple(x.shape)}")
        x2 = x.reshape(1, -1) if x.ndim < 2 else x
        n = x2.shape[1]
        w = None
        if fweights is not None:
            w = _tensor(fweights, x).to(x.dtype)
        if aweights is not None:
            a = _tensor(aweights, x).to(x.dtype)
            w = a if w is None else w * a
        if w is None:
            avg = x2.mean(1, keepdim=True)
            fact = n - correction
            xc = x2 - avg
            c = xc @ xc.mT / fact
        else:
            v1 = w.sum()
            avg = (x2 * w).sum(1, keepdim=True) / v1
            if aweights is None:
                fact = v1 - correction
            else:
                fact = v1 - correction * (w * _tensor(aweights, x).to(x.dtype)).sum() / v1
            xc = x2 - avg
            c = (xc * w) @ xc.mT / fact.clamp_min(0)
        return c.reshape(()) if c.shape == (1, 1) else c

    def corrcoef(self) -> Any:
        """Pearson correlation coefficients of the rows (clipped to ``[−1, 1]``)."""
        c = self.cov()
        if c.ndim == 0:
            return c / c
        d = c.diagonal().sqrt()
        return (c / d.unsqueeze(1) / d.unsqueeze(0)).clamp(-1, 1)

    # ------------------------------------------------------------------ counting
    def histc(self, bins: int = 100, min: float = 0, max: float = 0) -> Any:  # noqa: A002
        """Histogram of ``bins`` equal bins over ``[min, max]`` (the data's range when both
        are 0); values outside are ignored. No gradient."""
        if self.dtype.kind != "f":
            raise op_error("histc", f"expects a floating tensor, got {self.dtype}", TypeError)
        if bins <= 0 or min > max:
            raise op_error("histc", f"needs bins > 0 and min <= max, got bins={bins}, "
                           f"min={min}, max={max}")
        a = _np(self).reshape(-1)
        lo, hi = float(min), float(max)
        if lo == hi and a.size:
            lo, hi = float(a.min()), float(a.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        h, _ = np.histogram(a[(a >= lo) & (a <= hi)], bins=bins, range=(lo, hi))
        return _const(self, h.astype(self.dtype))

    def bincount(self, weights: Any = None, minlength: int = 0) -> Any:
        """Counts of each non-negative integer (weighted sums with ``weights``)."""
        a = _np(self)
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise op_error("bincount", f"expects a 1-D integer tensor, got {a.dtype} of shape "
                           f"{a.shape}")
        if a.size and a.min() < 0:
            raise op_error("bincount", "input must be non-negative")
        if weights is None:
            return _const(self, np.bincount(a, minlength=minlength).astype(np.int64))
        w = _np(weights)
        dt = w.dtype if w.dtype.kind == "f" else np.float64
        return _const(self, np.bincount(a, weights=w, minlength=minlength).astype(dt))

    def unique(self, sorted: builtins.bool = True, return_inverse: builtins.bool = False,  # noqa: A002
               return_counts: builtins.bool = False, dim: int | None = None) -> Any:
        """The distinct values (sorted), with optional inverse indices and counts."""
        a = _np(self)
        d = None if dim is None else norm_dim(dim, self.ndim, "unique")
        u, inv, cnt = np.unique(a, return_inverse=True, return_counts=True, axis=d)
        if d is None:
            inv = inv.reshape(a.shape)
        res = [_const(self, u)]
        if return_inverse:
            res.append(_const(self, inv.reshape(-1) if d is not None else inv).long())
        if return_counts:
            res.append(_const(self, cnt.astype(np.int64)))
        return res[0] if len(res) == 1 else tuple(res)

    def unique_consecutive(self, return_inverse: builtins.bool = False,
                           return_counts: builtins.bool = False, dim: int | None = None) -> Any:
        """Collapse runs of equal consecutive values (slices along ``dim``)."""
        a = _np(self)
        if dim is None:
            flat = a.reshape(-1)
            change = np.ones(flat.shape, dtype=bool)
            change[1:] = flat[1:] != flat[:-1]
            out = flat[change]
            inv_shape = a.shape
        else:
            d = norm_dim(dim, self.ndim, "unique_consecutive")
            m = np.moveaxis(a, d, 0).reshape(a.shape[d], -1)
            change = np.ones(m.shape[0], dtype=bool)
            change[1:] = np.any(m[1:] != m[:-1], axis=1)
            out = np.take(a, np.flatnonzero(change), axis=d)
            inv_shape = (a.shape[d],)
        res = [_const(self, out)]
        if return_inverse:
            res.append(_const(self, (np.cumsum(change) - 1).reshape(inv_shape).astype(np.int64)))
        if return_counts:
            starts = np.flatnonzero(change)
            res.append(_const(self, np.diff(np.append(starts, change.size)).astype(np.int64)))
        return res[0] if len(res) == 1 else tuple(res)

    # ------------------------------------------------------------------ shapes
    def split_with_sizes(self, split_sizes: Any, dim: int = 0) -> tuple:
        """Pieces of the given sizes along ``dim`` (they must add up to its size)."""
        d = norm_dim(dim, self.ndim, "split_with_sizes")
        sizes = [builtins.int(s) for s in split_sizes]
        if builtins.sum(sizes) != self.shape[d]:
            raise op_error("split_with_sizes", f"split sizes {sizes} must sum to the size "
                           f"{self.shape[d]} of dim {dim}")
        return self.split(sizes, d)

    def sum_to_size(self, *size: Any) -> Any:
        """Sum broadcast dimensions away so the result has shape ``size``."""
        shape = shape_tuple(size)
        try:
            np.broadcast_shapes(shape, tuple(self.shape))
            if len(shape) > self.ndim:
                raise ValueError
        except ValueError:
            raise op_error("sum_to_size", f"size {shape} is not expandable to the tensor's "
                           f"shape {tuple(self.shape)}") from None
        lead = self.ndim - len(shape)
        x = self.sum(tuple(range(lead))) if lead else self
        axes = tuple(i for i, s in enumerate(shape) if s == 1 and x.shape[i] != 1)
        return x.sum(axes, keepdim=True) if axes else x

    def new(self, *args: Any) -> Any:
        """Legacy constructor: ``x.new(2, 3)`` (uninitialized) or ``x.new(data)``, with
        this tensor's dtype."""
        if len(args) == 1 and not isinstance(args[0], (builtins.int, np.integer)) and \
                not isinstance(args[0], tuple):
            return _T()(_np(args[0]), dtype=self.dtype)
        shape = shape_tuple(args) if args else (0,)
        return _const(self, np.zeros(shape, dtype=self.dtype))


__all__ = ["TensorExtras3", "_dt"]
