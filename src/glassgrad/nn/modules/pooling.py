"""Pooling layers: ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``, ``AdaptiveAvgPool1d/2d/3d``,
``AdaptiveMaxPool1d/2d`` (PyTorch's API). The kernels and their VJPs are in :mod:`glassgrad.ops.conv`.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from ..._docfill import fill_doc
from ...ops import pool as P
from ..module import Module

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
]


_window_doc = fill_doc({"window": "kernel_size : int or tuple\nstride : int or tuple, optional\n"
                                  "    Default: ``kernel_size``."})


class _WindowPoolNd(Module):
    """Shared by the max and average pooling layers: the window ``kernel_size``, its
    ``stride`` (default: ``kernel_size``) and ``padding``, then the layer's own options,
    stored as attributes in PyTorch's order. ``forward`` calls the pool op ``_op`` with
    the window and the options that ``_op_options`` reads (an ``attrgetter`` of their
    names, in the op's order)."""

    _k = 2
    _op: Any = None
    _op_options: Any = None

    def __init__(self, kernel_size: Any, stride: Any, padding: Any, **options: Any) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        for name, value in options.items():
            setattr(self, name, value)

    def forward(self, input: Any) -> Any:
        return type(self)._op(type(self).__name__, self._k, input, self.kernel_size, self.stride,
                              self.padding, *self._op_options(self))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _MaxPoolNd(_WindowPoolNd):
    _op = P._max_pool_nd
    _op_options = attrgetter("dilation", "ceil_mode", "return_indices")

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, dilation=dilation,
                         return_indices=return_indices, ceil_mode=ceil_mode)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over ``(N, C, L)``, see :class:`MaxPool2d`."""

    _k = 1


@_window_doc
class MaxPool2d(_MaxPoolNd):
    """2-D max pooling over ``(N, C, H, W)``, as ``torch.nn.MaxPool2d``. Output size per
    pooled dim: ``⌊(H + 2·padding − dilation·(kernel_size − 1) − 1)/stride⌋ + 1`` (⌈⌉ with
    ``ceil_mode``).

    Parameters
    ----------
    {window}
    padding : int or tuple
        ``-inf`` padding, at most half the kernel.
    dilation : int or tuple
    return_indices : bool
        Also return the flat arg-max indices (into ``H·W``).
    ceil_mode : bool
    """

    _k = 2


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over ``(N, C, D, H, W)``, see :class:`MaxPool2d`."""

    _k = 3


class _AvgPoolNd(_WindowPoolNd):
    _op = P._avg_pool_nd
    _op_options = attrgetter("ceil_mode", "count_include_pad", "divisor_override")

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad, divisor_override=divisor_override)



class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over ``(N, C, L)``, see :class:`AvgPool2d`."""

    _k = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad, None)
        # stored as 1-tuples, as torch.nn.AvgPool1d does (its repr shows kernel_size=(3,))
        one = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,)  # noqa: E731
        self.kernel_size, self.stride, self.padding = (one(self.kernel_size), one(self.stride),
                                                       one(self.padding))


@_window_doc
class AvgPool2d(_AvgPoolNd):
    """2-D average pooling over ``(N, C, H, W)``, as ``torch.nn.AvgPool2d``. Output size
    per pooled dim: ``⌊(H + 2·padding − kernel_size)/stride⌋ + 1`` (⌈⌉ with ``ceil_mode``).

    Parameters
    ----------
    {window}
    padding : int or tuple
        Zero padding, at most half the kernel.
    ceil_mode : bool
    count_include_pad : bool
        Whether the zero padding counts in the divisor (default True, as PyTorch).
    divisor_override : int, optional
    """

    _k = 2


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling over ``(N, C, D, H, W)``, see :class:`AvgPool2d`."""

    _k = 3


class _AdaptiveAvgPoolNd(Module):
    _k = 2

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Any:
        return P._adaptive_avg_pool_nd(type(self).__name__, self._k, input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of ``(N, C, L)`` to a fixed length, see :class:`AdaptiveAvgPool2d`."""

    _k = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling of ``(N, C, H, W)`` to ``output_size`` (int or tuple; ``None`` in a
    tuple keeps that size), with PyTorch's windows ``[⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉)``."""

    _k = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average pooling of ``(N, C, D, H, W)`` to ``output_size``."""

    _k = 3


class _AdaptiveMaxPoolNd(Module):
    _k = 2

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Any) -> Any:
        return P._adaptive_max_pool_nd(type(self).__name__, self._k, input, self.output_size,
                                       self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of ``(N, C, L)`` to a fixed length, see :class:`AdaptiveMaxPool2d`."""

    _k = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling of ``(N, C, H, W)`` to ``output_size`` with PyTorch's windows
    ``[⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉)``; ``return_indices`` also returns flat arg-max indices."""

    _k = 2


from .pooling_extra import (  # noqa: E402 - defined there, importable here as in PyTorch
    AdaptiveMaxPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)

__all__ += ["AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "MaxUnpool1d", "MaxUnpool2d",
            "MaxUnpool3d"]
