"""Order statistics and NaN-aware reductions (glassgrad/tensor_methods/extra2.py): median,
nanmedian, mode, kthvalue, quantile, nanquantile, nansum, nanmean, aminmax, var_mean,
std_mean, logcumsumexp — values, indices and gradients against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op, needs_torch, torch

pytestmark = needs_torch

NAN = float("nan")


def _pair(a, dtype=np.float64, grad=True):
    return gg.tensor(a.astype(dtype), requires_grad=grad), torch.tensor(a.astype(dtype),
                                                                        requires_grad=grad)


def _same(a, b, **kw):
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            _same(x, y, **kw)
        return
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype).replace("torch.", ""), (a.dtype, b.dtype)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), equal_nan=True, **kw)


@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
@pytest.mark.parametrize("name", ["median", "nanmedian", "mode"])
def test_value_index_reductions(name, dim, keepdim):
    check_op(lambda x: getattr(x, name)(dim, keepdim)[0], shapes=[(4, 5)])
    check_op(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim)[0], shapes=[(4, 5)])
    a = np.random.default_rng(1).integers(0, 3, size=(4, 6)).astype(np.float64)
    g, t = _pair(a)
    _same(tuple(getattr(g, name)(dim, keepdim)), tuple(getattr(t, name)(dim, keepdim)))


def test_median_nan_rules():
    a = np.array([[1.0, 3, 3, 2, 2], [5, NAN, 1, NAN, 0], [NAN, NAN, NAN, NAN, NAN]])
    g, t = _pair(a)
    for name in ("median", "nanmedian"):
        # which NaN's index an all-NaN row reports is unspecified in PyTorch: values only
        _same(getattr(g, name)(1)[0], getattr(t, name)(1)[0])
        _same(getattr(g[:2], name)(1)[1], getattr(t[:2], name)(1)[1])
        _same(getattr(g, name)(), getattr(t, name)())
    _same(gg.tensor([NAN, 1, NAN, 2]).median(0)[1], torch.tensor([NAN, 1, NAN, 2]).median(0)[1])


def test_global_median_spreads_gradient_over_ties():
    for a in (np.array([1.0, 2, 2, 3]), np.array([[4.0, 1], [4, 7]]), np.array([2.5])):
        g, t = _pair(a)
        gm, tm = g.median(), t.median()
        _same(gm, tm)
        gm.backward()
        tm.backward()
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())
        g, t = _pair(a)
        g.nanmedian().backward()
        t.nanmedian().backward()
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("k", [1, 3, 5])
def test_kthvalue(k):
    check_op(lambda x: x.kthvalue(k, 1)[0], shapes=[(3, 5)])
    check_op(lambda x: x.kthvalue(k, dim=0, keepdim=True)[0], shapes=[(5, 2)])
    a = np.array([3.0, 1, NAN, 2, 2])
    _same(gg.tensor(a).kthvalue(k)[0], torch.tensor(a).kthvalue(k)[0])
    with pytest.raises(IndexError, match="kthvalue"):
        gg.ones(3).kthvalue(4)


def test_zero_dim_and_size_one():
    for name in ("median", "nanmedian", "mode"):
        _same(tuple(getattr(gg.tensor(2.5), name)(0)), tuple(getattr(torch.tensor(2.5), name)(0)))
        _same(tuple(getattr(gg.ones(3, 1), name)(1)), tuple(getattr(torch.ones(3, 1), name)(1)))
    _same(gg.tensor(2.5).median(), torch.tensor(2.5).median())
    _same(gg.tensor(2.5).kthvalue(1)[0], torch.tensor(2.5).kthvalue(1)[0])
    assert np.isnan(gg.zeros(0).median().item()) and np.isnan(torch.zeros(0).median().item())
    with pytest.raises(IndexError, match="median"):
        gg.zeros(2, 0).median(1)


@pytest.mark.parametrize("interp", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile(interp):
    q = np.array([0.0, 0.25, 0.5, 0.8, 1.0])
    check_op(lambda x: x.quantile(0.3, dim=1, interpolation=interp), shapes=[(3, 6)])
    check_op(lambda x, q: x.quantile(q, dim=0, keepdim=True, interpolation=interp),
             inputs=[np.random.default_rng(0).standard_normal((5, 3)), q], grad=[True, False],
             torch_fn=lambda x, q: x.quantile(q.to(x.dtype), dim=0, keepdim=True,
                                              interpolation=interp))
    check_op(lambda x: x.quantile(0.7, interpolation=interp), shapes=[(2, 3, 2)])
    check_op(lambda x: x.quantile(0.7, keepdim=True, interpolation=interp), shapes=[(2, 3)])


@pytest.mark.parametrize("interp", ["linear", "nearest", "midpoint"])
def test_nanquantile(interp):
    a = np.array([[1.0, NAN, 3, 0.5, 2], [NAN, NAN, NAN, NAN, NAN], [4, 1, NAN, NAN, 9]])
    qs = (0.0, 0.4, 0.5, 1.0)
    for q in qs:
        _same(gg.tensor(a).nanquantile(q, 1, interpolation=interp),
              torch.tensor(a).nanquantile(q, 1, interpolation=interp))
        _same(gg.tensor(a).quantile(q, 1, interpolation=interp),
              torch.tensor(a).quantile(q, 1, interpolation=interp))
    g, t = _pair(a)
    g.nanquantile(0.4, 1).nansum().backward()
    t.nanquantile(0.4, 1).nansum().backward()
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())


def test_quantile_errors():
    with pytest.raises(ValueError, match="quantile"):
        gg.ones(3).quantile(1.5)
    with pytest.raises(ValueError, match="interpolation"):
        gg.ones(3).quantile(0.5, interpolation="cubic")
    with pytest.raises(TypeError, match="quantile"):
        gg.tensor([1, 2]).quantile(0.5)


def test_nansum_nanmean():
    a = np.array([[1.0, NAN, 3], [NAN, 4, NAN], [0.5, 2, -1]])
    for fn in (lambda x: x.nansum(), lambda x: x.nansum(1), lambda x: x.nansum(dim=0, keepdim=True),
               lambda x: x.nanmean(), lambda x: x.nanmean(1), lambda x: x.nanmean(0, True)):
        g, t = _pair(a)
        _same(fn(g), fn(t))
        fn(g).sum().backward()
        fn(t).sum().backward()
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())
    check_op(lambda x: x.nansum(1) + x.nanmean(0).sum(), shapes=[(3, 4)])
    # an all-NaN slice: NaN mean (its gradient is 0 here; PyTorch's is NaN)
    _same(gg.tensor([[NAN, NAN]]).nanmean(1), torch.tensor([[NAN, NAN]]).nanmean(1))
    _same(gg.nansum(gg.tensor([1, 2, 3])), torch.nansum(torch.tensor([1, 2, 3])))
    with pytest.raises(TypeError, match="nanmean"):
        gg.tensor([1, 2]).nanmean()


def test_aminmax_var_mean_std_mean():
    check_op(lambda x: x.aminmax(dim=1), shapes=[(3, 4)],
             torch_fn=lambda x: tuple(torch.aminmax(x, dim=1)))
    check_op(lambda x: gg.aminmax(x, dim=0, keepdim=True), shapes=[(3, 4)],
             torch_fn=lambda x: tuple(torch.aminmax(x, dim=0, keepdim=True)))
    check_op(lambda x: gg.var_mean(x, 1), shapes=[(3, 4)],
             torch_fn=lambda x: torch.var_mean(x, 1))
    check_op(lambda x: gg.std_mean(x, dim=0, keepdim=True, correction=0), shapes=[(3, 4)],
             torch_fn=lambda x: torch.std_mean(x, dim=0, keepdim=True, correction=0))
    r = gg.aminmax(gg.tensor([3, 1, 2]))
    assert r.min.item() == 1 and r.max.item() == 3


def test_logcumsumexp_stable_and_grad():
    check_op(lambda x: x.logcumsumexp(1), shapes=[(3, 5)])
    check_op(lambda x: gg.logcumsumexp(x, dim=0), shapes=[(4, 2)],
             torch_fn=lambda x: torch.logcumsumexp(x, dim=0))
    a = np.array([-1000.0, 0.0, 800.0, -5.0, 799.0])
    g, t = _pair(a)
    _same(g.logcumsumexp(0), t.logcumsumexp(0), rtol=1e-14)
    w = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    (g.logcumsumexp(0) * gg.tensor(w)).sum().backward()
    (t.logcumsumexp(0) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), atol=1e-12)
    _same(gg.tensor(1.5).logcumsumexp(0), torch.tensor(1.5).logcumsumexp(0))
    assert gg.zeros(0, 3).logcumsumexp(0).shape == (0, 3)
