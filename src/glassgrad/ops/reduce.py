"""Reductions: sum, mean, var/std, max/min (amax/amin), logsumexp, softmax, log_softmax;
scans and products (cumsum, cumprod, prod); sorting (sort, topk).

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
from ._util import scaled_sum_sq
from .movement import Cat, Stack


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
    formulas = {"inputs": "X, axes, keepdims", "grads": ("dX = broadcast(dZ, X.shape)", None, None)}
    derivation = "docs/derivations/reductions.md#sum"

    @staticmethod
    def forward(ctx, x, axes=None, keepdims=False):
        ctx.axes, ctx.keepdims = axes, keepdims
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g, x.shape)`` — every summand gets the whole gradient."""
        return _expand_back(g, ctx.input_shape(0), ctx.axes, ctx.keepdims), None, None


class Mean(Function):
    """``z = (1/n) Σ_axes x``."""
    formulas = {"inputs": "X, axes, keepdims", "grads": ("dX = broadcast(dZ, X.shape) / n", None, None)}
    derivation = "docs/derivations/reductions.md#mean"

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
        shape = ctx.input_shape(0)
        n = _count(shape, ctx.axes)
        return _expand_back(g * (1.0 / max(n, 1)), shape, ctx.axes, ctx.keepdims), None, None


