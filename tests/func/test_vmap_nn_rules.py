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
from oracle import needs_torch, torch

pytestmark = needs_torch
TOL = dict(rtol=1e-10, atol=1e-10)
rng = np.random.default_rng(11)
B = 3


@pytest.fixture(autouse=True)
def _f64():
    old, told = gg.get_default_dtype(), torch.get_default_dtype()
    gg.set_default_dtype(gg.float64)
    torch.set_default_dtype(torch.float64)
    yield
    gg.set_default_dtype(old)
    torch.set_default_dtype(told)


def _np(t):
    return t.detach().numpy() if isinstance(t, (gg.Tensor, torch.Tensor)) else np.asarray(t)


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
