"""``Dropout``: inverted dropout in training, identity in evaluation (the channel dropouts
``Dropout1d/2d/3d`` live in :mod:`.spatial` and are importable from here, as in PyTorch)."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from .spatial import Dropout1d, Dropout2d, Dropout3d

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class Dropout(Module):
    """Zero each element with probability ``p`` in training and scale the survivors by
    ``1/(1−p)`` (so evaluation needs no rescaling); identity after ``model.eval()``.
    Seedable through ``gg.manual_seed``."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class AlphaDropout(Module):
    """Alpha dropout for SELU networks (keeps mean 0 and variance 1), see
    :func:`~glassgrad.nn.functional.alpha_dropout`; identity after ``model.eval()``."""

    _fn = staticmethod(F.alpha_dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class FeatureAlphaDropout(AlphaDropout):
    """Alpha dropout of whole channels, see
    :func:`~glassgrad.nn.functional.feature_alpha_dropout`."""

    _fn = staticmethod(F.feature_alpha_dropout)


__all__ += ["AlphaDropout", "FeatureAlphaDropout"]
