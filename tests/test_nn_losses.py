"""Losses (functional and modules) equal PyTorch's for every reduction and option;
stability at extreme inputs; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.nn import functional as F
from oracle import check_op, rand_inputs

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}),
                                     ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
                                     ("smooth_l1_loss", {"beta": 0.0}),
                                     ("huber_loss", {}), ("huber_loss", {"delta": 0.3})])
def test_regression_losses(name, kw, reduction):
    gf, tf = getattr(F, name), getattr(TF, name)
    check_op(lambda x, y: gf(x, y, reduction=reduction, **kw), shapes=[(4, 3), (4, 3)],
             torch_fn=lambda x, y: tf(x, y, reduction=reduction, **kw))


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"ignore_index": 1},
                                  {"weight": True, "ignore_index": 0}])
@pytest.mark.parametrize("xshape", [(5, 4), (2, 4, 3)])
def test_nll_loss(opts, reduction, xshape):
    rng = np.random.default_rng(0)
    C = xshape[1]
    y = rng.integers(0, C, size=(xshape[0],) + xshape[2:]).astype(np.int64)
    ii = opts.get("ignore_index", -100)
    if ii >= 0:
        y.reshape(-1)[0] = ii
    wv = rng.uniform(0.5, 2, C) if opts.get("weight") else None

    def g(x, t):
        w = None if wv is None else gg.tensor(wv, dtype=x.dtype)
        return F.nll_loss(x.log_softmax(1), t, weight=w, ignore_index=ii, reduction=reduction)

    def t(x, t):
        w = None if wv is None else torch.tensor(wv, dtype=x.dtype)
        return TF.nll_loss(x.log_softmax(1), t, weight=w, ignore_index=ii, reduction=reduction)

    check_op(g, inputs=[rand_inputs([xshape])[0], y], torch_fn=t)


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(reduction, weighted):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.05, 0.95, (4, 3))
    t = rng.uniform(0, 1, (4, 3))
    wv = rng.uniform(0.5, 2, (4, 3)) if weighted else None

    def g(a, b):
        w = None if wv is None else gg.tensor(wv, dtype=a.dtype)
        return F.binary_cross_entropy(a, b, weight=w, reduction=reduction)

    def tt(a, b):
        w = None if wv is None else torch.tensor(wv, dtype=a.dtype)
        return TF.binary_cross_entropy(a, b, weight=w, reduction=reduction)

    check_op(g, inputs=[x, t], torch_fn=tt)


def test_binary_cross_entropy_extremes_match_torch():
    x = np.array([0.0, 1.0, 1e-30, 1 - 1e-16, 0.5])
    t = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    gx = gg.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    gl = F.binary_cross_entropy(gx, gg.tensor(t), reduction="sum")
    tl = TF.binary_cross_entropy(tx, torch.tensor(t), reduction="sum")
    gl.backward()
    tl.backward()
    assert np.isfinite(gl.item())
    np.testing.assert_allclose(gl.item(), tl.item(), rtol=1e-12)
    # PyTorch clamps x(1-x) at a float32 1e-12 (9.9999999600e-13): 4e-9 relative apart
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-8)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(gg.tensor([1.5]), gg.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"pos_weight": True},
                                  {"weight": True, "pos_weight": True}])
def test_bce_with_logits(opts, reduction):
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 1, (4, 3))
    wv = rng.uniform(0.5, 2, (4, 3)) if opts.get("weight") else None
    pv = rng.uniform(0.5, 3, (3,)) if opts.get("pos_weight") else None

    def g(a, b):
        return F.binary_cross_entropy_with_logits(
            a, b, weight=None if wv is None else gg.tensor(wv, dtype=a.dtype),
            pos_weight=None if pv is None else gg.tensor(pv, dtype=a.dtype), reduction=reduction)

    def tt(a, b):
        return TF.binary_cross_entropy_with_logits(
            a, b, weight=None if wv is None else torch.tensor(wv, dtype=a.dtype),
            pos_weight=None if pv is None else torch.tensor(pv, dtype=a.dtype), reduction=reduction)

    check_op(g, inputs=[rand_inputs([(4, 3)])[0] * 3, t], torch_fn=tt)


def test_bce_with_logits_stable_at_1e4():
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    for dt in (np.float32, np.float64):
        gx = gg.tensor(x.astype(dt), requires_grad=True)
        tx = torch.tensor(x.astype(dt), requires_grad=True)
        gl = F.binary_cross_entropy_with_logits(gx, gg.tensor(t.astype(dt)),
                                                pos_weight=gg.tensor([2.0], dtype=dt))
        tl = TF.binary_cross_entropy_with_logits(tx, torch.tensor(t.astype(dt)),
                                                 pos_weight=torch.tensor([2.0], dtype=tx.dtype))
        gl.backward()
        tl.backward()
        assert np.isfinite(gl.item()) and np.isfinite(gx.grad.numpy()).all()
        np.testing.assert_allclose(gl.item(), tl.item(), rtol=1e-6)
        np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore:reduction")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    rng = np.random.default_rng(5)
    t = rng.dirichlet(np.ones(4), size=3)
    t[0, 1] = 0.0  # a zero target contributes 0
    if log_target:
        t = np.log(t + 0.1)
    check_op(lambda x, y: F.kl_div(x.log_softmax(1), y, reduction=reduction,
                                   log_target=log_target),
             inputs=[rand_inputs([(3, 4)])[0], t], grad=[True, False],
             torch_fn=lambda x, y: TF.kl_div(x.log_softmax(1), y, reduction=reduction,
                                             log_target=log_target))


@pytest.mark.filterwarnings("ignore:reduction")
def test_loss_modules_match_functional_and_repr():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    p = rng.uniform(0.1, 0.9, (6, 4))
    w = rng.uniform(0.5, 2, 4)
    pairs = [
        (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum"), x, p),
        (nn.L1Loss(), torch.nn.L1Loss(), x, p),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), x, p),
        (nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5), x, p),
        (nn.CrossEntropyLoss(weight=gg.tensor(w), label_smoothing=0.1, ignore_index=2),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1, ignore_index=2),
         x, y),
        (nn.NLLLoss(weight=gg.tensor(w)), torch.nn.NLLLoss(weight=torch.tensor(w)), x, y),
        (nn.BCELoss(), torch.nn.BCELoss(), p, p[::-1].copy()),
        (nn.BCEWithLogitsLoss(pos_weight=gg.tensor(w)),
         torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)), x, p),
        (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), x, p),
    ]
    for gm, tm, a, b in pairs:
        gv = gm(gg.tensor(a), gg.tensor(b))
        tv = tm(torch.tensor(a), torch.tensor(b))
        np.testing.assert_allclose(gv.item(), tv.item(), rtol=1e-10, err_msg=repr(gm))
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert nn.MSELoss(size_average=False).reduction == "sum"


def test_loss_errors_are_clear():
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(4,\) differs from input "
                                         r"shape \(4, 1\)"):
        F.mse_loss(gg.randn(4, 1), gg.randn(4))
    with pytest.raises(TypeError, match="l1_loss: target must be a floating tensor"):
        F.l1_loss(gg.randn(3), gg.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(gg.randn(3), gg.randn(3), reduction="avg")
    with pytest.raises(TypeError, match="nll_loss: expected a target of integer class indices"):
        F.nll_loss(gg.randn(3, 2), gg.randn(3))
    with pytest.raises(IndexError, match="nll_loss: target 2 is out of bounds"):
        F.nll_loss(gg.randn(3, 2), gg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")


def test_losses_dtype_preserved_float32():
    x = gg.randn(5, 3, requires_grad=True)
    for loss in (F.mse_loss(x, gg.randn(5, 3)), F.cross_entropy(x, gg.tensor([0, 1, 2, 0, 1])),
                 F.nll_loss(x.log_softmax(1), gg.tensor([0, 1, 2, 0, 1])),
                 F.binary_cross_entropy_with_logits(x, gg.rand(5, 3)),
                 F.binary_cross_entropy(x.sigmoid(), gg.rand(5, 3)),
                 F.smooth_l1_loss(x, gg.randn(5, 3)), F.huber_loss(x, gg.randn(5, 3))):
        assert loss.dtype == np.float32, loss
        x.grad = None
        loss.backward()
        assert x.grad.dtype == np.float32


def test_softmax_large_inputs_do_not_overflow():
    x = gg.tensor([[1e4, 0.0, -1e4], [3e38, 3e38, 0.0]])
    for y in (F.softmax(x, 1), nn.Softmax(dim=1)(x), F.log_softmax(x, 1).exp()):
        v = y.numpy()
        assert np.isfinite(v).all()
        np.testing.assert_allclose(v, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-6)
