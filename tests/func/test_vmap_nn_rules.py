"""glassgrad.func.vmap's batching rules of the layer ops (convolution, pooling, norms,
embedding, dropout, recurrent layers, attention) against torch.func.vmap and the
per-sample loop (float64, 1e-10): batched without a fallback warning where covered,
correct through the loop where not; per-sample gradients through vmap(grad); vmap's
``randomness``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import func as gf
from glassgrad.func import _vmap
from oracle import _to_np, needs_torch, torch

pytestmark = [needs_torch, pytest.mark.usefixtures("float64_default")]
TOL = dict(rtol=1e-10, atol=1e-10)
rng = np.random.default_rng(11)
B = 3



_np = _to_np


def _flat(out):
    return [_np(o) for o in out] if isinstance(out, (tuple, list)) else [_np(out)]


def batched(f, args, in_dims=0, out_dims=0, **kw):
    """gg's vmap, asserting it ran batched: one call of f, no warning at all."""
    calls = [0]

    def g(*a):
        calls[0] += 1
        return f(*a)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gf.vmap(g, in_dims, out_dims, **kw)(*args)
    assert calls[0] == 1
    return out


def loop(f, args, in_dims, out_dims):
    """The per-sample loop written out (independent of vmap)."""
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    n = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    outs = [f(*[a if d is None else _take(a, i, d) for a, d in zip(args, dims)]) for i in range(n)]
    cols = list(zip(*[_flat(o) for o in outs]))
    return [np.stack(c, out_dims) for c in cols]


def _take(a, i, d):
    return gg.tensor(np.take(a.numpy(), i, axis=d)) if isinstance(a, gg.Tensor) else \
        torch.tensor(np.take(a.numpy(), i, axis=d))


def _tensors(mod, arrays):
    return [mod.tensor(a) for a in arrays]


def check(f, arrays, in_dims=0, out_dims=0, torch_vmap=True):
    ga, ta = _tensors(gg, arrays), _tensors(torch, arrays)
    got = _flat(batched(lambda *a: f(gg, gg.nn.functional, *a), ga, in_dims, out_dims))
    if torch_vmap:
        want = _flat(torch.func.vmap(lambda *a: f(torch, torch.nn.functional, *a), in_dims, out_dims)(*ta))
    else:
        want = loop(lambda *a: f(torch, torch.nn.functional, *a), ta, in_dims, out_dims)
    mine = loop(lambda *a: f(gg, gg.nn.functional, *a), ga, in_dims, out_dims)
    assert len(got) == len(want)
    for g, w, m in zip(got, want, mine):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, **TOL)
        np.testing.assert_allclose(g, m, **TOL)


def R(*shape):
    return rng.normal(size=shape)


P = lambda *shape: rng.uniform(0.5, 2.0, size=shape)  # noqa: E731
I = lambda hi, *shape: rng.integers(0, hi, size=shape)  # noqa: E731,E741

W2, b2 = R(4, 3, 3, 3), R(4)
Wg = R(4, 2, 3, 3)  # groups=2 for 4 input channels
Wt = R(3, 2, 3, 3)  # conv_transpose2d: (Cin, Cout/G, kh, kw)

