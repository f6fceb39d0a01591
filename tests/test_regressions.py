"""Regression tests: the worked examples glassgrad grew from. In each, the autograd
gradient must equal a gradient derived by hand (chain rule / matrix calculus), written
out explicitly below. All in float64, compared to 1e-10."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg

TOL = dict(rtol=1e-10, atol=1e-10)


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


# ----------------------------------------------------------------------- (1) scalar chain rule
@pytest.mark.parametrize("z", [(0.3, -0.7), (1.0, 2.0), (-1.5, 0.25), (0.0, 0.0)])
def test_four_intermediate_function_chain_rule(z):
    r"""x1 = z1 − z2, x2 = z1², x3 = z2², x4 = z1² + z1 z2,
    f = (x1 + 10 x2)² + 5 (x3 − x4)² + (x2 + 2 x3)⁴ + 10 (x1 − x4)⁴.

    By hand:  ∂f/∂x1 = 2(x1 + 10x2) + 40(x1 − x4)³
              ∂f/∂x2 = 20(x1 + 10x2) + 4(x2 + 2x3)³
              ∂f/∂x3 = 10(x3 − x4) + 8(x2 + 2x3)³
              ∂f/∂x4 = −10(x3 − x4) − 40(x1 − x4)³
    and       ∂x/∂z1 = (1, 2z1, 0, 2z1 + z2),  ∂x/∂z2 = (−1, 0, 2z2, z1), so
              ∂f/∂z1 = f1 + 2z1 f2 + (2z1 + z2) f4
              ∂f/∂z2 = −f1 + 2z2 f3 + z1 f4.
    """
    z1v, z2v = z
    z1 = gg.tensor(z1v, dtype=gg.float64, requires_grad=True)
    z2 = gg.tensor(z2v, dtype=gg.float64, requires_grad=True)
    x1 = z1 - z2
    x2 = z1 ** 2
    x3 = z2 ** 2
    x4 = z1 ** 2 + z1 * z2
    f = (x1 + 10 * x2) ** 2 + 5 * (x3 - x4) ** 2 + (x2 + 2 * x3) ** 4 + 10 * (x1 - x4) ** 4
    f.backward()

    X1, X2, X3, X4 = z1v - z2v, z1v ** 2, z2v ** 2, z1v ** 2 + z1v * z2v
    f1 = 2 * (X1 + 10 * X2) + 40 * (X1 - X4) ** 3
    f2 = 20 * (X1 + 10 * X2) + 4 * (X2 + 2 * X3) ** 3
    f3 = 10 * (X3 - X4) + 8 * (X2 + 2 * X3) ** 3
    f4 = -10 * (X3 - X4) - 40 * (X1 - X4) ** 3
    dz1 = f1 + 2 * z1v * f2 + (2 * z1v + z2v) * f4
    dz2 = -f1 + 2 * z2v * f3 + z1v * f4
    np.testing.assert_allclose([z1.grad.item(), z2.grad.item()], [dz1, dz2], **TOL)
    # the intermediate gradients too (retain_grad on the x's)
    z1.grad = z2.grad = None
    xs = [z1 - z2, z1 ** 2, z2 ** 2, z1 ** 2 + z1 * z2]
    for x in xs:
        x.retain_grad()
    a, b, c, d = xs
    f = (a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b + 2 * c) ** 4 + 10 * (a - d) ** 4
    f.backward()
    np.testing.assert_allclose([x.grad.item() for x in xs], [f1, f2, f3, f4], **TOL)


# ----------------------------------------------------------------------- (2) XOR network
X_XOR = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y_XOR = np.array([[0.0], [1.0], [1.0], [0.0]])


def _xor_params(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, 8)), rng.standard_normal((1, 8)) * 0.1,
            rng.standard_normal((8, 1)), rng.standard_normal((1, 1)) * 0.1)


def _xor_by_hand(W1, b1, W2, b2, X=X_XOR, Y=Y_XOR):
    """The classic derivation, one named matrix per step.

    Forward:  Z1 = X W1 (4×8),  Z2 = Z1 + b1,  Z3 = σ(Z2),  Z4 = Z3 W2 (4×1),
              Z5 = Z4 + b2,  Yp = σ(Z5),  loss = ½ Σ (Yp − Y)².
    Backward: δZ5 = σ′(Z5) ⊙ (Yp − Y) = Yp(1 − Yp) ⊙ (Yp − Y)
              δb2 = Σ rows of δZ5,   δZ4 = δZ5,   δW2 = Z3ᵀ δZ4,   δZ3 = δZ4 W2ᵀ
              δZ2 = σ′(Z2) ⊙ δZ3 = Z3(1 − Z3) ⊙ δZ3
              δb1 = Σ rows of δZ2,   δZ1 = δZ2,   δW1 = Xᵀ δZ1
    """
    Z1 = X @ W1
    Z2 = Z1 + b1
    Z3 = sigmoid(Z2)
    Z4 = Z3 @ W2
    Z5 = Z4 + b2
    Yp = sigmoid(Z5)
    loss = 0.5 * np.sum((Yp - Y) ** 2)
    dZ5 = Yp * (1 - Yp) * (Yp - Y)
    db2 = dZ5.sum(axis=0, keepdims=True)
    dZ4 = dZ5
    dW2 = Z3.T @ dZ4
    dZ3 = dZ4 @ W2.T
    dZ2 = Z3 * (1 - Z3) * dZ3
    db1 = dZ2.sum(axis=0, keepdims=True)
    dZ1 = dZ2
    dW1 = X.T @ dZ1
    return loss, dict(W1=dW1, b1=db1, W2=dW2, b2=db2, Z1=dZ1, Z3=dZ3, Z5=dZ5)


def _xor_autograd(W1, b1, W2, b2):
    P = {k: gg.tensor(v, requires_grad=True) for k, v in dict(W1=W1, b1=b1, W2=W2, b2=b2).items()}
    X, Y = gg.tensor(X_XOR), gg.tensor(Y_XOR)
    Z1 = X @ P["W1"]
    Z2 = Z1 + P["b1"]
    Z3 = Z2.sigmoid()
    Z4 = Z3 @ P["W2"]
    Z5 = Z4 + P["b2"]
    Yp = Z5.sigmoid()
    for t in (Z1, Z3, Z5):
        t.retain_grad()
    loss = 0.5 * ((Yp - Y) ** 2).sum()
    loss.backward()
    grads = {k: t.grad.numpy() for k, t in P.items()}
    grads.update(Z1=Z1.grad.numpy(), Z3=Z3.grad.numpy(), Z5=Z5.grad.numpy())
    return loss.item(), grads


def test_xor_2_8_1_sigmoid_net_gradients_equal_hand_formulas():
    params = _xor_params(0)
    loss_h, g_h = _xor_by_hand(*params)
    loss_a, g_a = _xor_autograd(*params)
    np.testing.assert_allclose(loss_a, loss_h, **TOL)
    for k in g_h:
        assert g_a[k].shape == g_h[k].shape, k
        np.testing.assert_allclose(g_a[k], g_h[k], err_msg=k, **TOL)


def test_xor_training_by_hand_and_by_autograd_stay_identical():
    """300 steps of gradient descent with each gradient: same weights, and XOR is learned."""
    hand = list(_xor_params(1))
    auto = [gg.tensor(p, requires_grad=True) for p in _xor_params(1)]
    X, Y = gg.tensor(X_XOR), gg.tensor(Y_XOR)
    lr = 2.0
    for _ in range(300):
        _, g = _xor_by_hand(*hand)
        hand = [p - lr * g[k] for p, k in zip(hand, ["W1", "b1", "W2", "b2"])]
        W1, b1, W2, b2 = auto
        loss = 0.5 * ((((X @ W1 + b1).sigmoid() @ W2 + b2).sigmoid() - Y) ** 2).sum()
        loss.backward()
        with gg.no_grad():
            for p in auto:
                p -= lr * p.grad
                p.grad = None
    for h, a in zip(hand, auto):
        np.testing.assert_allclose(a.detach().numpy(), h, rtol=1e-8, atol=1e-10)
    W1, b1, W2, b2 = auto
    pred = ((X @ W1 + b1).sigmoid() @ W2 + b2).sigmoid().detach().numpy()
    assert ((pred > 0.5) == (Y_XOR > 0.5)).all(), pred


# ----------------------------------------------------------------------- (3) linear + sigmoid
def test_linear_sigmoid_layer_mse_gradients():
    """3 inputs → 2 outputs: Z = σ(X W + b), loss = ½ Σ (Z − label)².

    ∂loss/∂W = Xᵀ((Z − label) ⊙ Z ⊙ (1 − Z)),  ∂loss/∂X = ((Z − label) ⊙ Z ⊙ (1 − Z)) Wᵀ,
    ∂loss/∂b = Σ rows of the same matrix. With the mean instead (MSE = mean (Z − label)²)
    every gradient is multiplied by 2 / (number of elements).
    """
    rng = np.random.default_rng(3)
    Xv, Wv, bv = rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    label = rng.uniform(0, 1, (5, 2))
    Z = sigmoid(Xv @ Wv + bv)
    D = (Z - label) * Z * (1 - Z)
    for reduction, scale in [("half_sum", 1.0), ("mean", 2.0 / label.size)]:
        X = gg.tensor(Xv, requires_grad=True)
        W = gg.tensor(Wv, requires_grad=True)
        b = gg.tensor(bv, requires_grad=True)
        Zt = (X @ W + b).sigmoid()
        err = (Zt - gg.tensor(label)) ** 2
        loss = 0.5 * err.sum() if reduction == "half_sum" else err.mean()
        loss.backward()
        np.testing.assert_allclose(W.grad.numpy(), scale * Xv.T @ D, **TOL)
        np.testing.assert_allclose(X.grad.numpy(), scale * D @ Wv.T, **TOL)
        np.testing.assert_allclose(b.grad.numpy(), scale * D.sum(0), **TOL)


# ----------------------------------------------------------------------- (4) softmax + CE
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_cross_entropy_gradient_is_p_minus_onehot(reduction):
    """p = softmax(z), loss = −Σ_n log p[n, y_n] (or its mean): ∂loss/∂z = p − onehot(y)
    per sample (divided by N for the mean)."""
    rng = np.random.default_rng(4)
    N, C = 6, 4
    zv = rng.standard_normal((N, C)) * 3
    y = np.array([0, 3, 1, 1, 2, 0])
    p = np.exp(zv - zv.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(C)[y]
    expected = (p - onehot) / (N if reduction == "mean" else 1)
    yt = gg.tensor(y)
    # literally: softmax, then the cross-entropy of the probabilities
    z = gg.tensor(zv, requires_grad=True)
    nll = -z.softmax(-1).log().gather(1, yt.reshape(N, 1))
    (nll.mean() if reduction == "mean" else nll.sum()).backward()
    np.testing.assert_allclose(z.grad.numpy(), expected, **TOL)
    # the stable form (log_softmax) and a one-hot formulation give the same
    z2 = gg.tensor(zv, requires_grad=True)
    ce = -(z2.log_softmax(-1) * gg.one_hot(yt, C)).sum(1)
    (ce.mean() if reduction == "mean" else ce.sum()).backward()
    np.testing.assert_allclose(z2.grad.numpy(), expected, **TOL)
    torch = pytest.importorskip("torch")
    tz = torch.tensor(zv, requires_grad=True)
    torch.nn.functional.cross_entropy(tz, torch.tensor(y), reduction=reduction).backward()
    np.testing.assert_allclose(tz.grad.numpy(), expected, **TOL)
