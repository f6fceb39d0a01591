"""Elementwise ops: arithmetic with broadcasting, and the pointwise functions.

Each op is a :class:`~glassgrad.autograd.function.Function`: ``forward`` on arrays,
``backward`` right below it. For an elementwise ``z = f(x)`` the Jacobian is diagonal,
so the vector-Jacobian product is a product of arrays: ``dL/dx = dL/dz ⊙ f'(x)``
(shape of ``x``). For binary ops with broadcasting, the gradient of each input is
summed back to its own shape (:func:`~glassgrad.ops._util.unbroadcast`).

The functions of one input without options (``exp``, ``log``, ``sqrt``, ``abs``, ``relu``,
``sigmoid``, ``erf``, ...) are one row each of the table under "pointwise": the row gives
``f``, the VJP and its text, and :func:`~glassgrad.ops._unary.unary` makes the class.
Those with options (``leaky_relu``, ``elu``, ``gelu``, ``softplus``, ``clamp``, ``log2``/
``log10``) and the binary ops are written out as classes.

Derivations: ``docs/derivations/elementwise.md``.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Function
from ..backend import np, xp_of
from . import _dual as D
from . import kernels as K
from ._unary import binary, unary
from ._util import unbroadcast


def _need(ctx: Any, i: int) -> bool:
    return ctx.needs_input_grad[i]


# ----------------------------------------------------------------------------- arithmetic
_ARITH = "docs/derivations/elementwise.md#binary-arithmetic"


class Add(Function):
    """``z = a + b``."""
    formulas = {"inputs": "A, B", "grads": ("dA = unbroadcast(dZ, A.shape)", "dB = unbroadcast(dZ, B.shape)")}
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = unbroadcast(g, a.shape)``, ``db = unbroadcast(g, b.shape)``; g: z.shape."""
        return (
            unbroadcast(g, ctx.input_shape(0)) if _need(ctx, 0) else None,
            unbroadcast(g, ctx.input_shape(1)) if _need(ctx, 1) else None,
        )


class Sub(Function):
    """``z = a - b``."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = unbroadcast(dZ, A.shape)",
            "dB = −unbroadcast(dZ, B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = unbroadcast(g)``, ``db = -unbroadcast(g)``."""
        return (
            unbroadcast(g, ctx.input_shape(0)) if _need(ctx, 0) else None,
            -unbroadcast(g, ctx.input_shape(1)) if _need(ctx, 1) else None,
        )


class RSub(Function):
    """``z = b - a`` with ``b`` a constant (for ``2 - x``)."""
    formulas = {"inputs": "A, c", "grads": ("dA = −dZ", None)}
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, b):
        return b - a

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = -g``."""
        return -g, None


class Mul(Function):
    """``z = a * b``."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = unbroadcast(dZ ⊙ B, A.shape)",
            "dB = unbroadcast(dZ ⊙ A, B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = unbroadcast(g ⊙ b)``, ``db = unbroadcast(g ⊙ a)``."""
        a, b = ctx.saved_tensors
        return (
            unbroadcast(g * b, ctx.input_shape(0)) if _need(ctx, 0) else None,
            unbroadcast(g * a, ctx.input_shape(1)) if _need(ctx, 1) else None,
        )


class Div(Function):
    """``z = a / b``."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = unbroadcast(dZ / B, A.shape)",
            "dB = unbroadcast(−dZ ⊙ A / B², B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = unbroadcast(g / b)``, ``db = unbroadcast(-g ⊙ (a / b) / b)`` (``a/b²``
        divided in two steps: ``b²`` underflows to 0 for ``|b|`` near 1e-30 in float32)."""
        a, b = ctx.saved_tensors
        return (
            unbroadcast(g / b, ctx.input_shape(0)) if _need(ctx, 0) else None,
            unbroadcast(-g * (a / b) / b, ctx.input_shape(1)) if _need(ctx, 1) else None,
        )