class Var(Function):
    """``z = Σ (x - x̄)² / (n - correction)``."""
    formulas = {
        "inputs": "X, axes, correction, keepdims",
        "grads": (
            "dX = broadcast(dZ) ⊙ 2(X − mean(X)) / (n − correction)",
            None, None, None,
        ),
    }
    derivation = "docs/derivations/reductions.md#var"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, axes=None, correction=1, keepdims=False):
        t, s, dof = _sum_sq_dev(ctx, x, axes, correction, keepdims)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = t / dof  # n <= correction: inf/nan, as torch; empty: nan
            if not isinstance(s, float):
                z = z * s * s  # (s² alone may overflow where the variance does not)
        z = z.astype(x.dtype, copy=False)
        return z if keepdims else (z.reshape(()) if axes is None else z.squeeze(axis=axes))

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g) ⊙ 2(x - x̄) / (n - correction)``."""
        (x,) = ctx.saved_tensors
        gd, dof = _g_dev(ctx, g, x)
        scale = 2.0 / dof if dof > 0 else float("inf")  # no degrees of freedom: nan, as torch
        with np.errstate(invalid="ignore"):
            return gd * scale, None, None, None


def _sum_sq_dev(ctx: Any, x: Any, axes: Any, correction: Any, keepdims: bool) -> tuple:
    """For var and std: ``Σ (x − x̄)²`` over ``axes`` as ``t·s²`` (scaled where the squares
    over/underflow, :func:`scaled_sum_sq`) and the divisor ``max(n − correction, 0)`` (0 when
    empty); keeps ``x`` and the options for the backward."""
    ctx.save_for_backward(x)
    ctx.axes, ctx.correction, ctx.keepdims = axes, correction, keepdims
    n = _count(x.shape, axes)
    t, s = scaled_sum_sq(x - x.mean(axis=axes, keepdims=True), axes, small=True)
    return t, s, (max(n - correction, 0) if n else 0)


def _g_dev(ctx: Any, g: Any, x: Any) -> tuple:
    """For the backward of var and std: ``broadcast(g) ⊙ (x − x̄)`` and ``n − correction``."""
    shape = ctx.input_shape(0)
    gb = _expand_back(g, shape, ctx.axes, ctx.keepdims)
    return gb * (x - x.mean(axis=ctx.axes, keepdims=True)), _count(shape, ctx.axes) - ctx.correction


class Std(Function):
    """``z = √var(x)``, with ``var`` as in :class:`Var`."""
    formulas = {
        "inputs": "X, axes, correction, keepdims",
        "grads": (
            "dX = broadcast(dZ) ⊙ (X − mean(X)) / ((n − correction)·Z)",
            None, None, None,
        ),
    }
    derivation = "docs/derivations/reductions.md#std"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, axes=None, correction=1, keepdims=False):
        t, sc, dof = _sum_sq_dev(ctx, x, axes, correction, keepdims)  # a std of 1e30 (or 1e-30)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            s = xp_of(x).sqrt(t / dof) * sc  # empty: nan
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
        if ctx.create_graph:
            s = x.std(dim=ctx.axes, correction=ctx.correction, keepdim=True)
        else:
            s = ctx.s
        zero = D.data(s) == 0
        s_safe = D.where(zero, D.zeros_like(s) + 1, s)
        gd, dof = _g_dev(ctx, g, x)
        scale = 1.0 / dof if dof > 0 else float("inf")
        with np.errstate(invalid="ignore"):
            dx = gd * scale / s_safe
        if zero.any():
            dx = D.where(np.broadcast_to(zero, ctx.input_shape(0)), D.zeros_like(dx), dx)
        return dx, None, None, None


class PNorm(Function):
    """``z = (Σ_axes |x|^p)^(1/p)`` for ``p > 1`` (``p = 2``: the Euclidean norm)."""
    formulas = {
        "inputs": "X, p, axes, keepdims",
        "grads": (
            "dX = broadcast(dZ) ⊙ X ⊙ |X|^(p−2) / Z^(p−1)",
            None, None, None,
        ),
    }
    derivation = "docs/derivations/reductions.md#norm"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, p=2.0, axes=None, keepdims=False):
        ctx.save_for_backward(x)
        ctx.p, ctx.axes, ctx.keepdims = p, axes, keepdims
        a = np.abs(x)
        if p == 2:  # ‖x‖ = s·√t with Σx² = t·s² (no overflow of x² near 1e30 in float32)
            t, s = scaled_sum_sq(x, axes, small=True)
            with np.errstate(over="ignore"):
                nk = np.sqrt(t) * s
        else:
            with np.errstate(over="ignore", under="ignore"):
                nk = ((a ** p).sum(axis=axes, keepdims=True)) ** (1.0 / p)
            if a.size and not (np.isfinite(nk).all() and (nk > 0).all()):
                # |x|^p overflowed (or underflowed): ‖x‖_p = m·‖x/m‖_p with m = max|x|
                with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
                    m = a.max(axis=axes, keepdims=True)
                    m = np.where(np.isfinite(m) & (m > 0), m, 1).astype(x.dtype)
                    nk = ((a / m) ** p).sum(axis=axes, keepdims=True) ** (1.0 / p) * m
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
        shape = ctx.input_shape(0)
        p = ctx.p
        nk = x.norm(p, dim=ctx.axes, keepdim=True) if ctx.create_graph else ctx.nk
        zero = D.data(nk) == 0
        safe = D.where(zero, D.zeros_like(nk) + 1, nk)
        gb = _expand_back(g, shape, ctx.axes, ctx.keepdims)
        if p == 2:
            dx = gb * x / safe
        else:  # x|x|^(p−2)/‖x‖^(p−1) = sign(x)·(|x|/‖x‖)^(p−1): no power of x overflows
            with np.errstate(under="ignore"):
                dx = gb * D.sign(D.data(x)) * (x * D.sign(D.data(x)) / safe) ** (p - 1)
        if zero.any():
            dx = D.where(np.broadcast_to(zero, shape), D.zeros_like(dx), dx)
        return dx, None, None, None


class Amax(Function):
    """``z = max over axes``; ties share the gradient evenly (as ``torch.amax``)."""
    formulas = {
        "inputs": "X, axes, keepdims",
        "grads": (
            "dX = broadcast(dZ) ⊙ [X = max] / #maxima",
            None, None,
        ),
    }
    derivation = "docs/derivations/reductions.md#max-and-min"
    fresh_grads = True
    _fn = "max"  # Amin: "min"

    @staticmethod
    def forward(ctx, x, axes=None, keepdims=False, nans=False):
        z = getattr(x, ctx._fn)(axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, z)
        ctx.axes, ctx.keepdims, ctx.nans = axes, keepdims, nans
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = broadcast(g) ⊙ [x = max] / (number of maxima)``."""
        x, z = ctx.saved_tensors
        return (_extremum_backward(ctx, g, x, z),) + (None,) * (len(ctx.needs_input_grad) - 1)


class Amin(Amax):
    """``z = min over axes``; ties share the gradient evenly (as ``torch.amin``). Forward
    and backward are :class:`Amax`'s with ``min``: ``[x = min] / (number of minima)``."""
    formulas = {
        "inputs": "X, axes, keepdims",
        "grads": (
            "dX = broadcast(dZ) ⊙ [X = min] / #minima",
            None, None,
        ),
    }
    derivation = "docs/derivations/reductions.md#max-and-min"
    _fn = "min"


