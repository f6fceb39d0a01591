"""glassgrad.func.vmap over the recurrent layers' own weights (per-sample gradients of an
LSTM/GRU model through vmap(grad), an ensemble of RNNs): batched, without the loop's
warning, equal (float64, 1e-10) to a loop of single-sample ``glassgrad.autograd.grad`` and
to torch per sample (torch.func.vmap has no batching rule for torch's fused RNN kernels)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import func as gf
from glassgrad.func import _vmap
from glassgrad.ops import kernels
from glassgrad.ops import rnn as RN
from oracle import needs_torch, torch

pytestmark = [needs_torch, pytest.mark.usefixtures("float64_default")]
TOL = dict(rtol=1e-10, atol=1e-10)
rng = np.random.default_rng(5)
N, T, IN, H, C = 4, 5, 3, 4, 3



def classifier(nn, kind, kw):
    """An RNN (batch_first) and a Linear on its last step."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(IN, H, batch_first=True, **kw)
            self.fc = nn.Linear(H * (2 if kw.get("bidirectional") else 1), C)

        def forward(self, x):
            return self.fc(self.rnn(x)[0][:, -1])
    return Net()


def pair(kind, kw):
    gm, tm = classifier(gg.nn, kind, kw), classifier(torch.nn, kind, kw)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in gm.state_dict().items()})
    return gm, tm


def no_fallback(f, in_dims):
    """vmap(f) that fails on any warning and asserts ``f`` ran once (batched)."""
    calls = [0]

    def g(*a):
        calls[0] += 1
        return f(*a)

    def run(*args):
        _vmap._WARNED.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = gf.vmap(g, in_dims)(*args)
        assert calls[0] == 1
        return out
    return run


def per_sample_loop(fw, m, x, y):
    """Per-sample gradients as a loop of single-sample ``autograd.grad`` calls, with ``fw``
    glassgrad or torch (the same names in both)."""
    names = [k for k, _ in m.named_parameters()]
    params = [p for _, p in m.named_parameters()]
    rows = []
    for i in range(x.shape[0]):
        loss = fw.nn.functional.cross_entropy(m(fw.tensor(x[i:i + 1])), fw.tensor(y[i:i + 1]))
        rows.append([g.numpy() for g in fw.autograd.grad(loss, params)])
    return {k: np.stack([r[j] for r in rows]) for j, k in enumerate(names)}


