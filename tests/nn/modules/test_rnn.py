"""nn.RNN / nn.LSTM / nn.GRU and the cells: outputs and gradients equal PyTorch's with the
weights copied across, over a grid of options; variable lengths equal PyTorch's packed
sequences; state_dict interchange in both directions; gradcheck on small sizes."""

import itertools

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import TOL, check_module, needs_torch

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

I, HID, T, B = 5, 4, 6, 3
GG = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def _pair(kind, dt=np.float64, **kw):
    tm = getattr(torch.nn, kind)(I, HID, **kw).to(torch.float64 if dt == np.float64 else torch.float32)
    gm = GG[kind](I, HID, dtype=dt, **kw)
    gm.load_state_dict({k: gg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, gm


def _run(kind, dt=np.float64, lengths=None, hx=False, fused=True, **kw):
    tm, gm = _pair(kind, dt, **kw)
    gm.fused = fused
    bf = kw.get("batch_first", False)
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I) if bf else (T, B, I)).astype(dt)
    h0 = rng.standard_normal((L * D, B, HID)).astype(dt)
    c0 = rng.standard_normal((L * D, B, HID)).astype(dt)
    tx, gx = torch.tensor(x, requires_grad=True), gg.tensor(x, requires_grad=True)
    th, gh = torch.tensor(h0, requires_grad=True), gg.tensor(h0, requires_grad=True)
    tc, gc = torch.tensor(c0, requires_grad=True), gg.tensor(c0, requires_grad=True)
    targ = ((th, tc) if kind == "LSTM" else th) if hx else None
    garg = ((gh, gc) if kind == "LSTM" else gh) if hx else None
    if lengths is not None:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        packed = pack_padded_sequence(tx, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
        to, thn = tm(packed, targ)
        to = pad_packed_sequence(to, batch_first=bf, total_length=T)[0]
        go, ghn = gm(gx, garg, lengths=lengths)
    else:
        to, thn = tm(tx, targ)
        go, ghn = gm(gx, garg)
    touts, gouts = [to], [go]
    if kind == "LSTM":
        touts += list(thn)
        gouts += list(ghn)
    else:
        touts.append(thn)
        gouts.append(ghn)
    tol = TOL[dt]
    for a, b in zip(gouts, touts):
        assert a.dtype == dt and tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
    ws = [rng.standard_normal(tuple(a.shape)).astype(dt) for a in gouts]
    sum((a * torch.tensor(w)).sum() for a, w in zip(touts, ws)).backward()
    sum((a * gg.tensor(w)).sum() for a, w in zip(gouts, ws)).backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), err_msg="d input", **tol)
    if hx:
        np.testing.assert_allclose(gh.grad.numpy(), th.grad.numpy(), err_msg="d h0", **tol)
        if kind == "LSTM":
            np.testing.assert_allclose(gc.grad.numpy(), tc.grad.numpy(), err_msg="d c0", **tol)
    for k, p in tm.named_parameters():
        gp = getattr(gm, k)
        assert gp.grad.dtype == dt
        np.testing.assert_allclose(gp.grad.numpy(), p.grad.numpy(), err_msg=k, **tol)


# every (layers, bidirectional, batch_first) combination, once with bias and default state,
# once without bias and with a given initial state
GRID = [(L, bi, bf, bias, hx) for L, bi, bf in itertools.product([1, 2], [False, True], [False, True])
        for bias, hx in ((True, False), (False, True))]


def _check(kind, hx=False, dtypes=(np.float64,), **kw):
    """check_module on a recurrent layer, with or without a given initial state."""
    D, L = 2 if kw.get("bidirectional") else 1, kw.get("num_layers", 1)
    x, h = ((B, T, I) if kw.get("batch_first") else (T, B, I)), (L * D, B, HID)
    make = lambda nn: getattr(nn, kind)(I, HID, **kw)
    if not hx:
        return check_module(make, shapes=[x], dtypes=dtypes)
    if kind == "LSTM":
        return check_module(make, shapes=[x, h, h], call=lambda m, x, h, c: m(x, (h, c)), dtypes=dtypes)
    return check_module(make, shapes=[x, h], call=lambda m, x, h: m(x, h), dtypes=dtypes)


