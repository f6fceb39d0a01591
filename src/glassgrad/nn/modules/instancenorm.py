"""``torch.nn.modules.instancenorm``'s names (the classes live in :mod:`.normalization`)."""

from .normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, _InstanceNorm  # noqa: F401 - base class

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]
