"""Reductions: sum, mean, var/std, max/min (amax/amin), logsumexp, softmax, log_softmax.

A reduction maps many inputs to one output, so its VJP *spreads* the incoming
gradient back over the reduced axes: for ``sum`` every input gets ``g`` (broadcast),
for ``mean`` ``g / n``, for ``max`` only the arg-max elements.

Derivations: ``docs/derivations/reductions.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import np, xp_of
from . import _dual as D


def _expand_back(g: Any, in_shape: tuple, axes: tuple | None, keepdims: bool) -> Any:
    """Re-insert the reduced axes of ``g`` (as size 1) and broadcast it to ``in_shape``."""
    if axes is None:
        axes = tuple(range(len(in_shape)))
    if not keepdims:
        shape = list(in_shape)
        for a in axes:
            shape[a] = 1
        g = g.reshape(tuple(shape))
    return D.expand(g, in_shape)


def _count(shape: tuple, axes: tuple | None) -> int:
    n = 1
    for a in range(len(shape)) if axes is None else axes:
        n *= shape[a]
    return n


class Sum(Function):
    """``z = Σ_axes x``."""

    @staticmethod
    def forward(ctx, x, axes=None, keepdims=False):
        ctx.axes, ctx.keepdims = axes, keepdims
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g, x.shape)`` — every summand gets the whole gradient."""
        return _expand_back(g, ctx._in_meta[0][0], ctx.axes, ctx.keepdims), None, None


class Mean(Function):
    """``z = (1/n) Σ_axes x``."""

    @staticmethod
    def forward(ctx, x, axes=None, keepdims=False):
        ctx.axes, ctx.keepdims = axes, keepdims
        if x.size == 0 and _count(x.shape, axes) == 0:  # mean of nothing: nan, silently (torch)
            z = x.sum(axis=axes, keepdims=keepdims)
            return z + np.asarray(np.nan, dtype=x.dtype)
        return x.mean(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g, x.shape) / n``, n = number of reduced elements."""
        shape = ctx._in_meta[0][0]
        n = _count(shape, ctx.axes)
        return _expand_back(g * (1.0 / max(n, 1)), shape, ctx.axes, ctx.keepdims), None, None


class Var(Function):
    """``z = Σ (x - x̄)² / (n - correction)``."""

    @staticmethod
    def forward(ctx, x, axes=None, correction=1, keepdims=False):
        ctx.save_for_backward(x)
        ctx.axes, ctx.correction, ctx.keepdims = axes, correction, keepdims
        n = _count(x.shape, axes)
        mu = x.mean(axis=axes, keepdims=True)
        d = x - mu
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= correction: inf/nan, as torch
            return (d * d).sum(axis=axes, keepdims=keepdims) / max(n - correction, 0)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g) ⊙ 2(x - x̄) / (n - correction)``."""
        (x,) = ctx.saved_tensors
        shape = ctx._in_meta[0][0]
        n = _count(shape, ctx.axes)
        mu = x.mean(axis=ctx.axes, keepdims=True)
        gb = _expand_back(g, shape, ctx.axes, ctx.keepdims)
        dof = n - ctx.correction
        scale = 2.0 / dof if dof > 0 else float("inf")  # no degrees of freedom: nan, as torch
        with np.errstate(invalid="ignore"):
            return gb * (x - mu) * scale, None, None, None


class Std(Function):
    """``z = √var(x)``, with ``var`` as in :class:`Var`."""

    @staticmethod
    def forward(ctx, x, axes=None, correction=1, keepdims=False):
        ctx.save_for_backward(x)
        ctx.axes, ctx.correction, ctx.keepdims = axes, correction, keepdims
        n = _count(x.shape, axes)
        d = x - x.mean(axis=axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.sqrt((d * d).sum(axis=axes, keepdims=True) / max(n - correction, 0))
        ctx.s = s  # keepdims form, for the backward
        z = s.astype(x.dtype, copy=False)
        if not keepdims:
            z = z.reshape(()) if axes is None else z.squeeze(axis=axes)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g) ⊙ (x - x̄) / ((n - correction) · std)``, and 0 where
        ``std = 0`` (all elements equal: PyTorch's convention, instead of 0/0)."""
        (x,) = ctx.saved_tensors
        shape = ctx._in_meta[0][0]
        n = _count(shape, ctx.axes)
        dof = n - ctx.correction
        if ctx.create_graph:
            s = x.std(dim=ctx.axes, correction=ctx.correction, keepdim=True)
        else:
            s = ctx.s
        zero = D.data(s) == 0
        s_safe = D.where(zero, D.zeros_like(s) + 1, s)
        mu = x.mean(axis=ctx.axes, keepdims=True)
        gb = _expand_back(g, shape, ctx.axes, ctx.keepdims)
        scale = 1.0 / dof if dof > 0 else float("inf")
        with np.errstate(invalid="ignore"):
            dx = gb * (x - mu) * scale / s_safe
        if zero.any():
            dx = D.where(np.broadcast_to(zero, shape), D.zeros_like(dx), dx)
        return dx, None, None, None


class PNorm(Function):
    """``z = (Σ_axes |x|^p)^(1/p)`` for ``p > 1`` (``p = 2``: the Euclidean norm)."""

    @staticmethod
    def forward(ctx, x, p=2.0, axes=None, keepdims=False):
        ctx.save_for_backward(x)
        ctx.p, ctx.axes, ctx.keepdims = p, axes, keepdims
        a = np.abs(x)
        nk = np.sqrt((x * x).sum(axis=axes, keepdims=True)) if p == 2 else \
            ((a ** p).sum(axis=axes, keepdims=True)) ** (1.0 / p)
        nk = np.asarray(nk, dtype=x.dtype)
        ctx.nk = nk
        z = nk
        if not keepdims:
            z = z.reshape(()) if axes is None else z.squeeze(axis=axes)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g) ⊙ x |x|^(p-2) / ‖x‖^(p-1)`` (for p = 2: ``g ⊙ x / ‖x‖``),
        and 0 where the norm is 0 (PyTorch's convention, instead of 0/0)."""
        (x,) = ctx.saved_tensors
        shape = ctx._in_meta[0][0]
        p = ctx.p
        nk = x.norm(p, dim=ctx.axes, keepdim=True) if ctx.create_graph else ctx.nk
        zero = D.data(nk) == 0
        safe = D.where(zero, D.zeros_like(nk) + 1, nk)
        gb = _expand_back(g, shape, ctx.axes, ctx.keepdims)
        if p == 2:
            dx = gb * x / safe
        else:
            ax = D.where(D.data(x) == 0, D.zeros_like(x) + 1, x * D.sign(x))  # |x| (safe at 0)
            dx = gb * x * ax ** (p - 2) / safe ** (p - 1)
        if zero.any():
            dx = D.where(np.broadcast_to(zero, shape), D.zeros_like(dx), dx)
        return dx, None, None, None


class Amax(Function):
    """``z = max over axes``; ties share the gradient evenly (as ``torch.amax``)."""

    @staticmethod
    def forward(ctx, x, axes=None, keepdims=False):
        z = x.max(axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, z)
        ctx.axes, ctx.keepdims = axes, keepdims
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g) ⊙ [x = max] / (number of maxima)``."""
        x, z = ctx.saved_tensors
        return _extremum_backward(ctx, g, x, z), None, None


class Amin(Function):
    """``z = min over axes``; ties share the gradient evenly (as ``torch.amin``)."""

    @staticmethod
    def forward(ctx, x, axes=None, keepdims=False):
        z = x.min(axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, z)
        ctx.axes, ctx.keepdims = axes, keepdims
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g) ⊙ [x = min] / (number of minima)``."""
        x, z = ctx.saved_tensors
        return _extremum_backward(ctx, g, x, z), None, None


