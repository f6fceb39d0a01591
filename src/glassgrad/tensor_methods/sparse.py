"""The sparse-layout methods of :class:`~glassgrad.Tensor` (``to_sparse``, ``to_dense``,
``indices``, ``values``, ...), for a tensor stored densely: see :mod:`glassgrad.sparse`."""

from __future__ import annotations

import builtins
from typing import Any

from ..backend import np

__all__ = ["SparseMethods"]


class SparseMethods:
    """The sparse-layout methods of :class:`~glassgrad.Tensor` (a mixin; dense storage)."""

    __slots__ = ()

    def to_sparse(self, sparse_dim: int | None = None, **kwargs: Any) -> Any:
        """The same values (glassgrad stores sparse tensors densely: this is ``self``)."""
        return self

    to_sparse_coo = to_sparse

    def to_dense(self, dtype: Any = None, **kwargs: Any) -> Any:
        return self if dtype is None else self.to(dtype)  # type: ignore[attr-defined]

    def coalesce(self) -> Any:
        return self

    def is_coalesced(self) -> builtins.bool:
        return True

    def _nnz(self) -> int:
        return int(np.count_nonzero(self.array))  # type: ignore[attr-defined]

    def indices(self) -> Any:
        """The ``(ndim, nnz)`` indices of the nonzero entries, as a sparse tensor's."""
        from ..tensor import Tensor

        return Tensor._make(np.argwhere(self.array).T.astype(np.int64), False)  # type: ignore

    _indices = indices

    def values(self) -> Any:
        """The nonzero entries, in :meth:`indices` order (differentiable)."""
        from ..tensor import Tensor

        return self[tuple(Tensor._make(i, False)  # type: ignore[index]
                          for i in np.nonzero(self.array))]  # type: ignore[attr-defined]

    _values = values

    @property
    def is_sparse(self) -> builtins.bool:
        """False: glassgrad stores every tensor densely (see :mod:`glassgrad.sparse`)."""
        return False
