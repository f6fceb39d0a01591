"""Gradient checking while training and gradient-flow diagnostics."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.autograd.function import Function
from glassgrad.glassbox import GradientChecker, GradientFlow
from glassgrad.glassbox.checker import GradientCheckWarning
from glassgrad.glassbox.flow import GradientFlowWarning

nn = gg.nn
F = gg.nn.functional


class _BadSquare(Function):
    """``z = x²`` with a deliberately wrong backward (factor 3 instead of 2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x


class BadSquare(nn.Module):
    def forward(self, x):
        return _BadSquare.apply(x)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = gg.tensor(rng.normal(size=(16, 4)).astype(np.float32))
    y = gg.tensor(rng.integers(0, 3, size=16))
    return x, y


def test_checker_passes_a_correct_model_and_restores_state():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Dropout(0.0),
                          nn.Linear(8, 3))
    x, y = _data()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    rm = model[1].running_mean.array.copy()
    w = model[0].weight.array
    w_copy = w.copy()
    rng_before = gg.get_rng_state()
    checker = gg.check_gradients(model, every=3, samples=4, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientCheckWarning)
        rep = checker.step(model, lambda: F.cross_entropy(model(x), y))
    assert rep is not None and rep.ok and rep.dtype == "float64"
    assert set(rep.layers) == {"0 (Linear)", "1 (BatchNorm1d)", "4 (Linear)"}
    assert len(rep.entries) == sum(min(4, p.numel()) for p in model.parameters())
    assert rep.max_error < 1e-3
    # nothing changed: parameters (same arrays, same values), buffers, random state
    assert model[0].weight.array is w and np.array_equal(w, w_copy)
    assert model[0].weight.array.dtype == np.float32
    assert np.array_equal(model[1].running_mean.array, rm)
    after = gg.rand(5).array
    gg.set_rng_state(rng_before)
    np.testing.assert_array_equal(after, gg.rand(5).array)
    # every=3: the next two calls do not check, the fourth does
    assert checker.step(model, lambda: F.cross_entropy(model(x), y)) is None
    assert checker.step(lambda: F.cross_entropy(model(x), y)) is None
    assert checker.step(model, lambda: F.cross_entropy(model(x), y)) is not None
    assert "max rel err" in str(rep)


def test_checker_measures_a_zero_gradient_against_the_layer_scale():
    # A Linear bias feeding BatchNorm has an exactly-zero true gradient; a float32 backward
    # leaves rounding of ~1e-8 there (how much depends on the BLAS kernel). Written in
    # explicitly here, so the case is the same on every processor.
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3))
    x, y = _data()
    F.cross_entropy(model(x), y).backward()
    bias = model[0].bias
    assert np.abs(bias.grad.array).max() < 1e-6  # true gradient 0: only rounding
    bias.grad.array[:] = np.float32(1.02445e-08) * np.sign(np.arange(8) - 3.5)
    checker = gg.check_gradients(model, every=1, samples=8, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientCheckWarning)
        for _ in range(5):  # several checks: other entries, other finite differences
            rep = checker.step(model, lambda: F.cross_entropy(model(x), y))
            assert rep.ok
    bias_errs = [e[4] for e in rep.entries if e[0] == "0.bias"]
    assert len(bias_errs) == 8 and max(bias_errs) < 1e-5
    assert rep.scales["0 (Linear)"] == pytest.approx(float(np.abs(model[0].weight.grad.array).max()))
    # the same size of error on an entry of the layer's own scale is still found
    w = model[0].weight.grad.array
    w *= -1  # a wrong sign
    with pytest.warns(GradientCheckWarning, match=r"layer '0 \(Linear\)'"):
        bad = checker.check(lambda: F.cross_entropy(model(x), y))
    assert bad.layers["0 (Linear)"] > 0.1


def test_checker_subtracts_the_finite_difference_noise():
    # float32 finite differences (a model that refuses float64) are noisy: a loss of ~1e5
    # at eps=1e-2 rounds to ~0.2 per difference quotient; that noise is not an error
    class Float32Only(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(gg.tensor([0.5], dtype=gg.float32))

        def forward(self, x):
            if x.dtype != gg.float32 or self.w.dtype != gg.float32:
                raise TypeError("float32 only")
            return (x * self.w).sum() * 0 + 1e5 + self.w.sum()

    m = Float32Only()
    x = gg.ones(3)
    m(x).backward()
    checker = gg.check_gradients(m, every=1, samples=1, tol=1e-3)
    rep = checker.check(lambda: m(x))
    assert rep.dtype == "float32" and rep.ok


def test_checker_finds_the_wrong_backward_and_names_the_layer():
    gg.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 5), BadSquare(), nn.Linear(5, 3))
    x, y = _data(1)
    F.cross_entropy(model(x), y).backward()
    checker = GradientChecker(model, loss_fn=lambda m: F.cross_entropy(m(x), y), samples=3)
    with pytest.warns(GradientCheckWarning, match=r"layer '0 \(Linear\)'.*relative error"):
        rep = checker.step()
    assert not rep.ok
    assert rep.layers["0 (Linear)"] > 0.1  # gradients below the bad op are 1.5x too big
    assert rep.layers["2 (Linear)"] < 1e-4  # above it they are right


