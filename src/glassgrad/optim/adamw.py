"""AdamW (Loshchilov & Hutter, 2019): Adam with *decoupled* weight decay.

Adam's L2 penalty adds ``weight_decay * p`` to the gradient, so the decay is then divided
by ``sqrt(v)`` like the gradient: weights with large gradients are barely decayed.
AdamW instead shrinks the weights directly, before the Adam step::

    p = p * (1 - lr * weight_decay)
    (then the Adam update of :mod:`glassgrad.optim.adam`, with no L2 term)
"""

from __future__ import annotations

from ._common import shared_doc
from .adam import Adam
from .optimizer import ParamsT

__all__ = ["AdamW"]


@shared_doc
class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW`` (default decay 1e-2).

    Parameters
    ----------
    {params, lr, betas, eps}
    weight_decay : float
        Decoupled weight decay: each step multiplies the weights by ``1 - lr * weight_decay``
        (default 1e-2).
    {amsgrad, maximize}
    """

    _decoupled_default = True

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
