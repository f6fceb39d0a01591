"""LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm and CrossMapLRN2d
(glassgrad.nn.modules.normalization) against torch.nn's: outputs, input and parameter
gradients (float64 1e-10, float32 1e-5), repr."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import check_module

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("ns,kw", [((5,), {}), ((3, 5), {}), ((5,), {"elementwise_affine": False}),
                                   ((5,), {"bias": False})])
def test_layernorm_vs_torch(ns, kw):
    check_module(lambda nn: nn.LayerNorm(ns, **kw), shapes=[(2, 3, 5)], same_repr=True)


@pytest.mark.parametrize("shape,groups", [((3, 6), 2), ((2, 6, 5), 3), ((2, 4, 3, 3), 4)])
def test_groupnorm_vs_torch(shape, groups):
    check_module(lambda nn: nn.GroupNorm(groups, shape[1]), shapes=[shape], same_repr=True)


@pytest.mark.parametrize("ns,kw", [(5, {}), ((3, 5), {"eps": 1e-3}), (5, {"elementwise_affine": False})])
def test_rmsnorm_vs_torch(ns, kw):
    check_module(lambda nn: nn.RMSNorm(ns, **kw), shapes=[(2, 3, 5)], same_repr=True)


def test_local_response_norm_vs_torch():
    check_module(lambda nn: nn.LocalResponseNorm(3, 0.1), shapes=[(2, 4, 3, 3)], same_repr=True)


def test_cross_map_lrn2d_forward_matches_torch_and_gradient_is_exact():
    R = np.random.default_rng(0)
    for C, size in [(6, 3), (5, 2), (7, 5), (3, 5)]:
        a = R.standard_normal((2, C, 3, 3))
        gm, tm = nn.CrossMapLRN2d(size, 0.5, 0.7, 2), torch.nn.CrossMapLRN2d(size, 0.5, 0.7, 2)
        assert repr(gm) == repr(tm)
        np.testing.assert_allclose(gm(gg.tensor(a)).numpy(), tm(torch.tensor(a)).numpy(), rtol=1e-12)
        # PyTorch's hand-written backward of this legacy layer fails its own gradcheck (its
        # window differs from the forward's); glassgrad's gradient is the forward's exact one
        gg.gradcheck(gm, [gg.tensor(a, requires_grad=True)])
