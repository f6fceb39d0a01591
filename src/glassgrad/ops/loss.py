"""Fused loss ops: one graph node per loss, the backward derived by hand.

Each loss here could be written with primitive ops (``where(|d| < β, …)``, a gather and
sums, ``t·(log t − x)``), and the tests check the fused op against PyTorch and central
finite differences. Being one op each, every check of target *values* (class range,
probabilities in [0, 1]) runs inside the forward, so a ``gg.capture``-d function checks
them again on every replay, and masks built from values are drawn in the forward too.
Softmax cross-entropy, the most used loss, is in ``ops/nn.py`` (``CrossEntropy``).

=======================  ==========================================================
op                       forward → backward (δ = dL/d(output))
=======================  ==========================================================
``Huber``                ``ℓ = ½d²·a`` if ``|d| < β`` else ``(|d| − ½β)·b``, ``d = x − t``
                         → ``δx = δℓ·(d·a`` or ``sign(d)·b)``, ``δt = −δx``
``NLLLoss``              ``ℓ_i = −w_{y_i}·x_{i,y_i}`` → ``δx_{i,y_i} = −w_{y_i}·δℓ_i``, else 0
``BinaryCrossEntropy``   ``ℓ = −(t log x + (1−t) log(1−x))`` → ``δx = δℓ·(x − t)/(x(1−x))``
``KLDiv``                ``ℓ = t·(log t − x)`` → ``δx = −δℓ·t``, ``δt = δℓ·(log t + 1 − x)``
=======================  ==========================================================

(``a, b = 1/β, 1`` for smooth L1 and ``1, β`` for Huber.) Under ``create_graph=True``
every backward runs its formula on Tensors, so double backward works.

Derivations: ``docs/derivations/nn.md#losses``.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import np, xp_of
from . import _dual as D
from ._util import op_error
from .nn import _arange, _from_rows, _to_rows, class_targets

__all__ = ["Huber", "NLLLoss", "BinaryCrossEntropy", "KLDiv"]


# ---------------------------------------------------------------------------- smooth L1 / Huber
class Huber(Function):
    """Smooth L1 (``huber=False``) or Huber (``huber=True``) loss, elementwise, ``β > 0``.

    With ``d = x − t``::

        smooth L1:  ℓ = 0.5·d²/β      if |d| < β,  else |d| − 0.5·β
        Huber:      ℓ = 0.5·d²        if |d| < δ,  else δ·(|d| − 0.5·δ)

    (Huber with ``δ = β`` is ``β`` times smooth L1.) ``x`` and ``t`` have one shape and
    dtype; the output has it too (the reduction is a separate ``mean``/``sum``).
    """
    formulas = {
        "inputs": "X, T, β, huber",
        "grads": (
            "dX = dL ⊙ (D/β if |D| < β else sign(D))  (Huber: D, β·sign(D)), D = X − T",
            "dT = −dX",
            None, None,
        ),
        "output": "L",
    }
    derivation = "docs/derivations/nn.md#smooth-l1-and-huber"

    @staticmethod
    def forward(ctx, x, t, beta, huber=False):
        xp = xp_of(x)
        d = x - t
        ad = xp.abs(d)
        quad = ad < beta
        if huber:
            loss = xp.where(quad, 0.5 * d * d, beta * (ad - 0.5 * beta))
        else:
            loss = xp.where(quad, 0.5 * d * d / beta, ad - 0.5 * beta)
        ctx.save_for_backward(x, t)
        ctx.d, ctx.quad, ctx.beta, ctx.huber = d, quad, beta, huber
        return loss

    @staticmethod
    def backward(ctx, g):
        """VJP, elementwise (all shapes ``x``'s)::

            smooth L1:  ∂ℓ/∂d = d/β  inside (|d| < β),  sign(d)    outside
            Huber:      ∂ℓ/∂d = d    inside,             δ·sign(d) outside
            δx = δℓ·∂ℓ/∂d,   δt = −δx

        At ``|d| = β`` both pieces give ``sign(d)`` (smooth L1) or ``β·sign(d)`` (Huber):
        the loss is continuously differentiable, which is its point.
        """
        beta, huber, quad = ctx.beta, ctx.huber, ctx.quad
        if ctx.create_graph:
            x, t = ctx.saved_tensors
            d = x - t
        else:
            d = ctx.d
        inner = d if huber else d * (1.0 / beta)
        outer = D.sign(d) * beta if huber else D.sign(d)
        dd = g * D.where(quad, inner, outer)
        need = ctx.needs_input_grad
        return (dd if need[0] else None), (-dd if need[1] else None), None, None


# ---------------------------------------------------------------------------- NLL
class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities at integer class targets.

    ``x``: ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``; ``y``: class indices ``(N, d1,
    ...)`` (or ``()``); ``w``: class weights ``(C,)`` or None. Each position ``i`` is a
    row of ``C`` scores, ``valid_i = [y_i ≠ ignore_index]``::

        ℓ_i = −valid_i·w_{y_i}·x_{i,y_i}
        mean: L = Σ_i ℓ_i / Σ_i valid_i·w_{y_i}     sum: L = Σ_i ℓ_i     none: L_i = ℓ_i

    PyTorch's definition, including its weighted mean (every target ignored: ``nan``).
    Target values are checked here: each must be in ``[0, C)`` or equal ``ignore_index``.
    """
    formulas = {
        "inputs": "X, y, weight, ignore_index, reduction",
        "grads": (
            "dX = −onehot(y) ⊙ w_y ⊙ dL / Σ w_y  (mean)",
            None, None, None, None,
        ),
        "output": "L",
    }
    derivation = "docs/derivations/nn.md#negative-log-likelihood"

    @staticmethod
    def forward(ctx, x, y, weight=None, ignore_index=-100, reduction="mean"):
        shape = x.shape
        C = shape[1] if x.ndim >= 2 else shape[0]
        x2 = _to_rows(x, x.ndim, C)
        M = x2.shape[0]
        yi, valid = class_targets("nll_loss", y.reshape(-1), C, ignore_index, shape)
        rows = _arange(xp_of(x), M)
        picked = x2[rows, yi]
        if valid is not None:  # ignored rows count for nothing, even if they hold nan/inf
            picked = xp_of(x).where(valid, picked, 0)
        if weight is not None:
            coef = weight[yi] if valid is None else weight[yi] * valid
        else:
            coef = valid.astype(x.dtype) if valid is not None else None
        loss = -picked if coef is None else -(picked * coef)
        if reduction == "mean":
            denom = coef.sum() if coef is not None else M
            out = loss.sum() / denom if denom != 0 else np.nan
        elif reduction == "sum":
            out, denom = loss.sum(), 1
        else:
            out, denom = loss.reshape(y.shape), 1
        ctx.yi, ctx.coef, ctx.rows, ctx.C, ctx.denom = yi, coef, rows, C, denom
        ctx.reduction = reduction
        return xp_of(x).asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        """VJP: only the target's score of each row gets a gradient::

            δx_{i,c} = −[c = y_i]·valid_i·w_{y_i}·s_i
            s_i = g/Σ_i valid_i·w_{y_i} (mean), g (sum), g_i (none)

        ``δx`` has ``x``'s shape (rows folded back); no gradient for targets or weights.
        """
        shape = ctx._in_meta[0][0]
        yi, coef, C = ctx.yi, ctx.coef, ctx.C
        M = yi.shape[0]
        q = xp_of(ctx.rows).zeros((M, C), dtype=ctx._in_meta[0][1])
        q[ctx.rows, yi] = -1 if coef is None else -coef
        if ctx.reduction == "none":
            scale = g.reshape((-1, 1))
        else:
            denom = ctx.denom
            scale = g / denom if denom not in (0, 1) else (g if denom else g * 0)
        if D._arr(scale):
            q *= scale
            G = q
        else:
            G = scale * q
        return _from_rows(G, shape), None


# ---------------------------------------------------------------------------- binary CE
class BinaryCrossEntropy(Function):
    """``ℓ = −(t·max(log x, −100) + (1−t)·max(log(1−x), −100))`` elementwise, for
    probabilities ``x`` in [0, 1] (checked here) and targets ``t`` of ``x``'s shape.

    The logs are clamped at −100 (as PyTorch), so ``x = 0`` or ``1`` gives a finite loss.
    """
    formulas = {
        "inputs": "X, T",
        "grads": (
            "dX = dL ⊙ (X − T) / max(X(1 − X), 1e-12)",
            "dT = dL ⊙ (log(1 − X) − log X)",
        ),
        "output": "L",
    }
    derivation = "docs/derivations/nn.md#binary-cross-entropy"

    @staticmethod
    def forward(ctx, x, t):
        xp = xp_of(x)
        if x.size and (x.min() < 0 or x.max() > 1):
            raise op_error("binary_cross_entropy",
                           "all elements of input should be between 0 and 1 (got values in "
                           f"[{float(x.min()):.4g}, {float(x.max()):.4g}]); for logits use "
                           "binary_cross_entropy_with_logits")
        with np.errstate(divide="ignore"):
            lx = xp.maximum(xp.log(x), -100)
            l1x = xp.maximum(xp.log(1 - x), -100)
        ctx.save_for_backward(x, t)
        ctx.lx, ctx.l1x = lx, l1x
        return -(t * lx + (1 - t) * l1x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``δx = g·(x − t)/max(x(1−x), 1e-12)`` (PyTorch's clamped form),
        ``δt = g·(log(1−x) − log x)`` (both logs clamped at −100)."""
        x, t = ctx.saved_tensors
        dx = dt = None
        if ctx.needs_input_grad[0]:
            den = x * (1 - x)
            den = den.clamp(min=1e-12) if hasattr(den, "grad_fn") else xp_of(den).maximum(den, 1e-12)
            dx = g * (x - t) / den
        if ctx.needs_input_grad[1]:
            if ctx.create_graph:
                lx = x.log().clamp(min=-100)
                l1x = (1 - x).log().clamp(min=-100)
            else:
                lx, l1x = ctx.lx, ctx.l1x
            dt = g * (l1x - lx)
        return dx, dt


# ---------------------------------------------------------------------------- KL divergence
class KLDiv(Function):
    """Pointwise KL divergence for log-probabilities ``x`` and targets ``t`` (one shape)::

        log_target=False:  ℓ = t·(log t − x)    (0 where t = 0, as xlogy; nan where t < 0)
        log_target=True:   ℓ = e^t·(t − x)      (t holds log-probabilities)

    The reduction (``mean``/``sum``/``batchmean``) is a separate op.
    """
    formulas = {
        "inputs": "X, T, log_target",
        "grads": (
            "dX = −dL ⊙ T  (log_target: −dL ⊙ eᵀ)",
            "dT = dL ⊙ (log T + 1 − X)  (log_target: dL ⊙ eᵀ(T − X + 1))",
            None,
        ),
        "output": "L",
    }
    derivation = "docs/derivations/nn.md#kl-divergence"

    @staticmethod
    def forward(ctx, x, t, log_target=False):
        xp = xp_of(x)
        if log_target:
            et = xp.exp(t)
            loss = et * (t - x)
            ctx.et = et
        else:
            nz = t != 0
            with np.errstate(divide="ignore", invalid="ignore"):
                tlogt = xp.where(nz, t * xp.log(xp.where(nz, t, 1)), 0)
            loss = tlogt - t * x
            ctx.nz = nz
        ctx.save_for_backward(x, t)
        ctx.log_target = log_target
        return loss

    @staticmethod
    def backward(ctx, g):
        """VJP, elementwise::

            log_target=False:  δx = −g·t,      δt = g·(log t + 1 − x)   (0 where t = 0)
            log_target=True:   δx = −g·e^t,    δt = g·e^t·(t − x + 1)

        At ``t = 0`` the derivative of ``t log t`` is unbounded (→ −∞); glassgrad gives 0
        there, the value of the masked form ``where(t > 0, t·(log t − x), 0)``.
        """
        x, t = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx = dt = None
        if ctx.log_target:
            et = D.exp(t) if ctx.create_graph else ctx.et
            if need[0]:
                dx = -(g * et)
            if need[1]:
                dt = g * et * (t - x + 1)
        else:
            if need[0]:
                dx = -(g * t)
            if need[1]:
                nz = ctx.nz
                with np.errstate(invalid="ignore"):  # t < 0: nan, as the forward
                    dt = D.where(nz, g * (D.log(D.where(nz, t, 1.0)) + 1 - x), 0.0)
        return dx, dt, None