CASES = [
    ("LSTM", {}, "numba"),
    ("LSTM", {"bidirectional": True, "num_layers": 2}, "numba"),
    ("GRU", {}, "numba"),         # GRULayer nodes (with the compiled kernels)
    ("GRU", {}, "numpy"),         # the chain of GRU cells (NumPy loops)
    ("GRU", {"bidirectional": True, "num_layers": 2}, "numba"),
    ("GRU", {"bidirectional": True, "num_layers": 2}, "numpy"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{k}{i}-{b}" for i, (k, _, b) in enumerate(CASES)])
def test_per_sample_grads_of_rnn_classifier(case):
    kind, kw, backend = case
    if backend == "numba" and kernels.backend() != "numba":
        pytest.skip("the compiled kernels are not installed")
    gm, tm = pair(kind, kw)
    x, y = rng.normal(size=(N, T, IN)), rng.integers(0, C, size=N)

    def loss(p, xi, yi):
        out = gf.functional_call(gm, p, (xi.unsqueeze(0),))
        return gg.nn.functional.cross_entropy(out, yi.unsqueeze(0))

    params = {k: v.detach() for k, v in gm.named_parameters()}
    with kernels.using(backend):
        got = no_fallback(gf.grad(loss), (None, 0, 0))(params, gg.tensor(x), gg.tensor(y))
        mine = per_sample_loop(gg, gm, x, y)
    want = per_sample_loop(torch, tm, x, y)
    assert set(got) == set(want) == set(mine)
    for k in want:
        assert got[k].shape == (N,) + tuple(params[k].shape)
        np.testing.assert_allclose(got[k].numpy(), want[k], err_msg=k, **TOL)
        np.testing.assert_allclose(got[k].numpy(), mine[k], err_msg=k, **TOL)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_ensemble_of_rnns_over_stacked_weights(kind):
    """vmap over an ensemble's stacked parameters (in_dims=0; real per-model weights, not
    a broadcast leaf): outputs and each model's gradients, inputs shared or per model."""
    M = 3
    kw = {"bidirectional": True}
    pairs = [pair(kind, kw) for _ in range(M)]
    params, _ = gf.stack_module_state([g for g, _ in pairs])
    base = pairs[0][0]
    x, y = rng.normal(size=(N, T, IN)), rng.integers(0, C, size=N)
    xm = rng.normal(size=(M, N, T, IN))

    out = no_fallback(lambda p, xi: gf.functional_call(base, p, (xi,)), (0, None))(params, gg.tensor(x))
    out_m = no_fallback(lambda p, xi: gf.functional_call(base, p, (xi,)), (0, 0))(params, gg.tensor(xm))
    for j, (_, tm) in enumerate(pairs):
        np.testing.assert_allclose(out.detach().numpy()[j], tm(torch.tensor(x)).detach().numpy(), **TOL)
        np.testing.assert_allclose(out_m.detach().numpy()[j], tm(torch.tensor(xm[j])).detach().numpy(), **TOL)

    def loss(p, xi, yi):
        return gg.nn.functional.cross_entropy(gf.functional_call(base, p, (xi,)), yi)

    got = no_fallback(gf.grad(loss), (0, None, None))(
        {k: v.detach() for k, v in params.items()}, gg.tensor(x), gg.tensor(y))
    for j, (_, tm) in enumerate(pairs):
        names = [k for k, _ in tm.named_parameters()]
        tl = torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
        for k, g in zip(names, torch.autograd.grad(tl, list(tm.parameters()))):
            np.testing.assert_allclose(got[k].numpy()[j], g.numpy(), err_msg=k, **TOL)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
def test_per_sample_grads_of_cells(kind):
    """The fused cells with batched weights: two steps of a cell, per-sample grads."""
    gm, tm = getattr(gg.nn, kind)(IN, H), getattr(torch.nn, kind)(IN, H)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in gm.state_dict().items()})
    x = rng.normal(size=(N, 2, 2, IN))   # per sample: 2 steps of a batch of 2
    lstm = kind == "LSTMCell"

    def run(mod, m, p, xi):
        call = (lambda *a: mod.func.functional_call(m, p, a)) if p is not None else m
        s = call(xi[0])
        s = call(xi[1], s)
        return ((s[0] ** 2).sum() + s[1].sum()) if lstm else (s ** 3).sum()

    params = {k: v.detach() for k, v in gm.named_parameters()}
    got = no_fallback(gf.grad(lambda p, xi: run(gg, gm, p, xi)), (None, 0))(params, gg.tensor(x))
    names = [k for k, _ in tm.named_parameters()]
    for i in range(N):
        tg = torch.autograd.grad(run(torch, tm, None, torch.tensor(x[i])), list(tm.parameters()))
        for k, g in zip(names, tg):
            np.testing.assert_allclose(got[k].numpy()[i], g.numpy(), err_msg=k, **TOL)


def test_lstm_with_lengths_per_sample_grads():
    """Variable lengths run the LSTM as a chain of fused cells: batched weights there too."""
    gm, tm = pair("LSTM", {})
    x = rng.normal(size=(N, 2, T, IN))
    lens = [5, 3]

    def make(mod, m):
        return lambda p, xi: (mod.func.functional_call(m.rnn, p, (xi,), {"lengths": lens})[0] ** 2).sum()

    def tloss(xi):
        packed = torch.nn.utils.rnn.pack_padded_sequence(xi, lens, batch_first=True)
        out = torch.nn.utils.rnn.pad_packed_sequence(tm.rnn(packed)[0], batch_first=True, total_length=T)[0]
        return (out ** 2).sum()

    params = {k: v.detach() for k, v in gm.rnn.named_parameters()}
    got = no_fallback(gf.grad(make(gg, gm)), (None, 0))(params, gg.tensor(x))
    names = [k for k, _ in tm.rnn.named_parameters()]
    for i in range(N):
        for k, g in zip(names, torch.autograd.grad(tloss(torch.tensor(x[i])), list(tm.rnn.parameters()))):
            np.testing.assert_allclose(got[k].numpy()[i], g.numpy(), err_msg=k, **TOL)


