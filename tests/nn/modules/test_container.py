"""Containers (glassgrad.nn.modules.container) against torch.nn's: a Sequential of every
kind of layer gives torch's outputs, gradients and running statistics, train then eval."""

from __future__ import annotations

import pytest

from oracle import check_module

torch = pytest.importorskip("torch")


def test_mlp_with_everything_vs_torch():
    check_module(lambda nn: nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU(),
                                          nn.Linear(8, 8, bias=False),  # its grad is 0 before BN
                                          nn.BatchNorm1d(8), nn.Tanh(),
                                          nn.Linear(8, 3), nn.LogSoftmax(dim=1)),
                 shapes=[(10, 6)], modes=("train", "eval"), steps=2, same_repr=True)
