"""optim.LBFGS equals torch.optim.LBFGS step for step (fixed step and strong-Wolfe line
search, history limits, tolerances), minimizes a convex problem to its exact optimum,
handles several parameters of different shapes, saves and restores its state."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import optim

torch = pytest.importorskip("torch")


def _problem(lib, seed=0):
    """A small logistic-regression-plus-quadratic problem with two parameters."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((30, 4)), (rng.random(30) > 0.5).astype(np.float64)
    w0, b0 = rng.standard_normal((4, 1)), rng.standard_normal(1)
    if lib == "gg":
        w, b = gg.tensor(w0, requires_grad=True), gg.tensor(b0, requires_grad=True)
        Xt, yt = gg.tensor(X), gg.tensor(y)
        F = gg.nn.functional

        def loss_fn():
            z = (Xt @ w).reshape(-1) + b
            return F.binary_cross_entropy_with_logits(z, yt) + 0.05 * (w * w).sum()
    else:
        w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
        Xt, yt = torch.tensor(X), torch.tensor(y)
        F = torch.nn.functional

        def loss_fn():
            z = (Xt @ w).reshape(-1) + b
            return F.binary_cross_entropy_with_logits(z, yt) + 0.05 * (w * w).sum()
    return [w, b], loss_fn


def _run(lib, kw, steps):
    params, loss_fn = _problem(lib)
    opt = (optim.LBFGS if lib == "gg" else torch.optim.LBFGS)(params, **kw)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    return [p.detach().numpy().copy() for p in params], losses, opt


@pytest.mark.parametrize("kw", [
    dict(lr=1.0),
    dict(lr=0.5, max_iter=5),
    dict(lr=1.0, history_size=2, max_iter=7),
    dict(lr=1.0, line_search_fn="strong_wolfe"),
    dict(lr=0.1, line_search_fn="strong_wolfe", history_size=3, max_iter=4),
    dict(lr=1.0, tolerance_grad=1e-3, tolerance_change=1e-5),
])
def test_lbfgs_matches_torch(kw):
    ours, l1, a = _run("gg", kw, 3)
    theirs, l2, b = _run("torch", kw, 3)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(l1, l2, rtol=1e-10)
    sa = a.state[a._params[0]]
    sb = b.state[b._params[0]]
    assert sa["func_evals"] == sb["func_evals"] and sa["n_iter"] == sb["n_iter"]


def test_lbfgs_reaches_the_optimum_of_a_quadratic():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((6, 6))
    A, c = M @ M.T + 6 * np.eye(6), rng.standard_normal(6)
    x = gg.zeros(6, dtype=gg.float64, requires_grad=True)
    At, ct = gg.tensor(A), gg.tensor(c)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=50, tolerance_grad=1e-12,
                      tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x * (At @ x)).sum() - (ct * x).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), np.linalg.solve(A, c), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_lbfgs_state_dict_round_trip_through_a_file_and_errors(ls, tmp_path):
    kw = dict(lr=1.0, max_iter=3, line_search_fn=ls)
    _, _, a = _run("gg", kw, 2)
    gg.save(a.state_dict(), str(tmp_path / "lbfgs.npz"))
    params, loss_fn = _problem("gg")
    for p, q in zip(params, a._params):
        p.array[...] = q.array
    b = optim.LBFGS(params, **kw)
    b.load_state_dict(gg.load(str(tmp_path / "lbfgs.npz")))

    def closure():
        b.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    b.step(closure)  # the third step, resumed from the saved history
    _, _, ref = _run("gg", kw, 3)
    for p, q in zip(params, ref._params):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    with pytest.raises(RuntimeError, match="LBFGS.step needs a closure"):
        b.step()
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS(params, line_search_fn="armijo")
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": params[:1]}, {"params": params[1:]}])
