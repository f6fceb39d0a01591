"""``torch.nn.modules.batchnorm``'s names (the classes live in :mod:`.normalization` and
:mod:`.spatial`)."""

from .normalization import BatchNorm1d, _BatchNorm  # noqa: F401 - _BatchNorm: the base class, as in PyTorch
from .spatial import BatchNorm2d, BatchNorm3d

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
