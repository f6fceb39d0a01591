"""``torch.nn.modules.fold``'s names (the classes live in :mod:`.spatial`)."""

from .spatial import Fold, Unfold

__all__ = ["Fold", "Unfold"]
