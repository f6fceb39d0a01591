"""``view`` refuses what needs a copy, as PyTorch (``reshape`` copies); and every layer's
output can be viewed exactly where PyTorch's can (``x.view(x.size(0), -1)`` after conv
and pooling layers is in every PyTorch example)."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg

torch = pytest.importorskip("torch")


def _both(make):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    return make(gg.tensor(a)), make(torch.tensor(a))


def _view_ok(t, shape):
    try:
        t.view(*shape)
        return True
    except RuntimeError:
        return False


@pytest.mark.parametrize("make,shape", [
    (lambda x: x.transpose(0, 1), (-1,)),
    (lambda x: x.permute(2, 0, 1), (4, 6)),
    (lambda x: x.permute(2, 0, 1), (4, 2, 3)),
    (lambda x: x.transpose(1, 2), (2, 12)),
    (lambda x: x.transpose(1, 2), (2, 4, 3)),
    (lambda x: x[:, :, :2], (2, 6)),
    (lambda x: x[:, :2], (2, 8)),
    (lambda x: x[:, :2], (4, 4)),
    (lambda x: x[::2], (-1,)),
    (lambda x: x[0].t(), (-1,)),
    (lambda x: x[0].t(), (4, 3)),
    (lambda x: x.transpose(0, 1).contiguous(), (-1,)),
    (lambda x: x.transpose(0, 1).reshape(-1), (3, 8)),
    (lambda x: x.unsqueeze(1).expand(2, 5, 3, 4), (10, 12)),
    (lambda x: x.unsqueeze(1).expand(2, 5, 3, 4), (2, 5, 12)),
    (lambda x: x[:, 1], (-1,)),
    (lambda x: x[:, :, 1:2], (-1,)),
])
def test_view_refuses_exactly_where_pytorch_does(make, shape):
    g, t = _both(make)
    ok = _view_ok(t, shape)
    assert _view_ok(g, shape) == ok
    assert g.is_contiguous() == t.is_contiguous()
    if ok:
        np.testing.assert_array_equal(g.view(*shape).numpy(), t.view(*shape).numpy())
    else:
        with pytest.raises(RuntimeError, match=r"view: .*use \.reshape\(\.\.\.\) instead"):
            g.view(*shape)
        np.testing.assert_array_equal(g.reshape(*shape).numpy(), t.reshape(*shape).numpy())


def test_results_of_computations_are_contiguous():
    # PyTorch keeps the strides of a transposed input through element-wise ops; glassgrad
    # calls every computed result contiguous (its own memory order is an implementation
    # choice, e.g. the convolution's batch-last output), so view() copies there
    x = gg.arange(6.0).reshape(2, 3)
    y = x.t() * 2
    assert y.is_contiguous()
    np.testing.assert_array_equal(y.view(-1).numpy(), [0, 6, 2, 8, 4, 10])


def test_x_t_view_raises_and_the_view_shares_memory():
    x = gg.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match="view"):
        x.t().view(-1)
    v = x.view(3, 2)
    v[0, 0] = 7.0
    assert float(x[0, 0]) == 7.0


def _layers():
    return [
        ("Linear", lambda n: n.Linear(12, 5), (4, 12)),
        ("Conv1d", lambda n: n.Conv1d(3, 4, 3, padding=1), (2, 3, 10)),
        ("Conv2d", lambda n: n.Conv2d(3, 6, 5), (2, 3, 12, 12)),
        ("Conv2d-stride", lambda n: n.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 9, 9)),
        ("ConvTranspose2d", lambda n: n.ConvTranspose2d(3, 4, 4, stride=2, padding=1), (2, 3, 5, 5)),
        ("MaxPool2d", lambda n: n.MaxPool2d(2), (2, 3, 8, 8)),
        ("AvgPool2d", lambda n: n.AvgPool2d(2), (2, 3, 8, 8)),
        ("AdaptiveAvgPool2d", lambda n: n.AdaptiveAvgPool2d((1, 1)), (2, 3, 8, 8)),
        ("BatchNorm2d", lambda n: n.BatchNorm2d(3), (2, 3, 4, 4)),
        ("LayerNorm", lambda n: n.LayerNorm(6), (2, 5, 6)),
        ("ReLU", lambda n: n.ReLU(), (2, 3, 4)),
        ("Dropout", lambda n: n.Dropout(0.0), (2, 3, 4)),
        ("Flatten", lambda n: n.Flatten(), (2, 3, 4)),
        ("Embedding", lambda n: n.Embedding(10, 4), None),
        ("LSTM", lambda n: n.LSTM(4, 5, batch_first=True), (2, 3, 4)),
        ("GRU", lambda n: n.GRU(4, 5), (3, 2, 4)),
        ("MultiheadAttention", lambda n: n.MultiheadAttention(8, 2, batch_first=True), (2, 3, 8)),
    ]


@pytest.mark.parametrize("name,make,shape", _layers(), ids=[c[0] for c in _layers()])
def test_layer_outputs_view_where_pytorch_outputs_do(name, make, shape):
    gg.manual_seed(0)
    torch.manual_seed(0)
    gm, tm = make(gg.nn), make(torch.nn)
    if shape is None:
        gx, tx = gg.tensor([[1, 2, 3], [4, 5, 6]]), torch.tensor([[1, 2, 3], [4, 5, 6]])
    else:
        a = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        gx, tx = gg.tensor(a), torch.tensor(a)
    if name == "MultiheadAttention":
        gy, ty = gm(gx, gx, gx)[0], tm(tx, tx, tx)[0]
    else:
        gy, ty = gm(gx), tm(tx)
    if isinstance(gy, tuple):
        gy, ty = gy[0], ty[0]
    for shape_ in [(-1,), (gy.shape[0], -1)]:
        assert _view_ok(gy, shape_) == _view_ok(ty, shape_), (name, shape_)
