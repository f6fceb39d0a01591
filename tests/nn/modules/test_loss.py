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
    assert repr(nn.MSELoss(reduction="sum")) == repr(torch.nn.MSELoss(reduction="sum")) == "MSELoss()"
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


# ----------------------------------------------------------------- the fused loss ops (ops/loss.py)
@pytest.mark.parametrize("fn,name", [
    (lambda x, t: F.smooth_l1_loss(x, t, reduction="none", beta=0.7), "HuberBackward"),
    (lambda x, t: F.huber_loss(x, t, reduction="none", delta=0.7), "HuberBackward"),
    (lambda x, t: F.kl_div(x, t, reduction="none"), "KLDivBackward"),
    (lambda x, t: F.binary_cross_entropy(x.sigmoid(), t, reduction="none"),
     "BinaryCrossEntropyBackward"),
])
def test_pointwise_losses_are_one_node(fn, name):
    x = gg.rand(3, 4, requires_grad=True)
    assert fn(x, gg.rand(3, 4)).grad_fn.name() == name


def test_nll_loss_is_one_node():
    x = gg.randn(3, 4, requires_grad=True)
    assert F.nll_loss(x, gg.tensor([0, 3, 1]), reduction="none").grad_fn.name() == "NLLLossBackward"


@pytest.mark.parametrize("name,kw", [("smooth_l1_loss", {"beta": 0.6}), ("huber_loss", {"delta": 0.6})])
def test_smooth_l1_huber_both_pieces_and_the_target_gradient(name, kw):
    # residuals on both sides of β, in both signs; the target also requires grad
    x = np.array([[-2.0, -0.5, -0.1, 0.0], [0.3, 0.59, 0.61, 3.0]])
    t = np.zeros_like(x) + np.array([0.0, 0.01, 0.0, -0.01])
    gf, tf = getattr(F, name), getattr(TF, name)
    check_op(lambda a, b: gf(a, b, reduction="sum", **kw), inputs=[x, t],
             torch_fn=lambda a, b: tf(a, b, reduction="sum", **kw))


@pytest.mark.parametrize("fn,tfn,inputs", [
    (lambda x, t: F.huber_loss(x, t, delta=0.5), lambda x, t: TF.huber_loss(x, t, delta=0.5),
     [(3, 4), (3, 4)]),
    (lambda x, t: F.smooth_l1_loss(x, t, beta=0.5), lambda x, t: TF.smooth_l1_loss(x, t, beta=0.5),
     [(3, 4), (3, 4)]),
    (lambda x, t: F.binary_cross_entropy(x.sigmoid(), t), lambda x, t: TF.binary_cross_entropy(
        x.sigmoid(), t), [(3, 4), np.random.default_rng(1).uniform(0, 1, (3, 4))]),
    (lambda x, t: F.kl_div(x.log_softmax(1), t.softmax(1), reduction="batchmean"),
     lambda x, t: TF.kl_div(x.log_softmax(1), t.softmax(1), reduction="batchmean"), [(3, 4), (3, 4)]),
    (lambda x, t: F.kl_div(x.log_softmax(1), t, reduction="sum", log_target=True),
     lambda x, t: TF.kl_div(x.log_softmax(1), t, reduction="sum", log_target=True), [(3, 4), (3, 4)]),
])
def test_fused_losses_double_backward(fn, tfn, inputs):
    from oracle import check_double_backward
    arrs = rand_inputs(inputs, seed=3)
    check_double_backward(fn, inputs=arrs, torch_fn=tfn)


@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_double_backward(weighted):
    from oracle import check_double_backward
    y = np.array([0, 2, 1, 2])
    wv = np.array([0.5, 2.0, 1.5])

    def g(x):
        w = gg.tensor(wv) if weighted else None
        return F.nll_loss(x.log_softmax(1), gg.tensor(y), weight=w)

    def t(x):
        w = torch.tensor(wv) if weighted else None
        return TF.nll_loss(x.log_softmax(1), torch.tensor(y), weight=w)

    check_double_backward(g, inputs=rand_inputs([(4, 3)], seed=4), torch_fn=t)


@pytest.mark.parametrize("reduction", REDS)
def test_nll_loss_edge_shapes(reduction):
    # 1-D input with a 0-d target; an empty batch; every target ignored
    cases = [(np.random.default_rng(0).standard_normal(5), np.array(3), -100),
             (np.zeros((0, 4)), np.zeros(0, np.int64), -100),
             (np.random.default_rng(1).standard_normal((3, 4)), np.array([1, 1, 1]), 1)]
    for x, y, ii in cases:
        gx = gg.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        gl = F.nll_loss(gx, gg.tensor(y), ignore_index=ii, reduction=reduction)
        tl = TF.nll_loss(tx, torch.tensor(y), ignore_index=ii, reduction=reduction)
        np.testing.assert_allclose(gl.detach().numpy(), tl.detach().numpy(), equal_nan=True)
        assert gl.shape == tuple(tl.shape)
        if gl.numel():
            gl.sum().backward()
            tl.sum().backward()
            np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), equal_nan=True)


def test_nll_loss_float32_and_int32_targets():
    x = gg.randn(6, 5).log_softmax(1)
    out = F.nll_loss(x, gg.tensor([0, 4, 1, 2, 3, 4], dtype=gg.int32))
    assert out.dtype == gg.float32
    ref = -x.numpy()[np.arange(6), [0, 4, 1, 2, 3, 4]].mean()
    assert abs(out.item() - ref) < 1e-6


def test_kl_div_zero_and_negative_targets():
    x = gg.tensor([[-1.0, -2.0, -0.5]], requires_grad=True)
    t = gg.tensor([[0.0, 0.5, -0.1]], requires_grad=True)
    loss = F.kl_div(x, t, reduction="none")
    tl = TF.kl_div(torch.tensor([[-1.0, -2.0, -0.5]]), torch.tensor([[0.0, 0.5, -0.1]]),
                   reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), tl.numpy(), equal_nan=True)  # 0, value, nan
    loss[:, :2].sum().backward()
    # t = 0: the derivative of t·log t is unbounded; glassgrad gives 0 (documented)
    assert t.grad.numpy()[0, 0] == 0.0
    assert abs(t.grad.numpy()[0, 1] - (np.log(0.5) + 1 + 2.0)) < 1e-6
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, -0.5, 0.0]])


def test_bce_range_error_names_the_op_and_values():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of input should "
                                         r"be between 0 and 1 \(got values in \[-0\.5, 1\]\)"):
        F.binary_cross_entropy(gg.tensor([-0.5, 1.0]), gg.tensor([0.0, 1.0]))
