"""Layers for images and other spatial data: ``BatchNorm2d/3d``, ``Upsample``,
``Unfold``/``Fold`` (im2col/col2im) and ``PixelShuffle``/``PixelUnshuffle`` (PyTorch's API);
the channel dropouts ``Dropout1d/2d/3d`` are defined in :mod:`.dropout` and importable from
here too.

``BatchNorm2d`` shares ``BatchNorm1d``'s module code and the fused batch-norm node of
:mod:`glassgrad.ops.norm` (statistics per channel over ``N, H, W``; its VJP is derived
there); upsampling is in :mod:`glassgrad.ops.resample`.
"""

from __future__ import annotations

from typing import Any

from ...ops import resample as RS
from ..module import Module
from .dropout import Dropout1d, Dropout2d, Dropout3d
from .normalization import _BatchNorm

__all__ = [
    "BatchNorm2d", "BatchNorm3d", "Dropout1d", "Dropout2d", "Dropout3d", "Upsample",
    "UpsamplingNearest2d", "UpsamplingBilinear2d", "Unfold", "Fold", "PixelShuffle",
    "PixelUnshuffle",
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
        return RS.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
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


class Unfold(Module):
    """Extract sliding blocks: ``(N, C, H, W) -> (N, C·kh·kw, L)`` (see
    :func:`glassgrad.nn.functional.unfold`)."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Any) -> Any:
        return RS.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Sum sliding blocks into an image: ``(N, C·kh·kw, L) -> (N, C, *output_size)`` (see
    :func:`glassgrad.nn.functional.fold`)."""

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Any) -> Any:
        return RS.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class PixelShuffle(Module):
    """``(*, C·r², H, W) -> (*, C, H·r, W·r)`` (see :func:`glassgrad.nn.functional.pixel_shuffle`)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Any) -> Any:
        return RS.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H·r, W·r) -> (*, C·r², H, W)``, the inverse of :class:`PixelShuffle`."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Any) -> Any:
        return RS.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
