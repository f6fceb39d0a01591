"""Normalization layers: ``BatchNorm1d`` (and the ``_BatchNorm`` base that BatchNorm2d
builds on), ``LayerNorm``. Both are fused ops (:mod:`glassgrad.ops.norm`)."""

from __future__ import annotations

from typing import Any, Sequence

from ... import dtypes as _dt
from ...backend import np
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter

__all__ = ["BatchNorm1d", "LayerNorm", "GroupNorm", "RMSNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d"]


def _affine_parameters(mod: Module, shape: Any, affine: bool, bias: bool, dtype: Any) -> Any:
    """Register a normalization layer's ``weight`` (ones) and ``bias`` (zeros) of ``shape``,
    or ``None`` for each: both without ``affine``, the bias without ``bias``. Returns the
    resolved dtype (for the layer's buffers)."""
    d = _dt.to_dtype(dtype)
    if affine:
        mod.weight = Parameter(np.ones(shape, dtype=d))
    else:
        mod.register_parameter("weight", None)
    if affine and bias:
        mod.bias = Parameter(np.zeros(shape, dtype=d))
    else:
        mod.register_parameter("bias", None)
    return d


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: ``y = γ·(x − μ)/√(σ² + eps) + β`` per channel.

    In training it uses the batch statistics (over all axes but the channel axis 1) and
    updates the buffers ``running_mean``/``running_var`` (unbiased variance) with
    ``momentum`` (``None``: cumulative average over ``num_batches_tracked``); in
    evaluation it uses the running statistics.
    """

    _expected_dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        d = _affine_parameters(self, num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=d)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=d)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in self._expected_dims:
            raise ValueError(f"{type(self).__name__}: expected "
                             f"{' or '.join(f'{n}D' for n in self._expected_dims)} input, got "
                             f"{input.ndim}D input of shape {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): input of shape "
                             f"{tuple(input.shape)} has {input.shape[1]} channels (dim 1), "
                             f"expected {self.num_features}")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        # the counter is incremented by the op itself (so that gg.capture replays it)
        count = (self.training and self.track_running_stats
                 and self.num_batches_tracked is not None)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch, self.momentum, self.eps,
                            num_batches_tracked=self.num_batches_tracked if count else None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)`` inputs, per channel ``C``."""

    _expected_dims = (2, 3)


class LayerNorm(Module):
    """Normalize each sample over its last ``len(normalized_shape)`` dims, then scale by
    ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``, init 1 and 0).
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = tuple(int(s) for s in ns)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalize each sample over groups of ``num_channels/num_groups`` channels (and the
    spatial positions), then scale/shift per channel (``weight``/``bias`` of shape
    ``(num_channels,)``, init 1 and 0)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = (num_groups, num_channels,
                                                                     eps, affine)
        _affine_parameters(self, num_channels, affine, bias, dtype)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input (N, {self.num_channels}, ...), got "
                             f"{tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """``x / √(mean(x²) + eps) · weight`` over the last ``len(normalized_shape)`` dims
    (no centering, no bias); ``eps=None`` is the dtype's machine epsilon."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = tuple(int(v) for v in ns)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=_dt.to_dtype(dtype)))
        else:
            self.register_parameter("weight", None)

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _InstanceNorm(Module):
    """Normalize each (sample, channel) over its spatial positions; ``affine`` adds a
    per-channel scale and shift. Running statistics are not supported."""

    _spatial = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if track_running_stats:
            raise NotImplementedError(f"{type(self).__name__}: track_running_stats=True is not "
                                      "supported (each sample uses its own statistics)")
        self.num_features, self.eps, self.momentum, self.affine = (num_features, eps, momentum,
                                                                   affine)
        self.track_running_stats = track_running_stats
        _affine_parameters(self, num_features, affine, bias, dtype)

    def forward(self, input: Tensor) -> Tensor:
        nd = self._spatial + 2
        if input.ndim not in (nd - 1, nd):
            raise ValueError(f"{type(self).__name__}: expected a {nd}-D (N, C, *spatial) or "
                             f"{nd - 1}-D (C, *spatial) input, got shape {tuple(input.shape)}")
        batched = input.ndim == nd
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels, "
                             f"got input of shape {tuple(input.shape)}")
        y = F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        return y if batched else y.squeeze(0)

    extra_repr = _BatchNorm.extra_repr  # the same options, shown alike (as PyTorch)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of ``(N, C, L)``."""

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of ``(N, C, H, W)`` (style transfer's normalization)."""

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of ``(N, C, D, H, W)``."""

    _spatial = 3


from .lrn import CrossMapLRN2d, LocalResponseNorm  # noqa: E402 - importable here as in PyTorch

__all__ += ["LocalResponseNorm", "CrossMapLRN2d"]
