"""PairwiseDistance and CosineSimilarity (glassgrad.nn.modules.distance) against torch.nn's;
the loss modules built on the same functions give the functions' values."""

from __future__ import annotations

import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.nn import functional as F
from oracle import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TNN = torch.nn


def test_distances_and_loss_modules():
    check_op(lambda a, b: F.pairwise_distance(a, b), shapes=[(4, 3), (4, 3)],
             torch_fn=lambda a, b: TF.pairwise_distance(a, b))
    check_op(lambda a, b: nn.PairwiseDistance(p=1.0, keepdim=True)(a, b), shapes=[(4, 3), (4, 3)],
             torch_fn=lambda a, b: TNN.PairwiseDistance(p=1.0, keepdim=True)(a, b))
    check_op(lambda a, b: nn.CosineSimilarity(dim=1)(a, b), shapes=[(4, 3), (4, 3)],
             torch_fn=lambda a, b: TNN.CosineSimilarity(dim=1)(a, b))
    a, b = gg.randn(5, 3), gg.randn(5, 3)
    y = gg.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    assert nn.MarginRankingLoss(0.2)(a[:, 0], b[:, 0], y).item() == pytest.approx(
        F.margin_ranking_loss(a[:, 0], b[:, 0], y, 0.2).item())
    assert nn.CosineEmbeddingLoss()(a, b, y).shape == ()
    assert nn.TripletMarginLoss(reduction="none")(a, b, a * 2).shape == (5,)
    assert nn.GaussianNLLLoss()(a, b, gg.ones(5, 3)).shape == ()
    assert nn.PoissonNLLLoss()(a, b.abs()).shape == ()
    assert nn.SoftMarginLoss()(a, a.sign()).shape == ()
    assert nn.MultiLabelSoftMarginLoss()(a, (b > 0).float()).shape == ()
    assert nn.HingeEmbeddingLoss()(a, a.sign()).shape == ()
