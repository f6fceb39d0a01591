"""Pooling: ``max_pool1d/2d/3d``, ``avg_pool1d/2d/3d``, adaptive average and max pooling,
and the ops under them (``MaxPoolNd``, ``AvgPoolNd`` and their transposes).

Max pooling is a running ``maximum`` over the ``K`` strided slices of the window view;
the backward finds each window's first arg-max (ties: the first, as PyTorch's CPU
kernel) by comparing the slices with the output, and routes the gradient there. Average
pooling spreads ``g / divisor`` over the window. Adaptive average pooling is a product
with two averaging matrices, ``y = Ph @ x @ Pwᵀ`` (any input/output sizes, PyTorch's
``start = ⌊i·H/OH⌋``, ``end = ⌈(i+1)·H/OH⌉`` windows). The window view, padding and
argument checks are shared with :mod:`glassgrad.ops.conv`.

Derivations: ``docs/derivations/conv.md#pooling``.
"""

from __future__ import annotations

from typing import Any

from .._docfill import fill_doc
from ..autograd import recording
from ..autograd.function import Function
from ..backend import np, xp_of
from . import kernels as K
from ._util import op_error
from .conv import _check_tensor, _crop, _is_tensor, _ntuple, _offset_slices, _pad, _shape

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d",
]


# =====================================================================================
# pooling
# =====================================================================================
def _pool_out(n: int, kk: int, s: int, p: int, d: int, ceil: bool) -> int:
    """PyTorch's pooling output size (``ceil_mode`` keeps a last partial window only if it
    starts inside the input or the left padding)."""
    num = n + 2 * p - d * (kk - 1) - 1 + (s - 1 if ceil else 0)
    out = num // s + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out

def _pool_args(op: str, k: int, x: Any, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any, ceil_mode: bool) -> tuple:
    _check_tensor(x, "input", op)
    if x.ndim not in (k + 1, k + 2):
        raise op_error(op, f"expected a {k + 2}-D input (N, C, *spatial) or a {k + 1}-D "
                       f"unbatched input (C, *spatial), got shape {_shape(x)}")
    ks = _ntuple(kernel_size, k, "kernel_size", op, 1)
    stride = ks if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _ntuple(stride, k, "stride", op, 1)
    pad = _ntuple(padding, k, "padding", op, 0)
    dil = _ntuple(dilation, k, "dilation", op, 1)
    for kk, p in zip(ks, pad):
        if p > kk // 2:
            raise op_error(op, f"padding {pad} should be at most half of the kernel size {ks}")
    sp = _shape(x)[-k:]
    out_sp = tuple(_pool_out(n, kk, s, p, d, bool(ceil_mode))
                   for n, kk, s, p, d in zip(sp, ks, stride, pad, dil))
    if any(o <= 0 for o in out_sp):
        raise op_error(op, f"input {_shape(x)} is too small for kernel {ks} (stride {stride}, "
                       f"padding {pad}, dilation {dil}): output size would be {out_sp}")
    # right padding so that every (possibly ceil_mode) window fits in the padded array
    pads = tuple((p, max(p, (o - 1) * s + d * (kk - 1) + 1 - n - p))
                 for n, kk, s, p, d, o in zip(sp, ks, stride, pad, dil, out_sp))
    return ks, stride, pads, dil, out_sp

def _lowest(dtype: Any) -> Any:
    if dtype.kind == "f":
        return -np.inf
    return np.iinfo(dtype).min

def _padded_shape(x_shape: tuple, pads: tuple) -> tuple:
    k = len(pads)
    return tuple(x_shape[:-k]) + tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[-k:], pads))

def _disjoint(ks: tuple, stride: tuple, dil: tuple) -> bool:
    """True when no input element lies in two windows (so scatters need no adding)."""
    return all(s >= d * (kk - 1) + 1 for kk, s, d in zip(ks, stride, dil))

