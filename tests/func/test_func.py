"""glassgrad.func against torch.func (float64, 1e-10)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import func as gf
from oracle import needs_torch, torch

pytestmark = needs_torch
TOL = dict(rtol=1e-10, atol=1e-10)
rng = np.random.default_rng(1)


@pytest.fixture(autouse=True)
def _f64():
    old, told = gg.get_default_dtype(), torch.get_default_dtype()
    gg.set_default_dtype(gg.float64)
    torch.set_default_dtype(torch.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "glassgrad.func.vmap runs func once per sample")
        yield
    gg.set_default_dtype(old)
    torch.set_default_dtype(told)


def close(a, b):
    a = a.detach().numpy() if isinstance(a, gg.Tensor) else a
    np.testing.assert_allclose(a, b.detach().numpy(), **TOL)


def models():
    gm = gg.nn.Sequential(gg.nn.Linear(7, 6), gg.nn.Tanh(), gg.nn.Linear(6, 3))
    tm = torch.nn.Sequential(torch.nn.Linear(7, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    tm.load_state_dict({k: torch.tensor(v.array) for k, v in gm.state_dict().items()})
    return gm, tm


def f(x):
    return (x.sin() * x).sum(-1).exp()


def s(x):
    return (x.sin() * x).sum().tanh()


X = rng.normal(size=(3, 4))


def test_functional_call_swaps_and_restores():
    gm, tm = models()
    x = rng.normal(size=(2, 7))
    new = {"0.weight": gg.tensor(rng.normal(size=(6, 7)))}
    out = gf.functional_call(gm, new, (gg.tensor(x),))
    tout = torch.func.functional_call(tm, {"0.weight": torch.tensor(new["0.weight"].array)},
                                      (torch.tensor(x),))
    close(out, tout)
    assert gm[0].weight is not new["0.weight"] and isinstance(gm[0].weight, gg.nn.Parameter)
    with pytest.raises(ValueError, match="no parameter or buffer named"):
        gf.functional_call(gm, {"nope": gg.zeros(1)}, (gg.tensor(x),))
    with pytest.raises(ValueError, match="strict"):
        gf.functional_call(gm, new, (gg.tensor(x),), strict=True)


def test_functional_call_gradient_flows_to_the_given_tensors():
    gm, tm = models()
    p = {k: v.detach().requires_grad_() for k, v in gm.named_parameters()}
    gg.nn.functional.cross_entropy(gf.functional_call(gm, p, gg.randn(4, 7)),
                                   gg.tensor([0, 1, 2, 0])).backward()
    assert all(v.grad is not None for v in p.values())
    assert all(v.grad is None for v in gm.parameters())


def test_functional_call_tied_weights():
    lin = gg.nn.Linear(3, 3, bias=False)
    net = gg.nn.Sequential(lin, lin)
    w = gg.tensor(np.eye(3) * 2)
    x = gg.tensor(rng.normal(size=(1, 3)))
    np.testing.assert_allclose(gf.functional_call(net, {"0.weight": w}, x).numpy(), x.numpy() * 4)


def test_per_sample_grads_by_vmap_grad_functional_call():
    gm, tm = models()
    x, y = rng.normal(size=(5, 7)), rng.integers(0, 3, 5)
    gp = {k: v.detach() for k, v in gm.named_parameters()}
    tp = {k: v.detach() for k, v in tm.named_parameters()}

    def gl(p, xi, yi):
        return gg.nn.functional.cross_entropy(gf.functional_call(gm, p, (xi.unsqueeze(0),)),
                                              yi.unsqueeze(0))

    def tl(p, xi, yi):
        return torch.nn.functional.cross_entropy(
            torch.func.functional_call(tm, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    got = gf.vmap(gf.grad(gl), in_dims=(None, 0, 0))(gp, gg.tensor(x), gg.tensor(y))
    ref = torch.func.vmap(torch.func.grad(tl), in_dims=(None, 0, 0))(tp, torch.tensor(x),
                                                                        torch.tensor(y))
    for k in ref:
        close(got[k], ref[k])
    fast = gg.per_sample_grads(gm, gg.nn.CrossEntropyLoss(), gg.tensor(x), gg.tensor(y))
    for k in ref:
        np.testing.assert_allclose(fast[k], got[k].numpy(), **TOL)


def test_grad_argnums_has_aux_and_grad_and_value():
    a, b = rng.normal(size=4), rng.normal(size=4)

    def h(x, y):
        return (x * y.exp()).sum(), x.sum()

    g = gf.grad(h, argnums=(0, 1), has_aux=True)(gg.tensor(a), gg.tensor(b))
    t = torch.func.grad(h, argnums=(0, 1), has_aux=True)(torch.tensor(a), torch.tensor(b))
    close(g[0][0], t[0][0])
    close(g[0][1], t[0][1])
    close(g[1], t[1])
    gv = gf.grad_and_value(lambda x: (x ** 3).sum())(gg.tensor(a))
    tv = torch.func.grad_and_value(lambda x: (x ** 3).sum())(torch.tensor(a))
    close(gv[0], tv[0])
    close(gv[1], tv[1])
    with pytest.raises(RuntimeError, match="scalar"):
        gf.grad(lambda x: x * 2)(gg.tensor(a))


def test_vjp():
    out, fn = gf.vjp(f, gg.tensor(X))
    tout, tfn = torch.func.vjp(f, torch.tensor(X))
    v = rng.normal(size=3)
    close(out, tout)
    close(fn(gg.tensor(v))[0], tfn(torch.tensor(v))[0])


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobians(name):
    close(getattr(gf, name)(f)(gg.tensor(X)), getattr(torch.func, name)(f)(torch.tensor(X)))
    j = getattr(gf, name)(lambda x, y: x * y.sum(), argnums=(0, 1))(gg.tensor(X[0]), gg.tensor(X[1]))
    t = getattr(torch.func, name)(lambda x, y: x * y.sum(), argnums=(0, 1))(
        torch.tensor(X[0]), torch.tensor(X[1]))
    close(j[0], t[0])
    close(j[1], t[1])


def test_compositions():
    close(gf.hessian(s)(gg.tensor(X)), torch.func.hessian(s)(torch.tensor(X)))
    close(gf.jacrev(gf.grad(s))(gg.tensor(X)), torch.func.jacrev(torch.func.grad(s))(torch.tensor(X)))
    close(gf.grad(lambda x: gf.grad(s)(x).sum())(gg.tensor(X)),
          torch.func.grad(lambda x: torch.func.grad(s)(x).sum())(torch.tensor(X)))
    B = rng.normal(size=(2, 3, 4))
    close(gf.vmap(gf.jacrev(f))(gg.tensor(B)), torch.func.vmap(torch.func.jacrev(f))(torch.tensor(B)))


def test_vmap_dims_and_structures():
    A, v = rng.normal(size=(4, 3, 5)), rng.normal(size=5)

    def fn(a, b):
        return {"y": a @ b, "z": (a * 2, a.sum())}

    g = gf.vmap(fn, in_dims=(1, None), out_dims={"y": 1, "z": (0, 0)})(gg.tensor(A), gg.tensor(v))
    t = torch.func.vmap(fn, in_dims=(1, None), out_dims={"y": 1, "z": (0, 0)})(torch.tensor(A),
                                                                             torch.tensor(v))
    close(g["y"], t["y"])
    close(g["z"][0], t["z"][0])
    close(g["z"][1], t["z"][1])
    with pytest.raises(ValueError, match="different sizes"):
        gf.vmap(lambda a, b: a + b)(gg.zeros(3), gg.zeros(4))
    with pytest.raises(ValueError, match="at least one argument"):
        gf.vmap(lambda a: a, in_dims=None)(gg.zeros(3))


def test_vmap_batched_without_warning_and_loop_warns_once_naming_the_cause():
    from glassgrad.func import _vmap

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gf.vmap(lambda a: a * 2)(gg.zeros(3, 2))  # batched: no warning
    _vmap._WARNED.discard("item (reads the data of a batched tensor)")
    with pytest.warns(UserWarning, match="no batching rule for item"):
        gf.vmap(lambda a: a * a.sum().item())(gg.zeros(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gf.vmap(lambda a: a * a.sum().item())(gg.zeros(3, 2))


def test_jvp():
    t = rng.normal(size=X.shape)
    out, jv = gf.jvp(f, (gg.tensor(X),), (gg.tensor(t),))
    tout, tjv = torch.func.jvp(f, (torch.tensor(X),), (torch.tensor(t),))
    close(out, tout)
    close(jv, tjv)
    with pytest.raises(ValueError, match="tangent"):
        gf.jvp(f, (gg.tensor(X),), (gg.zeros(2),))


def test_stack_module_state_ensemble():
    gms = [models()[0] for _ in range(3)]
    params, buffers = gf.stack_module_state(gms)
    x = gg.tensor(rng.normal(size=(2, 7)))
    out = gf.vmap(lambda p, b: gf.functional_call(gms[0], (p, b), (x,)))(params, buffers)
    for i, m in enumerate(gms):
        np.testing.assert_allclose(out[i].detach().numpy(), m(x).detach().numpy(), **TOL)
