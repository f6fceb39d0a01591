"""nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.nn.utils import clip_grad_norm_, clip_grad_value_

torch = pytest.importorskip("torch")

SHAPES = [(4, 5), (7,), (), (2, 3, 2)]


def _pair(dtype=np.float64, scale=1.0, seed=0, none_at=None):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, s in enumerate(SHAPES):
        p = gg.tensor(np.zeros(s, dtype=dtype), requires_grad=True)
        q = torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
        if i != none_at:
            g = (scale * rng.standard_normal(s)).astype(dtype)
            p.grad = gg.tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


def _check_grads(ours, theirs, tol):
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == np.dtype(str(q.grad.dtype).replace("torch.", ""))
            np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5, "inf", -math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ours, theirs = _pair(dtype, none_at=1)
    a = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    b = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    assert isinstance(a, gg.Tensor) and a.shape == () and a.dtype == dtype
    np.testing.assert_allclose(float(a), float(b), rtol=tol)
    _check_grads(ours, theirs, tol)
    if max_norm == 0.5 and norm_type not in (-math.inf,):  # clipped down to max_norm
        after = clip_grad_norm_(ours, 1e9, norm_type=norm_type)
        np.testing.assert_allclose(float(after), 0.5, rtol=1e-5)


def test_clip_grad_norm_single_tensor_generator_and_empty():
    ours, theirs = _pair()
    a = clip_grad_norm_(ours[0], 0.1)
    b = torch.nn.utils.clip_grad_norm_(theirs[0], 0.1)
    np.testing.assert_allclose(float(a), float(b), rtol=1e-12)
    a = clip_grad_norm_((p for p in ours), 0.2)
    b = torch.nn.utils.clip_grad_norm_((q for q in theirs), 0.2)
    np.testing.assert_allclose(float(a), float(b), rtol=1e-12)
    _check_grads(ours, theirs, 1e-12)
    empty = clip_grad_norm_([gg.tensor([1.0], requires_grad=True)], 1.0)
    assert float(empty) == 0.0 and empty.dtype == np.float32


def test_clip_grad_norm_in_place_and_version():
    ours, _ = _pair()
    g = ours[0].grad
    data, v = g.array, g._version[0]
    clip_grad_norm_(ours, 0.01)
    assert ours[0].grad is g and g.array is data and g._version[0] == v + 1


def test_clip_grad_norm_nonfinite():
    ours, theirs = _pair()
    ours[0].grad.array[0, 0] = np.nan
    theirs[0].grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="nan"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert not np.isnan(ours[1].grad.array).any()  # nothing was touched
    a = clip_grad_norm_(ours, 1.0)
    b = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isnan(float(a)) and math.isnan(float(b))
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(p.grad.array), np.isnan(q.grad.numpy()))
    ours, _ = _pair()
    ours[2].grad.array[...] = np.inf
    with pytest.raises(RuntimeError, match="inf"):
        clip_grad_norm_(ours, 1.0, norm_type="inf", error_if_nonfinite=True)


def test_clip_grad_norm_bad_input():
    ours, _ = _pair()
    with pytest.raises(TypeError, match="parameter 1 is a int"):
        clip_grad_norm_([ours[0], 3], 1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(ours, 1.0, norm_type="fro")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clip", [0.3, 5.0, 0.0])
def test_clip_grad_value_matches_torch(dtype, clip):
    ours, theirs = _pair(dtype, scale=2.0, none_at=2)
    data = ours[0].grad.array
    assert clip_grad_value_(ours, clip) is None
    torch.nn.utils.clip_grad_value_(theirs, clip)
    _check_grads(ours, theirs, 0.0)
    assert ours[0].grad.array is data
    assert np.abs(ours[0].grad.array).max() <= clip
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(ours, -1.0)


def test_get_total_norm_and_clip_grads_with_norm():
    from glassgrad.nn.utils.clip_grad import clip_grads_with_norm_, get_total_norm

    ours, theirs = _pair(none_at=0)
    a = get_total_norm([p.grad for p in ours if p.grad is not None], norm_type=3.0)
    b = torch.nn.utils.get_total_norm([q.grad for q in theirs if q.grad is not None], norm_type=3.0)
    np.testing.assert_allclose(float(a), float(b), rtol=1e-12)
    clip_grads_with_norm_(ours, 0.7, a)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.7, b)
    _check_grads(ours, theirs, 1e-12)


def test_clip_in_a_training_step():
    """Clip after backward, before the optimizer step, as in a real loop."""
    w = gg.tensor(np.full(4, 10.0, dtype=np.float32), requires_grad=True)
    opt = gg.optim.SGD([w], lr=1.0)
    ((w * w).sum()).backward()  # grad = 20 each, norm 40
    n = clip_grad_norm_([w], max_norm=2.0)
    np.testing.assert_allclose(float(n), 40.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(w.grad.array), 2.0, rtol=1e-5)
    opt.step()
    np.testing.assert_allclose(w.array, 9.0, rtol=1e-5)
    assert w.dtype == np.float32
