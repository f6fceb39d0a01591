"""Sparse COO tensors stored densely: the values, gradients and products of PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg

torch = pytest.importorskip("torch")


def test_sparse_coo_tensor_matches_pytorch_dense_values_and_gradients():
    idx = np.array([[0, 1, 1, 3, 1], [2, 0, 0, 1, 3]])
    vals = np.array([1.0, 2.0, 3.0, -1.0, 0.5])
    gv = gg.tensor(vals, requires_grad=True)
    tv = torch.tensor(vals, requires_grad=True)
    g = gg.sparse_coo_tensor(gg.tensor(idx), gv, (4, 4))
    t = torch.sparse_coo_tensor(torch.tensor(idx), tv, (4, 4))
    np.testing.assert_array_equal(g.detach().numpy(), t.to_dense().detach().numpy())
    w = np.arange(16.0).reshape(4, 4)
    (g * gg.tensor(w)).sum().backward()
    (t.to_dense() * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(gv.grad.numpy(), tv.grad.numpy())
    # default size, dtype= and hybrid (dense trailing dims) values
    g2 = gg.sparse_coo_tensor(idx, np.ones((5, 2)), dtype=gg.float32)
    t2 = torch.sparse_coo_tensor(torch.tensor(idx), torch.ones(5, 2), dtype=torch.float32)
    assert tuple(g2.shape) == tuple(t2.shape) and g2.dtype == gg.float32
    np.testing.assert_array_equal(g2.numpy(), t2.to_dense().numpy())


def test_the_graph_attention_example_idioms():
    # torch.diag(v).to_sparse() @ dense; torch.eye(V) + sparse_coo_tensor(..., dtype=int64)
    rng = np.random.default_rng(0)
    feats = rng.random((5, 3)).astype(np.float32)
    v = np.array([1.0, 0.0, 2.0, 0.5, 3.0], np.float32)
    edges = np.array([[0, 1], [1, 2], [3, 4], [4, 0]])
    outs = []
    for lib in (gg, torch):
        s = lib.diag(lib.tensor(v)).to_sparse()
        f = s @ lib.tensor(feats)
        adj = lib.sparse_coo_tensor(lib.tensor(edges.T), lib.ones(4), (5, 5), dtype=lib.int64)
        adj = lib.eye(5) + adj
        outs.append((f.numpy(), (adj > 0).numpy(), adj.dtype == lib.float32))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-6)
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    assert outs[0][2] == outs[1][2]


def test_sparse_methods_and_namespace():
    x = gg.tensor([[0.0, 2.0], [3.0, 0.0]])
    t = torch.tensor([[0.0, 2.0], [3.0, 0.0]]).to_sparse().coalesce()
    np.testing.assert_array_equal(x.to_sparse().indices().numpy(), t.indices().numpy())
    np.testing.assert_array_equal(x.to_sparse().values().numpy(), t.values().numpy())
    assert x.to_sparse()._nnz() == t._nnz() == 2 and x.to_dense() is x and not x.is_sparse
    np.testing.assert_array_equal(gg.sparse.mm(x, gg.eye(2)).numpy(), x.numpy())
    assert float(gg.sparse.sum(x)) == 5.0
    with pytest.raises(TypeError, match="sparse_coo_tensor: indices must be a 2-D integer"):
        gg.sparse_coo_tensor(np.array([0.5, 1.0]), np.ones(2))
    with pytest.raises(ValueError, match="values must have nnz = 2 rows"):
        gg.sparse_coo_tensor(np.array([[0, 1]]), np.ones(3))
    with pytest.raises(IndexError, match="out of range"):
        gg.sparse_coo_tensor(np.array([[0, 5]]), np.ones(2), (3,))
