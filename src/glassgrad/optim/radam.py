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
from .optimizer import Optimizer, ParamsT, check_adam_group, grad_with_decay, scalar, update_moments

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Rectified Adam: Adam with a warm-up derived from the variance of its adaptive step.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter-group dicts.
    lr : float
        Learning rate (default 1e-3).
    betas : tuple of float
        ``(beta1, beta2)`` (default (0.9, 0.999)).
    eps : float
        Added to ``sqrt(v)`` (default 1e-8).
    weight_decay : float
        Weight decay (default 0).
    decoupled_weight_decay : bool
        AdamW-style decay (``p *= 1 - lr * weight_decay``) instead of an L2 term.
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_adam_group("RAdam", group)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = scalar(group, "lr"), scalar(group, "eps"), scalar(group, "weight_decay")
        b1, b2 = float(group["betas"][0]), float(group["betas"][1])
        maximize, decoupled = bool(group["maximize"]), bool(group["decoupled_weight_decay"])
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            x = p.array
            st = self.state[p]
            if not st:
                st["step"] = 0
                st["exp_avg"] = np.zeros_like(x)
                st["exp_avg_sq"] = np.zeros_like(x)
            a, b = self._buffers(x, 2)
            st["step"] += 1
            t = st["step"]
            g = grad_with_decay(g, x, 0.0 if decoupled else wd, maximize, a)
            if wd != 0.0 and decoupled:
                x *= 1.0 - lr * wd
            m, v = st["exp_avg"], st["exp_avg_sq"]
            update_moments(g, m, v, b1, b2, b)
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
            p._version[0] += 1
