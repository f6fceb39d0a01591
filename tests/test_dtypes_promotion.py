"""Result dtypes (and values) of operators, reductions and ``where`` over a grid of operand
dtypes, against PyTorch; the legacy tensor types (``gg.FloatTensor`` ...) and ``Tensor.type``."""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

import glassgrad as gg
from oracle import needs_torch, torch

pytestmark = needs_torch

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]

BINARY = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "**": operator.pow, "%": operator.mod, "<": operator.lt,
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "&": operator.and_,
    "|": operator.or_, "^": operator.xor,
}

# combinations PyTorch refuses that glassgrad computes (more permissive, never a different
# answer to something PyTorch answers): bool subtraction, bool // % ** bool


def _arr(dt: str, shape: tuple) -> np.ndarray:
    return (np.arange(1, 1 + int(np.prod(shape))).reshape(shape) % 3 + 1).astype(dt)


def _both(a: np.ndarray) -> tuple:
    return gg.tensor(a), torch.tensor(a)


def _name(t) -> str:
    return str(t.dtype).replace("torch.", "")


def _same(g, t, what: str) -> None:
    assert str(g.dtype) == _name(t), f"{what}: glassgrad gives {g.dtype}, PyTorch {_name(t)}"
    tol = 2e-3 if g.dtype == np.float16 else 1e-6
    np.testing.assert_allclose(np.asarray(g.numpy(), dtype=float), t.numpy().astype(float),
                               rtol=tol, atol=tol, err_msg=what)


def _torch_or_none(fn, *args):
    try:
        return fn(*args)
    except (RuntimeError, TypeError):
        return None


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_ops_on_two_tensors_give_torch_dtype(op):
    f = BINARY[op]
    for d1, d2, (s1, s2) in itertools.product(DTYPES, DTYPES, [((3,), (3,)), ((3,), ()), ((), (3,))]):
        (g1, t1), (g2, t2) = _both(_arr(d1, s1)), _both(_arr(d2, s2))
        tr = _torch_or_none(f, t1, t2)
        if tr is None:
            continue
        _same(f(g1, g2), tr, f"{d1}{list(s1)} {op} {d2}{list(s2)}")


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_ops_with_python_numbers_give_torch_dtype(op):
    f = BINARY[op]
    for d, c, rev in itertools.product(DTYPES, [2, 2.5, True], [False, True]):
        g, t = _both(_arr(d, (3,)))
        tr = _torch_or_none(f, *((c, t) if rev else (t, c)))
        if tr is None or (op == "**" and d == "bool" and c is True):  # PyTorch: bool; here int8
            continue
        gr = f(c, g) if rev else f(g, c)
        _same(gr, tr, f"{c!r} {op} {d}" if rev else f"{d} {op} {c!r}")


