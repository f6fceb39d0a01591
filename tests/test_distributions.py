"""glassgrad.distributions against torch.distributions: log_prob, entropy, KL, their
gradients, and sample statistics."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg

torch = pytest.importorskip("torch")
D, TD = gg.distributions, torch.distributions


def _pair(a):
    return gg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _same(g, t, tol=1e-10):
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", ["logits", "probs"])
def test_categorical_matches_torch(kind):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    if kind == "probs":
        a = np.abs(a) + 0.1
    g, t = _pair(a)
    gd, td = D.Categorical(**{kind: g}), TD.Categorical(**{kind: t})
    v = np.array([0, 3, 2])
    _same(gd.log_prob(gg.tensor(v)), td.log_prob(torch.tensor(v)))
    _same(gd.entropy(), td.entropy())
    _same(gd.probs, td.probs)
    (gd.log_prob(gg.tensor(v)).sum() + gd.entropy().sum()).backward()
    (td.log_prob(torch.tensor(v)).sum() + td.entropy().sum()).backward()
    _same(g.grad, t.grad)
    assert gd.batch_shape == tuple(td.batch_shape)
    gg.manual_seed(0)
    s = gd.sample((4000,))
    assert tuple(s.shape) == (4000, 3) and s.dtype == gg.int64
    freq = np.stack([(s.numpy() == k).mean(0) for k in range(4)], -1)
    np.testing.assert_allclose(freq, td.probs.detach().numpy(), atol=0.03)


def test_the_policy_gradient_idiom():
    # reinforce: m = Categorical(probs); action = m.sample(); loss = -m.log_prob(action) * R
    gg.manual_seed(1)
    logits = gg.tensor([0.1, 0.5, -0.3], requires_grad=True)
    m = D.Categorical(logits.softmax(-1))
    action = m.sample()
    assert action.shape == () and 0 <= int(action) < 3
    (-m.log_prob(action) * 2.0).backward()
    tl = torch.tensor([0.1, 0.5, -0.3], requires_grad=True)
    (-TD.Categorical(tl.softmax(-1)).log_prob(torch.tensor(int(action))) * 2.0).backward()
    np.testing.assert_allclose(logits.grad.numpy(), tl.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_normal_and_bernoulli_match_torch():
    rng = np.random.default_rng(2)
    (gl, tl), (gs, ts) = _pair(rng.standard_normal(5)), _pair(np.abs(rng.standard_normal(5)) + 0.2)
    gn, tn = D.Normal(gl, gs), TD.Normal(tl, ts)
    x = rng.standard_normal(5)
    _same(gn.log_prob(gg.tensor(x)), tn.log_prob(torch.tensor(x)))
    _same(gn.entropy(), tn.entropy())
    q = (np.zeros(5), np.ones(5) * 1.5)
    _same(D.kl_divergence(gn, D.Normal(*map(gg.tensor, q))),
          TD.kl_divergence(tn, TD.Normal(*map(torch.tensor, q))))
    gg.manual_seed(0)
    r = gn.rsample((3,))
    assert tuple(r.shape) == (3, 5) and r.requires_grad and not gn.sample().requires_grad
    (gn.log_prob(gg.tensor(x)).sum() + gn.entropy().sum()).backward()
    (tn.log_prob(torch.tensor(x)).sum() + tn.entropy().sum()).backward()
    _same(gl.grad, tl.grad)
    _same(gs.grad, ts.grad)
    bl = rng.standard_normal(4)
    gb, tb = D.Bernoulli(logits=gg.tensor(bl)), TD.Bernoulli(logits=torch.tensor(bl))
    y = np.array([1.0, 0.0, 1.0, 1.0])
    _same(gb.log_prob(gg.tensor(y)), tb.log_prob(torch.tensor(y)))
    _same(gb.entropy(), tb.entropy())
    bq = rng.standard_normal(4)
    _same(D.kl_divergence(gb, D.Bernoulli(logits=gg.tensor(bq))),
          TD.kl_divergence(tb, TD.Bernoulli(logits=torch.tensor(bq))))
    _same(D.Bernoulli(probs=gg.tensor([0.2, 0.7])).log_prob(gg.tensor([1.0, 0.0])),
          TD.Bernoulli(probs=torch.tensor([0.2, 0.7])).log_prob(torch.tensor([1.0, 0.0])), 1e-6)


def test_errors():
    with pytest.raises(ValueError, match="exactly one of probs or logits"):
        D.Categorical()
    with pytest.raises(ValueError, match="scale must be positive"):
        D.Normal(0.0, -1.0)
    with pytest.raises(TypeError, match="integer tensor of category indices"):
        D.Categorical(logits=gg.zeros(3)).log_prob(gg.tensor(1.5))
