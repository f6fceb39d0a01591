"""RAdam, rectified Adam (Liu et al., 2020), as ``torch.optim.RAdam``.

Early in training Adam's second-moment estimate ``v`` averages only a few gradients, so
its adaptive step has a large variance. RAdam measures that through the length of the
approximated simple moving average, ``rho_t``, and uses plain (bias-corrected) momentum
SGD until ``rho_t > 5``, then Adam's step scaled by a variance rectification ``r_t``::

    g      = -grad if maximize else grad
    g      = g + weight_decay * p         (L2; or p *= 1 - lr * weight_decay if decoupled)
    m      = beta1 * m + (1 - beta1) * g
    v      = beta2 * v + (1 - beta2) * g * g
    m^     = m / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t  = rho_inf - 2 t beta2**t / (1 - beta2**t)
    if rho_t > 5:
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        p   = p - lr * m^ * r_t * sqrt(1 - beta2**t) / (sqrt(v) + eps)
    else:
        p   = p - lr * m^
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import np
from ._common import adam_moments, scalars, shared_doc
from .optimizer import Optimizer, ParamsT

__all__ = ["RAdam"]


@shared_doc
class RAdam(Optimizer):
    """Rectified Adam: Adam with a warm-up derived from the variance of its adaptive step.

    Parameters
    ----------
    {params, lr, betas, eps, weight_decay, decoupled_weight_decay, maximize}
    """

    _nonnegative = ("eps", "weight_decay")
    _zero_state = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps = scalars(group, "lr", "eps")
        b1, b2 = map(float, group["betas"])
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        for x, _, st, _, b in adam_moments(self, group):  # decay, then m and v updated
            t = st["step"]
            m, v = st["exp_avg"], st["exp_avg_sq"]
            bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
            rho_t = rho_inf - 2.0 * t * (b2**t) / bc2
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                 / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                np.sqrt(v, out=b)  # b = sqrt(1 - beta2^t) / (sqrt(v) + eps)
                b += eps
                np.divide(math.sqrt(bc2), b, out=b)
                b *= m
                b *= -lr * rect / bc1
            else:
                np.multiply(m, -lr / bc1, out=b)
            x += b
