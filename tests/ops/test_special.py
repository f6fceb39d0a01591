"""Special functions (glassgrad/ops/special.py): values to float64 accuracy, gradients
and second derivatives against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_double_backward, check_op, needs_torch, torch

pytestmark = needs_torch

GRID = np.array([1e-6, 0.01, 0.3, 0.5, 0.9, 1.0, 1.5, 2.0, 3.7, 9.9, 10.1, 25.0, 140.0, 1e4,
                 -0.3, -1.5, -2.7, -11.2])


def _cmp(g, t, rtol=1e-13, atol=0.0):
    a = g.numpy()
    b = t.numpy()
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name,rtol", [("lgamma", 1e-13), ("digamma", 1e-12)])
def test_gamma_family_values(name, rtol):
    _cmp(getattr(gg.tensor(GRID), name)(), getattr(torch.tensor(GRID), name)(), rtol=rtol,
         atol=1e-13)


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_polygamma_values(n):
    x = GRID[GRID > 0]
    # PyTorch's trigamma is accurate to ~5e-10 only; ours sums the Hurwitz zeta function
    _cmp(gg.polygamma(n, gg.tensor(x)), torch.polygamma(n, torch.tensor(x)),
         rtol=1e-9 if n == 1 else 1e-12)
    assert abs(gg.tensor([1.0], dtype=gg.float64).polygamma(1).item() - np.pi ** 2 / 6) < 1e-15


def test_poles_and_specials():
    x = [0.0, -1.0, -2.0, float("inf"), float("nan")]
    for name in ("lgamma", "digamma"):
        _cmp(getattr(gg.tensor(x, dtype=gg.float64), name)(),
             getattr(torch.tensor(x, dtype=torch.float64), name)())


def test_erfinv_values_and_edges():
    x = np.concatenate([np.linspace(-0.999999, 0.999999, 41),
                        [0.0, 1e-12, -1e-300, 1 - 1e-15, 1.0, -1.0, 1.5, -2.0, np.nan]])
    _cmp(gg.tensor(x).erfinv(), torch.tensor(x).erfinv(), rtol=1e-14, atol=1e-300)
    # erf(erfinv(y)) == y
    y = np.linspace(-0.99, 0.99, 11)
    np.testing.assert_allclose(gg.tensor(y).erfinv().erf().numpy(), y, rtol=1e-15, atol=1e-16)


def test_erfc_i0_values():
    x = np.array([-30.0, -3, -0.5, 0, 1e-8, 0.5, 3, 6, 26, 27.5])
    _cmp(gg.tensor(x).erfc(), torch.tensor(x).erfc(), rtol=1e-14, atol=1e-300)
    z = np.array([-50.0, -3, 0, 0.1, 2, 10, 200])
    _cmp(gg.tensor(z).i0(), torch.tensor(z).i0(), rtol=1e-14)


@pytest.mark.parametrize("fn,positive,tol", [
    (lambda x: x.lgamma(), True, None),
    (lambda x: x.digamma(), True, 1e-8),
    (lambda x: x.erfc(), False, None),
    (lambda x: x.i0(), False, None),
    (lambda x: x.sinc(), False, None),
    (lambda x: (x * 0.4).erfinv(), False, None),
    (lambda x: (x * 0.2 + 0.5).logit(), False, None),
    (lambda x: (x * 0.5 + 0.5).logit(eps=0.2), False, None),
    (lambda x: (x + 3).mvlgamma(3), True, None),
])
def test_unary_grads(fn, positive, tol):
    check_op(fn, shapes=[(3, 4)], positive=positive, atol=tol, rtol=tol)


def test_polygamma_grad_and_method():
    check_op(lambda x: x.polygamma(2), shapes=[(5,)], positive=True, rtol=1e-9, atol=1e-9)
    check_op(lambda x: gg.polygamma(1, x), shapes=[(5,)], positive=True, rtol=1e-8, atol=1e-8,
             torch_fn=lambda x: torch.polygamma(1, x))


@pytest.mark.parametrize("fn,positive", [
    (lambda x: x.lgamma(), True), (lambda x: x.erfc(), False), (lambda x: x.i0(), False),
    (lambda x: (x * 0.4).erfinv(), False), (lambda x: x.sinc(), False),
])
def test_second_derivatives(fn, positive):
    check_double_backward(fn, shapes=[(6,)], positive=positive, atol=1e-8, rtol=1e-8)


def test_sinc_at_zero():
    x = gg.tensor([0.0, 1.0, -0.5], dtype=gg.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0, -0.5], dtype=torch.float64, requires_grad=True)
    x.sinc().sum().backward()
    t.sinc().sum().backward()
    _cmp(x.sinc().detach(), t.sinc().detach())
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-15)


def test_xlogy_zero_and_grad():
    x = np.array([0.0, 0.0, 1.5, 2.0, 0.0])
    y = np.array([0.0, 3.0, 0.5, 2.0, np.nan])
    gx, gy = gg.tensor(x, requires_grad=True), gg.tensor(y, requires_grad=True)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    a, b = gx.xlogy(gy), tx.xlogy(ty)
    _cmp(a.detach(), b.detach())
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(gx.grad.numpy()[:4], tx.grad.numpy()[:4])
    np.testing.assert_allclose(gy.grad.numpy()[1:4], ty.grad.numpy()[1:4])
    check_op(lambda x, y: x.xlogy(y), shapes=[(3, 4), (4,)], positive=True)
    assert gg.xlogy(gg.tensor([0, 2]), 3.0).dtype == gg.float32


def test_integer_input_promotes_and_inplace():
    assert gg.tensor([1, 2]).lgamma().dtype == gg.float32
    x = gg.tensor([0.5, 2.0], dtype=gg.float64)
    y = x.clone()
    x.digamma_()
    np.testing.assert_allclose(x.numpy(), torch.tensor([0.5, 2.0], dtype=torch.float64)
                               .digamma().numpy(), rtol=1e-13)
    y.polygamma_(1)
    assert y.dtype == gg.float64
    z = gg.tensor([0.25, 0.5])
    gg.erfinv_(z) if hasattr(gg, "erfinv_") else z.erfinv_()
    assert z.dtype == gg.float32


def test_errors_name_the_op():
    with pytest.raises(ValueError, match="polygamma"):
        gg.tensor([1.0]).polygamma(-1)
    with pytest.raises(ValueError, match="mvlgamma"):
        gg.tensor([0.2]).mvlgamma(3)


def test_edge_shapes():
    for shape in [(), (0,), (1,), (2, 0)]:
        x = gg.ones(*shape) if shape else gg.tensor(1.5)
        for name in ("lgamma", "digamma", "erfc", "erfinv", "i0", "sinc", "logit"):
            assert getattr(x, name)().shape == x.shape


@pytest.mark.parametrize("name,positive,kw", [
    ("erf", False, {}), ("erfc", False, {}), ("erfinv", False, {"scale": 0.4}),
    ("erfcx", False, {}), ("gammaln", True, {}), ("digamma", True, {"tol": 1e-8}),
    ("psi", True, {"tol": 1e-8}), ("i0", False, {}), ("i1", False, {}), ("sinc", False, {}),
    ("expit", False, {}), ("log1p", True, {}), ("expm1", False, {}), ("exp2", False, {}),
    ("ndtr", False, {}), ("ndtri", True, {"scale": 0.3}), ("log_ndtr", False, {}),
    ("entr", True, {}),
])
def test_special_namespace(name, positive, kw):
    s = kw.get("scale", 1.0)
    tol = kw.get("tol")
    check_op(lambda x: getattr(gg.special, name)(x * s), shapes=[(3, 4)], positive=positive,
             torch_fn=lambda x: getattr(torch.special, name)(x * s), atol=tol, rtol=tol)


def test_special_namespace_more():
    check_op(lambda x: gg.special.polygamma(2, x), shapes=[(4,)], positive=True,
             torch_fn=lambda x: torch.special.polygamma(2, x), rtol=1e-9, atol=1e-9)
    check_op(lambda x: gg.special.multigammaln(x + 2, 2), shapes=[(4,)], positive=True,
             torch_fn=lambda x: torch.special.multigammaln(x + 2, 2))
    check_op(lambda x, y: gg.special.xlog1py(x, y), shapes=[(4,), (4,)], positive=True,
             torch_fn=lambda x, y: torch.special.xlog1py(x, y))
    check_op(lambda x: gg.special.logit(x.sigmoid(), eps=0.2), shapes=[(4,)],
             torch_fn=lambda x: torch.special.logit(x.sigmoid(), eps=0.2))
    check_op(lambda x: gg.special.logsumexp(x, 1) + (gg.special.softmax(x, 0) ** 2).sum(1)
             + gg.special.log_softmax(x, 1).sum(1), shapes=[(3, 4)],
             torch_fn=lambda x: torch.special.logsumexp(x, 1)
             + (torch.special.softmax(x, 0) ** 2).sum(1) + torch.special.log_softmax(x, 1).sum(1))
    a = np.array([-3.0, 0.0, 0.0, 2.0])
    _cmp(gg.special.entr(gg.tensor(a)), torch.special.entr(torch.tensor(a)))
    _cmp(gg.special.xlog1py(gg.tensor([0.0, 1.0], dtype=gg.float64),
                            gg.tensor([-1.0, 1.0], dtype=gg.float64)),
         torch.special.xlog1py(torch.tensor([0.0, 1.0], dtype=torch.float64),
                               torch.tensor([-1.0, 1.0], dtype=torch.float64)))
    _cmp(gg.special.round(gg.tensor([1.25, 2.5], dtype=gg.float64), decimals=1),
         torch.special.round(torch.tensor([1.25, 2.5], dtype=torch.float64), decimals=1))
