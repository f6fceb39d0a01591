"""``torch.nn.modules.distance``'s names (the classes live in :mod:`.loss`)."""

from .loss import CosineSimilarity, PairwiseDistance

__all__ = ["PairwiseDistance", "CosineSimilarity"]
