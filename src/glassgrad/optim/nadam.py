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
from .optimizer import Optimizer, ParamsT, check_adam_group, grad_with_decay, scalar, update_moments

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """Adam with Nesterov momentum.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter-group dicts.
    lr : float
        Learning rate (default 2e-3).
    betas : tuple of float
        ``(beta1, beta2)`` (default (0.9, 0.999)).
    eps : float
        Added to the denominator (default 1e-8).
    weight_decay : float
        Weight decay (default 0).
    momentum_decay : float
        ψ, how fast the momentum coefficient warms up to ``beta1`` (default 4e-3).
    decoupled_weight_decay : bool
        AdamW-style decay (``p *= 1 - lr * weight_decay``) instead of an L2 term.
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    _scalar_state = ("step", "mu_product")

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_adam_group("NAdam", group)
        if not float(group["momentum_decay"]) >= 0.0:
            raise ValueError(f"NAdam: invalid momentum_decay value: {group['momentum_decay']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = scalar(group, "lr"), scalar(group, "eps"), scalar(group, "weight_decay")
        b1, b2 = float(group["betas"][0]), float(group["betas"][1])
        psi = float(group["momentum_decay"])
        maximize, decoupled = bool(group["maximize"]), bool(group["decoupled_weight_decay"])
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            x = p.array
            st = self.state[p]
            if not st:
                st["step"] = 0
                st["mu_product"] = 1.0
                st["exp_avg"] = np.zeros_like(x)
                st["exp_avg_sq"] = np.zeros_like(x)
            a, b = self._buffers(x, 2)
            st["step"] += 1
            t = st["step"]
            g = grad_with_decay(g, x, 0.0 if decoupled else wd, maximize, a)
            if wd != 0.0 and decoupled:
                x *= 1.0 - lr * wd
            mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
            prod = st["mu_product"] = float(st["mu_product"]) * mu
            m, v = st["exp_avg"], st["exp_avg_sq"]
            update_moments(g, m, v, b1, b2, b)
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
            p._version[0] += 1
