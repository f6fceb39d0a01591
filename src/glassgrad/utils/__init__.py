"""``glassgrad.utils``: PyTorch's ``torch.utils`` names; :mod:`glassgrad.utils.data` for now."""

from . import data

__all__ = ["data"]
