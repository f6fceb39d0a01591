"""Piecewise-constant ops: floor, ceil, trunc, round, sign.

Each is constant between its jumps, so its derivative is 0 almost everywhere (and
undefined at the jumps, where PyTorch also uses 0). They are still graph nodes, so that
``x.floor().sum().backward()`` runs and gives ``x.grad = 0`` as in PyTorch, instead of
failing because the result does not require grad.

Derivation: ``docs/derivations/elementwise.md``.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp_of
from . import _dual as D


class Rounded(Function):
    """``z = fn(x)`` for ``fn`` in floor/ceil/trunc/round/sign; ``dx = 0``."""
    formulas = {"inputs": "X", "grads": ("dX = 0 (floor/ceil/trunc/round/sign: piecewise constant)",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, fn, *args):
        xp = xp_of(x)
        if x.dtype.kind == "b":  # sign of a bool is itself (as PyTorch)
            return x.copy()
        if fn == "sign" and x.dtype.kind == "f":  # sign(nan) = 0, as PyTorch
            return xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x))
        return getattr(xp, fn)(x, *args)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = 0`` (the derivative of a step function, away from its steps)."""
        return (D.zeros_like(g), None) + (None,) * (len(ctx.needs_input_grad) - 2)
