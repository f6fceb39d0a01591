"""Fused recurrent cells (glassgrad.ops.rnn): equal to the composition of primitive ops,
to PyTorch, to finite differences, and twice differentiable."""

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.ops import rnn as R
from oracle import check_double_backward, check_op, needs_torch

B, H = 3, 4


def _torch_lstm(xp, h, c, w):
    a = xp + h @ w.T
    i, f, g, o = a.chunk(4, 1)
    cn = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * cn.tanh(), cn


def _torch_gru(xp, h, w, b):
    hp = h @ w.T + b
    xr, xz, xn = xp.chunk(3, 1)
    hr, hz, hn = hp.chunk(3, 1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h


LSTM_SHAPES = [(B, 4 * H), (B, H), (B, H), (4 * H, H)]
GRU_SHAPES = [(B, 3 * H), (B, H), (3 * H, H), (3 * H,)]


@needs_torch
def test_lstm_cell_fused_matches_torch_and_gradcheck():
    check_op(lambda xp, h, c, w: R.LSTMCellFused.apply(xp, h, c, w), shapes=LSTM_SHAPES,
             torch_fn=_torch_lstm)


@needs_torch
def test_lstm_cell_fused_only_h_or_only_c_used():
    # one output unused: the engine passes zeros for it
    check_op(lambda xp, h, c, w: R.LSTMCellFused.apply(xp, h, c, w)[0], shapes=LSTM_SHAPES,
             torch_fn=lambda *a: _torch_lstm(*a)[0], gradcheck=False)
    check_op(lambda xp, h, c, w: R.LSTMCellFused.apply(xp, h, c, w)[1], shapes=LSTM_SHAPES,
             torch_fn=lambda *a: _torch_lstm(*a)[1], gradcheck=False)


def test_lstm_cell_fused_equals_composed():
    arrs = [np.random.default_rng(s).standard_normal(sh) for s, sh in enumerate(LSTM_SHAPES)]
    outs = {}
    for fused in (True, False):
        ins = [gg.tensor(a, requires_grad=True) for a in arrs]
        h, c = R.lstm_cell(*ins, fused=fused)
        ((h * 1.5).sum() + (c * c).sum()).backward()
        outs[fused] = [h.detach().numpy(), c.detach().numpy()] + [t.grad.numpy() for t in ins]
    for a, b in zip(outs[True], outs[False]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@needs_torch
def test_lstm_cell_double_backward():
    f = lambda xp, h, c, w: R.LSTMCellFused.apply(xp, h, c, w)[0] * R.LSTMCellFused.apply(xp, h, c, w)[1]
    check_double_backward(f, shapes=LSTM_SHAPES, torch_fn=lambda *a: _torch_lstm(*a)[0] * _torch_lstm(*a)[1])


@needs_torch
def test_gru_cell_fused_matches_torch_and_double_backward():
    check_op(lambda xp, h, w, b: R.GRUCellFused.apply(xp, h, w, b), shapes=GRU_SHAPES,
             torch_fn=_torch_gru)
    check_double_backward(lambda xp, h, w, b: R.GRUCellFused.apply(xp, h, w, b), shapes=GRU_SHAPES,
                          torch_fn=_torch_gru)


@needs_torch
def test_gru_cell_without_bias():
    import torch

    check_op(lambda xp, h, w: R.GRUCellFused.apply(xp, h, w, None), shapes=GRU_SHAPES[:3],
             torch_fn=lambda xp, h, w: _torch_gru(xp, h, w, torch.zeros(3 * H, dtype=xp.dtype)))


def test_gru_cell_fused_equals_composed():
    arrs = [np.random.default_rng(s).standard_normal(sh) for s, sh in enumerate(GRU_SHAPES)]
    outs = {}
    for fused in (True, False):
        ins = [gg.tensor(a, requires_grad=True) for a in arrs]
        h = R.gru_cell(*ins, fused=fused)
        (h * h).sum().backward()
        outs[fused] = [h.detach().numpy()] + [t.grad.numpy() for t in ins]
    for a, b in zip(outs[True], outs[False]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_cells_keep_float32():
    ins = [gg.tensor(np.ones(s, np.float32), requires_grad=True) for s in LSTM_SHAPES]
    h, c = R.lstm_cell(*ins)
    (h.sum() + c.sum()).backward()
    assert h.dtype == c.dtype == np.float32
    assert all(t.grad.dtype == np.float32 for t in ins)


def test_cell_errors_name_op_and_shapes():
    with pytest.raises(ValueError, match=r"lstm_cell: weight_hh must have shape"):
        R.lstm_cell(gg.zeros(2, 8), gg.zeros(2, 2), gg.zeros(2, 2), gg.zeros(7, 2))
    with pytest.raises(ValueError, match=r"lstm_cell: input projection must have shape \(2, 8\)"):
        R.lstm_cell(gg.zeros(2, 6), gg.zeros(2, 2), gg.zeros(2, 2), gg.zeros(8, 2))
    with pytest.raises(ValueError, match=r"lstm_cell: hidden state"):
        R.lstm_cell(gg.zeros(2, 8), gg.zeros(2, 3), gg.zeros(2, 2), gg.zeros(8, 2))
    with pytest.raises(TypeError, match="dtypes differ"):
        R.lstm_cell(gg.zeros(2, 8, dtype=gg.float64), gg.zeros(2, 2), gg.zeros(2, 2), gg.zeros(8, 2))
    with pytest.raises(ValueError, match=r"gru_cell: bias_hh must have shape \(6,\)"):
        R.gru_cell(gg.zeros(2, 6), gg.zeros(2, 2), gg.zeros(6, 2), gg.zeros(5))


def test_unbind_steps_one_node_and_gradient():
    x = gg.tensor(np.arange(24.0).reshape(4, 2, 3), requires_grad=True)
    steps = R.unbind_steps(x)
    assert len(steps) == 4 and steps[0].grad_fn is steps[3].grad_fn
    (steps[1] * 2 + steps[3]).sum().backward()   # steps 0 and 2 get no gradient -> zeros
    expect = np.zeros((4, 2, 3))
    expect[1], expect[3] = 2, 1
    np.testing.assert_array_equal(x.grad.numpy(), expect)
    (single,) = R.unbind_steps(gg.ones(1, 2))
    assert single.shape == (2,)


@pytest.mark.parametrize("T,B", [(4, 3), (6, 128)])   # the small-input loop and the large one
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer_without_grad_reuses_one_step_of_scratch_same_values(T, B, reverse):
    """Without a backward to feed, LSTMLayer keeps one step's gates and cell states instead
    of all T: the outputs are the same, bit for bit."""
    from glassgrad.ops._rnn_loops import _Ring
    from glassgrad.ops.rnn import LSTMLayer

    rng = np.random.default_rng(12)
    H = 128
    xa = rng.standard_normal((T, B, 4 * H)).astype(np.float32)
    h0, c0 = (rng.standard_normal((B, H)).astype(np.float32) for _ in range(2))
    w = (rng.standard_normal((4 * H, H)) * 0.1).astype(np.float32)
    with_grad = LSTMLayer.apply(*(gg.Tensor._make(a, True) for a in (xa, h0, c0, w)), reverse=reverse)
    with gg.no_grad():
        out = LSTMLayer.apply(*(gg.tensor(a) for a in (xa, h0, c0, w)), reverse=reverse)
    for a, b in zip(with_grad, out):
        np.testing.assert_array_equal(a.detach().numpy(), b.numpy())
    ring = _Ring(np, 2, (2, 3), np.float32)
    ring[0] = 1.0
    ring[1] = 2.0
    assert ring[2][0, 0] == 1.0 and ring[3][0, 0] == 2.0 and ring[4] is ring[0]
