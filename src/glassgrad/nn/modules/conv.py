"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (PyTorch's API,
weight layouts and default initialisation).

The maths (im2col + one matrix product, and the hand-written VJPs) lives in
:mod:`glassgrad.ops.conv`; derivations in ``docs/derivations/conv.md``.
"""

from __future__ import annotations

import math
from typing import Any

from ...creation import empty
from ...ops import conv as C
from ...ops import resample as RS
from ...ops._util import op_error
from .. import init
from ..module import Module
from ..parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


class _ConvNd(Module):
    """Shared constructor, initialisation and repr of the convolution layers."""

    _k = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", output_padding: Any = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        k = self._k
        if groups <= 0:
            raise op_error(name, f"groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise op_error(name, f"in_channels {in_channels} must be divisible by groups "
                           f"{groups}")
        if out_channels % groups:
            raise op_error(name, f"out_channels {out_channels} must be divisible by groups "
                           f"{groups}")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise op_error(name, f"padding_mode must be 'zeros', 'reflect', 'replicate' or "
                           f"'circular', got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise op_error(name, f"padding must be an int, a tuple, 'same' or 'valid', "
                               f"got {padding!r}")
            if padding == "same" and any(s != 1 for s in C._ntuple(stride, k, "stride", name)):
                raise op_error(name, "padding='same' is not supported for strided convolutions")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = C._ntuple(kernel_size, k, "kernel_size", name, 1)
        self.stride = C._ntuple(stride, k, "stride", name, 1)
        self.padding = padding if isinstance(padding, str) else C._ntuple(padding, k, "padding",
                                                                           name)
        self.dilation = C._ntuple(dilation, k, "dilation", name, 1)
        self.output_padding = C._ntuple(output_padding, k, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty((out_channels,), dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: ``kaiming_uniform_(w, a=√5)`` (i.e. ``U(±1/√fan_in)``) and
        ``b ~ U(±1/√fan_in)``."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
            f"stride={self.stride}"
        k = self._k
        if self.padding != (0,) * k:
            s += f", padding={self.padding if isinstance(self.padding, str) else self.padding}"
        if self.dilation != (1,) * k:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * k:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _conv_forward(self, input: Any, weight: Any, bias: Any) -> Any:
        fn = (C.conv1d, C.conv2d, C.conv3d)[self._k - 1]
        if self.padding_mode == "zeros":
            return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)
        k = self._k
        if isinstance(self.padding, str):
            if self.padding == "valid":
                pads = (0,) * k
            else:  # 'same': total d·(k−1), as for zeros
                totals = [d * (kk - 1) for d, kk in zip(self.dilation, self.kernel_size)]
                if any(t % 2 for t in totals):
                    raise op_error(type(self).__name__, f"padding='same' with padding_mode="
                                   f"{self.padding_mode!r} needs an even total padding, got "
                                   f"{tuple(totals)}")
                pads = tuple(t // 2 for t in totals)
        else:
            pads = self.padding
        x = RS.pad_spatial(input, pads, self.padding_mode, type(self).__name__)
        return fn(x, weight, bias, self.stride, 0, self.dilation, self.groups)

    def forward(self, input: Any) -> Any:
        return self._conv_forward(input, self.weight, self.bias)


class _Conv(_ConvNd):
    """``Conv1d/2d/3d``: PyTorch's constructor (no ``output_padding``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)`` (or ``(C_in, L)``), see :class:`Conv2d`.

    ``weight: (out_channels, in_channels/groups, k)``, ``bias: (out_channels,)``.
    """

    _k = 1


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) over ``(N, C_in, H, W)``, as ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple
    stride, dilation : int or tuple
    padding : int, tuple, 'same' or 'valid'
    groups : int
        ``groups == in_channels``: depthwise convolution.
    bias : bool
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    device, dtype : optional

    Attributes
    ----------
    weight : Parameter
        ``(out_channels, in_channels/groups, kh, kw)``, ``U(±1/√fan_in)`` with
        ``fan_in = in_channels/groups·kh·kw``.
    bias : Parameter or None
        ``(out_channels,)``, ``U(±1/√fan_in)``.
    """

    _k = 2


class Conv3d(_Conv):
    """3-D convolution over ``(N, C_in, D, H, W)``, see :class:`Conv2d`."""

    _k = 3


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise op_error(type(self).__name__, f"only 'zeros' padding_mode is supported, got "
                           f"{padding_mode!r}")
        if isinstance(padding, str):
            raise op_error(type(self).__name__, f"padding must be an int or a tuple, got "
                           f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device, dtype)

    def forward(self, input: Any, output_size: Any = None) -> Any:
        """``output_size`` (optional) picks the output size among the ones the stride
        allows (PyTorch's way of resolving the ambiguity)."""
        k = self._k
        op = type(self).__name__
        return C._conv_transpose_nd(op, k, input, self.weight, self.bias, self.stride,
                                    self.padding, self.output_padding, self.groups,
                                    self.dilation, output_size)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over ``(N, C_in, L)``, see :class:`ConvTranspose2d`."""

    _k = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution ("deconvolution"), as ``torch.nn.ConvTranspose2d``.

    ``OH = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding, output_padding, dilation : int or tuple
    groups : int
    bias : bool

    Attributes
    ----------
    weight : Parameter
        ``(in_channels, out_channels/groups, kh, kw)`` (PyTorch's transposed layout).
    bias : Parameter or None
        ``(out_channels,)``.
    """

    _k = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution, see :class:`ConvTranspose2d`."""

    _k = 3


# the lazy variants live in .lazy (which imports this module); importable here as in PyTorch
_LAZY = ("LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
         "LazyConvTranspose3d")
__all__ += list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import lazy

        return getattr(lazy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
