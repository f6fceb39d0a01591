"""Property-based tests (hypothesis): broadcasting of binary ops and indexing, for
arbitrary shapes and keys, against NumPy/PyTorch and against scatter-add references."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "maximum": (lambda a, b: a.maximum(b), torch.maximum),
    "where": (lambda a, b: gg.where(a > b, a * b, b), lambda a, b: torch.where(a > b, a * b, b)),
}


def _arr(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0,
                                                max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_broadcasting_binary_ops_match_torch(shapes, op, seed):
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a, b = _arr(rng, sa), _arr(rng, sb)
    f, tf = BINARY[op]
    x, y = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    z, tz = f(x, y), tf(tx, ty)
    assert z.shape == tuple(tz.shape) == shapes.result_shape
    np.testing.assert_allclose(z.detach().numpy(), tz.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(z.shape)
    z.backward(gg.tensor(g))
    tz.backward(torch.tensor(g))
    assert x.grad.shape == sa and y.grad.shape == sb  # gradients un-broadcast to each input
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, min_side=1,
                                                max_side=3),
       seed=st.integers(0, 2**16))
def test_unbroadcast_equals_sum_over_broadcast_axes(shapes, seed):
    # d/da Σ (a + b) ⊙ w = Σ over the axes a was broadcast along
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shapes.result_shape)
    a = gg.tensor(_arr(rng, sa), requires_grad=True)
    b = gg.tensor(_arr(rng, sb))
    ((a + b) * gg.tensor(w)).sum().backward()
    lead = len(shapes.result_shape) - len(sa)
    ref = w.sum(axis=tuple(range(lead)))
    ref = ref.sum(axis=tuple(i for i, s in enumerate(sa) if s == 1), keepdims=True).reshape(sa)
    np.testing.assert_allclose(a.grad.numpy(), ref, rtol=1e-12, atol=1e-12)


@st.composite
def shape_and_basic_index(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    idx = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return shape, idx


@SETTINGS
@given(case=shape_and_basic_index(), seed=st.integers(0, 2**16))
def test_basic_indexing_matches_numpy_and_scatters_back(case, seed):
    shape, idx = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    x = gg.tensor(a, requires_grad=True)
    z = x[idx]
    ref = a[idx]
    assert z.shape == np.shape(ref)
    np.testing.assert_array_equal(z.detach().numpy(), ref)
    g = rng.standard_normal(z.shape)
    z.backward(gg.tensor(g))
    dx = np.zeros(shape)
    dx[idx] += g  # basic indexing reads each element at most once
    np.testing.assert_array_equal(x.grad.numpy(), dx)


@st.composite
def shape_and_integer_index(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    lead_slice = len(shape) > 1 and draw(st.booleans())
    off = int(lead_slice)  # with a leading ':' the arrays index the axes after the first
    n_arrays = draw(st.integers(1, len(shape) - off))
    idx_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5))
    arrays = tuple(
        draw(hnp.arrays(np.int64, idx_shape,
                        elements=st.integers(-shape[d + off], shape[d + off] - 1)))
        for d in range(n_arrays)
    )
    return shape, arrays, lead_slice


@SETTINGS
@given(case=shape_and_integer_index(), seed=st.integers(0, 2**16))
def test_integer_array_indexing_accumulates_duplicates(case, seed):
    shape, arrays, lead_slice = case
    key = ((slice(None),) + arrays) if lead_slice else arrays
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    x = gg.tensor(a, requires_grad=True)
    gkey = tuple(gg.tensor(k) if isinstance(k, np.ndarray) else k for k in key)
    z = x[gkey]
    ref = a[key]
    assert z.shape == ref.shape
    np.testing.assert_array_equal(z.detach().numpy(), ref)
    g = rng.standard_normal(z.shape)
    z.backward(gg.tensor(g))
    dx = np.zeros(shape)
    np.add.at(dx, key, g)  # every read of an element adds its gradient
    np.testing.assert_allclose(x.grad.numpy(), dx, rtol=1e-12, atol=1e-12)
    # and PyTorch agrees
    tx = torch.tensor(a, requires_grad=True)
    tkey = tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key)
    tx[tkey].backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4), seed=st.integers(0, 2**16),
       data=st.data())
def test_boolean_mask_indexing(shape, seed, data):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    k = data.draw(st.integers(1, len(shape)))
    mask = data.draw(hnp.arrays(np.bool_, shape[:k]))
    x = gg.tensor(a, requires_grad=True)
    z = x[gg.tensor(mask)]
    np.testing.assert_array_equal(z.detach().numpy(), a[mask])
    g = rng.standard_normal(z.shape)
    z.backward(gg.tensor(g))
    dx = np.zeros(shape)
    dx[mask] = g
    np.testing.assert_array_equal(x.grad.numpy(), dx)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: var() with no degrees of freedom
@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), data=st.data(),
       op=st.sampled_from(["sum", "mean", "amax", "amin", "logsumexp", "var", "std"]),
       keepdim=st.booleans(), seed=st.integers(0, 2**16))
def test_reductions_over_any_axes_match_torch(shape, data, op, keepdim, seed):
    nd = len(shape)
    axes = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd,
                              unique_by=lambda v: v % nd))
    dim = tuple(axes)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    x = gg.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    z = getattr(x, op)(dim, keepdim=keepdim)
    tz = getattr(t, op)(dim, keepdim=keepdim)
    assert z.shape == tuple(tz.shape)
    np.testing.assert_allclose(z.detach().numpy(), tz.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(z.shape)
    z.backward(gg.tensor(g))
    tz.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)
