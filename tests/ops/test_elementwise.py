"""Elementwise ops: values and gradients equal to PyTorch (float64 and float32), gradcheck,
and broadcasting / edge shapes (0-d, size-1 axes, empty)."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op, rand_inputs

torch = pytest.importorskip("torch")
F = torch.nn.functional

# shapes for binary ops: (a, b) pairs covering equal shapes, broadcasting both ways,
# 0-d operands, size-1 axes and empty axes
BINARY_SHAPES = [
    [(3, 4), (3, 4)],
    [(2, 3, 4), (4,)],
    [(4,), (2, 3, 4)],
    [(3, 1), (1, 4)],
    [(2, 1, 4), (3, 1)],
    [(), (3, 2)],
    [(3, 2), ()],
    [(), ()],
    [(0, 3), (3,)],
    [(2, 0), (1, 0)],
    [(1,), (5,)],
]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("chain", lambda a, b: (a - b) * (a + b) - a * 3.0),
])
def test_binary_arith(name, fn, shapes):
    check_op(fn, shapes=shapes)


@pytest.mark.parametrize("shapes", BINARY_SHAPES[:8], ids=str)
def test_div(shapes):
    a, b = rand_inputs(shapes, seed=3)
    b = np.sign(b) * (np.abs(b) + 0.5)  # keep away from 0
    check_op(lambda x, y: x / y, inputs=[a, b])


@pytest.mark.parametrize("shapes", BINARY_SHAPES[:8], ids=str)
def test_pow_tensor_tensor(shapes):
    check_op(lambda x, y: x ** y, shapes=shapes, positive=True)


@pytest.mark.parametrize("e", [2, 3, 0.5, -1.5, 0])
def test_pow_scalar_exponent(e):
    check_op(lambda x: x ** e, shapes=[(3, 4)], positive=True)


def test_pow_integer_exponent_negative_base():
    check_op(lambda x: x ** 3 + x ** 2, shapes=[(3, 4)])


def test_rpow_and_reflected_ops():
    check_op(lambda x: 2.0 ** x + 3.0 - x + 1.0 / (x + 3.0) + 2.0 * x - (5.0 - x), shapes=[(4, 3)],
             positive=True)


def test_neg():
    check_op(lambda x: -x, shapes=[(2, 3)])
    check_op(lambda x: -x, shapes=[()])
    check_op(lambda x: -x, shapes=[(0, 2)])


def test_pow_zero_base_exponent_gradient_like_torch():
    # d/db a**b at a == 0 is taken as 0 (no 0 * log 0 = nan)
    a = np.array([0.0, 1.0, 2.0])
    b = np.array([2.0, 1.5, 0.5])
    check_op(lambda x, y: x ** y, inputs=[a, b], gradcheck=False)


UNARY = [
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
    ("leaky_relu_default", lambda x: x.leaky_relu(), lambda x: F.leaky_relu(x), False),
    ("elu", lambda x: x.elu(), lambda x: F.elu(x), False),
    ("elu_alpha", lambda x: x.elu(0.7), lambda x: F.elu(x, 0.7), False),
    ("gelu", lambda x: x.gelu(), lambda x: F.gelu(x), False),
    ("gelu_tanh", lambda x: x.gelu(approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"),
     False),
    ("softplus", lambda x: x.softplus(), lambda x: F.softplus(x), False),
    ("softplus_beta", lambda x: x.softplus(beta=2.0, threshold=3.0),
     lambda x: F.softplus(x, beta=2.0, threshold=3.0), False),
    ("erf", lambda x: x.erf(), None, False),
    ("clamp", lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), False),
    ("clamp_min", lambda x: x.clamp(min=0.1), None, False),
    ("clamp_max", lambda x: x.clamp(max=0.1), None, False),
    ("square", lambda x: x.square(), None, False),
    ("reciprocal", lambda x: x.reciprocal(), None, True),
    ("rsqrt", lambda x: x.rsqrt(), None, True),
]


@pytest.mark.parametrize("name, fn, tfn, pos", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(3, 4), (), (1, 5, 1), (0, 3)], ids=str)
def test_unary(name, fn, tfn, pos, shape):
    check_op(fn, shapes=[shape], torch_fn=tfn, positive=pos)


def test_functional_api_unary_names():
    x = np.random.default_rng(0).uniform(0.2, 2.0, size=(3, 4))
    for name in ["exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu"]:
        check_op(getattr(gg, name), inputs=[x], torch_fn=getattr(torch, name), gradcheck=False)


@pytest.mark.parametrize("shape", [(4, 5)])
def test_activations_wide_range(shape):
    # large |x|: sigmoid/softplus/elu/gelu must stay finite and match torch
    x = np.linspace(-30, 30, 20).reshape(4, 5)
    check_op(lambda t: t.sigmoid(), inputs=[x], gradcheck=False)
    check_op(lambda t: t.softplus(), inputs=[x], torch_fn=F.softplus, gradcheck=False)
    check_op(lambda t: t.elu(), inputs=[x], torch_fn=F.elu, gradcheck=False)
    check_op(lambda t: t.gelu(), inputs=[x], torch_fn=F.gelu, gradcheck=False)
    check_op(lambda t: t.tanh(), inputs=[x], gradcheck=False)


def test_kinks_match_torch():
    # relu/abs/leaky_relu/elu at exactly 0, clamp at its bounds: PyTorch's conventions
    x = np.array([-1.0, 0.0, 0.0, 1.0, -0.5, 0.7, 0.3])
    for fn, tfn in [
        (lambda t: t.relu(), None),
        (lambda t: t.abs(), None),
        (lambda t: t.leaky_relu(0.2), lambda t: F.leaky_relu(t, 0.2)),
        (lambda t: t.elu(), lambda t: F.elu(t)),
        (lambda t: t.clamp(-0.5, 0.7), None),
        (lambda t: t.clamp(min=0.0), None),
        (lambda t: t.clamp(max=0.0), None),
    ]:
        check_op(fn, inputs=[x], torch_fn=tfn, gradcheck=False)


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(1, 4), (3, 1)], [(), (2,)]],
                         ids=str)
def test_maximum_minimum(shapes):
    check_op(lambda a, b: a.maximum(b), shapes=shapes, torch_fn=torch.maximum)
    check_op(lambda a, b: a.minimum(b), shapes=shapes, torch_fn=torch.minimum)
    check_op(lambda a, b: gg.maximum(a, b), shapes=shapes, torch_fn=torch.maximum, gradcheck=False)


def test_maximum_minimum_ties_split_like_torch():
    a = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    b = np.array([[1.0, 1.0, 3.0], [0.0, 2.0, 5.0]])
    check_op(lambda x, y: x.maximum(y), inputs=[a, b], torch_fn=torch.maximum, gradcheck=False)
    check_op(lambda x, y: x.minimum(y), inputs=[a, b], torch_fn=torch.minimum, gradcheck=False)
    # broadcast tie: a scalar equal to several elements
    c = np.array(1.0)
    check_op(lambda x, y: x.maximum(y), inputs=[a, c], torch_fn=torch.maximum, gradcheck=False)


def test_maximum_with_python_scalar():
    x = gg.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = x.maximum(0.5)
    assert y.dtype == gg.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5, 1.0])


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(), (3, 4)], [(0, 2), (2,)]],
                         ids=str)
def test_where(shapes):
    rng = np.random.default_rng(0)
    full = np.broadcast_shapes(*shapes)
    cond = rng.random(full) > 0.5
    check_op(lambda a, b: gg.where(gg.tensor(cond), a, b), shapes=shapes,
             torch_fn=lambda a, b: torch.where(torch.tensor(cond), a, b))


def test_where_scalar_branch_and_masked_fill():
    cond = np.array([[True, False, True], [False, False, True]])
    check_op(lambda a: gg.where(gg.tensor(cond), a, 0.0), shapes=[(2, 3)],
             torch_fn=lambda a: torch.where(torch.tensor(cond), a, 0.0))
    check_op(lambda a: a.masked_fill(gg.tensor(cond), -1.5), shapes=[(2, 3)],
             torch_fn=lambda a: a.masked_fill(torch.tensor(cond), -1.5))
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = gg.where(gg.tensor([True, False]), x, 0.0)
    assert y.dtype == gg.float32


def test_comparisons_have_no_grad():
    a = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = gg.tensor([2.0, 2.0, 2.0])
    for r, expect in [(a < b, [True, False, False]), (a <= b, [True, True, False]),
                      (a > b, [False, False, True]), (a >= b, [False, True, True]),
                      (a == b, [False, True, False]), (a != b, [True, False, True]),
                      (a > 1.5, [False, True, True]), (a.eq(b), [False, True, False])]:
        assert r.dtype == gg.bool
        assert not r.requires_grad and r.grad_fn is None
        np.testing.assert_array_equal(r.numpy(), expect)
    m = gg.tensor([[1.0], [3.0]]) > gg.tensor([0.0, 2.0])  # broadcasting comparison
    np.testing.assert_array_equal(m.numpy(), [[True, False], [True, True]])
    with pytest.raises(ValueError, match=r"compare.*\(3,\).*\(2,\)"):
        _ = a < gg.tensor([1.0, 2.0])


def test_broadcasting_error_names_op_and_shapes():
    a = gg.randn(3, 4, requires_grad=True)
    b = gg.randn(5, 4)
    with pytest.raises(ValueError, match=r"add.*\(3, 4\).*\(5, 4\)"):
        _ = a + b
    with pytest.raises(ValueError, match=r"mul.*\(3, 4\).*\(5, 4\)"):
        _ = a * b


def test_dtypes_stay_float32_and_int_promotion():
    x = gg.tensor([1.0, 2.0])
    assert x.dtype == gg.float32
    for y in [x + 1, x * 2.5, x / 3, 2 ** x, x ** 2, x - 1.5, 1.0 - x, x.exp(), x.sigmoid(),
              x.gelu(), x.softplus(), x.clamp(0.0, 1.5), x.maximum(1.5), x.leaky_relu()]:
        assert y.dtype == gg.float32, y
    i = gg.tensor([1, 2, 3])
    assert i.dtype == gg.int64
    assert (i + 1).dtype == gg.int64
    assert (i * 2.5).dtype == gg.float32
    assert (i / 2).dtype == gg.float32
    assert (i + x[0]).dtype == gg.float32
    assert i.exp().dtype == gg.float32
    d = gg.tensor([1.0], dtype=gg.float64)
    assert (d + 1.0).dtype == gg.float64
    assert (d * np.float64(2.0)).dtype == gg.float64


def _pair(spec, lib):
    """Build an operand from a spec: ('t', dtype, shape) tensor, ('np', value) NumPy scalar,
    or a Python number."""
    if isinstance(spec, tuple) and spec[0] == "t":
        _, dt, shape = spec
        a = (np.arange(int(np.prod(shape))).reshape(shape) % 3 + 1).astype(dt)
        return gg.tensor(a) if lib == "gg" else torch.tensor(a)
    if isinstance(spec, tuple) and spec[0] == "np":
        return spec[1]
    return spec


PROMOTION = [
    (("t", "float32", (3,)), ("t", "int64", (3,))),
    (("t", "float32", (3,)), ("t", "float64", ())),
    (("t", "float32", (3,)), ("t", "float64", (3,))),
    (("t", "float32", ()), ("t", "float64", ())),
    (("t", "int64", (3,)), ("t", "float64", ())),
    (("t", "int64", (3,)), ("t", "float32", ())),
    (("t", "int32", (3,)), ("t", "int64", ())),
    (("t", "int32", (3,)), ("t", "int64", (3,))),
    (("t", "bool", (3,)), ("t", "int64", ())),
    (("t", "bool", (3,)), ("t", "float32", (3,))),
    (("t", "float16", (3,)), ("t", "float32", ())),
    (("t", "float32", (3,)), ("np", np.float64(2.0))),
    (("t", "int64", (3,)), ("np", np.float64(2.0))),
    (("t", "int64", (3,)), ("np", np.int32(2))),
    (("t", "float32", (3,)), 2.5),
    (("t", "float32", (3,)), 2),
    (("t", "int64", (3,)), 2.5),
    (("t", "int32", (3,)), 2),
    (("t", "bool", (3,)), 2),
    (("t", "bool", (3,)), 2.5),
    (("t", "float64", (3,)), 2.5),
]


@pytest.mark.parametrize("a, b", PROMOTION, ids=str)
@pytest.mark.parametrize("op", ["add", "rsub", "mul", "div", "rdiv", "pow", "maximum", "where"])
def test_type_promotion_matches_torch(a, b, op):
    """Result dtypes follow PyTorch's promotion (no silent float64 from NumPy's rules)."""
    fns = {
        "add": lambda x, y: x + y,
        "rsub": lambda x, y: y - x,
        "mul": lambda x, y: x * y,
        "div": lambda x, y: x / y,
        "rdiv": lambda x, y: y / x,
        "pow": lambda x, y: x ** y,
    }
    ga, gb = _pair(a, "gg"), _pair(b, "gg")
    ta, tb = _pair(a, "torch"), _pair(b, "torch")
    if op == "maximum":
        if not isinstance(tb, torch.Tensor):
            pytest.skip("torch.maximum takes tensors only")
        r, tr = ga.maximum(gb), torch.maximum(ta, tb)
    elif op == "where":
        r = gg.where(ga > 1, ga, gb)
        tr = torch.where(ta > 1, ta, tb)
    else:
        if op in ("pow", "rsub") and str(ta.dtype) == "torch.bool":
            pytest.skip("torch refuses bool ** x and x - bool")
        r, tr = fns[op](ga, gb), fns[op](ta, tb)
    assert str(r.dtype) == str(tr.dtype).replace("torch.", "")
    np.testing.assert_allclose(r.numpy().astype(float), tr.numpy().astype(float), rtol=1e-3)


def test_mixed_dtype_gradients_flow_back_in_each_dtype():
    x = gg.tensor([1.0, 2.0], requires_grad=True)  # float32
    s = gg.tensor(3.0, dtype=gg.float64, requires_grad=True)  # 0-d float64
    y = x * s
    assert y.dtype == gg.float32
    y.sum().backward()
    assert x.grad.dtype == gg.float32 and s.grad.dtype == gg.float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(s.grad.numpy(), 3.0)


def test_clamp_with_tensor_bounds():
    lo = np.array([-0.5, 0.0, 0.5, -1.0])
    hi = np.array([0.5, 1.0, 1.5, -0.5])
    check_op(lambda x, a, b: x.clamp(a, b), inputs=[np.array([0.0, 2.0, 0.2, 0.0]), lo, hi],
             torch_fn=lambda x, a, b: x.clamp(a, b), gradcheck=False)
    check_op(lambda x, a: x.clamp(min=a), inputs=[np.array([0.0, 2.0, 0.2, -3.0]), lo],
             torch_fn=lambda x, a: x.clamp(min=a))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_special_values_match_torch():
    """Gradients at 0, ±inf results and nan follow PyTorch's conventions."""
    a = np.array([0.5, -0.5, 0.0, 2.0, -3.0])
    cases = [
        lambda x: (x * 0) ** 0,  # d/da a^0 = 0 even at a = 0
        lambda x: x ** 0,
        lambda x: 0.0 ** (x * x),  # d/dx 0^x = 0 for x >= 0
        lambda x: (x * 0) ** (x * 0),
        lambda x: (x * 0) ** 2,
        lambda x: (x * 0) ** 1.5,
        lambda x: (x * 0 + 0.0).sqrt(),
        lambda x: (x * 0 + 0.0).log(),
        lambda x: x / (x * 0 + 0.0),
        lambda x: (x * 0 + 0.0).abs(),
        lambda x: (x * 0 + 0.0).relu(),
    ]
    for fn in cases:
        for dt in (np.float64, np.float32):
            x = gg.tensor(a.astype(dt), requires_grad=True)
            t = torch.tensor(a.astype(dt), requires_grad=True)
            y, ty = fn(x), fn(t)
            np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
            y.sum().backward()
            ty.sum().backward()
            np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


