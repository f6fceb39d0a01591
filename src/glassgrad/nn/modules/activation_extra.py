"""More activation modules (re-exported by :mod:`.activation`, PyTorch's path):
``RReLU``, ``Softmax2d``."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["RReLU", "Softmax2d"]


class RReLU(Module):
    """Randomized leaky ReLU: negative slopes ``~ U(lower, upper)`` per element in training,
    ``(lower + upper)/2`` in evaluation, see :func:`~glassgrad.nn.functional.rrelu`."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace
                                                             else "")


class Softmax2d(Module):
    """Softmax over the channels at every position of ``(N, C, H, W)`` or ``(C, H, W)``."""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                             f"got shape {tuple(input.shape)}")
        return F.softmax(input, -3)
