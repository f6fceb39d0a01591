"""The fused linear op (glassgrad.ops.linear): values and gradients equal x @ W.T + b and
PyTorch's; one graph node; double backward; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.nn import functional as F
from oracle import check_double_backward, check_op, check_same, rand_inputs

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# ------------------------------------------------------------------------------ linear
@pytest.mark.parametrize("xshape", [(5, 4), (2, 3, 4), (4,)])
def test_linear_vs_torch_and_composition(xshape):
    check_op(lambda x, w, b: F.linear(x, w, b), shapes=[xshape, (3, 4), (3,)],
             torch_fn=lambda x, w, b: TF.linear(x, w, b))
    check_op(lambda x, w: F.linear(x, w), shapes=[xshape, (3, 4)],
             torch_fn=lambda x, w: TF.linear(x, w))
    arrs = rand_inputs([xshape, (3, 4), (3,)])
    check_same(lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b, arrs)


def test_linear_is_one_node_float32():
    x = gg.randn(8, 5)
    lin = gg.nn.Linear(5, 3)
    y = lin(x)
    assert y.dtype == np.float32 and type(y.grad_fn).__name__ == "Linear"
    assert {e[0] is lin.weight or e[0] is lin.bias for e in y.grad_fn.next_functions if e} == {True}
    y.sum().backward()
    assert lin.weight.grad.dtype == np.float32 and lin.bias.grad.dtype == np.float32


def test_linear_double_backward():
    check_double_backward(lambda x, w, b: (F.linear(x, w, b) ** 2).sum(1),
                          shapes=[(4, 3), (2, 3), (2,)],
                          torch_fn=lambda x, w, b: (TF.linear(x, w, b) ** 2).sum(1))
    check_double_backward(lambda x, w, b: F.linear(x, w, b).tanh(),
                          shapes=[(2, 4, 3), (2, 3), (2,)],
                          torch_fn=lambda x, w, b: TF.linear(x, w, b).tanh())


def test_linear_errors():
    w = gg.randn(3, 4)
    with pytest.raises(ValueError, match=r"linear: input of shape \(5, 5\)"):
        F.linear(gg.randn(5, 5), w)
    with pytest.raises(TypeError, match="linear: input dtype float64"):
        F.linear(gg.randn(5, 4, dtype=gg.float64), w)
    with pytest.raises(ValueError, match="bias"):
        F.linear(gg.randn(5, 4), w, gg.randn(4))


@pytest.mark.parametrize("n, k, m", [(2048, 128, 128), (700, 28, 512), (9, 256, 30000),
                                     (128, 64, 256), (600, 300, 512), (129, 784, 256),
                                     (30, 784, 256)])   # (the last: a small output)
@pytest.mark.parametrize("lead", [False, True])
def test_large_outputs_same_sums_as_product_then_bias(n, k, m, lead):
    """A large float32 output is computed as bias first, then the product added in by BLAS
    (ops/_blas.py) where that is available: up to 256 inputs the same bits as ``x @ W.T``
    then ``+= b``, beyond it the same to float32 rounding (NaN and inf in the same places),
    folded leading dimensions too, and the same gradients."""
    from glassgrad.ops import _blas
    from glassgrad.ops import linear as L

    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    x[1, 2], b[3], w[5, 0] = np.nan, np.inf, -np.inf
    used = L._bias_first(x, w, b) is not None
    assert used == (n * m >= L._BIAS_FIRST_MIN and _blas.cblas_sgemm() is not None)
    want = x @ w.T
    want += b
    xs = x.reshape(n // 3, 3, k) if lead and n % 3 == 0 else x
    xt, wt, bt = (gg.tensor(a, requires_grad=True) for a in (xs, w, b))
    y = F.linear(xt, wt, bt)
    got = y.detach().numpy().reshape(n, m)
    if k <= L._BIAS_FIRST_EXACT_K or not used:
        np.testing.assert_array_equal(got, want)
    else:   # summed in blocks into the bias: float32 rounding of sums of ~k terms
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(gg.tensor(g))
    g2 = g.reshape(n, m)
    np.testing.assert_array_equal(xt.grad.numpy().reshape(n, k), g2 @ w)
    np.testing.assert_array_equal(wt.grad.numpy(), g2.T @ x)
