"""Stochastic gradient descent, with optional momentum, dampening, Nesterov and weight decay.

The update (PyTorch's formulation), for gradient :math:`g_t` of parameter :math:`p`::

    g  = -grad if maximize else grad
    g  = g + weight_decay * p                       (L2 penalty, if weight_decay != 0)
    if momentum != 0:
        b = g                               at the first step
        b = momentum * b + (1 - dampening) * g      afterwards
        g = g + momentum * b   if nesterov   else   b
    p  = p - lr * g

Note that PyTorch (and so glassgrad) puts ``lr`` outside the momentum buffer
(``b`` accumulates gradients, not steps), unlike Sutskever et al. (2013); the two agree
for a constant learning rate up to a rescaling of ``b``.
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from ..ops import kernels
from ._common import grad_with_decay, scalars, shared_doc
from .optimizer import Optimizer, ParamsT

__all__ = ["SGD"]

# parameters of at least this many elements update through a scratch array (see
# _update_group)
_SCRATCH_MIN = 16384


@shared_doc
class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    Parameters
    ----------
    {params, lr, momentum}
    dampening : float
        Dampening for momentum: the new gradient enters the buffer with weight
        ``1 - dampening`` (default 0).
    {weight_decay}
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    {maximize}

    Examples
    --------
    >>> opt = SGD([w], lr=0.1, momentum=0.9)        # doctest: +SKIP
    >>> opt.zero_grad(); loss.backward(); opt.step()  # doctest: +SKIP
    """

    _nonnegative = ("momentum", "weight_decay")

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        if group["nesterov"] and (float(group["momentum"]) <= 0 or float(group["dampening"]) != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, mom, damp, wd = scalars(group, "lr", "momentum", "dampening", "weight_decay")
        nesterov, maximize = bool(group["nesterov"]), bool(group["maximize"])
        plain = wd == 0.0 and not maximize and mom == 0.0  # p <- p - lr * grad, nothing else
        for p in group["params"]:
            gt = p.grad
            if gt is None:
                continue
            g, x = gt.array, p.array
            if g.shape != x.shape or (g.dtype is not x.dtype and g.dtype != x.dtype):
                g = self._grad(p)  # a clear error on a wrong shape, or a cast
            if plain:
                # p <- p - lr * g: the same arithmetic as a hand-written NumPy loop. A large
                # parameter takes lr * g into a scratch array kept across steps: a fresh
                # temporary of that size would be handed back to the OS by malloc at each
                # free and page-faulted in again at the next step (measured with glibc's
                # own thresholds: 2x slower steps for an MLP of width 1024 in a fresh
                # process; glassgrad.allocator prevents that too, where it applies)
                if x.size < _SCRATCH_MIN:
                    x -= lr * g
                elif not kernels.sgd_step(x, g, lr):   # one compiled pass, when installed
                    (t,) = self._buffers(x, 1)
                    np.multiply(g, lr, out=t)
                    x -= t
                p._version[0] += 1
                continue
            d, t = self._buffers(x, 2)  # d: the direction, t: a temporary
            g = grad_with_decay(g, x, wd, maximize, d)  # (+/-)g + wd * p, into scratch d
            if mom != 0.0:
                st = self.state[p]
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = g.copy()
                else:
                    buf *= mom
                    if damp == 0.0:
                        buf += g
                    else:
                        np.multiply(g, 1.0 - damp, out=t)
                        buf += t
                if nesterov:
                    np.multiply(buf, mom, out=t)
                    np.add(g, t, out=d)
                    g = d
                else:
                    g = buf
            # p <- p - lr * g
            np.multiply(g, -lr, out=t)
            x += t
            p._version[0] += 1
