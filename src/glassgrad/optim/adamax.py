"""Adamax (Kingma & Ba, 2015, section 7): Adam with the infinity norm, as ``torch.optim.Adamax``.

Adam scales by an exponential average of ``g**2`` (an L2 estimate); letting the exponent go
to infinity gives a running *maximum* of ``|g|``, which needs no bias correction::

    g   = -grad if maximize else grad
    g   = g + weight_decay * p                     (if weight_decay != 0)
    m   = beta1 * m + (1 - beta1) * g              ("exp_avg")
    u   = max(beta2 * u, |g| + eps)                ("exp_inf")
    p   = p - lr / (1 - beta1**t) * m / u
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from .optimizer import Optimizer, ParamsT, check_adam_group, grad_with_decay, scalar

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax: Adam's first moment divided by a decaying running max of ``|grad|``.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter-group dicts.
    lr : float
        Learning rate (default 2e-3).
    betas : tuple of float
        ``(beta1, beta2)`` (default (0.9, 0.999)).
    eps : float
        Added to ``|g|`` (default 1e-8).
    weight_decay : float
        L2 penalty (default 0).
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_adam_group("Adamax", group)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = scalar(group, "lr"), scalar(group, "eps"), scalar(group, "weight_decay")
        b1, b2 = float(group["betas"][0]), float(group["betas"][1])
        maximize = bool(group["maximize"])
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            x = p.array
            st = self.state[p]
            if not st:
                st["step"] = 0
                st["exp_avg"] = np.zeros_like(x)
                st["exp_inf"] = np.zeros_like(x)
            a, b = self._buffers(x, 2)
            st["step"] += 1
            g = grad_with_decay(g, x, wd, maximize, a)
            m, u = st["exp_avg"], st["exp_inf"]
            np.subtract(g, m, out=b)  # m <- m + (1 - beta1)(g - m)
            b *= 1.0 - b1
            m += b
            np.abs(g, out=b)  # u <- max(beta2 u, |g| + eps)
            b += eps
            u *= b2
            np.maximum(u, b, out=u)
            clr = lr / (1.0 - b1 ** st["step"])
            np.divide(m, u, out=b)
            b *= -clr
            x += b
            p._version[0] += 1
