"""Dropout: the fused ``Dropout`` op (one mask drawn in the forward, reused by the
backward) and channel dropout ``dropout1d/2d/3d`` (one draw per channel).

``y = x ⊙ m`` with ``m = [u ≥ p] / (1 − p)``, so ``dx = dy ⊙ m``.

Derivations: ``docs/derivations/nn.md#dropout``.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Function
from ..backend import np, xp_of
from ._util import op_error
from .conv import _check_tensor, _shape

__all__ = ["dropout1d", "dropout2d", "dropout3d"]


# ---------------------------------------------------------------------------- dropout
def dropout_mask(x: Any, p: float, mask_shape: tuple | None, generator: Any) -> Any:
    """The multiplier ``m = [u ≥ p]/(1−p)`` of (inverted) dropout on ``x``, on ``x``'s
    device and in its dtype: one ``u ~ U(0, 1)`` per element (``mask_shape=None``, drawn in
    ``x``'s float dtype) or per entry of ``mask_shape`` (channel dropout: ``(N, C, 1, …)``,
    drawn in float64); zeros when ``p = 1`` (nothing drawn)."""
    from ..random import _rng

    dt = x.dtype
    if mask_shape is None:
        if p == 1.0:
            m = np.zeros(x.shape, dtype=dt)
        else:
            draw = dt if dt in (np.float32, np.float64) else np.float32
            m = (_rng(generator).random(x.shape, dtype=draw) >= p).astype(dt)
            m *= 1.0 / (1.0 - p)
    elif p == 1.0:
        m = np.zeros(mask_shape, dtype=dt)
    else:
        m = ((_rng(generator).random(mask_shape) >= p) / (1.0 - p)).astype(dt)
    return m if xp_of(x) is np else xp_of(x).asarray(m)

class Dropout(Function):
    """Inverted dropout ``y = x ⊙ m``, the mask drawn in the forward (one op, so that a
    captured function draws a new mask on every replay).

    Element dropout (``mask_shape=None``): ``m_i = [u_i ≥ p]/(1−p)``, ``u ~ U(0, 1)`` of
    ``x``'s shape (drawn in ``x``'s float dtype). Channel dropout: ``mask_shape`` is
    ``(N, C, 1, …)`` and one ``u`` per channel, broadcast over the spatial axes.
    ``p = 1`` gives a zero mask (nothing drawn). ``generator`` is a ``gg.Generator`` or
    None (the default one), looked up on every call.
    """
    formulas = {
        "inputs": "X, p, mask_shape, generator",
        "grads": (
            "dX = dY ⊙ m  (m = [u ≥ p]/(1−p), the mask the forward drew)",
            None, None, None,
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/nn.md#dropout"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, p, mask_shape=None, generator=None):
        m = dropout_mask(x, p, mask_shape, generator)
        ctx.mask = m
        return x * m

    @staticmethod
    def backward(ctx, g):
        """VJP: ``δx = δy ⊙ m`` (the same mask, broadcast like the forward)."""
        return g * ctx.mask


# =====================================================================================
# channel dropout
# =====================================================================================
def _dropout_nd(op: str, k: int, x: Any, p: float, training: bool, inplace: bool,
                generator: Any, stacklevel: int = 3) -> Any:
    """Channel dropout as PyTorch's ``dropout1d/2d/3d``, input ranks included.

    The mask has one draw per ``(N, C)`` (batched) or per ``C`` (unbatched) and is
    broadcast over the rest. Which axes are ``N`` and ``C`` depends on the rank as in
    PyTorch 2.13:

    - ``dropout1d``: ``(N, C, L)`` or unbatched ``(C, L)``; any other rank is an error.
    - ``dropout2d``: ``(N, C, H, W)``; *every* other rank is read as batched ``(N, C, …)``
      (a 3-D input as ``(N, C, L)``, not as an unbatched ``(C, H, W)``, so a 2-D input
      gets one draw per element), with PyTorch's warnings for ranks other than 4.
    - ``dropout3d``: ``(N, C, D, H, W)``; every other rank is read as unbatched
      ``(C, …)`` (one draw per slice along the first axis), warning for ranks other than
      4 and 5.
    """
    import warnings

    _check_tensor(x, "input", op)
    if not 0.0 <= p <= 1.0:
        raise op_error(op, f"dropout probability has to be between 0 and 1, got {p}")
    nd = x.ndim
    if k == 1:
        if nd not in (2, 3):
            raise op_error(op, f"Expected 2D or 3D input, but received a {nd}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 "
                           "spatial dimension, a channel dimension, and an optional batch "
                           "dimension (i.e. 2D or 3D inputs).", RuntimeError)
    elif nd not in (k + 1, k + 2):
        warnings.warn(f"{op}: Received a {nd}-D input to {op}, which is deprecated and will "
                      f"result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that {op} exists "
                      f"to provide channel-wise dropout on inputs with {k} spatial dimensions, a "
                      f"channel dimension, and an optional batch dimension (i.e. {k + 1}D or "
                      f"{k + 2}D inputs).", UserWarning, stacklevel=stacklevel)
    if k == 2 and nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch "
                      "to using dropout1d instead.", UserWarning, stacklevel=stacklevel)
    if not training or p == 0.0 or math.prod(_shape(x)) == 0:
        return x
    shape = _shape(x)
    batched = k == 2 or nd == k + 2
    full = shape if batched else (1,) + shape
    if len(full) < 2:
        raise op_error(op, "Feature dropout requires at least 2 dimensions in the input",
                       RuntimeError)
    mshape = full[:2] + (1,) * (len(full) - 2)
    if not batched:
        mshape = mshape[1:]
    if not inplace:
        return Dropout.apply(x, float(p), mshape, generator)
    return x.mul_(dropout_mask(x.array, p, mshape, generator))

def dropout1d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Any:
    """Zero whole channels of ``(N, C, L)`` (or unbatched ``(C, L)``) with probability ``p``,
    see :func:`dropout2d`; other ranks are a RuntimeError, as in PyTorch."""
    return _dropout_nd("dropout1d", 1, input, p, training, inplace, generator)

def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Any:
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p`` and scale the kept
    ones by ``1/(1 − p)`` (identity when ``training`` is False).

    As in PyTorch 2.13 a 3-D input is read as ``(N, C, L)`` (not as an unbatched
    ``(C, H, W)``) with a UserWarning, and other ranks than 3 and 4 warn that they are
    deprecated (the first two axes are still ``N`` and ``C``).

    Parameters
    ----------
    generator : glassgrad.Generator, optional
        Source of randomness (default: the global generator, see ``gg.manual_seed``).
    """
    return _dropout_nd("dropout2d", 2, input, p, training, inplace, generator)

def dropout3d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Any:
    """Zero whole channels of ``(N, C, D, H, W)`` or of an unbatched ``(C, D, H, W)``, see
    :func:`dropout2d`; other ranks warn (as PyTorch) and are read as unbatched ``(C, …)``."""
    return _dropout_nd("dropout3d", 3, input, p, training, inplace, generator)