class RDiv(Function):
    """``z = c / a`` with ``c`` a constant (for ``1 / x``)."""
    formulas = {"inputs": "A, c", "grads": ("dA = −dZ ⊙ c / A²", None)}
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, c):
        ctx.save_for_backward(a)
        ctx.c = c
        return c / a

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = -g ⊙ (c / a) / a`` (not ``/ a²``, which underflows near 1e-30)."""
        (a,) = ctx.saved_tensors
        return -g * (ctx.c / a) / a, None


class Pow(Function):
    """``z = a ** b`` (``b`` a tensor or a constant)."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = unbroadcast(dZ ⊙ B ⊙ A^(B−1), A.shape)",
            "dB = unbroadcast(dZ ⊙ Z ⊙ log A, B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, b):
        if a.dtype.kind in "iu" and not isinstance(b, (int, float)) and b.dtype.kind in "iu" \
                and (b < 0).any():
            # integer ** negative integer tensor (PyTorch): 1 → 1, −1 → ±1, the rest → 0
            xp = xp_of(a)
            one = xp.where(b % 2 == 0, 1, -1).astype(a.dtype)
            z = xp.where(b < 0, xp.where(a == 1, 1, xp.where(a == -1, one, 0)).astype(a.dtype),
                         a ** xp.maximum(b, 0))
        else:
            z = a**b
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = unbroadcast(g ⊙ b ⊙ a^(b-1))``, ``db = unbroadcast(g ⊙ z ⊙ log a)``.

        ``db`` is taken as 0 where ``a == 0`` and ``b ≥ 0`` (PyTorch's convention, avoiding
        0·log 0; for ``b < 0`` it is ``∞·(−∞) = −∞``), and
        ``da`` as 0 where ``b == 0`` (``a⁰ = 1`` is constant, even at ``a = 0``).
        """
        a, b, z = ctx.saved_tensors
        da = db = None
        if _need(ctx, 0):
            if isinstance(b, (int, float)) and b == 0.5:  # √a: g/(2√a) (−inf at a = −0.0, as torch)
                with np.errstate(divide="ignore"):
                    da = g / (2 * z)
            elif isinstance(b, (int, float)):
                with np.errstate(divide="ignore", invalid="ignore"):
                    da = g * 0 if b == 0 else g * b * a ** (b - 1)
            else:
                b0 = D.data(b) == 0
                da = g * b * a ** (b - 1)
                if b0.any():
                    da = D.where(b0, D.zeros_like(da), da)
            da = unbroadcast(da, ctx.input_shape(0))
        if _need(ctx, 1):
            nz = D.data(a) != 0
            if not isinstance(b, (int, float)):
                nz = nz | (D.data(b) < 0)
            with np.errstate(divide="ignore"):
                logs = D.where(nz, D.log(D.where(nz, a, D.zeros_like(a) + 1)), D.zeros_like(a))
            db = unbroadcast(g * z * logs, ctx.input_shape(1))
        return da, db


class RPow(Function):
    """``z = c ** a`` with ``c`` a constant base (``2 ** x``)."""
    formulas = {"inputs": "A, c", "grads": ("dA = dZ ⊙ Z ⊙ log c", None)}
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, c):
        z = c**a
        ctx.save_for_backward(z)
        ctx.logc = math.log(c) if c > 0 else (-math.inf if c == 0 else math.nan)
        ctx.zero_base_mask = (a >= 0) if c == 0 else None
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = g ⊙ z ⊙ log c`` (0 for ``c = 0`` and ``a >= 0``, as PyTorch)."""
        (z,) = ctx.saved_tensors
        with np.errstate(invalid="ignore"):
            da = g * z * ctx.logc
        if ctx.zero_base_mask is not None:
            da = D.where(ctx.zero_base_mask, D.zeros_like(da), da)
        return da, None


class Maximum(Function):
    """``z = maximum(a, b)``; where ``a == b`` each gets half the gradient (as PyTorch)."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = unbroadcast(dZ ⊙ ([A > B] + ½[A = B]), A.shape)",
            "dB = unbroadcast(dZ ⊙ ([B > A] + ½[A = B]), B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True
    _fn, _sign = "maximum", 1  # Minimum: "minimum", -1

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return getattr(xp_of(a), ctx._fn)(a, b)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = g ⊙ (1 − [a < b] − ½[a = b])``, ``db = g ⊙ (1 − [b < a] − ½[a = b])``
        (``>`` in place of ``<`` for the minimum; where a nan is compared, both get ``g``,
        as PyTorch)."""
        return _minmax_backward(ctx, g, ctx._sign)


