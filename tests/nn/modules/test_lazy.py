"""Lazy modules (glassgrad.nn.modules.lazy) infer their input size on the first call and
become the eager layer, as torch.nn's: same repr, shapes, initialisation bounds, outputs;
they train with an optimizer built before the first call; clear errors."""

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch (test oracle) is not installed")


def _np(t):
    return t.detach().numpy() if isinstance(t, gg.Tensor) else t.detach().cpu().numpy()


def _same(gm, tm, *arrays, ints=(), rtol=1e-10, atol=1e-10, grad=True):
    """Run both modules on the same float64 inputs; compare outputs and input gradients."""
    gi = [gg.tensor(a) if i in ints else gg.tensor(a, requires_grad=grad)
          for i, a in enumerate(arrays)]
    ti = [torch.tensor(a) if i in ints else torch.tensor(a, requires_grad=grad)
          for i, a in enumerate(arrays)]
    y, ty = gm(*gi), tm(*ti)
    np.testing.assert_allclose(_np(y), _np(ty), rtol=rtol, atol=atol)
    if grad:
        g = np.random.default_rng(5).standard_normal(tuple(ty.shape))
        y.backward(gg.tensor(g))
        ty.backward(torch.tensor(g))
        for i, (a, b) in enumerate(zip(gi, ti)):
            if i not in ints:
                np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=rtol, atol=atol)
    return y, ty


R = np.random.default_rng(0)


# ------------------------------------------------------------------ lazy modules
@pytest.mark.parametrize("name,shape,kw", [
    ("Conv1d", (2, 3, 8), {}), ("Conv2d", (2, 4, 6, 6), dict(groups=2, padding=1)),
    ("Conv3d", (1, 2, 4, 4, 4), dict(bias=False)), ("ConvTranspose1d", (2, 3, 5), {}),
    ("ConvTranspose2d", (2, 4, 5, 5), dict(stride=2, groups=2)),
    ("ConvTranspose3d", (1, 2, 3, 3, 3), {}), ("Conv2d", (4, 6, 6), {}),
])
def test_lazy_conv_becomes_the_eager_layer(name, shape, kw):
    gm = getattr(nn, f"Lazy{name}")(6, 3, **kw)
    tm = getattr(torch.nn, f"Lazy{name}")(6, 3, **kw)
    assert repr(gm) == repr(tm)
    assert gm.has_uninitialized_params()
    assert isinstance(gm.weight, nn.UninitializedParameter)
    params_before = list(gm.parameters())
    x = R.standard_normal(shape).astype(np.float32)
    y = gm(gg.tensor(x))
    ty = tm(torch.tensor(x))
    assert type(gm) is getattr(nn, name) and type(tm) is getattr(torch.nn, name)
    assert repr(gm) == repr(tm)
    assert tuple(gm.weight.shape) == tuple(tm.weight.shape)
    assert type(gm.weight) is nn.Parameter and gm.weight.dtype == np.float32
    assert all(a is b for a, b in zip(params_before, gm.parameters()))  # same objects
    # same parameters -> same output
    with gg.no_grad():
        gm.weight.copy_(gg.tensor(_np(tm.weight)))
        if gm.bias is not None:
            gm.bias.copy_(gg.tensor(_np(tm.bias)))
    np.testing.assert_allclose(_np(gm(gg.tensor(x))), _np(ty), rtol=1e-5, atol=1e-5)
    assert tuple(y.shape) == tuple(ty.shape)
    # init bound as the eager layer's: U(±1/√fan_in)
    fan_in = int(np.prod(gm.weight.shape[1:]))
    assert np.abs(_np(gm.weight)).max() <= 1 / np.sqrt(fan_in) + 1e-6


def test_lazy_conv_trains_with_an_optimizer_built_before_the_first_call():
    gg.manual_seed(0)
    m = nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    opt = gg.optim.Adam(m.parameters(), lr=0.01)
    x = gg.randn(8, 3, 6, 6)
    t = gg.tensor(np.arange(8) % 2)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = gg.nn.functional.cross_entropy(m(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("k,shape", [(1, (4, 3)), (1, (4, 3, 5)), (2, (4, 3, 2, 2)),
                                     (3, (2, 3, 2, 2, 2))])
def test_lazy_batch_norm(k, shape):
    gm = getattr(nn, f"LazyBatchNorm{k}d")(dtype=gg.float64)
    tm = getattr(torch.nn, f"LazyBatchNorm{k}d")(dtype=torch.float64)
    assert repr(gm) == repr(tm)
    assert isinstance(gm.running_mean, nn.UninitializedBuffer)
    x = R.standard_normal(shape)
    _same(gm, tm, x)
    assert type(gm) is getattr(nn, f"BatchNorm{k}d")
    assert repr(gm) == repr(tm)
    np.testing.assert_allclose(_np(gm.running_mean), _np(tm.running_mean))
    np.testing.assert_allclose(_np(gm.running_var), _np(tm.running_var))
    assert int(gm.num_batches_tracked.item()) == 1
    assert type(gm.running_mean) is gg.Tensor
    gm.eval()
    tm.eval()
    _same(gm, tm, x)


def test_lazy_errors_and_uninitialized_shape():
    m = nn.LazyConv2d(4, 3, groups=2)
    with pytest.raises(ValueError, match="groups"):
        m(gg.ones(1, 3, 5, 5))
    with pytest.raises(ValueError, match="in_channels"):
        nn.LazyConv2d(4, 3)(gg.ones(5, 5))
    p = nn.UninitializedParameter()
    with pytest.raises(RuntimeError, match="uninitialized"):
        p.shape
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.requires_grad
    b = nn.UninitializedBuffer(dtype=gg.float64)
    b.materialize(4)
    assert type(b) is gg.Tensor and b.dtype == np.float64