def _extremum_backward(ctx: Any, g: Any, x: Any, z: Any) -> Any:
    shape = ctx.input_shape(0)
    zd = _expand_back(D.data(z), shape, ctx.axes, ctx.keepdims)
    xd = D.data(x)
    mask = xd == zd
    if ctx.nans and xd.dtype.kind == "f":
        # x.max() of a tensor holding nan: the gradient goes to the nans (PyTorch's max);
        # amax/amin leave 0/0 = nan there, as PyTorch's amax/amin
        xp = xp_of(xd)
        mask |= xp.isnan(xd) & xp.isnan(zd)
    cnt = mask.sum(axis=ctx.axes, keepdims=True)
    w = (mask / cnt).astype(D.data(x).dtype)
    return _expand_back(g, shape, ctx.axes, ctx.keepdims) * w


class MaxDim(Function):
    """``values, indices = max(x, dim)``: the gradient goes to the returned index."""
    formulas = {
        "inputs": "X, dim, keepdims, largest",
        "grads": (
            "dX = scatter(dZ at argmax, X.shape)",
            None, None, None,
        ),
        "output": "Z, idx",
    }
    derivation = "docs/derivations/reductions.md#max-and-min"
    fresh_grads = True

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

        shape = ctx.input_shape(0)
        if not ctx.keepdims:
            g = g.reshape(tuple(1 if i == ctx.dim else s for i, s in enumerate(shape)))
        return scatter_along(g, ctx.idx, ctx.dim, shape), None, None, None


