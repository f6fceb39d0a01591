"""Ops whose backward is not a composition of other ops: ``logcumsumexp`` (a scan in log
space) and the matrix decompositions ``cholesky``, ``qr`` and ``svd`` (NumPy's LAPACK
forward, hand-derived backward).

These backward passes work on arrays (``once_differentiable``): a second derivative
through them raises. Derivations: ``docs/derivations/decompositions.md``.
"""

from __future__ import annotations

from ..autograd.function import Function, once_differentiable
from ..backend import np, xp_of
from ._util import op_error


def _mT(a):
    return np.swapaxes(a, -1, -2)


class LogCumSumExp(Function):
    """``zᵢ = log Σ_{j ≤ i} exp(xⱼ)`` along ``dim`` (a running ``logaddexp``)."""
    formulas = {"inputs": "X, dim", "grads": ("dX_j = Σ_{i≥j} dZ_i e^(X_j − Z_i)", None)}
    derivation = "docs/derivations/decompositions.md#logcumsumexp"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, dim):
        xp = xp_of(x)
        z = xp.logaddexp.accumulate(x, axis=dim) if x.size else x.copy()
        ctx.save_for_backward(x)
        ctx.dim, ctx.z = dim, z
        return z

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        """VJP: ``dxⱼ = Σ_{i ≥ j} gᵢ exp(xⱼ − zᵢ)``, summed in log space for the positive
        and the negative parts of ``g`` separately."""
        (x,) = ctx.saved_tensors
        xp, d, z = xp_of(x), ctx.dim, ctx.z
        if x.size == 0:
            return xp.zeros_like(x), None

        def part(gp):
            with np.errstate(divide="ignore"):
                lg = xp.log(gp) - z
            rev = xp.flip(xp.logaddexp.accumulate(xp.flip(lg, d), axis=d), d)
            with np.errstate(invalid="ignore"):
                return xp.exp(x + rev)

        out = part(xp.maximum(g, 0)) - part(xp.maximum(-g, 0))
        return out.astype(x.dtype, copy=False), None


def _linalg(op, fn, *a):
    try:
        return fn(*a)
    except np.linalg.LinAlgError as e:
        raise op_error(op, f"{e} (input shape {tuple(a[0].shape)})") from None


class Cholesky(Function):
    """``L`` lower-triangular with ``A = L Lᵀ`` (``U = Lᵀ`` if ``upper``)."""
    formulas = {"inputs": "A", "grads": ("dA = sym(L⁻ᵀ Φ(Lᵀ dL) L⁻¹)",), "output": "L"}
    derivation = "docs/derivations/decompositions.md#cholesky"

    @staticmethod
    def forward(ctx, a, upper=False):
        lo = _linalg("cholesky", np.linalg.cholesky, a)
        ctx.L, ctx.upper = lo, upper
        return _mT(lo).copy() if upper else lo

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        """VJP: ``dA = sym(L⁻ᵀ Φ(Lᵀ dL) L⁻¹)``; ``Φ`` keeps the lower triangle and halves
        the diagonal; ``sym(S) = (S + Sᵀ)/2``."""
        lo = ctx.L
        gl = _mT(g) if ctx.upper else g
        p = _mT(lo) @ gl
        p = np.tril(p) - 0.5 * np.eye(p.shape[-1], dtype=p.dtype) * p
        li = np.linalg.inv(lo)
        s = _mT(li) @ p @ li
        return (0.5 * (s + _mT(s))).astype(g.dtype, copy=False), None


