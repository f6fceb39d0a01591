"""ChannelShuffle (glassgrad.nn.modules.channelshuffle) against torch.nn's."""

from __future__ import annotations

import pytest

from oracle import check_module

torch = pytest.importorskip("torch")


def test_channel_shuffle_matches_torch():
    check_module(lambda nn: nn.ChannelShuffle(2), shapes=[(2, 4, 3, 3)], same_repr=True)
