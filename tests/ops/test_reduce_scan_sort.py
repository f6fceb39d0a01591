"""cumsum, cumprod, prod, sort/argsort, topk, tril/triu: values and gradients equal
PyTorch's and central finite differences (oracle), double backward, edge shapes (0-d,
size-1 axes, empty), zeros in products, NaN and ties in sorting, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_double_backward, check_op, rand_inputs

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------------------- scans
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -2),
                                       ((1, 4), 0), ((3, 1), 1)])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_scans_match_torch(op, shape, dim):
    check_op(lambda x: getattr(x, op)(dim), shapes=[shape])


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_prod_matches_torch(dim, keepdim):
    if dim is None:
        check_op(lambda x: x.prod(), shapes=[(3, 4)])
    else:
        check_op(lambda x: x.prod(dim, keepdim), shapes=[(3, 4)])


@pytest.mark.parametrize("zeros", [[(1, 2)], [(0, 0), (2, 3)], [(1, 0), (1, 3)], [(0, 0), (0, 1), (2, 2)]])
@pytest.mark.parametrize("op", ["prod0", "prod1", "prod", "cumprod0", "cumprod1"])
def test_products_with_zeros_have_exact_gradients(op, zeros):
    # one zero in a slice: only it gets a gradient; two zeros: none (no 0/0 anywhere)
    x = rand_inputs([(3, 4)], seed=2)[0]
    for i, j in zeros:
        x[i, j] = 0.0
    fns = {"prod0": lambda t: t.prod(0), "prod1": lambda t: t.prod(1), "prod": lambda t: t.prod(),
           "cumprod0": lambda t: t.cumprod(0), "cumprod1": lambda t: t.cumprod(1)}
    check_op(fns[op], inputs=[x])
    g = gg.tensor(x, requires_grad=True)
    fns[op](g).sum().backward()
    assert np.isfinite(g.grad.numpy()).all()


@pytest.mark.parametrize("fn", [lambda x: x.cumsum(1), lambda x: x.cumprod(1),
                                lambda x: x.prod(1), lambda x: x.prod()])
def test_scans_and_products_double_backward(fn):
    check_double_backward(fn, shapes=[(3, 4)])


def test_cumprod_with_zero_double_backward():
    x = rand_inputs([(2, 4)], seed=5)[0]
    x[0, 1] = 0.0
    check_double_backward(lambda t: t.cumprod(1), inputs=[x])


def test_scan_edge_shapes_and_dtypes():
    # 0-d: one element; empty: empty; integers and bools accumulate in int64
    s = gg.tensor(3.0, requires_grad=True)
    c = s.cumsum(0)
    assert c.shape == () and c.item() == 3.0
    c.backward()
    assert s.grad.item() == 1.0
    assert gg.tensor(2.0).cumprod(0).item() == 2.0
    assert gg.zeros(0, 3).cumsum(0).shape == (0, 3)
    assert gg.zeros(2, 0).prod(1).numpy().tolist() == [1.0, 1.0]
    assert gg.tensor([1, 2, 3], dtype=gg.int32).cumsum(0).dtype == gg.int64
    assert gg.tensor([True, True, False]).cumsum(0).numpy().tolist() == [1, 2, 2]
    assert gg.tensor([2, 3, 4]).prod().item() == 24
    assert gg.tensor([1.0, 2.0]).cumsum(0, dtype=gg.float64).dtype == gg.float64
    x32 = gg.ones(3, 2)
    assert x32.cumsum(0).dtype == gg.float32 and x32.prod().dtype == gg.float32
    assert gg.cumsum(gg.ones(3), 0).numpy().tolist() == [1.0, 2.0, 3.0]
    assert gg.prod(gg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1).numpy().tolist() == [2.0, 12.0]


def test_scan_errors_are_clear():
    with pytest.raises(TypeError, match=r"cumsum: needs a dim"):
        gg.ones(3).cumsum()
    with pytest.raises(IndexError, match="cumprod"):
        gg.ones(3).cumprod(2)
    with pytest.raises(TypeError, match="prod: dim must be one int"):
        gg.ones(3, 2).prod((0, 1))


# ---------------------------------------------------------------------------- sorting
@pytest.mark.parametrize("shape,dim", [((6,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1)])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_torch(shape, dim, descending):
    check_op(lambda x: x.sort(dim, descending), shapes=[shape],
             torch_fn=lambda x: tuple(torch.sort(x, stable=True, dim=dim, descending=descending)))


def test_sort_ties_are_stable_and_nan_is_largest_like_torch():
    x = np.array([[2.0, 1.0, 2.0, np.nan, 1.0, 3.0, np.nan]])
    for desc in (False, True):
        v, i = gg.tensor(x).sort(1, desc)
        tv, ti = torch.sort(torch.tensor(x), stable=True, dim=1, descending=desc)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(gg.tensor(x).argsort(1, desc).numpy(), ti.numpy())
    ints = np.array([3, 1, 3, 2, 1], dtype=np.int64)
    for desc in (False, True):
        v, i = gg.tensor(ints).sort(descending=desc)
        tv, ti = torch.sort(torch.tensor(ints), stable=True, descending=desc)
        assert v.dtype == gg.int64
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.numpy())


def test_sort_gradient_is_the_inverse_permutation():
    x = gg.tensor([3.0, 1.0, 2.0], requires_grad=True)
    v, i = x.sort()
    (v * gg.tensor([10.0, 20.0, 30.0])).sum().backward()
    assert x.grad.numpy().tolist() == [30.0, 10.0, 20.0]
    assert i.dtype == gg.int64 and not i.requires_grad
    assert v.grad_fn.name() == "SortBackward"


@pytest.mark.parametrize("k,dim,largest", [(1, 1, True), (3, 1, True), (2, 0, False),
                                           (5, -1, False), (0, 1, True)])
def test_topk_matches_torch(k, dim, largest):
    check_op(lambda x: x.topk(k, dim, largest), shapes=[(3, 5)],
             torch_fn=lambda x: tuple(torch.topk(x, k, dim, largest)))


def test_sort_and_topk_double_backward():
    check_double_backward(lambda x: x.sort(1, True)[0] * x.sort(1)[0], shapes=[(3, 4)])
    check_double_backward(lambda x: x.topk(2, 1)[0] ** 2, shapes=[(3, 4)])


def test_sort_topk_edge_shapes_and_errors():
    s = gg.tensor(2.0, requires_grad=True)
    v, i = s.sort()
    assert v.shape == () and i.item() == 0
    tv, ti = s.topk(1)
    assert tv.shape == () and tv.item() == 2.0 and ti.item() == 0
    e, ei = gg.zeros(0, 3).sort(0)
    assert e.shape == (0, 3) and ei.shape == (0, 3)
    assert gg.zeros(0, 3).topk(0, 0).values.shape == (0, 3)
    assert gg.argsort(gg.tensor([3, 1, 2])).numpy().tolist() == [1, 2, 0]
    r = gg.topk(gg.tensor([1.0, 5.0, 3.0]), 2)
    assert r.values.numpy().tolist() == [5.0, 3.0] and r.indices.numpy().tolist() == [1, 2]
    with pytest.raises(IndexError, match=r"topk: k=4 is out of range for dim 0 of size 3"):
        gg.ones(3).topk(4)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        gg.ones(3).topk(1.5)
    with pytest.raises(IndexError, match="sort"):
        gg.ones(3).sort(1)


# ---------------------------------------------------------------------------- tril / triu
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (2, 3, 4), (1, 1)])
@pytest.mark.parametrize("k", [0, 1, -1, 3, -4])
@pytest.mark.parametrize("op", ["tril", "triu"])
def test_tril_triu_match_torch(op, shape, k):
    check_op(lambda x: getattr(x, op)(k), shapes=[shape])


def test_tril_triu_double_backward_edges_and_errors():
    check_double_backward(lambda x: x.tril(0) * x.triu(-1), shapes=[(3, 3)])
    assert gg.zeros(0, 3).tril().shape == (0, 3)
    assert gg.tril(gg.ones(2, 2)).numpy().tolist() == [[1.0, 0.0], [1.0, 1.0]]
    assert gg.ones(3, 3, dtype=gg.int64).triu(1).dtype == gg.int64
    with pytest.raises(ValueError, match=r"tril: expected a tensor of at least 2 dimensions"):
        gg.ones(3).tril()
