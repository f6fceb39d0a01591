"""The Tensor API with PyTorch's names: constructors and dtypes, properties, autograd
attributes, conversion, grad-mode switches, seeding, devices, error messages."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.backend import cupy_available

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------- constructors, dtypes
def test_tensor_dtype_inference_like_torch():
    assert gg.tensor(1.5).dtype == gg.float32 == torch.tensor(1.5).dtype.__repr__().split(".")[-1]
    assert gg.tensor([1.0, 2.0]).dtype == gg.float32
    assert gg.tensor([[1, 2], [3, 4]]).dtype == gg.int64
    assert gg.tensor([True, False]).dtype == gg.bool
    assert gg.tensor([1, 2.5]).dtype == gg.float32
    assert gg.tensor(3).shape == () and gg.tensor(3).dtype == gg.int64
    # NumPy arrays keep their dtype (as torch.tensor(ndarray) does)
    assert gg.tensor(np.zeros(2)).dtype == gg.float64
    assert gg.tensor(np.zeros(2, np.float32)).dtype == gg.float32
    for d in [gg.float32, gg.float64, gg.int64, gg.int32, gg.bool, gg.float16, gg.uint8]:
        assert gg.tensor([1, 0], dtype=d).dtype == d
    # aliases and torch-style names
    assert gg.float is gg.float32 and gg.double is gg.float64 and gg.long is gg.int64
    assert gg.tensor([1], dtype=float).dtype == gg.float32
    assert gg.tensor([1], dtype="float64").dtype == gg.float64
    assert gg.tensor([1], dtype=torch.float64).dtype == gg.float64


def test_tensor_copies_its_data():
    a = np.zeros(3, np.float32)
    t = gg.tensor(a)
    a[0] = 1
    assert t.numpy()[0] == 0
    s = gg.from_numpy(a)  # from_numpy shares memory
    a[1] = 2
    assert s.numpy()[1] == 2
    u = gg.tensor(t)
    t.array[2] = 9
    assert u.numpy()[2] == 0


def test_tensor_bad_input():
    with pytest.raises(ValueError, match="tensor: .*ragged"):
        gg.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match="tensor: .*ragged"):
        gg.tensor([[1.0, 2.0], [3.0]], dtype=gg.float64)
    with pytest.raises(TypeError, match="dtype"):
        gg.tensor([1], dtype="notadtype")


@pytest.mark.parametrize("fn", [gg.zeros, gg.ones, gg.randn, gg.rand, gg.empty])
def test_shape_constructors(fn):
    assert fn(2, 3).shape == (2, 3) and fn(2, 3).dtype == gg.float32
    assert fn((2, 3)).shape == (2, 3)
    assert fn([4]).shape == (4,)
    assert fn().shape == ()
    assert fn(0, 2).shape == (0, 2)
    t = fn(2, dtype=gg.float64, requires_grad=True)
    assert t.dtype == gg.float64 and t.requires_grad and t.is_leaf and t.grad is None


def test_zeros_ones_full_eye_arange_values_like_torch():
    np.testing.assert_array_equal(gg.zeros(2, 3).numpy(), torch.zeros(2, 3).numpy())
    np.testing.assert_array_equal(gg.ones(2, dtype=gg.int64).numpy(), [1, 1])
    assert gg.ones(2, dtype=gg.int64).dtype == gg.int64
    for args in [(5,), (1, 4), (0, 1, 0.25), (2, -3, -1), (0.5, 2.0)]:
        a, b = gg.arange(*args), torch.arange(*args)
        np.testing.assert_allclose(a.numpy(), b.numpy())
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
    assert gg.arange(5, dtype=gg.float64).dtype == gg.float64
    np.testing.assert_array_equal(gg.eye(3).numpy(), torch.eye(3).numpy())
    np.testing.assert_array_equal(gg.eye(2, 3).numpy(), torch.eye(2, 3).numpy())
    assert gg.eye(2, dtype=gg.int64).dtype == gg.int64
    for v in [1.5, 2, True]:
        a, b = gg.full((2, 2), v), torch.full((2, 2), v)
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert gg.full(3, 1.0, dtype=gg.float64).dtype == gg.float64
    np.testing.assert_allclose(gg.linspace(0, 1, 5).numpy(), torch.linspace(0, 1, 5).numpy())


def test_like_constructors():
    x = gg.randn(2, 3, dtype=gg.float64, requires_grad=True)
    for fn in [gg.zeros_like, gg.ones_like, gg.empty_like, gg.rand_like, gg.randn_like]:
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == gg.float64 and not y.requires_grad
    assert gg.zeros_like(x, dtype=gg.int64).dtype == gg.int64
    assert gg.zeros_like(x, requires_grad=True).requires_grad
    np.testing.assert_array_equal(gg.full_like(x, 7.0).numpy(), np.full((2, 3), 7.0))
    assert gg.zeros_like(x).numpy().sum() == 0
    assert x.new_zeros((4,)).dtype == gg.float64


def test_requires_grad_only_on_floating_tensors():
    for make in [lambda: gg.tensor([1, 2], requires_grad=True),
                 lambda: gg.zeros(2, dtype=gg.int64, requires_grad=True),
                 lambda: gg.arange(3, requires_grad=True),
                 lambda: gg.tensor([True]).requires_grad_()]:
        with pytest.raises(RuntimeError, match="only floating point tensors can require gradients"):
            make()


# ----------------------------------------------------------------------- properties
def test_properties():
    x = gg.randn(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24 and len(x) == 2
    assert x.dtype == gg.float32 and x.dtype == np.float32
    assert x.device == "cpu" and not x.is_cuda
    assert x.T.shape == (4, 3, 2)
    assert x.mT.shape == (2, 4, 3)
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape((-1,)).shape == (24,)
    assert x.permute(2, 0, 1).shape == (4, 2, 3)
    with pytest.raises(TypeError, match="0-d"):
        len(gg.tensor(1.0))


def test_item_numpy_tolist_and_python_conversions():
    t = gg.tensor(2.5)
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert isinstance(gg.tensor(3).item(), int)
    assert gg.tensor([[4.0]]).item() == 4.0
    with pytest.raises(ValueError, match="item"):
        gg.tensor([1.0, 2.0]).item()
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    a = x.detach().numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    assert x.tolist() == [1.0, 2.0]
    assert float(gg.tensor(1.5)) == 1.5 and int(gg.tensor(3)) == 3
    assert bool(gg.tensor(1.0)) and not bool(gg.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(gg.tensor([1.0, 2.0]))
    assert np.asarray(gg.tensor([1.0, 2.0])).dtype == np.float32
    assert [1, 2, 3][gg.tensor(1)] == 2


def test_to_and_casts():
    x = gg.tensor([1.5, -2.5], requires_grad=True)
    d = x.double()
    assert d.dtype == gg.float64 and d.requires_grad and d.grad_fn is not None
    d.sum().backward()
    assert x.grad.dtype == gg.float32
    assert x.to(gg.float64).dtype == gg.float64 and x.to("cpu") is x
    assert x.to(dtype=gg.float32) is x
    assert x.long().dtype == gg.int64 and not x.long().requires_grad
    assert x.int().dtype == gg.int32 and x.bool().dtype == gg.bool and x.half().dtype == gg.float16
    assert x.float().dtype == gg.float32
    assert x.type_as(gg.zeros(1, dtype=gg.float64)).dtype == gg.float64
    np.testing.assert_array_equal(x.long().numpy(), torch.tensor([1.5, -2.5]).long().numpy())


def test_repr_mentions_grad_fn_and_requires_grad():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    y = x * 2
    assert "grad_fn=<MulBackward>" in repr(y)
    assert "dtype=float64" in repr(gg.zeros(2, dtype=gg.float64))


# ----------------------------------------------------------------------- autograd attributes
def test_leaf_grad_fn_names_and_detach():
    x = gg.randn(3, requires_grad=True)
    w = gg.randn(3)
    assert x.is_leaf and w.is_leaf and x.grad_fn is None
    y = (x * w + 1).exp().sum()
    assert not y.is_leaf
    assert y.grad_fn.name() == "SumBackward" and repr(y.grad_fn) == "<SumBackward>"
    names = []
    node = y.grad_fn
    while node is not None and not isinstance(node, gg.Tensor):
        names.append(node.name())
        nxt = [e for e in node.next_functions if e is not None]
        node = nxt[0][0] if nxt else None
    assert names == ["SumBackward", "ExpBackward", "AddBackward", "MulBackward"]
    assert (x @ w).grad_fn.name() == "MatMulBackward"
    assert (w * 2).grad_fn is None and not (w * 2).requires_grad
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.array, y.array)


def test_requires_grad_flag_and_in_place_setter():
    x = gg.randn(2)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = gg.randn(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad_(False)


def test_backward_fills_grad_and_accumulates():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert x.grad.dtype == gg.float32 and not x.grad.requires_grad
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])  # accumulated, like torch
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    x.grad.zero_()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_grad_of_intermediate_is_none_without_retain_grad():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    h = y * 1
    z = (y * y).sum() + h.sum()
    z.backward()
    assert h.grad is None
    np.testing.assert_array_equal(y.grad.numpy(), [7.0, 13.0])  # 2y + 1
    assert y.retains_grad and not h.retains_grad
    with pytest.raises(RuntimeError, match="retain_grad"):
        gg.randn(2).retain_grad()


def test_register_hook_observes_and_replaces():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 2
    remove = y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_array_equal(seen[0], [20.0, 20.0])
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 20.0])
    remove()
    x.grad = None
    y2 = x * 2
    y2.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="hook"):
        gg.randn(2).register_hook(lambda g: g)


def test_hooks_match_torch_on_shared_tensor():
    a = np.array([0.5, -1.0, 2.0])

    def run(lib, t):
        x = t(a, requires_grad=True)
        y = x * x
        y.register_hook(lambda g: g * 2)
        z = (y + y.sin()).sum()
        z.backward()
        return x.grad.numpy()

    np.testing.assert_allclose(run(gg, lambda v, **k: gg.tensor(v, **k)),
                               run(torch, lambda v, **k: torch.tensor(v, **k)), rtol=1e-12)


# ----------------------------------------------------------------------- grad mode
def test_no_grad_enable_grad_context_and_decorator():
    x = gg.randn(2, requires_grad=True)
    with gg.no_grad():
        assert not gg.is_grad_enabled()
        y = x * 2
        with gg.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert gg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @gg.no_grad()
    def f(t):
        return t * 2

    @gg.no_grad
    def f_bare(t):
        return t * 2

    @gg.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not f_bare(x).requires_grad
    assert f_bare.__name__ == "f_bare"
    with gg.no_grad():
        assert g(x).requires_grad
    assert gg.is_grad_enabled()


def test_no_grad_restores_on_exception():
    with pytest.raises(ZeroDivisionError):
        with gg.no_grad():
            1 / 0
    assert gg.is_grad_enabled()


def test_set_grad_enabled_forms():
    x = gg.randn(2, requires_grad=True)
    with gg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert gg.is_grad_enabled()

    @gg.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert gg.is_grad_enabled()  # decorating does not switch grad off
    assert not f(x).requires_grad
    gg.set_grad_enabled(False)
    try:
        assert not gg.is_grad_enabled()
    finally:
        gg.set_grad_enabled(True)
    assert gg.is_grad_enabled()


# ----------------------------------------------------------------------- seeding
def test_manual_seed_and_generator():
    gg.manual_seed(123)
    a = gg.randn(4)
    b = gg.rand(3)
    gg.manual_seed(123)
    np.testing.assert_array_equal(a.numpy(), gg.randn(4).numpy())
    np.testing.assert_array_equal(b.numpy(), gg.rand(3).numpy())
    g1, g2 = gg.Generator(7), gg.Generator(7)
    np.testing.assert_array_equal(gg.randn(5, generator=g1).numpy(), gg.randn(5, generator=g2).numpy())
    other = gg.randn(5, generator=gg.Generator(8)).numpy()
    assert not np.array_equal(gg.randn(5, generator=g1).numpy(), other)
    g1.manual_seed(7)
    g3 = gg.Generator().manual_seed(7)
    np.testing.assert_array_equal(gg.rand(3, generator=g1).numpy(), gg.rand(3, generator=g3).numpy())
    # a private generator does not disturb the global stream
    gg.manual_seed(5)
    x1 = gg.randn(3)
    gg.manual_seed(5)
    gg.randn(3, generator=gg.Generator(0))
    np.testing.assert_array_equal(x1.numpy(), gg.randn(3).numpy())
    st = g1.get_state()
    u = gg.rand(2, generator=g1)
    g1.set_state(st)
    np.testing.assert_array_equal(u.numpy(), gg.rand(2, generator=g1).numpy())
    r = gg.randint(0, 5, (100,), generator=gg.Generator(1))
    assert r.dtype == gg.int64 and r.numpy().min() >= 0 and r.numpy().max() < 5
    p = gg.randperm(6, generator=gg.Generator(1))
    assert sorted(p.tolist()) == list(range(6))
    u = gg.rand(1000)
    assert 0.0 <= u.numpy().min() and u.numpy().max() < 1.0


# ----------------------------------------------------------------------- devices
class _FakeGPUArray(np.ndarray):
    """An ndarray subclass that the monkeypatched backend reports as living on cuda:0."""


def test_different_devices_error(monkeypatch):
    import sys

    T = sys.modules["glassgrad.tensor"]  # (gg.tensor is the function)
    import types

    from glassgrad import backend

    real = T.device_of
    # pretend CuPy is loaded (the device check only runs then) and that _FakeGPUArray is its array
    monkeypatch.setattr(backend, "_cupy", types.SimpleNamespace(ndarray=_FakeGPUArray,
                                                                get_array_module=lambda a: np))
    monkeypatch.setattr(T, "device_of", lambda a: "cuda:0" if isinstance(a, _FakeGPUArray) else real(a))
    a = gg.randn(3, requires_grad=True)
    b = gg.Tensor._make(np.ones(3, np.float32).view(_FakeGPUArray), False)
    assert b.device == "cuda:0"
    with pytest.raises(RuntimeError, match=r"add: expected all tensors on the same device.*cpu.*cuda:0"):
        a + b
    with pytest.raises(RuntimeError, match=r"matmul: expected all tensors on the same device"):
        a @ b


@pytest.mark.skipif(cupy_available(), reason="CuPy present: moving to the GPU works")
def test_cuda_without_cupy_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"glassgrad\[gpu\]"):
        gg.zeros(2).to("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        gg.zeros(2, device="tpu")


def test_in_place_ops_keep_shape_and_dtype_like_torch():
    a = np.array([1.0, -2.0, 3.0], np.float32)
    for name, args in [("add_", (2.0,)), ("sub_", (0.5,)), ("mul_", (3.0,)), ("div_", (4.0,)),
                       ("pow_", (2,)), ("clamp_", (-1.0, 1.0)), ("fill_", (7.0,)), ("zero_", ())]:
        x, t = gg.tensor(a), torch.tensor(a)
        r = getattr(x, name)(*args)
        getattr(t, name)(*args)
        assert r is x and x.dtype == gg.float32
        np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-6)
    x = gg.tensor(a)
    x.add_(gg.tensor([1.0, 1.0, 1.0], dtype=gg.float64), alpha=2)
    assert x.dtype == gg.float32
    np.testing.assert_allclose(x.numpy(), a + 2)
    with pytest.raises(TypeError, match="add_: cannot update a tensor of shape \\(2,\\) int64"):
        gg.tensor([1, 2]).add_(1.5)
    with pytest.raises(ValueError, match="mul_"):
        gg.randn(3).mul_(gg.randn(2, 3))
    # the same rules on a tensor inside a recorded graph
    h = gg.randn(3, requires_grad=True) * 1
    with pytest.raises(ValueError, match="mul_.*keep the tensor's shape"):
        h.mul_(gg.randn(2, 3))
    h.add_(gg.randn(3, dtype=gg.float64))
    assert h.dtype == gg.float32
    v = gg.zeros(3)
    v += 1
    v -= gg.tensor([0.5, 0.5, 0.5])
    v *= 4
    v /= 2
    np.testing.assert_allclose(v.numpy(), [1.0, 1.0, 1.0])


def test_constructor_argument_errors():
    with pytest.raises(TypeError, match="rand: needs a floating dtype"):
        gg.rand(2, dtype=gg.int64)
    with pytest.raises(TypeError, match="randn: needs a floating dtype"):
        gg.randn(2, dtype=gg.int64)
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        gg.arange(0, 5, 0)
    with pytest.raises(ValueError, match="zeros: negative dimension"):
        gg.zeros(-1)
    assert gg.normal(0.0, 1.0, 3).shape == (3,) and gg.normal(0.0, 1.0, (2, 2)).dtype == gg.float32
    assert gg.randn(2, dtype=gg.float16).dtype == gg.float16


def test_to_copy_unknown_keywords_and_memory_formats():
    """``to(copy=True)`` copies even when nothing changes; a misspelt keyword is an error
    naming ``Tensor.to`` (PyTorch raises too); PyTorch's memory-format tags are accepted by
    ``to``/``contiguous`` and ``is_contiguous`` answers for them from the strides."""
    import torch

    x = gg.ones(2)
    y = x.to(copy=True)
    y[0] = 5.0
    assert x.tolist() == [1.0, 1.0] and x.to(gg.float32) is x
    assert torch.ones(2).to(copy=True) is not None
    with pytest.raises(TypeError, match=r"Tensor\.to: unexpected keyword argument\(s\) \['dtpye'\]"):
        x.to(dtpye=gg.float64)
    with pytest.raises(TypeError, match="to: memory_format must be"):
        x.to(memory_format="channels_last")
    with pytest.raises(TypeError, match="contiguous: memory_format must be"):
        x.contiguous(memory_format=1)
    assert x.to(memory_format=gg.preserve_format) is x
    assert repr(gg.channels_last) == "glassgrad.channels_last"
    a = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    for arr in (a, np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
                a[:, :, ::2]):
        g, t = gg.tensor(arr), torch.from_numpy(np.array(arr))
        if arr.base is not None:   # keep the strides: a view of the same memory in both
            g, t = gg.from_numpy(arr), torch.from_numpy(arr)
        for gf, tf in ((None, None), (gg.contiguous_format, torch.contiguous_format),
                       (gg.channels_last, torch.channels_last)):
            kw, tkw = ({}, {}) if gf is None else ({"memory_format": gf}, {"memory_format": tf})
            assert g.is_contiguous(**kw) == t.is_contiguous(**tkw), (arr.strides, gf)
        np.testing.assert_array_equal(g.contiguous(memory_format=gg.channels_last).numpy(), arr)
    m = gg.nn.Linear(2, 2)
    assert m.to(memory_format=gg.channels_last) is m
