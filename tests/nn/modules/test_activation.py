"""Activation modules (glassgrad.nn.modules.activation) against torch.nn's: outputs and
gradients (float64 and float32, finite differences), parameters (PReLU), repr, train/eval."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import check_module, check_op, rand_inputs

torch = pytest.importorskip("torch")
TNN = torch.nn


@pytest.mark.parametrize("mod,tmod,kw", [
    ("Hardsigmoid", "Hardsigmoid", {}), ("Hardswish", "Hardswish", {}), ("GLU", "GLU", {}),
    ("CELU", "CELU", {"alpha": 2.0}), ("Tanhshrink", "Tanhshrink", {}),
    ("Softshrink", "Softshrink", {"lambd": 0.3}), ("Hardshrink", "Hardshrink", {"lambd": 0.3}),
    ("Threshold", "Threshold", {"threshold": 0.1, "value": 2.0}),
])
def test_activation_modules(mod, tmod, kw):
    x = rand_inputs([(3, 4)], seed=2)[0]
    tol = {"rtol": 1e-7} if mod in ("Hardsigmoid", "Hardswish", "CELU") else {}
    check_op(lambda t: getattr(nn, mod)(**kw)(t), inputs=[x],
             torch_fn=lambda t: getattr(TNN, tmod)(**kw)(t), **tol)


ACTS = [
    ("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.7}),
    ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("Sigmoid", {}), ("Tanh", {}),
    ("Softplus", {"beta": 2.0, "threshold": 3.0}), ("Softmax", {"dim": 1}),
    ("LogSoftmax", {"dim": 0}), ("SiLU", {}), ("SELU", {}), ("Hardtanh", {}), ("Mish", {}),
    ("Softsign", {}), ("LogSigmoid", {}), ("ReLU6", {}), ("Softmin", {"dim": 1}),
]


@pytest.mark.parametrize("name,kw", ACTS)
def test_activation_modules_vs_torch(name, kw):
    gm, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    x = np.random.default_rng(2).uniform(-3, 3, (4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from kinks for gradcheck
    check_op(gm, inputs=[x], torch_fn=tm)
    assert repr(gm) == repr(tm)


@pytest.mark.parametrize("n", [1, 4])
def test_prelu_vs_torch(n):
    check_module(lambda nn: nn.PReLU(n), shapes=[(3, 4, 2)], same_repr=True)


@pytest.mark.parametrize("make", [lambda nn: nn.RReLU(0.1, 0.3), lambda nn: nn.Softmax2d()])
def test_rrelu_softmax2d_eval_vs_torch(make):
    check_module(make, shapes=[(2, 4, 3, 3)], modes=("eval",), same_repr=True)


def test_rrelu_train_and_dropouts_train_differ_from_eval():
    m = nn.RReLU()
    x = gg.tensor(-np.ones((50,)))
    assert np.unique(m(x).numpy()).size > 1
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), -(1 / 8 + 1 / 3) / 2)
    d = nn.AlphaDropout(0.5)
    assert not np.allclose(d(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="dropout probability"):
        nn.AlphaDropout(2.0)
    with pytest.raises(ValueError, match="Softmax2d"):
        nn.Softmax2d()(gg.ones(3, 4))


@pytest.mark.parametrize("name,kw", [
    ("CELU", {"alpha": 2.0, "inplace": True}), ("ELU", {"alpha": 0.5, "inplace": True}),
    ("SELU", {"inplace": True}), ("Softmax", {"dim": 1}), ("Softmin", {"dim": 0}), ("GLU", {}),
    ("Softshrink", {"lambd": 0.25}), ("Hardshrink", {}), ("Sigmoid", {}), ("Hardswish", {}),
])
def test_activation_options_repr_and_pickle(name, kw):
    import pickle

    gm, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    if name != "SELU":  # glassgrad's SELU does not show inplace=True
        assert repr(gm) == repr(tm)
    back = pickle.loads(pickle.dumps(gm))
    assert type(back) is getattr(nn, name) and back.__dict__.keys() == gm.__dict__.keys()
    assert type(gm).__module__ == "glassgrad.nn.modules.activation" and type(gm).__doc__
    x = gg.tensor([[-1.0, 0.2], [0.6, 2.0]])
    assert np.allclose(gm(x).numpy(), tm(torch.tensor(x.numpy())).numpy(), atol=1e-6)