CASES = [
    # ---- convolution: the batch folded into N
    ("conv1d", lambda T, F, x, w, b: F.conv1d(x, w, b, padding=1), [R(B, 2, 3, 7), R(4, 3, 3), R(4)],
     (0, None, None), 0),
    ("conv2d_stride_dil", lambda T, F, x, w, b: F.conv2d(x, w, b, stride=2, padding=2, dilation=2),
     [R(B, 2, 3, 8, 7), W2, b2], (0, None, None), 0),
    ("conv2d_unbatched_logical", lambda T, F, x, w: F.conv2d(x, w, padding="same"), [R(B, 3, 6, 6), W2],
     (0, None), 0),
    ("conv2d_groups_in_dim1", lambda T, F, x, w: F.conv2d(x, w, groups=2), [R(2, B, 4, 5, 5), Wg],
     (1, None), 0),
    ("conv3d", lambda T, F, x, w, b: F.conv3d(x, w, b, padding=1), [R(B, 2, 2, 4, 4, 3), R(3, 2, 3, 3, 2),
                                                                    R(3)], (0, None, None), 0),
    ("conv2d_batched_bias", lambda T, F, x, w, b: F.conv2d(x, w, b), [R(B, 2, 3, 5, 5), W2, R(B, 4)],
     (0, None, 0), 0),
    ("conv_transpose1d_only_bias_batched", lambda T, F, x, w, b: F.conv_transpose1d(x, w, b, stride=2),
     [R(2, 3, 5), R(3, 4, 3), R(B, 4)], (None, None, 0), 0),
    # ---- convolution: per-sample weights (the groups trick)
    ("conv2d_batched_w", lambda T, F, x, w, b: F.conv2d(x, w, b, padding=1, stride=(1, 2)),
     [R(B, 2, 3, 6, 6), R(B, 4, 3, 3, 3), R(B, 4)], 0, 0),
    ("conv2d_batched_w_groups", lambda T, F, x, w, b: F.conv2d(x, w, b, groups=2),
     [R(B, 2, 4, 5, 5), R(B, 4, 2, 3, 3), R(4)], (0, 0, None), 0),
    ("conv1d_x_unbatched", lambda T, F, x, w: F.conv1d(x, w), [R(2, 3, 6), R(B, 5, 3, 2)], (None, 0), 0),
    ("conv2d_w_in_dim_out_dim", lambda T, F, x, w: F.conv2d(x, w), [R(B, 2, 3, 5, 5), R(4, B, 3, 3, 3)],
     (0, 1), 1),
    # ---- transposed convolution
    ("conv_transpose2d", lambda T, F, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                                  output_padding=1, groups=1),
     [R(B, 2, 3, 4, 4), R(3, 4, 3, 3), R(4)], (0, None, None), 0),
    ("conv_transpose1d_groups", lambda T, F, x, w: F.conv_transpose1d(x, w, groups=3, stride=2),
     [R(B, 2, 3, 5), R(3, 2, 3)], (0, None), 0),
    ("conv_transpose2d_batched_w", lambda T, F, x, w, b: F.conv_transpose2d(x, w, b, stride=2),
     [R(B, 2, 3, 4, 4), R(B, 3, 2, 3, 3), R(B, 2)], 0, 0),
    ("conv_transpose2d_batched_w_groups", lambda T, F, x, w: F.conv_transpose2d(x, w, groups=3, padding=1),
     [R(B, 2, 3, 4, 4), R(B, 3, 1, 3, 3)], 0, 0),
    # ---- pooling
    ("max_pool2d", lambda T, F, x: F.max_pool2d(x, 2) + F.max_pool2d(x, 3, 2, 1, ceil_mode=True)[..., :2, :2],
     [R(B, 2, 3, 5, 5)], 0, 0),
    ("max_pool2d_indices", lambda T, F, x: F.max_pool2d(x, 2, 1, return_indices=True), [R(B, 3, 5, 4)], 0, 0),
    ("max_pool1d_dil", lambda T, F, x: F.max_pool1d(x, 2, dilation=2), [R(2, 3, B, 9)], 2, 0),
    ("max_pool3d", lambda T, F, x: F.max_pool3d(x, 2), [R(B, 1, 2, 4, 4, 4)], 0, 0),
    ("avg_pool2d", lambda T, F, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False) + 1,
     [R(B, 2, 3, 6, 6)], 0, 0),
    ("avg_pool1d_3d", lambda T, F, x, y: F.avg_pool1d(x, 2).sum() + F.avg_pool3d(y, 2, ceil_mode=True).sum(),
     [R(B, 2, 3, 6), R(B, 2, 3, 3, 4, 4)], 0, 0),
    ("adaptive_avg_pool2d",
     lambda T, F, x: F.adaptive_avg_pool2d(x, (2, 3)) * 1 + F.adaptive_avg_pool2d(x, 1).sum(),
     [R(B, 2, 3, 5, 7)], 0, 0),
    # ---- normalization
    ("layer_norm", lambda T, F, x, w, b: F.layer_norm(x, (3, 4), w, b), [R(B, 2, 3, 4), R(3, 4), R(3, 4)],
     (0, None, None), 0),
    ("layer_norm_batched_w", lambda T, F, x, w, b: F.layer_norm(x, (4,), w, b), [R(B, 2, 4), R(B, 4), R(4)],
     (0, 0, None), 0),
    ("layer_norm_x_unbatched", lambda T, F, x, w: F.layer_norm(x, (4,), w), [R(2, 4), R(B, 4)], (None, 0), 0),
    ("batch_norm_eval", lambda T, F, x, m, v, w, b: F.batch_norm(x, m, v, w, b, training=False),
     [R(B, 5, 3, 4), R(3), P(3), R(3), R(3)], (0, None, None, None, None), 0),
    ("batch_norm_eval_batched_w", lambda T, F, x, m, v, w, b: F.batch_norm(x, m, v, w, b, training=False),
     [R(B, 5, 3), R(3), P(3), R(B, 3), R(3)], (0, None, None, 0, None), 0),
    ("batch_norm_train", lambda T, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     [R(B, 4, 3, 5), R(3), R(3)], (0, None, None), 0),
    ("batch_norm_train_batched_w", lambda T, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     [R(B, 4, 3), R(B, 3), R(B, 3)], 0, 0),
    ("batch_norm_train_x_unbatched", lambda T, F, x, w: F.batch_norm(x, None, None, w, None, training=True),
     [R(4, 3, 2), R(B, 3)], (None, 0), 0),
    ("group_norm", lambda T, F, x, w, b: F.group_norm(x, 2, w, b), [R(B, 3, 4, 5), R(4), R(4)],
     (0, None, None), 0),
    ("instance_norm", lambda T, F, x: F.instance_norm(x), [R(B, 2, 3, 6)], 0, 0),
    # ---- embedding
    ("embedding", lambda T, F, i, w: F.embedding(i, w), [I(6, B, 2, 3), R(6, 4)], (0, None), 0),
    ("embedding_batched_w", lambda T, F, i, w: F.embedding(i, w), [I(6, B, 5), R(B, 6, 4)], 0, 0),
    ("embedding_idx_unbatched", lambda T, F, i, w: F.embedding(i, w), [I(6, 2, 3), R(6, B, 4)], (None, 1), 0),
    # ---- attention
    ("sdpa", lambda T, F, q, k, v: F.scaled_dot_product_attention(q, k, v), [R(B, 2, 4, 3), R(B, 2, 5, 3),
                                                                          R(B, 2, 5, 2)], 0, 0),
    ("sdpa_kv_unbatched", lambda T, F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [R(B, 4, 3), R(2, 4, 3), R(4, 2)], (0, None, None), 0),
    ("sdpa_mask_batched", lambda T, F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m > 0),
     [R(B, 2, 4, 3), R(2, 5, 3), R(B, 2, 5, 3), R(4, B, 5) + 2], (0, None, 0, 1), 0),
    ("sdpa_float_mask",
     lambda T, F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3),
     [R(B, 4, 3), R(B, 5, 3), R(B, 5, 3), R(4, 5)], (0, 0, 0, None), 0),
    # ---- edge shapes
    ("batch_of_one", lambda T, F, x, w: F.max_pool2d(F.conv2d(x, w, padding=1), 2), [R(1, 2, 3, 4, 4), W2],
     (0, None), 0),
    ("out_dims_2", lambda T, F, x, w: F.conv2d(x, w), [R(B, 2, 3, 4, 4), W2], (0, None), 2),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_batched_equals_torch_and_loop(case):
    name, f, arrays, in_dims, out_dims = case
    check(f, arrays, in_dims, out_dims)