# ----------------------------------------------------------------------------- more pointwise
MORE_UNARY = [  # name, glassgrad and torch spelling (same method name), input range
    ("expm1", (-2, 2)), ("exp2", (-2, 2)), ("log2", (0.2, 3)), ("log10", (0.2, 3)),
    ("tan", (-1.2, 1.2)), ("sinh", (-2, 2)), ("cosh", (-2, 2)), ("asin", (-0.9, 0.9)),
    ("acos", (-0.9, 0.9)), ("atan", (-3, 3)), ("frac", (-3, 3)),
]


@pytest.mark.parametrize("name, rng_", MORE_UNARY, ids=[u[0] for u in MORE_UNARY])
@pytest.mark.parametrize("shape", [(3, 4), (), (1, 5, 1), (0, 3)], ids=str)
def test_more_unary(name, rng_, shape):
    x = np.random.default_rng(4).uniform(*rng_, size=shape)
    if name == "frac":  # keep away from integers, where trunc jumps
        x = np.round(x) + 0.3 * np.sign(x) + 0.05
    check_op(lambda t: getattr(t, name)(), inputs=[x])
    assert getattr(gg, name)(gg.tensor(x)).shape == shape


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp"])
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_more_binary(name, shapes):
    check_op(lambda a, b: getattr(a, name)(b), shapes=shapes)


