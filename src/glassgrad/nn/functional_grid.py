"""Spatial transformers: ``affine_grid`` and ``grid_sample`` (PyTorch's
``torch.nn.functional`` names, re-exported by :mod:`glassgrad.nn.functional`).

Both are compositions of glassgrad's ops, so the gradients with respect to the input,
the grid and ``theta`` are the graph's:

* ``affine_grid``: a constant base grid of normalized coordinates ``[x, y, (z,) 1]``
  times ``θᵀ``.
* ``grid_sample`` (bilinear/trilinear): the normalized grid is mapped to pixel
  coordinates ``u`` (``align_corners``: ``(g + 1)/2·(n − 1)``, else ``((g + 1)·n − 1)/2``),
  padded (``border``: clamp, ``reflection``: fold back), and each output is
  ``Σ_corners Π_j w_j · x[corner]`` with ``w_j = frac(u_j)`` or ``1 − frac(u_j)``; corners
  outside the input contribute 0. The corner values are gathers of ``x`` (gradient: the
  scatter-add), the weights are differentiable in the grid. ``nearest`` rounds half to
  even (as PyTorch); it is piecewise constant in the grid, which gets no gradient
  (PyTorch: a gradient of zeros).
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

from ..backend import np, xp_of
from ..ops._util import op_error
from ..tensor import Tensor
from ..tensor_methods._common import where

__all__ = ["affine_grid", "grid_sample"]


def _base_coords(n: int, align_corners: bool) -> np.ndarray:
    if n <= 1:
        return np.zeros(max(n, 0))
    c = np.linspace(-1.0, 1.0, n)
    return c if align_corners else c * (n - 1) / n


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """Sampling grid of an affine map: ``grid[n, h, w] = θ_n · [x_w, y_h, 1]`` (2-D,
    ``θ: (N, 2, 3)``, ``size = (N, C, H, W)``, grid ``(N, H, W, 2)``) or ``θ_n · [x, y, z, 1]``
    (3-D, ``θ: (N, 3, 4)``, ``size = (N, C, D, H, W)``, grid ``(N, D, H, W, 3)``), with
    ``x, y, z`` in ``[−1, 1]`` (pixel centres unless ``align_corners``)."""
    op = "affine_grid"
    if not isinstance(theta, Tensor) or theta.dtype.kind != "f":
        raise TypeError(f"{op}: theta must be a floating Tensor, got "
                        f"{getattr(theta, 'dtype', type(theta).__name__)}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise op_error(op, f"size must be (N, C, H, W) or (N, C, D, H, W), got {size}")
    k = len(size) - 2
    if tuple(theta.shape) != (size[0], k, k + 1):
        raise op_error(op, f"expected theta of shape ({size[0]}, {k}, {k + 1}) for size {size}, "
                       f"got {tuple(theta.shape)}")
    if min(size[2:]) <= 0:
        raise op_error(op, f"size {size} must be positive")
    ac = bool(align_corners)
    axes = [_base_coords(n, ac) for n in size[2:]]        # D?, H, W order
    mesh = np.meshgrid(*axes, indexing="ij")               # each (*spatial)
    comps = [mesh[k - 1 - j] for j in range(k)]            # x (W), y (H), z (D)
    base = np.stack(comps + [np.ones(size[2:])], -1).reshape(-1, k + 1)
    b = Tensor._make(xp_of(theta.array).asarray(base.astype(theta.dtype)), False)
    grid = b @ theta.transpose(1, 2)                       # (N, L, k)
    return grid.reshape((size[0],) + size[2:] + (k,))


def _unnormalize(g: Tensor, n: int, align_corners: bool) -> Tensor:
    return (g + 1) * ((n - 1) / 2) if align_corners else ((g + 1) * n - 1) / 2


def _reflect(u: Tensor, twice_low: int, twice_high: int) -> Tensor:
    if twice_low == twice_high:
        return u * 0.0
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    d = (u - lo).abs()
    flips = np.floor(d.array / span)
    extra = d - Tensor._make(flips * span, False)
    even = (flips % 2) == 0
    return where(even, extra + lo, (extra * -1.0) + (span + lo))


def _pad_coord(u: Tensor, n: int, padding_mode: str, align_corners: bool) -> Tensor:
    if padding_mode == "border":
        return u.clamp(0, n - 1)
    if padding_mode == "reflection":
        u = _reflect(u, 0, 2 * (n - 1)) if align_corners else _reflect(u, -1, 2 * n - 1)
        return u.clamp(0, n - 1)
    return u


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` at the normalized positions ``grid``, as PyTorch's.

    Parameters
    ----------
    input : Tensor
        ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
    grid : Tensor
        ``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)`` of ``(x, y[, z])`` in
        ``[−1, 1]`` (``−1``: the left/top edge, or its pixel centre with ``align_corners``).
    mode : {'bilinear', 'nearest'}
        ``bilinear`` is trilinear for 5-D input. (``bicubic`` is not implemented.)
    padding_mode : {'zeros', 'border', 'reflection'}
    align_corners : bool, optional
        Default False.

    Returns
    -------
    Tensor
        ``(N, C, H_out, W_out)`` or ``(N, C, D_out, H_out, W_out)``.
    """
    op = "grid_sample"
    for name, t in (("input", input), ("grid", grid)):
        if not isinstance(t, Tensor) or t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating Tensor, got "
                            f"{getattr(t, 'dtype', type(t).__name__)}")
    if mode == "bicubic":
        raise NotImplementedError(f"{op}: mode='bicubic' is not implemented (use 'bilinear' or "
                                  "'nearest')")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"{op}: mode must be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{op}: padding_mode must be 'zeros', 'border' or 'reflection', got "
                         f"{padding_mode!r}")
    if input.ndim not in (4, 5):
        raise op_error(op, f"expected a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, got "
                       f"shape {tuple(input.shape)}")
    k = input.ndim - 2
    if grid.ndim != k + 2 or grid.shape[-1] != k or grid.shape[0] != input.shape[0]:
        raise op_error(op, f"grid of shape {tuple(grid.shape)} does not fit input of shape "
                       f"{tuple(input.shape)}: expected (N, *out, {k}) with N = "
                       f"{input.shape[0]}")
    if grid.dtype != input.dtype:
        raise TypeError(f"{op}: grid dtype {grid.dtype} must equal the input dtype "
                        f"{input.dtype}")
    ac = bool(align_corners)
    N, C = input.shape[:2]
    sp = tuple(input.shape[2:])
    out_sp = tuple(grid.shape[1:-1])
    L = int(np.prod(out_sp))
    xp = xp_of(input.array)
    # coordinate along input spatial axis j (D, H, W order) is grid component k − 1 − j
    coords = [_pad_coord(_unnormalize(grid[..., k - 1 - j], sp[j], ac), sp[j], padding_mode, ac)
              for j in range(k)]
    flat_x = input.reshape(N, C, -1)
    strides = [int(np.prod(sp[j + 1:])) for j in range(k)]

    def corner(pos: list) -> tuple[Tensor, Any]:
        valid = xp.ones(pos[0].shape, dtype=bool)
        flat = xp.zeros(pos[0].shape, dtype=np.int64)
        for j, p in enumerate(pos):
            valid &= (p >= 0) & (p < sp[j])
            flat += xp.clip(p, 0, sp[j] - 1).astype(np.int64) * strides[j]
        idx = xp.broadcast_to(flat.reshape(N, 1, L), (N, C, L))
        vals = flat_x.gather(2, Tensor._make(xp.ascontiguousarray(idx), False))
        return vals.reshape((N, C) + out_sp), valid

    if mode == "nearest":
        pos = [xp.rint(c.array) for c in coords]
        vals, valid = corner(pos)
        return vals * Tensor._make(valid[:, None].astype(input.dtype), False)
    lo = [xp.floor(c.array) for c in coords]
    frac = [c - Tensor._make(f, False) for c, f in zip(coords, lo)]
    out = None
    for bits in itertools.product((0, 1), repeat=k):
        vals, valid = corner([f + b for f, b in zip(lo, bits)])
        w = None
        for j, b in enumerate(bits):
            wj = frac[j] if b else 1 - frac[j]
            w = wj if w is None else w * wj
        w = w * Tensor._make(valid.astype(input.dtype), False)
        term = vals * w.unsqueeze(1)
        out = term if out is None else out + term
    return out
