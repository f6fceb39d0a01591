"""Pooling modules (glassgrad.nn.modules.pooling: max, average, adaptive, LP, unpooling) against
torch.nn's: outputs and input gradients (float64 1e-10, float32 1e-5), repr, round trips."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import check_module

torch = pytest.importorskip("torch")

CASES = [
    ("MaxPool1d", (2,), {}, (2, 3, 9)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 7, 8)),
    ("MaxPool3d", (2,), dict(stride=(1, 2, 2), dilation=(1, 1, 2)), (1, 2, 4, 5, 6)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1), (2, 3, 9)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 7, 8)),
    ("AvgPool3d", (2,), dict(stride=1, ceil_mode=True), (1, 2, 3, 4, 5)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveAvgPool2d", ((3, 5),), {}, (2, 3, 7, 8)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 7, 8)),
    ("AdaptiveAvgPool3d", ((2, 1, 3),), {}, (1, 2, 3, 4, 5)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveMaxPool2d", ((3, 5),), {}, (2, 3, 7, 8)),
    ("AdaptiveMaxPool3d", ((1, 2, 2),), {}, (2, 4, 3, 4, 5)),
    ("LPPool1d", (3, 2), dict(stride=1), (2, 4, 6)),
    ("LPPool2d", (2, 2), {}, (2, 4, 3, 3)),
    ("LPPool3d", (1.5, 2), {}, (1, 2, 4, 4, 4)),
]


@pytest.mark.parametrize("name,args,kw,shape", CASES)
def test_pooling_module_matches_torch(name, args, kw, shape):
    # LP pooling takes powers of the inputs: positive inputs keep it differentiable.
    # AvgPool1d's repr shows ints where torch's shows 1-tuples ("kernel_size=(3,)")
    check_module(lambda nn: getattr(nn, name)(*args, **kw), shapes=[shape],
                 positive=name.startswith("LP"), same_repr=name != "AvgPool1d")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_max_unpool_layers(k):
    shape = (2, 3) + (4, 6, 4)[:k]
    a = np.random.default_rng(0).standard_normal(shape)
    ty, ti = getattr(torch.nn, f"MaxPool{k}d")(2, return_indices=True)(torch.tensor(a))
    check_module(lambda nn: getattr(nn, f"MaxUnpool{k}d")(2), inputs=[ty.numpy(), ti.numpy()],
                 same_repr=True)
    # round trip through glassgrad's own pooling, with output_size
    py, pi = getattr(nn, f"MaxPool{k}d")(2, return_indices=True)(gg.tensor(a))
    out = getattr(nn, f"MaxUnpool{k}d")(2)(py, pi, output_size=shape)
    assert tuple(out.shape) == shape
