"""Rprop (Riedmiller & Braun, 1993): resilient backpropagation, as ``torch.optim.Rprop``.

Only the *sign* of the gradient is used. Each entry keeps its own step size, which grows
while the gradient keeps its sign and shrinks when it flips (a minimum was jumped over)::

    g     = -grad if maximize else grad
    s     = sign(g * g_prev)
    η     = η₊ where s > 0,  η₋ where s < 0,  1 where s = 0
    step  = clamp(step * η, step_min, step_max)           ("step_size", starts at lr)
    g     = 0 where s < 0                                 (no move after a sign flip)
    p     = p - sign(g) * step
    g_prev = g                                            ("prev")

Full-batch training is what it was made for: mini-batch noise flips signs at random.
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from ._common import shared_doc
from .optimizer import Optimizer, ParamsT, _as_float

__all__ = ["Rprop"]


@shared_doc
class Rprop(Optimizer):
    """Rprop: per-entry step sizes adapted from the signs of successive gradients.

    Parameters
    ----------
    {params}
    lr : float
        Initial step size of every entry (default 1e-2).
    etas : tuple of float
        ``(eta_minus, eta_plus)``: step-size factors after a sign flip and after a
        repeated sign, ``0 < eta_minus < 1 < eta_plus`` (default (0.5, 1.2)).
    step_sizes : tuple of float
        ``(min, max)`` step size (default (1e-6, 50)).
    {maximize}
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, maximize: bool = False) -> None:
        pair = lambda v: tuple(v) if isinstance(v, (list, tuple)) else v
        super().__init__(params, dict(lr=lr, etas=pair(etas), step_sizes=pair(step_sizes),
                                      maximize=maximize))

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        for key in ("etas", "step_sizes"):
            v = group[key]
            if not isinstance(v, tuple) or len(v) != 2:
                raise ValueError(f"Rprop: {key} must be a pair of floats, got {v!r}")
        em, ep = (_as_float("etas", e, "Rprop") for e in group["etas"])
        if not 0.0 < em < 1.0 < ep:
            raise ValueError(f"Rprop: etas must satisfy 0 < eta_minus < 1 < eta_plus, got "
                             f"{group['etas']}")
        lo, hi = (_as_float("step_sizes", e, "Rprop") for e in group["step_sizes"])
        if not 0.0 <= lo <= hi:
            raise ValueError(f"Rprop: step_sizes must satisfy 0 <= min <= max, got "
                             f"{group['step_sizes']}")

    def _init_state(self, x: Any, group: dict[str, Any]) -> dict[str, Any]:
        return {"prev": np.zeros_like(x), "step_size": np.full_like(x, float(group["lr"]))}

    def _update_group(self, group: dict[str, Any]) -> None:
        em, ep = map(float, group["etas"])
        lo, hi = map(float, group["step_sizes"])
        maximize = bool(group["maximize"])
        for x, g, st in self._with_grads(group):
            g = g.copy()
            if maximize:
                np.negative(g, out=g)
            prev, step = st["prev"], st["step_size"]
            s = np.sign(g * prev)
            factor = np.where(s > 0, ep, np.where(s < 0, em, 1.0)).astype(x.dtype, copy=False)
            step *= factor
            np.clip(step, lo, hi, out=step)
            g[s < 0] = 0
            x -= np.sign(g) * step
            prev[...] = g
