"""Fused loss ops (glassgrad.ops.loss): cross-entropy and binary cross-entropy values and
gradients equal the composition of primitive glassgrad ops and PyTorch's; double backward;
stability; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.nn import functional as F
from oracle import check_double_backward, check_op, check_same, rand_inputs

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# ------------------------------------------------------------------------------ cross entropy
def _ce_composed(x, y, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    """Cross-entropy from primitive ops (log_softmax + gather + sums), PyTorch semantics."""
    cd = 1 if x.ndim >= 2 else 0
    C = x.shape[cd]
    logp = x.log_softmax(cd)
    if x.ndim == 1:
        logp = logp.reshape(1, C)
    elif x.ndim > 2:
        logp = logp.permute((0,) + tuple(range(2, x.ndim)) + (1,)).reshape(-1, C)
    yr = y.array.reshape(-1)
    valid = (yr != ignore_index).astype(x.dtype)
    yi = np.where(yr != ignore_index, yr, 0)
    w = np.ones(C, dtype=x.dtype) if weight is None else weight
    nll = -logp.gather(1, yi.reshape(-1, 1)).reshape(-1) * (w[yi] * valid)
    smooth = -(logp * w).sum(1) * valid
    per = nll * (1 - ls) + smooth * (ls / C)
    if reduction == "none":
        return per.reshape(y.shape)
    if reduction == "sum":
        return per.sum()
    return per.sum() / float((w[yi] * valid).sum())


CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(weight=True),
    dict(weight=True, reduction="none"),
    dict(ignore_index=1),
    dict(ignore_index=2, weight=True),
    dict(ls=0.1),
    dict(ls=0.2, weight=True, ignore_index=0),
    dict(ls=0.3, weight=True, ignore_index=0, reduction="sum"),
    dict(ls=0.1, reduction="none", ignore_index=1),
]


@pytest.mark.parametrize("case", CE_CASES)
@pytest.mark.parametrize("xshape", [(6, 4), (3, 4, 2, 2), (4,)])
def test_cross_entropy_vs_torch_and_composition(case, xshape):
    rng = np.random.default_rng(1)
    C = xshape[1] if len(xshape) > 1 else xshape[0]
    tshape = (xshape[0],) + xshape[2:] if len(xshape) > 1 else ()
    y = rng.integers(0, C, size=tshape).astype(np.int64)
    if case.get("ignore_index") is not None and y.size > 1:
        y.reshape(-1)[0] = case["ignore_index"]  # make sure an ignored target appears
    if y.size == 1 and y == case.get("ignore_index"):
        y = (y + 1) % C  # a single, ignored target gives nan (tested separately)
    wv = rng.uniform(0.5, 2.0, size=C) if case.get("weight") else None
    red = case.get("reduction", "mean")
    ii = case.get("ignore_index", -100)
    ls = case.get("ls", 0.0)

    def gfn(x, t):
        w = None if wv is None else gg.tensor(wv, dtype=x.dtype)
        return F.cross_entropy(x, t, weight=w, ignore_index=ii, reduction=red, label_smoothing=ls)

    def tfn(x, t):
        w = None if wv is None else torch.tensor(wv, dtype=x.dtype)
        return TF.cross_entropy(x, t, weight=w, ignore_index=ii, reduction=red, label_smoothing=ls)

    x = rand_inputs([xshape], seed=2)[0] * 2
    check_op(gfn, inputs=[x, y], torch_fn=tfn)
    check_same(gfn, lambda a, t: _ce_composed(a, t, None if wv is None else wv.astype(a.dtype), ii,
                                         red, ls), [x, y])
    check_same(gfn, lambda a, t: _ce_composed(a, t, None if wv is None else wv.astype(a.dtype), ii,
                                         red, ls), [x, y], np.float32)


def test_cross_entropy_is_one_node_and_fast_gradient():
    x = gg.randn(7, 5, requires_grad=True)
    y = gg.tensor([0, 1, 2, 3, 4, 0, 1])
    loss = F.cross_entropy(x, y)
    assert type(loss.grad_fn).__name__ == "CrossEntropy"
    assert loss.grad_fn.next_functions[0][0] is x
    loss.backward()
    p = x.detach().softmax(1).numpy()
    onehot = np.eye(5, dtype=np.float32)[y.numpy()]
    np.testing.assert_allclose(x.grad.numpy(), (p - onehot) / 7, rtol=1e-5, atol=1e-7)
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("tdtype", [np.int64, np.int32, np.uint8])
def test_cross_entropy_plain_path_matches_general_path(tdtype):
    """The textbook case (mean, no weights, targets in range) has its own short forward and
    backward; the general formula (here reached through weight=ones) must agree with it, a
    second backward (retain_graph) must give the same gradient, and float32 stays float32."""
    rng = np.random.default_rng(7)
    xv = (rng.standard_normal((9, 6)) * 3).astype(np.float32)
    yv = rng.integers(0, 6, 9).astype(tdtype)
    xa = gg.tensor(xv, requires_grad=True)
    la = F.cross_entropy(xa, gg.tensor(yv))
    assert "plain" in la.grad_fn.__dict__
    la.backward(retain_graph=True)
    ga = xa.grad.numpy().copy()
    la.backward()
    np.testing.assert_array_equal(xa.grad.numpy(), 2 * ga)
    xb = gg.tensor(xv, requires_grad=True)
    lb = F.cross_entropy(xb, gg.tensor(yv), weight=gg.ones(6))
    assert "plain" not in lb.grad_fn.__dict__
    lb.backward()
    assert la.dtype == np.float32 and xa.grad.dtype == np.float32
    np.testing.assert_allclose(la.item(), lb.item(), rtol=1e-6)
    np.testing.assert_allclose(ga, xb.grad.numpy(), rtol=1e-6, atol=1e-8)
    # a target equal to ignore_index, or out of range, leaves the plain path
    yi = yv.astype(np.int64)
    yi[0] = -100
    assert "plain" not in F.cross_entropy(xa, gg.tensor(yi)).grad_fn.__dict__


@pytest.mark.parametrize("C", [3, 300])
def test_cross_entropy_minus_inf_logits_and_many_classes(C):
    """Logits of -inf (masked classes) give a finite loss and gradient when the targets'
    logits are finite, in the plain path (C <= 256) and the general one (C > 256), as in
    PyTorch."""
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((4, C)).astype(np.float32)
    yv = np.array([0, 1, 2, 1])
    xv[0, 1] = xv[2, 0] = -np.inf
    x = gg.tensor(xv, requires_grad=True)
    loss = F.cross_entropy(x, gg.tensor(yv))
    loss.backward()
    xt = torch.tensor(xv, requires_grad=True)
    lt = TF.cross_entropy(xt, torch.tensor(yv))
    lt.backward()
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), lt.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(label_smoothing=0.2)])
def test_cross_entropy_probability_targets(kw):
    rng = np.random.default_rng(4)
    t = rng.dirichlet(np.ones(5), size=6)
    check_op(lambda x, p: F.cross_entropy(x, p, **kw), inputs=[rand_inputs([(6, 5)])[0], t],
             torch_fn=lambda x, p: TF.cross_entropy(x, p, **kw))
    t4 = rng.dirichlet(np.ones(3), size=(2, 2)).transpose(0, 2, 1)  # (2, 3, 2) class dim 1
    wv = np.array([0.5, 1.0, 2.0])
    check_op(lambda x, p: F.cross_entropy(x, p, weight=gg.tensor(wv, dtype=x.dtype), **kw),
             inputs=[rand_inputs([(2, 3, 2)])[0], t4],
             torch_fn=lambda x, p: TF.cross_entropy(x, p, weight=torch.tensor(wv, dtype=x.dtype),
                                                    **kw))


@pytest.mark.parametrize("kw", [dict(), dict(weight=True, ignore_index=1, label_smoothing=0.1),
                                dict(reduction="none")])
def test_cross_entropy_double_backward(kw):
    wv = np.array([0.5, 1.0, 2.0, 1.5])
    y = np.array([0, 1, 3, 2, 1], dtype=np.int64)
    kk = {k: v for k, v in kw.items() if k != "weight"}

    def g(x):
        out = F.cross_entropy(x, gg.tensor(y), weight=gg.tensor(wv) if kw.get("weight") else None,
                              **kk)
        return out.sum() if out.ndim else out

    def t(x):
        out = TF.cross_entropy(x, torch.tensor(y), weight=torch.tensor(wv) if kw.get("weight")
                               else None, **kk)
        return out.sum() if out.ndim else out

    check_double_backward(g, shapes=[(5, 4)], torch_fn=t)
    check_double_backward(lambda x: F.cross_entropy(x.reshape(2, 3, 2), gg.tensor([[0, 2], [1, 1]])),
                          shapes=[(12,)],
                          torch_fn=lambda x: TF.cross_entropy(x.reshape(2, 3, 2),
                                                              torch.tensor([[0, 2], [1, 1]])))


def test_cross_entropy_stability_and_errors():
    x = gg.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], requires_grad=True)
    y = gg.tensor([1, 1])
    loss = F.cross_entropy(x, y)
    loss.backward()
    tl = TF.cross_entropy(torch.tensor(x.detach().numpy()), torch.tensor([1, 1]))
    assert np.isfinite(loss.item()) and np.isclose(loss.item(), tl.item(), rtol=1e-5)
    assert np.isfinite(x.grad.numpy()).all()
    with pytest.raises(TypeError, match="cross_entropy: expected a target of integer class"):
        F.cross_entropy(gg.randn(4, 3), gg.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(IndexError, match=r"target 3 is out of bounds.*\[0, 3\)"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([0, 3]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([-1, 0]))
    with pytest.raises(ValueError, match=r"target of shape \(3,\) does not match input of shape "
                                         r"\(2, 3\)"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\)"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([0, 1]), weight=gg.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([0, 1]), reduction="avg")
    # all targets ignored: nan like PyTorch (0/0), not an exception
    v = F.cross_entropy(gg.randn(2, 3), gg.tensor([-100, -100]))
    assert np.isnan(v.item())


def test_bce_and_bce_with_logits_double_backward():
    t = np.random.default_rng(0).uniform(0, 1, (3, 2))
    check_double_backward(lambda x: F.binary_cross_entropy(x.sigmoid(), gg.tensor(t)),
                          shapes=[(3, 2)],
                          torch_fn=lambda x: TF.binary_cross_entropy(x.sigmoid(), torch.tensor(t)))
    check_double_backward(lambda x: F.binary_cross_entropy_with_logits(x, gg.tensor(t)),
                          shapes=[(3, 2)],
                          torch_fn=lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(t)))