def test_embedding_padding_idx_batched_weight_values_and_grads():
    idx, w = I(5, B, 4), R(5, 3)
    idx[0, 0] = 2

    def f(T, F):
        return lambda ww, ii: (F.embedding(ii, ww, padding_idx=2) ** 2).sum()

    got = batched(gf.grad(f(gg, gg.nn.functional)), [gg.tensor(w), gg.tensor(idx)], (None, 0))
    want = torch.func.vmap(torch.func.grad(f(torch, torch.nn.functional)), (None, 0))(
        torch.tensor(w), torch.tensor(idx))
    assert got.shape == (B, 5, 3)
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)
    assert np.all(got.numpy()[:, 2] == 0)


# ----------------------------------------------------------------------------- recurrent
def rnn_pair(kind, **kw):
    gm = getattr(gg.nn, kind)(3, 4, **kw)
    tm = getattr(torch.nn, kind)(3, 4, **kw)
    tm.load_state_dict({k: torch.tensor(v.array) for k, v in gm.state_dict().items()})
    return gm, tm


RNN_CASES = [
    ("LSTM", {}, (5, 2, 3), False),
    ("LSTM", {"batch_first": True, "num_layers": 2}, (2, 5, 3), True),
    ("LSTM", {"bidirectional": True}, (5, 3), False),  # unbatched sequences (T, in)
    ("GRU", {}, (5, 2, 3), True),
    ("GRU", {"batch_first": True, "bidirectional": True}, (2, 4, 3), False),
    ("LSTMCell", {}, (2, 3), True),
    ("GRUCell", {}, (2, 3), True),
    ("LSTMCell", {}, (3,), False),
]


