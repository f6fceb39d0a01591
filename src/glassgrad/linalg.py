"""``gg.linalg``: inverse, determinant, log-determinant and linear solves, PyTorch style.

Each is one op in ``glassgrad/ops/linalg.py`` with its backward derived there and in
``docs/derivations/linalg.md`` (section "Inverse, determinant and solve"). All take a
matrix or a batch of matrices ``(..., n, n)``.
"""

from __future__ import annotations

from typing import Any

from .ops import linalg as _L
from .tensor import Tensor

__all__ = ["inv", "det", "slogdet", "solve"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def inv(A: Any) -> Tensor:
    """``A⁻¹``; a singular matrix raises a ValueError naming the shape."""
    return _t(A).inverse()


def det(A: Any) -> Tensor:
    """``det A``; its gradient is the cofactor matrix (exact also for singular ``A``)."""
    return _t(A).det()


def slogdet(A: Any) -> Any:
    """``(sign, logabsdet)``, with ``det A = sign·exp(logabsdet)`` (no overflow)."""
    return _t(A).slogdet()


def solve(A: Any, B: Any) -> Tensor:
    """``X`` with ``A·X = B``; ``B``: ``(..., n, k)`` or ``(..., n)`` (vectors). Batch axes
    broadcast. Cheaper and more accurate than ``inv(A) @ B``."""
    a, b = _t(A)._f(), _t(B)._f()
    if a.dtype != b.dtype:
        from .ops._util import op_error

        raise op_error("solve", f"A ({a.dtype}) and B ({b.dtype}) must have the same dtype",
                       TypeError)
    return _L.Solve.apply(a, b)
