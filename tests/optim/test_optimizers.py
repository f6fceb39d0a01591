"""glassgrad.optim against torch.optim: same parameters, same gradient sequence, 100 steps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), ()]
STEPS = 100


def _grads(rng, shapes, dtype):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _make(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [gg.tensor(a.copy(), requires_grad=True) for a in arrs]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrs]
    return ours, theirs


def _set_grads(params, grads, skip=None):
    for i, (p, g) in enumerate(zip(params, grads)):
        if i == skip:
            p.grad = None
        elif isinstance(p, gg.Tensor):
            p.grad = gg.tensor(g.copy())
        else:
            p.grad = torch.tensor(g.copy())


def _run(ours, theirs, gg_opt, t_opt, steps, rng, dtype, start=0):
    shapes = [tuple(p.shape) for p in ours]
    for k in range(start, start + steps):
        grads = _grads(rng, shapes, dtype)
        skip = 1 if k % 7 == 3 else None  # a parameter without gradient is left alone
        _set_grads(ours, grads, skip)
        if t_opt is not None:
            _set_grads(theirs, grads, skip)
            t_opt.step()
        gg_opt.step()


def _assert_params(ours, theirs, tol):
    for p, q in zip(ours, theirs):
        assert p.dtype == np.dtype(str(q.dtype).replace("torch.", ""))
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=tol, atol=tol)


def _assert_state(gg_opt, t_opt, ours, theirs, tol):
    for p, q in zip(ours, theirs):
        ts = t_opt.state[q]
        st = gg_opt.state[p]
        for k, v in st.items():
            tv = ts[k]
            if k == "step":
                assert v == int(tv.item())
            else:
                np.testing.assert_allclose(v, tv.detach().numpy(), rtol=tol, atol=tol, err_msg=k)


def _compare(gg_cls, t_cls, kw, dtype=np.float64, tol=1e-10, steps=STEPS, shapes=SHAPES):
    ours, theirs = _make(shapes, dtype)
    a = gg_cls(ours, **kw)
    b = t_cls(theirs, **kw)
    _run(ours, theirs, a, b, steps, np.random.default_rng(1), dtype)
    _assert_params(ours, theirs, tol)
    _assert_state(a, b, ours, theirs, tol)
    for p in ours:
        assert p.array.dtype == dtype
        for v in a.state[p].values():
            if isinstance(v, np.ndarray):
                assert v.dtype == dtype
    return a, ours


def _grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, vals)) for vals in itertools.product(*axes.values())]


SGD_CASES = [c for c in _grid(lr=[0.05], momentum=[0.0, 0.9], dampening=[0.0, 0.3],
                              weight_decay=[0.0, 0.1], nesterov=[False, True],
                              maximize=[False, True])
             if not (c["nesterov"] and (c["momentum"] == 0 or c["dampening"] != 0))]
ADAM_CASES = _grid(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.9)], weight_decay=[0.0, 0.1],
                   amsgrad=[False, True], maximize=[False, True])
ADAMW_CASES = _grid(lr=[0.01], betas_eps=[((0.9, 0.999), 1e-8), ((0.8, 0.95), 1e-3)],
                    weight_decay=[0.0, 1e-2, 0.3], amsgrad=[False, True])
RMSPROP_CASES = _grid(lr=[0.01], alpha=[0.99, 0.8], weight_decay=[0.0, 0.1], momentum=[0.0, 0.9],
                      centered=[False, True], maximize=[False, True])
ADAGRAD_CASES = _grid(lr=[0.1], lr_decay=[0.0, 0.01], weight_decay=[0.0, 0.1],
                      init_eps=[(0.0, 1e-10), (0.5, 1e-3)], maximize=[False, True])


EXTRA_CASES = (
    [(optim.Adadelta, torch.optim.Adadelta, c) for c in _grid(lr=[1.0, 0.5], rho=[0.9],
                                                              weight_decay=[0.0, 0.1],
                                                              maximize=[False, True])]
    + [(optim.Adamax, torch.optim.Adamax, c) for c in _grid(lr=[0.01], betas=[(0.9, 0.999)],
                                                            weight_decay=[0.0, 0.1],
                                                            maximize=[False, True])]
    + [(optim.RAdam, torch.optim.RAdam, c) for c in _grid(lr=[0.01], betas=[(0.9, 0.999), (0.8, 0.9)],
                                                          weight_decay=[0.0, 0.1],
                                                          decoupled_weight_decay=[False, True])]
    + [(optim.Rprop, torch.optim.Rprop, c) for c in _grid(lr=[0.01, 0.3], etas=[(0.5, 1.2), (0.3, 1.5)],
                                                          step_sizes=[(1e-6, 50), (0.05, 0.2)],
                                                          maximize=[False, True])]
    + [(optim.ASGD, torch.optim.ASGD, c) for c in _grid(lr=[0.05], lambd=[1e-4, 0.1], alpha=[0.75],
                                                        t0=[1e6, 3.0], weight_decay=[0.0, 0.1],
                                                        maximize=[False, True])]
)



def _unpack(kw):
    """Options varied together (to keep the grid small) are given as one tuple-valued key."""
    kw = dict(kw)
    if "betas_eps" in kw:
        kw["betas"], kw["eps"] = kw.pop("betas_eps")
    if "init_eps" in kw:
        kw["initial_accumulator_value"], kw["eps"] = kw.pop("init_eps")
    return kw


def _ids(cases):
    return ["-".join(f"{k}={v}" for k, v in c.items() if k != "lr") for c in cases]


@pytest.mark.parametrize("kw", SGD_CASES, ids=_ids(SGD_CASES))
def test_sgd_matches_torch(kw):
    _compare(optim.SGD, torch.optim.SGD, kw)


@pytest.mark.parametrize("kw", ADAM_CASES, ids=_ids(ADAM_CASES))
def test_adam_matches_torch(kw):
    _compare(optim.Adam, torch.optim.Adam, kw)


@pytest.mark.parametrize("kw", ADAMW_CASES, ids=_ids(ADAMW_CASES))
def test_adamw_matches_torch(kw):
    _compare(optim.AdamW, torch.optim.AdamW, _unpack(kw))


@pytest.mark.parametrize("kw", RMSPROP_CASES, ids=_ids(RMSPROP_CASES))
def test_rmsprop_matches_torch(kw):
    _compare(optim.RMSprop, torch.optim.RMSprop, kw)


@pytest.mark.parametrize("kw", ADAGRAD_CASES, ids=_ids(ADAGRAD_CASES))
def test_adagrad_matches_torch(kw):
    _compare(optim.Adagrad, torch.optim.Adagrad, _unpack(kw))


@pytest.mark.parametrize("gg_cls,t_cls,kw", EXTRA_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(EXTRA_CASES)])
def test_more_optimizers_match_torch(gg_cls, t_cls, kw):
    _compare(gg_cls, t_cls, kw)


NADAM_CASES = _grid(lr=[0.01], betas=[(0.9, 0.999), (0.8, 0.9)], weight_decay=[0.0, 0.1],
                    momentum_decay=[4e-3, 0.05], decoupled_weight_decay=[False, True],
                    maximize=[False, True])


@pytest.mark.parametrize("kw", NADAM_CASES, ids=_ids(NADAM_CASES))
def test_nadam_matches_torch(kw):
    # PyTorch keeps NAdam's mu_product in float32 (its scalar dtype) also for float64
    # parameters; glassgrad keeps a Python float, so they agree to ~1e-9, not 1e-10
    _compare(optim.NAdam, torch.optim.NAdam, kw, tol=1e-7)


def test_scratch_buffers_growing_shapes():
    """Parameters from small to large (the shared scratch arrays are re-allocated as they
    grow), with shapes repeated: still identical to torch."""
    shapes = [(), (2,), (3, 4), (2,), (5, 6), (3, 4)]
    _compare(optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True), shapes=shapes, steps=20)
    _compare(optim.Adadelta, torch.optim.Adadelta, dict(lr=1.0), shapes=shapes[::-1], steps=20)


def test_defaults_match_torch():
    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "RAdam",
                 "NAdam", "Rprop", "ASGD"]:
        ours, theirs = _make([(2,)], np.float64)
        a, b = getattr(optim, name)(ours), getattr(torch.optim, name)(theirs)
        for k, v in a.defaults.items():
            if k in b.defaults:
                assert b.defaults[k] == v, (name, k)


ALL = [
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.01, amsgrad=True)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
    (optim.Adadelta, torch.optim.Adadelta, dict(lr=1.0, weight_decay=0.01)),
    (optim.Adamax, torch.optim.Adamax, dict(lr=0.01)),
    (optim.RAdam, torch.optim.RAdam, dict(lr=0.01, weight_decay=0.01)),
    (optim.NAdam, torch.optim.NAdam, dict(lr=0.01, weight_decay=0.01)),
]
ALL_IDS = [c[0].__name__ for c in ALL]
# agreement with PyTorch in float64 where PyTorch itself rounds: its NAdam keeps mu_product
# in float32 also for float64 parameters (see test_nadam_matches_torch)
TORCH_TOL = {optim.NAdam: 1e-7}


@pytest.mark.parametrize("gg_cls,t_cls,kw", ALL, ids=ALL_IDS)
def test_float32_stays_float32(gg_cls, t_cls, kw):
    """float32 parameters and state stay float32 (no silent float64 upcast), even when
    hyper-parameters are NumPy float64 scalars, and agree with torch in float32."""
    ours, theirs = _make(SHAPES, np.float32)
    a = gg_cls(ours, **kw)
    b = t_cls(theirs, **kw)
    a.param_groups[0]["lr"] = np.float64(kw["lr"])  # a float64 scalar must not upcast
    _run(ours, theirs, a, b, 30, np.random.default_rng(1), np.float32)
    for p in ours:
        assert p.dtype == np.float32 and p.array.dtype == np.float32
        for v in a.state[p].values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32
    _assert_params(ours, theirs, 2e-5)


@pytest.mark.parametrize("gg_cls,t_cls,kw", ALL, ids=ALL_IDS)
def test_param_groups_with_own_options(gg_cls, t_cls, kw):
    ours, theirs = _make(SHAPES, np.float64)
    extra = dict(lr=kw["lr"] * 3)
    if "momentum" in kw:
        extra["momentum"] = 0.3
    if gg_cls in (optim.Adam, optim.AdamW):
        extra["betas"] = (0.7, 0.99)
    if gg_cls is optim.Adagrad:
        extra["lr_decay"] = 0.05
    a = gg_cls([{"params": ours[:2]}, {"params": ours[2:], **extra}], **kw)
    b = t_cls([{"params": theirs[:2]}, {"params": theirs[2:], **extra}], **kw)
    assert a.param_groups[1]["lr"] == extra["lr"] and a.param_groups[0]["lr"] == kw["lr"]
    for k in a.defaults:  # defaults filled in
        assert k in a.param_groups[1]
    _run(ours, theirs, a, b, STEPS, np.random.default_rng(2), np.float64)
    _assert_params(ours, theirs, TORCH_TOL.get(gg_cls, 1e-10))


def test_adagrad_per_group_initial_accumulator():
    """Unlike torch (which uses the constructor's value for every group), a group's own
    initial_accumulator_value is honoured."""
    a = gg.tensor([1.0], requires_grad=True)
    b = gg.tensor([1.0], requires_grad=True)
    opt = optim.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 3.0}], lr=1.0)
    a.grad, b.grad = gg.tensor([1.0]), gg.tensor([1.0])
    opt.step()
    assert opt.state[a]["sum"][0] == 1.0 and opt.state[b]["sum"][0] == 4.0
    np.testing.assert_allclose([a.array[0], b.array[0]], [0.0, 0.5], atol=1e-6)


def test_add_param_group_mid_run():
    ours, theirs = _make(SHAPES, np.float64)
    a = optim.SGD(ours[:2], lr=0.1, momentum=0.9)
    b = torch.optim.SGD(theirs[:2], lr=0.1, momentum=0.9)
    rng = np.random.default_rng(3)
    _run(ours[:2], theirs[:2], a, b, 10, rng, np.float64)
    a.add_param_group({"params": [ours[2]], "lr": 0.01})
    b.add_param_group({"params": [theirs[2]], "lr": 0.01})
    _run(ours, theirs, a, b, 10, rng, np.float64)
    _assert_params(ours, theirs, 1e-12)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    v = gg.tensor([3.0], requires_grad=True)
    opt = optim.SGD([w, v], lr=0.1)
    (w * w).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert w.grad is None
    else:
        assert w.grad is g and np.array_equal(w.grad.array, [0.0, 0.0])
    assert v.grad is None
    (w * w).sum().backward()  # accumulates on top of zeros / starts fresh
    np.testing.assert_allclose(w.grad.array, [2.0, 4.0])
    opt.zero_grad()
    assert w.grad is None


def test_step_updates_in_place_and_bumps_version():
    w = gg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    data, version = w.array, w._version[0]
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.array is data and w._version[0] == version + 1
    assert w.grad_fn is None and w.requires_grad
    opt.zero_grad()
    opt.step()  # no gradients: nothing changes
    assert w._version[0] == version + 1


def test_step_after_saving_for_backward_is_detected():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified|version|in-place|inplace"):
        y.backward()


def test_closure_is_called_and_loss_returned():
    w = gg.tensor([3.0, -1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        calls.append(float(loss))
        return loss

    with gg.no_grad():  # the closure still runs with grad enabled
        loss = opt.step(closure)
    assert calls == [10.0] and float(loss) == 10.0
    np.testing.assert_allclose(w.array, [1.5, -0.5])


def _file_round_trip(sd):
    """What saving to .npz + JSON and loading back may do: int keys become strings, Python
    scalars become 0-d arrays, tuples become lists."""
    state = {str(k): {n: np.asarray(v) for n, v in s.items()} for k, s in sd["state"].items()}
    groups = [{k: (list(v) if isinstance(v, tuple) else np.asarray(v) if k != "params" else v)
               for k, v in g.items()} for g in sd["param_groups"]]
    return {"state": state, "param_groups": groups}


@pytest.mark.parametrize("through_file", [False, True])
@pytest.mark.parametrize("gg_cls,t_cls,kw", ALL, ids=ALL_IDS)
def test_state_dict_round_trip_mid_run(gg_cls, t_cls, kw, through_file):
    dt = np.float64
    # uninterrupted run (and torch's)
    ours, theirs = _make(SHAPES, dt)
    full = gg_cls([{"params": ours[:1]}, {"params": ours[1:], "lr": kw["lr"] / 2}], **kw)
    tor = t_cls([{"params": theirs[:1]}, {"params": theirs[1:], "lr": kw["lr"] / 2}], **kw)
    rng = np.random.default_rng(5)
    _run(ours, theirs, full, tor, STEPS, rng, dt)
    # interrupted at step 50
    mine, _ = _make(SHAPES, dt)
    first = gg_cls([{"params": mine[:1]}, {"params": mine[1:], "lr": kw["lr"] / 2}], **kw)
    rng = np.random.default_rng(5)
    _run(mine, None, first, None, 50, rng, dt)
    sd = first.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][1]["params"] == [1, 2]
    for st in sd["state"].values():
        for v in st.values():
            assert isinstance(v, (np.ndarray, int, float)), type(v)
    snapshot = {k: {n: np.copy(v) for n, v in s.items()} for k, s in sd["state"].items()}
    _run(mine, None, first, None, 5, np.random.default_rng(9), dt)  # the dict is a snapshot
    for k, s in sd["state"].items():
        for n, v in s.items():
            np.testing.assert_array_equal(v, snapshot[k][n])
    if through_file:
        sd = _file_round_trip(sd)
    # the parameters as a checkpoint at step 50 holds them (``mine`` went 5 steps further)
    mine50, _ = _make(SHAPES, dt)
    o50 = gg_cls([{"params": mine50[:1]}, {"params": mine50[1:], "lr": kw["lr"] / 2}], **kw)
    _run(mine50, None, o50, None, 50, np.random.default_rng(5), dt)
    fresh = [gg.tensor(np.copy(p.array), requires_grad=True) for p in mine50]
    second = gg_cls([{"params": fresh[:1]}, {"params": fresh[1:], "lr": 123.0}], **kw)
    second.load_state_dict(sd)
    assert second.param_groups[1]["lr"] == kw["lr"] / 2
    assert second.param_groups[1]["params"][0] is fresh[1]
    _run(fresh, None, second, None, STEPS - 50, rng, dt, start=50)
    for p, q in zip(fresh, ours):
        np.testing.assert_array_equal(p.array, q.array)
    _assert_params(fresh, theirs, TORCH_TOL.get(gg_cls, 1e-10))


def test_load_state_dict_from_torch():
    """A state_dict made by torch.optim (tensors, float steps) loads and continues."""
    ours, theirs = _make(SHAPES, np.float64)
    tor = torch.optim.Adam(theirs, lr=0.01, amsgrad=True)
    rng = np.random.default_rng(4)
    for _ in range(20):
        grads = _grads(rng, SHAPES, np.float64)
        _set_grads(theirs, grads)
        tor.step()
    for p, q in zip(ours, theirs):
        p.array[...] = q.detach().numpy()
    a = optim.Adam(ours, lr=0.5, amsgrad=True)
    a.load_state_dict(tor.state_dict())
    assert a.param_groups[0]["lr"] == 0.01 and a.state[ours[0]]["step"] == 20
    _run(ours, theirs, a, tor, 20, rng, np.float64)
    _assert_params(ours, theirs, 1e-10)


def test_load_state_dict_mismatch_errors():
    ours, _ = _make(SHAPES, np.float64)
    a = optim.Adam(ours)
    (ours[0] * ours[0]).sum().backward()
    a.step()
    sd = a.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": ours[:1]}, {"params": ours[1:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 3 parameters"):
        optim.Adam(ours[:2]).load_state_dict(sd)
    other = [gg.tensor(np.zeros((4, 3)), requires_grad=True)] + ours[1:]
    with pytest.raises(ValueError, match=r"shape \(3, 4\).*shape \(4, 3\)"):
        optim.Adam(other).load_state_dict(sd)


def test_invalid_hyper_parameters():
    w = [gg.tensor([1.0], requires_grad=True)]
    cases = [
        (lambda: optim.SGD(w, lr=-0.1), "learning rate"),
        (lambda: optim.SGD(w, momentum=-0.5), "momentum"),
        (lambda: optim.SGD(w, weight_decay=-1.0), "weight_decay"),
        (lambda: optim.SGD(w, nesterov=True), "Nesterov"),
        (lambda: optim.SGD(w, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
        (lambda: optim.Adam(w, betas=(1.0, 0.999)), "beta parameter at index 0"),
        (lambda: optim.Adam(w, betas=(0.9, -0.1)), "beta parameter at index 1"),
        (lambda: optim.Adam(w, betas=(0.9,)), "pair"),
        (lambda: optim.Adam(w, eps=-1e-8), "epsilon"),
        (lambda: optim.AdamW(w, lr=float("nan")), "learning rate"),
        (lambda: optim.RMSprop(w, alpha=-0.1), "alpha"),
        (lambda: optim.RMSprop(w, momentum=-0.1), "momentum"),
        (lambda: optim.Adagrad(w, lr_decay=-0.1), "lr_decay"),
        (lambda: optim.Adagrad(w, initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ]
    for make, msg in cases:
        with pytest.raises(ValueError, match=msg):
            make()
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([{"params": w, "lr": -1.0}], lr=0.1)


def test_invalid_params():
    a = gg.tensor([1.0], requires_grad=True)
    b = gg.tensor([2.0], requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(a, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="does not require grad"):
        optim.SGD([a, gg.tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([a * 2], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([a, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a]}, {"params": [b, a]}], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([a, b, a], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({a, b}, lr=0.1)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    a.grad = gg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(1,\) has a .grad of shape \(2,\)"):
        opt.step()


def test_generator_of_params_and_repr():
    ps = [gg.tensor(np.zeros((2, 3)), requires_grad=True), gg.tensor(np.zeros(3), requires_grad=True)]
    opt = optim.Adam(p for p in ps)
    assert len(opt.param_groups[0]["params"]) == 2
    r = repr(opt)
    assert r.startswith("Adam (") and "Parameter Group 0" in r and "betas: (0.9, 0.999)" in r
    assert "9 values" in r and "lr: 0.001" in r


def test_step_hooks():
    w = gg.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    seen = []
    rm = opt.register_step_pre_hook(lambda o, a, k: seen.append(("pre", float(w.array[0]))))
    opt.register_step_post_hook(lambda o, a, k: seen.append(("post", float(w.array[0]))))
    w.grad = gg.tensor([0.5])
    opt.step()
    rm()
    opt.step()
    assert seen == [("pre", 1.0), ("post", 0.5), ("post", 0.0)]


def test_custom_optimizer_subclass():
    """A user-defined optimizer in PyTorch style: defaults, groups and state from the base,
    its own step(); a required option must be given."""

    class SignSGD(optim.Optimizer):
        def __init__(self, params, lr=optim.optimizer.required):
            super().__init__(params, dict(lr=lr))

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self.state[p]["n"] = self.state[p].get("n", 0) + 1
                        p.array -= group["lr"] * np.sign(p.grad.array)
            return None

    w = gg.tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(ValueError, match="required option 'lr'"):
        SignSGD([w])
    opt = SignSGD([w], lr=0.5)
    w.grad = gg.tensor([3.0, -0.1])
    opt.step()
    np.testing.assert_allclose(w.array, [0.5, -1.5])
    sd = opt.state_dict()
    assert sd["state"][0]["n"] == 1 and sd["param_groups"][0]["lr"] == 0.5


def test_training_reduces_loss():
    """End to end: fit y = X w* with each optimizer through autograd."""
    rng = np.random.default_rng(0)
    X = gg.tensor(rng.standard_normal((64, 5)).astype(np.float32))
    wstar = rng.standard_normal((5, 1)).astype(np.float32)
    y = gg.tensor(X.array @ wstar)
    for cls, kw in [(optim.SGD, dict(lr=0.05, momentum=0.9)), (optim.Adam, dict(lr=0.05)),
                    (optim.AdamW, dict(lr=0.05, weight_decay=1e-4)), (optim.RMSprop, dict(lr=0.01)),
                    (optim.Adagrad, dict(lr=0.5))]:
        w = gg.tensor(np.zeros((5, 1), dtype=np.float32), requires_grad=True)
        opt = cls([w], **kw)
        first = None
        for _ in range(150):
            opt.zero_grad()
            loss = ((X @ w - y) ** 2).mean()
            loss.backward()
            opt.step()
            first = float(loss) if first is None else first
        assert float(loss) < 1e-2 * first, cls.__name__
        assert w.dtype == np.float32


def test_adam_long_run():
    """300 steps in float64 (bias corrections near 1) still agree with torch."""
    _compare(optim.Adam, torch.optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999)), steps=300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_sgd_large_params_through_scratch(dtype):
    """Plain SGD updates large parameters through a reused scratch array (no temporary
    per step): the result is bit-identical to ``p - lr * g`` for small and large
    parameters, over several steps, with shapes of both kinds mixed in one group."""
    from glassgrad.optim.sgd import _SCRATCH_MIN

    rng = np.random.default_rng(3)
    shapes = [(_SCRATCH_MIN + 5,), (3, 4), (2, _SCRATCH_MIN), (_SCRATCH_MIN - 1,)]
    ps = [gg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    ref = [p.array.copy() for p in ps]
    opt = optim.SGD(ps, lr=0.03)
    for _ in range(3):
        grads = []
        for p, r in zip(ps, ref):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad = gg.tensor(g.copy())
            grads.append(g)
            r -= 0.03 * g
        v0 = [p._version[0] for p in ps]
        opt.step()
        for p, r, v, g in zip(ps, ref, v0, grads):
            assert p.dtype == dtype
            assert np.array_equal(p.array, r)
            assert p._version[0] == v + 1
            assert np.array_equal(p.grad.array, g)  # the gradient is left as it was


@pytest.mark.parametrize("cls,t_cls,kw", [(optim.Rprop, torch.optim.Rprop, dict(lr=0.1)),
                                          (optim.ASGD, torch.optim.ASGD, dict(lr=0.05, t0=2))])
def test_rprop_asgd_float32_and_state_round_trip(cls, t_cls, kw, tmp_path):
    a, ours = _compare(cls, t_cls, kw, dtype=np.float32, tol=1e-5)
    gg.save(a.state_dict(), tmp_path / "opt.ckpt")
    b = cls(ours, **kw)
    b.load_state_dict(gg.load(tmp_path / "opt.ckpt"))
    for p in ours:
        for k, v in a.state[p].items():
            np.testing.assert_array_equal(np.asarray(b.state[p][k]), np.asarray(v), err_msg=k)


@pytest.mark.parametrize("kw,msg", [(dict(etas=(1.2, 0.5)), "eta_minus < 1 < eta_plus"),
                                    (dict(step_sizes=(1.0, 0.1)), "min <= max"),
                                    (dict(etas=0.5), "pair of floats")])
def test_rprop_rejects_bad_options(kw, msg):
    with pytest.raises(ValueError, match=msg):
        optim.Rprop([gg.zeros(2, requires_grad=True)], **kw)


def test_asgd_rejects_negative_decay():
    with pytest.raises(ValueError, match="ASGD: invalid weight_decay"):
        optim.ASGD([gg.zeros(2, requires_grad=True)], weight_decay=-1)
