"""Reductions: sum, mean, var/std, max/min/amax/amin, argmax/argmin, logsumexp, softmax,
log_softmax — values and gradients equal to PyTorch, gradcheck, ties, edge shapes."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op

torch = pytest.importorskip("torch")

DIMS = [None, 0, 1, -1, (0, 2), (0, 1, 2)]


def _kw(dim, keepdim):
    return {} if dim is None else {"dim": dim, "keepdim": keepdim}


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
def test_sum_mean(dim, keepdim):
    check_op(lambda x: x.sum(**_kw(dim, keepdim)), shapes=[(2, 3, 4)])
    check_op(lambda x: x.mean(**_kw(dim, keepdim)), shapes=[(2, 3, 4)])


def test_sum_numpy_aliases():
    x = gg.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    a = x.sum(axis=1, keepdims=True)
    b = x.sum(dim=1, keepdim=True)
    assert a.shape == b.shape == (2, 1, 4)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert x.mean(axis=(0, 2)).shape == (3,)
    assert gg.sum(x, 0).shape == (3, 4)
    with pytest.raises(TypeError):
        x.sum(dim=0, axis=1)


@pytest.mark.parametrize("shape, dim", [((), None), ((), 0), ((5,), 0), ((1, 3, 1), 0),
                                        ((1, 3, 1), (0, 2)), ((0, 3), 0), ((0, 3), 1),
                                        ((0, 3), None)], ids=str)
def test_sum_mean_edge_shapes(shape, dim):
    check_op(lambda x: x.sum(**_kw(dim, False)), shapes=[shape])
    if 0 not in shape or (dim is not None and dim != 0 and dim != (0,)):
        check_op(lambda x: x.mean(**_kw(dim, True)), shapes=[shape])


def test_mean_of_empty_is_nan_like_torch():
    x = gg.zeros(0, 3)
    assert np.isnan(x.mean().item())
    assert x.sum().item() == 0.0


def test_sum_of_int_and_bool_tensors():
    i = gg.tensor([[1, 2], [3, 4]], dtype=gg.int32)
    assert i.sum().dtype == gg.int64 and i.sum().item() == 10
    b = gg.tensor([True, False, True])
    assert b.sum().item() == 2 and b.sum().dtype == gg.int64
    with pytest.raises(TypeError, match="mean"):
        gg.tensor([1, 2]).mean()


@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("dim", [None, 0, (1, 2), -1], ids=str)
def test_var_std(dim, correction):
    kw = {} if dim is None else {"dim": dim}
    check_op(lambda x: x.var(**kw, correction=correction), shapes=[(3, 4, 5)])
    check_op(lambda x: x.std(**kw, correction=correction), shapes=[(3, 4, 5)])
    check_op(lambda x: x.var(**kw, correction=correction, keepdim=True), shapes=[(3, 4, 5)],
             gradcheck=False)


def test_var_std_unbiased_flag_and_default():
    check_op(lambda x: x.var(), shapes=[(4, 5)])
    check_op(lambda x: x.std(0, unbiased=False), shapes=[(4, 5)],
             torch_fn=lambda x: x.std(0, unbiased=False))
    x = gg.randn(4, 5)
    np.testing.assert_allclose(x.var(ddof=0).item(), np.var(x.numpy()), rtol=1e-5)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_var_with_too_few_elements_is_inf_or_nan_like_torch():
    x = gg.tensor([1.5])
    t = torch.tensor([1.5])
    with np.errstate(all="ignore"):
        v = x.var().item()
    assert np.isnan(v) == bool(torch.isnan(t.var()))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)], ids=str)
def test_amax_amin(dim, keepdim):
    check_op(lambda x: x.amax(**_kw(dim, keepdim)), shapes=[(2, 3, 4)],
             torch_fn=lambda x: x.amax(**({} if dim is None else {"dim": dim, "keepdim": keepdim})))
    check_op(lambda x: x.amin(**_kw(dim, keepdim)), shapes=[(2, 3, 4)],
             torch_fn=lambda x: x.amin(**({} if dim is None else {"dim": dim, "keepdim": keepdim})))


TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -5.0, -5.0, -1.0]])


def test_amax_amin_ties_spread_evenly_like_torch():
    for dim in [None, 0, 1]:
        kw = {} if dim is None else {"dim": dim}
        check_op(lambda x, kw=kw: x.amax(**kw), inputs=[TIES], gradcheck=False)
        check_op(lambda x, kw=kw: x.amin(**kw), inputs=[TIES], gradcheck=False)


def test_max_min_all_ties_like_torch():
    # max() with no dim: evenly distributed over the ties (as torch.max())
    check_op(lambda x: x.max(), inputs=[TIES], gradcheck=False)
    check_op(lambda x: x.min(), inputs=[TIES], gradcheck=False)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_min_dim_values_indices(dim, keepdim):
    check_op(lambda x: x.max(dim, keepdim), shapes=[(3, 4, 5)],
             torch_fn=lambda x: tuple(x.max(dim, keepdim)))
    check_op(lambda x: x.min(dim=dim, keepdim=keepdim), shapes=[(3, 4, 5)],
             torch_fn=lambda x: tuple(x.min(dim=dim, keepdim=keepdim)))


def test_max_dim_ties_gradient_goes_to_the_index():
    x = gg.tensor(TIES, requires_grad=True)
    v, i = x.max(1)
    assert i.dtype == gg.int64 and not i.requires_grad
    t = torch.tensor(TIES, requires_grad=True)
    tv, ti = t.max(1)
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    v.sum().backward()
    tv.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    assert x.grad.numpy().sum() == 3.0
    v2, i2 = x.max(dim=1)  # namedtuple access
    assert (v2.detach().numpy() == x.max(1).values.detach().numpy()).all()
    assert (i2.numpy() == x.max(1).indices.numpy()).all()


def test_max_with_tensor_argument_is_maximum():
    check_op(lambda a, b: a.max(b), shapes=[(3, 4), (4,)], torch_fn=lambda a, b: torch.max(a, b))


def test_argmax_argmin():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    t = torch.tensor(x)
    g = gg.tensor(x)
    for d in [None, 0, 1, -1]:
        for kd in [False, True]:
            if d is None:
                a, b = g.argmax(), t.argmax()
                c, e = g.argmin(), t.argmin()
            else:
                a, b = g.argmax(d, kd), t.argmax(d, kd)
                c, e = g.argmin(dim=d, keepdim=kd), t.argmin(dim=d, keepdim=kd)
            assert a.dtype == gg.int64 and not a.requires_grad
            np.testing.assert_array_equal(a.numpy(), b.numpy())
            np.testing.assert_array_equal(c.numpy(), e.numpy())
    # ties: first occurrence, like torch
    np.testing.assert_array_equal(gg.tensor(TIES).argmax(1).numpy(),
                                  torch.tensor(TIES).argmax(1).numpy())


def test_empty_reductions_raise_clear_errors():
    x = gg.zeros(0, 3)
    for fn in [lambda: x.amax(), lambda: x.max(), lambda: x.argmax(), lambda: x.min(0)]:
        with pytest.raises(IndexError, match="empty"):
            fn()
    # reducing the non-empty axis of an empty tensor is fine: result is empty
    assert gg.zeros(0, 3).amax(dim=1).shape == (0,)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, -1, (0, 1)], ids=str)
def test_logsumexp(dim, keepdim):
    check_op(lambda x: x.logsumexp(dim, keepdim), shapes=[(3, 4, 2)],
             torch_fn=lambda x: x.logsumexp(dim, keepdim))


def test_logsumexp_all_and_stability():
    check_op(lambda x: x.logsumexp(), shapes=[(3, 4)], torch_fn=lambda x: x.logsumexp((0, 1)))
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1.0]])
    check_op(lambda t: t.logsumexp(-1), inputs=[x], gradcheck=False)
    y = gg.tensor([[-np.inf, -np.inf]])
    assert np.isneginf(y.logsumexp(1).item())


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim):
    check_op(lambda x: x.softmax(dim), shapes=[(3, 4, 5)])
    check_op(lambda x: x.log_softmax(dim), shapes=[(3, 4, 5)])
    check_op(lambda x: gg.softmax(x, dim=dim), shapes=[(3, 4)],
             torch_fn=lambda x: torch.softmax(x, dim=dim), gradcheck=False)


def test_softmax_stability_and_edge_shapes():
    x = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
    check_op(lambda t: t.softmax(-1), inputs=[x], gradcheck=False)
    check_op(lambda t: t.log_softmax(-1), inputs=[x], gradcheck=False)
    check_op(lambda t: t.softmax(-1), shapes=[(0, 3)])
    check_op(lambda t: t.log_softmax(0), shapes=[(1, 3)])
    check_op(lambda t: t.softmax(0), shapes=[()])


def test_norm():
    check_op(lambda x: x.norm(), shapes=[(3, 4)])
    check_op(lambda x: x.norm(dim=1), shapes=[(3, 4)], torch_fn=lambda x: x.norm(dim=1))
    check_op(lambda x: x.norm(p=1, dim=0), shapes=[(3, 4)], torch_fn=lambda x: x.norm(p=1, dim=0))


def test_reduction_dim_out_of_range():
    x = gg.randn(2, 3)
    with pytest.raises(IndexError, match=r"sum: Dimension out of range \(expected to be in range "
                       r"of \[-2, 1\], but got 2\)"):
        x.sum(2)
    with pytest.raises(IndexError, match="softmax"):
        x.softmax(3)


EDGE_REDUCTIONS = [
    ("var", lambda x: x.var(0), lambda x: x.var(0)),
    ("std_c0", lambda x: x.std(-1, correction=0), lambda x: x.std(-1, correction=0)),
    ("amax", lambda x: x.amax(0), lambda x: x.amax(0)),
    ("amin_kd", lambda x: x.amin(-1, keepdim=True), lambda x: x.amin(-1, keepdim=True)),
    ("max_dim", lambda x: x.max(0), lambda x: tuple(x.max(0))),
    ("min_dim", lambda x: x.min(-1), lambda x: tuple(x.min(-1))),
    ("logsumexp", lambda x: x.logsumexp(0), lambda x: x.logsumexp(0)),
    ("log_softmax", lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1)),
    ("mean", lambda x: x.mean(-1), lambda x: x.mean(-1)),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("shape", [(), (1,), (1, 4), (4, 1), (2, 0, 3)], ids=str)
@pytest.mark.parametrize("name, fn, tfn", EDGE_REDUCTIONS, ids=[e[0] for e in EDGE_REDUCTIONS])
def test_reductions_on_edge_shapes(name, fn, tfn, shape):
    if 0 in shape and name in ("amax", "max_dim", "logsumexp"):
        pytest.skip("the reduced axis is empty: an error in both libraries")
    degenerate = 0 in shape or (name.startswith(("var", "std")) and shape[-1 if "c0" in name else 0:][:1]
                                in ((), (1,)))
    check_op(fn, shapes=[shape], torch_fn=tfn, gradcheck=not degenerate)


def test_argmax_edge_shapes():
    for shape in [(), (1,), (1, 4), (4, 1)]:
        a = np.random.default_rng(0).standard_normal(shape)
        for d in ([None, 0, -1] if shape else [None, 0]):
            kw = {} if d is None else {"dim": d}
            g, t = gg.tensor(a), torch.tensor(a)
            np.testing.assert_array_equal(g.argmax(**kw).numpy(), t.argmax(**kw).numpy())
            np.testing.assert_array_equal(g.argmin(**kw).numpy(), t.argmin(**kw).numpy())
    assert gg.zeros(3, 0).argmax(0).shape == (0,)


@pytest.mark.parametrize("p", [2, 3, 1.5, 1, float("inf")])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), (0, True), ((0, 1), False)], ids=str)
def test_norm_p_and_zero_vectors_like_torch(p, dim, keepdim):
    check_op(lambda x: x.norm(p, dim, keepdim), shapes=[(3, 4)], torch_fn=lambda x: x.norm(p, dim, keepdim))
    # a zero row: the gradient there is 0 (not 0/0 = nan), as in torch
    a = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, -2.0, 0.5]])
    check_op(lambda x: x.norm(p, dim, keepdim), inputs=[a], torch_fn=lambda x: x.norm(p, dim, keepdim),
             gradcheck=False)


def test_norm_zero_and_errors():
    x = gg.tensor([[0.0, 1.5], [2.0, 0.0]], requires_grad=True)
    n0 = x.norm(0)
    assert n0.item() == 2.0
    n0.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="norm"):
        x.norm(0.5)
