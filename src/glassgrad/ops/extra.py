"""Ops added for PyTorch compatibility that cannot be composed from other ops.

* the inverse hyperbolic functions (their compositions from ``log`` and ``sqrt`` lose
  precision: ``log(x + √(x² + 1))`` cancels for large negative ``x``);
* ``ScatterPut``: write ``src`` into zeros at ``index`` along ``dim`` (``torch.scatter``
  without reduction), whose VJP is a gather.

Derivations: ``docs/derivations/extra.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import np, xp_of
from . import _dual as D
from .indexing import TakeAlong, _along_index


class Asinh(Function):
    """``z = asinh(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = dZ / √(X² + 1)",)}
    derivation = "docs/derivations/extra.md#asinh"

    fresh_grads = True  # backward returns new arrays (Function.fresh_grads)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).arcsinh(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g / √(x² + 1)``."""
        (x,) = ctx.saved_tensors
        return g / D.sqrt(x * x + 1)


class Acosh(Function):
    """``z = acosh(x)`` for ``x ≥ 1`` (NaN below)."""
    formulas = {"inputs": "X", "grads": ("dX = dZ / √(X² − 1)",)}
    derivation = "docs/derivations/extra.md#acosh"

    fresh_grads = True  # backward returns new arrays (Function.fresh_grads)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(invalid="ignore"):
            return xp_of(x).arccosh(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g / √(x² − 1)``."""
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / D.sqrt(x * x - 1)


class Atanh(Function):
    """``z = atanh(x)`` for ``|x| < 1`` (±inf at ±1, NaN outside)."""
    formulas = {"inputs": "X", "grads": ("dX = dZ / (1 − X²)",)}
    derivation = "docs/derivations/extra.md#atanh"

    fresh_grads = True  # backward returns new arrays (Function.fresh_grads)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp_of(x).arctanh(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g / (1 − x²)``."""
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return g / (1 - x * x)


class ScatterPut(Function):
    """``z = zeros(shape)``; ``z[.. index ..] = s`` along ``dim`` (the last write wins)."""
    formulas = {"inputs": "S, index, dim, shape", "grads": ("dS = gather(dZ, index, dim)", None, None, None)}
    derivation = "docs/derivations/extra.md#scatter"

    @staticmethod
    def forward(ctx, s, index, dim, shape):
        ctx.index, ctx.dim = index, dim
        z = xp_of(s).zeros(shape, dtype=s.dtype)
        z[_along_index(index, dim)] = s
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``ds = take_along_axis(g, index, dim)`` (a gather; ``index`` may be
        smaller than ``g`` outside ``dim``: the leading part of ``g`` is read there)."""
        idx, dim = ctx.index, ctx.dim
        if any(k != n for ax, (k, n) in enumerate(zip(idx.shape, g.shape)) if ax != dim):
            g = g[tuple(slice(None) if ax == dim else slice(0, k)
                        for ax, k in enumerate(idx.shape))]
        if hasattr(g, "grad_fn"):
            return TakeAlong.apply(g, idx, dim), None, None, None
        return xp_of(g).take_along_axis(g, idx, axis=dim), None, None, None


def scatter_mask(index: Any, dim: int, shape: tuple) -> Any:
    """Boolean array of ``shape``: true where ``index`` (along ``dim``) writes."""
    m = xp_of(index).zeros(shape, dtype=bool)
    m[_along_index(index, dim)] = True
    return m
