"""The table of one-input elementwise ops (glassgrad/ops/_unary.py): every row makes a
Function class like a hand-written one (name, module, formulas, derivation), with values,
first and second derivatives equal to PyTorch's."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.autograd.function import Function
from glassgrad.glassbox.formulas import FORMULAS
from glassgrad.ops import _unary
from glassgrad.ops import elementwise as E
from glassgrad.ops import extra as X
from glassgrad.ops import special as S
from glassgrad.ops import trig as T
from oracle import check_double_backward, check_op

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]

# op class -> (the same call in glassgrad and torch, input range)
ROWS = {
    E.Neg: (lambda x: -x, (-2, 2)),
    E.Exp: (lambda x: x.exp(), (-2, 2)),
    E.Expm1: (lambda x: x.expm1(), (-2, 2)),
    E.Exp2: (lambda x: x.exp2(), (-2, 2)),
    E.Log: (lambda x: x.log(), (0.2, 3)),
    E.Log1p: (lambda x: x.log1p(), (-0.5, 3)),
    E.Sqrt: (lambda x: x.sqrt(), (0.2, 3)),
    E.Abs: (lambda x: x.abs(), (-2, 2)),
    E.Relu: (lambda x: x.relu(), (-2, 2)),
    E.Sigmoid: (lambda x: x.sigmoid(), (-3, 3)),
    E.LogSigmoid: (lambda x: gg.nn.functional.logsigmoid(x) if isinstance(x, gg.Tensor)
                   else torch.nn.functional.logsigmoid(x), (-3, 3)),
    E.Erf: (lambda x: x.erf(), (-2, 2)),
    T.Sin: (lambda x: x.sin(), (-3, 3)),
    T.Cos: (lambda x: x.cos(), (-3, 3)),
    T.Tan: (lambda x: x.tan(), (-1.2, 1.2)),
    T.Sinh: (lambda x: x.sinh(), (-2, 2)),
    T.Cosh: (lambda x: x.cosh(), (-2, 2)),
    T.Tanh: (lambda x: x.tanh(), (-2, 2)),
    T.Asin: (lambda x: x.asin(), (-0.9, 0.9)),
    T.Acos: (lambda x: x.acos(), (-0.9, 0.9)),
    T.Atan: (lambda x: x.atan(), (-3, 3)),
    X.Asinh: (lambda x: x.asinh(), (-3, 3)),
    X.Acosh: (lambda x: x.acosh(), (1.2, 4)),
    X.Atanh: (lambda x: x.atanh(), (-0.9, 0.9)),
    S.Lgamma: (lambda x: x.lgamma(), (0.3, 4)),
    S.Digamma: (lambda x: x.digamma(), (0.3, 4)),
    S.Erfc: (lambda x: x.erfc(), (-2, 2)),
    S.Erfinv: (lambda x: x.erfinv(), (-0.9, 0.9)),
    S.I0: (lambda x: x.i0(), (-3, 3)),
    S.I1: (lambda x: gg.special.i1(x) if isinstance(x, gg.Tensor) else torch.special.i1(x), (-3, 3)),
}


def _table_classes() -> list[type]:
    mods = (E, T, X, S)
    return [c for m in mods for c in vars(m).values()
            if isinstance(c, type) and issubclass(c, Function) and "vjp" in c.__dict__]


def _x(rng: tuple, n: int = 7) -> np.ndarray:
    return np.random.default_rng(3).uniform(rng[0], rng[1], size=(n,))


def test_every_row_is_tested_here():
    assert set(_table_classes()) == set(ROWS)


@pytest.mark.parametrize("cls", list(ROWS), ids=lambda c: c.__name__)
def test_row_makes_a_class_like_a_hand_written_op(cls):
    mod = cls.__module__
    assert mod.startswith("glassgrad.ops.") and getattr(importlib.import_module(mod), cls.__name__) is cls
    assert cls.__qualname__ == cls.__name__ and cls.name() == f"{cls.__name__}Backward"
    f = FORMULAS[cls]
    assert f.inputs == ("X",) and f.grads[0].startswith("dX = ")
    assert cls.derivation.startswith("docs/derivations/")
    # the line the derivation index shows is the row's
    src = Path(importlib.import_module(mod).__file__).read_text(encoding="utf-8").splitlines()
    assert src[cls.__firstlineno__ - 1].startswith(f"{cls.__name__} = unary(\"{cls.__name__}\"")


@pytest.mark.parametrize("cls", list(ROWS), ids=lambda c: c.__name__)
def test_row_values_and_gradients_match_torch(cls):
    fn, rng = ROWS[cls]
    x = _x(rng)
    tol = 1e-8 if cls is S.Digamma else None  # its derivative ψ⁽¹⁾ is a series (1e-9 relative)
    check_op(fn, inputs=[x], atol=tol, rtol=tol)
    y = fn(gg.tensor(x, requires_grad=True))
    assert type(y.grad_fn) is cls


@pytest.mark.parametrize("cls", list(ROWS), ids=lambda c: c.__name__)
def test_row_second_derivative_matches_torch(cls):
    fn, rng = ROWS[cls]
    # times x, so that the second derivative is not trivial for linear ops (neg, abs, relu)
    check_double_backward(lambda x: fn(x) * x, inputs=[_x(rng)], atol=1e-8, rtol=1e-7)


def test_vjp_parameters_choose_what_is_saved():
    x = gg.tensor([0.5, 1.0], requires_grad=True)
    assert x.exp().grad_fn._saved[0] is not x.array  # Exp keeps its output z
    assert x.log().grad_fn._saved[0] is x.array  # Log keeps its input x
    assert not (-x).grad_fn._saved  # Neg keeps nothing


def test_a_new_row():
    Cube = _unary.unary("Cube", lambda x: x**3, lambda g, x: g * 3 * x * x, "dX = dZ ⊙ 3X²",
                        "docs/derivations/elementwise.md#pointwise-functions")
    assert Cube.__module__ == __name__ and Cube.__doc__ == "``z = <lambda>(x)``."
    x = gg.tensor([1.0, -2.0], dtype=gg.float64, requires_grad=True)
    (g,) = gg.grad(Cube.apply(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    (h,) = gg.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), [6.0, -12.0])  # d/dx 3x² = 6x


def test_bad_vjp_parameters_are_refused():
    with pytest.raises(TypeError, match=r"unary Bad: the vjp's parameters must be .*\('g', 'y'\)"):
        _unary.unary("Bad", "exp", lambda g, y: g * y, "dX = dZ", "docs/derivations/elementwise.md#x")


def test_ignore_silences_the_expected_infinities():
    x = gg.tensor([1.0, -1.0, 0.5], dtype=gg.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.asin().sum().backward()
        y = gg.tensor([1.0, 0.0], dtype=gg.float64, requires_grad=True)
        y.atanh().sum().backward()
    assert np.isinf(x.grad.numpy()[:2]).all() and np.isinf(y.grad.numpy()[0])


def test_derivation_index_points_at_the_rows():
    spec = importlib.util.spec_from_file_location("derivation_index", ROOT / "tools" / "derivation_index.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool._line(T.Tanh) == T.Tanh.__firstlineno__
    assert tool._file(T.Tanh) == "src/glassgrad/ops/trig.py"


# the functions of two inputs as rows (``_unary.binary``): op class -> the same call in glassgrad and torch
BINARY_ROWS = {
    T.Hypot: lambda a, b: a.hypot(b),
    E.LogAddExp: lambda a, b: a.logaddexp(b),
}


def test_every_binary_row_is_tested_here():
    mods = (E, T, X, S)
    found = {c for m in mods for c in vars(m).values()
             if isinstance(c, type) and issubclass(c, Function) and "vjp_a" in c.__dict__}
    assert found == set(BINARY_ROWS)


@pytest.mark.parametrize("cls", list(BINARY_ROWS), ids=lambda c: c.__name__)
def test_binary_row_makes_a_class_like_a_hand_written_op(cls):
    mod = cls.__module__
    assert getattr(importlib.import_module(mod), cls.__name__) is cls
    assert cls.__qualname__ == cls.__name__ and cls.name() == f"{cls.__name__}Backward"
    f = FORMULAS[cls]
    assert f.inputs == ("A", "B") and f.grads[0].startswith("dA = ") and f.grads[1].startswith("dB = ")
    assert cls.derivation == "docs/derivations/elementwise.md#binary-arithmetic" and cls.fresh_grads
    src = Path(importlib.import_module(mod).__file__).read_text(encoding="utf-8").splitlines()
    assert src[cls.__firstlineno__ - 1].startswith(f"{cls.__name__} = binary(\"{cls.__name__}\"")


@pytest.mark.parametrize("cls", list(BINARY_ROWS), ids=lambda c: c.__name__)
def test_binary_row_values_and_broadcast_gradients_match_torch(cls):
    fn = BINARY_ROWS[cls]
    check_op(fn, shapes=[(3, 1), (1, 4)])
    check_op(fn, shapes=[(2, 3), (3,)], grad=[False, True])  # only b's gradient is computed
    check_double_backward(lambda a, b: fn(a, b) * a, shapes=[(3, 1), (4,)], atol=1e-8, rtol=1e-7)
    a = gg.tensor([[1.0], [2.0]], requires_grad=True)
    assert type(fn(a, gg.tensor([3.0, 4.0])).grad_fn) is cls


def test_bad_binary_vjp_parameters_are_refused():
    with pytest.raises(TypeError, match=r"binary Bad: the vjps' parameters must be \(g, a, b, z\), "
                                        r"got \('g', 'a', 'b'\)"):
        _unary.binary("Bad", "hypot", lambda g, a, b, z: g, lambda g, a, b: g, "dA = dZ", "dB = dZ",
                      "docs/derivations/elementwise.md#binary-arithmetic", "``z = bad(a, b)``.")
