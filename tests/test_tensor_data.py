"""``Tensor.data`` as in PyTorch: a tensor cut from the graph that shares memory, so the
``weights_init`` and hand-written update idioms of PyTorch programs work unchanged."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg

torch = pytest.importorskip("torch")
nn = gg.nn


def test_data_is_a_detached_tensor_sharing_memory():
    p = nn.Parameter(gg.tensor([1.0, 2.0, 3.0]))
    d = p.data
    assert isinstance(d, gg.Tensor) and not isinstance(d, nn.Parameter)
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.dtype == p.dtype and d.shape == p.shape
    assert np.shares_memory(d.array, p.array)
    assert p.data.array is p.array  # the raw array is one attribute away
    t = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    assert t.data.requires_grad is d.requires_grad and t.data.is_leaf is d.is_leaf


@pytest.mark.parametrize("write", [
    lambda d: d.add_(1.5),
    lambda d: d.add_(gg.ones(3) if isinstance(d, gg.Tensor) else torch.ones(3), alpha=-2),
    lambda d: d.sub_(0.25),
    lambda d: d.mul_(3),
    lambda d: d.div_(4),
    lambda d: d.clamp_(-1.0, 2.5),
    lambda d: d.zero_(),
    lambda d: d.fill_(0.7),
    lambda d: d.copy_(d * 2 - 1),
    lambda d: d.__setitem__(1, 9.0),
])
def test_writes_through_data_change_the_parameter_as_in_pytorch(write):
    gp = nn.Parameter(gg.tensor([1.0, -2.0, 3.0]))
    tp = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    write(gp.data)
    write(tp.data)
    np.testing.assert_array_equal(gp.detach().numpy(), tp.detach().numpy())
    assert gp.requires_grad and gp.is_leaf and gp.dtype == gg.float32


def test_hand_written_sgd_and_weights_init_through_data_match_pytorch():
    gg.manual_seed(0)
    gm = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    tm = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))

    def weights_init(m, w, b):  # the DCGAN idiom, with fixed values instead of a draw
        if "Linear" in type(m).__name__:
            m.weight.data.copy_(w)
            m.bias.data.fill_(b)

    rng = np.random.default_rng(1)
    for i, (g, t) in enumerate(zip([gm[0], gm[2]], [tm[0], tm[2]])):
        w = rng.standard_normal(tuple(g.weight.shape)).astype(np.float32) * 0.5
        weights_init(g, gg.tensor(w), 0.1 * i)
        weights_init(t, torch.tensor(w), 0.1 * i)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.integers(0, 2, 8)
    for _ in range(3):
        for model, mod, lib in ((gm, gg, gg.nn.functional), (tm, torch, torch.nn.functional)):
            loss = lib.cross_entropy(model(mod.tensor(x)), mod.tensor(y))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data.add_(p.grad.data, alpha=-0.5)  # the hand-written SGD idiom
    for g, t in zip(gm.parameters(), tm.parameters()):
        np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_assigning_data_replaces_the_values_and_keeps_the_parameter():
    p = nn.Parameter(gg.zeros(2, 3))
    new = gg.ones(2, 3)
    p.data = new
    assert isinstance(p, nn.Parameter) and p.requires_grad
    assert np.shares_memory(p.array, new.array)  # as torch: p.data = t shares t's memory
    p.data = np.full((2, 3), 2.0, dtype=np.float32)  # an array is accepted too
    assert float(p.sum()) == 12.0
    with pytest.raises(TypeError, match="data: expected a Tensor"):
        p.data = [1.0, 2.0]


def test_writes_through_data_are_not_seen_by_autograd_version_checks():
    # as PyTorch: .data has its own version counter, so a write through it after the
    # forward does not raise at backward (it is the user's responsibility)
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.data.mul_(10)
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [20.0, 40.0])
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = (tw * tw).sum()
    tw.data.mul_(10)
    ty.backward()
    np.testing.assert_array_equal(tw.grad.numpy(), [20.0, 40.0])


@pytest.mark.parametrize("args", [(), (5,), (2, 3), (2, 3, 4), (1, 2, 1, 2, 3), ([1, 2],),
                                  ([[1.5, 2], [3, 4]],), ((1, 0),), ([True, False],)])
def test_legacy_tensor_constructor_as_pytorch(args):
    # nn.Parameter(torch.Tensor(out, in)) then reset_parameters(): the custom-layer idiom
    g, t = gg.Tensor(*args), torch.Tensor(*args)
    assert tuple(g.shape) == tuple(t.shape) and g.dtype == gg.float32
    if args and not isinstance(args[0], int):
        np.testing.assert_array_equal(g.numpy(), t.numpy())
    p = nn.Parameter(gg.Tensor(3, 4))
    assert p.shape == (3, 4) and p.requires_grad


def test_legacy_tensor_constructor_errors_and_scalars_stay_data():
    with pytest.raises(TypeError, match="Tensor: sizes must be non-negative ints"):
        gg.Tensor(2, -3)
    assert gg.tensor(5).shape == () and gg.tensor(5).dtype == gg.int64
    assert gg.Tensor(np.array([1, 2])).dtype == gg.int64  # an array keeps its dtype
    assert gg.Tensor(2.5).shape == ()
    np.testing.assert_array_equal(gg.where(gg.tensor([True, False]), 1, 0).numpy(), [1, 0])
