"""Adagrad (Duchi, Hazan & Singer, 2011), as ``torch.optim.Adagrad``.

Each coordinate's step is divided by the root of the *sum* of all its past squared
gradients, so frequently-updated coordinates slow down and rare ones keep large steps::

    g   = -grad if maximize else grad
    g   = g + weight_decay * p                     (if weight_decay != 0)
    lr_t = lr / (1 + (t - 1) * lr_decay)           t = 1, 2, ... the step count
    s   = s + g * g                                ("sum", starts at initial_accumulator_value)
    p   = p - lr_t * g / (sqrt(s) + eps)

One deliberate difference from PyTorch: a parameter group's own
``initial_accumulator_value`` is used for its parameters (PyTorch fills every group's
accumulator with the constructor's value and ignores the per-group option). The
accumulator is created at a parameter's first update rather than in the constructor, so
``state_dict()`` before any step has no entry for it; the values are the same.
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from .optimizer import Optimizer, ParamsT, check_nonneg, grad_with_decay, scalar

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adaptive per-coordinate learning rates from accumulated squared gradients.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter-group dicts.
    lr : float
        Learning rate (default 1e-2).
    lr_decay : float
        Learning-rate decay: step ``t`` uses ``lr / (1 + (t - 1) * lr_decay)`` (default 0).
    weight_decay : float
        L2 penalty (default 0).
    initial_accumulator_value : float
        Starting value of the sum of squared gradients (default 0).
    eps : float
        Added to the denominator (default 1e-10).
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_nonneg("Adagrad", "lr_decay value", group["lr_decay"])
        check_nonneg("Adagrad", "weight_decay value", group["weight_decay"])
        check_nonneg("Adagrad", "initial_accumulator_value", group["initial_accumulator_value"])
        check_nonneg("Adagrad", "epsilon value", group["eps"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = scalar(group, "lr"), scalar(group, "lr_decay"), scalar(group, "eps")
        wd, maximize = scalar(group, "weight_decay"), bool(group["maximize"])
        init = scalar(group, "initial_accumulator_value")
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            x = p.array
            st = self.state[p]
            if not st:
                st["step"] = 0
                st["sum"] = np.full_like(x, init)
            a, b = self._buffers(x, 2)
            st["step"] += 1
            g = grad_with_decay(g, x, wd, maximize, a)
            clr = lr / (1.0 + (st["step"] - 1) * lr_decay)
            s = st["sum"]
            np.multiply(g, g, out=b)
            s += b
            np.sqrt(s, out=b)
            b += eps
            np.divide(g, b, out=b)
            b *= -clr
            x += b
            p._version[0] += 1
