"""Convolution and pooling: ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d``, max/avg/adaptive
pooling, channel dropout, ``interpolate`` (nearest/linear), ``unfold``/``fold`` and
``pixel_shuffle``.

Convolution is a sliding window followed by one matrix product. For an input
``x: (N, C, H, W)`` (zero padded), a weight ``w: (O, C/G, kh, kw)`` and ``G`` groups::

    cols[g, (c, p, q), (i, j, n)] = x[n, g·C/G + c, i·sh + p·dh, j·sw + q·dw]      (im2col)
    y[n, g·O/G + o, i, j]         = Σ_(c,p,q) w[g, o, (c,p,q)] · cols[g, (c,p,q), (i,j,n)]

so ``y = W @ cols`` with ``W: (G, O/G, C/G·kh·kw)`` and ``cols: (G, C/G·kh·kw, OH·OW·N)``
(the batch is folded into the columns: one GEMM per group for the whole batch). The
windows are a strided view (no copy); the only copy is the one that lays them out as the
matrix ``cols``. The VJPs follow from the matrix product, with ``δ = dL/dy`` laid out
the same way as ``(G, O/G, OH·OW·N)``::

    dW    = δ @ colsᵀ          (G, O/G, C/G·kh·kw) — the product also sums over the batch
    dcols = Wᵀ @ δ             (G, C/G·kh·kw, OH·OW·N)
    dx    = col2im(dcols): for every kernel offset (p, q) add dcols[:, (c, p, q)] into the
            strided slice x[..., p·dh : … : sh, q·dw : … : sw]   (loop over offsets only)
    db    = Σ_(n, i, j) δ

``dx`` is the *transposed convolution* of δ with the same weight, and the transposed
convolution's VJP is the convolution: the three kernels ``conv``, ``conv_transpose``
(= input gradient) and ``conv_weight_grad`` are each other's VJPs, so each is a
:class:`~glassgrad.autograd.function.Function` whose backward calls the other two. That
makes every convolution twice (and more times) differentiable.

Memory layout: internally the batch is the *last* (fastest) axis — ``x`` is copied once
into ``(C, Hp, Wp, N)`` — so the copies and col2im additions run over long contiguous
rows. The output is returned as an ``(N, O, OH, OW)`` *view* of the ``(O, OH, OW, N)``
result (no transposing copy); element-wise ops and pooling keep that memory order, so
the next convolution finds its input already batch-last.

Max pooling is a running ``maximum`` over the ``K`` strided slices of the window view;
the backward finds each window's first arg-max (ties: the first, as PyTorch's CPU
kernel) by comparing the slices with the output, and routes the gradient there. Average
pooling spreads ``g / divisor`` over the window. Adaptive average pooling is a product
with two averaging matrices, ``y = Ph @ x @ Pwᵀ`` (any input/output sizes, PyTorch's
``start = ⌊i·H/OH⌋``, ``end = ⌈(i+1)·H/OH⌉`` windows).

Derivations: ``docs/derivations/conv.md``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from ..backend import np, xp_of
from ._util import op_error

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "unfold",
    "fold",
    "pixel_shuffle",
    "pixel_unshuffle",
]


# =====================================================================================
# helpers: argument normalisation, padding, the window view, col2im
# =====================================================================================
def _is_tensor(x: Any) -> bool:
    return hasattr(x, "grad_fn")


def _ntuple(v: Any, k: int, name: str, op: str, minimum: int = 0) -> tuple:
    """``3 -> (3, 3)``; checks length and range, with an error naming the op."""
    if isinstance(v, (list, tuple)):
        t = tuple(v)
        if len(t) == 1 and k > 1:
            t = t * k
    else:
        t = (v,) * k
    if len(t) != k:
        raise op_error(op, f"{name} must be an int or a tuple of {k} ints, got {v!r}")
    try:
        t = tuple(int(a) for a in t)
    except (TypeError, ValueError):
        raise op_error(op, f"{name} must be an int or a tuple of {k} ints, got {v!r}",
                       TypeError) from None
    if any(a < minimum for a in t):
        raise op_error(op, f"{name} must be >= {minimum}, got {v!r}")
    return t


def _pad(x: Any, pads: Sequence[tuple], value: float = 0.0) -> Any:
    """Pad the last ``len(pads)`` axes by ``(lo, hi)`` each (one allocation, one copy)."""
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return x
    k = len(pads)
    xp = xp_of(x)
    shape = x.shape[:-k] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[-k:], pads))
    if value == 0:
        out = xp.zeros(shape, dtype=x.dtype)
    else:
        out = xp.full(shape, value, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[-k:], pads))] = x
    return out


def _crop(xp_arr: Any, pads: Sequence[tuple], sp: Sequence[int]) -> Any:
    """Inverse of :func:`_pad`: the interior of a padded array (a view)."""
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return xp_arr
    return xp_arr[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(sp, pads))]


def _offset_slices(ks: tuple, stride: tuple, dilation: tuple, out_sp: tuple):
    """For every kernel offset ``(p, q, ...)``: the strided slice of the (padded) input
    that the offset touches across all output positions."""
    for offs in itertools.product(*[range(kk) for kk in ks]):
        sl = tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                   for o, d, n, s in zip(offs, dilation, out_sp, stride))
        yield offs, sl


def _conv_out(sp: tuple, ks: tuple, stride: tuple, pads: tuple, dilation: tuple) -> tuple:
    return tuple((n + lo + hi - d * (kk - 1) - 1) // s + 1
                 for n, kk, s, (lo, hi), d in zip(sp, ks, stride, pads, dilation))


def _prod(t: Sequence[int]) -> int:
    p = 1
    for a in t:
        p *= a
    return p


# =====================================================================================
# the three convolution kernels on arrays
# =====================================================================================
def _batch_last(a: Any, groups: int) -> Any:
    """``(N, C, *sp) -> (G, C/G, L·N)``: channels first, batch last (one copy)."""
    xp = xp_of(a)
    t = xp.moveaxis(a, 0, -1)
    return xp.ascontiguousarray(t).reshape(groups, a.shape[1] // groups, -1)


def _batch_first(a: Any, shape: tuple) -> Any:
    """``(C, *sp, N) -> (N, C, *sp)`` as a view: the memory stays batch-last. NumPy's
    element-wise ops keep the memory order of their input, so the next convolution
    usually finds its input already batch-last and skips a transposing copy."""
    return xp_of(a).moveaxis(a.reshape(shape[1:] + shape[:1]), -1, 0)


def _im2col(x: Any, ks: tuple, stride: tuple, pads: tuple, dilation: tuple, groups: int,
            out_sp: tuple) -> Any:
    """``cols: (G, C/G·K, L·N)`` with rows ``(c, p, q)`` and columns ``(i, j, n)``.

    ``x`` is first copied (with its zero padding) into a channels-first, batch-last array
    ``(C, Hp, Wp, N)``; the windows of that array are a strided view
    ``(C, kh, kw, OH, OW, N)`` whose reshape is the matrix. Keeping the batch as the
    fastest axis makes every copy and every col2im addition run over long contiguous
    rows, and every product one large GEMM.
    """
    k = len(ks)
    xp = xp_of(x)
    N, C = x.shape[:2]
    sp = x.shape[2:]
    padded = (C,) + tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads)) + (N,)
    if any(lo or hi for lo, hi in pads):
        xpd = xp.zeros(padded, dtype=x.dtype)
        inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(sp, pads))
        xpd[(slice(None),) + inner] = xp.moveaxis(x, 0, -1)
    else:
        xpd = xp.ascontiguousarray(xp.moveaxis(x, 0, -1))
    st = xpd.strides
    v = xp.lib.stride_tricks.as_strided(
        xpd, (C,) + tuple(ks) + tuple(out_sp) + (N,),
        (st[0],) + tuple(st[1 + i] * dilation[i] for i in range(k))
        + tuple(st[1 + i] * stride[i] for i in range(k)) + (st[-1],),
        writeable=False)
    return v.reshape(groups, (C // groups) * _prod(ks), _prod(out_sp) * N)


def _gemm(a: Any, b: Any) -> Any:
    """``a @ b`` for stacks of ``G`` matrices (a plain 2-D GEMM when ``G == 1``)."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return a @ b


