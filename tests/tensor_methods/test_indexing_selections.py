"""narrow, index_select, roll, diagonal/diag/trace, scatter_add/index_add, meshgrid,
cdist (written with existing ops): values and gradients equal PyTorch's and finite
differences; edge shapes; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dim,start,length", [(0, 1, 2), (1, -3, 3), (1, 0, 0), (-1, 4, 1)])
def test_narrow(dim, start, length):
    check_op(lambda x: x.narrow(dim, start, length), shapes=[(3, 5)])


@pytest.mark.parametrize("dim,index", [(0, [2, 0, 2]), (1, [4, 1]), (-1, []), (1, [4, 0])])
def test_index_select(dim, index):
    idx = np.array(index, dtype=np.int64)
    check_op(lambda x: x.index_select(dim, gg.tensor(idx)), shapes=[(3, 5)],
             torch_fn=lambda x: x.index_select(dim, torch.tensor(idx)))


@pytest.mark.parametrize("op", ["index_select", "gather", "scatter_add", "index_add"])
def test_negative_indices_are_refused_as_torch(op):
    """gather/scatter/index_select/index_add refuse negative indices (PyTorch does; x[i]
    with a negative tensor index counts from the end, as PyTorch's)."""
    x, t = gg.zeros(2, 3), torch.zeros(2, 3)
    calls = {"index_select": lambda x, T: x.index_select(1, T.tensor([-1])),
             "gather": lambda x, T: x.gather(1, T.tensor([[-1]])),
             "scatter_add": lambda x, T: x.scatter_add(1, T.tensor([[-1]]), T.ones(1, 1)),
             "index_add": lambda x, T: x.index_add(1, T.tensor([-1]), T.ones(2, 1))}
    with pytest.raises((IndexError, RuntimeError)):
        calls[op](t, torch)
    with pytest.raises(IndexError, match=rf"{op}: index -1 is out of bounds for dimension 1 "
                       "with size 3"):
        calls[op](x, gg)
    assert x[gg.tensor([-1])].shape == tuple(t[torch.tensor([-1])].shape) == (1, 3)


@pytest.mark.parametrize("shifts,dims", [(2, 1), ((1, -2), (0, 1)), (7, 0), (3, None), (0, 1)])
def test_roll(shifts, dims):
    check_op(lambda x: x.roll(shifts, dims), shapes=[(3, 5)])


@pytest.mark.parametrize("offset,d1,d2", [(0, 0, 1), (1, 0, 1), (-2, 0, 1), (1, 1, 2),
                                          (0, 2, 0), (5, 0, 1)])
def test_diagonal(offset, d1, d2):
    check_op(lambda x: x.diagonal(offset, d1, d2), shapes=[(3, 4, 4)])


@pytest.mark.parametrize("k", [0, 2, -1])
def test_diag_and_trace(k):
    check_op(lambda v: v.diag(k), shapes=[(4,)])
    check_op(lambda m: m.diag(k), shapes=[(4, 5)])
    check_op(lambda m: m.trace(), shapes=[(4, 4)])


def test_scatter_add_and_index_add():
    idx = np.array([[0, 2, 2], [1, 0, 1]])
    check_op(lambda x, s: x.scatter_add(1, gg.tensor(idx), s), shapes=[(2, 4), (2, 3)],
             torch_fn=lambda x, s: x.scatter_add(1, torch.tensor(idx), s))
    ii = np.array([0, 3, 0])
    check_op(lambda x, s: x.index_add(1, gg.tensor(ii), s, alpha=2.0), shapes=[(2, 4), (2, 3)],
             torch_fn=lambda x, s: x.index_add(1, torch.tensor(ii), s, alpha=2.0))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    check_op(lambda a, b, c: gg.meshgrid(a, b, c, indexing=indexing), shapes=[(3,), (4,), (2,)],
             torch_fn=lambda a, b, c: torch.meshgrid(a, b, c, indexing=indexing))


@pytest.mark.parametrize("p", [2.0, 1.0])
def test_cdist(p):
    check_op(lambda a, b: gg.cdist(a, b, p), shapes=[(2, 4, 3), (2, 5, 3)],
             torch_fn=lambda a, b: torch.cdist(a, b, p))
    x = gg.tensor([[0.0, 1.0]], requires_grad=True)
    gg.cdist(x, x.detach()).sum().backward()   # distance 0: gradient 0, not nan
    assert x.grad.numpy().tolist() == [[0.0, 0.0]]


def test_selection_errors_are_clear():
    with pytest.raises(IndexError, match="narrow: start 4 and length 3 do not fit dim 1 of size 5"):
        gg.ones(3, 5).narrow(1, 4, 3)
    with pytest.raises(TypeError, match="index_select: index must be a 1-D integer tensor"):
        gg.ones(3).index_select(0, gg.tensor([0.5]))
    with pytest.raises(IndexError, match="index_select: index 3 is out of bounds for dimension 0 "
                       "with size 3"):
        gg.ones(3).index_select(0, gg.tensor([3]))
    with pytest.raises(ValueError, match="roll: shifts"):
        gg.ones(3, 2).roll((1, 2), (0,))
    with pytest.raises(ValueError, match="trace: expects a matrix"):
        gg.ones(3).trace()
    with pytest.raises(ValueError, match="meshgrid: indexing"):
        gg.meshgrid(gg.ones(2), indexing="yx")


def test_index_ops_read_their_index_anew_under_capture():
    w = gg.arange(12.0).reshape(3, 4).requires_grad_()
    f = gg.capture(lambda i: (w.index_select(1, i) * 1.0).sum()
                   + w.diagonal().sum() + gg.zeros(3, 4).index_add(1, i, w[:, :2]).sum())
    g = gg.capture(lambda i, s: gg.zeros(3, 4).scatter_add(1, i, s) * 1.0)
    for idx in ([0, 1], [3, 3], [2, 0]):
        it = gg.tensor(idx)
        ref = (w.index_select(1, it) * 1.0).sum() + w.diagonal().sum() + gg.zeros(3, 4).index_add(
            1, it, w[:, :2]).sum()
        assert f(it).item() == ref.item()
        si = gg.tensor([idx, idx, idx])
        src = gg.ones(3, 2)
        np.testing.assert_array_equal(g(si, src).numpy(),
                                      gg.zeros(3, 4).scatter_add(1, si, src).numpy())
    assert f.records == 1 and g.records == 1