def test_the_promotion_rules_named_in_the_docs():
    i64, i32, f32 = gg.tensor([1, 2]), gg.tensor([1, 2], dtype=gg.int32), gg.tensor([1.0, 2.0])
    assert (i64 + 1.5).dtype == gg.float32          # int tensor + Python float -> float32
    assert (i32 + i64).dtype == gg.int64
    assert (gg.tensor([True]) + gg.tensor([True])).dtype == gg.bool
    assert (i64 / i64).dtype == gg.float32          # true division
    assert (i64 // i64).dtype == gg.int64
    assert (i64 * f32).dtype == gg.float32
    assert (2 ** i64).dtype == gg.int64 and (2.0 ** i64).dtype == gg.float32
    assert (7 // i64).tolist() == [7, 3] and (7 % i64).tolist() == [0, 1]
    assert (3 & gg.tensor([1, 2])).tolist() == [1, 2]


def test_bitwise_ops_on_floats_are_a_clear_error():
    with pytest.raises(TypeError, match="bitwise_and: needs bool or integer operands"):
        gg.tensor([1.0]) & gg.tensor([1.0])
    with pytest.raises(TypeError, match="bitwise_or"):
        gg.tensor([1]) | 1.5


REDUCTIONS = {
    "sum": lambda t: t.sum(), "sum(0)": lambda t: t.sum(0), "prod": lambda t: t.prod(),
    "cumsum": lambda t: t.cumsum(0), "argmax": lambda t: t.argmax(),
    "argmax(0)": lambda t: t.argmax(0), "argmin(1)": lambda t: t.argmin(1),
    "max": lambda t: t.max(), "max(0).indices": lambda t: t.max(0)[1], "amax": lambda t: t.amax(),
    "mean": lambda t: t.mean(), "abs": lambda t: t.abs(), "neg": lambda t: -t,
    "exp": lambda t: t.exp(), "sqrt": lambda t: t.sqrt(), "sigmoid": lambda t: t.sigmoid(),
    "clamp": lambda t: t.clamp(0, 2), "sign": lambda t: t.sign(), "floor": lambda t: t.floor(),
    "all": lambda t: t.all(), "sort.indices": lambda t: t.sort()[1],
    "topk.indices": lambda t: t.topk(1)[1], "float()": lambda t: t.float(),
    "long()": lambda t: t.long(), "int()": lambda t: t.int(), "double()": lambda t: t.double(),
    "half()": lambda t: t.half(), "bool()": lambda t: t.bool(),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions_and_unary_ops_give_torch_dtype(name):
    f = REDUCTIONS[name]
    for d in DTYPES:
        g, t = _both(_arr(d, (2, 3)))
        tr = _torch_or_none(f, t)
        if tr is None or (name == "all" and d == "uint8"):  # PyTorch keeps uint8 there; here bool
            continue
        _same(f(g), tr, f"{name} of {d}")


def test_where_gives_torch_dtype():
    for d, other in itertools.product(DTYPES, [0, 2.5, True, "float32", "int64"]):
        g, t = _both(_arr(d, (3,)))
        go, to = (_both(_arr(other, (3,))) if isinstance(other, str) else (other, other))
        for swap in (False, True):
            targs, gargs = ((to, t), (go, g)) if swap else ((t, to), (g, go))
            tr = _torch_or_none(torch.where, t > 1, *targs)
            if tr is None:
                continue
            _same(gg.where(g > 1, *gargs), tr, f"where({d}, {other!r}, swap={swap})")
    for a, b in [(1.0, 0.0), (1, 0), (1, 0.5), (True, False)]:
        c = [True, False]
        _same(gg.where(gg.tensor(c), a, b), torch.where(torch.tensor(c), a, b), f"where({a}, {b})")


# ---------------------------------------------------------------------- legacy tensor types
LEGACY = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
          "CharTensor", "ByteTensor", "BoolTensor"]


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_types_construct_and_check_as_torch(name):
    G, T = getattr(gg, name), getattr(torch, name)
    assert G.dtype == np.dtype(_name(T(1)))
    for args in [(2, 3), (4,), ([1, 0, 1],), ([[1, 2], [3, 0]],), ()]:
        g, t = G(*args), T(*args)
        assert tuple(g.shape) == tuple(t.shape) and str(g.dtype) == _name(t), (name, args)
        if args and isinstance(args[0], list):
            np.testing.assert_array_equal(g.numpy(), t.numpy())
    for d in DTYPES:
        g, t = _both(_arr(d, (2,)))
        assert isinstance(g, G) == isinstance(t, T), (name, d)
        assert g.type() == t.type()
        assert gg.tensor(g).type(G).dtype == G.dtype
        assert g.type("torch." + name).dtype == G.dtype
    assert repr(G) == f"<class 'glassgrad.{name}'>"
    assert not issubclass(G, gg.Tensor)


def test_tensor_type_converts_and_refuses_bad_names():
    x = gg.tensor([1.7, -2.2])
    assert x.type() == "torch.FloatTensor"
    assert x.type(gg.int64).tolist() == torch.tensor([1.7, -2.2]).type(torch.int64).tolist()
    assert x.type(gg.LongTensor).type() == "torch.LongTensor"
    assert x.type("torch.DoubleTensor").dtype == gg.float64
    assert x.type(gg.float32) is x
    with pytest.raises(TypeError, match="type\\(\\): invalid type 'torch.int64'"):
        x.type("torch.int64")
    with pytest.raises(TypeError, match="FloatTensor\\(\\): expected sizes"):
        gg.FloatTensor(2, [3])
    # gradients flow through a conversion as through .to()
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    w.type(gg.DoubleTensor).sum().backward()
    assert w.grad.dtype == gg.float32 and w.grad.tolist() == [1.0, 1.0]


def test_cuda_legacy_types_check_the_device():
    assert gg.cuda.FloatTensor.dtype == gg.float32 and gg.cuda.FloatTensor.is_cuda
    assert not isinstance(gg.zeros(2), gg.cuda.FloatTensor)
    assert repr(gg.cuda.LongTensor) == "<class 'glassgrad.cuda.LongTensor'>"
    for name in LEGACY:  # each name is bound to the type of that name and the CPU type's dtype
        assert repr(getattr(gg.cuda, name)) == f"<class 'glassgrad.cuda.{name}'>"
        assert getattr(gg.cuda, name).dtype == getattr(gg, name).dtype
