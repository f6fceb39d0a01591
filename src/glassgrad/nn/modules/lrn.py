"""Local response normalization layers (re-exported by :mod:`.normalization`, PyTorch's
path): ``LocalResponseNorm`` and the legacy ``CrossMapLRN2d``."""

from __future__ import annotations

from ...backend import np, xp_of
from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["LocalResponseNorm", "CrossMapLRN2d"]


class LocalResponseNorm(Module):
    """``b_c = a_c / (k + α/n · Σ_{c'} a_{c'}²)^β`` over ``n = size`` neighbouring
    channels, see :func:`~glassgrad.nn.functional.local_response_norm`."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _cross_map_window(C: int, size: int) -> np.ndarray:
    """The ``(C, C)`` 0/1 matrix ``M`` with ``scale_c = Σ_j M[c, j]·a_j²``: the channels PyTorch's
    legacy cross-map LRN sums for channel ``c`` (its running-window update, including its
    first/last-window bounds, applied to unit vectors)."""
    pre = int((size - 1) / 2 + 1)
    sq = np.eye(C)
    M = np.zeros((C, C))
    M[0] = sq[:min(pre, C)].sum(0)
    for c in range(1, C):
        M[c] = M[c - 1]
        if c < C - pre + 1:
            M[c] = M[c] + sq[c + pre - 1]
        if c > pre:
            M[c] = M[c] - sq[c - pre]
    return M


class CrossMapLRN2d(Module):
    """Cross-channel LRN of ``(N, C, H, W)``: ``y = x·(k + α/n · Σ_{window} x²)^{−β}``, with
    the channel windows of PyTorch's legacy ``CrossMapLRN2d`` (Torch7's ``SpatialCrossMapLRN``).
    The window sum is a product with a constant ``(C, C)`` 0/1 matrix, so the gradient is the
    graph's."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: expected a 4-D input (N, C, H, W), got shape "
                             f"{tuple(input.shape)}")
        C = input.shape[1]
        M = xp_of(input.array).asarray(_cross_map_window(C, self.size).astype(input.dtype))
        sq = (input * input).permute(0, 2, 3, 1)              # (N, H, W, C)
        s = (sq @ Tensor._make(M.T, False)).permute(0, 3, 1, 2)
        scale = s * (self.alpha / self.size) + self.k
        return input * scale ** (-self.beta)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
