"""Movement ops: reshape, permute, expand, cat/stack/split, pad, repeat/tile, the
sliding-window view used by convolution, and the copies that change dtype, device or
nothing (``Cast``, ``ToDevice``, ``Clone``).

These ops move numbers around without changing them, so each VJP moves the gradient
back the opposite way: reshape back, permute by the inverse permutation, sum over
expanded axes, slice the gradient of a concatenation, and so on.

Derivations: ``docs/derivations/movement.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import device_of, to_device, xp_of
from . import _dual as D
from ._util import op_error, unbroadcast


class Reshape(Function):
    """``z = x.reshape(shape)`` (a view when the layout allows it)."""
    formulas = {"inputs": "X, shape", "grads": ("dX = dZ.reshape(X.shape)", None)}
    derivation = "docs/derivations/movement.md#reshape"

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return x.reshape(shape)
        except ValueError:
            raise op_error(
                "reshape",
                f"cannot reshape a tensor of shape {tuple(x.shape)} ({x.size} elements) "
                f"into shape {tuple(shape)}",
            ) from None

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g.reshape(x.shape)``."""
        return g.reshape(ctx.input_shape(0)), None


class Permute(Function):
    """``z = x.transpose(perm)``."""
    formulas = {"inputs": "X, perm", "grads": ("dX = dZ.permute(inverse(perm))", None)}
    derivation = "docs/derivations/movement.md#permute-and-transpose"

    @staticmethod
    def forward(ctx, x, perm):
        if sorted(perm) != list(range(x.ndim)):
            raise op_error(
                "permute", f"dims {tuple(perm)} are not a permutation of 0..{x.ndim - 1} "
                f"for a tensor of shape {tuple(x.shape)}"
            )
        ctx.perm = perm
        return x.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g.transpose(inverse(perm))``."""
        inv = [0] * len(ctx.perm)
        for i, p in enumerate(ctx.perm):
            inv[p] = i
        return g.permute(tuple(inv)) if hasattr(g, "grad_fn") else g.transpose(inv), None


class Expand(Function):
    """``z = broadcast_to(x, shape)`` (a read-only view)."""
    formulas = {"inputs": "X, shape", "grads": ("dX = unbroadcast(dZ, X.shape)", None)}
    derivation = "docs/derivations/movement.md#expand-broadcast_to"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return xp_of(x).broadcast_to(x, shape)
        except ValueError:
            raise op_error(
                "expand", f"cannot expand shape {tuple(x.shape)} to {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = unbroadcast(g, x.shape)`` (sum over the broadcast axes)."""
        return unbroadcast(g, ctx.input_shape(0)), None


class Cat(Function):
    """``z = concatenate(xs, axis)``; called as ``Cat.apply(axis, *xs)``."""
    formulas = {"inputs": "axis, X_i*", "grads": (None, "dX_i = dZ[slice of X_i along axis]")}
    derivation = "docs/derivations/movement.md#cat-stack-and-split"

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return xp_of(xs[0]).concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx_i`` = the slice of ``g`` that ``x_i`` filled."""
        out = [None]
        start = 0
        ax = ctx.axis
        for s in ctx.sizes:
            idx = (slice(None),) * ax + (slice(start, start + s),)
            out.append(g[idx])
            start += s
        return tuple(out)


class Stack(Function):
    """``z = stack(xs, axis)``; called as ``Stack.apply(axis, *xs)``."""
    formulas = {"inputs": "axis, X_i*", "grads": (None, "dX_i = dZ.select(axis, i)")}
    derivation = "docs/derivations/movement.md#cat-stack-and-split"

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        return xp_of(xs[0]).stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx_i = g.take(i, axis)``."""
        ax = ctx.axis
        n = len(ctx.needs_input_grad) - 1
        return (None,) + tuple(g[(slice(None),) * ax + (i,)] for i in range(n))


class Split(Function):
    """``xs = split(x, sizes, axis)``: several outputs."""
    formulas = {
        "inputs": "X, sizes, axis",
        "grads": (
            "dX = cat(dZ_0, dZ_1, …; axis)",
            None, None,
        ),
        "output": "Z_i",
    }
    derivation = "docs/derivations/movement.md#cat-stack-and-split"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, sizes, axis):
        ctx.axis = axis
        outs = []
        start = 0
        for s in sizes:
            outs.append(x[(slice(None),) * axis + (slice(start, start + s),)])
            start += s
        return tuple(outs)

    @staticmethod
    def backward(ctx, *gs):
        """VJP: ``dx = concatenate(g_i, axis)``."""
        if hasattr(gs[0], "grad_fn"):
            return Cat.apply(ctx.axis, *gs), None, None
        return xp_of(gs[0]).concatenate(gs, axis=ctx.axis), None, None


