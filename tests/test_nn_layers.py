"""Layers with weights copied from PyTorch give PyTorch's outputs and gradients
(float64 1e-10, float32 1e-5); BatchNorm1d/Dropout train vs eval; Embedding; activations."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.nn import functional as F
from oracle import check_op

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
TDT = {np.float64: torch.float64, np.float32: torch.float32}


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)  # torch's default inits draw from its global RNG: keep tests deterministic


def _copy(gm, tm, dt):
    gm.to(dt)
    tm.to(TDT[dt])
    gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


def _close(a, b, dt, msg="", deep=False):
    tol = dict(TOL[dt])
    if deep and dt == np.float32:  # float32 rounding through many layers: relative to the scale
        tol["atol"] = max(tol["atol"], 1e-5 * float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, err_msg=msg, **tol)


def _compare(gm, tm, x, dt, n_steps=1, deep=False):
    """Same outputs, input gradient and parameter gradients (random upstream gradient)."""
    rng = np.random.default_rng(7)
    for _ in range(n_steps):
        gx = gg.tensor(x.astype(dt), requires_grad=x.dtype.kind == "f")
        tx = torch.tensor(x.astype(dt) if x.dtype.kind == "f" else x,
                          requires_grad=x.dtype.kind == "f")
        if x.dtype.kind != "f":
            gx, tx = gg.tensor(x), torch.tensor(x)
        gy, ty = gm(gx), tm(tx)
        _close(gy.detach().numpy(), ty.detach().numpy(), dt, "output", deep)
        g = rng.standard_normal(gy.shape).astype(gy.dtype)
        gm.zero_grad()
        tm.zero_grad()
        gy.backward(gg.tensor(g))
        ty.backward(torch.tensor(g))
        if x.dtype.kind == "f":
            _close(gx.grad.numpy(), tx.grad.numpy(), dt, "input grad", deep)
        tp = dict(tm.named_parameters())
        for name, p in gm.named_parameters():
            assert p.grad.dtype == dt
            _close(p.grad.numpy(), tp[name].grad.numpy(), dt, name, deep)
        for name, b in tm.named_buffers():
            _close(gm.get_buffer(name).numpy(), b.numpy(), dt, name, deep)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("shape,bias", [((6, 5), True), ((2, 3, 5), True), ((6, 5), False)])
def test_linear_vs_torch(dt, shape, bias):
    gm, tm = nn.Linear(5, 4, bias=bias), torch.nn.Linear(5, 4, bias=bias)
    _copy(gm, tm, dt)
    _compare(gm, tm, np.random.default_rng(0).standard_normal(shape), dt)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_mlp_with_everything_vs_torch(dt):
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(6, 8), lib.nn.LayerNorm(8), lib.nn.GELU(),
                                 lib.nn.Linear(8, 8, bias=False),  # its grad is 0 before BN
                                 lib.nn.BatchNorm1d(8), lib.nn.Tanh(),
                                 lib.nn.Linear(8, 3), lib.nn.LogSoftmax(dim=1))

    gm, tm = build(gg), build(torch)
    _copy(gm, tm, dt)
    _compare(gm, tm, np.random.default_rng(1).standard_normal((10, 6)), dt, n_steps=2, deep=True)


ACTS = [
    ("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.7}),
    ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("Sigmoid", {}), ("Tanh", {}),
    ("Softplus", {"beta": 2.0, "threshold": 3.0}), ("Softmax", {"dim": 1}),
    ("LogSoftmax", {"dim": 0}), ("SiLU", {}), ("SELU", {}), ("Hardtanh", {}), ("Mish", {}),
    ("Softsign", {}), ("LogSigmoid", {}), ("ReLU6", {}), ("Softmin", {"dim": 1}),
]


@pytest.mark.parametrize("name,kw", ACTS)
def test_activation_modules_vs_torch(name, kw):
    gm, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    x = np.random.default_rng(2).uniform(-3, 3, (4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from kinks for gradcheck
    check_op(gm, inputs=[x], torch_fn=tm)
    assert repr(gm) == repr(tm)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh",
                                  "softplus", "silu", "selu", "mish", "logsigmoid", "hardtanh",
                                  "relu6", "softsign"])
def test_activation_functions_vs_torch(name):
    x = np.random.default_rng(3).uniform(-3, 3, (3, 4))
    check_op(getattr(F, name), inputs=[x], torch_fn=getattr(torch.nn.functional, name),
             gradcheck=False)


# ------------------------------------------------------------------------------ batch norm
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(8, 4), (5, 4, 3)])
@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"affine": False},
                                {"track_running_stats": False}, {"momentum": 0.5, "eps": 1e-3}])
def test_batchnorm1d_train_then_eval_vs_torch(dt, shape, kw):
    gm, tm = nn.BatchNorm1d(4, **kw), torch.nn.BatchNorm1d(4, **kw)
    _copy(gm, tm, dt)
    if gm.weight is not None:
        w = np.random.default_rng(0).uniform(0.5, 1.5, 4)
        gm.weight.array[...] = w
        tm.weight.data[...] = torch.tensor(w)
    rng = np.random.default_rng(4)
    gm.train()
    tm.train()
    for _ in range(3):  # running statistics follow torch's (unbiased var, momentum / average)
        _compare(gm, tm, rng.standard_normal(shape) * 2 + 1, dt)
    gm.eval()
    tm.eval()
    _compare(gm, tm, rng.standard_normal(shape), dt)
    if kw.get("track_running_stats", True):
        assert int(gm.num_batches_tracked.item()) == 3


def test_batchnorm1d_input_checks():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input, got 4D"):
        bn(gg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): input of shape \(2, 4\) has 4 "
                                         r"channels"):
        bn(gg.randn(2, 4))


# ------------------------------------------------------------------------------ layer norm
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("ns,kw", [((5,), {}), ((3, 5), {}), ((5,), {"elementwise_affine": False}),
                                   ((5,), {"bias": False})])
def test_layernorm_vs_torch(dt, ns, kw):
    gm, tm = nn.LayerNorm(ns, **kw), torch.nn.LayerNorm(ns, **kw)
    _copy(gm, tm, dt)
    for p in tm.parameters():
        p.data.uniform_(0.5, 1.5)
    _copy(gm, tm, dt)
    _compare(gm, tm, np.random.default_rng(5).standard_normal((2, 3, 5)), dt)


# ------------------------------------------------------------------------------ embedding
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_vs_torch(dt, padding_idx):
    gm = nn.Embedding(6, 3, padding_idx=padding_idx)
    tm = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    if padding_idx is not None:
        assert not gm.weight.detach().numpy()[padding_idx].any()
    _copy(gm, tm, dt)
    _compare(gm, tm, np.array([[0, 1, 5], [1, 1, 2]]), dt)
    pre = nn.Embedding.from_pretrained(gg.eye(3))
    assert not pre.weight.requires_grad and pre(gg.tensor([2])).tolist() == [[0.0, 0.0, 1.0]]


# ------------------------------------------------------------------------------ dropout
def test_dropout_mask_semantics():
    gg.manual_seed(0)
    d = nn.Dropout(0.3)
    x = gg.ones(200, 500, requires_grad=True)
    y = d(x)
    v = y.detach().numpy()
    zero = v == 0
    assert abs(zero.mean() - 0.3) < 0.01
    np.testing.assert_allclose(v[~zero], 1 / 0.7, rtol=1e-6)
    assert y.dtype == np.float32
    g = np.random.default_rng(0).standard_normal(v.shape).astype(np.float32)
    y.backward(gg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * v, rtol=1e-6)  # same mask in backward
    d.eval()
    xe = gg.randn(3, 4)
    assert d(xe) is xe
    # seedable
    gg.manual_seed(5)
    a = F.dropout(gg.ones(50), 0.5).numpy()
    gg.manual_seed(5)
    b = F.dropout(gg.ones(50), 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    c = F.dropout(gg.ones(50), 0.5, generator=gg.Generator(5)).numpy()
    np.testing.assert_array_equal(a, c)
    assert not F.dropout(gg.ones(10), 1.0).numpy().any()
    assert F.dropout(gg.ones(10), 0.0).numpy().all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ------------------------------------------------------------------------------ flatten etc.
def test_flatten_unflatten_identity():
    x = gg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (2, 30))(nn.Flatten()(x)).shape == (2, 2, 30)
    assert nn.Identity(54, unused=1)(x) is x


# ------------------------------------------------------------------------------ extras
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("shape,groups", [((3, 6), 2), ((2, 6, 5), 3), ((2, 4, 3, 3), 4)])
def test_groupnorm_vs_torch(dt, shape, groups):
    gm, tm = nn.GroupNorm(groups, shape[1]), torch.nn.GroupNorm(groups, shape[1])
    for p in tm.parameters():
        p.data.uniform_(0.5, 1.5)
    _copy(gm, tm, dt)
    _compare(gm, tm, np.random.default_rng(6).standard_normal(shape), dt)
    assert repr(gm) == repr(tm)


@pytest.mark.parametrize("n", [1, 4])
def test_prelu_vs_torch(n):
    gm, tm = nn.PReLU(n), torch.nn.PReLU(n)
    _copy(gm, tm, np.float64)
    _compare(gm, tm, np.random.default_rng(8).standard_normal((3, 4, 2)), np.float64)
    assert repr(gm) == repr(tm)


@pytest.mark.parametrize("padding,mode", [((1, 2), "constant"), ((1, 0, 2, 1), "constant"),
                                          ((-1, 2, 1, -1), "constant"), ((2, 1, 0, 0), "reflect"),
                                          ((1, 2, 2, 0), "reflect"), ((2, 3, 1, 1), "replicate"),
                                          ((1, 1, 0, 2), "circular")])
def test_pad_vs_torch(padding, mode):
    check_op(lambda x: F.pad(x, padding, mode=mode), shapes=[(2, 3, 4, 5)],
             torch_fn=lambda x: torch.nn.functional.pad(x, padding, mode=mode))
    if mode == "constant":
        check_op(lambda x: F.pad(x, padding, value=1.5), shapes=[(3, 4, 5)],
                 torch_fn=lambda x: torch.nn.functional.pad(x, padding, value=1.5))
