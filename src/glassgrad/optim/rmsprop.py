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
from .optimizer import Optimizer, ParamsT, check_nonneg, grad_with_decay, scalar

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of its recent values.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter-group dicts.
    lr : float
        Learning rate (default 1e-2).
    alpha : float
        Smoothing constant of the running mean square (default 0.99).
    eps : float
        Added to the denominator (default 1e-8).
    weight_decay : float
        L2 penalty (default 0).
    momentum : float
        Momentum factor (default 0).
    centered : bool
        Normalize by an estimate of the gradient's variance instead of its second moment.
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_nonneg("RMSprop", "epsilon value", group["eps"])
        check_nonneg("RMSprop", "momentum value", group["momentum"])
        check_nonneg("RMSprop", "weight_decay value", group["weight_decay"])
        check_nonneg("RMSprop", "alpha value", group["alpha"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = scalar(group, "lr"), scalar(group, "alpha"), scalar(group, "eps")
        wd, mom = scalar(group, "weight_decay"), scalar(group, "momentum")
        centered, maximize = bool(group["centered"]), bool(group["maximize"])
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            x = p.array
            st = self.state[p]
            if not st:
                st["step"] = 0
                st["square_avg"] = np.zeros_like(x)
            if mom > 0 and "momentum_buffer" not in st:
                st["momentum_buffer"] = np.zeros_like(x)
            if centered and "grad_avg" not in st:
                st["grad_avg"] = np.zeros_like(x)
            a, b = self._buffers(x, 2)
            st["step"] += 1
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
            p._version[0] += 1
