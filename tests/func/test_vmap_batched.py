"""glassgrad.func.vmap's batched run (batching rules) against its loop and torch.func.vmap
(float64, 1e-10); the fallback to the loop, and per-sample gradients through vmap(grad)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import func as gf
from glassgrad.func import _vmap
from oracle import _to_np, needs_torch, torch

pytestmark = [needs_torch, pytest.mark.usefixtures("float64_default")]
TOL = dict(rtol=1e-10, atol=1e-10)
rng = np.random.default_rng(7)
B = 4



_np = _to_np


def _counted(f):
    calls = [0]

    def g(*a):
        calls[0] += 1
        return f(*a)

    return g, calls


def batched(f, args, in_dims=0, out_dims=0):
    """gg's vmap, asserting it ran batched: one call of f, no warning."""
    g, calls = _counted(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gf.vmap(g, in_dims, out_dims)(*args)
    assert calls[0] == 1
    return out


def loop(f, args, in_dims, out_dims):
    """The per-sample loop written out (independent of vmap)."""
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    n = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    outs = []
    for i in range(n):
        sl = [a if d is None else gg.tensor(np.take(a.numpy(), i, axis=d)) for a, d in zip(args, dims)]
        outs.append(f(*sl))
    return np.stack([_np(o) for o in outs], out_dims)


def check(name, f, arrays, in_dims=0, out_dims=0, ints=()):
    args = [gg.tensor(a) for a in arrays]
    targs = [torch.tensor(a) for a in arrays]
    got = _np(batched(lambda *a: f(gg, gg.nn.functional, *a), args, in_dims, out_dims))
    want_t = _np(torch.func.vmap(lambda *a: f(torch, torch.nn.functional, *a), in_dims, out_dims)(*targs))
    want_l = loop(lambda *a: f(gg, gg.nn.functional, *a), args, in_dims, out_dims)
    assert got.shape == want_t.shape, name
    np.testing.assert_allclose(got, want_t, err_msg=name, **TOL)
    np.testing.assert_allclose(got, want_l, err_msg=name, **TOL)


def R(*shape):
    return rng.normal(size=shape)


P = lambda *shape: rng.uniform(0.5, 2.0, size=shape)  # noqa: E731
W = R(5, 4)
Wt = R(3, 4, 6)

# (name, f(T, F, *args), arrays, in_dims, out_dims)
CASES = [
    # elementwise: unary table rows and activations
    ("exp", lambda T, F, a: a.exp(), [R(B, 3, 4)], 0, 0),
    ("log", lambda T, F, a: a.log() + a.sqrt(), [P(B, 3)], 0, 0),
    ("trig", lambda T, F, a: a.sin() * a.cos() + a.tanh() + a.atan(), [R(B, 3)], 0, 0),
    ("sigmoid_abs", lambda T, F, a: a.sigmoid() - a.abs() + F.logsigmoid(a), [R(3, B)], 1, 0),
    ("activations", lambda T, F, a: F.relu(a) + F.gelu(a) + F.leaky_relu(a, 0.1) + F.elu(a)
     + F.softplus(a), [R(B, 6)], 0, 0),
    ("clamp", lambda T, F, a: a.clamp(-0.5, 0.5) + a.clamp(min=0.1), [R(B, 5)], 0, 0),
    ("pow", lambda T, F, a: a ** 2 + 2.0 ** a - 1.5 / (a.abs() + 1), [R(B, 3)], 0, 0),
    # binary arithmetic, broadcasting on the logical dims
    ("add_bcast", lambda T, F, a, b: a + b, [R(B, 3, 4), R(4)], (0, None), 0),
    ("mul_both", lambda T, F, a, b: a * b - b / (a.abs() + 1), [R(B, 3, 4), R(B, 4)], 0, 0),
    ("sub_unbatched_wide", lambda T, F, a, b: b - a, [R(B, 4), R(2, 3, 4)], (0, None), 0),
    ("max_min", lambda T, F, a, b: T.maximum(a, b) + T.minimum(a, b), [R(4, B), R(B, 4)], (1, 0), 0),
    ("where_cmp", lambda T, F, a, b: T.where(a > b, a, b * 2), [R(B, 3), R(3)], (0, None), 0),
    ("atan2", lambda T, F, a, b: T.atan2(a, b) + T.logaddexp(a, b), [R(B, 3), R(B, 3)], 0, 0),
    # reductions
    ("sum_all", lambda T, F, a: a.sum(), [R(B, 3, 4)], 0, 0),
    ("sum_dims", lambda T, F, a: a.sum(0) * 2 + a.sum((0, 1), keepdim=True), [R(B, 3, 4)], 0, 0),
    ("mean_amax", lambda T, F, a: a.mean(-1) + a.amax(1) + a.amin(-1), [R(3, B, 4)], 1, 0),
    ("var_std", lambda T, F, a: a.var(0) + a.std() + a.var(1, correction=0).sum(), [R(B, 3, 4)], 0, 0),
    ("logsumexp", lambda T, F, a: T.logsumexp(a, 1) + a.norm(), [R(B, 3, 4)], 0, 0),
    ("max_dim", lambda T, F, a: a.max(dim=1).values + a.prod(1) + a.cumsum(1)[:, -1], [R(B, 3, 4)], 0, 0),
    ("softmax", lambda T, F, a: F.softmax(a, 0) + F.log_softmax(a, -1), [R(B, 3, 4)], 0, 0),
    # movement
    ("reshape_view", lambda T, F, a: a.reshape(-1) + a.view(12).flip(0), [R(B, 3, 4)], 0, 0),
    ("permute", lambda T, F, a: a.permute(2, 0, 1).transpose(0, 1) * 1, [R(B, 3, 4, 2)], 0, 0),
    ("unsqueeze", lambda T, F, a: a.unsqueeze(1).squeeze() + a.T.T, [R(B, 3, 4)], 0, 0),
    ("expand", lambda T, F, a: a.expand(2, 3, 4) + a[:, :1].expand(3, 4), [R(B, 3, 4)], 0, 0),
    ("getitem", lambda T, F, a: a[1] + a[:, 1:3].sum() + a[..., None, 0].sum(-1).sum() + a[-1, ::2].sum(),
     [R(B, 3, 4)], 0, 0),
    ("cat_stack", lambda T, F, a, b: T.cat([a, b], 0).sum(0) + T.stack([a, b], 1).sum(1),
     [R(B, 3, 4), R(3, 4)], (0, None), 0),
    ("flatten", lambda T, F, a: a.flatten(), [R(B, 2, 3)], 0, 0),
    # matmul / linear
    ("mat_unbatched", lambda T, F, a, w: a @ w, [R(B, 3, 5), R(5, 2)], (0, None), 0),
    ("mat_both", lambda T, F, a, b: a @ b, [R(B, 3, 5), R(B, 5, 2)], 0, 0),
    ("vec_mat", lambda T, F, a, b: a @ b, [R(B, 5), R(5, 2)], (0, None), 0),
    ("mat_vec", lambda T, F, a, b: a @ b, [R(3, 5), R(B, 5)], (None, 0), 0),
    ("vec_vec", lambda T, F, a, b: a @ b, [R(B, 5), R(5, B)], (0, 1), 0),
    ("left_unbatched", lambda T, F, a, b: a @ b, [R(3, 4), R(B, 4, 2)], (None, 0), 0),
    ("batch3_unbatched", lambda T, F, a, b: b @ a, [R(B, 6, 2), R(3, 5, 6)], (0, None), 0),
    ("vec_batch3", lambda T, F, a, b: a @ b, [R(B, 4), R(3, 4, 6)], (0, None), 0),
    ("linear", lambda T, F, x, w, b: F.linear(x, w, b), [R(B, 2, 4), W, R(5)], (0, None, None), 0),
    ("linear_batched_w", lambda T, F, x, w, b: F.linear(x, w, b), [R(B, 4), R(B, 5, 4), R(B, 5)], 0, 0),
    ("linear_x_unbatched", lambda T, F, x, w: F.linear(x, w), [R(2, 4), R(B, 5, 4)], (None, 0), 0),
    # losses
    ("mse", lambda T, F, x, y: F.mse_loss(x, y) + F.mse_loss(x, y, reduction="sum"), [R(B, 3, 2), R(B, 3, 2)],
     0, 0),
    # out_dims
    ("out_dims", lambda T, F, a: a.exp() * 2, [R(B, 3, 4)], 0, 2),
    ("out_dims_neg", lambda T, F, a: a.sum(0), [R(3, B, 4)], 1, -1),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_batched_equals_loop_and_torch(case):
    name, f, arrays, in_dims, out_dims = case
    check(name, f, arrays, in_dims, out_dims)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opts", [{}, {"weight": "w"}, {"ignore_index": 1}, {"label_smoothing": 0.1}])
def test_cross_entropy_nll(reduction, opts):
    x, y = R(B, 3, 4), rng.integers(0, 4, size=(B, 3))
    y[0, 0] = 1  # an ignored target when ignore_index=1
    w = P(4)

    def f(T, F, xi, yi):
        kw = {k: (T.tensor(w) if v == "w" else v) for k, v in opts.items()}
        out = F.cross_entropy(xi, yi, reduction=reduction, **kw)
        if "label_smoothing" not in opts:
            out = out + F.nll_loss(F.log_softmax(xi, -1), yi, reduction=reduction,
                                   **{k: v for k, v in kw.items()})
        return out

    for args, dims in [((x, y), 0), ((x[:, 0], y[:, 0]), 0), ((x[0], y), (None, 0))]:
        ga = [gg.tensor(a) for a in args]
        got = _np(batched(lambda *a: f(gg, gg.nn.functional, *a), ga, dims))
        if not ("label_smoothing" in opts and dims != 0):  # (torch's vmap refuses this one)
            want = _np(torch.func.vmap(lambda *a: f(torch, torch.nn.functional, *a), dims)(
                *[torch.tensor(a) for a in args]))
            np.testing.assert_allclose(got, want, **TOL)
        np.testing.assert_allclose(got, loop(lambda *a: f(gg, gg.nn.functional, *a), ga, dims, 0), **TOL)


# ----------------------------------------------------------------------------- fallback
def _torch_loop(f, arrays, dims):
    n = next(a.shape[d] for a, d in zip(arrays, dims) if d is not None)
    return np.stack([_np(f(*[torch.tensor(a if d is None else np.take(a, i, axis=d))
                                for a, d in zip(arrays, dims)])) for i in range(n)])


NO_RULE = [
    ("item", lambda a: a * a.sum().item(), "item"),
    ("bool", lambda a: a if a.sum() > 0 else -a, "bool"),
    ("tril", lambda a: a.tril(), "Tri"),
    ("mask", lambda a: a[a > 0].sum(), "getitem with an advanced"),
    ("inv", lambda a: a.inverse() if isinstance(a, torch.Tensor) else gg.linalg.inv(a), "Inv"),
    ("jacrev", None, "jacrev"),
]


@pytest.mark.parametrize("case", NO_RULE, ids=[c[0] for c in NO_RULE])
def test_no_rule_falls_back_to_the_loop_and_names_it(case):
    name, f, what = case
    arrays = [R(B, 3, 3)]
    if f is None:  # jacrev of a batched tensor
        def f(a):
            if isinstance(a, torch.Tensor):
                return torch.func.jacrev(lambda z: (z * z).sum(0))(a)
            return gf.jacrev(lambda z: (z * z).sum(0))(a)
    _vmap._WARNED.clear()
    g, calls = _counted(f)
    with pytest.warns(UserWarning, match=f"no batching rule for {what}"):
        out = gf.vmap(g)(*[gg.tensor(a) for a in arrays])
    assert calls[0] == B + 1  # the batched try, then the loop
    np.testing.assert_allclose(_np(out), _torch_loop(f, arrays, [0]), **TOL)
    with warnings.catch_warnings():  # once per cause
        warnings.simplefilter("error")
        gf.vmap(f)(*[gg.tensor(a) for a in arrays])


def test_random_and_inplace_fall_back():
    _vmap._WARNED.clear()
    with pytest.warns(UserWarning, match="no batching rule for random number generation"):
        out = gf.vmap(lambda a: a * 0 + gg.randn(3), randomness="different")(gg.tensor(R(B, 3)))
    assert out.shape == (B, 3) and not np.allclose(out[0].numpy() - out[1].numpy(), 0)
    buf = gg.zeros(3)
    x = R(B, 3)
    with pytest.warns(UserWarning, match="no batching rule"):
        out = gf.vmap(lambda a: buf.copy_(a) * 2)(gg.tensor(x))
    np.testing.assert_allclose(out.numpy(), x * 2, **TOL)
    assert gg.allclose(buf, gg.tensor(x[-1]))  # the loop's last write, never a batched array


def test_batched_tensor_hides_the_batch_axis():
    seen = {}

    def f(a):
        seen.update(shape=tuple(a.shape), ndim=a.ndim, size=a.size(), dim=a.dim(), numel=a.numel(),
                    len=len(a))
        return a * 1

    batched(f, [gg.tensor(R(B, 3, 4))])
    assert seen == dict(shape=(3, 4), ndim=2, size=(3, 4), dim=2, numel=12, len=3)


def test_nested_vmap():
    x = R(B, 3, 4)
    f = lambda a: (a.exp() * a.sum()).tanh()  # noqa: E731
    _vmap._WARNED.discard("nested")
    with pytest.warns(UserWarning, match="nested in a batched vmap runs as a loop"):
        got = gf.vmap(gf.vmap(f))(gg.tensor(x))
    want = torch.func.vmap(torch.func.vmap(f))(torch.tensor(x))
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)
    got = gf.vmap(gf.vmap(f, in_dims=1), in_dims=2)(gg.tensor(x))
    want = torch.func.vmap(torch.func.vmap(f, in_dims=1), in_dims=2)(torch.tensor(x))
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)