def test_reverse_layer_op_with_batched_weights_and_unbatched_input():
    """LSTMLayer/GRULayer called directly: reverse=True, shared xproj, batched w_hh and b_hh."""
    B = 3
    xp4, xp3 = rng.normal(size=(T, 2, 4 * H)), rng.normal(size=(T, 2, 3 * H))
    h0 = rng.normal(size=(2, H))
    w4, w3, b3 = rng.normal(size=(B, 4 * H, H)), rng.normal(size=(B, 3 * H, H)), rng.normal(size=(B, 3 * H))
    lstm = no_fallback(lambda w: RN.LSTMLayer.apply(gg.tensor(xp4), gg.tensor(h0), gg.tensor(h0), w,
                                                    reverse=True), 0)(gg.tensor(w4))
    gru = no_fallback(lambda w, b: RN.GRULayer.apply(gg.tensor(xp3), gg.tensor(h0), w, b, reverse=True),
                      0)(gg.tensor(w3), gg.tensor(b3))
    for i in range(B):
        one = RN.LSTMLayer.apply(gg.tensor(xp4), gg.tensor(h0), gg.tensor(h0), gg.tensor(w4[i]), reverse=True)
        for a, b in zip(lstm, one):
            np.testing.assert_allclose(a.numpy()[i], b.numpy(), **TOL)
        one = RN.GRULayer.apply(gg.tensor(xp3), gg.tensor(h0), gg.tensor(w3[i]), gg.tensor(b3[i]),
                                reverse=True)
        for a, b in zip(gru, one):
            np.testing.assert_allclose(a.numpy()[i], b.numpy(), **TOL)


def test_bad_shapes_with_batched_weights_fall_back_to_the_ops_error():
    """A batched weight_hh of the wrong shape: the loop runs and raises the op's own error."""
    _vmap._WARNED.clear()
    xp, h0 = gg.tensor(rng.normal(size=(T, 2, 4 * H))), gg.tensor(rng.normal(size=(2, H)))
    with pytest.warns(UserWarning, match="LSTMLayer with per-sample recurrent weights and unexpected"):
        with pytest.raises(ValueError, match="weight_hh must have shape"):
            wrong = gg.tensor(rng.normal(size=(3, 4 * H, H + 1)))
            gf.vmap(lambda w: RN.LSTMLayer.apply(xp, h0, h0, w))(wrong)


