"""The whole-layer LSTM node (ops.rnn.LSTMLayer): same values and gradients as the chain of
fused cells it replaces, finite differences, double backward, and its error messages."""

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.ops import rnn as R


def _inputs(T=4, B=3, H=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    mk = lambda *s: gg.tensor(rng.standard_normal(s).astype(dtype) * 0.5, requires_grad=True)  # noqa: E731
    return mk(T, B, 4 * H), mk(B, H), mk(B, H), mk(4 * H, H)


def _chain(xproj, h, c, w, reverse):
    T = xproj.shape[0]
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h, c = R.lstm_cell(xproj[t], h, c, w, fused=True)
        outs[t] = h
    return gg.stack(outs, 0), h, c


@pytest.mark.parametrize("reverse", [False, True])
def test_layer_equals_chain_of_cells(reverse):
    ins = _inputs()
    out, h, c = R.LSTMLayer.apply(*ins, reverse=reverse)
    rng = np.random.default_rng(1)
    ws = [gg.tensor(rng.standard_normal(t.shape)) for t in (out, h, c)]
    ((out * ws[0]).sum() + (h * ws[1]).sum() + (c * ws[2]).sum()).backward()
    got = [t.grad.numpy().copy() for t in ins]
    ins2 = [gg.tensor(t.detach().numpy(), requires_grad=True) for t in ins]
    out2, h2, c2 = _chain(*ins2, reverse)
    ((out2 * ws[0]).sum() + (h2 * ws[1]).sum() + (c2 * ws[2]).sum()).backward()
    for a, b in ((out, out2), (h, h2), (c, c2)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(got, ins2):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_layer_gradcheck_and_double_backward(reverse):
    ins = _inputs(T=3, B=2, H=2)

    def f(*a):  # all three outputs in one tensor (gradgradcheck takes one output)
        out, h, c = R.LSTMLayer.apply(*a, reverse=reverse)
        return gg.cat([out.reshape(-1), h.reshape(-1), c.reshape(-1)])

    assert gg.autograd.gradcheck(f, ins)
    assert gg.autograd.gradgradcheck(f, ins)


def test_layer_float32_and_single_step():
    ins = _inputs(T=1, dtype=np.float32)
    out, h, c = R.LSTMLayer.apply(*ins)
    assert out.dtype == h.dtype == c.dtype == np.float32
    np.testing.assert_array_equal(out.detach().numpy()[0], h.detach().numpy())
    out.sum().backward()
    assert all(t.grad.dtype == np.float32 for t in ins)


def test_module_uses_layer_and_matches_unfused():
    gg.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    x = gg.randn(5, 2, 3, dtype=gg.float64)
    out, (h, c) = lstm(x)
    assert isinstance(out.grad_fn, gg.autograd.Function)
    (out.sum() + h.sum() + c.sum()).backward()
    grads = {k: p.grad.numpy().copy() for k, p in lstm.named_parameters()}
    lstm.zero_grad()
    lstm.fused = False
    out2, (h2, c2) = lstm(x)
    (out2.sum() + h2.sum() + c2.sum()).backward()
    np.testing.assert_allclose(out.detach().numpy(), out2.detach().numpy(), rtol=1e-12, atol=1e-12)
    for k, p in lstm.named_parameters():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


def test_output_modified_in_place_is_reported():
    out, h, c = R.LSTMLayer.apply(*_inputs())
    out.array[...] = 0
    out._version[0] += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        out.sum().backward()


def test_bad_shapes_name_the_op():
    xproj, h, c, w = _inputs()
    with pytest.raises(ValueError, match=r"lstm: input projection must have shape \(T, batch"):
        R.LSTMLayer.apply(xproj[0], h, c, w)
    with pytest.raises(ValueError, match="lstm: cell state"):
        R.LSTMLayer.apply(xproj, h, c[:, :2], w)
    with pytest.raises(ValueError, match="lstm: .*weight_hh"):
        R.LSTMLayer.apply(xproj, h, c, w[:, :2])


def _run_with_bias(T, B, H, dtype, reverse, inside):
    """Outputs and gradients of the layer with its bias given to the layer (``inside``) or
    added to the projections beforehand (``xproj + b``: the same sums)."""
    rng = np.random.default_rng(7)
    arrs = [rng.standard_normal(s).astype(dtype) * 0.5
            for s in ((T, B, 4 * H), (B, H), (B, H), (4 * H, H), (4 * H,))]
    ins = [gg.tensor(a, requires_grad=True) for a in arrs]
    x, h, c, w, b = ins
    res = (R.LSTMLayer.apply(x, h, c, w, b, reverse=reverse) if inside
           else R.LSTMLayer.apply(x + b, h, c, w, reverse=reverse))
    ws = [gg.tensor(rng.standard_normal(t.shape).astype(dtype)) for t in res]
    sum((t * v).sum() for t, v in zip(res, ws)).backward()
    return [t.detach().numpy() for t in res] + [t.grad.numpy() for t in ins]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,B,H", [(3, 2, 5), (28, 128, 32)])   # small; over 1 MiB (the row loop)
@pytest.mark.parametrize("reverse", [False, True])
def test_bias_inside_equals_bias_in_the_projection(dtype, T, B, H, reverse):
    """``LSTMLayer(xproj, h, c, W, b)`` (the bias added step by step, in the compiled row loop
    for large float32 inputs) = ``LSTMLayer(xproj + b, h, c, W)``: the same values bit for
    bit, the same gradients (``δb = Σ δxproj``, to rounding of that sum)."""
    got = _run_with_bias(T, B, H, dtype, reverse, True)
    want = _run_with_bias(T, B, H, dtype, reverse, False)
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(got[3:], want[3:]):
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)


def test_bias_gradcheck_double_backward_and_errors():
    ins = list(_inputs(T=3, B=2, H=2)) + [gg.tensor(np.linspace(-1, 1, 8), requires_grad=True)]

    def f(*a):
        out, h, c = R.LSTMLayer.apply(*a, reverse=True)
        return gg.cat([out.reshape(-1), h.reshape(-1), c.reshape(-1)])

    assert gg.autograd.gradcheck(f, ins)
    assert gg.autograd.gradgradcheck(f, ins)
    with pytest.raises(ValueError, match=r"lstm: bias \(7,\) float64 must have shape \(8,\)"):
        R.LSTMLayer.apply(*ins[:4], gg.zeros(7, dtype=gg.float64))
