"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

The step is the ratio of two running RMS values, which makes it have the units of the
parameter (no learning rate is needed in the paper; PyTorch keeps ``lr`` as a final scale,
default 1)::

    g     = -grad if maximize else grad
    g     = g + weight_decay * p                   (if weight_decay != 0)
    v     = rho * v + (1 - rho) * g * g            ("square_avg")
    delta = sqrt(u + eps) / sqrt(v + eps) * g      u: running mean of squared steps
    u     = rho * u + (1 - rho) * delta * delta    ("acc_delta")
    p     = p - lr * delta
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from ._common import grad_with_decay, scalars, shared_doc
from .optimizer import Optimizer, ParamsT

__all__ = ["Adadelta"]


@shared_doc
class Adadelta(Optimizer):
    """Adadelta: steps scaled by RMS(past steps) / RMS(gradients).

    Parameters
    ----------
    {params}
    lr : float
        Scale of the step (default 1.0).
    rho : float
        Decay of the running averages, in [0, 1] (default 0.9).
    eps : float
        Added inside both square roots (default 1e-6).
    {weight_decay, maximize}
    """

    _nonnegative = ("eps", "weight_decay")
    _zero_state = ("square_avg", "acc_delta")

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        if not 0.0 <= float(group["rho"]) <= 1.0:
            raise ValueError(f"Adadelta: invalid rho value {group['rho']!r} (expected 0 <= rho <= 1)")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps, wd = scalars(group, "lr", "rho", "eps", "weight_decay")
        maximize = bool(group["maximize"])
        for x, g, st in self._with_grads(group):
            a, b, c = self._buffers(x, 3)
            g = grad_with_decay(g, x, wd, maximize, a)
            v, u = st["square_avg"], st["acc_delta"]
            np.multiply(g, g, out=b)  # v <- rho v + (1 - rho) g^2
            b *= 1.0 - rho
            v *= rho
            v += b
            np.add(v, eps, out=b)  # b = sqrt(v + eps)
            np.sqrt(b, out=b)
            np.add(u, eps, out=c)  # c = delta = sqrt(u + eps) / b * g
            np.sqrt(c, out=c)
            c /= b
            c *= g
            np.multiply(c, c, out=b)  # u <- rho u + (1 - rho) delta^2
            b *= 1.0 - rho
            u *= rho
            u += b
            c *= -lr
            x += c