def test_checker_errors():
    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="no loss"):
        GradientChecker(model).check()
    with pytest.raises(RuntimeError, match="no parameter has a .grad"):
        GradientChecker(model).check(lambda: model(gg.ones(1, 2)).sum())
    with pytest.raises(TypeError, match="nn.Module"):
        gg.check_gradients(object())
    with pytest.raises(ValueError, match="every"):
        gg.check_gradients(model, every=0)


def _train(model, steps, lr=0.5, x=None, y=None):
    x, y = _data() if x is None else (x, y)
    flow = GradientFlow(model)
    opt = gg.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        flow.record()
        opt.step()
        flow.record_update()
    return flow


def test_gradient_flow_records_norms_and_updates():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    x, y = _data()
    flow = GradientFlow(model)
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    g = flow.record()
    w_old = [p.array.copy() for p in model[0].parameters()]
    opt.step()
    u = flow.record_update()
    expect_g = math.sqrt(sum(float((p.grad.array.astype(np.float64) ** 2).sum())
                             for p in model[0].parameters()))
    assert g["0"] == pytest.approx(expect_g, rel=1e-6)
    num = math.sqrt(sum(float(((p.array - o).astype(np.float64) ** 2).sum())
                        for p, o in zip(model[0].parameters(), w_old)))
    den = math.sqrt(sum(float((o.astype(np.float64) ** 2).sum()) for o in w_old))
    assert u["0"] == pytest.approx(num / den, rel=1e-5)
    assert flow.update_ratio["2"][0] > 0 and flow.weight_norm["2"][0] > 0
    assert list(flow.dead) == ["1"] and 0 <= flow.dead["1"][0] <= 1
    assert "‖ΔW‖/‖W‖" in flow.summary()
    flow.remove()
    with pytest.raises(RuntimeError, match="record"):
        flow.record_update()


def test_vanishing_gradients_warn_with_layer_name():
    gg.manual_seed(0)
    layers = [nn.Linear(4, 16), nn.Sigmoid()]
    for _ in range(8):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 3))
    with pytest.warns(GradientFlowWarning, match=r"vanishing gradients in layer '0'"):
        flow = _train(model, 2)
    names = list(flow.layers)
    assert flow.grad_norm[names[0]][0] < 1e-3 * flow.grad_norm[names[-1]][0]


def test_dead_relu_warning():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with gg.no_grad():
        model[0].bias.array[...] = -100.0  # every unit is negative for every input: all dead
    with pytest.warns(GradientFlowWarning, match=r"dead ReLUs in '1'.*100%"):
        flow = _train(model, 1)
    assert flow.dead["1"] == [1.0]
    assert flow.grad_norm["0"][0] == 0.0


def test_exploding_gradients_warn():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    with gg.no_grad():
        model[0].weight.array[...] *= 1e5
    x, y = _data()
    with pytest.warns(GradientFlowWarning, match="exploding"):
        GradientFlow(model, explode_abs=1.0)  # no warning yet: nothing recorded
        flow = GradientFlow(model, explode_abs=1e-3)
        F.cross_entropy(model(x), y).backward()
        flow.record()


def test_flow_plot(tmp_path):
    pytest.importorskip("matplotlib")
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradientFlowWarning)
        flow = _train(model, 3)
    p = tmp_path / "flow.png"
    fig = flow.plot(p)
    assert p.read_bytes()[:4] == b"\x89PNG" and len(fig.axes) == 4  # 3 panels + the layer colour key
    key = fig.axes[3]
    assert [t.get_text() for t in key.get_yticklabels()] == list(flow.layers)
    from glassgrad.viz import compare_gradient_flow

    fig = compare_gradient_flow({"a": flow, "b": flow}, path=tmp_path / "cmp.png")
    assert len(fig.axes) == 8


def test_gradient_flow_and_checker_as_trainer_callbacks():
    from glassgrad.data import DataLoader, TensorDataset
    from glassgrad.train import Trainer

    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = _data()
    flow = GradientFlow(model)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    trainer = Trainer(model, F.cross_entropy, gg.optim.SGD(model.parameters(), lr=0.1),
                      callbacks=[flow], verbose=0, metrics=())
    trainer.fit(loader, epochs=2)
    assert len(flow.steps) == 4 and len(flow.update_ratio["0"]) == 4
    assert all(r > 0 for r in flow.update_ratio["0"])
    # the checker's hook, called the way a training loop would after backward
    checker = GradientChecker(model, samples=2)
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    rep = checker.on_after_backward(trainer, x, y)
    assert rep.ok and rep.dtype == "float64"


def test_checker_warns_about_active_dropout():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.Linear(6, 3))
    x, y = _data()
    F.cross_entropy(model(x), y).backward()
    checker = GradientChecker(model, samples=1, tol=1e9)
    with pytest.warns(GradientCheckWarning, match=r"dropout is active in \['1'\]"):
        checker.check(lambda: F.cross_entropy(model(x), y))
