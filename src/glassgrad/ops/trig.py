"""Trigonometric and hyperbolic functions: ``sin``, ``cos``, ``tan``, ``asin``, ``acos``,
``atan``, ``atan2``, ``hypot``, ``sinh``, ``cosh``, ``tanh`` (the inverse hyperbolic
functions are in ``extra.py``).

Elementwise like the ops of ``elementwise.py``: ``dL/dx = dL/dz ⊙ f'(x)``. The functions
of one input are rows of a table (:func:`~glassgrad.ops._unary.unary`), the binary ones
(``hypot`` a row of :func:`~glassgrad.ops._unary.binary`; ``atan2``, whose two
gradients share ``a² + b²``, a class) sum each input's gradient back to its own shape.

Derivations: ``docs/derivations/elementwise.md#pointwise-functions``.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp_of
from . import _dual as D
from ._unary import binary, unary
from ._util import unbroadcast
from .elementwise import _ARITH, _need

_PW = "docs/derivations/elementwise.md#pointwise-functions"

# one row per function (see ``_unary.py``): name, f, vjp(g, x | z), glass-box text, derivation
Sin = unary("Sin", "sin", lambda g, x: g * D.cos(x), "dX = dZ ⊙ cos X", _PW)
Cos = unary("Cos", "cos", lambda g, x: -g * D.sin(x), "dX = −dZ ⊙ sin X", _PW)
Tan = unary("Tan", "tan", lambda g, z: g * (1 + z * z), "dX = dZ ⊙ (1 + Z²)", _PW)
Sinh = unary("Sinh", "sinh", lambda g, x: g * D.cosh(x), "dX = dZ ⊙ cosh X", _PW)
Cosh = unary("Cosh", "cosh", lambda g, x: g * D.sinh(x), "dX = dZ ⊙ sinh X", _PW)
Tanh = unary("Tanh", "tanh", lambda g, z: g * (1 - z * z), "dX = dZ ⊙ (1 − Z²)", _PW)
# inverse functions: arcsin, arccos for x in [−1, 1] (±inf gradient at ±1)
Asin = unary("Asin", "arcsin", lambda g, x: g / D.sqrt(1 - x * x), "dX = dZ / √(1 − X²)", _PW,
             ignore=("divide",))
Acos = unary("Acos", "arccos", lambda g, x: -g / D.sqrt(1 - x * x), "dX = −dZ / √(1 − X²)", _PW,
             ignore=("divide",))
Atan = unary("Atan", "arctan", lambda g, x: g / (1 + x * x), "dX = dZ / (1 + X²)", _PW)


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
    fresh_grads = True

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
            unbroadcast(g * b / r2, ctx.input_shape(0)) if _need(ctx, 0) else None,
            unbroadcast(-g * a / r2, ctx.input_shape(1)) if _need(ctx, 1) else None,
        )


# a function of two inputs as a row (see ``binary`` in ``_unary.py``): name, f, vjp of a,
# vjp of b (g, a, b, z: before the sum back to each input's shape), their texts,
# derivation, docstring
Hypot = binary("Hypot", "hypot", lambda g, a, b, z: g * a / z, lambda g, a, b, z: g * b / z,
               "dA = unbroadcast(dZ ⊙ A / Z, A.shape)", "dB = unbroadcast(dZ ⊙ B / Z, B.shape)", _ARITH,
               "``z = √(a² + b²)`` without overflow.")
