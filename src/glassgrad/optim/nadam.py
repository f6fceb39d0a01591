"""NAdam (Dozat, 2016): Adam with Nesterov momentum, as ``torch.optim.NAdam``.

Nesterov momentum looks one step ahead: the update uses the momentum it *will* have after
this step. NAdam applies that to Adam, with a momentum coefficient ``mu_t`` that warms up
(``momentum_decay`` ψ), and its running product for the bias correction::

    g       = -grad if maximize else grad
    g       = g + weight_decay * p          (L2; or p *= 1 - lr * weight_decay if decoupled)
    mu_t    = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_t1   = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    prod    = prod * mu_t                            ("mu_product", Π_{i ≤ t} mu_i)
    m       = beta1 * m + (1 - beta1) * g
    v       = beta2 * v + (1 - beta2) * g * g
    denom   = sqrt(v / (1 - beta2**t)) + eps
    p       = p - lr * (1 - mu_t) / (1 - prod) * g / denom
              - lr * mu_t1 / (1 - prod * mu_t1) * m / denom
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from ._common import adam_moments, scalars, shared_doc
from .optimizer import Optimizer, ParamsT

__all__ = ["NAdam"]


@shared_doc
class NAdam(Optimizer):
    """Adam with Nesterov momentum.

    Parameters
    ----------
    {params, lr, betas, eps, weight_decay}
    momentum_decay : float
        ψ, how fast the momentum coefficient warms up to ``beta1`` (default 4e-3).
    {decoupled_weight_decay, maximize}
    """

    _scalar_state = ("step", "mu_product")
    _nonnegative = ("eps", "weight_decay", "momentum_decay")
    _zero_state = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _init_state(self, x: Any, group: dict[str, Any]) -> dict[str, Any]:
        return {"mu_product": 1.0, **super()._init_state(x, group)}

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, psi = scalars(group, "lr", "eps", "momentum_decay")
        b1, b2 = map(float, group["betas"])
        for x, g, st, a, b in adam_moments(self, group):  # decay, then m and v updated
            t = st["step"]
            mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
            prod = st["mu_product"] = float(st["mu_product"]) * mu
            m, v = st["exp_avg"], st["exp_avg_sq"]
            np.divide(v, 1.0 - b2**t, out=b)  # b = denom = sqrt(v / (1 - beta2^t)) + eps
            np.sqrt(b, out=b)
            b += eps
            # x += c_g·g/denom, then x += c_m·m/denom (two steps, in PyTorch's order)
            np.divide(g, b, out=a)
            a *= -lr * (1.0 - mu) / (1.0 - prod)
            x += a
            np.divide(m, b, out=a)
            a *= (-lr * mu_next) / (1.0 - prod * mu_next)
            x += a