class QR(Function):
    """``A = Q R`` (reduced: ``Q`` has orthonormal columns, ``R`` upper-triangular)."""
    formulas = {"inputs": "A", "grads": ("dA = (dQ + Q copyltu(R dRᵀ − dQᵀ Q)) R⁻ᵀ",), "output": "Q, R"}
    derivation = "docs/derivations/decompositions.md#qr"

    @staticmethod
    def forward(ctx, a, mode="reduced"):
        q, r = _linalg("qr", np.linalg.qr, a, mode)
        ctx.q, ctx.r, ctx.mode = q, r, mode
        return q, r

    @staticmethod
    @once_differentiable
    def backward(ctx, gq, gr):
        """VJP (``m ≥ n``, reduced): ``M = R dRᵀ − dQᵀ Q``, ``dA = (dQ + Q·copyltu(M)) R⁻ᵀ``
        with ``copyltu(M)`` the symmetric matrix with ``M``'s lower triangle."""
        q, r = ctx.q, ctx.r
        m, n = q.shape[-2], r.shape[-1]
        if ctx.mode != "reduced" or m < n:
            raise op_error("qr", "the gradient is implemented for mode='reduced' with "
                           f"rows ≥ columns, got mode={ctx.mode!r} and shape {(m, n)}",
                           NotImplementedError)
        gq = np.zeros_like(q) if gq is None else gq
        gr = np.zeros_like(r) if gr is None else gr
        mm = r @ _mT(gr) - _mT(gq) @ q
        sym = np.tril(mm) + _mT(np.tril(mm, -1))
        b = gq + q @ sym
        return _mT(np.linalg.solve(r, _mT(b))).astype(q.dtype, copy=False), None


class SVD(Function):
    """``A = U diag(S) Vh`` (reduced)."""
    formulas = {
        "inputs": "A",
        "grads": (
            "dA = U[(F∘(UᵀdU − dUᵀU))S + diag(dS) + S(F∘(VᵀdV − dVᵀV))]Vᵀ + (I − UUᵀ)dU S⁻¹Vᵀ + U S⁻¹dVᵀ(I "
            "− VVᵀ)",
        ),
        "output": "U, S, Vh",
    }
    derivation = "docs/derivations/decompositions.md#svd"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, full_matrices=False):
        u, s, vh = _linalg("svd", np.linalg.svd, a, full_matrices)
        ctx.u, ctx.s, ctx.vh, ctx.full = u, s, vh, full_matrices
        return u, s, vh

    @staticmethod
    @once_differentiable
    def backward(ctx, gu, gs, gvh):
        """VJP: ``dA = U[(F∘(UᵀdU − dUᵀU))S + diag(dS) + S(F∘(VᵀdV − dVᵀV))]Vᵀ
        + (I − UUᵀ)dU S⁻¹Vᵀ + U S⁻¹dVᵀ(I − VVᵀ)``, ``F_ij = 1/(s_j² − s_i²)`` (0 on the
        diagonal)."""
        u, s, vh = ctx.u, ctx.s, ctx.vh
        if ctx.full and (gu is not None or gvh is not None) and u.shape[-1] != vh.shape[-2]:
            raise op_error("svd", "the gradient of U or Vh needs full_matrices=False",
                           NotImplementedError)
        v = _mT(vh)
        k = s.shape[-1]
        eye = np.eye(k, dtype=s.dtype)
        core = np.zeros(s.shape[:-1] + (k, k), dtype=s.dtype)
        if gs is not None:
            core = core + eye * gs[..., None, :]
        sd = s[..., None, :] ** 2 - s[..., :, None] ** 2  # s_j² − s_i²
        with np.errstate(divide="ignore"):
            f = np.where(eye.astype(bool), 0.0, 1.0 / np.where(sd == 0, np.inf, sd))
        out = 0
        if gu is not None:
            utg = _mT(u) @ gu
            core = core + (f * (utg - _mT(utg))) * s[..., None, :]
            out = out + (gu - u @ utg) / s[..., None, :] @ vh
        if gvh is not None:
            gv = _mT(gvh)
            vtg = _mT(v) @ gv
            core = core + s[..., :, None] * (f * (vtg - _mT(vtg)))
            out = out + u @ (_mT(gv - v @ vtg) / s[..., :, None])
        out = out + u @ core @ vh
        return np.asarray(out).astype(s.dtype, copy=False), None