class Pad(Function):
    """Constant padding; ``pad_width`` is NumPy's ((before, after), ...) per axis."""
    formulas = {"inputs": "X, pad_width, value", "grads": ("dX = dZ[interior]", None, None)}
    derivation = "docs/derivations/movement.md#pad"

    @staticmethod
    def forward(ctx, x, pad_width, value=0.0):
        ctx.pad_width = pad_width
        return xp_of(x).pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx`` = the interior slice of ``g`` (padding positions get nothing)."""
        idx = tuple(slice(b, g.shape[i] - a) for i, (b, a) in enumerate(ctx.pad_width))
        return g[idx], None, None


class Tile(Function):
    """``z = tile(x, reps)`` (``len(reps) == x.ndim``; torch's ``repeat``)."""
    formulas = {"inputs": "X, reps", "grads": ("dX = sum over the copies of dZ", None)}
    derivation = "docs/derivations/movement.md#tile-and-repeat_interleave"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, reps):
        ctx.reps = reps
        return xp_of(x).tile(x, reps)

    @staticmethod
    def backward(ctx, g):
        """VJP: view ``g`` as (r₀, n₀, r₁, n₁, …) and sum over every r."""
        shape = ctx.input_shape(0)
        split = []
        for r, n in zip(ctx.reps, shape):
            split += [r, n]
        gg = g.reshape(tuple(split))
        return gg.sum(axis=tuple(range(0, 2 * len(shape), 2))), None


class RepeatInterleave(Function):
    """``z = repeat(x, k, axis)``: each element repeated ``k`` times in place."""
    formulas = {"inputs": "X, repeats, axis", "grads": ("dX = sum of each run of k copies of dZ", None, None)}
    derivation = "docs/derivations/movement.md#tile-and-repeat_interleave"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, repeats, axis):
        ctx.repeats, ctx.axis = repeats, axis
        return xp_of(x).repeat(x, repeats, axis=axis)

    @staticmethod
    def backward(ctx, g):
        """VJP: sum each run of ``k`` copies: view the axis as (n, k), sum over k."""
        shape = ctx.input_shape(0)
        ax = ctx.axis
        gs = g.reshape(tuple(shape[:ax]) + (shape[ax], ctx.repeats) + tuple(shape[ax + 1 :]))
        return gs.sum(axis=ax + 1), None, None


