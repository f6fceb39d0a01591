"""``gg.linalg``: inverse, determinant, log-determinant, linear solves, decompositions
(Cholesky, QR, SVD), pseudo-inverse, matrix powers and exponential, norms, PyTorch style.

``inv``/``det``/``slogdet``/``solve`` are ops in ``glassgrad/ops/linalg.py`` (backward in
``docs/derivations/linalg.md``); ``cholesky``/``qr``/``svd`` are ops in
``glassgrad/ops/decomp.py`` (``docs/derivations/decompositions.md``); the rest are
compositions. All take a matrix or a batch of matrices ``(..., m, n)``.
"""

from __future__ import annotations

from typing import Any

from .ops import linalg as _L
from .tensor import Tensor

__all__ = ["inv", "det", "slogdet", "solve", "cross", "cholesky", "qr", "svd", "svdvals",
           "pinv", "matrix_power", "matrix_exp", "vector_norm", "matrix_norm", "norm",
           "multi_dot", "vecdot", "solve_triangular", "lu_factor", "lu", "lu_solve"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def inv(A: Any) -> Tensor:
    """``A⁻¹``; a singular matrix raises a ValueError naming the shape."""
    return _t(A).inverse()


def det(A: Any) -> Tensor:
    """``det A``; its gradient is the cofactor matrix (exact also for singular ``A``)."""
    return _t(A).det()


def slogdet(A: Any) -> Any:
    """``(sign, logabsdet)``, with ``det A = sign·exp(logabsdet)`` (no overflow)."""
    return _t(A).slogdet()


def solve(A: Any, B: Any) -> Tensor:
    """``X`` with ``A·X = B``; ``B``: ``(..., n, k)`` or ``(..., n)`` (vectors). Batch axes
    broadcast. Cheaper and more accurate than ``inv(A) @ B``."""
    a, b = _t(A)._f(), _t(B)._f()
    if a.dtype != b.dtype:
        from .ops._util import op_error

        raise op_error("solve", f"A ({a.dtype}) and B ({b.dtype}) must have the same dtype",
                       TypeError)
    return _L.Solve.apply(a, b)


def cross(input: Any, other: Any, *, dim: int = -1) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (inputs broadcast)."""
    return _t(input).cross(other, dim)


def cholesky(A: Any, *, upper: bool = False) -> Tensor:
    """``L`` lower-triangular with ``A = L Lᵀ`` (``upper=True``: ``U = Lᵀ``) for a symmetric
    positive-definite ``A``; otherwise a ValueError."""
    return _t(A).cholesky(upper)


def qr(A: Any, mode: str = "reduced") -> Any:
    """``(Q, R)`` with ``A = Q R``; ``mode``: ``'reduced'``, ``'complete'`` or ``'r'``
    (``Q`` empty). The gradient needs ``'reduced'`` and rows ≥ columns."""
    from .tensor_methods.extra3 import QRResult

    if mode not in ("reduced", "complete", "r"):
        from .ops._util import op_error

        raise op_error("qr", f"mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    q, r = _L_decomp().QR.apply(_t(A)._f(), "complete" if mode == "complete" else "reduced")
    if mode == "r":
        q = Tensor._make(q.array[..., :0, :0], False)
    return QRResult(q, r)


def svd(A: Any, full_matrices: bool = True) -> Any:
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``. Gradients of ``U``/``Vh`` need
    ``full_matrices=False`` (or a square ``A``) and distinct singular values."""
    from collections import namedtuple

    u, s, vh = _L_decomp().SVD.apply(_t(A)._f(), bool(full_matrices))
    return namedtuple("SVD", ["U", "S", "Vh"])(u, s, vh)


def svdvals(A: Any) -> Tensor:
    """The singular values, descending."""
    return _L_decomp().SVD.apply(_t(A)._f(), False)[1]


def pinv(A: Any, *, rtol: float | None = None, hermitian: bool = False) -> Tensor:
    """The Moore–Penrose pseudo-inverse (singular values up to ``rtol·max(S)`` count as
    0; default ``rtol = eps·max(m, n)``)."""
    a = _t(A)._f()
    if rtol is None:
        import numpy as np

        rtol = float(np.finfo(a.dtype).eps) * max(a.shape[-2:])
    return a.pinverse(rtol)


def matrix_power(A: Any, n: int) -> Tensor:
    """``Aⁿ`` (``n < 0``: of the inverse)."""
    return _t(A).matrix_power(n)


def matrix_exp(A: Any) -> Tensor:
    """The matrix exponential."""
    return _t(A).matrix_exp()


def vector_norm(x: Any, ord: float = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """The vector ``ord``-norm over ``dim`` (all elements by default)."""
    t = _t(x) if dtype is None else _t(x).to(dtype)
    if ord == float("-inf"):
        return t.abs().amin(dim, keepdim)
    return t.norm(ord, dim, keepdim)


def matrix_norm(A: Any, ord: Any = "fro", dim: tuple = (-2, -1), keepdim: bool = False) -> Tensor:
    """``'fro'``, ``'nuc'`` (sum of singular values), ``2``/``-2`` (largest/smallest
    singular value), ``1``/``-1``/``inf``/``-inf`` (max/min column/row abs sum)."""
    a = _t(A)._f()
    d0, d1 = (d % a.ndim for d in dim)
    inf = float("inf")
    if ord == "fro":
        return a.norm(2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(a.movedim((d0, d1), (-2, -1)))
        r = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            r = r.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return r
    if ord in (1, -1, inf, -inf):
        red, other = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = a.abs().sum(red, keepdim=True)
        r = sums.amax(other, keepdim=True) if ord > 0 else sums.amin(other, keepdim=True)
        return r if keepdim else r.squeeze((d0, d1))
    from .ops._util import op_error

    raise op_error("matrix_norm", f"unsupported ord {ord!r}")


def norm(A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False) -> Tensor:
    """``vector_norm`` for a vector or ``dim`` of length 1, ``matrix_norm`` for 2 dims."""
    a = _t(A)
    if dim is None and ord is not None and a.ndim == 2:
        return matrix_norm(a, ord, (-2, -1), keepdim)
    if isinstance(dim, (tuple, list)) and len(dim) == 2 and ord is not None:
        return matrix_norm(a, ord, tuple(dim), keepdim)
    return vector_norm(a, 2 if ord is None else ord, dim, keepdim)


def multi_dot(tensors: Any) -> Tensor:
    """The product of the matrices, left to right (1-D first/last act as row/column)."""
    ts = [_t(t) for t in tensors]
    out = ts[0]
    for t in ts[1:]:
        out = out @ t
    return out


def vecdot(x: Any, y: Any, *, dim: int = -1) -> Tensor:
    """``Σ x·y`` along ``dim`` (broadcasting)."""
    return (_t(x) * _t(y)).sum(dim)


def solve_triangular(A: Any, B: Any, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """``X`` with ``T X = B`` (``left=False``: ``X T = B``), ``T`` the upper or lower
    triangle of ``A`` (unit diagonal if ``unitriangular``)."""
    a, b = _t(A)._f(), _t(B)._f()
    if not left:
        return solve_triangular(a.mT, b.mT, upper=not upper, unitriangular=unitriangular).mT
    return b.triangular_solve(a, upper, False, unitriangular).solution


def _L_decomp() -> Any:
    from .ops import decomp

    return decomp


def lu_factor(A: Any, *, pivot: bool = True) -> Any:
    """``(LU, pivots)``: ``L`` (unit diagonal) and ``U`` packed in one matrix, and the
    1-based row swaps (LAPACK's convention)."""
    from collections import namedtuple

    from ._lu import lu_factor as f

    return namedtuple("LUFactor", ["LU", "pivots"])(*f(_t(A), pivot))


def lu(A: Any, *, pivot: bool = True) -> Any:
    """``(P, L, U)`` with ``A = P L U``."""
    from collections import namedtuple

    from ._lu import lu_factor as f
    from ._lu import lu_unpack

    return namedtuple("LU", ["P", "L", "U"])(*lu_unpack(*f(_t(A), pivot)))


def lu_solve(LU: Any, pivots: Any, B: Any, *, left: bool = True,
             adjoint: bool = False) -> Tensor:
    """``X`` with ``A X = B`` (``left=False``: ``X A = B``; ``adjoint``: ``Aᵀ``) from
    ``A``'s :func:`lu_factor`."""
    from ._lu import lu_unpack

    P, L, U = lu_unpack(_t(LU), _t(pivots))
    a = P @ L @ U
    if adjoint:
        a = a.mT
    if left:
        return solve(a, B)
    return solve(a.mT, _t(B).mT).mT
