"""RMSprop (Hinton, 2012 lecture notes), as ``torch.optim.RMSprop``.

The update for parameter ``p`` with gradient ``grad``::

    g   = -grad if maximize else grad
    g   = g + weight_decay * p                     (if weight_decay != 0)
    v   = alpha * v + (1 - alpha) * g * g          running mean square   ("square_avg")
    if centered:                                   subtract the squared running mean:
        gbar = alpha * gbar + (1 - alpha) * g      ("grad_avg")
        s    = sqrt(v - gbar * gbar) + eps         an estimate of the gradient's std
    else:
        s    = sqrt(v) + eps
    if momentum > 0:
        b = momentum * b + g / s                   ("momentum_buffer")
        p = p - lr * b
    else:
        p = p - lr * g / s

Unlike Adam there is no bias correction: ``v`` starts at 0, so the first steps are large
(``g / sqrt(1 - alpha)`` ~ 10 g for alpha = 0.99).
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from ._common import grad_with_decay, scalars, shared_doc
from .optimizer import Optimizer, ParamsT

__all__ = ["RMSprop"]


@shared_doc
class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of its recent values.

    Parameters
    ----------
    {params, lr}
    alpha : float
        Smoothing constant of the running mean square (default 0.99).
    {eps, weight_decay, momentum}
    centered : bool
        Normalize by an estimate of the gradient's variance instead of its second moment.
    {maximize}
    """

    _nonnegative = ("eps", "momentum", "weight_decay", "alpha")
    _zero_state = ("square_avg",)

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps, wd, mom = scalars(group, "lr", "alpha", "eps", "weight_decay", "momentum")
        centered, maximize = bool(group["centered"]), bool(group["maximize"])
        for x, g, st in self._with_grads(group):
            # (also when momentum or centered is switched on mid-run)
            if mom > 0 and "momentum_buffer" not in st:
                st["momentum_buffer"] = np.zeros_like(x)
            if centered and "grad_avg" not in st:
                st["grad_avg"] = np.zeros_like(x)
            a, b = self._buffers(x, 2)
            g = grad_with_decay(g, x, wd, maximize, a)
            v = st["square_avg"]
            # v <- alpha v + (1 - alpha) g^2
            np.multiply(g, g, out=b)
            b *= 1.0 - alpha
            v *= alpha
            v += b
            if centered:
                gbar = st["grad_avg"]
                np.subtract(g, gbar, out=b)  # gbar <- gbar + (1 - alpha)(g - gbar)
                b *= 1.0 - alpha
                gbar += b
                np.multiply(gbar, gbar, out=b)
                np.subtract(v, b, out=b)
                np.sqrt(b, out=b)
            else:
                np.sqrt(v, out=b)
            b += eps
            np.divide(g, b, out=b)  # b = g / s
            if mom > 0:
                buf = st["momentum_buffer"]
                buf *= mom
                buf += b
                np.multiply(buf, -lr, out=b)
            else:
                b *= -lr
            x += b
