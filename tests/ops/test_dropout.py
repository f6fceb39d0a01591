"""Dropout ops (glassgrad.ops.dropout): the masks, their scaling and gradient, seeding.
(Dropout1d/2d/3d for every rank against PyTorch: tests/nn/modules/test_dropout.py.)"""

from __future__ import annotations

import numpy as np

import glassgrad as gg
import glassgrad.nn.functional as F


def test_dropout2d_zeroes_whole_channels():
    gg.manual_seed(0)
    x = gg.ones(16, 32, 5, 4, requires_grad=True)
    y = F.dropout2d(x, p=0.25)
    a = y.detach().numpy()
    per_channel = a.reshape(16, 32, -1)
    # every channel is all-zero or all 1/(1-p)
    assert np.all((per_channel == 0).all(-1) | np.isclose(per_channel, 1 / 0.75).all(-1))
    frac = (per_channel[..., 0] == 0).mean()
    assert 0.15 < frac < 0.35
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), a)  # d(x·m)/dx = m
    assert F.dropout2d(x, p=0.5, training=False) is x
    assert y.dtype == gg.float32
    g1, g2 = gg.Generator(5), gg.Generator(5)
    np.testing.assert_array_equal(F.dropout2d(x, 0.5, generator=g1).detach().numpy(),
                                  F.dropout2d(x, 0.5, generator=g2).detach().numpy())
