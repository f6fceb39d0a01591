"""F.scaled_dot_product_attention (glassgrad.ops.attention): values and gradients equal
PyTorch's over masks / causal / scale, gradcheck, double backward, dropout semantics."""

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.ops.attention import scaled_dot_product_attention as sdpa
from oracle import check_double_backward, check_op, needs_torch

Q, K, V = (2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)


def _tsdpa(*a, **kw):
    import torch.nn.functional as F

    return F.scaled_dot_product_attention(*a, **kw)


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"scale": 0.3}, {"is_causal": True}, {"is_causal": True, "scale": 2.0}])
def test_sdpa_plain_causal_scale(kw):
    check_op(lambda q, k, v: sdpa(q, k, v, **kw), shapes=[Q, K, V],
             torch_fn=lambda q, k, v: _tsdpa(q, k, v, **kw))


@needs_torch
@pytest.mark.parametrize("mshape", [(5, 6), (3, 5, 6), (2, 1, 1, 6)])
def test_sdpa_float_mask_gets_gradient(mshape):
    check_op(lambda q, k, v, m: sdpa(q, k, v, attn_mask=m), shapes=[Q, K, V, mshape],
             torch_fn=lambda q, k, v, m: _tsdpa(q, k, v, attn_mask=m))


@needs_torch
def test_sdpa_bool_mask_and_fully_masked_row():
    import torch

    bm = np.random.default_rng(0).random((5, 6)) > 0.4
    bm[:, 0] = True
    bm[2] = False  # a query that may attend to nothing: PyTorch gives zeros
    check_op(lambda q, k, v: sdpa(q, k, v, attn_mask=gg.tensor(bm)), shapes=[Q, K, V],
             torch_fn=lambda q, k, v: _tsdpa(q, k, v, attn_mask=torch.tensor(bm)), gradcheck=False)
    bm[2, 1] = True
    check_op(lambda q, k, v: sdpa(q, k, v, attn_mask=gg.tensor(bm)), shapes=[(5, 4), (6, 4), (6, 3)],
             torch_fn=lambda q, k, v: _tsdpa(q, k, v, attn_mask=torch.tensor(bm)))


@needs_torch
def test_sdpa_broadcast_batch_dims():
    check_op(lambda q, k, v: sdpa(q, k, v), shapes=[(2, 3, 5, 4), (1, 3, 6, 4), (2, 1, 6, 2)],
             torch_fn=lambda q, k, v: _tsdpa(q, k, v))


@needs_torch
def test_sdpa_double_backward():
    check_double_backward(lambda q, k, v: sdpa(q, k, v), shapes=[(2, 5, 4), (2, 6, 4), (2, 6, 3)],
                          torch_fn=lambda q, k, v: _tsdpa(q, k, v))
    check_double_backward(lambda q, k, v: sdpa(q, k, v, is_causal=True),
                          shapes=[(5, 4), (6, 4), (6, 3)],
                          torch_fn=lambda q, k, v: _tsdpa(q, k, v, is_causal=True))


def test_sdpa_fused_equals_composed_formula():
    rng = np.random.default_rng(1)
    arrs = [rng.standard_normal(s) for s in (Q, K, V)]
    mask = rng.standard_normal((5, 6))
    a = [gg.tensor(x, requires_grad=True) for x in arrs]
    out = sdpa(*a, attn_mask=gg.tensor(mask), scale=0.7)
    out.backward(gg.tensor(np.cos(np.arange(out.numel())).reshape(out.shape)))
    b = [gg.tensor(x, requires_grad=True) for x in arrs]
    ref = ((b[0] @ b[1].mT) * 0.7 + gg.tensor(mask)).softmax(-1) @ b[2]
    ref.backward(gg.tensor(np.cos(np.arange(out.numel())).reshape(out.shape)))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_dropout_uses_generator_and_is_inverted_dropout():
    rng = np.random.default_rng(2)
    q, k, v = (gg.tensor(rng.standard_normal(s)) for s in (Q, K, V))
    p = 0.4
    o1 = sdpa(q, k, v, dropout_p=p, generator=gg.Generator(5))
    o2 = sdpa(q, k, v, dropout_p=p, generator=gg.Generator(5))
    np.testing.assert_array_equal(o1.numpy(), o2.numpy())
    keep = gg.Generator(5).rng.random((2, 3, 5, 6)) >= p
    P = (q @ k.mT / 2.0).softmax(-1).numpy()
    np.testing.assert_allclose(o1.numpy(), (P * keep / (1 - p)) @ v.numpy(), rtol=1e-12)
    assert abs(1 - keep.mean() - p) < 0.2
    qg = q.detach().requires_grad_()
    sdpa(qg, k, v, dropout_p=p, generator=gg.Generator(5)).sum().backward()
    assert np.isfinite(qg.grad.numpy()).all()


def test_sdpa_float32_stays_float32():
    q = gg.randn(2, 5, 4, requires_grad=True)
    out = sdpa(q, gg.randn(2, 6, 4), gg.randn(2, 6, 3), is_causal=True)
    out.sum().backward()
    assert out.dtype == np.float32 and q.grad.dtype == np.float32


def test_sdpa_errors():
    q, k, v = gg.zeros(2, 5, 4), gg.zeros(2, 6, 4), gg.zeros(2, 6, 3)
    with pytest.raises(ValueError, match="scaled_dot_product_attention: query .* and key .* same last dim"):
        sdpa(q, gg.zeros(2, 6, 3), v)
    with pytest.raises(ValueError, match="same sequence length"):
        sdpa(q, k, gg.zeros(2, 7, 3))
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        sdpa(q, k, v, attn_mask=gg.zeros(5, 6), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 6\) does not broadcast"):
        sdpa(q, k, v, attn_mask=gg.zeros(4, 6))
    with pytest.raises(TypeError, match="bool or float"):
        sdpa(q, k, v, attn_mask=gg.zeros(5, 6, dtype=gg.int64))
    with pytest.raises(TypeError, match="share a dtype"):
        sdpa(q, k.double(), v)
    with pytest.raises(ValueError, match="dropout_p"):
        sdpa(q, k, v, dropout_p=1.0)
    with pytest.raises(ValueError, match="do not broadcast"):
        sdpa(gg.zeros(2, 5, 4), gg.zeros(3, 6, 4), gg.zeros(3, 6, 3))


@needs_torch
def test_sdpa_grouped_query_attention():
    check_op(lambda q, k, v: sdpa(q, k, v, enable_gqa=True, is_causal=True),
             shapes=[(2, 4, 5, 3), (2, 2, 5, 3), (2, 2, 5, 2)],
             torch_fn=lambda q, k, v: _tsdpa(q, k, v, enable_gqa=True, is_causal=True))
    with pytest.raises(ValueError, match="multiple of key/value heads"):
        sdpa(gg.zeros(1, 3, 5, 2), gg.zeros(1, 2, 5, 2), gg.zeros(1, 2, 5, 2), enable_gqa=True)