class Minimum(Maximum):
    """``z = minimum(a, b)``; ties split the gradient evenly (as PyTorch). Forward and
    backward are :class:`Maximum`'s with the comparisons reversed."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = unbroadcast(dZ ⊙ ([A < B] + ½[A = B]), A.shape)",
            "dB = unbroadcast(dZ ⊙ ([B < A] + ½[A = B]), B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True
    _fn, _sign = "minimum", -1


def _minmax_backward(ctx: Any, g: Any, sign: int) -> tuple:
    """Gradients of maximum (``sign = 1``) / minimum (``-1``): the loser gets 0, a tie
    splits ``g`` in halves, and an unordered pair (a nan) gives ``g`` to both."""
    a, b = ctx.saved_tensors
    ad, bd = D.data(a), D.data(b)
    lose_a, lose_b = (ad < bd, ad > bd) if sign > 0 else (ad > bd, ad < bd)
    tie = 0.5 * (ad == bd)
    return (
        unbroadcast(g * (1 - lose_a - tie).astype(g.dtype), ctx.input_shape(0)) if _need(ctx, 0) else None,
        unbroadcast(g * (1 - lose_b - tie).astype(g.dtype), ctx.input_shape(1)) if _need(ctx, 1) else None,
    )


class Where(Function):
    """``z = where(cond, a, b)``."""
    formulas = {
        "inputs": "cond, A, B",
        "grads": (
            None,
            "dA = unbroadcast(dZ ⊙ [cond], A.shape)",
            "dB = unbroadcast(dZ ⊙ [¬cond], B.shape)",
        ),
    }
    derivation = "docs/derivations/elementwise.md#where"
    fresh_grads = True

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return xp_of(cond).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``da = unbroadcast(g ⊙ [cond])``, ``db = unbroadcast(g ⊙ [¬cond])``."""
        c = ctx.cond
        zero = D.zeros_like(g)
        return (
            None,
            unbroadcast(D.where(c, g, zero), ctx.input_shape(1)) if _need(ctx, 1) else None,
            unbroadcast(D.where(c, zero, g), ctx.input_shape(2)) if _need(ctx, 2) else None,
        )


# z = log(eᵃ + eᵇ): a row of the table of functions of two inputs (see ``binary`` in ``_unary.py``)
LogAddExp = binary("LogAddExp", "logaddexp", lambda g, a, b, z: g * D.exp(a - z),
                   lambda g, a, b, z: g * D.exp(b - z), "dA = unbroadcast(dZ ⊙ exp(A − Z), A.shape)",
                   "dB = unbroadcast(dZ ⊙ exp(B − Z), B.shape)", _ARITH,
                   "``z = log(eᵃ + eᵇ)`` without overflow.")


