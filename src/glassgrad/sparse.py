"""Sparse COO tensors, as far as PyTorch programs use them — stored densely.

glassgrad has no sparse storage: ``gg.sparse_coo_tensor(indices, values, size)`` builds the
dense tensor with those entries (duplicate indices add up, as PyTorch's coalescing does),
``x.to_sparse()`` and ``x.to_dense()`` return the same values, and products with them are
ordinary products. Values, shapes, dtypes and gradients are PyTorch's; memory is that of a
dense tensor, and ``is_sparse`` is False (the layout is ``strided``), so code that branches
on the layout takes the dense branch. Built from existing ops: the gradient with respect to
``values`` is the gather of the upstream gradient at ``indices``.
"""

from __future__ import annotations

import builtins
from typing import Any

from . import dtypes as _dt
from .backend import np
from .tensor import Tensor, _from_data

__all__ = ["sparse_coo_tensor", "mm", "addmm", "sum"]


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _from_data(x)


def sparse_coo_tensor(indices: Any, values: Any, size: Any = None, *, dtype: Any = None,
                      device: Any = None, requires_grad: bool = False,
                      check_invariants: bool | None = None,
                      is_coalesced: bool | None = None) -> Tensor:
    """The tensor of ``size`` holding ``values[k]`` at ``indices[:, k]`` and zeros elsewhere
    (stored densely; see the module docstring).

    Parameters
    ----------
    indices : int tensor or array of shape ``(sparse_dims, nnz)``
    values : tensor or array of shape ``(nnz, *dense_dims)``
    size : sequence of int, optional
        The shape; by default the largest index + 1 in each sparse dim, then the dense dims.
    dtype, device, requires_grad
        As PyTorch's; ``dtype`` converts the values.
    """
    idx = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu" or idx.ndim != 2:
        raise TypeError(f"sparse_coo_tensor: indices must be a 2-D integer tensor (sparse_dims, "
                        f"nnz), got {idx.dtype} of shape {idx.shape}")
    vals = _as_tensor(values)
    if dtype is not None:
        vals = vals.to(_dt.to_dtype(dtype))
    nnz = idx.shape[1]
    if vals.ndim == 0 or vals.shape[0] != nnz:
        raise ValueError(f"sparse_coo_tensor: values must have nnz = {nnz} rows (one per index "
                         f"column), got shape {tuple(vals.shape)}")
    sd = idx.shape[0]
    dense_dims = tuple(vals.shape[1:])
    if size is None:
        sparse_size = tuple(int(m) + 1 for m in idx.max(axis=1)) if nnz else (0,) * sd
        size = sparse_size + dense_dims
    size = tuple(int(s) for s in (size if not isinstance(size, int) else (size,)))
    if len(size) != sd + len(dense_dims) or size[sd:] != dense_dims:
        raise ValueError(f"sparse_coo_tensor: size {size} does not fit {sd} sparse dims and "
                         f"values of shape {tuple(vals.shape)}")
    if nnz and ((idx < 0).any() or builtins.any(int(idx[d].max()) >= size[d] for d in range(sd))):
        raise IndexError(f"sparse_coo_tensor: an index is out of range for size {size}")
    flat = np.ravel_multi_index(tuple(idx), size[:sd]) if nnz else np.zeros(0, np.int64)
    n = int(np.prod(size[:sd], dtype=np.int64))
    zeros = Tensor._make(np.zeros((n,) + dense_dims, dtype=vals.dtype), False)
    out = zeros.index_add(0, Tensor._make(flat.astype(np.int64), False), vals).reshape(size)
    if device is not None:
        out = out.to(device)
    if requires_grad:
        out = out.detach().requires_grad_(True)
    return out


def mm(mat1: Any, mat2: Any) -> Tensor:
    """``torch.sparse.mm``: the matrix product (a dense one here)."""
    return _as_tensor(mat1) @ _as_tensor(mat2)


def addmm(mat: Any, mat1: Any, mat2: Any, *, beta: float = 1.0, alpha: float = 1.0) -> Tensor:
    """``torch.sparse.addmm``: ``beta·mat + alpha·(mat1 @ mat2)``."""
    return _as_tensor(mat) * beta + (_as_tensor(mat1) @ _as_tensor(mat2)) * alpha


def sum(input: Any, dim: Any = None, dtype: Any = None) -> Tensor:  # noqa: A001
    """``torch.sparse.sum``: the sum over ``dim`` (all dims by default)."""
    x = _as_tensor(input)
    if dtype is not None:
        x = x.to(_dt.to_dtype(dtype))
    return x.sum() if dim is None else x.sum(dim)
