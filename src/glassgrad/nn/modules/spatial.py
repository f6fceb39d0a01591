"""Layers for images and other spatial data: ``BatchNorm2d/3d``, ``Dropout1d/2d/3d``
(whole channels) and ``Upsample`` (PyTorch's API).

``BatchNorm2d`` shares ``BatchNorm1d``'s module code and the fused batch-norm node of
:mod:`glassgrad.ops.nn` (statistics per channel over ``N, H, W``; its VJP is derived
there); dropout and upsampling are in :mod:`glassgrad.ops.conv`.
"""

from __future__ import annotations

from typing import Any

from ...ops import conv as C
from ...ops._util import op_error
from ..module import Module
from .normalization import _BatchNorm

__all__ = [
    "BatchNorm2d", "BatchNorm3d", "Dropout1d", "Dropout2d", "Dropout3d", "Upsample",
    "UpsamplingNearest2d", "UpsamplingBilinear2d",
]


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` per channel, as ``torch.nn.BatchNorm2d``.

    Training: ``y = γ·(x − μ_B)/√(σ²_B + eps) + β`` with the batch statistics over
    ``N, H, W`` (biased variance), and ``running_mean/var ← (1−m)·running + m·batch``
    (unbiased variance; ``momentum=None``: cumulative average). Evaluation: the running
    statistics.

    Parameters
    ----------
    num_features : int
        ``C``.
    eps : float
    momentum : float or None
    affine : bool
        Learnable ``weight`` (γ, ones) and ``bias`` (β, zeros).
    track_running_stats : bool
    """

    _expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of ``(N, C, D, H, W)`` per channel, see :class:`BatchNorm2d`."""

    _expected_dims = (5,)


class _DropoutNd(Module):
    _k = 2

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise op_error(type(self).__name__, f"dropout probability has to be between 0 and "
                           f"1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return C._dropout_nd(type(self).__name__, self._k, input, self.p, self.training,
                             self.inplace, None)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)``, see :class:`Dropout2d`."""

    _k = 1


class Dropout2d(_DropoutNd):
    """Zero each channel of ``(N, C, H, W)`` with probability ``p`` during training
    (kept channels are scaled by ``1/(1 − p)``); the identity in ``eval()`` mode.

    Parameters
    ----------
    p : float
    inplace : bool
    """

    _k = 2


class Dropout3d(_DropoutNd):
    """Zero whole channels of ``(N, C, D, H, W)``, see :class:`Dropout2d`."""

    _k = 3


class Upsample(Module):
    """Resize ``(N, C, *spatial)``, as ``torch.nn.Upsample``.

    Parameters
    ----------
    size : int or tuple, optional
    scale_factor : float or tuple, optional
    mode : {'nearest', 'linear', 'bilinear', 'trilinear'}
    align_corners : bool, optional
    recompute_scale_factor : bool, optional
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Any) -> Any:
        return C.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` (PyTorch's alias)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)``."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
