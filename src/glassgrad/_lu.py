"""LU factorization with partial pivoting, written with tensor ops (``torch.linalg.lu_factor``,
``lu``, ``lu_unpack``, ``lu_solve``).

The pivots are chosen with NumPy on the values (they carry no gradient); each elimination
step is then ``U ← U − l uₖᵀ`` on tensors, so the gradient of the factors (and of
``lu_solve``) is that of this small graph — the same function PyTorch differentiates.
Results follow LAPACK's conventions: ``LU`` packs ``L`` (unit diagonal, strictly below)
and ``U``; ``pivots`` are 1-based int32 row swaps applied in order.
"""

from __future__ import annotations

from typing import Any

from .backend import np, to_numpy
from .ops._util import op_error


def _T() -> type:
    from .tensor import Tensor

    return Tensor


def _const(arr: Any) -> Any:
    return _T()._make(np.asarray(arr), False)


def _swap_rows(x: Any, k: int, piv: np.ndarray) -> Any:
    """Swap row ``k`` with row ``piv`` (per batch entry) along dim -2."""
    m = x.shape[-2]
    idx = np.broadcast_to(np.arange(m), piv.shape + (m,)).copy()
    b = np.arange(idx.reshape(-1, m).shape[0])
    flat = idx.reshape(-1, m)
    pv = piv.reshape(-1)
    flat[b, k], flat[b, pv] = pv, k
    idx = flat.reshape(piv.shape + (m, 1))
    return x.gather(-2, _const(np.broadcast_to(idx, tuple(x.shape[:-1]) + (x.shape[-1],)).copy()))


def lu_factor(A: Any, pivot: bool = True) -> tuple:
    """``(LU, pivots)`` of ``A`` (``(..., m, n)``)."""
    if A.ndim < 2:
        raise op_error("lu_factor", f"expects a matrix or a batch of matrices, got shape "
                       f"{tuple(A.shape)}")
    if not pivot:
        raise op_error("lu_factor", "pivot=False is only supported on CUDA in PyTorch; "
                       "glassgrad always pivots", NotImplementedError)
    from .tensor import cat

    u = A._f()
    m, n = u.shape[-2], u.shape[-1]
    k_max = min(m, n)
    batch = tuple(u.shape[:-2])
    lcols = u.new_zeros(batch + (m, 0))
    pivots = np.zeros(batch + (k_max,), dtype=np.int32)
    for k in range(k_max):
        col = np.abs(to_numpy(u.array[..., k:, k]))
        piv = np.argmax(col, axis=-1) + k
        pivots[..., k] = piv + 1
        if np.any(piv != k):
            u = _swap_rows(u, k, piv)
            if k:
                lcols = _swap_rows(lcols, k, piv)
        head = u[..., k, k]
        zero = head == 0
        denom = head.masked_fill(zero, 1.0)
        below = u[..., k + 1:, k] / denom.unsqueeze(-1)
        below = below.masked_fill(zero.unsqueeze(-1), 0.0)
        lcol = cat([u.new_zeros(batch + (k + 1,)), below], -1)
        lcols = cat([lcols, lcol.unsqueeze(-1)], -1)
        rest = u[..., k + 1:, :] - below.unsqueeze(-1) * u[..., k:k + 1, :]
        u = cat([u[..., :k + 1, :], rest], -2)
    if k_max < n:
        lcols = cat([lcols, u.new_zeros(batch + (m, n - k_max))], -1)
    else:
        lcols = lcols[..., :, :n]
    packed = u.triu() + lcols.tril(-1)
    return packed, _const(pivots)


def lu_unpack(LU_data: Any, LU_pivots: Any, unpack_data: bool = True,
              unpack_pivots: bool = True) -> tuple:
    """``(P, L, U)`` with ``A = P L U`` from ``lu_factor``'s output."""
    lu = LU_data
    m, n = lu.shape[-2], lu.shape[-1]
    k = min(m, n)
    eye = _const(np.eye(m, k, dtype=lu.dtype))
    L = lu[..., :, :k].tril(-1) + eye
    U = lu[..., :k, :].triu()
    piv = to_numpy(LU_pivots.array).astype(np.int64) - 1
    perm = np.broadcast_to(np.arange(m), piv.shape[:-1] + (m,)).copy()
    flat, pf = perm.reshape(-1, m), piv.reshape(-1, piv.shape[-1])
    for b in range(flat.shape[0]):
        for i, p in enumerate(pf[b]):
            flat[b, i], flat[b, p] = flat[b, p], flat[b, i]
    perm = flat.reshape(perm.shape)
    # A = P L U with P[perm[i], i] = 1
    P = np.zeros(perm.shape + (m,), dtype=lu.dtype)
    np.put_along_axis(P, perm[..., None, :], 1, axis=-2)
    return _const(P), L, U


def lu_solve(B: Any, LU_data: Any, LU_pivots: Any) -> Any:
    """``X`` with ``A X = B`` from ``A``'s LU factorization."""
    from .linalg import solve

    P, L, U = lu_unpack(LU_data, LU_pivots)
    return solve(P @ L @ U, B)
