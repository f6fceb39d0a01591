"""``Embedding``: a lookup table of learnable vectors (fused op ``ops.indexing.Embedding``)."""

from __future__ import annotations

from typing import Any

from ... import dtypes as _dt
from ...backend import np
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter

__all__ = ["Embedding"]


def _embedding_table(mod: Module, name: str, padding_idx: int | None, _weight: Any, dtype: Any,
                     requires_grad: bool = True) -> None:
    """Shared by ``Embedding`` and ``EmbeddingBag`` (after ``num_embeddings`` and
    ``embedding_dim`` are stored): check ``padding_idx`` and store it non-negative, then make
    ``weight``, ``N(0, 1)`` with the padding row zeroed (``reset_parameters``) or
    ``_weight`` when given (its shape checked)."""
    n, d = mod.num_embeddings, mod.embedding_dim
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"{name}: padding_idx must be within num_embeddings")
        padding_idx %= n
    mod.padding_idx = padding_idx
    if _weight is None:
        mod.weight = Parameter(np.empty((n, d), dtype=_dt.to_dtype(dtype)), requires_grad)
        mod.reset_parameters()
    else:
        if tuple(_weight.shape) != (n, d):
            raise ValueError(f"{name}: shape of _weight does not match (num_embeddings, "
                             f"embedding_dim) = {(n, d)}, got {tuple(_weight.shape)}")
        mod.weight = Parameter(_weight.array if isinstance(_weight, Tensor) else _weight,
                               requires_grad)


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim)(idx) = weight[idx]``.

    Parameters
    ----------
    num_embeddings, embedding_dim : int
    padding_idx : int, optional
        That row is initialized to zeros and receives no gradient.
    _weight : Tensor, optional
        Initial weight (else ``N(0, 1)`` as PyTorch).
    dtype : dtype, optional
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq and sparse are "
                                      "not supported by glassgrad")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        _embedding_table(self, "Embedding", padding_idx, _weight, dtype, not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, **kwargs: Any) -> Embedding:
        """An Embedding holding ``embeddings`` (rows = vectors), frozen by default."""
        if embeddings.ndim != 2:
            raise ValueError("Embeddings parameter is expected to be 2-dimensional")
        n, d = embeddings.shape
        return cls(n, d, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze, **kwargs)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s


from .embedding_bag import EmbeddingBag  # noqa: E402 - importable here as in PyTorch

__all__ += ["EmbeddingBag"]