class Flip(Function):
    """``z = flip(x, axes)``."""
    formulas = {"inputs": "X, axes", "grads": ("dX = flip(dZ, axes)", None)}
    derivation = "docs/derivations/movement.md#flip"

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return xp_of(x).flip(x, axes)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = flip(g, axes)``."""
        if hasattr(g, "grad_fn"):
            return g.flip(ctx.axes), None
        return xp_of(g).flip(g, ctx.axes), None


class SlidingWindow(Function):
    """Windows of ``x`` over its last ``k`` axes, as a strided view.

    ``x`` of shape ``(..., H, W)`` with window ``(kh, kw)``, stride ``(sh, sw)`` and
    dilation ``(dh, dw)`` gives ``(..., OH, OW, kh, kw)`` with
    ``z[..., i, j, p, q] = x[..., i·sh + p·dh, j·sw + q·dw]`` — no copy. Convolution is
    this view followed by one matrix product.
    """
    formulas = {
        "inputs": "X, window, stride, dilation",
        "grads": (
            "dX = col2im(dZ): scatter-add every window back",
            None, None, None,
        ),
    }
    derivation = "docs/derivations/movement.md#sliding-windows-im2col-as-a-view"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, window, stride, dilation):
        k = len(window)
        sp = x.shape[-k:]
        out_sp = []
        for n, w, s, d in zip(sp, window, stride, dilation):
            o = (n - d * (w - 1) - 1) // s + 1
            if o <= 0:
                raise op_error(
                    "sliding_window",
                    f"window {tuple(window)} (dilation {tuple(dilation)}) does not fit in "
                    f"spatial size {tuple(sp)} of input {tuple(x.shape)}",
                )
            out_sp.append(o)
        st = x.strides[-k:]
        shape = x.shape[:-k] + tuple(out_sp) + tuple(window)
        strides = (
            x.strides[:-k]
            + tuple(s * a for s, a in zip(st, stride))
            + tuple(s * d for s, d in zip(st, dilation))
        )
        ctx.window, ctx.stride, ctx.dilation, ctx.out_sp = window, stride, dilation, out_sp
        return xp_of(x).lib.stride_tricks.as_strided(x, shape, strides, writeable=False)

    @staticmethod
    def backward(ctx, g):
        """VJP: scatter-add each window position back (col2im): for every kernel offset
        ``(p, q)``, ``dx[..., p·dh : … : sh, q·dw : … : sw] += g[..., :, :, p, q]``.
        The loop runs over kernel offsets only, never over pixels."""
        shape = ctx.input_shape(0)
        k = len(ctx.window)
        if hasattr(g, "grad_fn"):
            return _window_backward_tensor(ctx, g, shape), None, None, None
        xp = xp_of(g)
        dx = xp.zeros(shape, dtype=g.dtype)
        lead = (slice(None),) * (len(shape) - k)
        import itertools

        for offs in itertools.product(*[range(w) for w in ctx.window]):
            sl = tuple(
                slice(o * d, o * d + (n - 1) * s + 1, s)
                for o, d, n, s in zip(offs, ctx.dilation, ctx.out_sp, ctx.stride)
            )
            dx[lead + sl] += g[lead + (slice(None),) * k + offs]
        return dx, None, None, None


def _window_backward_tensor(ctx: Any, g: Any, shape: tuple) -> Any:
    """Differentiable version of the col2im scatter (for double backward)."""
    import itertools

    k = len(ctx.window)
    dx = g.new_zeros(shape)
    lead = (slice(None),) * (len(shape) - k)
    for offs in itertools.product(*[range(w) for w in ctx.window]):
        piece = g[lead + (slice(None),) * k + offs]
        pads = [(0, 0)] * (len(shape) - k)
        # place piece at positions o*d + i*s: dilate by the stride, then pad
        for ax, (o, d, n, s, full) in enumerate(
            zip(offs, ctx.dilation, ctx.out_sp, ctx.stride, shape[-k:])
        ):
            piece = _dilate(piece, len(shape) - k + ax, s)
            span = (n - 1) * s + 1
            pads.append((o * d, full - o * d - span))
        dx = dx + piece.pad_nd(pads)
    return dx


def _dilate(t: Any, axis: int, s: int) -> Any:
    """Insert ``s - 1`` zeros between elements along ``axis`` (differentiable)."""
    if s == 1:
        return t
    n = t.shape[axis]
    zeros = D.zeros_like(t)
    parts = [t] + [zeros] * (s - 1)
    st = Stack.apply(axis + 1, *parts)  # (..., n, s, ...)
    shp = t.shape[:axis] + (n * s,) + t.shape[axis + 1 :]
    st = st.reshape(shp)
    return st[(slice(None),) * axis + (slice(0, (n - 1) * s + 1),)]


# ---------------------------------------------------------------------------- dtype, device, copy
class Cast(Function):
    """``z = x.astype(dtype)``."""
    formulas = {"inputs": "X, dtype", "grads": ("dX = dZ cast to X.dtype", None)}
    derivation = "docs/derivations/elementwise.md#the-vector-jacobian-product-vjp"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g`` cast back to ``x``'s dtype."""
        d = ctx.input_dtype(0)
        return (g.to(d) if hasattr(g, "grad_fn") else g.astype(d)), None


class ToDevice(Function):
    """Move data between CPU and GPU."""
    formulas = {"inputs": "X, device", "grads": ("dX = dZ moved to X.device", None)}
    derivation = "docs/derivations/elementwise.md#the-vector-jacobian-product-vjp"

    @staticmethod
    def forward(ctx, x, device):
        ctx.src = device_of(x)
        return to_device(x, device)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g`` moved back to ``x``'s device."""
        if hasattr(g, "grad_fn"):
            return g.to(ctx.src), None
        return to_device(g, ctx.src), None


class Clone(Function):
    """``z = copy(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = dZ",)}
    derivation = "docs/derivations/elementwise.md#the-vector-jacobian-product-vjp"

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g``."""
        return g