def _max_scatter(g: Any, arg: Any, x_shape: tuple, ks: tuple, stride: tuple, pads: tuple,
                 dil: tuple) -> Any:
    """Route ``g`` to the arg-max of each window (``arg``: offset index in ``0..K-1``);
    ``dx`` has shape ``x_shape``."""
    k = len(ks)
    xp = xp_of(g)
    dxp = xp.zeros(_padded_shape(x_shape, pads), dtype=g.dtype)
    zero = xp.zeros((), dtype=g.dtype)
    for i, (_, sl) in enumerate(_offset_slices(ks, stride, dil, tuple(g.shape[-k:]))):
        dxp[(Ellipsis,) + sl] += xp.where(arg == i, g, zero)
    return _crop(dxp, pads, x_shape[-k:])

def _max_gather(x: Any, arg: Any, ks: tuple, stride: tuple, pads: tuple, dil: tuple) -> Any:
    """``y[..., i, j] = x_padded[window (i, j)][arg[..., i, j]]`` (the max-pool forward with
    fixed arg-max positions)."""
    k = len(ks)
    xp = xp_of(x)
    xpd = _pad(x, pads)
    y = xp.zeros(arg.shape, dtype=x.dtype)
    for i, (_, sl) in enumerate(_offset_slices(ks, stride, dil, tuple(arg.shape[-k:]))):
        xp.copyto(y, xpd[(Ellipsis,) + sl], where=arg == i)
    return y

def _first_max_masks(xpd: Any, y: Any, ks: tuple, stride: tuple, dil: tuple):
    """Yield ``(i, slice, mask)`` per kernel offset, where ``mask`` marks the windows whose
    *first* maximum sits at offset ``i`` (ties go to the first, NaN counts as the max)."""
    xp = xp_of(y)
    k = len(ks)
    nan = y.dtype.kind == "f" and bool(xp.isnan(y).any())
    taken = None
    for i, (_, sl) in enumerate(_offset_slices(ks, stride, dil, tuple(y.shape[-k:]))):
        piece = xpd[(Ellipsis,) + sl]
        eq = piece == y
        if nan:
            eq |= piece != piece
        if taken is None:
            m, taken = eq, eq
        else:
            m = xp.greater(eq, taken)  # eq and not yet taken
            taken = taken | eq
        yield i, sl, m

def _like(a: Any, ref: Any) -> Any:
    """``a``'s values in ``ref``'s memory order (same shape)."""
    out = xp_of(a).empty_like(ref, dtype=a.dtype)
    out[...] = a
    return out

def _max_arg(xpd: Any, y: Any, ks: tuple, stride: tuple, dil: tuple) -> Any:
    """Offset index (``0..K-1``) of the first maximum of every window."""
    arg = xp_of(y).zeros(y.shape, dtype=np.int64)
    for i, _, m in _first_max_masks(xpd, y, ks, stride, dil):
        if i:
            xp_of(y).copyto(arg, i, where=m)
    return arg

