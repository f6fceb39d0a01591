"""``torch.nn.modules.pixelshuffle``'s names (the classes live in :mod:`.spatial`)."""

from .spatial import PixelShuffle, PixelUnshuffle

__all__ = ["PixelShuffle", "PixelUnshuffle"]
