"""Convolution: ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d``, their ops (``ConvNd``,
``ConvTransposeNd``, ``ConvWeightGrad``) and the argument checks, padding and window view
that pooling (``pool.py``), channel dropout (``dropout.py``) and resampling
(``resample.py``) share.

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

Products: a first layer's ``cols`` is short and very wide (``C·kh·kw = 25`` rows, ~50,000
columns for LeNet-5 at batch 64), which OpenBLAS handles poorly in one call; such products
run in column blocks that stay in the L2 cache (``_gemm_wide``, ``_gemm_nt``), and weight
gradients are computed as ``(cols @ δᵀ)ᵀ``, the orientation OpenBLAS runs faster.

Derivations: ``docs/derivations/conv.md``.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, Sequence

from ..autograd.function import Function
from ..backend import np, xp_of
from . import kernels as K
from ._util import batch_last_padded, op_error

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
]


# =====================================================================================
# helpers: argument normalisation, padding, the window view, col2im
# =====================================================================================
def _is_tensor(x: Any) -> bool:
    return hasattr(type(x), "grad_fn")  # (the class: see _util.is_tensor)


def _ntuple(v: Any, k: int, name: str, op: str, minimum: int = 0) -> tuple:
    """``3 -> (3, 3)``; checks length and range, with an error naming the op."""
    if type(v) is int and v >= minimum:   # the common forms first (called on every op call)
        return (v,) * k
    if type(v) is tuple and len(v) == k and all(type(a) is int and a >= minimum for a in v):
        return v
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


@functools.lru_cache(maxsize=512)
def _offset_slices(ks: tuple, stride: tuple, dilation: tuple, out_sp: tuple) -> tuple:
    """For every kernel offset ``(p, q, ...)``: the strided slice of the (padded) input
    that the offset touches across all output positions, as ``((offs, slices), ...)``
    (cached: a network asks for the same few geometries on every call)."""
    return tuple((offs, tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                              for o, d, n, s in zip(offs, dilation, out_sp, stride)))
                 for offs in itertools.product(*[range(kk) for kk in ks]))


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
    t = _first_to_last(a)
    return xp.ascontiguousarray(t).reshape(groups, a.shape[1] // groups, -1)


def _first_to_last(a: Any) -> Any:
    """The view with axis 0 moved last (``moveaxis(a, 0, -1)``, without its argument
    normalisation: a few µs a call, which single images feel)."""
    return a.transpose(tuple(range(1, a.ndim)) + (0,))


def _last_to_first(a: Any) -> Any:
    """The view with the last axis moved first (``moveaxis(a, -1, 0)``)."""
    n = a.ndim
    return a.transpose((n - 1,) + tuple(range(n - 1)))


def _batch_first(a: Any, shape: tuple) -> Any:
    """``(C, *sp, N) -> (N, C, *sp)`` as a view: the memory stays batch-last. NumPy's
    element-wise ops keep the memory order of their input, so the next convolution
    usually finds its input already batch-last and skips a transposing copy."""
    return _last_to_first(a.reshape(shape[1:] + shape[:1]))


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
    cols = K.im2col2d(x, ks, stride, pads, dilation, out_sp)   # compiled: one pass, no padded copy
    if cols is not None:
        return cols.reshape(groups, -1, cols.shape[-3] * cols.shape[-2] * cols.shape[-1])
    xp = xp_of(x)
    N, C = x.shape[:2]
    xpd = batch_last_padded(x, pads)
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


_CHUNK_BYTES = 512 * 1024  # a column block of the short-and-wide operand that stays in L2


def _chunk(b: Any) -> int:
    """Columns per block for products with a short (``K`` rows) and very wide ``b``, or 0
    for one product. With ``K`` of a few dozen rows (a first convolution: ``C·kh·kw = 25``)
    and ~50,000 columns, OpenBLAS streams the whole operand through memory (and starts
    threads for it); in blocks of 4,096 columns the same products run 2–4× faster (one
    thread, measured on the LeNet shapes)."""
    k, n = b.shape[-2], b.shape[-1]
    cols = 1 << max(0, (_CHUNK_BYTES // max(1, k * b.itemsize)).bit_length() - 1)
    cols = min(cols, 4096)
    return cols if cols >= 2048 and n >= 2 * cols else 0


def _gemm_wide(a: Any, b: Any) -> Any:
    """``a @ b`` for ``a: (G, M, K)`` and a wide ``b: (G, K, N)``, in column blocks of ``b``
    when :func:`_chunk` says so (each block written straight into the result)."""
    cs = _chunk(b) if xp_of(b) is np else 0
    if not cs:
        return _gemm(a, b)
    out = np.empty(a.shape[:-1] + b.shape[-1:], dtype=np.result_type(a, b))
    for g in range(a.shape[0]):
        for i in range(0, b.shape[-1], cs):
            np.matmul(a[g], b[g, :, i:i + cs], out=out[g, :, i:i + cs])
    return out


def _gemm_nt(d: Any, c: Any) -> Any:
    """``d @ cᵀ`` for ``d: (G, M, N)``, ``c: (G, K, N)`` with a long ``N`` (the sum over
    the batch and the output positions of a weight gradient), computed as ``(c @ dᵀ)ᵀ``:
    OpenBLAS runs this orientation ~1.7× faster on these shapes (``d @ cᵀ`` with a
    transposed C-ordered ``c`` is its slow case); in column blocks summed when
    :func:`_chunk` says so."""
    if xp_of(c) is not np:
        return _gemm(d, c.swapaxes(-1, -2))
    cs = _chunk(c)
    out = np.empty(d.shape[:-1] + c.shape[-2:-1], dtype=np.result_type(d, c))
    for g in range(d.shape[0]):
        if not cs:
            out[g] = (c[g] @ d[g].T).T
            continue
        acc = c[g, :, :cs] @ d[g, :, :cs].T
        for i in range(cs, c.shape[-1], cs):
            acc += c[g, :, i:i + cs] @ d[g, :, i:i + cs].T
        out[g] = acc.T
    return out


def _conv_fwd(x: Any, w: Any, stride: tuple, pads: tuple, dilation: tuple, groups: int,
              out_sp: tuple, need_cols: bool = True) -> tuple:
    """``y = W @ cols`` -> ``(y: (N, O, *out_sp), cols)``; with ``need_cols`` False (no
    weight gradient to come) possibly by direct loops instead (``kernels.conv2d_direct``:
    large inputs to few output channels), and then ``cols`` is None."""
    N = x.shape[0]
    O = w.shape[0]
    if not need_cols and groups == 1:
        y = K.conv2d_direct(x, w, stride, pads, dilation, out_sp)
        if y is not None:
            return _batch_first(y, (N, O) + tuple(out_sp)), None
    cols = _im2col(x, w.shape[2:], stride, pads, dilation, groups, out_sp)
    y = _gemm_wide(w.reshape(groups, O // groups, -1), cols)  # (G, O/G, L·N)
    return _batch_first(y, (N, O) + tuple(out_sp)), cols


def _conv_wgrad(cols: Any, gT: Any, w_shape: tuple) -> Any:
    """``dW = δ @ colsᵀ`` with ``δ`` batch-last ``(G, O/G, L·N)``: one GEMM that also sums
    over the batch."""
    return _gemm_nt(gT, cols).reshape(w_shape)


def _conv_igrad(gT: Any, w: Any, x_shape: tuple, stride: tuple, pads: tuple, dilation: tuple,
                groups: int, out_sp: tuple) -> Any:
    """``dx = col2im(Wᵀ @ δ)`` (the transposed convolution of ``δ``, batch-last ``δ``)."""
    xp = xp_of(gT)
    N, C = x_shape[:2]
    O = w.shape[0]
    ks = tuple(w.shape[2:])
    sp = tuple(x_shape[2:])
    padded = (C,) + tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads)) + (N,)
    if O == groups and C == groups:
        # depthwise (one filter per channel): Wᵀ @ δ is an outer product per channel, so
        # add w[c, p, q] · δ[c] straight into each offset's slice (no dcols matrix)
        dxp = xp.zeros(padded, dtype=gT.dtype)
        gv = gT.reshape((C,) + tuple(out_sp) + (N,))
        w2 = w.reshape(C, -1)
        bshape = (C,) + (1,) * (len(ks) + 1)
        for i, (_, sl) in enumerate(_offset_slices(ks, stride, dilation, out_sp)):
            dxp[(slice(None),) + sl] += w2[:, i].reshape(bshape) * gv
    else:
        dcols = _gemm(w.reshape(groups, O // groups, -1).swapaxes(-1, -2), gT)
        dcols = dcols.reshape((C,) + ks + tuple(out_sp) + (N,))
        dx = K.col2im2d(dcols, x_shape, stride, pads, dilation)   # compiled, same sums
        if dx is not None:
            return _last_to_first(dx)
        dxp = xp.zeros(padded, dtype=gT.dtype)
        for offs, sl in _offset_slices(ks, stride, dilation, out_sp):
            dxp[(slice(None),) + sl] += dcols[(slice(None),) + offs]
    if any(lo or hi for lo, hi in pads):
        dxp = dxp[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(sp, pads))]
    return _last_to_first(dxp)


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
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups, out_sp):
        y, cols = _conv_fwd(x, w, stride, pads, dilation, groups, out_sp,
                            need_cols=ctx.needs_input_grad[1])
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
    fresh_grads = True

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
