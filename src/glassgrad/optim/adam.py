"""Adam (Kingma & Ba, 2015) and its AMSGrad variant, as ``torch.optim.Adam``.

The update at step :math:`t = 1, 2, \\dots` for parameter :math:`p` with gradient ``grad``::

    g   = -grad if maximize else grad
    g   = g + weight_decay * p                     (L2 penalty: Adam, weight_decay != 0)
    p   = p * (1 - lr * weight_decay)              (decoupled instead: AdamW)
    m   = beta1 * m + (1 - beta1) * g              first moment  ("exp_avg")
    v   = beta2 * v + (1 - beta2) * g * g          second moment ("exp_avg_sq")
    v^  = max(v^, v)   if amsgrad   else   v       ("max_exp_avg_sq")
    p   = p - lr / (1 - beta1**t) * m / (sqrt(v^) / sqrt(1 - beta2**t) + eps)

Why the bias corrections: ``m`` and ``v`` start at 0, so after ``t`` steps of a constant
gradient ``g``, ``m = (1 - beta1**t) g``; dividing by ``1 - beta1**t`` removes that bias
towards 0 (same for ``v``). Note ``eps`` is added *after* the correction of ``sqrt(v)``,
as PyTorch does (the paper's formula, not its "efficient version").
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import np
from ..ops import kernels
from ._common import adam_moments, scalars, shared_doc, zeros
from .optimizer import Optimizer, ParamsT

__all__ = ["Adam"]


@shared_doc
class Adam(Optimizer):
    """Adam: per-coordinate steps scaled by running RMS of the gradient.

    ``decoupled_weight_decay=True`` makes it :class:`AdamW`.

    Parameters
    ----------
    {params, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay}
    """

    _decoupled_default = False
    _nonnegative = ("eps", "weight_decay")

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool | None = None) -> None:
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self._decoupled_default
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, x: Any, group: dict[str, Any]) -> dict[str, Any]:
        if group["amsgrad"]:
            return zeros(x, "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return zeros(x, "exp_avg", "exp_avg_sq")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = scalars(group, "lr", "eps", "weight_decay")
        b1, b2 = map(float, group["betas"])
        amsgrad = bool(group["amsgrad"])
        fused = None
        if not (amsgrad or group["maximize"] or (wd and not group["decoupled_weight_decay"])):
            # no AMSGrad, no L2 penalty: one compiled pass per parameter where the kernels
            # apply (ops/kernels.py adam_step: the NumPy lines of adam_moments and _apply,
            # in their order, with AdamW's decay first; bit-identical), else those lines
            decay = 1.0 - lr * wd if wd else 1.0

            def fused(x: Any, g: Any, st: dict[str, Any]) -> bool:
                t = st["step"]
                return kernels.adam_step(x, g, st["exp_avg"], st["exp_avg_sq"], b1, b2,
                                         math.sqrt(1.0 - b2**t), eps, lr / (1.0 - b1**t), decay)
        for x, _, st, _, b in adam_moments(self, group, fused):  # decay, then m and v updated
            v = st["exp_avg_sq"]
            if amsgrad:
                vmax = st.get("max_exp_avg_sq")
                if vmax is None:  # amsgrad switched on mid-run
                    vmax = st["max_exp_avg_sq"] = np.zeros_like(x)
                np.maximum(vmax, v, out=vmax)
                v = vmax
            _apply(x, st["exp_avg"], v, b, st["step"], lr, eps, b1, b2)


def _apply(x: Any, m: Any, v: Any, b: Any, t: int, lr: float, eps: float, b1: float,
           b2: float) -> None:
    """The step from the moments: ``x -= lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)``, with
    ``b`` as scratch (Python-float scalars: the arithmetic stays in ``x``'s dtype)."""
    step_size = lr / (1.0 - b1**t)
    bc2_sqrt = math.sqrt(1.0 - b2**t)
    np.sqrt(v, out=b)
    b /= bc2_sqrt
    b += eps
    np.divide(m, b, out=b)
    b *= -step_size
    x += b