@needs_torch
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidir,batch_first,bias,hx", GRID)
def test_matches_torch_float64(kind, layers, bidir, batch_first, bias, hx):
    _check(kind, num_layers=layers, bidirectional=bidir, batch_first=batch_first, bias=bias, hx=hx)


@needs_torch
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_matches_torch_float32(kind):
    _check(kind, dtypes=(np.float32,), num_layers=2, bidirectional=True, hx=True)


@needs_torch
def test_rnn_relu():
    _check("RNN", nonlinearity="relu", num_layers=2, bidirectional=True, hx=True)
    _check("RNN", dtypes=(np.float32,), nonlinearity="relu")


@needs_torch
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_composed_cells_match_torch_too(kind):
    _run(kind, fused=False, num_layers=2, bidirectional=True, hx=True)


@needs_torch
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidir,batch_first", [(False, False), (True, True), (True, False)])
def test_variable_lengths_equal_packed_sequence(kind, bidir, batch_first):
    _run(kind, lengths=[6, 2, 4], num_layers=2, bidirectional=bidir, batch_first=batch_first, hx=True)


@needs_torch
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input(kind):
    check_module(lambda nn: getattr(nn, kind)(I, HID, num_layers=2, bidirectional=True), shapes=[(T, I)])


@needs_torch
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_state_dict_interchange_both_directions(kind):
    gm = GG[kind](I, HID, num_layers=2, bidirectional=True)
    tm = getattr(torch.nn, kind)(I, HID, num_layers=2, bidirectional=True)
    gsd, tsd = gm.state_dict(), tm.state_dict()
    assert list(gsd) == list(tsd)
    assert all(tuple(gsd[k].shape) == tuple(tsd[k].shape) for k in tsd)
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in gsd.items()})
    x = np.random.default_rng(2).standard_normal((T, B, I)).astype(np.float32)
    np.testing.assert_allclose(gm(gg.tensor(x))[0].detach().numpy(), tm(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    gm2 = GG[kind](I, HID, num_layers=2, bidirectional=True)
    gm2.load_state_dict({k: gg.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    np.testing.assert_array_equal(gm2(gg.tensor(x))[0].detach().numpy(), gm(gg.tensor(x))[0].detach().numpy())


def test_parameter_names_shapes_and_init_range():
    gg.manual_seed(0)
    m = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4] == "weight_ih_l0_reverse" and names[-1] == "bias_hh_l1_reverse"
    assert m.weight_ih_l0.shape == (80, 10) and m.weight_ih_l1.shape == (80, 40)
    assert m.weight_ih_l0.dtype == np.float32
    k = 1 / np.sqrt(20)
    w = m.weight_hh_l1_reverse.detach().numpy()
    assert np.abs(w).max() <= k and np.abs(w).max() > 0.9 * k and abs(w.mean()) < 0.02
    assert nn.GRU(3, 5, bias=False).weight_hh_l0.shape == (15, 5)
    assert len(list(nn.GRU(3, 5, bias=False).parameters())) == 2
    gg.manual_seed(3)
    a = nn.GRU(3, 5).weight_ih_l0.detach().numpy().copy()
    gg.manual_seed(3)
    np.testing.assert_array_equal(nn.GRU(3, 5).weight_ih_l0.numpy(force=True), a)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradcheck_small(kind):
    m = GG[kind](2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    params = list(m.parameters())
    x = gg.tensor(np.random.default_rng(3).standard_normal((3, 2, 2)), requires_grad=True)
    h = gg.tensor(np.random.default_rng(4).standard_normal((4, 2, 3)), requires_grad=True)

    def f(x, h, *ps):
        hx = (h, h * 0.5) if kind == "LSTM" else h
        out, hn = m(x, hx)
        return out, (hn[1] if kind == "LSTM" else hn)

    gg.gradcheck(f, [x, h] + params, atol=1e-6, rtol=1e-4)


@needs_torch
@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(kind, bias):
    make = lambda nn: getattr(nn, kind)(I, HID, bias=bias)
    if kind == "LSTMCell":
        check_module(make, shapes=[(B, I), (B, HID), (B, HID)], call=lambda m, x, h, c: m(x, (h, c)))
    else:
        check_module(make, shapes=[(B, I), (B, HID)])
    check_module(make, shapes=[(I,)])          # unbatched input and default (zero) state


def test_dropout_between_layers_only_in_training():
    gg.manual_seed(0)
    m = nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = gg.randn(5, 2, 3)
    m.eval()
    a, b = m(x)[0].detach().numpy(), m(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    m.train()
    c = m(x)[0].detach().numpy()
    assert not np.allclose(a, c)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


def test_errors_are_clear():
    m = nn.LSTM(5, 4, num_layers=2)
    with pytest.raises(ValueError, match="input.size\\(-1\\) must be equal to input_size. Expected 5, got 3"):
        m(gg.zeros(6, 2, 3))
    with pytest.raises(ValueError, match="expected input of 2 .* or 3"):
        m(gg.zeros(6))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 2, 4\)"):
        m(gg.zeros(6, 2, 5), (gg.zeros(1, 2, 4), gg.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="hx must be a tuple"):
        m(gg.zeros(6, 2, 5), gg.zeros(2, 2, 4))
    with pytest.raises(TypeError, match="input dtype float64 does not match"):
        m(gg.zeros(6, 2, 5, dtype=gg.float64))
    with pytest.raises(ValueError, match=r"LSTM: expected a sequence length larger than 0, got "
                       r"input of shape \(0, 2, 5\)"):
        m(gg.zeros(0, 2, 5))
    with gg.no_grad(), pytest.raises(ValueError, match="GRU: expected a sequence length larger"):
        nn.GRU(5, 4, batch_first=True)(gg.zeros(2, 0, 5))
    with pytest.raises(ValueError, match="lengths .* exceed the sequence length 6"):
        m(gg.zeros(6, 2, 5), lengths=[7, 2])
    with pytest.raises(ValueError, match="got 3 lengths for a batch of 2"):
        m(gg.zeros(6, 2, 5), lengths=[1, 2, 3])
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match=r"LSTMCell: expected input of shape \(batch, 5\)"):
        nn.LSTMCell(5, 4)(gg.zeros(2, 3))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(2, 4\)"):
        nn.GRUCell(5, 4)(gg.zeros(2, 5), gg.zeros(3, 4))


def test_repr_and_dtype_conversion():
    assert repr(nn.LSTM(10, 20, num_layers=2, batch_first=True)) == \
        "LSTM(10, 20, num_layers=2, batch_first=True)"
    m = nn.GRU(3, 4).double()
    out, h = m(gg.zeros(2, 1, 3, dtype=gg.float64))
    assert out.dtype == np.float64 and h.dtype == np.float64


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_double_backward_through_fused_layers(kind):
    m = GG[kind](2, 3, dtype=np.float64)
    x = gg.tensor(np.random.default_rng(6).standard_normal((3, 2, 2)), requires_grad=True)
    gg.gradgradcheck(lambda x: m(x)[0], [x], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_final_state_changed_in_place_then_backward(cls):
    # h_n of one layer may be a view of the layer's last state (no copy): changing it in
    # place must not disturb the backward, as in PyTorch (where h_n is its own tensor)
    gg.manual_seed(0)
    m = getattr(nn, cls)(3, 4)
    x = gg.randn(5, 2, 3, requires_grad=True)
    out, h = m(x)
    hn = h[0] if cls == "LSTM" else h
    assert hn.shape == (1, 2, 4)
    hn.mul_(2)
    (out.sum() + hn.sum()).backward()
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()
    tm = getattr(torch.nn, cls)(3, 4)
    for p, q in zip(m.parameters(), tm.parameters()):
        q.data = torch.from_numpy(p.detach().numpy().copy())
    tx = torch.from_numpy(x.detach().numpy()).requires_grad_()
    tout, th = tm(tx)
    thn = th[0] if cls == "LSTM" else th
    thn.mul_(2)
    (tout.sum() + thn.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


def _outputs(res):
    out, st = res
    return [out] + (list(st) if isinstance(st, tuple) else [st])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidir,batch_first,bias,hx", GRID + [(1, False, False, True, "unbatched")])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_untracked_forward_equals_the_graph_path(monkeypatch, kind, layers, bidir, batch_first,
                                                 bias, hx, dt):
    """Without a graph (``no_grad``, or nothing requiring grad) the layer runs on arrays
    (``RNNBase._forward_arrays``): the same ops, so the same values bit for bit as the
    Tensor path, untracked outputs of the same shapes; the Tensor path still runs (and
    records) as soon as anything requires grad."""
    gg.manual_seed(1)
    m = GG[kind](I, HID, num_layers=layers, bidirectional=bidir, batch_first=batch_first,
                 bias=bias, dtype=dt).eval()
    D = 2 if bidir else 1
    rng = np.random.default_rng(2)
    if hx == "unbatched":
        x, shp = rng.standard_normal((T, I)).astype(dt), (layers * D, HID)
    else:
        x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dt)
        shp = (layers * D, B, HID)
    st = [gg.tensor(rng.standard_normal(shp).astype(dt)) for _ in range(2 if kind == "LSTM" else 1)]
    arg = (tuple(st) if kind == "LSTM" else st[0]) if hx is True else None
    calls = []
    real = nn.RNNBase._forward_arrays
    monkeypatch.setattr(nn.RNNBase, "_forward_arrays",
                        lambda self, *a: calls.append(1) or real(self, *a))
    ref = _outputs(m(gg.tensor(x, requires_grad=True), arg))
    assert not calls and all(r.grad_fn is not None for r in ref)
    with gg.no_grad():
        got = _outputs(m(gg.tensor(x), arg))
    assert len(calls) == 1
    m.requires_grad_(False)                          # grad mode on, nothing requires grad
    got2 = _outputs(m(gg.tensor(x), arg))
    assert len(calls) == 2
    for r, a, b in zip(ref, got, got2):
        for o in (a, b):
            assert o.grad_fn is None and not o.requires_grad and o.shape == r.shape
            assert o.dtype == r.dtype
            np.testing.assert_array_equal(o.numpy(), r.detach().numpy())


def test_untracked_forward_at_large_batch_matches_the_graph_path():
    """At batches where the layers run their compiled row loops, the array path makes each
    layer's input projections inside the loop (``ops.rnn.lstm_layer_arrays``): the graph
    path's values, to float32 rounding, for stacked bidirectional batch-first layers."""
    gg.manual_seed(0)
    m = nn.LSTM(28, 64, num_layers=2, bidirectional=True, batch_first=True).eval()
    x = gg.tensor(np.random.default_rng(0).standard_normal((160, 28, 28)).astype(np.float32))
    ref = _outputs(m(x))
    assert ref[0].grad_fn is not None
    with gg.no_grad():
        got = _outputs(m(x))
    for r, g in zip(ref, got):
        assert g.grad_fn is None and g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(g.numpy(), r.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_untracked_forward_leaves_errors_and_training_to_the_graph_path():
    m = nn.LSTM(5, 4, num_layers=2, dropout=0.5)
    with gg.no_grad():
        with pytest.raises(ValueError, match="input.size\\(-1\\) must be equal to input_size"):
            m(gg.zeros(6, 2, 3))
        with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 2, 4\)"):
            m(gg.zeros(6, 2, 5), (gg.zeros(1, 2, 4), gg.zeros(2, 2, 4)))
        with pytest.raises(TypeError, match="input dtype float64 does not match"):
            m(gg.zeros(6, 2, 5, dtype=gg.float64))
        gg.manual_seed(0)
        a = m(gg.ones(6, 2, 5))[0].numpy()      # training: dropout between the layers
        gg.manual_seed(1)
        b = m(gg.ones(6, 2, 5))[0].numpy()
    assert not np.array_equal(a, b)
    x = gg.randn(4, 1, 5)
    with gg.no_grad():
        y0 = m.eval()(x)[0].numpy()
    assert np.array_equal(y0, m(x)[0].detach().numpy())
