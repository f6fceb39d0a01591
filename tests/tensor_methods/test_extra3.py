"""Structure methods and functions (glassgrad/tensor_methods/extra3.py, functional_extra2.py)
against PyTorch: diff, cross, kron, rot90, diag_embed, diagflat, *_scatter, as_strided,
index_put, scatter_reduce, fill_diagonal_, stacking, tensordot, block_diag, counting."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op, needs_torch, torch

pytestmark = needs_torch


def _same(a, b, **kw):
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype).replace("torch.", ""), (a.dtype, b.dtype)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), equal_nan=True, **kw)


@pytest.mark.parametrize("fn,shapes", [
    (lambda x: x.diff(), [(3, 5)]),
    (lambda x: x.diff(n=2, dim=0), [(5, 3)]),
    (lambda x, p: x.diff(dim=1, prepend=p, append=p), [(3, 4), (3, 2)]),
    (lambda x, y: x.cross(y, dim=1), [(4, 3), (4, 3)]),
    (lambda x, y: x.cross(y, dim=0), [(3, 2), (3, 1)]),
    (lambda x, y: x.kron(y), [(2, 3), (3, 2)]),
    (lambda x, y: x.kron(y), [(2,), (2, 3)]),
    (lambda x: x.rot90(), [(2, 3)]),
    (lambda x: x.rot90(2, (1, 2)), [(2, 3, 4)]),
    (lambda x: x.rot90(-1, (0, 2)), [(2, 3, 4)]),
    (lambda x: x.diag_embed(), [(2, 3)]),
    (lambda x: x.diag_embed(1, 0, 2), [(2, 3)]),
    (lambda x: x.diag_embed(-2, dim1=-1, dim2=0), [(3,)]),
    (lambda x: x.diagflat(), [(2, 2)]),
    (lambda x: x.diagflat(-1), [(3,)]),
    (lambda x: x.select(1, -1), [(2, 3, 4)]),
    (lambda x, s: x.select_scatter(s, 1, 2), [(2, 3, 4), (2, 4)]),
    (lambda x, s: x.slice_scatter(s, 1, 1, None, 2), [(2, 5), (2, 2)]),
    (lambda x, s: x.slice_scatter(s), [(3, 2), (3, 2)]),
    (lambda x, s: x.diagonal_scatter(s), [(3, 4), (3,)]),
    (lambda x, s: x.diagonal_scatter(s, 1, 1, 2), [(2, 3, 4), (2, 3)]),
    (lambda x, s: x.diagonal_scatter(s, -1, 2, 0), [(3, 2, 4), (2, 3)]),
    (lambda x: x.as_strided((2, 2), (1, 2), 1), [(3, 3)]),
    (lambda x: x.as_strided((3, 3), (1, 1)), [(6,)]),
    (lambda x, y: x.vdot(y), [(4,), (4,)]),
    (lambda x, y: x.dist(y), [(3, 4), (4,)]),
    (lambda x, y: x.dist(y, 1), [(3, 4), (3, 4)]),
    (lambda x: x.renorm(2, 0, 1.0), [(3, 4)]),
    (lambda x: x.renorm(1, 1, 2.0), [(3, 4)]),
    (lambda x: x.sum_to_size(3, 1), [(2, 3, 4)]),
    (lambda x: x.split_with_sizes([1, 3], 1), [(2, 4)]),
    (lambda x: x.msort(), [(4, 3)]),
])
def test_methods(fn, shapes):
    check_op(fn, shapes=shapes)


def test_diff_edges_and_bool():
    _same(gg.tensor([True, False, False]).diff(), torch.tensor([True, False, False]).diff())
    _same(gg.tensor([1, 4, 9]).diff(n=2), torch.tensor([1, 4, 9]).diff(n=2))
    _same(gg.ones(0).diff(), torch.ones(0).diff())
    _same(gg.arange(3.0).diff(n=5), torch.arange(3.0).diff(n=5))
    with pytest.raises(ValueError, match="diff"):
        gg.tensor(1.0).diff()


def test_cross_default_dim_and_errors():
    a, b = np.random.default_rng(0).standard_normal((2, 2, 3, 3))
    _same(gg.cross(gg.tensor(a), gg.tensor(b)), torch.cross(torch.tensor(a), torch.tensor(b)))
    _same(gg.linalg.cross(gg.tensor(a), gg.tensor(b)),
          torch.linalg.cross(torch.tensor(a), torch.tensor(b)))
    with pytest.raises(ValueError, match="cross"):
        gg.ones(2, 2).cross(gg.ones(2, 2))


def test_index_put():
    x = np.random.default_rng(0).standard_normal((4, 3))
    i0 = np.array([0, 2, 0])
    i1 = np.array([1, 1, 1])
    for acc in (False, True):
        check_op(lambda x, v: x.index_put((gg.tensor(i0), gg.tensor(i1)), v, accumulate=acc),  # noqa: B023 - called within the loop
                 inputs=[x, np.array([1.0, 2.0, 3.0])] if acc else [x, np.array([1.0, 2.0, 3.0])],
                 torch_fn=lambda x, v: x.index_put((torch.tensor(i0), torch.tensor(i1)), v,
                                                   accumulate=acc),  # noqa: B023 - called within the loop
                 gradcheck=acc)
        check_op(lambda x, v: x.index_put((gg.tensor(np.array([3, 1])),), v, accumulate=acc),  # noqa: B023 - called within the loop
                 inputs=[x, np.array([0.5, -1.0, 2.0])],
                 torch_fn=lambda x, v: x.index_put((torch.tensor(np.array([3, 1])),), v,
                                                   accumulate=acc))  # noqa: B023 - called within the loop
    m = x > 0
    _same(gg.tensor(x).index_put((gg.tensor(m),), gg.tensor(0.0, dtype=gg.float64)),
          torch.tensor(x).index_put((torch.tensor(m),), torch.tensor(0.0, dtype=torch.float64)))
    g, t = gg.tensor(x), torch.tensor(x)
    g.index_put_((gg.tensor(i0),), gg.tensor(5.0, dtype=gg.float64), accumulate=True)
    t.index_put_((torch.tensor(i0),), torch.tensor(5.0, dtype=torch.float64), accumulate=True)
    _same(g, t)
    with pytest.raises(IndexError, match="index_put"):
        gg.tensor(x).index_put((gg.tensor([7]),), gg.tensor(1.0, dtype=gg.float64),
                               accumulate=True)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    rng = np.random.default_rng(3)
    idx = np.array([[0, 2, 1, 0], [2, 2, 0, 1]])
    x = rng.standard_normal((3, 4))
    src = rng.standard_normal((2, 4))
    check_op(lambda x, s: x.scatter_reduce(0, gg.tensor(idx), s, reduce, include_self=include_self),
             inputs=[x, src],
             torch_fn=lambda x, s: x.scatter_reduce(0, torch.tensor(idx), s, reduce,
                                                    include_self=include_self))
    # ties and zeros: the gradient rules for amax/amin (shared) and prod (zero factors)
    xt = np.array([[1.0, 0.0, 2.0], [1.0, 3.0, 0.0]])
    st = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 5.0]])
    it = np.array([[0, 0, 1], [1, 0, 1]])
    check_op(lambda x, s: x.scatter_reduce(1, gg.tensor(it), s, reduce, include_self=include_self),
             inputs=[xt, st], gradcheck=False,
             torch_fn=lambda x, s: x.scatter_reduce(1, torch.tensor(it), s, reduce,
                                                    include_self=include_self))
    xi, si = gg.tensor([5, 1, 7]), gg.tensor([2, 9])
    _same(xi.scatter_reduce(0, gg.tensor([0, 0]), si, reduce, include_self=include_self),
          torch.tensor([5, 1, 7]).scatter_reduce(0, torch.tensor([0, 0]), torch.tensor([2, 9]),
                                                 reduce, include_self=include_self))


def test_scatter_reduce_inplace_and_errors():
    x = gg.zeros(3)
    x.scatter_reduce_(0, gg.tensor([0, 0, 2]), gg.tensor([1.0, 2.0, 3.0]), "sum")
    assert x.tolist() == [3.0, 0.0, 3.0]
    with pytest.raises(ValueError, match="scatter_reduce"):
        x.scatter_reduce(0, gg.tensor([0]), gg.tensor([1.0]), "max")
    with pytest.raises(TypeError, match="scatter_reduce"):
        x.scatter_reduce(0, gg.tensor([0]), gg.tensor([1], dtype=gg.int64), "sum")


def test_fill_diagonal():
    for shape, wrap in [((3, 3), False), ((7, 3), True), ((7, 3), False), ((2, 2, 2), False)]:
        g, t = gg.zeros(*shape), torch.zeros(*shape)
        g.fill_diagonal_(2.5, wrap)
        t.fill_diagonal_(2.5, wrap)
        _same(g, t)
    with pytest.raises(ValueError, match="fill_diagonal_"):
        gg.zeros(2, 3, 4).fill_diagonal_(1.0)


def test_counting():
    a = np.array([0.5, 1.5, 1.5, 2.2, -3.0, 9.0], dtype=np.float32)
    _same(gg.tensor(a).histc(4, 0, 3), torch.tensor(a).histc(4, 0, 3))
    _same(gg.histc(gg.tensor(a), bins=5), torch.histc(torch.tensor(a), bins=5))
    _same(gg.tensor([1.0, 1.0]).histc(4), torch.tensor([1.0, 1.0]).histc(4))
    b = np.array([0, 3, 3, 1, 7])
    _same(gg.tensor(b).bincount(), torch.tensor(b).bincount())
    _same(gg.bincount(gg.tensor(b), minlength=10), torch.bincount(torch.tensor(b), minlength=10))
    w = np.linspace(0, 1, 5).astype(np.float32)
    _same(gg.tensor(b).bincount(gg.tensor(w)), torch.tensor(b).bincount(torch.tensor(w)))
    with pytest.raises(ValueError, match="bincount"):
        gg.tensor([-1, 2]).bincount()
    c = np.array([3, 1, 1, 2, 2, 2, 3, 1])
    for kw in ({}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True}):
        r, rt = gg.tensor(c).unique_consecutive(**kw), torch.tensor(c).unique_consecutive(**kw)
        for u, v in zip(r if isinstance(r, tuple) else (r,), rt if isinstance(rt, tuple) else (rt,)):
            _same(u, v)
        r, rt = gg.unique(gg.tensor(c), **kw), torch.unique(torch.tensor(c), **kw)
        for u, v in zip(r if isinstance(r, tuple) else (r,), rt if isinstance(rt, tuple) else (rt,)):
            _same(u, v)
    m = np.array([[1, 2], [1, 2], [3, 4], [1, 2]])
    for u, v in zip(gg.tensor(m).unique_consecutive(return_counts=True, dim=0),
                    torch.tensor(m).unique_consecutive(return_counts=True, dim=0)):
        _same(u, v)
    s = np.array([1.0, 3.0, 5.0, 7.0])
    v = np.array([[0.0, 3.0, 6.0], [7.0, 8.0, 1.0]])
    for right in (False, True):
        _same(gg.bucketize(gg.tensor(v), gg.tensor(s), right=right),
              torch.bucketize(torch.tensor(v), torch.tensor(s), right=right))
        _same(gg.searchsorted(gg.tensor(s), gg.tensor(v), right=right),
              torch.searchsorted(torch.tensor(s), torch.tensor(v), right=right))
    s2 = np.sort(np.random.default_rng(0).standard_normal((2, 5)), 1)
    _same(gg.searchsorted(gg.tensor(s2), gg.tensor(v), side="right", out_int32=True),
          torch.searchsorted(torch.tensor(s2), torch.tensor(v), side="right", out_int32=True))
    _same(gg.isin(gg.tensor(c), gg.tensor([1, 3])), torch.isin(torch.tensor(c), torch.tensor([1, 3])))
    _same(gg.isin(gg.tensor(c), gg.tensor([1, 3]), invert=True),
          torch.isin(torch.tensor(c), torch.tensor([1, 3]), invert=True))


def test_stacking_functions():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    m = rng.standard_normal((2, 3))
    for name in ("hstack", "vstack", "dstack", "column_stack", "row_stack"):
        for args in ([a, b], [m, m], [a, m] if name in ("vstack", "row_stack") else [a, b]):
            check_op(lambda *xs: getattr(gg, name)(list(xs)), inputs=args,  # noqa: B023 - called within the loop
                     torch_fn=lambda *xs: getattr(torch, name)(list(xs)))  # noqa: B023 - called within the loop
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for shape in [(), (3,), (2, 3), (2, 3, 4)]:
            x = np.ones(shape)
            _same(getattr(gg, name)(gg.tensor(x)), getattr(torch, name)(torch.tensor(x)))
        r = getattr(gg, name)(gg.tensor(1.0), gg.ones(2))
        assert isinstance(r, tuple) and len(r) == 2
    check_op(lambda x, y: gg.broadcast_tensors(x, y), shapes=[(3, 1), (4,)],
             torch_fn=lambda x, y: torch.broadcast_tensors(x, y))
    assert gg.broadcast_shapes((3, 1), (4,)) == tuple(torch.broadcast_shapes((3, 1), (4,)))


@pytest.mark.parametrize("dims,shapes", [
    (2, [(2, 3, 4), (3, 4, 5)]), (1, [(3, 4), (4, 2)]), (0, [(2,), (3,)]),
    (([1, 0], [0, 2]), [(3, 4, 2), (4, 5, 3)]),
])
def test_tensordot(dims, shapes):
    check_op(lambda a, b: gg.tensordot(a, b, dims), shapes=shapes,
             torch_fn=lambda a, b: torch.tensordot(a, b, dims))


def test_block_diag_cartesian_combinations():
    check_op(lambda a, b, c: gg.block_diag(a, b, c), shapes=[(2, 2), (1, 3), (2,)],
             torch_fn=lambda a, b, c: torch.block_diag(a, b, c))
    check_op(lambda a, b: gg.cartesian_prod(a, b), shapes=[(3,), (2,)],
             torch_fn=lambda a, b: torch.cartesian_prod(a, b))
    for r, rep in [(2, False), (3, False), (2, True)]:
        check_op(lambda a: gg.combinations(a, r, rep), shapes=[(4,)],  # noqa: B023 - called within the loop
                 torch_fn=lambda a: torch.combinations(a, r, rep))  # noqa: B023 - called within the loop
    _same(gg.combinations(gg.tensor([1, 2]), 3), torch.combinations(torch.tensor([1, 2]), 3))
    for args in [(3, 3), (4, 2, 1), (2, 5, -1)]:
        _same(gg.tril_indices(*args), torch.tril_indices(*args))
        _same(gg.triu_indices(*args), torch.triu_indices(*args))


def test_misc_functions():
    # (torch.vander's own backward fails an in-place check: compare with linalg.vander)
    check_op(lambda x: gg.vander(x, 4), shapes=[(3,)],
             torch_fn=lambda x: torch.linalg.vander(x, N=4).flip(-1))
    check_op(lambda x: gg.vander(x, increasing=True), shapes=[(3,)],
             torch_fn=lambda x: torch.linalg.vander(x))
    check_op(lambda y: gg.trapezoid(y), shapes=[(3, 5)], torch_fn=lambda y: torch.trapezoid(y))
    check_op(lambda y, x: gg.trapezoid(y, x), shapes=[(3, 5), (5,)],
             torch_fn=lambda y, x: torch.trapezoid(y, x))
    check_op(lambda y: gg.cumulative_trapezoid(y, dx=0.5, dim=0), shapes=[(4, 2)],
             torch_fn=lambda y: torch.cumulative_trapezoid(y, dx=0.5, dim=0))
    check_op(lambda a, b, c: gg.chain_matmul(a, b, c), shapes=[(2, 3), (3, 4), (4, 2)],
             torch_fn=lambda a, b, c: torch.linalg.multi_dot([a, b, c]))
    for u, v in zip(gg.unravel_index(gg.tensor([5, 7]), (2, 4)),
                    torch.unravel_index(torch.tensor([5, 7]), (2, 4))):
        _same(u, v)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce(reduce, include_self):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 3))
    idx = np.array([0, 2, 0])
    check_op(lambda x, s: x.index_reduce(1, gg.tensor(np.array([1, 1, 0, 2, 1])), s, reduce,
                                         include_self=include_self),
             inputs=[x, rng.standard_normal((4, 5))],
             torch_fn=lambda x, s: x.index_reduce(1, torch.tensor([1, 1, 0, 2, 1]), s, reduce,
                                                  include_self=include_self))
    check_op(lambda x, s: gg.index_reduce(x, 0, gg.tensor(idx), s, reduce,
                                          include_self=include_self),
             inputs=[x, rng.standard_normal((3, 3))],
             torch_fn=lambda x, s: torch.index_reduce(x, 0, torch.tensor(idx), s, reduce,
                                                      include_self=include_self))
    g, t = gg.zeros(4, 3), torch.zeros(4, 3)
    g.index_reduce_(0, gg.tensor(idx), gg.ones(3, 3) * 2, reduce, include_self=include_self)
    t.index_reduce_(0, torch.tensor(idx), torch.ones(3, 3) * 2, reduce, include_self=include_self)
    _same(g, t)


def test_put_renorm_inplace_prelu():
    check_op(lambda x, s: x.put(gg.tensor(np.array([0, 5, 2])), s), shapes=[(2, 3), (3,)],
             torch_fn=lambda x, s: x.put(torch.tensor([0, 5, 2]), s))
    check_op(lambda x, s: gg.put(x, gg.tensor(np.array([0, 0, 2])), s, accumulate=True),
             shapes=[(2, 3), (3,)],
             torch_fn=lambda x, s: torch.put(x, torch.tensor([0, 0, 2]), s, accumulate=True))
    g, t = gg.tensor(np.arange(6.0).reshape(2, 3)), torch.arange(6.0, dtype=torch.float64).reshape(2, 3)
    g.renorm_(2, 0, 1.5)
    t.renorm_(2, 0, 1.5)
    _same(g, t)
    check_op(lambda x, w: x.prelu(w), shapes=[(2, 3, 4), (3,)])
    check_op(lambda x, w: gg.prelu(x, w), shapes=[(5,), (1,)],
             torch_fn=lambda x, w: torch.prelu(x, w))
    with pytest.raises(ValueError, match="prelu"):
        gg.ones(2, 3).prelu(gg.ones(2))


def test_histogram_nonzero_static_new_empty_strided():
    a = np.array([1.0, 2.0, 1.0, 0.5, 3.0], dtype=np.float32)
    for kw in ({"bins": 4}, {"bins": 3, "range": (0.0, 2.0)}, {"bins": 4, "density": True}):
        for u, v in zip(gg.tensor(a).histogram(**kw), torch.tensor(a).histogram(**kw)):
            _same(u, v, rtol=1e-6)
    e = np.array([0.0, 1.5, 4.0], dtype=np.float32)
    for u, v in zip(gg.histogram(gg.tensor(a), gg.tensor(e), weight=gg.tensor(a)),
                    torch.histogram(torch.tensor(a), torch.tensor(e), weight=torch.tensor(a))):
        _same(u, v)
    m = np.array([[0, 1], [2, 0.0]])
    for size in (1, 2, 4):
        _same(gg.tensor(m).nonzero_static(size=size),
              torch.tensor(m).nonzero_static(size=size))
    _same(gg.nonzero_static(gg.tensor(m), size=3, fill_value=9),
          torch.nonzero_static(torch.tensor(m), size=3, fill_value=9))
    n = gg.ones(2, dtype=gg.float64).new_empty_strided((2, 3), (3, 1))
    assert n.shape == (2, 3) and n.dtype == gg.float64


def test_multinomial():
    gg.manual_seed(0)
    w = gg.tensor([[0.0, 1.0, 3.0], [1.0, 1.0, 0.0]])
    s = w.multinomial(2)
    assert s.shape == (2, 2) and s.dtype == gg.int64
    for row, ws in zip(s.tolist(), w.tolist()):
        assert len(set(row)) == 2 and all(ws[i] > 0 for i in row)
    r = gg.multinomial(gg.tensor([0.2, 0.8]), 4000, replacement=True)
    frac = float((r == 1).float().mean())
    assert 0.76 < frac < 0.84
    # as PyTorch: zero-weight categories come last when more draws are asked for
    assert gg.tensor([1.0, 0.0]).multinomial(2).tolist() == [0, 1]
    with pytest.raises(ValueError, match="multinomial"):
        gg.tensor([-1.0, 2.0]).multinomial(1)
    g1, g2 = gg.Generator(5), gg.Generator(5)
    assert w.multinomial(2, generator=g1).tolist() == w.multinomial(2, generator=g2).tolist()
