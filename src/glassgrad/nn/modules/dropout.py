"""The dropout layers (PyTorch's API): ``Dropout`` (inverted dropout in training, identity
in evaluation), the channel dropouts ``Dropout1d/2d/3d`` and the alpha dropouts for SELU
networks. The kernels are in :mod:`glassgrad.ops.dropout`."""

from __future__ import annotations

from typing import Any

from ...ops import dropout as D
from ...ops._util import op_error
from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """What the dropout layers share: the drop probability ``p`` and ``inplace``."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise op_error(type(self).__name__, f"dropout probability has to be between 0 and "
                           f"1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training and scale the survivors by
    ``1/(1−p)`` (so evaluation needs no rescaling); identity after ``model.eval()``.
    Seedable through ``gg.manual_seed``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)


class _ChannelDropout(_DropoutNd):
    _k = 2

    def forward(self, input: Any) -> Any:
        # the warnings point at the line that called the module (_dropout_nd <- forward <-
        # Module.__call__ <- caller)
        return D._dropout_nd(f"dropout{self._k}d", self._k, input, self.p, self.training,
                             self.inplace, None, stacklevel=4)


class Dropout1d(_ChannelDropout):
    """Zero whole channels of ``(N, C, L)`` or of an unbatched ``(C, L)`` (whole rows), see
    :class:`Dropout2d`; other ranks are a RuntimeError, as in PyTorch."""

    _k = 1


class Dropout2d(_ChannelDropout):
    """Zero each channel of ``(N, C, H, W)`` with probability ``p`` during training
    (kept channels are scaled by ``1/(1 − p)``); the identity in ``eval()`` mode.

    Other ranks behave as in PyTorch 2.13 (see :func:`glassgrad.nn.functional.dropout2d`):
    a 3-D input is read as ``(N, C, L)`` with a UserWarning, other ranks than 3 and 4 warn
    that they are deprecated.

    Parameters
    ----------
    p : float
    inplace : bool
    """

    _k = 2


class Dropout3d(_ChannelDropout):
    """Zero whole channels of ``(N, C, D, H, W)`` or of an unbatched ``(C, D, H, W)``, see
    :class:`Dropout2d`; other ranks warn (as PyTorch) and are read as unbatched ``(C, …)``."""

    _k = 3


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks (keeps mean 0 and variance 1), see
    :func:`~glassgrad.nn.functional.alpha_dropout`; identity after ``model.eval()``."""

    _fn = staticmethod(F.alpha_dropout)

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(AlphaDropout):
    """Alpha dropout of whole channels, see
    :func:`~glassgrad.nn.functional.feature_alpha_dropout`."""

    _fn = staticmethod(F.feature_alpha_dropout)

