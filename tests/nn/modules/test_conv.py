"""Convolution modules (glassgrad.nn.modules.conv: Conv1d/2d/3d, ConvTranspose1d/2d/3d) against
torch.nn's: outputs, input and parameter gradients (float64 1e-10, float32 1e-5) for every
option, output_size, default initialisation and repr; LeNet-5's Adam steps equal PyTorch's."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn as nn
from examples_helper import MNIST_DIR
from oracle import check_module

torch = pytest.importorskip("torch")


def _copy_params(ours, theirs):
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    for name, t in list(ours.named_parameters()) + list(ours.named_buffers()):
        t.array[...] = sd[name]


CASES = [
    ("Conv2d", (3, 4, 3), dict(padding=1), (2, 3, 6, 7)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=2, groups=2, bias=False), (2, 4, 7, 6)),
    ("Conv2d", (3, 3, 3), dict(padding="same", dilation=2, groups=3), (2, 3, 6, 6)),
    ("Conv2d", (2, 4, 3), dict(padding=1, padding_mode="circular"), (2, 2, 5, 6)),
    ("Conv2d", (2, 4, 3), dict(padding=(1, 2), padding_mode="replicate"), (2, 2, 5, 6)),
    ("Conv1d", (3, 5, 4), dict(stride=2, padding=1), (2, 3, 9)),
    ("Conv1d", (2, 3, 3), dict(padding="same", padding_mode="reflect"), (2, 2, 7)),
    ("Conv1d", (2, 3, 3), {}, (2, 7)),                               # unbatched
    ("Conv3d", (2, 3, 2), dict(padding=(1, 0, 1)), (1, 2, 3, 4, 3)),
    ("ConvTranspose2d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 4, 5)),
    ("ConvTranspose2d", (4, 2, (2, 3)), dict(stride=(1, 2), groups=2, dilation=2), (2, 4, 3, 4)),
    ("ConvTranspose1d", (3, 2, 4), dict(stride=3), (2, 3, 5)),
    ("ConvTranspose3d", (2, 2, 2), dict(stride=2), (1, 2, 2, 3, 2)),
]


@pytest.mark.parametrize("name,args,kw,shape", CASES)
def test_module_matches_torch(name, args, kw, shape):
    check_module(lambda nn: getattr(nn, name)(*args, **kw), shapes=[shape], same_repr=True)


def test_conv_transpose_output_size():
    ours = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    _copy_params(ours, theirs)
    xa = np.random.default_rng(1).standard_normal((1, 3, 4, 4))
    y = ours(gg.tensor(xa), output_size=(8, 8))
    ty = theirs(torch.tensor(xa), output_size=(8, 8))
    assert y.shape == (1, 2, 8, 8)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="output_size"):
        ours(gg.tensor(xa), output_size=(10, 10))


def test_conv_default_init_and_repr():
    gg.manual_seed(0)
    conv = nn.Conv2d(16, 32, 5)
    assert conv.weight.shape == (32, 16, 5, 5) and conv.bias.shape == (32,)
    assert conv.weight.dtype == gg.float32
    bound = 1 / math.sqrt(16 * 25)  # kaiming_uniform(a=√5) = U(±1/√fan_in)
    w = conv.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    b = conv.bias.detach().numpy()
    assert np.abs(b).max() <= bound
    t = nn.ConvTranspose2d(4, 6, 3, groups=2)
    assert t.weight.shape == (4, 3, 3, 3)
    assert np.abs(t.bias.detach().numpy()).max() <= 1 / math.sqrt(3 * 9)
    assert repr(conv) == "Conv2d(16, 32, kernel_size=(5, 5), stride=(1, 1))"
    assert repr(nn.Conv2d(2, 4, 3, padding=1, bias=False, groups=2)) == (
        "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2, bias=False)")
    assert nn.Conv2d(2, 4, 3, bias=False).bias is None
    gg.manual_seed(1)
    a = nn.Conv2d(3, 4, 3).weight.detach().numpy()
    gg.manual_seed(1)
    np.testing.assert_array_equal(a, nn.Conv2d(3, 4, 3).weight.detach().numpy())


class LeNet5(nn.Module):
    """The network of examples/lenet_mnist.py, built the same way in both libraries."""

    def __init__(self, lib):
        super().__init__()
        self.features = lib.nn.Sequential(
            lib.nn.Conv2d(1, 6, 5, padding=2), lib.nn.ReLU(), lib.nn.MaxPool2d(2),
            lib.nn.Conv2d(6, 16, 5), lib.nn.ReLU(), lib.nn.MaxPool2d(2))
        self.classifier = lib.nn.Sequential(
            lib.nn.Flatten(), lib.nn.Linear(400, 120), lib.nn.ReLU(), lib.nn.Linear(120, 84),
            lib.nn.ReLU(), lib.nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class TorchLeNet5(torch.nn.Module):
    def __init__(self):
        super().__init__()
        t = torch.nn
        self.features = t.Sequential(t.Conv2d(1, 6, 5, padding=2), t.ReLU(), t.MaxPool2d(2),
                                     t.Conv2d(6, 16, 5), t.ReLU(), t.MaxPool2d(2))
        self.classifier = t.Sequential(t.Flatten(), t.Linear(400, 120), t.ReLU(),
                                       t.Linear(120, 84), t.ReLU(), t.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def test_lenet_adam_steps_match_torch():
    """Three Adam steps of LeNet-5 (float64) give PyTorch's weights."""
    theirs = TorchLeNet5().double()
    ours = LeNet5(gg).double()
    _copy_params(ours, theirs)
    opt = gg.optim.Adam(ours.parameters(), lr=1e-3)
    topt = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        xa = rng.standard_normal((8, 1, 28, 28))
        ya = rng.integers(0, 10, 8)
        loss = gg.nn.functional.cross_entropy(ours(gg.tensor(xa)), gg.tensor(ya))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(xa)), torch.tensor(ya))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert abs(loss.item() - tloss.item()) < 1e-10
    tsd = theirs.state_dict()
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), tsd[name].numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)




@pytest.mark.skipif(not os.path.exists(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz")),
                    reason="MNIST files not available")
def test_lenet_learns_on_mnist_subset():
    """A few hundred steps would take minutes; 40 Adam steps on 64-image batches already
    bring the loss well below chance (2.30) — the full run is examples/lenet_mnist.py."""
    ds = gg.data.MNIST(root=MNIST_DIR, train=False, normalize=True)
    X, y = ds.arrays(flatten=False)
    gg.manual_seed(0)
    model = LeNet5(gg)
    opt = gg.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for i in range(40):
        sl = slice(64 * i, 64 * (i + 1))
        loss = gg.nn.functional.cross_entropy(model(gg.tensor(X[sl])), gg.tensor(y[sl]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 1.0 < np.mean(losses[:3])