class MaxPoolNd(Function):
    """``y = max over each window`` (and optionally PyTorch-style flat indices).

    Called as ``MaxPoolNd.apply(x, ks, stride, pads, dilation, out_sp, with_indices)``.
    The forward is a running ``maximum`` over the ``K`` strided slices (no copy of the
    windows); the arg-max is found in the backward by comparing each slice with ``y``.
    """
    formulas = {
        "inputs": "X, ks, stride, pads, dil, out_sp, with_indices",
        "grads": (
            "dX = scatter_add(dZ → arg-max of each window)",
            None, None, None, None, None, None,
        ),
        "output": "Z, idx",
    }
    derivation = "docs/derivations/conv.md#pooling"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, ks, stride, pads, dil, out_sp, with_indices=False):
        k = len(ks)
        xp = xp_of(x)
        ctx.geom = (ks, stride, pads, dil)
        ctx.arg8 = None
        fast = None if with_indices else K.max_pool2d(x, ks, stride, pads, dil, out_sp)
        if fast is not None:
            # compiled kernel (tiling windows): the maxima and their first arg-max in one
            # pass; the backward scatters with the saved arg-max (nothing to recompute)
            y, ctx.arg8 = fast
            ctx.xpd, ctx.arg, ctx.y = x, None, None
            ctx.save_for_backward(x)
            return y
        xpd = _pad(x, pads, _lowest(x.dtype))
        y = None
        for _, sl in _offset_slices(ks, stride, dil, out_sp):
            piece = xpd[(Ellipsis,) + sl]
            if y is None:
                y = piece.copy(order="K")  # keep the input's memory order
            else:
                xp.maximum(y, piece, out=y)  # NaN propagates, as PyTorch
        # a private copy of y (small: 1/K of the input): an in-place change of the output
        # (e.g. relu_ after pooling) must not move the arg-max the backward finds
        ctx.xpd, ctx.arg = xpd, None
        ctx.y = y.copy(order="K") if any(ctx.needs_input_grad) else y
        ctx.save_for_backward(x)  # (only so that in-place changes of x are detected)
        if not with_indices:
            return y
        arg = ctx.arg = _max_arg(xpd, y, ks, stride, dil)
        # PyTorch's indices: flat index into the (unpadded) spatial input
        coords = xp.unravel_index(arg, ks)
        sp = x.shape[-k:]
        flat = xp.zeros(arg.shape, dtype=np.int64)
        for ax in range(k):
            pos = xp.arange(out_sp[ax], dtype=np.int64) * stride[ax] - pads[ax][0]
            pos = pos.reshape((-1,) + (1,) * (k - 1 - ax))
            flat = flat * sp[ax] + (pos + coords[ax] * dil[ax])
        return y, flat

    @staticmethod
    def backward(ctx, g, g_idx=None):
        """VJP: ``dx`` is zero except at each window's first arg-max, which receives that
        window's ``g`` (summed where overlapping windows share an arg-max)."""
        ctx.saved_tensors  # noqa: B018 - raises if x was modified in place
        ks, stride, pads, dil = ctx.geom
        shape = ctx.input_shape(0)
        none = (None,) * 6
        if _is_tensor(g):
            if ctx.arg is None:
                ctx.arg = (ctx.arg8.astype(np.int64) if ctx.arg8 is not None
                           else _max_arg(ctx.xpd, ctx.y, ks, stride, dil))
            return (MaxUnpoolScatter.apply(g, ctx.arg, shape, ctx.geom),) + none
        if ctx.arg8 is not None:
            dx = K.max_pool2d_grad(g, ctx.arg8, shape, ks)
            if dx is not None:
                return (dx,) + none
            ctx.arg = ctx.arg8.astype(np.int64)   # (kernels switched off since the forward)
            return (_max_scatter(g, ctx.arg, shape, *ctx.geom),) + none
        xp = xp_of(g)
        disjoint = _disjoint(ks, stride, dil)
        # same memory order as the input; no zero fill when the windows tile it exactly
        tiled = disjoint and all(d == 1 and kk == s and o * s == n for kk, s, d, o, n in
                                 zip(ks, stride, dil, g.shape[-len(ks):], ctx.xpd.shape[-len(ks):]))
        dxp = (xp.empty_like if tiled else xp.zeros_like)(ctx.xpd, dtype=g.dtype)
        if g.strides != ctx.y.strides:
            # g in another memory order than y (e.g. batch-first from a flatten, while the
            # activations are batch-last): one transposing copy of g, instead of K
            # multiplications that each walk two layouts (~5x slower in NumPy)
            g = _like(g, ctx.y)
        zero = xp.zeros((), dtype=g.dtype)
        # g·mask is where(mask, g, 0) unless g holds an inf or a NaN (0·inf = NaN), and a
        # multiplication by a bool array is ~5x faster than where() in NumPy
        finite = disjoint and bool(xp.isfinite(g).all())
        for _, sl, m in _first_max_masks(ctx.xpd, ctx.y, ks, stride, dil):
            if finite:
                xp.multiply(g, m, out=dxp[(Ellipsis,) + sl])
            elif disjoint:
                dxp[(Ellipsis,) + sl] = xp.where(m, g, zero)
            else:
                dxp[(Ellipsis,) + sl] += xp.where(m, g, zero)
        return (_crop(dxp, pads, shape[-len(ks):]),) + none

