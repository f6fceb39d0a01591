"""Tensor methods and torch functions added for PyTorch compatibility (glassgrad/tensor_methods/extra.py,
functional_extra.py, ops/extra.py): values, dtypes and gradients against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_double_backward, check_op, needs_torch, torch

IDX = np.array([[0, 2, 1], [2, 0, 0]])


# ------------------------------------------------------------------ arithmetic
@pytest.mark.parametrize("fn", [
    lambda x, y: x.add(y, alpha=2.5),
    lambda x, y: x.sub(y, alpha=-0.5),
    lambda x, y: x.subtract(y),
    lambda x, y: x.mul(y),
    lambda x, y: x.multiply(y),
    lambda x, y: x.div(y),
    lambda x, y: x.divide(y),
    lambda x, y: x.true_divide(y),
    lambda x, y: x.lerp(y, 0.3),
    lambda x, y: x.lerp(y, y.sigmoid()),
    lambda x, y: x.neg() + y.negative(),
    lambda x, y: x.addcmul(x, y, value=0.5),
    lambda x, y: x.addcdiv(x, y, value=2.0),
    lambda x, y: x.clamp_min(0.1) + y.clamp_max(0.2),
    lambda x, y: x.inner(y),
    lambda x, y: x.absolute() * y,
])
def test_binary_methods(fn):
    check_op(fn, shapes=[(3, 4), (3, 4)], positive=True)


def test_broadcast_and_rsub():
    check_op(lambda x, y: x.add(y, alpha=-1), shapes=[(4,), (3, 4)])
    check_op(lambda x, y: gg.rsub(x, y, alpha=2), shapes=[(4,), (3, 4)],
             torch_fn=lambda x, y: torch.rsub(x, y, alpha=2))


@needs_torch
def test_functions_with_alpha_and_out():
    x, y = gg.randn(3, 4), gg.randn(3, 4)
    tx, ty = torch.tensor(x.numpy()), torch.tensor(y.numpy())
    for name, kw in [("add", dict(alpha=2)), ("sub", dict(alpha=3)), ("mul", {}), ("div", {}),
                     ("div", dict(rounding_mode="floor")), ("lerp", None)]:
        if kw is None:
            got, want = gg.lerp(x, y, 0.25), torch.lerp(tx, ty, 0.25)
        else:
            out = gg.empty(3, 4)
            got = getattr(gg, name)(x, y, out=out, **kw)
            assert got is out
            want = getattr(torch, name)(tx, ty, **kw)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_out_errors():
    x = gg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="add: .*automatic differentiation"):
        gg.add(x, 1, out=gg.empty(3))
    with pytest.raises(ValueError, match=r"mul: out has shape \(2,\)"):
        gg.mul(gg.ones(3), 2, out=gg.empty(2))
    with pytest.raises(TypeError, match="add: out must be a Tensor"):
        gg.add(gg.ones(3), 1, out=np.zeros(3))


@needs_torch
@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_mode(mode):
    a = np.array([-7.5, -7, -1, 0.5, 3, 7], dtype=np.float32)
    b = np.array([2, 2, 3, -0.25, -2, 2], dtype=np.float32)
    got = gg.tensor(a).div(gg.tensor(b), rounding_mode=mode)
    np.testing.assert_allclose(got.numpy(), torch.tensor(a).div(torch.tensor(b),
                                                              rounding_mode=mode).numpy())
    assert got.dtype == np.float32
    ai, bi = np.array([-7, 7, -8, 9, 0]), np.array([2, -2, 3, 4, -3])
    g = gg.tensor(ai).div(gg.tensor(bi), rounding_mode=mode)
    t = torch.tensor(ai).div(torch.tensor(bi), rounding_mode=mode)
    assert str(g.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_array_equal(g.numpy(), t.numpy())
    assert gg.tensor(ai).floor_divide(2).tolist() == torch.tensor(ai).floor_divide(2).tolist()
    x = gg.randn(4, requires_grad=True)
    y = x.div(2.0, rounding_mode=mode)
    if mode is not None:  # rounded: gradient 0 (PyTorch gives zeros too)
        assert not y.requires_grad or not np.any(gg.grad(y.sum(), x)[0].numpy())


def test_div_errors():
    with pytest.raises(ValueError, match="div: rounding_mode must be"):
        gg.ones(2).div(2, rounding_mode="round")
    with pytest.raises(ZeroDivisionError, match="div: integer division by zero"):
        gg.tensor([1, 2]).div(0, rounding_mode="floor")


@pytest.mark.parametrize("name,positive", [("asinh", False), ("acosh", True), ("atanh", False)])
def test_inverse_hyperbolic(name, positive):
    if name == "acosh":
        inputs = [np.array([1.5, 2.0, 10.0, 1e3])]
    elif name == "atanh":
        inputs = [np.array([-0.9, -0.2, 0.0, 0.5, 0.95])]
    else:
        inputs = [np.array([-1e4, -3.0, -0.1, 0.0, 2.0, 50.0])]
    check_op(lambda x: getattr(x, name)(), inputs=inputs)
    check_double_backward(lambda x: getattr(x, name)(), inputs=inputs)
    check_op(lambda x: getattr(x, "arc" + name[1:])(), inputs=inputs)


@pytest.mark.parametrize("fn,shapes", [
    (lambda s, a, b: s.addmm(a, b), [(3, 5), (3, 4), (4, 5)]),
    (lambda s, a, b: s.addmm(a, b, beta=0.5, alpha=-2), [(5,), (3, 4), (4, 5)]),
    (lambda s, a, b: s.baddbmm(a, b, beta=2, alpha=0.5), [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
    (lambda s, a, b: s.addbmm(a, b, alpha=3), [(3, 5), (2, 3, 4), (2, 4, 5)]),
    (lambda s, a, b: s.addmv(a, b, beta=0.5), [(3,), (3, 4), (4,)]),
    (lambda s, a, b: s.addr(a, b, alpha=2), [(3, 4), (3,), (4,)]),
])
def test_add_products(fn, shapes):
    check_op(fn, shapes=shapes)


@needs_torch
def test_addmm_beta_zero_ignores_input():
    s = np.full((2, 2), np.nan)
    a, b = np.eye(2), np.arange(4.0).reshape(2, 2)
    got = gg.addmm(gg.tensor(s), gg.tensor(a), gg.tensor(b), beta=0)
    want = torch.addmm(torch.tensor(s), torch.tensor(a), torch.tensor(b), beta=0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@needs_torch
def test_inplace_arithmetic_no_grad_and_in_graph():
    a = np.random.default_rng(0).uniform(0.5, 2, (3, 4)).astype(np.float32)
    for name, args in [("addcmul_", (2.0,)), ("lerp_", (0.5,)), ("exp_", ()), ("sigmoid_", ()),
                       ("abs_", ()), ("acosh_", ()), ("clamp_min_", (1.0,)), ("div_", ())]:
        g, t = gg.tensor(a), torch.tensor(a)
        if name == "addcmul_":
            ga = g.addcmul_(g, g, value=2.0)
            t.addcmul_(t, t, value=2.0)
        elif name == "lerp_":
            ga = g.lerp_(gg.ones(3, 4), 0.5)
            t.lerp_(torch.ones(3, 4), 0.5)
        elif name == "div_":
            ga = g.div_(2.0)
            t.div_(2.0)
        else:
            ga = getattr(g, name)(*args)
            getattr(t, name)(*args)
        assert ga is g
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-6, err_msg=name)
    # in a graph: the gradient flows through the in-place op
    check_op(lambda x: (x * 1).add_(x, alpha=2).addcmul_(x, x, value=0.5).sqrt_(), shapes=[(3, 4)],
             positive=True)
    check_op(lambda x: (x * 1).asinh_(), shapes=[(3, 4)], torch_fn=lambda x: x.asinh())
    w = gg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="exp_: a leaf tensor that requires grad"):
        w.exp_()


def test_inplace_comparison_keeps_dtype():
    x = gg.tensor([1.0, 2.0, 3.0])
    x.gt_(1.5)
    assert x.dtype == np.float32 and x.tolist() == [0.0, 1.0, 1.0]


# ------------------------------------------------------------------ comparisons
@needs_torch
def test_isclose_and_logical():
    a = np.array([1.0, np.nan, 2.0, 1e-9])
    b = np.array([1.0 + 1e-7, np.nan, 2.1, 0.0])
    for kw in [{}, dict(equal_nan=True), dict(rtol=0.1, atol=0)]:
        np.testing.assert_array_equal(gg.isclose(gg.tensor(a), gg.tensor(b), **kw).numpy(),
                                      torch.isclose(torch.tensor(a), torch.tensor(b), **kw).numpy())
    p, q = np.array([True, False, True]), np.array([1, 0, 0])
    for n in ["logical_and", "logical_or", "logical_xor"]:
        assert getattr(gg, n)(gg.tensor(p), gg.tensor(q)).tolist() == \
            getattr(torch, n)(torch.tensor(p), torch.tensor(q)).tolist()
    assert gg.logical_not(gg.tensor(q)).tolist() == torch.logical_not(torch.tensor(q)).tolist()
    x, y = gg.tensor([1, 2, 3]), gg.tensor([2, 2, 2])
    assert gg.greater_equal(x, y).tolist() == [False, True, True]
    assert x.not_equal(y).tolist() == [True, False, True]


# ------------------------------------------------------------------ scatter / masks / index
@pytest.mark.parametrize("fn", [
    lambda x, s, i: x.scatter(1, i, s),
    lambda x, s, i: x.scatter(0, i[:, :2] % 2, s[:, :2]),
    lambda x, s, i: x.scatter(1, i, 2.5),
    lambda x, s, i: (x * 1).scatter_(1, i, s),
])
def test_scatter(fn):
    rng = np.random.default_rng(3)
    idx = np.array([[0, 2, 3], [3, 1, 0]])  # no repeats in a row: defined values
    check_op(fn, inputs=[rng.standard_normal((2, 4)), rng.standard_normal((2, 3)), idx])
    check_double_backward(lambda x, s: x.scatter(1, gg.tensor(idx) if isinstance(x, gg.Tensor)
                                                 else torch.tensor(idx), s) ** 2,
                          shapes=[(2, 4), (2, 3)])


@needs_torch
def test_scatter_index_smaller_than_src():
    # PyTorch reads the leading part of src; (its own backward fails on this case, so the
    # gradient is checked by finite differences)
    rng = np.random.default_rng(4)
    x, src, i = rng.standard_normal((2, 4)), rng.standard_normal((3, 5)), np.array([[1, 0]])
    got = gg.tensor(x).scatter(0, gg.tensor(i), gg.tensor(src))
    want = torch.tensor(x).scatter(0, torch.tensor(i), torch.tensor(src))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    gg.gradcheck(lambda a, b: a.scatter(0, gg.tensor(i), b),
                 [gg.tensor(x, requires_grad=True), gg.tensor(src, requires_grad=True)])


def test_scatter_reduce_add_has_a_gradient():
    # PyTorch has no derivative for scatter(reduce=...); here it is scatter_add's
    idx = np.array([[0, 0, 3], [3, 1, 3]])  # repeats add up
    check_op(lambda x, s, i: x.scatter(1, i, s, reduce="add"),
             torch_fn=lambda x, s, i: x.scatter_add(1, i, s),
             inputs=[np.ones((2, 4)), np.arange(6.0).reshape(2, 3), idx])


@needs_torch
@pytest.mark.filterwarnings("ignore:The reduce argument")
def test_scatter_inplace_multiply_and_errors():
    x, src = np.arange(8.0).reshape(2, 4) + 1, np.full((2, 3), 2.0)
    for kw in [dict(reduce="multiply"), dict(reduce="add"), {}]:
        g = gg.tensor(x).scatter_(1, gg.tensor(IDX), gg.tensor(src), **kw)
        t = torch.tensor(x).scatter_(1, torch.tensor(IDX), torch.tensor(src), **kw)
        np.testing.assert_array_equal(g.numpy(), t.numpy())
    with pytest.raises(IndexError, match="scatter: index out of range"):
        gg.zeros(2, 3).scatter(1, gg.tensor([[3]]), 1.0)
    with pytest.raises(TypeError, match="scatter: index must be an integer tensor"):
        gg.zeros(2, 3).scatter(1, gg.tensor([[1.0]]), 1.0)
    with pytest.raises(ValueError, match="scatter: reduce must be"):
        gg.zeros(2, 3).scatter(1, gg.tensor([[1]]), 1.0, reduce="max")


@needs_torch
def test_nonzero_and_new_full():
    a = np.array([[0, 1.5, 0], [2, 0, -1]])
    g, t = gg.tensor(a), torch.tensor(a)
    assert g.nonzero().tolist() == t.nonzero().tolist() and g.nonzero().dtype == np.int64
    assert [p.tolist() for p in g.nonzero(as_tuple=True)] == \
        [p.tolist() for p in t.nonzero(as_tuple=True)]
    assert [p.tolist() for p in gg.tensor(3.0).nonzero(as_tuple=True)] == [[0]]
    assert gg.nonzero(g).tolist() == torch.argwhere(t).tolist() == g.argwhere().tolist()
    assert int(g.count_nonzero()) == 3 and g.count_nonzero(1).tolist() == [1, 2]
    f = gg.ones(2, dtype=gg.float64).new_full((2, 3), 7)
    assert f.dtype == np.float64 and f.shape == (2, 3) and f.tolist() == [[7.0] * 3] * 2
    e = gg.ones(2, dtype=gg.int32).new_empty(4, 1)
    assert e.shape == (4, 1) and e.dtype == np.int32


@pytest.mark.parametrize("fn", [
    lambda x, m: x.masked_fill(m > 0, 3.0),
    lambda x, m: (x * 1).masked_fill_(m > 0, -1.0),
    lambda x, m: x.masked_select(m > 0),
    lambda x, m: x.masked_scatter(m > 0, x.flip(0) * 2),
    lambda x, m: (x * 1).masked_scatter_(m > 0, x * 3),
])
def test_masks(fn):
    check_op(fn, inputs=[np.random.default_rng(1).standard_normal((3, 4)),
                         np.array([[1, -1, 1, 1], [-1, -1, 1, -1], [1, 1, -1, -1]])])


@pytest.mark.parametrize("fn", [
    lambda x, s, i: x.index_fill(1, i, -2.0),
    lambda x, s, i: (x * 1).index_fill_(1, i[:1], 0.5),
    lambda x, s, i: x.index_copy(1, i, s),
    lambda x, s, i: (x * 1).index_copy_(1, i, s),
    lambda x, s, i: (x * 1).index_add_(1, i, s, alpha=2),
])
def test_index_fill_copy(fn):
    rng = np.random.default_rng(2)
    check_op(fn, inputs=[rng.standard_normal((3, 5)), rng.standard_normal((3, 2)),
                         np.array([3, 1])])


def test_index_fill_tensor_value_gets_gradient():
    x, v = gg.randn(2, 3, requires_grad=True), gg.tensor(2.0, requires_grad=True)
    x.index_fill(1, gg.tensor([0, 2]), v).sum().backward()
    assert float(v.grad) == 4.0 and x.grad.tolist() == [[0, 1, 0]] * 2


def test_take_and_put():
    check_op(lambda x, i: x.take(i), inputs=[np.arange(6.0).reshape(2, 3), np.array([[5, 0]])])
    x = gg.zeros(2, 3)
    x.put_(gg.tensor([1, 5]), gg.tensor([9.0, 8.0]))
    assert x.tolist() == [[0, 9, 0], [0, 0, 8]]


# ------------------------------------------------------------------ scans
@needs_torch
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin(name):
    a = np.array([[1.0, 3, 3, 2, 3, 0], [2, 1, 1, 3, 1, 5]])
    nan = np.array([1.0, np.nan, 2, np.nan, 0])
    for arr, dims in [(a, [1, 0, -1]), (nan, [0])]:
        for d in dims:
            g, t = getattr(gg.tensor(arr), name)(d), getattr(torch.tensor(arr), name)(d)
            np.testing.assert_array_equal(g.values.numpy(), t.values.numpy())
            np.testing.assert_array_equal(g.indices.numpy(), t.indices.numpy())
            assert g.indices.dtype == np.int64
    check_op(lambda x: getattr(x, name)(1).values, shapes=[(3, 5)])
    check_op(lambda x: getattr(gg if isinstance(x, gg.Tensor) else torch, name)(x, 0)[0],
             shapes=[(4, 2)])


# ------------------------------------------------------------------ shape
@pytest.mark.parametrize("fn", [
    lambda x: x.fliplr(),
    lambda x: x.flipud(),
    lambda x: x.movedim(0, 2),
    lambda x: x.movedim((0, 1), (2, 0)),
    lambda x: x.moveaxis(-1, 0),
    lambda x: x.swapdims(0, 2),
    lambda x: x.tensor_split(2, 1),
    lambda x: x.tensor_split(3, dim=2),
    lambda x: x.tensor_split([1, 3], dim=2),
    lambda x: x.tensor_split((0, 5, -2), 2),
    lambda x: x.unfold(2, 2, 1),
    lambda x: x.unfold(2, 3, 2),
    lambda x: x.unfold(0, 1, 1),
    lambda x: x.ravel(),
    lambda x: x.hsplit(3),
])
def test_shape_methods(fn):
    check_op(fn, shapes=[(2, 3, 5)])


@needs_torch
def test_unfold_scalar_and_errors():
    assert gg.tensor(2.0).unfold(0, 1, 1).tolist() == torch.tensor(2.0).unfold(0, 1, 1).tolist()
    with pytest.raises(ValueError, match="unfold: size 6"):
        gg.zeros(5).unfold(0, 6, 1)
    with pytest.raises(ValueError, match="movedim: source"):
        gg.zeros(2, 3).movedim((0, 1), 0)


def test_inplace_views():
    x = gg.zeros(3, 1, 2)
    assert x.squeeze_() is x and x.shape == (3, 2)
    assert x.unsqueeze_(0).shape == (1, 3, 2)
    y = gg.arange(6.0).reshape(2, 3)
    assert y.t_().shape == (3, 2) and y.tolist() == [[0, 3], [1, 4], [2, 5]]
    w = gg.zeros(3, 1, requires_grad=True)
    with pytest.raises(RuntimeError, match="squeeze_: a leaf tensor"):
        w.squeeze_()
    check_op(lambda x: (x * 2).unsqueeze_(1).t_() if x.ndim == 1 else x, shapes=[(4,)])


# ------------------------------------------------------------------ information
@needs_torch
def test_tensor_information():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    g, t = gg.tensor(a), torch.tensor(a)
    for n in ["nelement", "ndimension", "element_size", "is_floating_point", "is_contiguous",
              "stride", "storage_offset", "is_signed", "get_device"]:
        assert getattr(g, n)() == getattr(t, n)(), n
    gt, tt = g.transpose(0, 2), t.transpose(0, 2)
    assert gt.is_contiguous() == tt.is_contiguous() is False
    assert gt.stride() == tt.stride() and g.stride(1) == t.stride(1)
    gs, ts = g[1, 1:], t[1, 1:]
    assert gs.storage_offset() == ts.storage_offset()
    assert gs.data_ptr() == g.data_ptr() + 4 * gs.storage_offset()
    assert gg.tensor([1, 2]).element_size() == 8 and not gg.tensor([1]).is_floating_point()
    assert g.is_cpu
    m = gg.randn(2, 3)
    assert m.H.shape == (3, 2) and m.mH.shape == (3, 2) and m.adjoint().shape == (3, 2)


# ------------------------------------------------------------------ random fills
def test_random_fills():
    gen = gg.Generator(5)
    x = gg.empty(20000).normal_(2.0, 0.5, generator=gen)
    assert abs(float(x.mean()) - 2.0) < 0.02 and abs(float(x.std()) - 0.5) < 0.02
    assert x.dtype == np.float32
    y = gg.empty(20000).normal_(2.0, 0.5, generator=gg.Generator(5))
    assert x.equal(y)  # seeded: reproducible
    u = gg.empty(10000, dtype=gg.float64).uniform_(-1, 3)
    assert float(u.min()) >= -1 and float(u.max()) < 3 and u.dtype == np.float64
    e = gg.empty(20000).exponential_(4.0)
    assert float(e.min()) >= 0 and abs(float(e.mean()) - 0.25) < 0.01
    b = gg.empty(20000).bernoulli_(0.3)
    assert set(np.unique(b.numpy())) <= {0.0, 1.0} and abs(float(b.mean()) - 0.3) < 0.02
    p = gg.tensor([0.0, 1.0, 0.0, 1.0])
    assert p.bernoulli().tolist() == [0, 1, 0, 1] and gg.bernoulli(p).tolist() == [0, 1, 0, 1]
    r = gg.empty(1000, dtype=gg.int64).random_(3, 7)
    assert set(r.tolist()) == {3, 4, 5, 6}
    assert set(gg.empty(1000).random_(4).tolist()) == {0.0, 1.0, 2.0, 3.0}
    assert 0 <= float(gg.empty(1000).random_().min())
    assert float(gg.empty(100).geometric_(0.5).min()) >= 1
    assert gg.empty(100).cauchy_().shape == (100,) and float(gg.empty(9).log_normal_().min()) > 0
    w = gg.empty(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="normal_: a tensor that requires grad"):
        w.normal_()
    with gg.no_grad():
        w.uniform_(0, 1)  # what nn.init does
    with pytest.raises(ValueError, match="bernoulli_: p must be in"):
        gg.empty(2).bernoulli_(1.5)
    with pytest.raises(ValueError, match="random_: expects from_ < to"):
        gg.empty(2).random_(5, 2)


def test_function_signatures_have_out():
    import inspect

    for name in ["add", "sub", "mul", "div", "lerp", "addmm", "addcmul", "nonzero"]:
        assert "out" in inspect.signature(getattr(gg, name)).parameters, name
    assert "alpha" in inspect.signature(gg.add).parameters
    assert "rounding_mode" in inspect.signature(gg.div).parameters
