"""glassgrad.optim.lr_scheduler against torch.optim.lr_scheduler: the same lr sequence."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import optim
from glassgrad.optim import lr_scheduler as S

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler

N = 130


def _opts(cls=("SGD",), lrs=(0.1, 0.03), **kw):
    name = cls[0]
    ours = [gg.tensor(np.zeros(2), requires_grad=True) for _ in lrs]
    theirs = [torch.zeros(2, requires_grad=True) for _ in lrs]
    a = getattr(optim, name)([{"params": [p], "lr": lr} for p, lr in zip(ours, lrs)], **kw)
    b = getattr(torch.optim, name)([{"params": [p], "lr": lr} for p, lr in zip(theirs, lrs)], **kw)
    return a, b


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def _close(x, y, tol=1e-12):
    np.testing.assert_allclose(np.asarray(x, dtype=float), np.asarray(y, dtype=float), rtol=tol,
                               atol=tol)


def _step_both(a, b, sa, sb, n=N, extra=None):
    _close(_lrs(a), _lrs(b))
    _close(sa.get_last_lr(), sb.get_last_lr())
    for _ in range(n):
        a.step()
        b.step()
        sa.step()
        sb.step()
        _close(_lrs(a), _lrs(b))
        _close(sa.get_last_lr(), sb.get_last_lr())
        if extra is not None:
            extra(a, b)


def _lam(e):
    return 0.95**e if e < 40 else 0.5


def _mul(e):
    return 0.97 if e % 3 else 1.01


CASES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[10, 30, 30, 80], gamma=0.3),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=12),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.97),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=40),
    "CosineAnnealingLR-eta_min": lambda m, o: m.CosineAnnealingLR(o, T_max=25, eta_min=0.005),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=20),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=60),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=90, power=2.0),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=_lam),
    "LambdaLR-list": lambda m, o: m.LambdaLR(o, lr_lambda=[_lam, lambda e: 1.0 / (1 + e)]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lr_lambda=_mul),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2,
                                                                            eta_min=1e-4),
    "CosineAnnealingWarmRestarts-1": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=17),
}


@pytest.mark.parametrize("name", list(CASES))
def test_schedule_matches_torch(name):
    a, b = _opts()
    sa, sb = CASES[name](S, a), CASES[name](TS, b)
    _step_both(a, b, sa, sb)
    assert sa.last_epoch == sb.last_epoch == N


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                                  "LinearLR", "PolynomialLR", "ConstantLR"])
def test_closed_form_epoch_argument(name):
    a, b = _opts()
    sa, sb = CASES[name](S, a), CASES[name](TS, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for e in [3, 10, 11, 29, 30, 31, 55, 80, 81, 120]:
            sa.step(e)
            sb.step(e)
            _close(sa.get_last_lr(), sb.get_last_lr())


def test_sequential_warmup_then_cosine():
    def build(m, o):
        warm = m.LinearLR(o, start_factor=0.1, total_iters=5)
        decay = m.CosineAnnealingLR(o, T_max=60, eta_min=1e-3)
        return m.SequentialLR(o, [warm, decay], milestones=[5])

    a, b = _opts()
    _step_both(a, b, build(S, a), build(TS, b))


def test_sequential_three_and_chained():
    def seq(m, o):
        return m.SequentialLR(o, [m.ConstantLR(o, factor=0.5, total_iters=4),
                                  m.ExponentialLR(o, gamma=0.9), m.StepLR(o, step_size=5)],
                              milestones=[10, 40])

    a, b = _opts()
    _step_both(a, b, seq(S, a), seq(TS, b))

    def chain(m, o):
        return m.ChainedScheduler([m.ConstantLR(o, factor=0.1, total_iters=4),
                                   m.ExponentialLR(o, gamma=0.9)])

    a, b = _opts()
    _step_both(a, b, chain(S, a), chain(TS, b))


def _metrics(n, seed):
    rng = np.random.default_rng(seed)
    # a noisy loss that improves, plateaus, improves a bit, plateaus
    base = np.concatenate([np.linspace(2.0, 1.0, 20), np.full(30, 1.0), np.linspace(1.0, 0.9, 10),
                           np.full(n, 0.9)])[:n]
    return base + 1e-5 * rng.standard_normal(n)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="min", factor=0.5, patience=3, threshold=1e-3, cooldown=2, min_lr=0.004),
    dict(mode="min", factor=0.3, patience=0, threshold=0.01, threshold_mode="abs", min_lr=[1e-3, 2e-3]),
    dict(mode="max", factor=0.5, patience=4, threshold=1e-4, eps=1e-3),
    dict(mode="max", factor=0.2, patience=2, threshold_mode="abs", threshold=0.05, cooldown=5),
], ids=["default", "min-rel-cooldown", "min-abs-list", "max-rel-eps", "max-abs-cooldown"])
def test_reduce_lr_on_plateau_matches_torch(kw):
    a, b = _opts()
    sa, sb = S.ReduceLROnPlateau(a, **kw), TS.ReduceLROnPlateau(b, **kw)
    ms = _metrics(N, 0)
    if kw.get("mode") == "max":
        ms = 3.0 - ms
    for i, m in enumerate(ms):
        a.step()
        b.step()
        sa.step(gg.tensor(m) if i % 2 else float(m))
        sb.step(float(m))
        _close(_lrs(a), _lrs(b))
        _close(sa.get_last_lr(), sb.get_last_lr())
        assert sa.num_bad_epochs == sb.num_bad_epochs and sa.cooldown_counter == sb.cooldown_counter
    assert _lrs(a)[0] < 0.1  # it did reduce


ONECYCLE = [
    dict(max_lr=0.5, total_steps=N),
    dict(max_lr=[0.5, 0.2], epochs=13, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear"),
    dict(max_lr=0.3, total_steps=N, three_phase=True, div_factor=10.0, final_div_factor=100.0),
    dict(max_lr=0.3, total_steps=N, base_momentum=0.8, max_momentum=0.9, three_phase=True,
         anneal_strategy="linear"),
    dict(max_lr=0.3, total_steps=N, cycle_momentum=False),
]


@pytest.mark.parametrize("kw", ONECYCLE, ids=["cos", "linear-epochs", "three-phase", "three-linear",
                                              "no-momentum"])
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_one_cycle_lr_and_momentum(kw, opt):
    extra = dict(momentum=0.9) if opt == "SGD" else {}
    a, b = _opts((opt,), **extra)
    sa, sb = S.OneCycleLR(a, **kw), TS.OneCycleLR(b, **kw)

    def moms(x, y):
        key = "momentum" if opt == "SGD" else "betas"
        for ga, gb in zip(x.param_groups, y.param_groups):
            _close(np.ravel(ga[key]), np.ravel(gb[key]))

    moms(a, b)
    _step_both(a, b, sa, sb, n=N - 1, extra=moms)
    if kw.get("cycle_momentum", True):
        key = "momentum" if opt == "SGD" else "betas"
        vals = a.param_groups[0][key]
        assert isinstance(vals, float if opt == "SGD" else tuple)
    with pytest.raises(ValueError, match="total_steps"):
        sa.step()
        sa.step()


def test_one_cycle_drives_the_optimizer():
    """The momentum OneCycleLR writes is the one Adam's update uses (betas[0])."""
    w = gg.tensor(np.zeros(3), requires_grad=True)
    q = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    a = optim.Adam([w], lr=0.1)
    b = torch.optim.Adam([q], lr=0.1)
    sa, sb = S.OneCycleLR(a, max_lr=0.2, total_steps=50), TS.OneCycleLR(b, max_lr=0.2, total_steps=50)
    rng = np.random.default_rng(0)
    for _ in range(50):
        g = rng.standard_normal(3)
        w.grad, q.grad = gg.tensor(g), torch.tensor(g)
        a.step()
        b.step()
        if sa.last_epoch < 49:
            sa.step()
            sb.step()
    np.testing.assert_allclose(w.array, q.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LinearLR", "MultiStepLR",
                                  "CosineAnnealingWarmRestarts"])