# ----------------------------------------------------------------------------- gradients
def mlp_pair(act):
    gm = gg.nn.Sequential(gg.nn.Linear(7, 6), getattr(gg.nn, act)(), gg.nn.Linear(6, 3))
    tm = torch.nn.Sequential(torch.nn.Linear(7, 6), getattr(torch.nn, act)(), torch.nn.Linear(6, 3))
    tm.load_state_dict({k: torch.tensor(v.array) for k, v in gm.state_dict().items()})
    return gm, tm


@pytest.mark.parametrize("act", ["ReLU", "Tanh"])
@pytest.mark.parametrize("lossname", ["cross_entropy", "mse_loss"])
def test_vmap_grad_mlp_equals_torch_and_per_sample_grads(act, lossname):
    gm, tm = mlp_pair(act)
    x = R(5, 7)
    y = rng.integers(0, 3, size=5) if lossname == "cross_entropy" else R(5, 3)

    def make(mod, F, m):
        lf = getattr(F, lossname)

        def loss(p, xi, yi):
            return lf(mod.func.functional_call(m, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))
        return loss

    gp = {k: v.detach() for k, v in gm.named_parameters()}
    tp = {k: v.detach() for k, v in tm.named_parameters()}
    gloss, tloss = make(gg, gg.nn.functional, gm), make(torch, torch.nn.functional, tm)
    gl, calls = _counted(gloss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ran batched: no fallback warning, one call
        g, v = gf.vmap(gf.grad_and_value(gl), in_dims=(None, 0, 0))(gp, gg.tensor(x), gg.tensor(y))
        g2 = gf.vmap(gf.grad(gloss), in_dims=(None, 0, 0))(gp, gg.tensor(x), gg.tensor(y))
    assert calls[0] == 1
    tg, tv = torch.func.vmap(torch.func.grad_and_value(tloss), in_dims=(None, 0, 0))(
        tp, torch.tensor(x), torch.tensor(y))
    ps = gg.per_sample_grads(gm, getattr(gg.nn.functional, lossname), gg.tensor(x), gg.tensor(y))
    np.testing.assert_allclose(v.numpy(), tv.numpy(), **TOL)
    for k in tp:
        assert g[k].shape == (5,) + tuple(gp[k].shape)
        np.testing.assert_allclose(g[k].numpy(), tg[k].numpy(), err_msg=k, **TOL)
        np.testing.assert_allclose(g2[k].numpy(), tg[k].numpy(), err_msg=k, **TOL)
        np.testing.assert_allclose(g[k].numpy(), _np(ps[k]), err_msg=k, **TOL)


def test_grad_of_batched_input_and_grad_of_vmap():
    x, w = R(B, 3), R(3)
    f = lambda T: lambda a, b: ((a * b).tanh() ** 2).sum()  # noqa: E731
    got = batched(gf.grad(f(gg), argnums=(0, 1)), [gg.tensor(x), gg.tensor(w)], (0, None))
    want = torch.func.vmap(torch.func.grad(f(torch), argnums=(0, 1)), (0, None))(torch.tensor(x),
                                                                                  torch.tensor(w))
    for a, b in zip(got, want):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
    # grad outside vmap: the sum over the batch
    outer = gf.grad(lambda ww: gf.vmap(f(gg), (0, None))(gg.tensor(x), ww).sum())(gg.tensor(w))
    touter = torch.func.grad(lambda ww: torch.func.vmap(f(torch), (0, None))(torch.tensor(x), ww).sum())(
        torch.tensor(w))
    np.testing.assert_allclose(outer.numpy(), touter.numpy(), **TOL)
    # a closure over a batched tensor: the gradient is still per sample
    got = batched(lambda a: gf.grad(lambda ww: f(gg)(a, ww))(gg.tensor(w)), [gg.tensor(x)])
    want = torch.func.vmap(lambda a: torch.func.grad(lambda ww: f(torch)(a, ww))(torch.tensor(w)))(
        torch.tensor(x))
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)


