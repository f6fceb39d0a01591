"""create_graph=True: second derivatives of every op against PyTorch's double backward
(tests/oracle.py check_double_backward), plus gradgradcheck and Hessian-vector products."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_double_backward, rand_inputs

torch = pytest.importorskip("torch")
F = torch.nn.functional

UNARY = [
    ("neg", lambda x: -x, None, False),
    ("exp", lambda x: x.exp(), None, False),
    ("log", lambda x: x.log(), None, True),
    ("log1p", lambda x: x.log1p(), None, True),
    ("sqrt", lambda x: x.sqrt(), None, True),
    ("abs", lambda x: x.abs(), None, False),
    ("sin", lambda x: x.sin(), None, False),
    ("cos", lambda x: x.cos(), None, False),
    ("tanh", lambda x: x.tanh(), None, False),
    ("sigmoid", lambda x: x.sigmoid(), None, False),
    ("relu", lambda x: x.relu(), None, False),
    ("leaky_relu", lambda x: x.leaky_relu(0.1), lambda x: F.leaky_relu(x, 0.1), False),
    ("elu", lambda x: x.elu(0.8), lambda x: F.elu(x, 0.8), False),
    ("gelu", lambda x: x.gelu(), lambda x: F.gelu(x), False),
    ("gelu_tanh", lambda x: x.gelu(approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"), False),
    ("softplus", lambda x: x.softplus(beta=1.5), lambda x: F.softplus(x, beta=1.5), False),
    ("erf", lambda x: x.erf(), None, False),
    ("clamp", lambda x: x.clamp(-0.5, 0.8), None, False),
    ("pow_scalar", lambda x: x ** 3, None, False),
    ("pow_frac", lambda x: x ** 2.5, None, True),
    ("rpow", lambda x: 2.0 ** x, None, False),
    ("rdiv", lambda x: 1.5 / x, None, True),
    ("rsub", lambda x: 2.0 - x, None, False),
    ("square", lambda x: x.square(), None, False),
]


@pytest.mark.parametrize("shape", [(3, 4), ()], ids=str)
@pytest.mark.parametrize("name, fn, tfn, pos", UNARY, ids=[u[0] for u in UNARY])
def test_unary_double_backward(name, fn, tfn, pos, shape):
    # multiply by x so that the second derivative is non-trivial even for linear ops
    check_double_backward(lambda x: fn(x) * x, shapes=[shape], positive=pos,
                          torch_fn=(lambda x: tfn(x) * x) if tfn else None)


BINARY = [
    ("add", lambda a, b: (a + b) * a),
    ("sub", lambda a, b: (a - b) * b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / (b * b + 1)),
    ("pow", lambda a, b: a ** b),
    ("maximum", lambda a, b: a.maximum(b) * a),
    ("minimum", lambda a, b: a.minimum(b) * b),
]
TORCH_BINARY = {"maximum": lambda a, b: torch.maximum(a, b) * a,
                "minimum": lambda a, b: torch.minimum(a, b) * b}


@pytest.mark.parametrize("name, fn", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 3), (4, 1)], [(), ()],
                                    [(), (3,)]], ids=str)
def test_binary_double_backward(name, fn, shapes):
    check_double_backward(fn, shapes=shapes, positive=(name == "pow"), torch_fn=TORCH_BINARY.get(name))


def test_where_double_backward():
    cond = np.array([[True, False, True], [False, True, True]])
    check_double_backward(lambda a, b: gg.where(gg.tensor(cond), a * a, b * a), shapes=[(2, 3), (2, 3)],
                          torch_fn=lambda a, b: torch.where(torch.tensor(cond), a * a, b * a))


@pytest.mark.parametrize("shapes", [[(4,), (4,)], [(4,), (4, 3)], [(3, 4), (4,)], [(3, 4), (4, 5)],
                                    [(2, 3, 4), (2, 4, 5)], [(2, 3, 4), (4, 5)], [(2, 1, 3, 4), (5, 4, 2)]],
                         ids=str)
def test_matmul_double_backward(shapes):
    check_double_backward(lambda a, b: (a @ b) * (a @ b), shapes=shapes)


@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_log_softmax_double_backward(dim):
    check_double_backward(lambda x: x.softmax(dim) * x, shapes=[(3, 4)])
    check_double_backward(lambda x: x.log_softmax(dim) * x, shapes=[(3, 4)])
    check_double_backward(lambda x: x.log_softmax(dim).exp(), shapes=[(3, 4)])


REDUCTIONS = [
    ("sum", lambda x: x.sum() * x, None),
    ("sum_dim", lambda x: x.sum(1, keepdim=True) * x, None),
    ("mean", lambda x: x.mean(0) * x, None),
    ("var", lambda x: x.var(1) * x.sum(1), None),
    ("var_c0", lambda x: x.var(correction=0) * x, None),
    ("std", lambda x: x.std(0) * x, None),
    ("amax", lambda x: x.amax(1, keepdim=True) * x, None),
    ("amin", lambda x: x.amin(0) * x, None),
    ("max", lambda x: x.max() * x, None),
    ("max_dim", lambda x: x.max(1)[0] * x.sum(1), lambda x: x.max(1)[0] * x.sum(1)),
    ("min_dim", lambda x: x.min(0, keepdim=True)[0] * x, lambda x: x.min(0, keepdim=True)[0] * x),
    ("logsumexp", lambda x: x.logsumexp(1) * x.sum(1), None),
    ("logsumexp_all", lambda x: x.logsumexp((0, 1)) * x, None),
    ("norm", lambda x: x.norm() * x, None),
    ("norm_p3_dim", lambda x: x.norm(3, 1) * x.sum(1), lambda x: x.norm(3, 1) * x.sum(1)),
]


@pytest.mark.parametrize("name, fn, tfn", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reduction_double_backward(name, fn, tfn):
    check_double_backward(fn, shapes=[(3, 4)], torch_fn=tfn)


MOVEMENT = [
    ("reshape", lambda x: x.reshape(4, 3) * x.reshape(4, 3), None),
    ("permute", lambda x: x.permute(1, 0) * x.T, None),
    ("expand", lambda x: x[:1].expand(3, 4) * x, None),
    ("squeeze", lambda x: x.unsqueeze(0).squeeze(0) * x, None),
    ("cat", lambda x: gg.cat([x, x * x], 1), lambda x: torch.cat([x, x * x], 1)),
    ("stack", lambda x: gg.stack([x, x * x], 0), lambda x: torch.stack([x, x * x], 0)),
    ("split", lambda x: x.split(2, 1)[0] * x.split(2, 1)[1], None),
    ("pad", lambda x: gg.pad(x * x, (1, 2)) * 2, lambda x: F.pad(x * x, (1, 2)) * 2),
    ("repeat", lambda x: x.repeat(2, 1) * x.repeat(2, 1), None),
    ("flip", lambda x: x.flip(1) * x, lambda x: x.flip(1) * x),
]


@pytest.mark.parametrize("name, fn, tfn", MOVEMENT, ids=[m[0] for m in MOVEMENT])
def test_movement_double_backward(name, fn, tfn):
    check_double_backward(fn, shapes=[(3, 4)], torch_fn=tfn)


def test_indexing_double_backward():
    idx = np.array([0, 2, 2, 1])
    check_double_backward(lambda x: x[gg.tensor(idx)] * x[gg.tensor(idx)], shapes=[(3, 4)],
                          torch_fn=lambda x: x[torch.tensor(idx)] * x[torch.tensor(idx)])
    check_double_backward(lambda x: x[1:, ::2] * x[:2, 1::2], shapes=[(3, 4)],
                          torch_fn=lambda x: x[1:, ::2] * x[:2, 1::2])
    mask = np.array([[True, False, True, True], [False, False, True, False], [True, True, True, False]])
    check_double_backward(lambda x: x[gg.tensor(mask)] ** 3, shapes=[(3, 4)],
                          torch_fn=lambda x: x[torch.tensor(mask)] ** 3)
    gi = np.array([[0, 0], [1, 3], [2, 1]])
    check_double_backward(lambda x: x.gather(1, gg.tensor(gi)) ** 2, shapes=[(3, 4)],
                          torch_fn=lambda x: x.gather(1, torch.tensor(gi)) ** 2)


def test_sliding_window_double_backward():
    def fn(x):
        w = x.unfold_windows((2, 2), (1, 2))
        return w * w

    def tfn(x):
        w = x.unfold(0, 2, 1).unfold(1, 2, 2)
        return w * w

    check_double_backward(fn, shapes=[(4, 5)], torch_fn=tfn)


def test_mlp_loss_double_backward():
    # a small network: second derivative of the loss w.r.t. inputs and weights
    def fn(x, w1, w2):
        h = (x @ w1).tanh()
        return (h @ w2).log_softmax(-1)

    check_double_backward(fn, shapes=[(4, 3), (3, 5), (5, 2)])


def test_gradgradcheck():
    a, b = rand_inputs([(3, 4), (4, 2)], seed=2)
    gg.gradgradcheck(lambda x, w: (x @ w).sigmoid() * x.sum(1, keepdim=True),
                     [gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)])


def test_hessian_vector_product_matches_torch_and_explicit_hessian():
    a = np.array([0.3, -1.2, 0.8])
    v = np.array([1.0, 0.5, -2.0])

    def f(x):
        return (x.sin() * x * x).sum() + (x[0] * x[1] * x[2])

    x = gg.tensor(a, requires_grad=True)
    (g,) = gg.grad(f(x), x, create_graph=True)
    (hv,) = gg.grad((g * gg.tensor(v)).sum(), x)
    t = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad(f(t), t, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), t)
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-12)
    H = gg.hessian(f, gg.tensor(a))
    np.testing.assert_allclose(hv.numpy(), H.numpy() @ v, rtol=1e-12)


def test_create_graph_backward_gives_differentiable_grad():
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    y = (x ** 3).sum()
    y.backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), [3.0, 12.0])
    gx = x.grad
    x.grad = None
    gx.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_third_derivative():
    x = gg.tensor(0.7, dtype=gg.float64, requires_grad=True)
    y = x.sin() * x.exp()
    (d1,) = gg.grad(y, x, create_graph=True)
    (d2,) = gg.grad(d1, x, create_graph=True)
    (d3,) = gg.grad(d2, x)
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    ty = t.sin() * t.exp()
    (t1,) = torch.autograd.grad(ty, t, create_graph=True)
    (t2,) = torch.autograd.grad(t1, t, create_graph=True)
    (t3,) = torch.autograd.grad(t2, t)
    np.testing.assert_allclose([d1.item(), d2.item(), d3.item()], [t1.item(), t2.item(), t3.item()],
                               rtol=1e-12)
