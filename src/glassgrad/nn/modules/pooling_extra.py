"""More pooling layers (re-exported by :mod:`.pooling`, PyTorch's path):
``AdaptiveMaxPool3d``, ``LPPool1d/2d/3d``, ``MaxUnpool1d/2d/3d``."""

from __future__ import annotations

from typing import Any

from ...ops import conv as C
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from .pooling import _AdaptiveMaxPoolNd
from .utils import _table_class

__all__ = ["AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "MaxUnpool1d", "MaxUnpool2d",
           "MaxUnpool3d"]


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling of ``(N, C, D, H, W)`` to ``output_size``, see ``AdaptiveMaxPool2d``."""

    _k = 3


class _LPPoolNd(Module):
    _k = 2

    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        fn = (F.lp_pool1d, F.lp_pool2d, F.lp_pool3d)[self._k - 1]
        return fn(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


# the three differ in the number of pooled dims only (see .utils._table_class)
_LP_DOC = "Power-average pooling ``(Σ_window xᵖ)^{{1/p}}`` over ``{}``."
LPPool1d = _table_class("LPPool1d", _LPPoolNd, _LP_DOC.format("(N, C, L)"), {"_k": 1})
LPPool2d = _table_class("LPPool2d", _LPPoolNd, _LP_DOC.format("(N, C, H, W)"), {"_k": 2})
LPPool3d = _table_class("LPPool3d", _LPPoolNd, _LP_DOC.format("(N, C, D, H, W)"), {"_k": 3})


class _MaxUnpoolNd(Module):
    _k = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        name, k = type(self).__name__, self._k
        self.kernel_size = C._ntuple(kernel_size, k, "kernel_size", name, 1)
        self.stride = C._ntuple(stride if stride is not None else kernel_size, k, "stride",
                                name, 1)
        self.padding = C._ntuple(padding, k, "padding", name, 0)

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        fn = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self._k - 1]
        return fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool1d``, see :func:`~glassgrad.nn.functional.max_unpool2d`."""

    _k = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool2d``: values back at their arg-max positions, zeros
    elsewhere, see :func:`~glassgrad.nn.functional.max_unpool2d`."""

    _k = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool3d``, see :func:`~glassgrad.nn.functional.max_unpool2d`."""

    _k = 3