@pytest.mark.parametrize("case", RNN_CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(RNN_CASES)])
def test_rnn_batched_over_inputs_and_states(case):
    kind, kw, shape, with_h = case
    gm, tm = rnn_pair(kind, **kw)
    cell = kind.endswith("Cell")
    x = R(B, *shape)
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    n = shape[0] if (cell and len(shape) == 2) else (shape[1] if len(shape) == 3 and not kw.get("batch_first")
                                                     else shape[0] if len(shape) == 3 else None)
    hshape = ((n,) if n is not None else ()) + (4,)
    if not cell:
        hshape = (L * D,) + hshape
    h = R(B, *hshape)
    lstm = kind.startswith("LSTM")

    def run(m, xi, hi=None):
        if hi is None:
            out = m(xi)
        else:
            out = m(xi, (hi, hi * 0.5) if lstm else hi)
        return out

    args = [x, h] if with_h else [x]
    got = _flat_all(batched(lambda *a: run(gm, *a), _tensors(gg, args)))
    want = _flat_all(loop(lambda *a: _flat_all(run(tm, *a)), _tensors(torch, args), 0, 0))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **TOL)
    # per-sample input gradients of a loss through the layer
    def loss(m):
        return lambda *a: sum((o ** 2).sum() for o in _leaves(run(m, *a)))
    gx = batched(gf.grad(loss(gm)), _tensors(gg, args))
    # (torch.func.vmap has no batching rule for torch's fused RNN kernels: torch per sample)
    tx = np.stack([_np(torch.func.grad(loss(tm))(*[torch.tensor(a[i]) for a in args])) for i in range(B)])
    np.testing.assert_allclose(_np(gx), _np(tx), **TOL)


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _leaves(o)]
    return [out]


def _flat_all(out):
    return out if isinstance(out, list) and out and isinstance(out[0], np.ndarray) else \
        [_np(o) for o in _leaves(out)]


# ----------------------------------------------------------------------------- vmap(grad)
def cnn_pair():
    def build(nn):
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(4, 6, 2, groups=2), nn.GroupNorm(2, 6), nn.Tanh(), nn.AvgPool2d(2),
                             nn.Flatten(), nn.Linear(6, 5), nn.LayerNorm(5), nn.Linear(5, 3))
    gm, tm = build(gg.nn), build(torch.nn)
    sd = {k: (P(*v.shape) if "running_var" in k else R(*v.shape) if "running_mean" in k else v.numpy())
          for k, v in gm.state_dict().items() if "num_batches" not in k}
    gm.load_state_dict({k: gg.tensor(v) for k, v in sd.items()}, strict=False)
    tm.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}, strict=False)
    gm.eval()
    tm.eval()
    return gm, tm


