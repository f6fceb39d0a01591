"""The Trainer calls ``on_after_backward`` between backward and the optimizer step, so the
glass-box gradient checker works as a training callback."""

import warnings

import numpy as np

import glassgrad as gg
from glassgrad import nn, optim
from glassgrad.data import DataLoader, TensorDataset
from glassgrad.train import Trainer


class _Spy:
    def __init__(self):
        self.seen = []

    def on_after_backward(self, trainer, x, y):
        p = trainer.model.weight
        # gradients exist, parameters not yet updated
        self.seen.append((p.grad is not None, p.array.copy()))


def _setup(seed=0):
    gg.manual_seed(seed)
    X = gg.randn(32, 3)
    y = (X[:, 0] > 0).long()
    model = nn.Linear(3, 2)
    loader = DataLoader(TensorDataset(X, y), batch_size=8)
    return model, loader


def test_after_backward_sees_gradients_before_the_update():
    model, loader = _setup()
    spy = _Spy()
    w0 = model.weight.array.copy()
    tr = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5),
                 callbacks=[spy], verbose=0)
    tr.fit(loader, epochs=1)
    assert len(spy.seen) == 4
    assert all(has_grad for has_grad, _ in spy.seen)
    np.testing.assert_array_equal(spy.seen[0][1], w0)  # first call: before any step
    assert not np.array_equal(spy.seen[1][1], w0)  # later calls: after earlier steps


def test_gradient_checker_runs_as_a_trainer_callback():
    model, loader = _setup(1)
    checker = gg.check_gradients(model, nn.CrossEntropyLoss(), every=2, samples=3)
    tr = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                 callbacks=[checker], verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a correct backward gives no warning
        tr.fit(loader, epochs=1)
    assert checker.calls == 4
