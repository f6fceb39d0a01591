"""PixelShuffle and PixelUnshuffle (glassgrad.nn.modules.pixelshuffle) against torch.nn's."""

from __future__ import annotations

import pytest

from oracle import check_module

torch = pytest.importorskip("torch")


def test_pixel_shuffle_matches_torch():
    check_module(lambda nn: nn.PixelShuffle(2), shapes=[(2, 8, 3, 3)], same_repr=True)


def test_pixel_unshuffle_matches_torch():
    check_module(lambda nn: nn.PixelUnshuffle(2), shapes=[(2, 2, 4, 6)], same_repr=True)
