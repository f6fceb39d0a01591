"""Constructors accept every size spelling PyTorch does (varargs, tuple, list, ``size=``,
a shape), ``dtype=``/``device=``/``requires_grad=``/``out=``; ``Tensor.new_*`` take sizes
as varargs or a tuple and inherit dtype and device; negative sizes are a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import needs_torch, torch

pytestmark = needs_torch

FORMS = [((2, 3), {}), (((2, 3),), {}), (([2, 3],), {}), ((), {"size": (2, 3)}),
         ((), {"size": [2, 3]}), ((4,), {}), (((),), {}), (([],), {}), ((0, 2), {})]


def _name(t) -> str:
    return str(t.dtype).replace("torch.", "")


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty", "rand", "randn"])
@pytest.mark.parametrize("args,kw", FORMS)
def test_size_forms_as_torch(fn, args, kw):
    g, t = getattr(gg, fn)(*args, **kw), getattr(torch, fn)(*args, **kw)
    assert tuple(g.shape) == tuple(t.shape) and str(g.dtype) == _name(t)
    if fn in ("zeros", "ones"):
        np.testing.assert_array_equal(g.numpy(), t.numpy())


def test_size_from_a_shape_or_0d_int_tensor():
    x = gg.zeros(2, 5)
    assert gg.ones(x.shape).shape == (2, 5)
    assert gg.zeros(gg.tensor(3)).shape == tuple(torch.zeros(torch.tensor(3)).shape)
    assert gg.zeros(np.int64(2), 3).shape == (2, 3)


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty", "rand", "randn"])
def test_dtype_device_requires_grad_keywords(fn):
    g = getattr(gg, fn)(2, 3, dtype=gg.float64, device=gg.device("cpu"), requires_grad=True)
    t = getattr(torch, fn)(2, 3, dtype=torch.float64, device=torch.device("cpu"), requires_grad=True)
    assert str(g.dtype) == _name(t) and g.requires_grad and g.device == "cpu" and g.is_leaf


def test_full_randint_and_like_functions_as_torch():
    for args, kw in [(((2, 3), 1.5), {}), (([2], 7), {}), (((2,), True), {}),
                     ((), {"size": (2, 2), "fill_value": 3}), (((2,), 1.5), {"dtype": torch.int64})]:
        tkw = dict(kw)
        gkw = {k: (gg.int64 if v is torch.int64 else v) for k, v in kw.items()}
        g, t = gg.full(*args, **gkw), torch.full(*args, **tkw)
        assert tuple(g.shape) == tuple(t.shape) and str(g.dtype) == _name(t), (args, kw)
        np.testing.assert_array_equal(g.numpy(), t.numpy())
    for args, kw in [((0, 5, (3,)), {}), ((5, (2, 2)), {}), ((3, 10), {"size": (4,)}),
                     ((10,), {"size": [2, 3]}), ((0, 5, (3,)), {"dtype": "int32"})]:
        g = gg.randint(*args, **kw)
        t = torch.randint(*args, **{k: (torch.int32 if v == "int32" else v) for k, v in kw.items()})
        assert tuple(g.shape) == tuple(t.shape) and str(g.dtype) == _name(t), (args, kw)
    x, tx = gg.zeros(2, 3, dtype=gg.int32), torch.zeros(2, 3, dtype=torch.int32)
    for name in ["zeros_like", "ones_like", "empty_like"]:
        for kw in [{}, {"dtype": "float64"}]:
            g = getattr(gg, name)(x, **kw)
            t = getattr(torch, name)(tx, **({"dtype": torch.float64} if kw else {}))
            assert tuple(g.shape) == tuple(t.shape) and str(g.dtype) == _name(t)
    g, t = gg.full_like(x, 7, device="cpu"), torch.full_like(tx, 7, device="cpu")
    assert str(g.dtype) == _name(t) and g.tolist() == t.tolist()
    assert gg.rand_like(gg.zeros(3), requires_grad=True).requires_grad


def test_out_argument_as_torch():
    o = gg.empty(2, dtype=gg.int64)
    r = gg.zeros(3, out=o)
    assert r is o and o.dtype == gg.int64 and o.tolist() == [0, 0, 0]
    o = gg.empty(3)
    assert gg.arange(3, out=o) is o and o.tolist() == [0.0, 1.0, 2.0] and o.dtype == gg.float32
    o = gg.zeros(2, 2)
    gg.ones((2, 2), out=o)
    assert o.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    gg.full((2,), 5.0, out=o)
    assert o.shape == (2,)
    with pytest.raises(TypeError, match="zeros: dtype float64 does not match the dtype of out="):
        gg.zeros(2, dtype=gg.float64, out=gg.empty(2))
    with pytest.raises(RuntimeError, match="ones: functions with out= do not support"):
        gg.ones(2, out=gg.empty(2, requires_grad=True))
    with pytest.raises(TypeError, match="randn: argument 'out' must be a Tensor"):
        gg.randn(2, out=np.empty(2))


@pytest.mark.parametrize("call,name", [
    (lambda: gg.zeros(2, -3), "zeros"), (lambda: gg.ones((-1,)), "ones"),
    (lambda: gg.empty(size=(2, -2)), "empty"), (lambda: gg.rand(-1), "rand"),
    (lambda: gg.randn([3, -4]), "randn"), (lambda: gg.full((-2,), 1.0), "full"),
    (lambda: gg.randint(0, 3, (-1,)), "randint"), (lambda: gg.zeros(3).new_zeros(2, -3), "new_zeros"),
    (lambda: gg.zeros(3).new_ones((-2,)), "new_ones"), (lambda: gg.zeros(3).new_full((-1,), 2), "new_full"),
])
def test_negative_size_is_a_clear_error(call, name):
    with pytest.raises(ValueError, match=rf"^{name}: negative dimension -\d+ in argument 'size'"):
        call()


def test_bad_size_types_are_a_clear_error():
    with pytest.raises(TypeError, match="zeros: argument 'size' must be a tuple of ints, but entry 0"):
        gg.zeros(2.0)
    with pytest.raises(TypeError, match="ones: got the size both as positional"):
        gg.ones(2, size=(3,))
    with pytest.raises(TypeError, match="rand\\(\\) got unexpected keyword arguments \\['sise'\\]"):
        gg.rand(sise=(2,))
    with pytest.raises(TypeError, match="randint: missing the argument 'size'"):
        gg.randint(0, 4)


@pytest.mark.parametrize("method", ["new_zeros", "new_ones", "new_empty"])
def test_new_methods_take_varargs_or_tuple_and_inherit(method):
    for dt, tdt in [(gg.int32, torch.int32), (gg.float64, torch.float64), (gg.bool, torch.bool)]:
        x, tx = gg.zeros(1, dtype=dt), torch.zeros(1, dtype=tdt)
        for args, kw in [((2, 3), {}), (((2, 3),), {}), (([4],), {}), ((), {"size": (2,)}),
                         ((2,), {"dtype": torch.float16})]:
            gkw = {k: (gg.float16 if v is torch.float16 else v) for k, v in kw.items()}
            g, t = getattr(x, method)(*args, **gkw), getattr(tx, method)(*args, **kw)
            assert tuple(g.shape) == tuple(t.shape) and str(g.dtype) == _name(t), (args, kw)
            if method != "new_empty":
                np.testing.assert_array_equal(g.numpy(), t.numpy())
    y = gg.zeros(2).new_ones(3, requires_grad=True)
    assert y.requires_grad and y.is_leaf


def test_new_full_and_new_tensor_inherit_dtype_as_torch():
    for dt, tdt in [(gg.int32, torch.int32), (gg.float32, torch.float32), (gg.float64, torch.float64)]:
        x, tx = gg.zeros(1, dtype=dt), torch.zeros(1, dtype=tdt)
        for fill in [3, 2.5, True]:
            g, t = x.new_full((2,), fill), tx.new_full((2,), fill)
            assert str(g.dtype) == _name(t) and g.tolist() == t.tolist()
        for data in [[1, 2], [1.5], 3, [[True]]]:
            g, t = x.new_tensor(data), tx.new_tensor(data)
            assert str(g.dtype) == _name(t) and g.tolist() == t.tolist()
    src = gg.tensor([1.0, 2.0], requires_grad=True)
    copy = gg.zeros(1, dtype=gg.float64).new_tensor(src)
    assert copy.dtype == gg.float64 and not copy.requires_grad
    assert gg.zeros(1).new_tensor([1, 2], dtype=gg.int64).dtype == gg.int64
