"""The whole-layer LSTM node (ops.rnn.LSTMLayer): same values and gradients as the chain of
fused cells it replaces, finite differences, double backward, and its error messages; and
its inference form on arrays (``lstm_layer_arrays``)."""

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.ops import _blas
from glassgrad.ops import kernels as K
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


def _layer_arrays_inputs(T, B, F, H, dtype, state, view, bias, seed=0):
    rng = np.random.default_rng(seed)
    mk = lambda *s: (rng.standard_normal(s) * 0.3).astype(dtype)  # noqa: E731
    x = mk(B, T, F).transpose(1, 0, 2) if view else mk(T, B, F)   # (a batch_first input's view)
    h0, c0 = (mk(B, H), mk(B, H)) if state == "given" else (np.zeros((B, H), dtype),) * 2
    return x, mk(4 * H, F), h0, c0, mk(4 * H, H), mk(4 * H) if bias else None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("state", ["zeros", "given"])
@pytest.mark.parametrize("view", [False, True])
def test_layer_arrays_equals_linear_then_layer(monkeypatch, dtype, reverse, bias, state, view):
    """``lstm_layer_arrays`` (inference: for large float32 inputs the projections made step
    by step inside the compiled loop, never as a (T, B, 4H) array) = ``Linear`` then
    ``LSTMLayer``: the same values (to float32 rounding: the bias is summed in another
    order)."""
    from glassgrad.ops import _rnn_loops as L

    T, B, F, H = 28, 96, 20, 32          # projections of 1.4 MB: the layer's large path
    x, w_ih, h0, c0, w_hh, b = _layer_arrays_inputs(T, B, F, H, dtype, state, view, bias)
    calls = []
    real = L.forward_projecting
    monkeypatch.setattr(L, "forward_projecting", lambda *a: calls.append(real(*a)) or calls[-1])
    got = R.lstm_layer_arrays(x, w_ih, h0, c0, w_hh, b, reverse=reverse)
    xproj = R.Linear.forward_arrays(x.reshape(T * B, F), w_ih, None).reshape(T, B, 4 * H)
    want = R.LSTMLayer.forward_arrays(xproj, h0, c0, w_hh, b, reverse=reverse)
    assert len(calls) == 1
    compiled = calls[0] is not None
    assert compiled == (dtype == np.float32 and K.rnn(x) is not None
                        and _blas.cblas_sgemm() is not None)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == dtype
        if compiled:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(g, w)


def test_layer_arrays_small_inputs_and_errors():
    # below the large path: exactly Linear then LSTMLayer; malformed inputs: their errors
    x, w_ih, h0, c0, w_hh, b = _layer_arrays_inputs(5, 3, 4, 6, np.float32, "given", True, True)
    got = R.lstm_layer_arrays(x, w_ih, h0, c0, w_hh, b)
    xproj = R.Linear.forward_arrays(x.reshape(15, 4), w_ih, None).reshape(5, 3, 24)
    for g, w in zip(got, R.LSTMLayer.forward_arrays(xproj, h0, c0, w_hh, b)):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError, match=r"lstm: input must have shape \(T, batch, features\)"):
        R.lstm_layer_arrays(x[0], w_ih, h0, c0, w_hh, b)
    with pytest.raises(ValueError, match="linear: input of shape"):
        R.lstm_layer_arrays(x, w_ih[:, :3], h0, c0, w_hh, b)
    with pytest.raises(ValueError, match=r"lstm: bias \(23,\)"):
        R.lstm_layer_arrays(x, w_ih, h0, c0, w_hh, b[:23])


@pytest.mark.parametrize("layout", ["reversed", "broadcast", "every_other_feature"])
def test_layer_arrays_any_input_strides(layout):
    """Inputs the BLAS could not read as rows with a positive leading dimension (reversed
    steps or batch, a batch broadcast from one sequence, a feature stride) are copied
    first: the values of the contiguous input."""
    T, B, F, H = 28, 96, 20, 32
    x, w_ih, h0, c0, w_hh, b = _layer_arrays_inputs(T, B, F, H, np.float32, "given", False, True)
    if layout == "reversed":
        x = x[::-1, ::-1]
    elif layout == "broadcast":
        x = np.broadcast_to(x[:, :1], x.shape)
    else:
        x = np.repeat(x, 2, axis=2)[:, :, ::2]
    got = R.lstm_layer_arrays(x, w_ih, h0, c0, w_hh, b)
    want = R.lstm_layer_arrays(np.ascontiguousarray(x), w_ih, h0, c0, w_hh, b)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
@pytest.mark.parametrize("arrays", [False, True])
def test_zero_initial_state_with_nonfinite_weight_gives_nans(bad, arrays):
    """The compiled loop writes the first step's product ``h_0·W_hhᵀ`` as zeros when h_0 = 0
    instead of computing it, but only for a finite W_hh: 0·inf and NaN still give NaN, as
    the NumPy path does."""
    T, B, F, H = 28, 96, 20, 32
    x, w_ih, h0, c0, w_hh, b = _layer_arrays_inputs(T, B, F, H, np.float32, "zeros", False, True)
    w_hh[5, 3] = bad

    def run():
        if arrays:
            return R.lstm_layer_arrays(x, w_ih, h0, c0, w_hh, b)
        xproj = R.Linear.forward_arrays(x.reshape(T * B, F), w_ih, None).reshape(T, B, 4 * H)
        return R.LSTMLayer.forward_arrays(xproj, h0, c0, w_hh, b)

    got = run()
    with K.using("numpy"):
        want = run()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        assert np.isnan(g[0]).any() if g.ndim == 3 else np.isnan(g).any()
