"""Elementwise helpers and integer/bitwise ops (glassgrad/tensor_methods/extra2.py) against
PyTorch: nan_to_num, signbit, copysign, fmax/fmin, heaviside, float_power, ldexp, frexp,
logaddexp2, nextafter, hardshrink, bitwise_*, gcd/lcm, casts and small queries."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op, needs_torch, torch

pytestmark = needs_torch

NAN, INF = float("nan"), float("inf")


def _same(a, b, **kw):
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype).replace("torch.", ""), (a.dtype, b.dtype)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), equal_nan=True, **kw)


def test_nan_to_num():
    a = np.array([NAN, INF, -INF, 1.5, -0.0])
    for kw in ({}, {"nan": 2.0}, {"nan": 1.0, "posinf": 9.0, "neginf": -9.0}):
        for dt in (np.float32, np.float64):
            g = gg.tensor(a.astype(dt), requires_grad=True)
            t = torch.tensor(a.astype(dt), requires_grad=True)
            _same(g.nan_to_num(**kw), t.nan_to_num(**kw))
            g.nan_to_num(**kw).sum().backward()
            t.nan_to_num(**kw).sum().backward()
            np.testing.assert_array_equal(g.grad.numpy(), t.grad.numpy())
    x = gg.tensor(a)
    gg.nan_to_num_(x)
    assert np.isfinite(x.numpy()).all()
    _same(gg.tensor([1, 2]).nan_to_num(), torch.tensor([1, 2]).nan_to_num())


@pytest.mark.parametrize("fn", [
    lambda x, y: x.copysign(y),
    lambda x, y: x.fmax(y),
    lambda x, y: x.fmin(y),
    lambda x, y: x.logaddexp2(y),
    lambda x, y: x.ldexp(y),
    lambda x, y: x.hardshrink(0.7) + y.hardshrink(),
])
def test_binary_grads(fn):
    check_op(fn, shapes=[(3, 4), (4,)], gradcheck=False)
    check_op(fn, shapes=[(3, 4), (3, 4)], dtypes=(np.float64,))


def test_float_power_dtype_and_inplace():
    check_op(lambda x, y: x.float_power(y), shapes=[(3, 4), (4,)], positive=True,
             dtypes=(np.float64,))
    _same(gg.tensor([1.0, 2.0]).float_power(2), torch.tensor([1.0, 2.0]).float_power(2))
    _same(gg.tensor([1, 2]).float_power(gg.tensor([2.0, 0.5])),
          torch.tensor([1, 2]).float_power(torch.tensor([2.0, 0.5])))
    with pytest.raises(RuntimeError, match="float_power_"):
        gg.tensor([1.0]).float_power_(2)
    x = gg.tensor([2.0], dtype=gg.float64)
    x.float_power_(3)
    assert x.item() == 8.0


def test_nan_aware_extremes_and_ties():
    a = np.array([1.0, NAN, NAN, 2.0, 3.0])
    b = np.array([NAN, 2.0, NAN, 2.0, -1.0])
    for name in ("fmax", "fmin"):
        ga, gb = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        _same(getattr(ga, name)(gb), getattr(ta, name)(tb))
        getattr(ga, name)(gb).sum().backward()
        getattr(ta, name)(tb).sum().backward()
        np.testing.assert_array_equal(ga.grad.numpy(), ta.grad.numpy())
        np.testing.assert_array_equal(gb.grad.numpy(), tb.grad.numpy())


def test_copysign_signed_zero_and_ints():
    a = np.array([1.0, -2.0, 0.0, 3.0])
    b = np.array([-0.0, 1.0, -1.0, NAN])
    _same(gg.tensor(a).copysign(gg.tensor(b)), torch.tensor(a).copysign(torch.tensor(b)))
    _same(gg.tensor([1, -2]).copysign(-1.0), torch.tensor([1, -2]).copysign(-1.0))
    _same(gg.tensor([1.0, -2.0]).signbit(), torch.tensor([1.0, -2.0]).signbit())
    _same(gg.tensor([-0.0, 0.0]).signbit(), torch.tensor([-0.0, 0.0]).signbit())


def test_heaviside_frexp_nextafter_isinf_helpers():
    x = np.array([-1.5, 0.0, 2.0])
    _same(gg.tensor(x).heaviside(gg.tensor([0.5, 0.5, 0.5], dtype=gg.float64)),
          torch.tensor(x).heaviside(torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)))
    _same(gg.heaviside(gg.tensor([-1, 0, 3]), gg.tensor([7])),
          torch.heaviside(torch.tensor([-1, 0, 3]), torch.tensor([7])))
    with pytest.raises(TypeError, match="heaviside"):
        gg.tensor([1.0]).heaviside(gg.tensor([1]))
    y = np.array([0.0, 1.0, -3.5, 1e-300, 1024.0], dtype=np.float32)
    for a, b in zip(gg.tensor(y).frexp(), torch.tensor(y).frexp()):
        _same(a, b)
    _same(gg.tensor([1.0, 2.0]).nextafter(gg.tensor([2.0, 0.0])),
          torch.tensor([1.0, 2.0]).nextafter(torch.tensor([2.0, 0.0])))
    z = np.array([INF, -INF, NAN, 1.0])
    for name in ("isposinf", "isneginf", "isreal"):
        _same(getattr(gg.tensor(z), name)(), getattr(torch.tensor(z), name)())
        _same(getattr(gg, name)(gg.tensor([1, 2])), getattr(torch, name)(torch.tensor([1, 2])))


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor",
                                  "bitwise_left_shift", "bitwise_right_shift", "gcd", "lcm"])
def test_integer_binary(name):
    a = np.array([[12, -7, 0, 5], [3, 8, 255, -1]], dtype=np.int64)
    b = np.array([3, 2, 5, 1], dtype=np.int64)
    for dt in (np.int64, np.int32, np.uint8, np.int16):
        aa, bb = np.abs(a).astype(dt) if dt == np.uint8 else a.astype(dt), b.astype(dt)
        _same(getattr(gg.tensor(aa), name)(gg.tensor(bb)),
              getattr(torch.tensor(aa), name)(torch.tensor(bb)))
        if name not in ("gcd", "lcm"):
            _same(getattr(gg, name)(gg.tensor(aa), 2), getattr(torch, name)(torch.tensor(aa), 2))
        x = gg.tensor(aa)
        getattr(x, name + "_")(gg.tensor(bb))
        t = torch.tensor(aa)
        getattr(t, name + "_")(torch.tensor(bb))
        _same(x, t)
    if not name.startswith(("gcd", "lcm")) and "shift" not in name:
        m = np.array([True, False, True])
        _same(getattr(gg.tensor(m), name)(gg.tensor(~m)),
              getattr(torch.tensor(m), name)(torch.tensor(~m)))
    with pytest.raises(TypeError, match=name):
        getattr(gg.tensor([1.0]), name)(gg.tensor([1]))


def test_bitwise_not_shift_operators_and_casts():
    a = np.array([0, 5, -3], dtype=np.int32)
    _same(gg.tensor(a).bitwise_not(), torch.tensor(a).bitwise_not())
    _same(gg.bitwise_not(gg.tensor([True, False])), torch.bitwise_not(torch.tensor([True, False])))
    _same(gg.tensor(a) << 2, torch.tensor(a) << 2)
    _same(gg.tensor(a) >> 1, torch.tensor(a) >> 1)
    with pytest.raises(TypeError, match="bitwise_not"):
        gg.tensor([1.0]).bitwise_not()
    for name in ("byte", "char", "short"):
        _same(getattr(gg.tensor([1.7, -2.2, 3.0]), name)(),
              getattr(torch.tensor([1.7, -2.2, 3.0]), name)())


def test_queries():
    assert gg.tensor([3.0]).is_nonzero() is True
    assert gg.tensor(0).is_nonzero() is False
    with pytest.raises(RuntimeError, match="is_nonzero"):
        gg.tensor([1, 2]).is_nonzero()
    assert gg.ones(2).is_inference() is False
    x = gg.ones(2, 3)
    assert x.dim_order() == tuple(torch.ones(2, 3).dim_order())
    assert x.t().dim_order() == tuple(torch.ones(2, 3).t().dim_order())
    v, i = gg.ones(3, requires_grad=True).sort()
    assert v.output_nr == 0
