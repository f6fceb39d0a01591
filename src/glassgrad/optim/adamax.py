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
from ._common import grad_with_decay, scalars, shared_doc
from .optimizer import Optimizer, ParamsT

__all__ = ["Adamax"]


@shared_doc
class Adamax(Optimizer):
    """Adamax: Adam's first moment divided by a decaying running max of ``|grad|``.

    Parameters
    ----------
    {params, lr, betas}
    eps : float
        Added to ``|g|`` (default 1e-8).
    {weight_decay, maximize}
    """

    _nonnegative = ("eps", "weight_decay")
    _zero_state = ("exp_avg", "exp_inf")

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = scalars(group, "lr", "eps", "weight_decay")
        b1, b2 = map(float, group["betas"])
        maximize = bool(group["maximize"])
        for x, g, st in self._with_grads(group):
            a, b = self._buffers(x, 2)
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
