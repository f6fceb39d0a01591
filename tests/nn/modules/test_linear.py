"""nn.Linear, nn.Bilinear and nn.Identity (glassgrad.nn.modules.linear) against torch.nn's:
outputs, input and parameter gradients (float64 1e-10, float32 1e-5), repr."""

from __future__ import annotations

import pytest

from oracle import check_module

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape,bias", [((6, 5), True), ((2, 3, 5), True), ((6, 5), False), ((5,), True)])
def test_linear_vs_torch(shape, bias):
    check_module(lambda nn: nn.Linear(5, 4, bias=bias), shapes=[shape], same_repr=True)


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_vs_torch(bias):
    check_module(lambda nn: nn.Bilinear(3, 4, 5, bias=bias), shapes=[(6, 3), (6, 4)], same_repr=True)


def test_identity_vs_torch():
    check_module(lambda nn: nn.Identity(54, unused=1), shapes=[(2, 3)], same_repr=True)