@pytest.mark.parametrize("lstm", [True, False], ids=["LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_shared_weight_layer_grads_and_double_backward(lstm, reverse):
    """SharedWeight{LSTM,GRU}Layer (the fused layer over B·N sequences with grad's broadcast
    weight): outputs, per-sample dW_hh/db_hh and, under create_graph, the gradient of
    Σ|dW|² — each equal to the fused layer run sample by sample."""
    from glassgrad.autograd import grad as agrad
    from glassgrad.func._batched_rnn import SharedWeightGRULayer, SharedWeightLSTMLayer

    B, n, G = 3, 2, 4 if lstm else 3
    xp = gg.tensor(rng.normal(size=(T, B * n, G * H)), requires_grad=True)
    h0 = gg.tensor(rng.normal(size=(B * n, H)), requires_grad=True)
    w1, b1 = rng.normal(size=(G * H, H)), rng.normal(size=(G * H,))
    wB = gg.Tensor._make(np.broadcast_to(w1, (B, G * H, H)), True)
    bB = gg.Tensor._make(np.broadcast_to(b1, (B, G * H)), True)

    def loss_of(res):
        return (res[0] ** 2).sum() + (res[1] ** 3).sum() + (res[2].sum() if lstm else 0)

    if lstm:
        res = SharedWeightLSTMLayer.apply(xp, h0, h0 * 0.5, wB, reverse=reverse)
        params = [wB]
    else:
        res = SharedWeightGRULayer.apply(xp, h0, wB, bB, reverse=reverse)
        params = [wB, bB]
    gs = agrad(loss_of(res), params, create_graph=True)
    second = agrad(sum((g ** 2).sum() for g in gs), [xp, h0])
    # the same, one sample at a time through the fused layer
    W, bb = gg.tensor(w1, requires_grad=True), gg.tensor(b1, requires_grad=True)
    want_out, want_g, want_second = [], [[] for _ in params], [0, 0]
    for s in range(B):
        rows = slice(s * n, (s + 1) * n)
        xs, hs = xp[:, rows], h0[rows]
        r1 = (RN.LSTMLayer.apply(xs, hs, hs * 0.5, W, reverse=reverse) if lstm
              else RN.GRULayer.apply(xs, hs, W, bb, reverse=reverse))
        want_out.append(r1[0].detach().numpy())
        g1 = agrad(loss_of(r1), [W] if lstm else [W, bb], create_graph=True)
        for j, g in enumerate(g1):
            want_g[j].append(g.detach().numpy())
        s1 = agrad(sum((g ** 2).sum() for g in g1), [xp, h0])
        want_second = [a + b.numpy() for a, b in zip(want_second, s1)]
    np.testing.assert_allclose(res[0].detach().numpy(), np.concatenate(want_out, 1), **TOL)
    for g, w in zip(gs, want_g):
        np.testing.assert_allclose(g.detach().numpy(), np.stack(w), **TOL)
    for g, w in zip(second, want_second):
        np.testing.assert_allclose(g.numpy(), w, **TOL)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_vmap_of_grad_of_grad_norm(kind):
    """vmap(grad(Σ|grad(loss)|²)) over an RNN's own parameters (double backward through the
    batched recurrence) equals torch per sample."""
    gm = getattr(gg.nn, kind)(IN, H, bidirectional=True)
    tm = getattr(torch.nn, kind)(IN, H, bidirectional=True)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in gm.state_dict().items()})
    x = rng.normal(size=(N, 3, 2, IN))

    def make(mod, m):
        inner = lambda p, xi: (mod.func.functional_call(m, p, (xi,))[0] ** 3).sum()  # noqa: E731
        return lambda p, xi: sum((v ** 2).sum() for v in mod.func.grad(inner)(p, xi).values())

    params = {k: v.detach() for k, v in gm.named_parameters()}
    got = no_fallback(gf.grad(make(gg, gm)), (None, 0))(params, gg.tensor(x))
    tp = {k: v.detach() for k, v in tm.named_parameters()}
    for i in range(N):
        tg = torch.func.grad(make(torch, tm))(tp, torch.tensor(x[i]))
        for k in tg:
            np.testing.assert_allclose(got[k].numpy()[i], tg[k].numpy(), err_msg=k, **TOL)


EDGE = [({"bias": False}, (4, 2, IN)), ({}, (1, 2, IN)), ({"bidirectional": True}, (4, IN)),
        ({"num_layers": 2}, (1, 1, IN))]


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("case", EDGE, ids=["nobias", "T1", "unbatched_seq", "2layers_T1"])
def test_per_sample_grads_with_given_state_and_edge_shapes(kind, case):
    """Per-sample gradients of the parameters and of a batched h_0 (bias=False, T = 1,
    unbatched (T, in) sequences) equal torch per sample."""
    kw, shape = case
    gm, tm = getattr(gg.nn, kind)(IN, H, **kw), getattr(torch.nn, kind)(IN, H, **kw)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in gm.state_dict().items()})
    L = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    x, h = rng.normal(size=(N,) + shape), rng.normal(size=(N, L) + shape[1:-1] + (H,))
    lstm = kind == "LSTM"

    def make(mod, m):
        def f(p, xi, hi):
            o, s = mod.func.functional_call(m, p, (xi, (hi, hi * 2) if lstm else hi))
            return (o ** 2).sum() + ((s[1] if lstm else s) ** 3).sum()
        return f

    params = {k: v.detach() for k, v in gm.named_parameters()}
    gp, gh = no_fallback(gf.grad(make(gg, gm), argnums=(0, 2)), (None, 0, 0))(
        params, gg.tensor(x), gg.tensor(h))
    tp = {k: v.detach() for k, v in tm.named_parameters()}
    for i in range(N):
        tgp, tgh = torch.func.grad(make(torch, tm), argnums=(0, 2))(
            tp, torch.tensor(x[i]), torch.tensor(h[i]))
        np.testing.assert_allclose(gh.numpy()[i], tgh.numpy(), **TOL)
        for k in tgp:
            np.testing.assert_allclose(gp[k].numpy()[i], tgp[k].numpy(), err_msg=k, **TOL)
