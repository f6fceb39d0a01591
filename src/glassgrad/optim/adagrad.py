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
from ._common import grad_with_decay, scalars, shared_doc
from .optimizer import Optimizer, ParamsT

__all__ = ["Adagrad"]


@shared_doc
class Adagrad(Optimizer):
    """Adaptive per-coordinate learning rates from accumulated squared gradients.

    Parameters
    ----------
    {params, lr}
    lr_decay : float
        Learning-rate decay: step ``t`` uses ``lr / (1 + (t - 1) * lr_decay)`` (default 0).
    {weight_decay}
    initial_accumulator_value : float
        Starting value of the sum of squared gradients (default 0).
    {eps, maximize}
    """

    _nonnegative = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, x: Any, group: dict[str, Any]) -> dict[str, Any]:
        return {"sum": np.full_like(x, float(group["initial_accumulator_value"]))}

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps, wd = scalars(group, "lr", "lr_decay", "eps", "weight_decay")
        maximize = bool(group["maximize"])
        for x, g, st in self._with_grads(group):
            a, b = self._buffers(x, 2)
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
