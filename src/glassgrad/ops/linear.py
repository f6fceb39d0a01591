"""The fused ``Linear`` op: ``Z = X·Wᵀ + b`` as one graph node.

VJPs: ``δX = δZ·W``, ``δW = δZᵀ·X``, ``δb = Σ_rows δZ`` (any number of leading axes are
folded into the rows). Under ``create_graph=True`` the backward runs on Tensors, so double
backward works.

Derivations: ``docs/derivations/nn.md#linear`` and ``docs/derivations/fully_connected.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import np
from . import _blas
from ._util import op_error, sum_rows

__all__ = [
    "Linear",
]


# ---------------------------------------------------------------------------- linear
def _lead(shape: tuple) -> int:
    """The number of rows when the leading dims are folded (``-1`` is ambiguous when a
    dim is 0)."""
    n = 1
    for s in shape[:-1]:
        n *= s
    return n

# outputs of at least this many elements (128 KiB of float32) are computed as bias first,
# then the product added in by BLAS (_blas.linear_into): it spares the separate bias pass
# over the output and costs a ctypes call (~4 µs), so it pays from about this size (128×784
# ·784×256 plus bias, 2 threads: 437 µs as product then bias, 425 this way, the product
# alone 424; 3584×28·28×512: 1.59 against 1.45 ms). Up to _BIAS_FIRST_EXACT_K inputs per
# row OpenBLAS sums each product in one block, so the result is the same sum as
# ``x @ w.T`` then ``+= b`` bit for bit; longer rows it sums in blocks into the output,
# which then holds the bias from the start: the same to float32 rounding (as PyTorch's
# addmm, which also starts from the bias; tests/ops/test_linear.py bounds it)
_BIAS_FIRST_MIN = 1 << 15
_BIAS_FIRST_EXACT_K = 256


def _bias_first(x2: Any, w: Any, b: Any) -> Any:
    """``x2·wᵀ + b`` through :func:`._blas.linear_into` where that applies, else None."""
    if (x2.shape[0] * w.shape[0] < _BIAS_FIRST_MIN or type(x2) is not np.ndarray
            or x2.dtype != np.float32 or type(w) is not np.ndarray or type(b) is not np.ndarray
            or not (x2.flags.c_contiguous and w.flags.c_contiguous and b.flags.c_contiguous)):
        return None
    return _blas.linear_into(x2, w, b)


class Linear(Function):
    """``Z = X·Wᵀ + b`` with ``X: (..., in)``, ``W: (out, in)``, ``b: (out,)``, ``Z: (..., out)``.

    Leading dimensions of ``X`` are folded into the rows of one matrix ``X₂: (N, in)``
    (a view, no copy), so the forward is a single GEMM plus an in-place bias add (for
    large float32 outputs the other way round: the bias written first and the product
    added in by the GEMM — the same sum up to 256 inputs, the same to float32 rounding
    beyond; see :func:`_bias_first`).
    """
    formulas = {
        "inputs": "X, W, b",
        "grads": (
            "dX = dY @ W",
            "dW = dYᵀ @ X",
            "db = sum_rows(dY)",
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/nn.md#linear"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, w, b=None):
        if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
            raise op_error("linear", f"input dtype {x.dtype}, weight dtype {w.dtype}"
                           + (f" and bias dtype {b.dtype}" if b is not None else "")
                           + " must be the same (cast with .to(dtype) / model.double())",
                           TypeError)
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise op_error("linear", f"input of shape {tuple(x.shape)} does not match weight of "
                           f"shape {tuple(w.shape)}: expected input (..., {w.shape[-1]}) and "
                           "weight (out_features, in_features)")
        if b is not None and b.shape != (w.shape[0],):
            raise op_error("linear", f"bias of shape {tuple(b.shape)} does not match weight "
                           f"{tuple(w.shape)}: expected ({w.shape[0]},)")
        ctx.save_for_backward(x, w)
        x2 = x if x.ndim == 2 else x.reshape(_lead(x.shape), x.shape[-1])
        z = _bias_first(x2, w, b) if b is not None else None
        if z is None:
            z = x2 @ w.T
            if b is not None:
                z += b
        return z if x.ndim == 2 else z.reshape(x.shape[:-1] + (w.shape[0],))

    @staticmethod
    def backward(ctx, g):
        """VJP, with ``X₂: (N, in)`` and ``G₂ = δZ: (N, out)`` (leading dims folded)::

            Z_nj = Σ_i X_ni W_ji + b_j
            δX = δZ·W      (N, out)·(out, in) -> (N, in)
            δW = δZᵀ·X     (out, N)·(N, in)   -> (out, in)
            δb = Σ_n δZ_n  (out,)

        Three BLAS calls; written with ``@``/``.T``/``.sum`` so that it also runs on
        Tensors (double backward).
        """
        x, w = ctx.saved_tensors
        k, o = w.shape[1], w.shape[0]
        need = ctx.needs_input_grad
        x2 = x if x.ndim == 2 else x.reshape((_lead(x.shape), k))
        g2 = g if g.ndim == 2 else g.reshape((_lead(g.shape), o))
        dx = dw = db = None
        if need[0]:
            dx = g2 @ w
            if x.ndim != 2:
                dx = dx.reshape(ctx.input_shape(0))
        if need[1]:
            dw = g2.T @ x2
        if len(need) > 2 and need[2]:
            db = sum_rows(g2)  # ones(N)·δZ: one BLAS GEMV
        return dx, dw, db