def test_vmap_grad_cnn_equals_torch_func():
    gm, tm = cnn_pair()
    x, y = R(4, 2, 6, 6), I(3, 4)

    def make(mod, m):
        def loss(p, xi, yi):
            out = mod.func.functional_call(m, p, (xi.unsqueeze(0),))
            return mod.nn.functional.cross_entropy(out, yi.unsqueeze(0))
        return loss

    gp = {k: v.detach() for k, v in gm.named_parameters()}
    tp = {k: v.detach() for k, v in tm.named_parameters()}
    g, v = batched(gf.grad_and_value(make(gg, gm)), [gp, gg.tensor(x), gg.tensor(y)], (None, 0, 0))
    tg, tv = torch.func.vmap(torch.func.grad_and_value(make(torch, tm)), in_dims=(None, 0, 0))(
        tp, torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(v.numpy(), tv.numpy(), **TOL)
    assert set(g) == set(tg)
    for k in tg:
        assert g[k].shape == (4,) + tuple(gp[k].shape)
        np.testing.assert_allclose(g[k].numpy(), tg[k].numpy(), err_msg=k, **TOL)


def test_vmap_grad_embedding_attention_conv_transpose_equals_torch_func():
    p = {"emb": R(7, 4), "wq": R(4, 4), "wt": R(4, 2, 3), "bt": R(2), "lnw": R(11), "lnb": R(11)}
    idx = I(7, B, 5)

    def make(T):
        F = T.nn.functional

        def loss(p, ii):
            e = F.embedding(ii, p["emb"])
            q = F.linear(e, p["wq"])
            e1 = e.unsqueeze(0)
            a = F.scaled_dot_product_attention(q.unsqueeze(0), e1, e1, is_causal=True)[0]
            h = F.conv_transpose1d(a.transpose(0, 1).unsqueeze(0), p["wt"], p["bt"], stride=2)
            h = F.layer_norm(h, (11,), p["lnw"], p["lnb"])
            return (h.tanh() ** 2).mean()
        return loss

    g = batched(gf.grad(make(gg)), [{k: gg.tensor(v) for k, v in p.items()}, gg.tensor(idx)], (None, 0))
    tg = torch.func.vmap(torch.func.grad(make(torch)), (None, 0))({k: torch.tensor(v) for k, v in p.items()},
                                                                  torch.tensor(idx))
    for k in p:
        np.testing.assert_allclose(g[k].numpy(), tg[k].numpy(), err_msg=k, **TOL)


def test_vmap_grad_batch_norm_training_without_running_stats():
    x, w, b = R(B, 4, 3, 2), R(3), R(3)

    def make(T):
        F = T.nn.functional
        return lambda ww, bb, xi: (F.batch_norm(xi, None, None, ww, bb, training=True) ** 3).sum()

    g = batched(gf.grad(make(gg), argnums=(0, 1, 2)), _tensors(gg, [w, b, x]), (None, None, 0))
    tg = torch.func.vmap(torch.func.grad(make(torch), argnums=(0, 1, 2)), (None, None, 0))(
        *_tensors(torch, [w, b, x]))
    for a, t in zip(g, tg):
        np.testing.assert_allclose(a.numpy(), t.numpy(), **TOL)


# ----------------------------------------------------------------------------- the fallback
def _warns_loop(f, args, in_dims, what):
    _vmap._WARNED.clear()
    calls = [0]

    def g(*a):
        calls[0] += 1
        return f(*a)

    with pytest.warns(UserWarning, match=f"no batching rule for {what}"):
        out = gf.vmap(g, in_dims)(*args)
    assert calls[0] == B + 1  # the batched try, then the loop
    return out


def test_uncovered_configurations_fall_back_and_stay_correct():
    # batch norm in training mode with running statistics: updated once per sample
    gbn, tbn = gg.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    x = R(B, 4, 3)
    got = _warns_loop(lambda a: gbn(a), [gg.tensor(x)], 0, "BatchNorm in training mode")
    want = np.stack([_np(tbn(torch.tensor(x[i]))) for i in range(B)])
    np.testing.assert_allclose(_np(got), want, **TOL)
    np.testing.assert_allclose(gbn.running_mean.numpy(), tbn.running_mean.numpy(), **TOL)
    np.testing.assert_allclose(gbn.running_var.numpy(), tbn.running_var.numpy(), **TOL)
    # an out-of-range embedding index: the loop raises the op's own error
    _vmap._WARNED.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(IndexError, match="embedding"):
            gf.vmap(gg.nn.functional.embedding)(gg.tensor(I(9, B, 2)), gg.tensor(R(B, 4, 2)))


# ----------------------------------------------------------------------------- randomness
def test_randomness_error_is_the_default():
    x = gg.ones(B, 5)
    F = gg.nn.functional
    for f in (lambda a: F.dropout(a, 0.5), lambda a: a + gg.randn(5),
              lambda a: F.scaled_dot_product_attention(a[None], a[None], a[None], dropout_p=0.5),
              lambda a: a * a.sum().item() + gg.rand(5)):  # (this one in the loop)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError, match="randomness='error'"):
                gf.vmap(f)(x)
    with pytest.raises(ValueError, match="randomness"):
        gf.vmap(lambda a: a, randomness="sometimes")


def test_randomness_different_dropout_runs_batched_with_independent_masks():
    x = gg.ones(B, 300)
    F = gg.nn.functional
    y = batched(lambda a: F.dropout(a, 0.5), [x], randomness="different").numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    assert not np.array_equal(y[0], y[1])
    # the backward uses the same mask as the forward
    g, v = batched(gf.grad_and_value(lambda a: F.dropout(a, 0.25).sum()), [x], randomness="different")
    assert set(np.unique(g.numpy())) == {0.0, 4 / 3}
    np.testing.assert_allclose(v.numpy(), g.numpy().sum(1), **TOL)
    # channel dropout: one draw per (sample, n, c), the same over the spatial positions
    y = batched(lambda a: F.dropout2d(a, 0.5), [gg.ones(B, 2, 8, 3, 3)], randomness="different").numpy()
    assert np.all(y == y[..., :1, :1])
    assert not np.array_equal(y[0], y[1])
    # attention dropout
    q = gg.tensor(R(B, 4, 3))
    o = batched(lambda a: F.scaled_dot_product_attention(a, a, a, dropout_p=0.3), [q], randomness="different")
    assert o.shape == (B, 4, 3)


def test_randomness_same_shares_the_draws():
    x = gg.ones(B, 300)
    y = batched(lambda a: gg.nn.functional.dropout(a, 0.5), [x], randomness="same").numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    assert all(np.array_equal(y[0], y[i]) for i in range(B))
    # other draws: the loop replays the generators from the same state for every sample
    _vmap._WARNED.clear()
    gen = gg.Generator(3)
    with pytest.warns(UserWarning, match="random number generation"):
        z = gf.vmap(lambda a: a + gg.randn(4) + gg.rand(4, generator=gen), randomness="same")(gg.zeros(B, 4))
    assert all(np.array_equal(z.numpy()[0], z.numpy()[i]) for i in range(B))
    assert not np.array_equal(z.numpy()[0], gf.vmap(lambda a: a + gg.randn(4) + gg.rand(4, generator=gen),
                                                    randomness="same")(gg.zeros(B, 4)).numpy()[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = gf.vmap(lambda a: a + gg.randn(4), randomness="different")(gg.zeros(B, 4)).numpy()
    assert not np.array_equal(d[0], d[1])


def test_multihead_attention_and_transformer_layer_run_batched():
    gm = gg.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    tm = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    tm.load_state_dict({k: torch.tensor(v.array) for k, v in gm.state_dict().items()})
    x = R(B, 2, 5, 8)
    got = batched(lambda a: gm.self_attn(a, a, a)[0] + gm(a), [gg.tensor(x)])
    want = np.stack([_np(tm.self_attn(t, t, t)[0] + tm(t)) for t in torch.tensor(x)])
    np.testing.assert_allclose(_np(got), want, **TOL)
