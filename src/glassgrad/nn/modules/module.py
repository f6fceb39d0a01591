"""``torch.nn.modules.module``'s name ``Module`` (defined in :mod:`glassgrad.nn.module`)."""

from ..module import Module

__all__ = ["Module"]