def test_state_dict_round_trip(name):
    a, _ = _opts()
    sa = CASES[name](S, a)
    for _ in range(33):
        a.step()
        sa.step()
    sd = sa.state_dict()
    assert "optimizer" not in sd
    opt_sd = a.state_dict()
    ref = []
    for _ in range(40):
        a.step()
        sa.step()
        ref.append(sa.get_last_lr())
    # resume as PyTorch documents it: build the scheduler first (that writes group['lr']),
    # then load the optimizer's state, then the scheduler's
    b, _ = _opts()
    sb = CASES[name](S, b)
    b.load_state_dict(opt_sd)
    sb.load_state_dict(sd)
    got = []
    for _ in range(40):
        b.step()
        sb.step()
        got.append(sb.get_last_lr())
    _close(got, ref)


def test_plateau_state_dict_round_trip():
    a, _ = _opts()
    sa = S.ReduceLROnPlateau(a, patience=2, factor=0.5)
    ms = _metrics(N, 1)
    for m in ms[:40]:
        sa.step(m)
    sd = sa.state_dict()
    b, _ = _opts()
    b.load_state_dict(a.state_dict())
    sb = S.ReduceLROnPlateau(b)
    sb.load_state_dict(sd)
    for m in ms[40:]:
        sa.step(m)
        sb.step(m)
        assert _lrs(a) == _lrs(b)


def test_scheduler_before_optimizer_step_warns():
    a, _ = _opts()
    s = S.StepLR(a, step_size=2)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        s.step()
    a2, _ = _opts()
    s2 = S.StepLR(a2, step_size=2)
    a2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2.step()


