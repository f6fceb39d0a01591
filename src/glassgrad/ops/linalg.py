"""Matrix multiplication in all its cases: 1-D·1-D, 1-D·2-D, 2-D·2-D, batched, and
broadcast batch dimensions.

For ``Z = A @ B`` with ``A: (..., n, k)``, ``B: (..., k, m)``, ``Z: (..., n, m)``:
``Z_ij = Σ_p A_ip B_pj``, so ``∂L/∂A_ip = Σ_j G_ij B_pj`` and ``∂L/∂B_pj = Σ_i A_ip G_ij``::

    dA = G @ Bᵀ     (n, m) @ (m, k) -> (n, k)
    dB = Aᵀ @ G     (k, n) @ (n, m) -> (k, m)

A 1-D operand is treated as a row (left) or column (right) vector and the added axis is
removed again; broadcast batch axes are summed back (un-broadcast).

Derivations: ``docs/derivations/linalg.md``.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp_of
from ._util import op_error, unbroadcast


class MatMul(Function):
    """``Z = A @ B``."""

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise op_error("matmul", f"both operands must have at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
        if a.dtype != b.dtype:
            raise op_error("matmul", f"{tuple(a.shape)} {a.dtype} @ {tuple(b.shape)} {b.dtype}: "
                           "expected both operands to have the same dtype (convert "
                           "one with .to(dtype))", TypeError)
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise op_error(
                "matmul",
                f"{tuple(a.shape)} @ {tuple(b.shape)}: inner dimensions {ka} and {kb} differ",
            )
        ctx.save_for_backward(a, b)
        try:
            return xp_of(a).matmul(a, b)
        except ValueError:
            raise op_error("matmul", f"{tuple(a.shape)} @ {tuple(b.shape)}: batch dimensions "
                           f"{tuple(a.shape[:-2])} and {tuple(b.shape[:-2])} do not "
                           "broadcast") from None

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dA = G @ Bᵀ`` (shape of A), ``dB = Aᵀ @ G`` (shape of B), with 1-D
        operands promoted to matrices and broadcast batch axes summed back."""
        a, b = ctx.saved_tensors
        sa, sb = ctx._in_meta[0][0], ctx._in_meta[1][0]
        a1, b1 = len(sa) == 1, len(sb) == 1
        if a1:
            a = a.reshape((1,) + sa)
        if b1:
            b = b.reshape(sb + (1,))
        if a1 and b1:
            g = g.reshape((1, 1))
        elif a1:
            g = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        elif b1:
            g = g.reshape(g.shape + (1,))
        da = db = None
        if ctx.needs_input_grad[0]:
            da = g @ b.swapaxes(-1, -2)
            if a1:
                da = da.reshape(da.shape[:-2] + (da.shape[-1],))
            da = unbroadcast(da, sa)
        if ctx.needs_input_grad[1]:
            if len(sb) == 2 and len(g.shape) > 2 and not b1:
                # weight shared across a batch: fold the batch into the rows (one GEMM)
                k = a.shape[-1]
                a2 = a.reshape((-1, k)) if a.shape[:-2] == g.shape[:-2] else None
                if a2 is not None:
                    db = a2.swapaxes(-1, -2) @ g.reshape((-1, g.shape[-1]))
            if db is None:
                db = a.swapaxes(-1, -2) @ g
            if b1:
                db = db.reshape(db.shape[:-1])
            db = unbroadcast(db, sb)
        return da, db