def _extremum_backward(ctx: Any, g: Any, x: Any, z: Any) -> Any:
    shape = ctx._in_meta[0][0]
    zd = _expand_back(D.data(z), shape, ctx.axes, ctx.keepdims)
    mask = D.data(x) == zd
    cnt = mask.sum(axis=ctx.axes, keepdims=True)
    w = (mask / cnt).astype(D.data(x).dtype)
    return _expand_back(g, shape, ctx.axes, ctx.keepdims) * w


class MaxDim(Function):
    """``values, indices = max(x, dim)``: the gradient goes to the returned index."""

    @staticmethod
    def forward(ctx, x, dim, keepdims=False, largest=True):
        xp = xp_of(x)
        idx = x.argmax(axis=dim) if largest else x.argmin(axis=dim)
        idxk = xp.expand_dims(idx, dim)
        vals = xp.take_along_axis(x, idxk, axis=dim)
        ctx.idx = idxk
        ctx.dim, ctx.keepdims = dim, keepdims
        if not keepdims:
            vals = vals.squeeze(dim)
            idxk = idx
        return vals, idxk

    @staticmethod
    def backward(ctx, g, _gidx):
        """VJP: ``dx = scatter(g at indices)``, zeros elsewhere."""
        from .indexing import scatter_along

        shape = ctx._in_meta[0][0]
        if not ctx.keepdims:
            g = g.reshape(tuple(1 if i == ctx.dim else s for i, s in enumerate(shape)))
        return scatter_along(g, ctx.idx, ctx.dim, shape), None, None, None


class LogSumExp(Function):
    """``z = log Σ_axes exp(x)``, computed as ``m + log Σ exp(x - m)`` (no overflow)."""

    @staticmethod
    def forward(ctx, x, axes=None, keepdims=False):
        xp = xp_of(x)
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # all -inf: log 0 = -inf, as torch
            z = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        ctx.save_for_backward(x)
        ctx.z = z
        ctx.axes, ctx.keepdims = axes, keepdims
        if not keepdims:
            z = z.reshape(()) if axes is None else z.squeeze(axis=axes)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g) ⊙ softmax(x)`` (over the reduced axes)."""
        (x,) = ctx.saved_tensors
        shape = ctx._in_meta[0][0]
        if ctx.create_graph:
            p = D.exp(x - x.logsumexp(dim=ctx.axes, keepdim=True))
        else:
            p = xp_of(x).exp(x - ctx.z)
        return _expand_back(g, shape, ctx.axes, ctx.keepdims) * p, None, None


class Softmax(Function):
    """``y = exp(x) / Σ_axis exp(x)`` (shifted by the max for stability)."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = xp_of(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(e)
        ctx.axis = axis
        return e

    @staticmethod
    def backward(ctx, g):
        """VJP of the softmax Jacobian ``J = diag(y) - y yᵀ``:
        ``dx = Jᵀg = y ⊙ (g - Σ_axis(g ⊙ y))``; shapes: all like ``x``."""
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True)), None


class LogSoftmax(Function):
    """``y = x - logsumexp(x, axis)``."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = xp_of(x)
        s = x - x.max(axis=axis, keepdims=True)
        y = s - xp.log(xp.exp(s).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g - softmax(x) ⊙ Σ_axis g = g - exp(y) ⊙ Σ_axis g``."""
        (y,) = ctx.saved_tensors
        return g - D.exp(y) * g.sum(axis=ctx.axis, keepdims=True), None
