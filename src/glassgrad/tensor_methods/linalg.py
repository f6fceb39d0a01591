"""The linear-algebra methods of :class:`~glassgrad.tensor.Tensor` (a mixin): ``matmul``,
``mm``, ``bmm``, ``dot``, ``outer``, ``inverse``, ``det``, ``slogdet``, ``diagonal``, ``diag``,
``trace``, ``tril`` and ``triu``."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Callable

from ..backend import np
from ..ops import indexing as I
from ..ops import linalg as L
from ..ops._util import norm_dim, op_error
from ._common import SignLogAbsDet

if TYPE_CHECKING:
    from ..tensor import Tensor


def _matmul_of(op: str, nd: int, what: str) -> Callable[[Tensor, Tensor], Tensor]:
    """The method ``op(other)``: ``self @ other`` for two ``nd``-D tensors, else a ValueError
    naming ``op`` and the shapes (``mm``, ``bmm``, ``dot``)."""

    def method(self: Tensor, other: Tensor) -> Tensor:
        if self.ndim != nd or other.ndim != nd:
            raise op_error(op, f"expects {nd}-D tensors, got {tuple(self.shape)} and "
                           f"{tuple(other.shape)}")
        return self @ other

    method.__name__, method.__qualname__ = op, f"LinalgMethods.{op}"
    method.__doc__ = f"The {what} ``self @ other`` of two {nd}-D tensors."
    return method


class LinalgMethods:
    """The linalg methods of ``Tensor`` (a mixin; see the module docstring)."""

    __slots__ = ()

    def tril(self, diagonal: int = 0) -> Tensor:
        """Lower triangle of the last two dims: ``z_ij = x_ij`` if ``j − i ≤ diagonal``."""
        return I.Tri.apply(self._tri_input("tril"), int(diagonal), False)

    def triu(self, diagonal: int = 0) -> Tensor:
        """Upper triangle of the last two dims: ``z_ij = x_ij`` if ``j − i ≥ diagonal``."""
        return I.Tri.apply(self._tri_input("triu"), int(diagonal), True)

    def _tri_input(self, op: str) -> Tensor:
        if self.ndim < 2:
            raise op_error(op, f"expected a tensor of at least 2 dimensions (a matrix or a "
                           f"batch of them), got shape {tuple(self.shape)}")
        return self

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The diagonal ``x[..., i, i + offset]`` of dims ``dim1``/``dim2``, as the last
        dim (as PyTorch)."""
        d1, d2 = norm_dim(dim1, self.ndim, "diagonal"), norm_dim(dim2, self.ndim, "diagonal")
        if d1 == d2:
            raise op_error("diagonal", f"dim1 and dim2 must differ, got {dim1} and {dim2}")
        rest = [i for i in range(self.ndim) if i not in (d1, d2)]
        x = self.permute(rest + [d1, d2])
        n1, n2 = x.shape[-2], x.shape[-1]
        i = np.arange(builtins.max(0, builtins.min(n1 + builtins.min(offset, 0),
                                                  n2 - builtins.max(offset, 0))))
        r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
        r.flags.writeable = c.flags.writeable = False  # shape constants (read-only: a recorder keeps them)
        return x[(Ellipsis, r, c)]

    def trace(self) -> Tensor:
        """Sum of the main diagonal of a matrix."""
        if self.ndim != 2:
            raise op_error("trace", f"expects a matrix, got shape {tuple(self.shape)}")
        return self.diagonal().sum()

    def diag(self, diagonal: int = 0) -> Tensor:
        """1-D: the square matrix with this vector on diagonal ``diagonal``; 2-D: that
        diagonal of the matrix."""
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise op_error("diag", f"expects a vector or a matrix, got shape {tuple(self.shape)}")
        m, k = self.shape[0], builtins.abs(diagonal)
        eye = np.eye(m, dtype=self.dtype)
        eye.flags.writeable = False  # a shape constant (read-only: a recorder keeps it)
        square = self.unsqueeze(1) * eye  # gradient: the diagonal of g
        return square.pad_nd(((0, k), (k, 0)) if diagonal >= 0 else ((k, 0), (0, k)))

    # ------------------------------------------------------------------ linear algebra
    def inverse(self) -> Tensor:
        """``A⁻¹`` of a matrix or a batch ``(..., n, n)``; ``dA = −A⁻ᵀ·G·A⁻ᵀ``."""
        return L.Inv.apply(self._f())

    def det(self) -> Tensor:
        """Determinant of ``(..., n, n)``; gradient ``g·adj(A)ᵀ`` (exact also when singular)."""
        return L.Det.apply(self._f())

    def slogdet(self) -> Any:
        """``(sign, logabsdet)`` of ``(..., n, n)``: ``log|det A|`` without overflow."""
        sign, logabs = L.SLogDet.apply(self._f())
        return SignLogAbsDet(sign.detach(), logabs)

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    mm = _matmul_of("mm", 2, "matrix product")
    bmm = _matmul_of("bmm", 3, "batched matrix product")
    dot = _matmul_of("dot", 1, "inner product")

    def outer(self, other: Tensor) -> Tensor:
        return self.reshape(-1, 1) * other.reshape(1, -1)