@pytest.mark.parametrize("name", ["fmod", "remainder"])
@pytest.mark.parametrize("shapes", BINARY_SHAPES[:8], ids=str)
def test_fmod_remainder(name, shapes):
    a, b = rand_inputs(shapes, seed=6, low=-5, high=5)
    b = np.sign(b) * (np.abs(b) + 0.7)
    a = a + 0.013  # away from multiples of b, where the quotient jumps
    check_op(lambda x, y: getattr(x, name)(y), inputs=[a, b])
    check_op(lambda x, y: x % y, inputs=[a, b], torch_fn=lambda x, y: torch.remainder(x, y))


def test_more_ops_double_backward():
    from oracle import check_double_backward
    for name in ("expm1", "tan", "sinh", "cosh", "atan", "log2"):
        check_double_backward(lambda t, n=name: getattr(t, n)(), shapes=[(3, 2)], positive=True)
    check_double_backward(lambda a, b: a.atan2(b) + a.hypot(b) + a.logaddexp(b),
                          shapes=[(3, 2), (2,)], positive=True)


def test_rounding_is_constant_and_matches_numpy():
    x = gg.tensor([-2.5, -1.5, -0.4, 0.5, 1.5, 2.7], requires_grad=True)
    for name in ("floor", "ceil", "trunc", "round"):
        r = getattr(x, name)()
        assert r.requires_grad and r.dtype == gg.float32  # a zero gradient, as PyTorch
        np.testing.assert_array_equal(r.detach().numpy(), getattr(np, name)(x.detach().numpy()))
        np.testing.assert_array_equal(
            r.detach().numpy(), getattr(torch, name)(torch.tensor(x.detach().numpy())).numpy())
    for name in ("floor", "ceil", "trunc", "round", "sign"):
        xt = torch.tensor(x.detach().numpy(), requires_grad=True)
        getattr(xt, name)().sum().backward()
        x.grad = None
        getattr(x, name)().sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())  # zeros
    assert gg.tensor([1.234, 5.678]).round(1).numpy().tolist() == pytest.approx([1.2, 5.7])
    assert (gg.tensor([7, -7]) % 3).numpy().tolist() == [1, 2]       # Python's sign rule
    assert gg.tensor([7, -7]).fmod(3).numpy().tolist() == [1, -1]    # C's sign rule
