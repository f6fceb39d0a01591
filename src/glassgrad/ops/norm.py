"""Fused normalization ops: ``BatchNorm`` and ``LayerNorm``, one graph node each.

``y = γ x̂ + β``, ``x̂ = (x − μ)/σ`` → ``δx = γ/(Nσ)(Nδy − Σδy − x̂Σδy x̂)`` (BatchNorm over
``N`` and the spatial axes of each channel; LayerNorm over the last dims of each sample).
Under ``create_graph=True`` the backward recomputes ``x̂`` from the input Tensor, so double
backward works.

Derivations: ``docs/derivations/nn.md#batch-normalization-training-mode``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import np
from ._util import op_error, scaled_sum_sq

__all__ = [
    "BatchNorm", "LayerNorm",
]


# ---------------------------------------------------------------------------- normalization
def _stats(x: Any, axes: tuple, eps: float, full: bool = False) -> tuple:
    """``(x̂, σ⁻¹)`` over ``axes`` (biased variance, as the normalization layers use);
    works on arrays and on Tensors. ``full`` adds the mean and the variance."""
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    t, s = scaled_sum_sq(xc, axes)  # Σ(x − μ)² = t·s², scaled where it would overflow
    n = 1
    for a in axes:
        n *= xc.shape[a]
    if isinstance(s, float):
        var = t * (1.0 / n) if n else t  # (no elements: an empty result)
        inv = (var + eps) ** -0.5
    else:  # var = s²·t/n overflows (near 1e30 in float32) but x̂ = (x − μ)/s · (t/n + eps/s²)^-½
        with np.errstate(over="ignore", under="ignore"):
            v = t * (1.0 / n)
            inv = (v + eps / s / s) ** -0.5 / s
            var = v * s * s
    if full:
        return xc * inv, inv, mean, var
    return xc * inv, inv

def _same_dtype(op: str, x: Any, weight: Any, bias: Any) -> None:
    for nm, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise op_error(op, f"input dtype {x.dtype} and {nm} dtype {t.dtype} must be the same "
                           "(cast the module with .to(dtype) / .double(), or the input)", TypeError)

def _norm_backward(dxh: Any, xh: Any, inv: Any, axes: tuple, n: int) -> Any:
    """``δx = σ⁻¹/n · (n·δx̂ − Σ δx̂ − x̂·Σ(δx̂ ⊙ x̂))`` (sums over the normalized axes).

    Derivation: ``x̂ = (x − μ)σ⁻¹``; the three paths from ``x`` to ``x̂`` (direct,
    through ``μ``, through ``σ``) give ``∂x̂_j/∂x_i = σ⁻¹(δ_ij − 1/n − x̂_i x̂_j / n)``.
    """
    s1 = dxh.sum(axis=axes, keepdims=True)
    s2 = (dxh * xh).sum(axis=axes, keepdims=True)
    return (dxh * n - s1 - xh * s2) * (inv * (1.0 / max(n, 1)))

class BatchNorm(Function):
    """Batch normalization over ``x: (N, C, *)`` per channel ``C``.

    Training (batch statistics over ``N`` and the spatial axes, ``n`` values per channel)::

        μ = mean(x), σ² = mean((x − μ)²)  (biased), x̂ = (x − μ)/√(σ² + eps)
        y = γ·x̂ + β            γ, β: (C,)

    and the running statistics are updated in place: ``r_μ ← (1−m)·r_μ + m·μ``,
    ``r_σ² ← (1−m)·r_σ² + m·σ²·n/(n−1)`` (unbiased, as PyTorch). Evaluation uses
    ``r_μ``, ``r_σ²`` (constants) instead of the batch statistics.
    """
    formulas = {
        "inputs": "X, γ, β, running_mean, running_var, use_batch_stats, momentum, eps, num_batches",
        "grads": (
            "dX = γ/(Nσ) ⊙ (N·dY − sum(dY) − X̂ ⊙ sum(dY ⊙ X̂))",
            "dγ = sum(dY ⊙ X̂)",
            "dβ = sum(dY)",
            None, None, None, None, None, None,
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/nn.md#batch-normalization-training-mode"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, use_batch_stats, momentum, eps,
                num_batches=None):
        # num_batches: the module's 0-d counter of training batches, counted here (in the
        # op, so that a captured function counts on every replay); momentum None = the
        # cumulative average, r ← r + (batch_stat − r)/num_batches
        if use_batch_stats and num_batches is not None:
            num_batches += 1
            if momentum is None:
                momentum = 1.0 / float(num_batches)
        if momentum is None:
            momentum = 0.0
        if x.ndim < 2:
            raise op_error("batch_norm", f"expected input of shape (N, C, ...), got {tuple(x.shape)}")
        C = x.shape[1]
        for nm, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                      ("running_var", running_var)):
            if t is not None and t.shape != (C,):
                raise op_error("batch_norm", f"{nm} of shape {tuple(t.shape)} does not match "
                               f"input {tuple(x.shape)}: expected ({C},) (one per channel)")
        _same_dtype("batch_norm", x, weight, bias)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, C) + (1,) * (x.ndim - 2)
        n = 1
        for a in axes:
            n *= x.shape[a]
        if use_batch_stats:
            if n == 1:
                raise op_error("batch_norm", "expected more than 1 value per channel when "
                               f"training, got input of shape {tuple(x.shape)}")
            xh, inv, mean, var = _stats(x, axes, eps, full=True)
            if running_mean is not None:
                var_u = var.reshape(C) * (n / (n - 1))  # unbiased, as PyTorch's running_var
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(C).astype(running_mean.dtype, copy=False)
                running_var *= 1 - momentum
                running_var += momentum * var_u.astype(running_var.dtype, copy=False)
        else:
            inv = ((running_var + eps) ** -0.5).astype(x.dtype, copy=False).reshape(bshape)
            xh = (x - running_mean.reshape(bshape).astype(x.dtype, copy=False)) * inv
        ctx.axes, ctx.bshape, ctx.n, ctx.eps = axes, bshape, n, eps
        ctx.batch = use_batch_stats
        ctx.xh, ctx.inv = xh, inv
        if not use_batch_stats:
            ctx.rm = running_mean.reshape(bshape).astype(x.dtype)
        ctx.save_for_backward(x, weight)
        y = xh * weight.reshape(bshape) if weight is not None else xh.copy()
        if bias is not None:
            y += bias.reshape(bshape)
        return y

    @staticmethod
    def backward(ctx, g):
        """VJP (sums over ``N`` and spatial axes, ``n`` elements per channel)::

            δβ = Σ δy             δγ = Σ δy ⊙ x̂
            training: δx = γσ⁻¹/n · (n·δy − Σδy − x̂·Σ(δy ⊙ x̂))
            eval:     δx = γσ⁻¹ · δy            (running statistics are constants)
        """
        x, w = ctx.saved_tensors
        axes, bshape = ctx.axes, ctx.bshape
        if ctx.create_graph:
            if ctx.batch:
                xh, inv = _stats(x, axes, ctx.eps)
            else:
                inv = ctx.inv
                xh = (x - ctx.rm) * inv
        else:
            xh, inv = ctx.xh, ctx.inv
        need = ctx.needs_input_grad
        dx = dw = db = None
        if need[0]:
            dxh = g * w.reshape(bshape) if w is not None else g
            dx = _norm_backward(dxh, xh, inv, axes, ctx.n) if ctx.batch else dxh * inv
        if need[1]:
            dw = (g * xh).sum(axis=axes)
        if need[2]:
            db = g.sum(axis=axes)
        return dx, dw, db, None, None, None, None, None

class LayerNorm(Function):
    """Layer normalization over the last ``k`` axes of ``x`` (per sample)::

        x̂ = (x − μ)/√(σ² + eps)   (μ, σ² over the last k axes; biased variance)
        y = γ ⊙ x̂ + β            γ, β: x.shape[-k:]
    """
    formulas = {
        "inputs": "X, γ, β, k, eps",
        "grads": (
            "dX = 1/(nσ) ⊙ (n·dX̂ − sum(dX̂) − X̂ ⊙ sum(dX̂ ⊙ X̂)), dX̂ = dY ⊙ γ",
            "dγ = sum_rows(dY ⊙ X̂)",
            "dβ = sum_rows(dY)",
            None, None,
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/nn.md#layer-normalization"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        nshape = x.shape[x.ndim - k:]
        if x.ndim < k or (weight is not None and weight.shape != nshape) or (
                bias is not None and bias.shape != nshape):
            raise op_error("layer_norm", f"input of shape {tuple(x.shape)} with weight "
                           f"{None if weight is None else tuple(weight.shape)}: the last {k} "
                           "dims of the input must equal normalized_shape = weight.shape")
        _same_dtype("layer_norm", x, weight, bias)
        axes = tuple(range(x.ndim - k, x.ndim))
        xh, inv = _stats(x, axes, eps)
        n = 1
        for s in nshape:
            n *= s
        ctx.axes, ctx.n, ctx.eps, ctx.xh, ctx.inv = axes, n, eps, xh, inv
        ctx.save_for_backward(x, weight)
        y = xh * weight if weight is not None else xh.copy()
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, g):
        """VJP (``n`` = number of normalized elements per sample, sums over them)::

            δx̂ = δy ⊙ γ
            δx = σ⁻¹/n · (n·δx̂ − Σδx̂ − x̂·Σ(δx̂ ⊙ x̂))
            δγ = Σ_samples δy ⊙ x̂     δβ = Σ_samples δy
        """
        x, w = ctx.saved_tensors
        axes = ctx.axes
        if ctx.create_graph:
            xh, inv = _stats(x, axes, ctx.eps)
        else:
            xh, inv = ctx.xh, ctx.inv
        need = ctx.needs_input_grad
        lead = tuple(range(len(ctx.input_shape(0)) - len(axes)))
        dx = dw = db = None
        if need[0]:
            dxh = g * w if w is not None else g
            dx = _norm_backward(dxh, xh, inv, axes, ctx.n)
        if need[1]:
            dw = (g * xh).sum(axis=lead) if lead else g * xh
        if need[2]:
            db = g.sum(axis=lead) if lead else g
        return dx, dw, db, None, None