class Fmod(Function):
    """``z = a − b·q`` with the quotient ``q`` rounded toward zero (``fmod``, the sign of
    ``a``) or toward −∞ (``remainder``, Python's ``%``, the sign of ``b``)."""
    formulas = {
        "inputs": "A, B, floor",
        "grads": (
            "dA = unbroadcast(dZ, A.shape)",
            "dB = unbroadcast(−dZ ⊙ q, B.shape), q = trunc(A/B) (remainder: floor(A/B))",
            None,
        ),
    }
    derivation = "docs/derivations/elementwise.md#binary-arithmetic"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, b, floor=False):
        xp = xp_of(a)
        ctx.save_for_backward(a, b)
        ctx.floor = floor
        return xp.remainder(a, b) if floor else xp.fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``q`` is piecewise constant, so ``da = g``, ``db = −g ⊙ q`` with
        ``q = trunc(a/b)`` (fmod) or ``floor(a/b)`` (remainder); unbroadcast."""
        a, b = ctx.saved_tensors
        ad, bd = D.data(a), D.data(b)
        xp = xp_of(ad)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = xp.floor(ad / bd) if ctx.floor else xp.trunc(ad / bd)
        return (
            unbroadcast(g, ctx.input_shape(0)) if _need(ctx, 0) else None,
            unbroadcast(-g * q.astype(ad.dtype, copy=False), ctx.input_shape(1))
            if _need(ctx, 1) else None,
            None,
        )



# ----------------------------------------------------------------------------- pointwise
def _sigmoid(x: Any) -> Any:
    """Numerically stable logistic function on an array: no overflow for large |x|."""
    xp = xp_of(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _log_sigmoid(x: Any) -> Any:
    """``log σ(x) = −softplus(−x) = −(max(−x, 0) + log1p(e^{−|x|}))`` (no overflow)."""
    xp = xp_of(x)
    return -(xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x))))


def _relu(x: Any) -> Any:
    out = K.relu(x)   # the compiled kernel when it applies (same values), else NumPy
    return xp_of(x).maximum(x, 0) if out is None else out


def _relu_grad(g: Any, z: Any) -> Any:
    """``dX = dZ ⊙ [Z > 0]`` written ``g ⊙ ¬(z ≤ 0)``: g passes where z is NaN, as PyTorch."""
    out = K.relu_grad(g, z) if type(g) is type(z) is np.ndarray else None
    return g * ~(D.data(z) <= 0) if out is None else out


def _erf(x: Any) -> Any:
    """erf on an array: SciPy's when installed, else the exact ``math.erf`` elementwise."""
    try:
        from scipy.special import erf as serf  # optional speed-up

        return serf(x).astype(x.dtype, copy=False)
    except ImportError:  # pragma: no cover - depends on the environment
        xn = np.asarray(x, dtype=np.float64)
        out = np.frompyfunc(math.erf, 1, 1)(xn).astype(x.dtype)
        return out


_PW = "docs/derivations/elementwise.md#pointwise-functions"
_LN2 = math.log(2.0)
_2_SQRT_PI = 2.0 / math.sqrt(math.pi)

# The functions of one input without options, one row each (see ``_unary.py``):
#   Name = unary("Name", f, vjp(g, x | z), glass-box text, derivation[, docstring])
# ``f`` is NumPy's function of that name or a function of the array; the vjp's parameters
# after ``g`` (``x`` the input, ``z`` the output) are what the forward keeps.
Neg = unary("Neg", "negative", lambda g: -g, "dX = −dZ", _ARITH, "z = −x")
Exp = unary("Exp", "exp", lambda g, z: g * z, "dX = dZ ⊙ Z", _PW)
Expm1 = unary("Expm1", "expm1", lambda g, z: g * (z + 1), "dX = dZ ⊙ (Z + 1)", _PW, "z = eˣ − 1")
Exp2 = unary("Exp2", "exp2", lambda g, z: g * z * _LN2, "dX = dZ ⊙ Z ⊙ ln 2", _PW, "z = 2ˣ")
Log = unary("Log", "log", lambda g, x: g / x, "dX = dZ / X", _PW)
Log1p = unary("Log1p", "log1p", lambda g, x: g / (x + 1), "dX = dZ / (1 + X)", _PW, "z = log(1 + x)")
Sqrt = unary("Sqrt", "sqrt", lambda g, z: g / (z * 2), "dX = dZ / (2Z)", _PW, "z = √x")
# |x| and relu: the gradient at 0 is 0, and g passes where x is nan (as PyTorch)
Abs = unary("Abs", "abs", lambda g, x: g * D.sign(D.data(x)), "dX = dZ ⊙ sign(X)", _PW, "z = |x|")
Relu = unary("Relu", _relu, _relu_grad, "dX = dZ ⊙ [Z > 0]", _PW, "z = max(x, 0)")
Sigmoid = unary("Sigmoid", _sigmoid, lambda g, z: g * z * (1 - z), "dX = dZ ⊙ Z ⊙ (1 − Z)", _PW,
                "z = σ(x) = 1 / (1 + e^(−x))")
LogSigmoid = unary("LogSigmoid", _log_sigmoid, lambda g, x: g * D.sigmoid(-x), "dX = dZ ⊙ σ(−X)", _PW,
                   "z = log σ(x)")
Erf = unary("Erf", _erf, lambda g, x: g * D.exp(-(x * x)) * _2_SQRT_PI, "dX = dZ ⊙ (2/√π)·e^(−X²)", _PW,
            "z = erf(x)")