class LogSumExp(Function):
    """``z = log Σ_axes exp(x)``, computed as ``m + log Σ exp(x - m)`` (no overflow)."""
    formulas = {"inputs": "X, axes, keepdims", "grads": ("dX = broadcast(dZ) ⊙ softmax(X)", None, None)}
    derivation = "docs/derivations/reductions.md#logsumexp"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, axes=None, keepdims=False):
        xp = xp_of(x)
        if x.size:
            m = x.max(axis=axes, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
        else:  # an empty axis: log 0 = -inf (as torch)
            m = x.sum(axis=axes, keepdims=True)
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
        shape = ctx.input_shape(0)
        if ctx.create_graph:
            p = D.exp(x - x.logsumexp(dim=ctx.axes, keepdim=True))
        else:
            p = xp_of(x).exp(x - ctx.z)
        return _expand_back(g, shape, ctx.axes, ctx.keepdims) * p, None, None


def _softmax(x: Any, axis: int) -> Any:
    e = xp_of(x).exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _log_softmax(x: Any, axis: int) -> Any:
    xp = xp_of(x)
    s = x - x.max(axis=axis, keepdims=True)
    return s - xp.log(xp.exp(s).sum(axis=axis, keepdims=True))


class _NormalizeForward:
    """The forward of softmax and log_softmax: ``y = _fn(x, axis)`` (the class's function),
    kept for the backward with ``axis``; an empty ``x`` gives an empty copy."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = axis
        if not x.size:
            ctx.save_for_backward(x)
            return x.copy()
        y = ctx._fn(x, axis)
        ctx.save_for_backward(y)
        return y


class Softmax(_NormalizeForward, Function):
    """``y = exp(x) / Σ_axis exp(x)`` (shifted by the max for stability)."""
    formulas = {"inputs": "X, axis", "grads": ("dX = Z ⊙ (dZ − sum_axis(dZ ⊙ Z))", None)}
    derivation = "docs/derivations/reductions.md#softmax"
    fresh_grads = True
    _fn = staticmethod(_softmax)

    @staticmethod
    def backward(ctx, g):
        """VJP of the softmax Jacobian ``J = diag(y) - y yᵀ``:
        ``dx = Jᵀg = y ⊙ (g - Σ_axis(g ⊙ y))``; shapes: all like ``x``."""
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True)), None


class LogSoftmax(_NormalizeForward, Function):
    """``y = x - logsumexp(x, axis)``."""
    formulas = {"inputs": "X, axis", "grads": ("dX = dZ − exp(Z) ⊙ sum_axis(dZ)", None)}
    derivation = "docs/derivations/reductions.md#log_softmax"
    fresh_grads = True
    _fn = staticmethod(_log_softmax)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g - softmax(x) ⊙ Σ_axis g = g - exp(y) ⊙ Σ_axis g``."""
        (y,) = ctx.saved_tensors
        return g - D.exp(y) * g.sum(axis=ctx.axis, keepdims=True), None


# ---------------------------------------------------------------------------- scans and products
def _rev_cumsum(g: Any, dim: int) -> Any:
    """``r_j = Σ_{k ≥ j} g_k`` along ``dim`` (arrays or Tensors)."""
    if D._arr(g):
        xp = xp_of(g)
        return xp.flip(xp.flip(g, dim).cumsum(axis=dim), dim)
    return g.flip(dim).cumsum(dim).flip(dim)


class CumSum(Function):
    """``z_k = Σ_{j ≤ k} x_j`` along ``dim`` (an inclusive prefix sum)."""
    formulas = {"inputs": "X, dim", "grads": ("dX = flip(cumsum(flip(dZ)))  (dX_j = Σ_{k≥j} dZ_k)", None)}
    derivation = "docs/derivations/reductions.md#cumsum"

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return x.cumsum(axis=dim)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``x_j`` feeds every ``z_k`` with ``k ≥ j``, each with slope 1, so
        ``dx_j = Σ_{k ≥ j} g_k`` — a prefix sum run backwards (``flip·cumsum·flip``).
        Shapes: all like ``x``."""
        return _rev_cumsum(g, ctx.dim), None


def _excl_prefix_prod(v: Any) -> Any:
    """``P_j = Π_{i < j} v_i`` along the last axis (``P_0 = 1``), arrays or Tensors."""
    if D._arr(v):
        xp = xp_of(v)
        out = xp.empty_like(v)
        if v.shape[-1]:
            out[..., :1] = 1
            xp.cumprod(v[..., :-1], axis=-1, out=out[..., 1:])
        return out
    return Cat.apply(v.ndim - 1, D.zeros_like(v[..., :1]) + 1, v[..., :-1].cumprod(-1))


def _others_prod(v: Any) -> Any:
    """``O_j = Π_{i ≠ j} v_i`` along the last axis without dividing (zeros are fine):
    the product of what is before ``j`` times the product of what is after it."""
    before = _excl_prefix_prod(v)
    after = _excl_prefix_prod(v.flip(-1) if not D._arr(v) else xp_of(v).flip(v, -1))
    return before * (after.flip(-1) if not D._arr(after) else xp_of(after).flip(after, -1))


class Prod(Function):
    """``z = Π x`` over all elements (``dim=None``) or along one ``dim``."""
    formulas = {
        "inputs": "X, dim, keepdims",
        "grads": (
            "dX_j = broadcast(dZ) ⊙ Π_{i≠j} X_i  (prefix × suffix products)",
            None, None,
        ),
    }
    derivation = "docs/derivations/reductions.md#prod-and-cumprod"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, dim=None, keepdims=False):
        ctx.dim, ctx.keepdims = dim, keepdims
        ctx.save_for_backward(x)
        return x.prod(axis=dim, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``∂z/∂x_j = Π_{i ≠ j} x_i``, so ``dx_j = g·Π_{i ≠ j} x_i``.

        Not computed as ``g·z/x_j`` (``0/0`` where ``x_j = 0``) but as (product of the
        elements before ``j``) × (product of those after ``j``): two exclusive cumulative
        products, exact with zeros — one zero in a slice leaves a gradient only at that
        zero, two zeros leave none. Shapes: ``dx`` like ``x``.
        """
        (x,) = ctx.saved_tensors
        shape = ctx.input_shape(0)
        dim, keepdims = ctx.dim, ctx.keepdims
        if dim is None:
            others = _others_prod(x.reshape((-1,))).reshape(shape)
        else:
            xt = x.swapaxes(dim, -1)  # a view; the slices are rows along the last axis
            others = _others_prod(xt).swapaxes(dim, -1)
        axes = None if dim is None else (dim,)
        return _expand_back(g, shape, axes, keepdims) * others, None, None


class CumProd(Function):
    """``z_k = Π_{j ≤ k} x_j`` along ``dim`` (an inclusive prefix product)."""
    formulas = {
        "inputs": "X, dim",
        "grads": (
            "dX_j = Σ_{k≥j} dZ_k·Z_k / X_j  (zeros: P_j·S_j, S_j = dZ_j + X_{j+1}·S_{j+1})",
            None,
        ),
    }
    derivation = "docs/derivations/reductions.md#prod-and-cumprod"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        z = x.cumprod(axis=dim)
        ctx.save_for_backward(x, z)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``∂z_k/∂x_j = Π_{i ≤ k, i ≠ j} x_i`` for ``k ≥ j`` (else 0), so::

            dx_j = Σ_{k ≥ j} g_k·z_k / x_j          (no zero in x: one reversed cumsum)
            dx_j = P_j · S_j,  P_j = Π_{i < j} x_i,  S_j = g_j + x_{j+1}·S_{j+1}

        The second form (a backward scan, one step per position along ``dim``) is exact
        with zeros and is used when ``x`` has any. Shapes: all like ``x``.
        """
        x, z = ctx.saved_tensors
        dim = ctx.dim
        xd = D.data(x)
        if xp_of(xd).all(xd != 0):
            return _rev_cumsum(g * z, dim) / x, None
        xt, gt = x.swapaxes(dim, -1), g.swapaxes(dim, -1)
        n = xt.shape[-1]
        s = [None] * n
        s[n - 1] = gt[..., n - 1]
        for j in range(n - 2, -1, -1):
            s[j] = gt[..., j] + xt[..., j + 1] * s[j + 1]
        if D._arr(gt):
            S = xp_of(gt).stack(s, axis=-1)
        else:
            S = Stack.apply(s[0].ndim, *s)
        return (_excl_prefix_prod(xt) * S).swapaxes(dim, -1), None


# ---------------------------------------------------------------------------- sort and top-k
def sort_indices(x: Any, dim: int, descending: bool) -> Any:
    """Stable sorting permutation of ``x`` along ``dim``: ties keep their order, and NaN
    counts as the largest value (last ascending, first descending), as in PyTorch."""
    xp = xp_of(x)
    if not descending:
        return xp.argsort(x, axis=dim, kind="stable")
    # descending and stable: sort the reversed array ascending and reverse the result
    n = x.shape[dim]
    return (n - 1) - xp.flip(xp.argsort(xp.flip(x, dim), axis=dim, kind="stable"), dim)


def _scatter_perm(g: Any, idx: Any, dim: int, shape: tuple) -> Any:
    """``dx = zeros(shape)`` with ``dx[.., idx, ..] = g`` along ``dim`` (indices distinct)."""
    if not D._arr(g):
        from .indexing import ScatterAlong

        return ScatterAlong.apply(g, idx, dim, shape)
    xp = xp_of(g)
    dx = xp.zeros(shape, dtype=g.dtype)
    xp.put_along_axis(dx, idx, g, axis=dim)
    return dx


class Sort(Function):
    """``values, indices = sort(x, dim)``: ``values = take_along(x, indices, dim)``."""
    formulas = {
        "inputs": "X, dim, descending",
        "grads": (
            "dX = scatter(dZ → idx)  (the inverse permutation)",
            None, None,
        ),
        "output": "Z, idx",
    }
    derivation = "docs/derivations/reductions.md#sort-and-topk"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, dim, descending=False):
        idx = sort_indices(x, dim, descending)
        ctx.idx, ctx.dim = idx, dim
        return xp_of(x).take_along_axis(x, idx, axis=dim), idx

    @staticmethod
    def backward(ctx, g, _gidx):
        """VJP: sorting permutes, so each value's gradient goes back to where the value
        came from: ``dx[.., idx_k, ..] = g_k`` along ``dim`` (the inverse permutation).
        Shapes: ``g`` and ``dx`` like ``x``."""
        return _scatter_perm(g, ctx.idx, ctx.dim, ctx.input_shape(0)), None, None


class TopK(Function):
    """``values, indices``: the ``k`` largest (or smallest) entries of ``x`` along ``dim``,
    in sorted order."""
    formulas = {
        "inputs": "X, k, dim, largest",
        "grads": (
            "dX = scatter(dZ → idx), 0 elsewhere",
            None, None, None,
        ),
        "output": "Z, idx",
    }
    derivation = "docs/derivations/reductions.md#sort-and-topk"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, k, dim, largest=True):
        idx = sort_indices(x, dim, largest)
        sl = [slice(None)] * x.ndim
        sl[dim] = slice(0, k)
        idx = idx[tuple(sl)]
        ctx.idx, ctx.dim = idx, dim
        return xp_of(x).take_along_axis(x, idx, axis=dim), idx

    @staticmethod
    def backward(ctx, g, _gidx):
        """VJP: the ``k`` selected entries get their gradient back at their indices, all
        others 0: ``dx = scatter(g → idx)`` along ``dim``. ``g``: ``x``'s shape with ``k``
        along ``dim``; ``dx``: ``x``'s shape."""
        return _scatter_perm(g, ctx.idx, ctx.dim, ctx.input_shape(0)), None, None, None
