"""The whole-layer GRU node (ops.rnn.GRULayer): same values and gradients as the chain of
fused cells and as PyTorch's nn.GRU (float64), finite differences, double
backward, and its error messages."""

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.ops import rnn as R
from oracle import needs_torch, torch


def _inputs(T=4, B=3, H=5, dtype=np.float64, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    mk = lambda *s: gg.tensor(rng.standard_normal(s).astype(dtype) * 0.5, requires_grad=True)  # noqa: E731
    return mk(T, B, 3 * H), mk(B, H), mk(3 * H, H), (mk(3 * H) if bias else None)


def _chain(xproj, h, w, b, reverse):
    T = xproj.shape[0]
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h = R.gru_cell(xproj[t], h, w, b, fused=True)
        outs[t] = h
    return gg.stack(outs, 0), h


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_equals_chain_of_cells(reverse, bias):
    ins = _inputs(bias=bias)
    out, h = R.GRULayer.apply(*ins, reverse=reverse)
    rng = np.random.default_rng(1)
    ws = [gg.tensor(rng.standard_normal(t.shape)) for t in (out, h)]
    ((out * ws[0]).sum() + (h * ws[1]).sum()).backward()
    live = [t for t in ins if t is not None]
    got = [t.grad.numpy().copy() for t in live]
    ins2 = [None if t is None else gg.tensor(t.detach().numpy(), requires_grad=True) for t in ins]
    out2, h2 = _chain(*ins2, reverse)
    ((out2 * ws[0]).sum() + (h2 * ws[1]).sum()).backward()
    for a, b in ((out, out2), (h, h2)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(got, [t for t in ins2 if t is not None]):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_layer_gradcheck_and_double_backward(reverse):
    ins = _inputs(T=3, B=2, H=2)

    def f(*a):
        out, h = R.GRULayer.apply(*a, reverse=reverse)
        return gg.cat([out.reshape(-1), h.reshape(-1)])

    assert gg.autograd.gradcheck(f, ins)
    assert gg.autograd.gradgradcheck(f, ins)


def test_layer_float32_and_single_step():
    ins = _inputs(T=1, dtype=np.float32)
    out, h = R.GRULayer.apply(*ins)
    assert out.dtype == h.dtype == np.float32
    np.testing.assert_array_equal(out.detach().numpy()[0], h.detach().numpy())
    out.sum().backward()
    assert all(t.grad.dtype == np.float32 for t in ins)


@needs_torch
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_matches_torch_gru_float64(bidirectional):
    """GRULayer fed with the module's weights (input projection done here) equals torch's GRU."""
    gg.manual_seed(0)
    g = nn.GRU(3, 4, bidirectional=bidirectional).double()
    t = torch.nn.GRU(3, 4, bidirectional=bidirectional).double()
    with torch.no_grad():
        for k, p in t.named_parameters():
            p.copy_(torch.from_numpy(dict(g.named_parameters())[k].detach().numpy()))
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    D = 2 if bidirectional else 1
    h0 = np.random.default_rng(3).standard_normal((D, 2, 4))
    gx, gh0 = gg.tensor(x, requires_grad=True), gg.tensor(h0, requires_grad=True)
    P = dict(g.named_parameters())
    outs, hs = [], []
    for d in range(D):
        sfx = "_l0" + ("_reverse" if d else "")
        xproj = gx @ P["weight_ih" + sfx].T + P["bias_ih" + sfx]
        o, h = R.GRULayer.apply(xproj, gh0[d], P["weight_hh" + sfx], P["bias_hh" + sfx], reverse=d == 1)
        outs.append(o)
        hs.append(h)
    out, h = gg.cat(outs, -1), gg.stack(hs, 0)
    (out.sum() + (h * h).sum()).backward()
    tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    tout, th = t(tx, th0)
    (tout.sum() + (th * th).sum()).backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gh0.grad.numpy(), th0.grad.numpy(), rtol=1e-10, atol=1e-12)
    tp = dict(t.named_parameters())
    for k, p in g.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[k].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_bad_shapes_name_the_op():
    xproj, h, w, b = _inputs()
    with pytest.raises(ValueError, match=r"gru: input projection must have shape \(T, batch"):
        R.GRULayer.apply(xproj[0], h, w, b)
    with pytest.raises(ValueError, match="gru: hidden state"):
        R.GRULayer.apply(xproj, h[:, :2], w, b)
    with pytest.raises(ValueError, match="gru: bias_hh"):
        R.GRULayer.apply(xproj, h, w, b[:4])
