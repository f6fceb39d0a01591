"""Upsample, UpsamplingNearest2d and UpsamplingBilinear2d (glassgrad.nn.modules.upsampling)
against torch.nn's: outputs and input gradients (float64 1e-10, float32 1e-5), repr."""

from __future__ import annotations

import pytest

from glassgrad import nn
from oracle import check_module

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("make", [
    lambda nn: nn.Upsample(scale_factor=2, mode="nearest"),
    lambda nn: nn.Upsample(size=(7, 9), mode="bilinear", align_corners=False),
    lambda nn: nn.UpsamplingNearest2d(scale_factor=2),
    lambda nn: nn.UpsamplingBilinear2d(size=(6, 7)),
])
def test_upsampling_module_matches_torch(make):
    check_module(make, shapes=[(2, 3, 4, 5)], same_repr=True)


def test_upsample_repr():
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
