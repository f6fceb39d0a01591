"""``torch.nn.modules.batchnorm``'s names (the classes live in :mod:`.normalization`,
:mod:`.spatial` and :mod:`.lazy`)."""

from .lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d
from .normalization import BatchNorm1d, _BatchNorm  # noqa: F401 - _BatchNorm: the base class, as in PyTorch
from .spatial import BatchNorm2d, BatchNorm3d

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d"]