def _conv_fwd(x: Any, w: Any, stride: tuple, pads: tuple, dilation: tuple, groups: int,
              out_sp: tuple) -> tuple:
    """``y = W @ cols`` -> ``(y: (N, O, *out_sp), cols)``."""
    N = x.shape[0]
    O = w.shape[0]
    cols = _im2col(x, w.shape[2:], stride, pads, dilation, groups, out_sp)
    y = _gemm(w.reshape(groups, O // groups, -1), cols)  # (G, O/G, L·N)
    return _batch_first(y, (N, O) + tuple(out_sp)), cols


def _conv_wgrad(cols: Any, gT: Any, w_shape: tuple) -> Any:
    """``dW = δ @ colsᵀ`` with ``δ`` batch-last ``(G, O/G, L·N)``: one GEMM that also sums
    over the batch."""
    return _gemm(gT, cols.swapaxes(-1, -2)).reshape(w_shape)


def _conv_igrad(gT: Any, w: Any, x_shape: tuple, stride: tuple, pads: tuple, dilation: tuple,
                groups: int, out_sp: tuple) -> Any:
    """``dx = col2im(Wᵀ @ δ)`` (the transposed convolution of ``δ``, batch-last ``δ``)."""
    xp = xp_of(gT)
    N, C = x_shape[:2]
    O = w.shape[0]
    ks = tuple(w.shape[2:])
    sp = tuple(x_shape[2:])
    padded = (C,) + tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads)) + (N,)
    dxp = xp.zeros(padded, dtype=gT.dtype)
    if O == groups and C == groups:
        # depthwise (one filter per channel): Wᵀ @ δ is an outer product per channel, so
        # add w[c, p, q] · δ[c] straight into each offset's slice (no dcols matrix)
        gv = gT.reshape((C,) + tuple(out_sp) + (N,))
        w2 = w.reshape(C, -1)
        bshape = (C,) + (1,) * (len(ks) + 1)
        for i, (_, sl) in enumerate(_offset_slices(ks, stride, dilation, out_sp)):
            dxp[(slice(None),) + sl] += w2[:, i].reshape(bshape) * gv
    else:
        dcols = _gemm(w.reshape(groups, O // groups, -1).swapaxes(-1, -2), gT)
        dcols = dcols.reshape((C,) + ks + tuple(out_sp) + (N,))
        for offs, sl in _offset_slices(ks, stride, dilation, out_sp):
            dxp[(slice(None),) + sl] += dcols[(slice(None),) + offs]
    if any(lo or hi for lo, hi in pads):
        dxp = dxp[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(sp, pads))]
    return xp.moveaxis(dxp, -1, 0)


def _bias_view(b: Any, k: int) -> Any:
    return b.reshape((1, -1) + (1,) * k)


# =====================================================================================
# the Functions: ConvNd, ConvTransposeNd, ConvWeightGrad are each other's VJPs
# =====================================================================================
class ConvNd(Function):
    """``y = conv(x, w) + b`` over 1, 2 or 3 spatial axes (im2col + one matrix product).

    Called as ``ConvNd.apply(x, w, b, stride, pads, dilation, groups, out_sp)`` with
    per-axis tuples; ``pads`` holds ``(lo, hi)`` pairs; ``out_sp`` the output size.
    """
    formulas = {
        "inputs": "X, W, b, stride, pads, dilation, groups, out_sp",
        "grads": (
            "dX = conv_transpose(dY, W) = col2im(Wᵀ @ dY)",
            "dW = Σ_n dY[n] @ cols(X)[n]ᵀ",
            "db = sum over (n, spatial) of dY",
            None, None, None, None, None,
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/conv.md#backward"

    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups, out_sp):
        y, cols = _conv_fwd(x, w, stride, pads, dilation, groups, out_sp)
        if b is not None:
            y += _bias_view(b, len(out_sp))
        ctx.geom = (stride, pads, dilation, groups)
        ctx.save_for_backward(x, w, cols)
        return y

    @staticmethod
    def backward(ctx, g):
        """VJP, with ``δ = g: (N, O, *out)``:

        * ``dx = conv_transpose(δ, w)`` — ``col2im(Wᵀ @ δ)``, shape of ``x`` ``(N, C, *in)``
        * ``dw = δ @ colsᵀ`` (batch folded into the columns) — shape ``(O, C/G, *k)``
        * ``db = Σ_(n, spatial) δ`` — shape ``(O,)``
        """
        x, w, cols = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.geom
        need = ctx.needs_input_grad
        k = len(pads)
        dx = dw = db = None
        if _is_tensor(g):  # create_graph: use the Functions, so this is differentiable
            if need[0]:
                dx = ConvTransposeNd.apply(g, w, None, tuple(x.shape), stride, pads, dilation,
                                           groups)
            if need[1]:
                dw = ConvWeightGrad.apply(x, g, tuple(w.shape), stride, pads, dilation, groups)
        elif need[0] or need[1]:
            gT = _batch_last(g, groups)
            if need[0]:
                dx = _conv_igrad(gT, w, x.shape, stride, pads, dilation, groups,
                                 tuple(g.shape[2:]))
            if need[1]:
                dw = _conv_wgrad(cols, gT, w.shape)
        if need[2]:
            db = g.sum(axis=(0,) + tuple(range(2, 2 + k)))
        return dx, dw, db, None, None, None, None, None


class ConvTransposeNd(Function):
    """``y = conv_transpose(x, w) + b``: the input-gradient of a convolution as an op.

    ``x: (N, Cin, *in)``, ``w: (Cin, Cout/G, *k)`` (PyTorch's transposed layout, which is
    the layout of the convolution being transposed), ``y: out_shape = (N, Cout, *out)``.
    Called as ``ConvTransposeNd.apply(x, w, b, out_shape, stride, pads, dilation, groups)``.
    """
    formulas = {
        "inputs": "X, W, b, out_shape, stride, pads, dilation, groups",
        "grads": (
            "dX = conv(dY, W)",
            "dW = Σ_n X[n] @ cols(dY)[n]ᵀ",
            "db = sum over (n, spatial) of dY",
            None, None, None, None, None,
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/conv.md#backward"

    @staticmethod
    def forward(ctx, x, w, b, out_shape, stride, pads, dilation, groups):
        y = _conv_igrad(_batch_last(x, groups), w, out_shape, stride, pads, dilation, groups,
                        tuple(x.shape[2:]))
        if b is not None:
            y = y + _bias_view(b, len(pads))
        ctx.geom = (stride, pads, dilation, groups)
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, g):
        """VJP, with ``g: (N, Cout, *out)``:

        * ``dx = conv(g, w)`` — shape ``(N, Cin, *in)`` (the forward convolution)
        * ``dw = Σ_n x[n] @ cols(g)[n]ᵀ`` — the convolution's weight gradient with the
          roles ``input = g``, ``δ = x``; shape ``(Cin, Cout/G, *k)``
        * ``db = Σ_(n, spatial) g`` — shape ``(Cout,)``
        """
        x, w = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.geom
        need = ctx.needs_input_grad
        k = len(pads)
        in_sp = tuple(x.shape[2:])
        dx = dw = db = None
        if _is_tensor(g):
            if need[0]:
                dx = ConvNd.apply(g, w, None, stride, pads, dilation, groups, in_sp)
            if need[1]:
                dw = ConvWeightGrad.apply(g, x, tuple(w.shape), stride, pads, dilation, groups)
        else:
            if need[0] and need[1]:
                dx, cols = _conv_fwd(g, w, stride, pads, dilation, groups, in_sp)
                dw = _conv_wgrad(cols, _batch_last(x, groups), w.shape)
            elif need[0]:
                dx = _conv_fwd(g, w, stride, pads, dilation, groups, in_sp)[0]
            elif need[1]:
                cols = _im2col(g, tuple(w.shape[2:]), stride, pads, dilation, groups, in_sp)
                dw = _conv_wgrad(cols, _batch_last(x, groups), w.shape)
        if need[2]:
            db = g.sum(axis=(0,) + tuple(range(2, 2 + k)))
        return dx, dw, db, None, None, None, None, None


class ConvWeightGrad(Function):
    """``dw = Σ_n δ[n] @ cols(x)[n]ᵀ``: the weight gradient of a convolution as an op
    (needed to differentiate a convolution's backward). Called as
    ``ConvWeightGrad.apply(x, δ, w_shape, stride, pads, dilation, groups)``."""
    formulas = {
        "inputs": "X, G, w_shape, stride, pads, dilation, groups",
        "grads": (
            "dX = conv_transpose(G, dZ)",
            "dG = conv(X, dZ)",
            None, None, None, None, None,
        ),
        "output": "dW",
    }
    derivation = "docs/derivations/conv.md#backward"

    @staticmethod
    def forward(ctx, x, g, w_shape, stride, pads, dilation, groups):
        cols = _im2col(x, tuple(w_shape[2:]), stride, pads, dilation, groups,
                       tuple(g.shape[2:]))
        ctx.geom = (stride, pads, dilation, groups)
        ctx.save_for_backward(x, g)
        return _conv_wgrad(cols, _batch_last(g, groups), w_shape)

    @staticmethod
    def backward(ctx, gw):
        """VJP (``dw`` is bilinear in ``x`` and ``δ``), with ``gw`` shaped like ``w``:

        * ``dx = conv_transpose(δ, gw)`` — shape of ``x``
        * ``dδ = conv(x, gw)`` — shape of ``δ``
        """
        x, g = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.geom
        need = ctx.needs_input_grad
        out_sp = tuple(g.shape[2:])
        dx = dg = None
        if _is_tensor(gw):
            if need[0]:
                dx = ConvTransposeNd.apply(g, gw, None, tuple(x.shape), stride, pads, dilation,
                                           groups)
            if need[1]:
                dg = ConvNd.apply(x, gw, None, stride, pads, dilation, groups, out_sp)
        else:
            if need[0]:
                dx = _conv_igrad(_batch_last(g, groups), gw, x.shape, stride, pads, dilation,
                                 groups, out_sp)
            if need[1]:
                dg = _conv_fwd(x, gw, stride, pads, dilation, groups, out_sp)[0]
        return dx, dg, None, None, None, None, None


# =====================================================================================
# public functional convolutions
# =====================================================================================
def _shape(t: Any) -> tuple:
    return tuple(t.shape)


def _check_tensor(t: Any, name: str, op: str) -> None:
    if not _is_tensor(t):
        raise op_error(op, f"{name} must be a glassgrad Tensor, got {type(t).__name__}",
                       TypeError)


def _check_dtypes(op: str, *pairs: tuple) -> None:
    ref_name, ref = pairs[0]
    if ref.dtype.kind != "f":
        raise op_error(op, f"{ref_name} must be a floating point tensor, got {ref.dtype}",
                       TypeError)
    for name, t in pairs[1:]:
        if t is not None and t.dtype != ref.dtype:
            raise op_error(
                op, f"{ref_name} dtype {ref.dtype} and {name} dtype {t.dtype} differ; convert "
                f"one of them (e.g. {name}.to({ref_name}.dtype))", TypeError)


def _conv_args(op: str, k: int, x: Any, w: Any, b: Any, stride: Any, padding: Any,
               dilation: Any, groups: int, transposed: bool = False) -> tuple:
    """Validate the arguments of a (transposed) convolution; returns
    ``(unbatched, x_shape, stride, dilation, groups, padding)`` with a batched shape."""
    _check_tensor(x, "input", op)
    _check_tensor(w, "weight", op)
    if b is not None:
        _check_tensor(b, "bias", op)
    _check_dtypes(op, ("input", x), ("weight", w), ("bias", b))
    if w.ndim != k + 2:
        raise op_error(op, f"weight must have {k + 2} dimensions (out_channels, "
                       f"in_channels/groups, {', '.join('k' + str(i) for i in range(k))}), "
                       f"got shape {_shape(w)}")
    if x.ndim not in (k + 1, k + 2):
        names = {1: "L", 2: "H, W", 3: "D, H, W"}[k]
        raise op_error(op, f"expected a {k + 2}-D input (N, C, {names}) or a {k + 1}-D "
                       f"unbatched input (C, {names}), got shape {_shape(x)}")
    unbatched = x.ndim == k + 1
    xs = ((1,) + _shape(x)) if unbatched else _shape(x)
    groups = int(groups)
    if groups < 1:
        raise op_error(op, f"groups must be a positive integer, got {groups}")
    stride = _ntuple(stride, k, "stride", op, 1)
    dilation = _ntuple(dilation, k, "dilation", op, 1)
    C = xs[1]
    if not transposed:
        if C != w.shape[1] * groups:
            raise op_error(op, f"input {_shape(x)} has {C} channels but weight {_shape(w)} "
                           f"expects {w.shape[1]}×groups={w.shape[1] * groups}")
        if w.shape[0] % groups:
            raise op_error(op, f"weight {_shape(w)}: out_channels {w.shape[0]} is not "
                           f"divisible by groups={groups}")
        n_out = w.shape[0]
    else:
        if C != w.shape[0]:
            raise op_error(op, f"input {_shape(x)} has {C} channels but weight {_shape(w)} "
                           f"(in_channels, out_channels/groups, *kernel) expects {w.shape[0]}")
        if C % groups:
            raise op_error(op, f"in_channels {C} is not divisible by groups={groups}")
        n_out = w.shape[1] * groups
    if b is not None and _shape(b) != (n_out,):
        raise op_error(op, f"bias must have shape ({n_out},) (one per output channel), got "
                       f"{_shape(b)}")
    if any(s == 0 for s in xs[1:]):
        raise op_error(op, f"input {_shape(x)} has an empty channel or spatial dimension")
    return unbatched, xs, stride, dilation, groups


def _conv_nd(op: str, k: int, x: Any, w: Any, b: Any, stride: Any, padding: Any,
             dilation: Any, groups: int) -> Any:
    unbatched, xs, stride, dilation, groups = _conv_args(op, k, x, w, b, stride, padding,
                                                         dilation, groups)
    ks = tuple(w.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * k
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise op_error(op, f"padding='same' is not supported for strided "
                               f"convolutions (stride {stride})")
            pads = tuple((d * (kk - 1) // 2, d * (kk - 1) - d * (kk - 1) // 2)
                         for kk, d in zip(ks, dilation))
        else:
            raise op_error(op, f"padding must be an int, a tuple, 'same' or 'valid', got "
                           f"{padding!r}")
    else:
        pads = tuple((p, p) for p in _ntuple(padding, k, "padding", op, 0))
    sp = xs[2:]
    eff = tuple(d * (kk - 1) + 1 for kk, d in zip(ks, dilation))
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
    if any(e > p for e, p in zip(eff, padded)):
        raise op_error(op, f"kernel {ks} (dilation {dilation}, effective size {eff}) is bigger "
                       f"than the padded input {padded} (input {_shape(x)}, padding "
                       f"{tuple(lo for lo, _ in pads)})")
    out_sp = _conv_out(sp, ks, stride, pads, dilation)
    xin = x.reshape((1,) + _shape(x)) if unbatched else x
    y = ConvNd.apply(xin, w, b, stride, pads, dilation, groups, out_sp)
    return y.reshape(_shape(y)[1:]) if unbatched else y


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """1-D convolution (cross-correlation, as PyTorch), see :func:`conv2d`.

    ``input: (N, C, L)`` or ``(C, L)``, ``weight: (O, C/groups, k)`` -> ``(N, O, L_out)``.
    """
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """2-D convolution (cross-correlation, as ``torch.nn.functional.conv2d``).

    Parameters
    ----------
    input : Tensor
        ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    weight : Tensor
        ``(O, C/groups, kh, kw)``.
    bias : Tensor, optional
        ``(O,)``.
    stride, dilation : int or tuple
    padding : int, tuple, 'same' or 'valid'
        Zero padding on both sides; ``'same'`` keeps the size (stride 1; an odd total is
        padded one more on the right/bottom, as PyTorch).
    groups : int
        Split channels into ``groups`` independent convolutions (``groups == C``:
        depthwise).

    Returns
    -------
    Tensor
        ``(N, O, OH, OW)`` with ``OH = ⌊(H + 2p − d·(kh−1) − 1)/s⌋ + 1``.
    """
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """3-D convolution, see :func:`conv2d`: ``(N, C, D, H, W)`` and ``(O, C/g, kd, kh, kw)``."""
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose_nd(op: str, k: int, x: Any, w: Any, b: Any, stride: Any, padding: Any,
                       output_padding: Any, groups: int, dilation: Any,
                       output_size: Any = None) -> Any:
    unbatched, xs, stride, dilation, groups = _conv_args(op, k, x, w, b, stride, padding,
                                                         dilation, groups, transposed=True)
    if isinstance(padding, str):
        raise op_error(op, f"padding must be an int or a tuple for transposed convolutions, "
                       f"got {padding!r}")
    pad = _ntuple(padding, k, "padding", op, 0)
    op_pad = _ntuple(output_padding, k, "output_padding", op, 0)
    ks = tuple(w.shape[2:])
    sp = xs[2:]
    base = tuple((n - 1) * s - 2 * p + d * (kk - 1) + 1
                 for n, s, p, d, kk in zip(sp, stride, pad, dilation, ks))
    if output_size is not None:
        osz = tuple(int(v) for v in output_size)[-k:]
        op_pad = tuple(o - bse for o, bse in zip(osz, base))
        if any(o < 0 or o >= max(s, d) for o, s, d in zip(op_pad, stride, dilation)):
            raise op_error(op, f"output_size {osz} is not reachable: sizes between {base} "
                           f"and {tuple(bse + max(s, d) - 1 for bse, s, d in zip(base, stride, dilation))} "
                           "are possible")
    for o, s, d in zip(op_pad, stride, dilation):
        if o >= max(s, d):
            raise op_error(op, f"output_padding {op_pad} must be smaller than either stride "
                           f"{stride} or dilation {dilation}")
    out_sp = tuple(bse + o for bse, o in zip(base, op_pad))
    if any(o <= 0 for o in out_sp):
        raise op_error(op, f"input {_shape(x)} with kernel {ks}, stride {stride}, padding {pad} "
                       f"gives a non-positive output size {out_sp}")
    pads = tuple((p, p) for p in pad)
    out_shape = (xs[0], w.shape[1] * groups) + out_sp
    # (the convolution being transposed maps out_shape back to the input size; with
    # output_padding >= stride (allowed when < dilation) it would have extra trailing
    # windows, which the explicit output size given to ConvNd in the VJP leaves out)
    xin = x.reshape((1,) + _shape(x)) if unbatched else x
    y = ConvTransposeNd.apply(xin, w, b, out_shape, stride, pads, dilation, groups)
    return y.reshape(_shape(y)[1:]) if unbatched else y


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Any:
    """1-D transposed convolution, see :func:`conv_transpose2d`."""
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Any:
    """2-D transposed convolution ("deconvolution"), as PyTorch's.

    Its forward is the input-gradient of :func:`conv2d` with the same weight and its
    backward is :func:`conv2d`.

    Parameters
    ----------
    input : Tensor
        ``(N, Cin, H, W)`` or ``(Cin, H, W)``.
    weight : Tensor
        ``(Cin, Cout/groups, kh, kw)``.
    bias : Tensor, optional
        ``(Cout,)``.
    stride, padding, output_padding, dilation : int or tuple
        ``OH = (H − 1)·s − 2p + d·(kh − 1) + output_padding + 1``.
    groups : int

    Returns
    -------
    Tensor
        ``(N, Cout, OH, OW)``.
    """
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


def conv_transpose3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Any:
    """3-D transposed convolution, see :func:`conv_transpose2d`."""
    return _conv_transpose_nd("conv_transpose3d", 3, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad_spatial(x: Any, pads: Sequence[int], mode: str, op: str = "pad") -> Any:
    """Pad the last ``len(pads)`` axes of ``x`` by ``pads[i]`` on both sides with
    ``mode`` in ``'zeros'``, ``'reflect'``, ``'replicate'``, ``'circular'`` (the
    ``padding_mode`` of the convolution modules).

    The non-zero modes are a gather ``x[..., idx]`` along each axis with a fixed index
    map (e.g. reflect: ``[2, 1, 0, 1, 2, …, n−2, n−3]``), so the VJP adds each padded
    position's gradient back to its source element.
    """
    k = len(pads)
    if mode == "zeros":
        return x.pad_nd(((0, 0),) * (x.ndim - k) + tuple((p, p) for p in pads))
    if mode not in _NP_MODES:
        raise op_error(op, f"padding_mode must be 'zeros', 'reflect', 'replicate' or "
                       f"'circular', got {mode!r}")
    y = x
    sp = _shape(x)[-k:]
    for ax, (p, n) in enumerate(zip(pads, sp)):
        if p == 0:
            continue
        if mode == "reflect" and p >= n:
            raise op_error(op, f"reflect padding {p} must be smaller than the input size {n} "
                           f"(input {_shape(x)})")
        if mode == "circular" and p > n:
            raise op_error(op, f"circular padding {p} must be at most the input size {n} "
                           f"(input {_shape(x)})")
        idx = np.pad(np.arange(n), (p, p), mode=_NP_MODES[mode])
        y = y[(slice(None),) * (x.ndim - k + ax) + (xp_of(x.array).asarray(idx),)]
    return y


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

    @staticmethod
    def forward(ctx, x, ks, stride, pads, dil, out_sp, with_indices=False):
        k = len(ks)
        xp = xp_of(x)
        xpd = _pad(x, pads, _lowest(x.dtype))
        y = None
        for _, sl in _offset_slices(ks, stride, dil, out_sp):
            piece = xpd[(Ellipsis,) + sl]
            if y is None:
                y = piece.copy(order="K")  # keep the input's memory order
            else:
                xp.maximum(y, piece, out=y)  # NaN propagates, as PyTorch
        ctx.geom = (ks, stride, pads, dil)
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
        shape = ctx._in_meta[0][0]
        none = (None,) * 6
        if _is_tensor(g):
            if ctx.arg is None:
                ctx.arg = _max_arg(ctx.xpd, ctx.y, ks, stride, dil)
            return (MaxUnpoolScatter.apply(g, ctx.arg, shape, ctx.geom),) + none
        xp = xp_of(g)
        dxp = xp.zeros_like(ctx.xpd, dtype=g.dtype)  # same memory order as the input
        zero = xp.zeros((), dtype=g.dtype)
        disjoint = _disjoint(ks, stride, dil)
        for _, sl, m in _first_max_masks(ctx.xpd, ctx.y, ks, stride, dil):
            if disjoint:
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
        shape = ctx._in_meta[0][0]
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
        shape = ctx._in_meta[0][0]
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
        out_sp = tuple(ctx._in_meta[0][0][-len(ks):])
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


def _adaptive_avg_pool_nd(op: str, k: int, x: Any, output_size: Any) -> Any:
    _check_tensor(x, "input", op)
    if x.ndim not in (k + 1, k + 2):
        raise op_error(op, f"expected a {k + 2}-D input (N, C, *spatial) or a {k + 1}-D "
                       f"unbatched input, got shape {_shape(x)}")
    if x.dtype.kind != "f":
        raise op_error(op, f"input must be a floating point tensor, got {x.dtype}", TypeError)
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
    lead = _shape(x)[:-k]
    if all(n % o == 0 for n, o in zip(sp, osz)):
        # windows tile the input: reshape (…, o, n/o, …) and average
        shp = lead
        for n, o in zip(sp, osz):
            shp = shp + (o, n // o)
        axes = tuple(len(lead) + 2 * i + 1 for i in range(k))
        return x.reshape(shp).mean(dim=axes)
    from ..tensor import Tensor

    xp = xp_of(x.array)
    y = x
    for ax in range(k):
        P = Tensor._make(xp.asarray(_adaptive_matrix(sp[ax], osz[ax], x.dtype)), False)
        if STATE.recorder is not None:
            STATE.recorder.constant(P)  # the same matrix on every call (gg.capture, ONNX export)
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


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Average pooling to a fixed output size, as PyTorch's.

    Window ``i`` along an axis of size ``n`` pooled to ``o`` covers
    ``[⌊i·n/o⌋, ⌈(i+1)·n/o⌉)``; computed as ``Ph @ x @ Pwᵀ`` with averaging matrices
    (or a reshape-mean when ``o`` divides ``n``).

    Parameters
    ----------
    input : Tensor
        ``(N, C, H, W)`` or ``(C, H, W)``.
    output_size : int or tuple
        ``None`` in a tuple keeps that input size.
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
    if any(o <= 0 for o in osz) or any(n == 0 for n in sp):
        raise op_error(op, f"output_size {osz} must be positive and input {_shape(x)} "
                       "non-empty")
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
        from ..tensor import Tensor

        return y, Tensor._make(xp.ascontiguousarray(indices), False)
    return y


def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """1-D adaptive max pooling, see :func:`adaptive_max_pool2d`."""
    return _adaptive_max_pool_nd("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size, as PyTorch's (windows
    ``[⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉)``; the gradient goes to the first maximum of each window).

    The arg-max positions are found on the arrays; the output is a ``gather`` of the input
    at those (constant) flat indices, so its VJP is the matching scatter-add and it is
    twice differentiable.

    Parameters
    ----------
    input : Tensor
        ``(N, C, H, W)`` or ``(C, H, W)``.
    output_size : int or tuple
        ``None`` in a tuple keeps that input size.
    return_indices : bool
        Also return the flat indices (into ``H·W``) of the maxima.
    """
    return _adaptive_max_pool_nd("adaptive_max_pool2d", 2, input, output_size, return_indices)


# =====================================================================================
# channel dropout
# =====================================================================================
def _dropout_nd(op: str, k: int, x: Any, p: float, training: bool, inplace: bool,
                generator: Any, stacklevel: int = 3) -> Any:
    """Channel dropout as PyTorch's ``dropout1d/2d/3d``, input ranks included.

    The mask has one draw per ``(N, C)`` (batched) or per ``C`` (unbatched) and is
    broadcast over the rest. Which axes are ``N`` and ``C`` depends on the rank as in
    PyTorch 2.13:

    - ``dropout1d``: ``(N, C, L)`` or unbatched ``(C, L)``; any other rank is an error.
    - ``dropout2d``: ``(N, C, H, W)``; *every* other rank is read as batched ``(N, C, …)``
      (a 3-D input as ``(N, C, L)``, not as an unbatched ``(C, H, W)``, so a 2-D input
      gets one draw per element), with PyTorch's warnings for ranks other than 4.
    - ``dropout3d``: ``(N, C, D, H, W)``; every other rank is read as unbatched
      ``(C, …)`` (one draw per slice along the first axis), warning for ranks other than
      4 and 5.
    """
    import warnings

    _check_tensor(x, "input", op)
    if not 0.0 <= p <= 1.0:
        raise op_error(op, f"dropout probability has to be between 0 and 1, got {p}")
    nd = x.ndim
    if k == 1:
        if nd not in (2, 3):
            raise op_error(op, f"Expected 2D or 3D input, but received a {nd}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 "
                           "spatial dimension, a channel dimension, and an optional batch "
                           "dimension (i.e. 2D or 3D inputs).", RuntimeError)
    elif nd not in (k + 1, k + 2):
        warnings.warn(f"{op}: Received a {nd}-D input to {op}, which is deprecated and will "
                      f"result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that {op} exists "
                      f"to provide channel-wise dropout on inputs with {k} spatial dimensions, a "
                      f"channel dimension, and an optional batch dimension (i.e. {k + 1}D or "
                      f"{k + 2}D inputs).", UserWarning, stacklevel=stacklevel)
    if k == 2 and nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch "
                      "to using dropout1d instead.", UserWarning, stacklevel=stacklevel)
    if not training or p == 0.0 or math.prod(_shape(x)) == 0:
        return x
    shape = _shape(x)
    batched = k == 2 or nd == k + 2
    full = shape if batched else (1,) + shape
    if len(full) < 2:
        raise op_error(op, "Feature dropout requires at least 2 dimensions in the input",
                       RuntimeError)
    mshape = full[:2] + (1,) * (len(full) - 2)
    if not batched:
        mshape = mshape[1:]
    from ..tensor import Tensor
    from .nn import Dropout, dropout_mask

    if not inplace:
        return Dropout.apply(x, float(p), mshape, generator)
    return x.mul_(Tensor._make(dropout_mask(x.array, p, mshape, generator), False))


def dropout1d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Any:
    """Zero whole channels of ``(N, C, L)`` (or unbatched ``(C, L)``) with probability ``p``,
    see :func:`dropout2d`; other ranks are a RuntimeError, as in PyTorch."""
    return _dropout_nd("dropout1d", 1, input, p, training, inplace, generator)


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Any:
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p`` and scale the kept
    ones by ``1/(1 − p)`` (identity when ``training`` is False).

    As in PyTorch 2.13 a 3-D input is read as ``(N, C, L)`` (not as an unbatched
    ``(C, H, W)``) with a UserWarning, and other ranks than 3 and 4 warn that they are
    deprecated (the first two axes are still ``N`` and ``C``).

    Parameters
    ----------
    generator : glassgrad.Generator, optional
        Source of randomness (default: the global generator, see ``gg.manual_seed``).
    """
    return _dropout_nd("dropout2d", 2, input, p, training, inplace, generator)


def dropout3d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Any:
    """Zero whole channels of ``(N, C, D, H, W)`` or of an unbatched ``(C, D, H, W)``, see
    :func:`dropout2d`; other ranks warn (as PyTorch) and are read as unbatched ``(C, …)``."""
    return _dropout_nd("dropout3d", 3, input, p, training, inplace, generator)


# =====================================================================================
# interpolation (nearest, linear/bilinear/trilinear)
# =====================================================================================
_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _nearest_index(n_in: int, n_out: int, scale: float | None) -> Any:
    """PyTorch's ``nearest``: ``src = min(⌊dst · s⌋, n_in − 1)`` computed in float32 with
    ``s = 1/scale_factor`` (when given) else ``n_in/n_out``."""
    if n_out == n_in and scale is None:
        return np.arange(n_in)
    s = np.float32(1.0 / scale) if scale is not None else np.float32(n_in / n_out)
    src = np.floor(np.arange(n_out, dtype=np.float32) * s).astype(np.int64)
    return np.minimum(src, n_in - 1)


def _linear_matrix(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                   dtype: Any) -> Any:
    """``A: (n_out, n_in)`` with the two linear-interpolation weights per row, using
    PyTorch's source coordinates (``align_corners`` or half-pixel centres)."""
    A = np.zeros((n_out, n_in))
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        s = (1.0 / scale) if scale is not None else n_in / n_out
        src = np.maximum((dst + 0.5) * s - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    rows = np.arange(n_out)
    np.add.at(A, (rows, i0), 1.0 - lam)
    np.add.at(A, (rows, i1), lam)
    return A.astype(dtype)


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Any:
    """Resize the spatial axes of ``(N, C, *spatial)``, as ``torch.nn.functional.interpolate``.

    Parameters
    ----------
    input : Tensor
        ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
    size : int or tuple, optional
        Output spatial size (give this or ``scale_factor``).
    scale_factor : float or tuple, optional
    mode : {'nearest', 'area', 'linear', 'bilinear', 'trilinear'}
        Nearest copies ``x[⌊dst·in/out⌋]`` (a gather: its VJP adds ``g`` back to the
        sources); 'area' is adaptive average pooling; the linear modes multiply by a
        separable interpolation matrix per axis.
    align_corners : bool, optional
        Linear modes only (default False).
    """
    op = "interpolate"
    _check_tensor(input, "input", op)
    x = input
    k = x.ndim - 2
    if k < 1 or k > 3:
        raise op_error(op, f"expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape "
                       f"{_shape(x)}")
    if antialias:
        raise op_error(op, "antialias=True is not supported", NotImplementedError)
    if mode not in ("nearest", "area") + tuple(_LINEAR):
        raise op_error(op, f"mode {mode!r} is not supported (use 'nearest', 'area', 'linear', "
                       "'bilinear' or 'trilinear')", NotImplementedError)
    if mode in _LINEAR and _LINEAR[mode] != k:
        raise op_error(op, f"mode {mode!r} needs a {_LINEAR[mode] + 2}-D input, got shape "
                       f"{_shape(x)}")
    if mode in ("nearest", "area") and align_corners is not None:
        raise op_error(op, "align_corners option can only be set with the interpolating modes: "
                       "linear | bilinear | trilinear")
    if (size is None) == (scale_factor is None):
        raise op_error(op, "give exactly one of size and scale_factor")
    sp = _shape(x)[2:]
    scales: tuple
    if size is not None:
        osz = _ntuple(size, k, "size", op, 1)
        scales = (None,) * k
    else:
        sf = scale_factor if isinstance(scale_factor, (list, tuple)) else (scale_factor,) * k
        if len(sf) != k:
            raise op_error(op, f"scale_factor must be a number or a tuple of {k}, got "
                           f"{scale_factor!r}")
        sf = tuple(float(s) for s in sf)
        if any(s <= 0 for s in sf):
            raise op_error(op, f"scale_factor must be positive, got {scale_factor!r}")
        osz = tuple(int(math.floor(n * s)) for n, s in zip(sp, sf))
        if any(o <= 0 for o in osz):
            raise op_error(op, f"scale_factor {scale_factor!r} gives an empty output {osz}")
        scales = (None,) * k if recompute_scale_factor else sf
    if x.dtype.kind != "f":
        raise op_error(op, f"input must be a floating point tensor, got {x.dtype}", TypeError)
    if mode == "area":  # PyTorch: adaptive average pooling to the output size
        return _adaptive_avg_pool_nd(op, k, x, osz)
    y = x
    if mode == "nearest":
        for ax in range(k):
            if osz[ax] == sp[ax] and scales[ax] in (None, 1.0):
                continue
            idx = _nearest_index(sp[ax], osz[ax], scales[ax])
            factor = osz[ax] // sp[ax]
            if factor * sp[ax] == osz[ax] and np.array_equal(idx, np.arange(osz[ax]) // factor):
                y = y.repeat_interleave(factor, dim=2 + ax)
            else:
                y = y[(slice(None),) * (2 + ax) + (xp_of(x.array).asarray(idx),)]
        return y
    from ..tensor import Tensor

    ac = bool(align_corners)
    for ax in range(k):
        A = _linear_matrix(sp[ax], osz[ax], scales[ax], ac, x.dtype)
        At = Tensor._make(xp_of(x.array).asarray(np.ascontiguousarray(A.T)), False)
        dim = 2 + ax
        last = y.ndim - 1
        if dim != last:
            y = y.transpose(dim, last)
        y = y @ At
        if dim != last:
            y = y.transpose(dim, last)
    return y


def upsample(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Any:
    """Alias of :func:`interpolate` (PyTorch's deprecated name)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Any, size: Any = None, scale_factor: Any = None) -> Any:
    """``interpolate(input, size, scale_factor, mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Any, size: Any = None, scale_factor: Any = None) -> Any:
    """``interpolate(..., mode='bilinear', align_corners=True)`` (as PyTorch's alias)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# =====================================================================================
# im2col as an op (unfold / fold) and pixel shuffle
# =====================================================================================
def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Any:
    """Extract sliding blocks (im2col), as ``torch.nn.functional.unfold``.

    ``(N, C, H, W) -> (N, C·kh·kw, L)`` with ``L = OH·OW`` block positions; row
    ``c·kh·kw + p·kw + q`` holds ``x[n, c, i·sh + p·dh − ph, j·sw + q·dw − pw]``. Built from
    the strided window view, so its VJP is the col2im scatter (:func:`fold`).
    """
    op = "unfold"
    _check_tensor(input, "input", op)
    if input.ndim not in (3, 4):
        raise op_error(op, f"expected a 4-D input (N, C, H, W) or a 3-D unbatched input, got "
                       f"shape {_shape(input)}")
    x = input.reshape((1,) + _shape(input)) if input.ndim == 3 else input
    ks = _ntuple(kernel_size, 2, "kernel_size", op, 1)
    dil = _ntuple(dilation, 2, "dilation", op, 1)
    pad = _ntuple(padding, 2, "padding", op, 0)
    st = _ntuple(stride, 2, "stride", op, 1)
    N, C, H, W = _shape(x)
    eff = tuple(d * (kk - 1) + 1 for kk, d in zip(ks, dil))
    if eff[0] > H + 2 * pad[0] or eff[1] > W + 2 * pad[1]:
        raise op_error(op, f"kernel {ks} (dilation {dil}) is bigger than the padded input "
                       f"{(H + 2 * pad[0], W + 2 * pad[1])} (input {_shape(input)})")
    xp = x.pad_nd(((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    v = xp.unfold_windows(ks, st, dil)  # (N, C, OH, OW, kh, kw), a view
    L = v.shape[2] * v.shape[3]
    out = v.permute(0, 1, 4, 5, 2, 3).reshape(N, C * ks[0] * ks[1], L)
    return out.reshape(out.shape[1:]) if input.ndim == 3 else out


def fold(input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Any:
    """Sum sliding blocks back into an image (col2im), as ``torch.nn.functional.fold``.

    ``(N, C·kh·kw, L) -> (N, C, H, W)``: the transpose of :func:`unfold` (overlapping
    blocks add up). Computed as a grouped transposed convolution whose ``kh·kw`` filters
    per channel are one-hot kernels, so its VJP is :func:`unfold`.
    """
    from ..tensor import Tensor

    op = "fold"
    _check_tensor(input, "input", op)
    if input.ndim not in (2, 3):
        raise op_error(op, f"expected a 3-D input (N, C·kh·kw, L) or a 2-D unbatched input, "
                       f"got shape {_shape(input)}")
    x = input.reshape((1,) + _shape(input)) if input.ndim == 2 else input
    ks = _ntuple(kernel_size, 2, "kernel_size", op, 1)
    osz = _ntuple(output_size, 2, "output_size", op, 1)
    dil = _ntuple(dilation, 2, "dilation", op, 1)
    pad = _ntuple(padding, 2, "padding", op, 0)
    st = _ntuple(stride, 2, "stride", op, 1)
    K = ks[0] * ks[1]
    N, CK, L = _shape(x)
    if CK % K:
        raise op_error(op, f"input {_shape(input)}: dim 1 ({CK}) must be divisible by "
                       f"kh·kw = {K} (kernel_size {ks})")
    pads = tuple((p, p) for p in pad)
    blocks = _conv_out(osz, ks, st, pads, dil)
    if blocks[0] <= 0 or blocks[1] <= 0 or blocks[0] * blocks[1] != L:
        raise op_error(op, f"input {_shape(input)} has {L} blocks, but output_size {osz}, "
                       f"kernel_size {ks}, dilation {dil}, padding {pad}, stride {st} give "
                       f"{max(blocks[0], 0)}×{max(blocks[1], 0)} blocks")
    C = CK // K
    eye = np.eye(K, dtype=x.dtype).reshape(K, 1, ks[0], ks[1])
    w = Tensor._make(xp_of(x.array).asarray(np.tile(eye, (C, 1, 1, 1))), False)
    y = ConvTransposeNd.apply(x.reshape(N, CK, blocks[0], blocks[1]), w, None, (N, C) + osz,
                              st, pads, dil, C)
    return y.reshape(_shape(y)[1:]) if input.ndim == 2 else y


def pixel_shuffle(input: Any, upscale_factor: int) -> Any:
    """``(*, C·r², H, W) -> (*, C, H·r, W·r)`` (sub-pixel convolution), as PyTorch's:
    ``out[c, h·r + i, w·r + j] = in[c·r² + i·r + j, h, w]`` (a reshape and a permute)."""
    op = "pixel_shuffle"
    _check_tensor(input, "input", op)
    r = int(upscale_factor)
    if input.ndim < 3:
        raise op_error(op, f"expected at least 3 dimensions (*, C·r², H, W), got shape "
                       f"{_shape(input)}")
    *lead, C, H, W = _shape(input)
    if r < 1 or C % (r * r):
        raise op_error(op, f"channels {C} of input {_shape(input)} must be divisible by "
                       f"upscale_factor² = {r * r}")
    lead = tuple(lead)
    n = len(lead)
    x = input.reshape(lead + (C // (r * r), r, r, H, W))
    perm = tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2)
    return x.permute(*perm).reshape(lead + (C // (r * r), H * r, W * r))


def pixel_unshuffle(input: Any, downscale_factor: int) -> Any:
    """``(*, C, H·r, W·r) -> (*, C·r², H, W)``: the inverse of :func:`pixel_shuffle`."""
    op = "pixel_unshuffle"
    _check_tensor(input, "input", op)
    r = int(downscale_factor)
    if input.ndim < 3:
        raise op_error(op, f"expected at least 3 dimensions (*, C, H·r, W·r), got shape "
                       f"{_shape(input)}")
    *lead, C, H, W = _shape(input)
    if r < 1 or H % r or W % r:
        raise op_error(op, f"spatial size {(H, W)} of input {_shape(input)} must be divisible "
                       f"by downscale_factor {r}")
    lead = tuple(lead)
    n = len(lead)
    x = input.reshape(lead + (C, H // r, r, W // r, r))
    perm = tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3)
    return x.permute(*perm).reshape(lead + (C * r * r, H // r, W // r))
