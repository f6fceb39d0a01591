"""Fused batch and layer norm (glassgrad.ops.norm): values and gradients equal the
composition of primitive glassgrad ops and PyTorch's; running statistics; double backward;
clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.nn import functional as F
from oracle import check_double_backward, check_op, check_same, rand_inputs

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# ------------------------------------------------------------------------------ batch norm
def _bn_composed(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shp = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axes, keepdim=True)
    var = ((x - mu) ** 2).mean(axes, keepdim=True)
    return (x - mu) / (var + eps).sqrt() * w.reshape(shp) + b.reshape(shp)


@pytest.mark.parametrize("xshape", [(6, 3), (4, 3, 5), (2, 3, 2, 2)])
def test_batch_norm_training_vs_torch_and_composition(xshape):
    C = xshape[1]

    def g(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    def t(x, w, b):
        return TF.batch_norm(x, None, None, w, b, training=True)

    check_op(g, shapes=[xshape, (C,), (C,)], torch_fn=t)
    check_op(lambda x: F.batch_norm(x, None, None, training=True), shapes=[xshape],
             torch_fn=lambda x: TF.batch_norm(x, None, None, training=True))
    arrs = rand_inputs([xshape, (C,), (C,)])
    check_same(g, _bn_composed, arrs)
    check_same(g, _bn_composed, arrs, np.float32)


def test_batch_norm_eval_and_running_stats_vs_torch():
    rng = np.random.default_rng(0)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)

    def g(x, w, b):
        return F.batch_norm(x, gg.tensor(rm, dtype=x.dtype), gg.tensor(rv, dtype=x.dtype), w, b,
                            training=False)

    def t(x, w, b):
        return TF.batch_norm(x, torch.tensor(rm, dtype=x.dtype), torch.tensor(rv, dtype=x.dtype),
                             w, b, training=False)

    check_op(g, shapes=[(5, 3, 2), (3,), (3,)], torch_fn=t)
    # running-stat update in training
    x = rng.standard_normal((8, 3, 4))
    grm, grv = gg.tensor(rm), gg.tensor(rv)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    F.batch_norm(gg.tensor(x), grm, grv, training=True, momentum=0.3)
    TF.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    np.testing.assert_allclose(grm.numpy(), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(grv.numpy(), trv.numpy(), rtol=1e-12)


def test_batch_norm_double_backward():
    check_double_backward(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True) ** 2,
                          shapes=[(4, 3), (3,), (3,)],
                          torch_fn=lambda x, w, b: TF.batch_norm(x, None, None, w, b,
                                                                 training=True) ** 2)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(gg.randn(1, 3), None, None, training=True)
    with pytest.raises(TypeError, match="batch_norm: input dtype float64 and weight dtype float32"):
        gg.nn.BatchNorm1d(3)(gg.randn(4, 3, dtype=gg.float64))
    with pytest.raises(TypeError, match="layer_norm: input dtype float64 and weight dtype float32"):
        gg.nn.LayerNorm(3)(gg.randn(4, 3, dtype=gg.float64))
    with pytest.raises(ValueError, match=r"weight of shape \(4,\)"):
        F.batch_norm(gg.randn(5, 3), None, None, gg.ones(4), training=True)


# ------------------------------------------------------------------------------ layer norm
def _ln_composed(x, w, b, k, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axes, keepdim=True)
    var = ((x - mu) ** 2).mean(axes, keepdim=True)
    return (x - mu) / (var + eps).sqrt() * w + b


@pytest.mark.parametrize("xshape,ns", [((5, 4), (4,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4))])
def test_layer_norm_vs_torch_and_composition(xshape, ns):
    check_op(lambda x, w, b: F.layer_norm(x, ns, w, b), shapes=[xshape, ns, ns],
             torch_fn=lambda x, w, b: TF.layer_norm(x, ns, w, b))
    check_op(lambda x: F.layer_norm(x, ns), shapes=[xshape],
             torch_fn=lambda x: TF.layer_norm(x, ns))
    arrs = rand_inputs([xshape, ns, ns])
    check_same(lambda x, w, b: F.layer_norm(x, ns, w, b),
          lambda x, w, b: _ln_composed(x, w, b, len(ns)), arrs)
    check_same(lambda x, w, b: F.layer_norm(x, ns, w, b),
          lambda x, w, b: _ln_composed(x, w, b, len(ns)), arrs, np.float32)


def test_layer_norm_double_backward_and_errors():
    check_double_backward(lambda x, w, b: F.layer_norm(x, (4,), w, b) ** 2,
                          shapes=[(3, 4), (4,), (4,)],
                          torch_fn=lambda x, w, b: TF.layer_norm(x, (4,), w, b) ** 2)
    with pytest.raises(ValueError, match="layer_norm"):
        F.layer_norm(gg.randn(3, 5), (4,))
