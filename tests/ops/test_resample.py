"""Resampling (glassgrad.ops.resample: interpolate, unfold/fold, pixel_shuffle) against
PyTorch: values, gradients, gradcheck, double backward and errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from oracle import check_double_backward, check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _raises(match, fn, exc=(ValueError, TypeError, NotImplementedError)):
    with pytest.raises(exc, match=match):
        fn()


INTERP_CASES = [
    dict(scale_factor=2),
    dict(scale_factor=(2, 3)),
    dict(size=(5, 13)),
    dict(size=(3, 4)),  # downsampling
    dict(scale_factor=1.7),
    dict(scale_factor=0.6),
    dict(size=(9, 7), mode="bilinear"),
    dict(scale_factor=2, mode="bilinear"),
    dict(scale_factor=1.5, mode="bilinear", align_corners=True),
    dict(size=(4, 3), mode="bilinear", align_corners=False),
    dict(size=(1, 1), mode="bilinear", align_corners=True),
    dict(size=(4, 3), mode="area"),
    dict(scale_factor=1.5, mode="area"),
]


@pytest.mark.parametrize("kw", INTERP_CASES)
def test_interpolate_matches_torch(kw):
    check_op(lambda x: F.interpolate(x, **kw), [(2, 3, 6, 5)],
             torch_fn=lambda x: TF.interpolate(x, **kw))


def test_interpolate_1d_3d_and_double_backward():
    check_op(lambda x: F.interpolate(x, scale_factor=2.5, mode="linear"), [(2, 3, 5)],
             torch_fn=lambda x: TF.interpolate(x, scale_factor=2.5, mode="linear"))
    check_op(lambda x: F.interpolate(x, size=(3, 5, 4)), [(1, 2, 2, 3, 4)],
             torch_fn=lambda x: TF.interpolate(x, size=(3, 5, 4)))
    check_op(lambda x: F.interpolate(x, size=(3, 5, 4), mode="trilinear"), [(1, 2, 2, 3, 4)],
             torch_fn=lambda x: TF.interpolate(x, size=(3, 5, 4), mode="trilinear"))
    check_double_backward(lambda x: F.interpolate(x, scale_factor=1.5).tanh(), [(1, 2, 3, 4)],
                          torch_fn=lambda x: TF.interpolate(x, scale_factor=1.5).tanh())


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(3, 2), stride=2, padding=1),
                                dict(kernel_size=2, dilation=2, stride=(1, 2))])
def test_unfold_fold_match_torch(kw):
    check_op(lambda x: F.unfold(x, **kw), [(2, 3, 6, 7)], torch_fn=lambda x: TF.unfold(x, **kw))
    L = TF.unfold(torch.zeros(2, 3, 6, 7), **kw).shape[-1]
    K = int(np.prod(kw["kernel_size"])) if isinstance(kw["kernel_size"], tuple) \
        else kw["kernel_size"] ** 2
    check_op(lambda c: F.fold(c, (6, 7), **kw), [(2, 3 * K, L)],
             torch_fn=lambda c: TF.fold(c, (6, 7), **kw))


def test_fold_double_backward_and_errors():
    check_double_backward(lambda c: F.fold(c, (4, 5), 2).tanh(), [(1, 8, 12)],
                          torch_fn=lambda c: TF.fold(c, (4, 5), 2).tanh())
    _raises(r"fold: input \(1, 7, 12\): dim 1 \(7\) must be divisible by kh·kw = 4",
            lambda: F.fold(gg.randn(1, 7, 12), (4, 5), 2))
    _raises(r"fold: input \(1, 8, 11\) has 11 blocks", lambda: F.fold(gg.randn(1, 8, 11), (4, 5), 2))


def test_pixel_shuffle_matches_torch():
    check_op(lambda x: F.pixel_shuffle(x, 2), [(2, 8, 3, 4)],
             torch_fn=lambda x: TF.pixel_shuffle(x, 2))
    check_op(lambda x: F.pixel_unshuffle(x, 3), [(2, 2, 6, 3)],
             torch_fn=lambda x: TF.pixel_unshuffle(x, 3))
    _raises(r"pixel_shuffle: channels 6 .* divisible by upscale_factor² = 4",
            lambda: F.pixel_shuffle(gg.randn(1, 6, 2, 2), 2))