class MaxUnpoolScatter(Function):
    """The max-pool VJP as an op: ``dx = scatter(g → arg-max positions)``; its own VJP is
    the gather ``dg = gg[arg-max positions]`` (so max pooling is twice differentiable)."""
    formulas = {"inputs": "G, arg, x_shape, geom", "grads": ("dG = dZ[arg-max positions]", None, None, None)}
    derivation = "docs/derivations/conv.md#pooling"

    @staticmethod
    def forward(ctx, g, arg, x_shape, geom):
        ctx.arg, ctx.geom = arg, geom
        return _max_scatter(g, arg, x_shape, *geom)

    @staticmethod
    def backward(ctx, gg):
        """VJP: ``dg[..., i, j] = gg[arg-max of window (i, j)]``."""
        if _is_tensor(gg):
            return MaxPoolGather.apply(gg, ctx.arg, ctx.geom), None, None, None
        return _max_gather(gg, ctx.arg, *ctx.geom), None, None, None

class MaxPoolGather(Function):
    """``y = x[arg-max positions]`` with fixed positions (VJP: the scatter)."""
    formulas = {"inputs": "X, arg, geom", "grads": ("dX = scatter_add(dZ → positions)", None, None)}
    derivation = "docs/derivations/conv.md#pooling"

    @staticmethod
    def forward(ctx, x, arg, geom):
        ctx.arg, ctx.geom = arg, geom
        return _max_gather(x, arg, *geom)

    @staticmethod
    def backward(ctx, g):
        """VJP: scatter ``g`` to the positions (the max-pool VJP)."""
        shape = ctx.input_shape(0)
        if _is_tensor(g):
            return MaxUnpoolScatter.apply(g, ctx.arg, shape, ctx.geom), None, None
        return _max_scatter(g, ctx.arg, shape, *ctx.geom), None, None

