"""Trigonometric and hyperbolic functions: ``sin``, ``cos``, ``tan``, ``asin``, ``acos``,
``atan``, ``atan2``, ``hypot``, ``sinh``, ``cosh``, ``tanh`` (the inverse hyperbolic
functions are in ``extra.py``).

Elementwise like the ops of ``elementwise.py``: ``dL/dx = dL/dz ⊙ f'(x)``; the binary
ones (``atan2``, ``hypot``) sum each input's gradient back to its own shape.

Derivations: ``docs/derivations/elementwise.md#pointwise-functions``.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import np, xp_of
from . import _dual as D
from ._util import unbroadcast
from .elementwise import _need, _shape


class Sin(Function):
    """``z = sin(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = dZ ⊙ cos X",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).sin(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ cos(x)``."""
        (x,) = ctx.saved_tensors
        return g * D.cos(x)

class Cos(Function):
    """``z = cos(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = −dZ ⊙ sin X",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).cos(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = -g ⊙ sin(x)``."""
        (x,) = ctx.saved_tensors
        return -g * D.sin(x)

class Tanh(Function):
    """``z = tanh(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = dZ ⊙ (1 − Z²)",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        z = xp_of(x).tanh(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ (1 - tanh²x) = g ⊙ (1 - z²)``."""
        (z,) = ctx.saved_tensors
        return g * (1 - z * z)

class Tan(Function):
    """``z = tan(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = dZ ⊙ (1 + Z²)",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        z = xp_of(x).tan(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ (1 + tan²x) = g ⊙ (1 + z²)``."""
        (z,) = ctx.saved_tensors
        return g * (1 + z * z)

class Sinh(Function):
    """``z = sinh(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = dZ ⊙ cosh X",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).sinh(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ cosh(x)``."""
        (x,) = ctx.saved_tensors
        return g * D.cosh(x)

class Cosh(Function):
    """``z = cosh(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = dZ ⊙ sinh X",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).cosh(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ sinh(x)``."""
        (x,) = ctx.saved_tensors
        return g * D.sinh(x)

class Asin(Function):
    """``z = arcsin(x)`` for ``x`` in [−1, 1]."""
    formulas = {"inputs": "X", "grads": ("dX = dZ / √(1 − X²)",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).arcsin(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g / √(1 − x²)`` (±inf at x = ±1)."""
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return g / D.sqrt(1 - x * x)

class Acos(Function):
    """``z = arccos(x)`` for ``x`` in [−1, 1]."""
    formulas = {"inputs": "X", "grads": ("dX = −dZ / √(1 − X²)",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).arccos(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = −g / √(1 − x²)``."""
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return -g / D.sqrt(1 - x * x)

class Atan(Function):
    """``z = arctan(x)``."""
    formulas = {"inputs": "X", "grads": ("dX = dZ / (1 + X²)",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).arctan(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g / (1 + x²)``."""
        (x,) = ctx.saved_tensors
        return g / (1 + x * x)

class Atan2(Function):
    """``z = atan2(a, b)``: the angle of the point ``(b, a)`` (``a`` = y, ``b`` = x)."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = unbroadcast(dZ ⊙ B / (A² + B²), A.shape)",
            "dB = unbroadcast(−dZ ⊙ A / (A² + B²), B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp_of(a).arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        """VJP, with ``r² = a² + b²``: ``da = g ⊙ b / r²``, ``db = −g ⊙ a / r²``
        (unbroadcast to each input's shape)."""
        a, b = ctx.saved_tensors
        r2 = a * a + b * b
        return (
            unbroadcast(g * b / r2, _shape(ctx, 0)) if _need(ctx, 0) else None,
            unbroadcast(-g * a / r2, _shape(ctx, 1)) if _need(ctx, 1) else None,
        )

class Hypot(Function):
    """``z = √(a² + b²)`` without overflow."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = unbroadcast(dZ ⊙ A / Z, A.shape)",
            "dB = unbroadcast(dZ ⊙ B / Z, B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"

    @staticmethod
    def forward(ctx, a, b):
        z = xp_of(a).hypot(a, b)
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = g ⊙ a / z``, ``db = g ⊙ b / z`` (unbroadcast)."""
        a, b, z = ctx.saved_tensors
        return (
            unbroadcast(g * a / z, _shape(ctx, 0)) if _need(ctx, 0) else None,
            unbroadcast(g * b / z, _shape(ctx, 1)) if _need(ctx, 1) else None,
        )
