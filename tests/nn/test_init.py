"""nn.init: distributions (bounds, mean, std), seeding, gains/fans equal to PyTorch's,
default layer initializations, dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.nn import init

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy()


def test_gain_and_fans_match_torch():
    for nl, p in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                  ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None), ("conv2d", None),
                  ("leaky_relu", math.sqrt(5))]:
        assert init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    for shape in [(3, 4), (6, 3, 5, 5), (2, 7, 3)]:
        assert init._calculate_fan_in_and_fan_out(gg.zeros(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(gg.zeros(3))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swishy")


def test_uniform_normal_constant_in_place():
    t = gg.zeros(400, 500)
    data = t.array
    r = init.uniform_(t, -2.0, 3.0)
    assert r is t and t.array is data and t.dtype == np.float32
    v = _np(t)
    assert v.min() >= -2 and v.max() < 3 and abs(v.mean() - 0.5) < 0.02
    assert abs(v.std() - 5 / math.sqrt(12)) < 0.02
    init.normal_(t, 1.0, 0.5)
    v = _np(t)
    assert abs(v.mean() - 1.0) < 0.01 and abs(v.std() - 0.5) < 0.01
    init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.0)
    v = _np(t)
    assert v.min() >= -1 and v.max() <= 1 and abs(v.mean()) < 0.01
    init.constant_(t, 0.25)
    assert (_np(t) == 0.25).all()
    init.ones_(t)
    assert (_np(t) == 1).all()
    init.zeros_(t)
    assert not _np(t).any()
    e = init.eye_(gg.zeros(3, 5))
    np.testing.assert_array_equal(_np(e), np.eye(3, 5))


def test_init_works_on_parameters_without_recording_a_graph():
    p = nn.Parameter(gg.zeros(20, 30))
    init.kaiming_normal_(p)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad


@pytest.mark.parametrize("fn,kw,bound,std", [
    ("xavier_uniform_", {}, math.sqrt(6 / (300 + 200)), None),
    ("xavier_uniform_", {"gain": 2.0}, 2 * math.sqrt(6 / (300 + 200)), None),
    ("xavier_normal_", {}, None, math.sqrt(2 / (300 + 200))),
    ("kaiming_uniform_", {}, math.sqrt(2) * math.sqrt(3 / 200), None),  # a=0: gain √2
    ("kaiming_uniform_", {"a": math.sqrt(5)}, 1 / math.sqrt(200), None),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"},
     math.sqrt(2) * math.sqrt(3 / 300), None),
    ("kaiming_normal_", {"nonlinearity": "relu"}, None, math.sqrt(2 / 200)),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}, None, 5 / 3 / math.sqrt(300)),
])
def test_scaled_inits_distribution(fn, kw, bound, std):
    t = gg.zeros(300, 200)  # fan_in 200, fan_out 300
    getattr(init, fn)(t, **kw)
    v = _np(t)
    assert abs(v.mean()) < 0.01 * (bound or std) * 10
    if bound is not None:
        assert v.min() >= -bound * (1 + 1e-6) and v.max() <= bound * (1 + 1e-6)
        assert v.max() > 0.99 * bound and v.min() < -0.99 * bound
        assert abs(v.std() - bound / math.sqrt(3)) < 0.02 * bound
    else:
        assert abs(v.std() - std) < 0.02 * std


def test_orthogonal():
    for shape in [(6, 4), (4, 6), (3, 2, 2)]:
        t = gg.zeros(*shape)
        init.orthogonal_(t, gain=2.0)
        m = _np(t).reshape(shape[0], -1)
        if m.shape[0] <= m.shape[1]:
            np.testing.assert_allclose(m @ m.T, 4 * np.eye(m.shape[0]), atol=1e-5)
        else:
            np.testing.assert_allclose(m.T @ m, 4 * np.eye(m.shape[1]), atol=1e-5)


def test_seeding_and_generator():
    gg.manual_seed(123)
    a = _np(init.normal_(gg.zeros(10)))
    gg.manual_seed(123)
    b = _np(init.normal_(gg.zeros(10)))
    np.testing.assert_array_equal(a, b)
    c = _np(init.normal_(gg.zeros(10), generator=gg.Generator(123)))
    np.testing.assert_array_equal(a, c)
    gg.manual_seed(0)
    l1 = nn.Linear(5, 3)
    gg.manual_seed(0)
    l2 = nn.Linear(5, 3)
    np.testing.assert_array_equal(_np(l1.weight), _np(l2.weight))
    assert not np.array_equal(_np(l1.weight), _np(nn.Linear(5, 3).weight))


def test_default_layer_inits_match_torch_distributions():
    gg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        v = _np(p)
        assert v.min() >= -bound * (1 + 1e-6) and v.max() <= bound * (1 + 1e-6)
        assert v.max() > 0.95 * bound
    assert abs(_np(lin.weight).std() - bound / math.sqrt(3)) < 0.02 * bound
    emb = nn.Embedding(1000, 50)
    v = _np(emb.weight)
    assert abs(v.mean()) < 0.01 and abs(v.std() - 1) < 0.01
    bn = nn.BatchNorm1d(4)
    assert (_np(bn.weight) == 1).all() and not _np(bn.bias).any()
    assert not bn.running_mean.numpy().any() and (bn.running_var.numpy() == 1).all()
    ln = nn.LayerNorm(4)
    assert (_np(ln.weight) == 1).all() and not _np(ln.bias).any()


def test_layer_dtypes_follow_default_and_argument():
    assert nn.Linear(3, 2).weight.dtype == np.float32
    assert nn.Linear(3, 2, dtype=gg.float64).bias.dtype == np.float64
    assert nn.Embedding(3, 2, dtype=gg.float64).weight.dtype == np.float64
    old = gg.get_default_dtype()
    gg.set_default_dtype(gg.float64)
    try:
        for m in (nn.Linear(3, 2), nn.BatchNorm1d(2), nn.LayerNorm(2), nn.Embedding(4, 2)):
            assert all(p.dtype == np.float64 for p in m.parameters())
        assert nn.BatchNorm1d(2).running_var.dtype == np.float64
    finally:
        gg.set_default_dtype(old)
    t = gg.zeros(50, 50, dtype=gg.float64)
    init.xavier_uniform_(t)
    assert t.dtype == np.float64
