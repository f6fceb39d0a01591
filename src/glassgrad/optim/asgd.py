"""Averaged SGD (Polyak & Juditsky, 1992), as ``torch.optim.ASGD``.

Plain SGD with a decaying step and a decay of the weights, plus a running average of the
iterates (``ax``) that starts at step ``t0``; the average, not the last iterate, is the
estimate with the better statistical guarantees::

    g   = -grad if maximize else grad
    g   = g + weight_decay * p                      (if weight_decay != 0)
    p   = p * (1 - lambd * eta) - eta * g
    ax  = p                                         (while mu == 1, i.e. before t0)
    ax  = ax + mu * (p - ax)                        (after)
    eta = lr / (1 + lambd * lr * t) ** alpha        (for the next step)
    mu  = 1 / max(1, t - t0)

``eta`` and ``mu`` are kept in the default floating dtype, as PyTorch keeps them.
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from ..dtypes import get_default_dtype
from ._common import grad_with_decay, scalars, shared_doc
from .optimizer import Optimizer, ParamsT

__all__ = ["ASGD"]


def _kept_in() -> type:
    """The NumPy scalar type of the default dtype, the one PyTorch keeps ``eta`` and ``mu`` in."""
    return np.dtype(get_default_dtype()).type


@shared_doc
class ASGD(Optimizer):
    """Averaged SGD: SGD with a decaying step and a running average of the weights
    (``optimizer.state[p]["ax"]``).

    Parameters
    ----------
    {params, lr}
    lambd : float
        Decay term (default 1e-4).
    alpha : float
        Power of the step-size decay (default 0.75).
    t0 : float
        Step at which averaging starts (default 1e6).
    {weight_decay, maximize}
    """

    _nonnegative = ("weight_decay", "lambd")

    def __init__(self, params: ParamsT, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, x: Any, group: dict[str, Any]) -> dict[str, Any]:
        keep = _kept_in()
        return {"eta": float(keep(float(group["lr"]))), "mu": 1.0, "ax": np.zeros_like(x)}

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, wd, lambd, alpha, t0 = scalars(group, "lr", "weight_decay", "lambd", "alpha", "t0")
        maximize = bool(group["maximize"])
        keep = _kept_in()
        for x, g, st in self._with_grads(group):
            (a,) = self._buffers(x, 1)
            g = grad_with_decay(g, x, wd, maximize, a)
            eta = st["eta"]
            x *= 1.0 - lambd * eta
            x -= eta * g
            ax = st["ax"]
            if st["mu"] != 1.0:
                ax += (x - ax) * keep(st["mu"])
            else:
                ax[...] = x
            t = st["step"]
            st["eta"] = float(keep(lr / ((1.0 + lambd * lr * t) ** alpha)))
            st["mu"] = float(keep(1.0 / max(1.0, t - t0)))
