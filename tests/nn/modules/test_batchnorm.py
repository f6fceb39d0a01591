"""BatchNorm1d/2d/3d (glassgrad.nn.modules.batchnorm) against torch.nn's: outputs, gradients
and running statistics over training steps, then eval mode, for every option; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import check_module

torch = pytest.importorskip("torch")

OPTIONS = [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
           {"momentum": 0.5, "eps": 1e-3}]


@pytest.mark.parametrize("shape", [(8, 4), (5, 4, 3)])
@pytest.mark.parametrize("kw", OPTIONS)
def test_batchnorm1d_train_then_eval_vs_torch(shape, kw):
    # three training steps: running statistics follow torch's (unbiased var, momentum / average)
    gm, _ = check_module(lambda nn: nn.BatchNorm1d(4, **kw), shapes=[shape], modes=("train", "eval"),
                         steps=3, same_repr=True)
    if kw.get("track_running_stats", True):
        assert int(gm.num_batches_tracked.item()) == 3


@pytest.mark.parametrize("kw", OPTIONS)
def test_batchnorm2d_train_eval_matches_torch(kw):
    check_module(lambda nn: nn.BatchNorm2d(3, **kw), shapes=[(4, 3, 5, 6)], modes=("train", "eval"),
                 steps=3, same_repr=True)


@pytest.mark.parametrize("kw", OPTIONS[:3])
def test_batchnorm3d_train_eval_matches_torch(kw):
    check_module(lambda nn: nn.BatchNorm3d(3, **kw), shapes=[(2, 3, 2, 3, 4)], modes=("train", "eval"),
                 steps=2, same_repr=True)


def test_batchnorm1d_input_checks():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input, got 4D"):
        bn(gg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): input of shape \(2, 4\) has 4 "
                                         r"channels"):
        bn(gg.randn(2, 4))


def test_batchnorm2d_float32_and_errors():
    bn = nn.BatchNorm2d(4)
    x = gg.randn(8, 4, 5, 5, requires_grad=True)
    y = bn(x)
    assert y.dtype == gg.float32 and bn.running_mean.dtype == gg.float32
    m = y.detach().numpy().mean(axis=(0, 2, 3))
    np.testing.assert_allclose(m, 0, atol=1e-5)
    y.sum().backward()
    assert x.grad.dtype == gg.float32
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input, got 3D input"):
        bn(gg.randn(4, 5, 5))
    with pytest.raises(ValueError, match=r"has 3 channels"):
        bn(gg.randn(2, 3, 5, 5))
