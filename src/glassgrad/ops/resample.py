"""Resampling and rearranging of spatial axes: ``interpolate``/``upsample`` (nearest and
(bi/tri)linear), ``unfold``/``fold`` (im2col and col2im as functions), ``pixel_shuffle``/
``pixel_unshuffle`` and the padding modes (``reflect``, ``replicate``, ``circular``).

These are compositions of recorded ops (gathers, matrix products with interpolation
matrices, reshapes and permutes, the window view), so their gradients come from those
ops' VJPs.

Derivations: ``docs/derivations/conv.md`` (the window view: ``docs/derivations/movement.md``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..backend import np, xp_of
from ._util import op_error
from .conv import ConvTransposeNd, _check_tensor, _conv_out, _ntuple, _shape
from .pool import _adaptive_avg_pool_nd

__all__ = [
    "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "unfold", "fold",
    "pixel_shuffle", "pixel_unshuffle",
]


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
    ac = bool(align_corners)
    for ax in range(k):
        A = _linear_matrix(sp[ax], osz[ax], scales[ax], ac, x.dtype)
        At = x.new_tensor(np.ascontiguousarray(A.T))
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
def _block_args(op: str, input: Any, ndim: int, layout: str, kernel_size: Any, dilation: Any,
                padding: Any, stride: Any) -> tuple:
    """The checked arguments of unfold/fold: ``input`` (an ``ndim``-D ``layout`` tensor, or
    one without its batch axis) with a batch axis of 1 where it had none, and the 2-D
    ``(kernel_size, dilation, padding, stride)`` as pairs."""
    _check_tensor(input, "input", op)
    if input.ndim not in (ndim, ndim - 1):
        raise op_error(op, f"expected a {ndim}-D input {layout} or a {ndim - 1}-D unbatched input, "
                       f"got shape {_shape(input)}")
    x = input.reshape((1,) + _shape(input)) if input.ndim == ndim - 1 else input
    return (x, _ntuple(kernel_size, 2, "kernel_size", op, 1), _ntuple(dilation, 2, "dilation", op, 1),
            _ntuple(padding, 2, "padding", op, 0), _ntuple(stride, 2, "stride", op, 1))


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Any:
    """Extract sliding blocks (im2col), as ``torch.nn.functional.unfold``.

    ``(N, C, H, W) -> (N, C·kh·kw, L)`` with ``L = OH·OW`` block positions; row
    ``c·kh·kw + p·kw + q`` holds ``x[n, c, i·sh + p·dh − ph, j·sw + q·dw − pw]``. Built from
    the strided window view, so its VJP is the col2im scatter (:func:`fold`).
    """
    op = "unfold"
    x, ks, dil, pad, st = _block_args(op, input, 4, "(N, C, H, W)", kernel_size, dilation, padding, stride)
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
    op = "fold"
    x, ks, dil, pad, st = _block_args(op, input, 3, "(N, C·kh·kw, L)", kernel_size, dilation, padding,
                                      stride)
    osz = _ntuple(output_size, 2, "output_size", op, 1)
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
    w = x.new_tensor(np.tile(eye, (C, 1, 1, 1)))
    y = ConvTransposeNd.apply(x.reshape(N, CK, blocks[0], blocks[1]), w, None, (N, C) + osz,
                              st, pads, dil, C)
    return y.reshape(_shape(y)[1:]) if input.ndim == 2 else y

def _pixel_args(op: str, input: Any, factor: int, layout: str) -> tuple:
    """``(r, lead, C, H, W)`` of pixel (un)shuffle: ``input`` of at least 3 dims (``layout``)
    checked, ``lead`` its leading axes."""
    _check_tensor(input, "input", op)
    r = int(factor)
    if input.ndim < 3:
        raise op_error(op, f"expected at least 3 dimensions {layout}, got shape {_shape(input)}")
    *lead, C, H, W = _shape(input)
    return r, tuple(lead), C, H, W

def _regroup(x: Any, lead: tuple, split: tuple, perm: tuple, out: tuple) -> Any:
    """``x`` reshaped to ``lead + split``, the five ``split`` axes permuted by ``perm``, and
    reshaped to ``lead + out`` (the leading axes kept in place)."""
    n = len(lead)
    return x.reshape(lead + split).permute(*range(n), *(n + p for p in perm)).reshape(lead + out)

def pixel_shuffle(input: Any, upscale_factor: int) -> Any:
    """``(*, C·r², H, W) -> (*, C, H·r, W·r)`` (sub-pixel convolution), as PyTorch's:
    ``out[c, h·r + i, w·r + j] = in[c·r² + i·r + j, h, w]`` (a reshape and a permute)."""
    op = "pixel_shuffle"
    r, lead, C, H, W = _pixel_args(op, input, upscale_factor, "(*, C·r², H, W)")
    if r < 1 or C % (r * r):
        raise op_error(op, f"channels {C} of input {_shape(input)} must be divisible by "
                       f"upscale_factor² = {r * r}")
    c = C // (r * r)
    return _regroup(input, lead, (c, r, r, H, W), (0, 3, 1, 4, 2), (c, H * r, W * r))

def pixel_unshuffle(input: Any, downscale_factor: int) -> Any:
    """``(*, C, H·r, W·r) -> (*, C·r², H, W)``: the inverse of :func:`pixel_shuffle`."""
    op = "pixel_unshuffle"
    r, lead, C, H, W = _pixel_args(op, input, downscale_factor, "(*, C, H·r, W·r)")
    if r < 1 or H % r or W % r:
        raise op_error(op, f"spatial size {(H, W)} of input {_shape(input)} must be divisible "
                       f"by downscale_factor {r}")
    h, w = H // r, W // r
    return _regroup(input, lead, (C, h, r, w, r), (0, 2, 4, 1, 3), (C * r * r, h, w))