# ----------------------------------------------------------------------------- with options
class LeakyRelu(Function):
    """``z = x if x > 0 else slope·x``."""
    formulas = {"inputs": "X, slope", "grads": ("dX = dZ ⊙ (1 if X > 0 else slope)", None)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return xp_of(x).where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ (1 if x > 0 else slope)``."""
        (x,) = ctx.saved_tensors
        xd = D.data(x)
        return g * xp_of(xd).where(xd > 0, 1.0, ctx.slope).astype(xd.dtype), None


class Elu(Function):
    """``z = x if x > 0 else α(eˣ - 1)``."""
    formulas = {"inputs": "X, alpha", "grads": ("dX = dZ ⊙ (1 if X > 0 else α·eˣ)", None)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        xp = xp_of(x)
        z = xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ (1 if x > 0 else α eˣ)``."""
        (x,) = ctx.saved_tensors
        xd = D.data(x)
        neg = D.exp(x) * ctx.alpha
        return D.where(xd > 0, g, g * neg), None


_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_K = math.sqrt(2.0 / math.pi)


class Gelu(Function):
    """``z = x Φ(x)`` (exact) or its tanh approximation (``approximate='tanh'``)."""
    formulas = {"inputs": "X, approximate", "grads": ("dX = dZ ⊙ (Φ(X) + X·φ(X))", None)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, approximate="none"):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        xp = xp_of(x)
        if approximate == "tanh":
            return 0.5 * x * (1 + xp.tanh(_K * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + _erf(x / _SQRT2))

    @staticmethod
    def backward(ctx, g):
        """VJP: exact ``dx = g ⊙ (Φ(x) + x φ(x))``; tanh form: the derivative of
        ``½x(1 + tanh(u))``, ``u = k(x + 0.044715x³)``:
        ``½(1 + tanh u) + ½x(1 - tanh²u)·k(1 + 3·0.044715x²)``."""
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = D.tanh((x + x * x * x * 0.044715) * _K)
            d = (t + 1) * 0.5 + x * 0.5 * (1 - t * t) * _K * (x * x * (3 * 0.044715) + 1)
            return g * d, None
        cdf = (D.erf(x * (1 / _SQRT2)) + 1) * 0.5
        pdf = D.exp(x * x * -0.5) * _INV_SQRT_2PI
        return g * (cdf + x * pdf), None


class Softplus(Function):
    """``z = (1/β) log(1 + e^(βx))``; linear (``z = x``) where ``βx > threshold``."""
    formulas = {"inputs": "X, beta, threshold", "grads": ("dX = dZ ⊙ σ(βX)", None, None)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        xp = xp_of(x)
        bx = x * beta
        z = xp.where(bx > threshold, x, xp.logaddexp(0, bx) / beta).astype(x.dtype, copy=False)
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ σ(βx)`` (and ``g`` where ``βx > threshold``)."""
        (x,) = ctx.saved_tensors
        bx = D.data(x) * ctx.beta
        return D.where(bx > ctx.threshold, g, g * D.sigmoid(x * ctx.beta)), None, None


class Clamp(Function):
    """``z = min(max(x, lo), hi)``; the gradient passes where ``lo <= x <= hi`` (as PyTorch)."""
    formulas = {"inputs": "X, lo, hi", "grads": ("dX = dZ ⊙ [lo ≤ X ≤ hi]", None, None)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return xp_of(x).clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ [lo <= x <= hi]``."""
        (x,) = ctx.saved_tensors
        xd = D.data(x)
        m = np.ones(xd.shape, dtype=bool) if xp_of(xd) is np else xp_of(xd).ones(xd.shape, bool)
        if ctx.lo is not None:
            m &= xd >= ctx.lo
        if ctx.hi is not None:
            m &= xd <= ctx.hi
        return g * m, None, None


class LogBase(Function):
    """``z = log_b(x) = ln x / ln b`` for ``b`` = 2 (``log2``) or 10 (``log10``)."""
    formulas = {"inputs": "X, base", "grads": ("dX = dZ / (X ⊙ ln base)", None)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, base):
        ctx.save_for_backward(x)
        ctx.base = base
        xp = xp_of(x)
        return xp.log2(x) if base == 2 else xp.log10(x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g / (x ln b)``."""
        (x,) = ctx.saved_tensors
        return g / (x * math.log(ctx.base)), None