def _max_pool_nd(op: str, k: int, x: Any, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    ks, stride, pads, dil, out_sp = _pool_args(op, k, x, kernel_size, stride, padding, dilation,
                                               ceil_mode)
    return MaxPoolNd.apply(x, ks, stride, pads, dil, out_sp, bool(return_indices))

def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-D max pooling, see :func:`max_pool2d`."""
    return _max_pool_nd("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                        ceil_mode, return_indices)

def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    input : Tensor
        ``(N, C, H, W)`` or ``(C, H, W)``.
    kernel_size : int or tuple
    stride : int or tuple, optional
        Defaults to ``kernel_size``.
    padding : int or tuple
        Implicit ``-inf`` padding (at most half the kernel).
    dilation : int or tuple
    ceil_mode : bool
        Round the output size up (a last partial window is kept when it starts inside
        the input).
    return_indices : bool
        Also return the flat index (into ``H·W``) of each maximum, as PyTorch.

    Returns
    -------
    Tensor or (Tensor, Tensor)
        The gradient flows to the first maximum of each window.
    """
    return _max_pool_nd("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                        ceil_mode, return_indices)

def max_pool3d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """3-D max pooling, see :func:`max_pool2d`."""
    return _max_pool_nd("max_pool3d", 3, input, kernel_size, stride, padding, dilation,
                        ceil_mode, return_indices)

def _avg_sum(x: Any, ks: tuple, stride: tuple, pads: tuple, out_sp: tuple) -> Any:
    """``Σ`` over each window (K strided-slice additions, no copy of the windows)."""
    xpd = _pad(x, pads)
    y = None
    dil = (1,) * len(ks)
    for _, sl in _offset_slices(ks, stride, dil, out_sp):
        piece = xpd[(Ellipsis,) + sl]
        if y is None:
            y = piece.copy()
        else:
            y += piece
    return y

def _avg_spread(g: Any, x_shape: tuple, ks: tuple, stride: tuple, pads: tuple) -> Any:
    """Transpose of :func:`_avg_sum`: every input of a window receives the window's ``g``."""
    k = len(ks)
    sp = x_shape[-k:]
    padded = tuple(x_shape[:-k]) + tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
    dxp = xp_of(g).zeros(padded, dtype=g.dtype)
    dil = (1,) * k
    for _, sl in _offset_slices(ks, stride, dil, tuple(g.shape[-k:])):
        dxp[(Ellipsis,) + sl] += g
    return _crop(dxp, pads, sp)

class AvgPoolNd(Function):
    """``y = (Σ over each window) · inv_div`` where ``inv_div`` holds 1/divisor per output
    position. Called as ``AvgPoolNd.apply(x, ks, stride, pads, inv_div, out_sp)``."""
    formulas = {
        "inputs": "X, ks, stride, pads, inv_div, out_sp",
        "grads": (
            "dX[window] += dZ / divisor (each window spreads dZ evenly)",
            None, None, None, None, None,
        ),
    }
    derivation = "docs/derivations/conv.md#pooling"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, ks, stride, pads, inv_div, out_sp):
        ctx.geom = (ks, stride, pads, inv_div)
        y = _avg_sum(x, ks, stride, pads, out_sp)
        y *= inv_div
        return y

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx[window (i, j)] += g[i, j] / divisor[i, j]`` (each window spreads its
        gradient evenly over its inputs)."""
        shape = ctx.input_shape(0)
        if _is_tensor(g):
            return AvgPoolTranspose.apply(g, shape, ctx.geom), None, None, None, None, None
        ks, stride, pads, inv_div = ctx.geom
        return _avg_spread(g * inv_div, shape, ks, stride, pads), None, None, None, None, None

class AvgPoolTranspose(Function):
    """The average-pool VJP as an op (its own VJP is the average pool)."""
    formulas = {"inputs": "G, x_shape, geom", "grads": ("dG = avg_pool(dZ)", None, None)}
    derivation = "docs/derivations/conv.md#pooling"

    @staticmethod
    def forward(ctx, g, x_shape, geom):
        ctx.geom = geom
        ks, stride, pads, inv_div = geom
        return _avg_spread(g * inv_div, x_shape, ks, stride, pads)

    @staticmethod
    def backward(ctx, gg):
        """VJP: ``dg = avg_pool(gg)`` (same windows and divisors)."""
        ks, stride, pads, inv_div = ctx.geom
        out_sp = tuple(ctx.input_shape(0)[-len(ks):])
        if _is_tensor(gg):
            return AvgPoolNd.apply(gg, ks, stride, pads, inv_div, out_sp), None, None
        y = _avg_sum(gg, ks, stride, pads, out_sp)
        y *= inv_div
        return y, None, None

def _avg_divisor(n: int, kk: int, s: int, p: int, o: int, include_pad: bool) -> Any:
    """Per-output window sizes along one axis, as PyTorch's avg_pool kernel counts them."""
    start = np.arange(o) * s - p
    end = np.minimum(start + kk, n + p)
    size = end - start
    if not include_pad:
        size = np.minimum(end, n) - np.maximum(start, 0)
    return size

def _avg_pool_nd(op: str, k: int, x: Any, kernel_size: Any, stride: Any, padding: Any,
                 ceil_mode: bool, count_include_pad: bool, divisor_override: Any) -> Any:
    _check_tensor(x, "input", op)
    if x.dtype.kind != "f":
        raise op_error(op, f"input must be a floating point tensor, got {x.dtype}", TypeError)
    ks, stride, pads, dil, out_sp = _pool_args(op, k, x, kernel_size, stride, padding, 1,
                                               ceil_mode)
    if divisor_override:
        div = np.full(out_sp, float(divisor_override))
    else:
        div = np.ones(out_sp)
        sp = _shape(x)[-k:]
        for ax in range(k):
            d = _avg_divisor(sp[ax], ks[ax], stride[ax], pads[ax][0], out_sp[ax],
                             bool(count_include_pad))
            div = div * d.reshape((-1,) + (1,) * (k - 1 - ax))
    inv = xp_of(x.array).asarray((1.0 / div).astype(x.dtype))
    return AvgPoolNd.apply(x, ks, stride, pads, inv, out_sp)

def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Any:
    """1-D average pooling, see :func:`avg_pool2d`."""
    return _avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, None)

