"""Lazy modules: layers whose input size (``in_channels``, ``num_features``) is taken from
the first input, as PyTorch's ``LazyConv2d``, ``LazyBatchNorm1d`` ... (``LazyLinear`` is in
:mod:`.linear`).

A lazy module is built with :class:`~glassgrad.nn.UninitializedParameter` (and
``UninitializedBuffer``) placeholders. Its first call reads the size from the input,
materializes the placeholders *in place* (an optimizer built before the first call
already holds them and sees the real parameters), initializes them as the eager layer
would, and turns the module into that layer (``type(m)`` becomes ``Conv2d``, ...,
PyTorch's ``cls_to_become``). The classes are importable from PyTorch's paths
(``nn.modules.conv``, ``nn.modules.batchnorm``).

Not supported: loading a ``state_dict`` into a module that has not run yet (run one
forward first); the lazy ``InstanceNorm`` variants (their PyTorch default
``track_running_stats=True`` is not implemented by glassgrad's ``InstanceNorm``).
"""

from __future__ import annotations

import itertools
from typing import Any

from ...tensor import Tensor
from ..parameter import UninitializedBuffer, UninitializedParameter, UninitializedTensorMixin
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .normalization import BatchNorm1d
from .spatial import BatchNorm2d, BatchNorm3d

__all__ = ["LazyModuleMixin", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d"]


class LazyModuleMixin:
    """Shape inference on the first call: ``initialize_parameters(*inputs)`` materializes
    the placeholders, then the module becomes ``cls_to_become``."""

    cls_to_become: type | None = None

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer is still a placeholder."""
        return any(isinstance(t, UninitializedTensorMixin) for t in itertools.chain(
            self._parameters.values(), self._buffers.values()))

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__}.initialize_parameters")

    def _infer_parameters(self, *args: Any, **kwargs: Any) -> None:
        self.initialize_parameters(*args, **kwargs)
        if self.has_uninitialized_params():
            raise RuntimeError(f"{type(self).__name__}: the module still has uninitialized "
                               "parameters after its first call")
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """First call: infer the sizes and become ``cls_to_become``, then run its forward."""
        self._infer_parameters(*args, **kwargs)
        return self.forward(*args, **kwargs)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params():
            super().reset_parameters()  # type: ignore[misc]


def _placeholder_param(dtype: Any) -> UninitializedParameter:
    return UninitializedParameter(dtype=dtype)


class _LazyConvMixin(LazyModuleMixin):
    _k = 2
    _transposed = False

    def _lazy_init(self, out_channels: int, bias: bool, dtype: Any) -> None:
        self.out_channels = out_channels
        self.weight = _placeholder_param(dtype)
        if bias:
            self.bias = _placeholder_param(dtype)

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        if not self.has_uninitialized_params():
            return
        k, name = self._k, type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (k + 1, k + 2):
            raise ValueError(f"{name}: expected a {k + 2}-D (N, C, *spatial) or {k + 1}-D "
                             f"(C, *spatial) input to infer in_channels, got "
                             f"{tuple(getattr(input, 'shape', ()))}")
        c = input.shape[0] if input.ndim == k + 1 else input.shape[1]
        if c % self.groups:
            raise ValueError(f"{name}: in_channels {c} (from the input of shape "
                             f"{tuple(input.shape)}) must be divisible by groups {self.groups}")
        self.in_channels = c
        if self._transposed:
            shape = (c, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, c // self.groups) + self.kernel_size
        self.weight.materialize(shape)
        if isinstance(self.bias, UninitializedTensorMixin):
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


def _lazy_conv(base: type, k: int) -> type:
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        base.__init__(self, 0, 0, kernel_size, stride, padding, dilation, groups, False,
                      padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, dtype)

    doc = (f"A :class:`{base.__name__}` whose ``in_channels`` is inferred from the first input "
           f"(``input.shape[1]``); it then becomes a ``{base.__name__}``.")
    return type(f"Lazy{base.__name__}", (_LazyConvMixin, base),
                {"__init__": __init__, "cls_to_become": base, "_k": k, "__doc__": doc,
                 "__module__": __name__})


def _lazy_conv_transpose(base: type, k: int) -> type:
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        base.__init__(self, 0, 0, kernel_size, stride, padding, output_padding, groups, False,
                      dilation, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, dtype)

    doc = (f"A :class:`{base.__name__}` whose ``in_channels`` is inferred from the first input "
           f"(``input.shape[1]``); it then becomes a ``{base.__name__}``.")
    return type(f"Lazy{base.__name__}", (_LazyConvMixin, base),
                {"__init__": __init__, "cls_to_become": base, "_k": k, "_transposed": True,
                 "__doc__": doc, "__module__": __name__})


LazyConv1d = _lazy_conv(Conv1d, 1)
LazyConv2d = _lazy_conv(Conv2d, 2)
LazyConv3d = _lazy_conv(Conv3d, 3)
LazyConvTranspose1d = _lazy_conv_transpose(ConvTranspose1d, 1)
LazyConvTranspose2d = _lazy_conv_transpose(ConvTranspose2d, 2)
LazyConvTranspose3d = _lazy_conv_transpose(ConvTranspose3d, 3)


class _LazyNormMixin(LazyModuleMixin):
    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        if not self.has_uninitialized_params():
            return
        if not isinstance(input, Tensor) or input.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected an input (N, C, ...) to infer "
                             f"num_features, got {tuple(getattr(input, 'shape', ()))}")
        c = input.shape[1]
        self.num_features = c
        for t in itertools.chain(self._parameters.values(), self._buffers.values()):
            if isinstance(t, UninitializedTensorMixin):
                t.materialize((c,))
        self.reset_parameters()


def _lazy_batch_norm(base: type) -> type:
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        base.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype,
                      bias=bias)
        if affine:
            self.weight = _placeholder_param(dtype)
            if bias:
                self.bias = _placeholder_param(dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)

    doc = (f"A :class:`{base.__name__}` whose ``num_features`` is inferred from the first "
           f"input (``input.shape[1]``); it then becomes a ``{base.__name__}``.")
    return type(f"Lazy{base.__name__}", (_LazyNormMixin, base),
                {"__init__": __init__, "cls_to_become": base, "__doc__": doc,
                 "__module__": __name__})


LazyBatchNorm1d = _lazy_batch_norm(BatchNorm1d)
LazyBatchNorm2d = _lazy_batch_norm(BatchNorm2d)
LazyBatchNorm3d = _lazy_batch_norm(BatchNorm3d)