def test_data_reads_never_see_the_batch():
    x = gg.tensor(R(B, 3))
    for f in (lambda a: a * float(a.sum()), lambda a: a * a.numpy().sum(), lambda a: a * len(a.tolist()),
              lambda a: gg.tensor(a) * 2, lambda a: a.data * 2 + a.detach()):
        want = np.stack([_np(f(x[i])) for i in range(B)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(gf.vmap(f)(x).numpy(), want, **TOL)
    with pytest.raises(TypeError):
        gf.vmap(lambda a: a < "s")(x)


def test_batched_tensor_refuses_its_autograd_state():
    from glassgrad.func._batched import BatchedTensor, NoBatchRule

    t = BatchedTensor.wrap(gg.tensor(R(B, 3)), 1)

    def peek(attr):
        return getattr(t, attr)

    for attr, what in (("grad_fn", "grad_fn"), ("grad", ".grad"), ("_out_idx", "the graph")):
        with pytest.raises(NoBatchRule, match=f"for peek \\(reads {what} of a batched tensor\\)$"):
            peek(attr)
        with pytest.raises(NoBatchRule, match=f"sets {what} of a batched tensor"):
            setattr(t, attr, None)


def test_grad_of_grad_inside_vmap_through_batched_linear():
    x, w = R(B, 4), R(3, 4)

    def outer(T, gradf):
        F = T.nn.functional

        def g(ww, xi):
            inner = gradf(lambda v: F.linear(xi.unsqueeze(0), v).tanh().sum())(ww)
            return (inner ** 2).sum()
        return gradf(g)

    got = batched(outer(gg, gf.grad), [gg.tensor(w), gg.tensor(x)], (None, 0))
    want = torch.func.vmap(outer(torch, torch.func.grad), (None, 0))(torch.tensor(w), torch.tensor(x))
    assert got.shape == (B, 3, 4)
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)