def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Any:
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    input : Tensor
        ``(N, C, H, W)`` or ``(C, H, W)``.
    kernel_size, stride (default: kernel_size), padding : int or tuple
    ceil_mode : bool
    count_include_pad : bool
        Count the zero padding in the divisor (PyTorch's default) or not.
    divisor_override : int, optional
        Divide every window sum by this number instead.
    """
    return _avg_pool_nd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override)

def avg_pool3d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Any:
    """3-D average pooling, see :func:`avg_pool2d`."""
    return _avg_pool_nd("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override)

def _adaptive_matrix(n: int, o: int, dtype: Any) -> Any:
    """``P: (o, n)`` with ``P[i, start_i:end_i] = 1/(end_i − start_i)``,
    ``start_i = ⌊i·n/o⌋``, ``end_i = ⌈(i+1)·n/o⌉`` (PyTorch's adaptive windows)."""
    P = np.zeros((o, n))
    for i in range(o):
        s = (i * n) // o
        e = -((-(i + 1) * n) // o)
        P[i, s:e] = 1.0 / (e - s)
    return P.astype(dtype)

def _adaptive_sizes(op: str, k: int, x: Any, output_size: Any) -> tuple[tuple, tuple]:
    """Check the input of an adaptive pooling (``(N, C, *spatial)`` or unbatched) and read
    ``output_size`` (an int, or ``k`` ints where None keeps the input's size): the spatial
    sizes of the input and of the output."""
    _check_tensor(x, "input", op)
    if x.ndim not in (k + 1, k + 2):
        raise op_error(op, f"expected a {k + 2}-D input (N, C, *spatial) or a {k + 1}-D "
                       f"unbatched input, got shape {_shape(x)}")
    sp = _shape(x)[-k:]
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != k:
            raise op_error(op, f"output_size must be an int or a tuple of {k}, got "
                           f"{output_size!r}")
        osz = tuple(n if o is None else int(o) for o, n in zip(output_size, sp))
    else:
        osz = (int(output_size),) * k
    if any(o <= 0 for o in osz):
        raise op_error(op, f"output_size must be positive, got {osz}")
    if any(n == 0 for n in sp):
        raise op_error(op, f"input {_shape(x)} has an empty spatial dimension")
    return sp, osz


def _adaptive_avg_pool_nd(op: str, k: int, x: Any, output_size: Any) -> Any:
    sp, osz = _adaptive_sizes(op, k, x, output_size)
    if x.dtype.kind != "f":
        raise op_error(op, f"input must be a floating point tensor, got {x.dtype}", TypeError)
    lead = _shape(x)[:-k]
    if all(n % o == 0 for n, o in zip(sp, osz)):
        # windows tile the input: reshape (…, o, n/o, …) and average
        shp = lead
        for n, o in zip(sp, osz):
            shp = shp + (o, n // o)
        axes = tuple(len(lead) + 2 * i + 1 for i in range(k))
        return x.reshape(shp).mean(dim=axes)
    y = x
    for ax in range(k):
        P = x.new_tensor(_adaptive_matrix(sp[ax], osz[ax], x.dtype))
        recording.constant(P)  # the same matrix on every call (a recorded replay keeps it)
        # contract spatial axis ax with P: move it last, multiply by Pᵀ, move it back
        dim = len(lead) + ax
        last = y.ndim - 1
        if dim != last:
            y = y.transpose(dim, last)
        y = y @ P.T
        if dim != last:
            y = y.transpose(dim, last)
    return y

def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """1-D adaptive average pooling, see :func:`adaptive_avg_pool2d`."""
    return _adaptive_avg_pool_nd("adaptive_avg_pool1d", 1, input, output_size)

# the parameters the adaptive pools share (their docstrings' line ``{adaptive_params}``)
_adaptive_doc = fill_doc({"adaptive_params": """\
input : Tensor
    ``(N, C, H, W)`` or ``(C, H, W)``.
output_size : int or tuple
    ``None`` in a tuple keeps that input size."""})

@_adaptive_doc
def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Average pooling to a fixed output size, as PyTorch's.

    Window ``i`` along an axis of size ``n`` pooled to ``o`` covers
    ``[⌊i·n/o⌋, ⌈(i+1)·n/o⌉)``; computed as ``Ph @ x @ Pwᵀ`` with averaging matrices
    (or a reshape-mean when ``o`` divides ``n``).

    Parameters
    ----------
    {adaptive_params}
    """
    return _adaptive_avg_pool_nd("adaptive_avg_pool2d", 2, input, output_size)

def adaptive_avg_pool3d(input: Any, output_size: Any) -> Any:
    """3-D adaptive average pooling, see :func:`adaptive_avg_pool2d`."""
    return _adaptive_avg_pool_nd("adaptive_avg_pool3d", 3, input, output_size)

def _adaptive_bounds(n: int, o: int) -> tuple:
    """PyTorch's adaptive windows along one axis: ``start_i = ⌊i·n/o⌋``,
    ``end_i = ⌈(i+1)·n/o⌉``."""
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)

def _adaptive_max_pool_nd(op: str, k: int, x: Any, output_size: Any,
                          return_indices: bool) -> Any:
    sp, osz = _adaptive_sizes(op, k, x, output_size)
    # index of every element of every window, windows padded to the largest size by
    # repeating their last element (a repeat never changes the max or its first position)
    flat = np.zeros((1,) * (2 * k), dtype=np.int64)
    for ax in range(k):
        start, end = _adaptive_bounds(sp[ax], osz[ax])
        kmax = int((end - start).max())
        idx = np.minimum(start[:, None] + np.arange(kmax), end[:, None] - 1)  # (o, kmax)
        shape = [1] * (2 * k)
        shape[ax], shape[k + ax] = osz[ax], kmax
        flat = flat * sp[ax] + idx.reshape(shape)
    lead = _shape(x)[:-k]
    K = int(np.prod(flat.shape[k:]))
    flat = flat.reshape(osz + (K,))
    xd = x.array.reshape(lead + (-1,))
    xp = xp_of(xd)
    win = xd[..., xp.asarray(flat)]  # (*lead, *osz, K) copy
    if x.dtype.kind == "f":
        # first NaN wins (PyTorch propagates NaN), else the first maximum
        nanpos = xp.isnan(win)
        arg = xp.where(nanpos.any(-1), nanpos.argmax(-1), win.argmax(-1))
    else:
        arg = win.argmax(-1)
    indices = xp.take_along_axis(xp.broadcast_to(xp.asarray(flat), win.shape), arg[..., None],
                                 axis=-1)[..., 0]
    n_lead = len(lead)
    y = x.reshape(lead + (-1,)).gather(n_lead, indices.reshape(lead + (-1,))).reshape(
        lead + osz)
    if return_indices:
        return y, y.new_tensor(xp.ascontiguousarray(indices), dtype=indices.dtype)
    return y

def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """1-D adaptive max pooling, see :func:`adaptive_max_pool2d`."""
    return _adaptive_max_pool_nd("adaptive_max_pool1d", 1, input, output_size, return_indices)

@_adaptive_doc
def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size, as PyTorch's (windows
    ``[⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉)``; the gradient goes to the first maximum of each window).

    The arg-max positions are found on the arrays; the output is a ``gather`` of the input
    at those (constant) flat indices, so its VJP is the matching scatter-add and it is
    twice differentiable.

    Parameters
    ----------
    {adaptive_params}
    return_indices : bool
        Also return the flat indices (into ``H·W``) of the maxima.
    """
    return _adaptive_max_pool_nd("adaptive_max_pool2d", 2, input, output_size, return_indices)
