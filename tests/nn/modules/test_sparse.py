"""Embedding and EmbeddingBag (glassgrad.nn.modules.sparse) against torch.nn's: outputs and
weight gradients (padding rows excluded), from_pretrained, repr, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import check_module

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_vs_torch(padding_idx):
    if padding_idx is not None:
        assert not nn.Embedding(6, 3, padding_idx=padding_idx).weight.detach().numpy()[padding_idx].any()
    check_module(lambda nn: nn.Embedding(6, 3, padding_idx=padding_idx),
                 inputs=[np.array([[0, 1, 5], [1, 1, 2]])], same_repr=True)
    pre = nn.Embedding.from_pretrained(gg.eye(3))
    assert not pre.weight.requires_grad and pre(gg.tensor([2])).tolist() == [[0.0, 0.0, 1.0]]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_vs_torch(mode):
    idx, off = np.array([1, 2, 4, 5, 4, 3, 2]), np.array([0, 3, 3])
    check_module(lambda nn: nn.EmbeddingBag(10, 3, mode=mode), inputs=[idx, off], same_repr=True)
    check_module(lambda nn: nn.EmbeddingBag(10, 3, mode=mode), inputs=[idx.reshape(-1, 1)])


def test_embedding_bag_module():
    gm = nn.EmbeddingBag(10, 3, mode="sum", padding_idx=2)
    assert np.all(gm.weight.detach().numpy()[2] == 0)
    check_module(lambda nn: nn.EmbeddingBag(10, 3, mode="sum", padding_idx=2),
                 inputs=[np.array([1, 2, 4, 5, 4, 3, 2]), np.array([0, 3, 3])], same_repr=True)
    w = np.random.default_rng(0).standard_normal((10, 3))
    pre = nn.EmbeddingBag.from_pretrained(gg.tensor(w), mode="max")
    assert not pre.weight.requires_grad and pre.mode == "max"
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.EmbeddingBag(3, 2, sparse=True)


@pytest.mark.parametrize("cls", ["Embedding", "EmbeddingBag"])
def test_embedding_table_errors_and_negative_padding_idx(cls):
    make = getattr(nn, cls)
    assert make(5, 2, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match=f"{cls}: padding_idx must be within num_embeddings"):
        make(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match=rf"{cls}: shape of _weight .* = \(5, 2\), got \(2, 2\)"):
        make(5, 2, _weight=gg.zeros(2, 2))
    w = make(5, 2, _weight=gg.ones(5, 2)).weight
    assert w.requires_grad and w.tolist() == [[1.0, 1.0]] * 5
