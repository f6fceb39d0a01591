"""Flatten and Unflatten (glassgrad.nn.modules.flatten) against torch.nn's; Identity passes its
input through."""

from __future__ import annotations

import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import check_module

torch = pytest.importorskip("torch")


def test_flatten_unflatten_identity():
    x = gg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (2, 30))(nn.Flatten()(x)).shape == (2, 2, 30)
    assert nn.Identity(54, unused=1)(x) is x


@pytest.mark.parametrize("make", [lambda nn: nn.Flatten(), lambda nn: nn.Flatten(0, 2),
                                  lambda nn: nn.Unflatten(1, (2, 6)),
                                  lambda nn: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (3, 2, 2)))])
def test_flatten_unflatten_vs_torch(make):
    check_module(make, shapes=[(2, 12, 1, 1)], same_repr=True)