def test_scheduler_errors():
    a, _ = _opts()
    with pytest.raises(TypeError, match="Optimizer"):
        S.StepLR(object(), step_size=3)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(a, step_size=3, last_epoch=5)
    with pytest.raises(ValueError, match="factor"):
        S.ReduceLROnPlateau(a, factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        S.ReduceLROnPlateau(a, mode="up")
    with pytest.raises(ValueError, match="2 values for max_lr"):
        S.OneCycleLR(a, max_lr=[0.1, 0.2, 0.3], total_steps=10)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(a, max_lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        S.OneCycleLR(optim.Adagrad([gg.tensor([1.0], requires_grad=True)]), max_lr=0.1, total_steps=5)
    with pytest.raises(ValueError, match="milestones"):
        S.SequentialLR(a, [S.StepLR(a, 3), S.StepLR(a, 4)], milestones=[])
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(a, start_factor=0.0)
    with pytest.raises(ValueError, match="2 values for lr_lambda"):
        S.LambdaLR(a, [_lam])
    with pytest.raises(ValueError, match="ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs'"):
        S.ReduceLROnPlateau(a, threshold_mode="pct")


@pytest.mark.parametrize("name", ["LambdaLR", "MultiplicativeLR"])
def test_lambda_schedules_name_themselves_and_keep_torch_signature(name):
    a, _ = _opts()
    with pytest.raises(TypeError, match=f"{name}: expected a glassgrad Optimizer"):
        getattr(S, name)(object(), _lam)
    with pytest.raises(ValueError, match=f"{name}: expected 2 values for lr_lambda"):
        getattr(S, name)(a, [_lam])
    with pytest.raises(TypeError, match=f"{name}: lr_lambda should be a function"):
        getattr(S, name)(a, 3)
    params = inspect.signature(getattr(S, name)).parameters
    assert list(params) == list(inspect.signature(getattr(TS, name)).parameters)
    assert params["last_epoch"].default == -1


def test_resume_with_last_epoch():
    """last_epoch >= 0 resumes from initial_lr stored in the groups (as torch)."""
    a, b = _opts()
    S.CosineAnnealingLR(a, T_max=20)
    TS.CosineAnnealingLR(b, T_max=20)
    sa = S.CosineAnnealingLR(a, T_max=20, last_epoch=7)
    sb = TS.CosineAnnealingLR(b, T_max=20, last_epoch=7)
    _step_both(a, b, sa, sb, n=30)


CYCLIC = [
    dict(base_lr=0.01, max_lr=0.1, step_size_up=7),
    dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=5, step_size_down=11,
         mode="triangular2"),
    dict(base_lr=0.01, max_lr=0.2, step_size_up=6, mode="exp_range", gamma=0.99),
    dict(base_lr=0.01, max_lr=0.2, step_size_up=4, scale_fn=lambda x: 0.5 ** x,
         scale_mode="iterations", base_momentum=0.7, max_momentum=0.95),
    dict(base_lr=0.01, max_lr=0.2, step_size_up=4, cycle_momentum=False),
]


@pytest.mark.parametrize("kw", CYCLIC, ids=["triangular", "triangular2-groups", "exp_range",
                                            "custom", "no-momentum"])
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_cyclic_lr_and_momentum_match_torch(kw, opt):
    extra = dict(momentum=0.9) if opt == "SGD" else {}
    a, b = _opts((opt,), **extra)
    sa, sb = S.CyclicLR(a, **kw), TS.CyclicLR(b, **kw)

    def moms(x, y):
        key = "momentum" if opt == "SGD" else "betas"
        for ga, gb in zip(x.param_groups, y.param_groups):
            _close(np.ravel(ga[key]), np.ravel(gb[key]))

    moms(a, b)
    _step_both(a, b, sa, sb, extra=moms)


def test_cyclic_lr_errors_and_state():
    a, _ = _opts(("Adagrad",))
    with pytest.raises(ValueError, match="CyclicLR: cycle_momentum=True needs"):
        S.CyclicLR(a, base_lr=0.01, max_lr=0.1)
    a, _ = _opts(momentum=0.9)
    with pytest.raises(ValueError, match="CyclicLR: mode must be one of"):
        S.CyclicLR(a, base_lr=0.01, max_lr=0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="one per param group"):
        S.CyclicLR(a, base_lr=[0.01, 0.02, 0.03], max_lr=0.1)
    s = S.CyclicLR(a, base_lr=0.01, max_lr=0.1, step_size_up=3)
    for _ in range(4):
        a.step()
        s.step()
    a2, _ = _opts(momentum=0.9)
    s2 = S.CyclicLR(a2, base_lr=0.01, max_lr=0.1, step_size_up=3)
    s2.load_state_dict(s.state_dict())
    a.step()
    s.step()
    s2.step()
    assert s2.get_last_lr() == s.get_last_lr()
