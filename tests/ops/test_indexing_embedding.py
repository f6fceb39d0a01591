"""The embedding lookup (glassgrad.ops.indexing.Embedding) against PyTorch: values, gradients
(padding row excluded), double backward, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.nn import functional as F
from oracle import check_double_backward, check_op, rand_inputs

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# ------------------------------------------------------------------------------ embedding
def test_embedding_vs_torch():
    idx = np.array([[0, 2, 4], [2, 2, 1]], dtype=np.int64)
    check_op(lambda w, i: F.embedding(i, w), inputs=[rand_inputs([(5, 3)])[0], idx],
             torch_fn=lambda w, i: TF.embedding(i, w))
    check_op(lambda w, i: F.embedding(i, w, padding_idx=2), inputs=[rand_inputs([(5, 3)])[0], idx],
             torch_fn=lambda w, i: TF.embedding(i, w, padding_idx=2),
             gradcheck=False)  # the padding row gets no gradient by design (as PyTorch)
    check_double_backward(lambda w: (F.embedding(gg.tensor(idx), w, padding_idx=2) ** 2).sum(),
                          shapes=[(5, 3)],
                          torch_fn=lambda w: (TF.embedding(torch.tensor(idx), w, padding_idx=2)
                                              ** 2).sum())
    with pytest.raises(IndexError, match="num_embeddings=5"):
        F.embedding(gg.tensor([5]), gg.randn(5, 3))
    with pytest.raises(TypeError, match="integer"):
        F.embedding(gg.tensor([1.0]), gg.randn(5, 3))
