"""Special functions: ``lgamma``, ``digamma``, ``polygamma``, ``erfinv``, ``erfc``, ``i0``
(and ``i1``, the derivative of ``i0``).

NumPy has none of these except ``i0``, and SciPy is not a dependency, so the values are
computed here in float64 from standard formulas and cast back to the input's dtype:

* ``lgamma``, ``erfc``: the C library's, through Python's :mod:`math`, elementwise;
* ``digamma``: the recurrence ``ψ(x) = ψ(x + 1) − 1/x`` up to ``x ≥ 10``, then the
  asymptotic series ``ln x − 1/(2x) − Σ B₂ₖ/(2k x²ᵏ)``; reflection
  ``ψ(x) = ψ(1 − x) − π/tan(πx)`` for ``x < 0``;
* ``polygamma(n, x) = (−1)ⁿ⁺¹ n! ζ(n + 1, x)`` with the Hurwitz zeta function summed
  directly up to ``x + N ≥ 25`` and finished with the Euler–Maclaurin tail;
* ``erfinv``: a single-precision polynomial start refined by Halley steps on ``erf``
  (``erfc`` for ``|x| > ½``, where ``1 − |x|`` is exact);
* ``i1``: its power series ``Σ (x/2)²ᵏ⁺¹ / (k!(k+1)!)`` (all terms of one sign).

The ops of one input are rows of the table of :func:`~glassgrad.ops._unary.unary`
(``polygamma``, with its order ``n``, is a class). Every backward is written with these same
ops (:func:`~glassgrad.ops._dual.call` applies the op to a Tensor under
``create_graph=True``), so second derivatives work.
Derivations: ``docs/derivations/special.md``.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Function
from ..backend import np, to_numpy, xp_of
from . import _dual as D
from ._unary import unary

_SQRT_PI = math.sqrt(math.pi)
# Bernoulli numbers B_2, B_4, ..., B_20
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
        43867 / 798, -174611 / 330)


def _as64(x: Any) -> np.ndarray:
    return np.asarray(to_numpy(x), dtype=np.float64)


def _back(a: np.ndarray, like: Any) -> Any:
    xp = xp_of(like)
    out = a.astype(like.dtype, copy=False)
    return xp.asarray(out) if xp is not np else out


def _vectorize(f: Any, x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return np.empty(x.shape, dtype=np.float64)
    return np.asarray(np.frompyfunc(f, 1, 1)(x), dtype=np.float64)


def _lgamma1(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # a pole (0, -1, -2, ...): PyTorch returns +inf
        return math.inf


def lgamma_array(x: Any) -> Any:
    """``ln|Γ(x)|`` elementwise."""
    return _back(_vectorize(_lgamma1, _as64(x)), x)


def erfc_array(x: Any) -> Any:
    """``1 − erf(x)`` without cancellation for large ``x``."""
    return _back(_vectorize(math.erfc, _as64(x)), x)


def _digamma64(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        neg = x < 0
        if np.any(neg):  # reflection: ψ(x) = ψ(1 − x) − π / tan(πx)
            xn = x[neg]
            r = _digamma64(1 - xn) - math.pi / np.tan(math.pi * xn)
            r[xn == np.floor(xn)] = np.nan  # poles at the negative integers
            out[neg] = r
        pos = ~neg
        y = x[pos]
        acc = np.zeros_like(y)
        small = y < 10
        while np.any(small):
            acc[small] -= 1 / y[small]
            y = np.where(small, y + 1, y)
            small = y < 10
        inv2 = 1 / (y * y)
        series = np.zeros_like(y)
        for k in range(len(_B2K), 0, -1):
            series = series * inv2 + _B2K[k - 1] / (2 * k)
        res = np.log(y) - 0.5 / y - series * inv2 + acc
        res[x[pos] == 0] = -np.inf  # PyTorch: digamma(0) = -inf
        out[pos] = res
    return out


def digamma_array(x: Any) -> Any:
    """``ψ(x) = d ln Γ(x) / dx`` elementwise."""
    return _back(_digamma64(_as64(x)), x)


def _hurwitz_zeta64(s: int, x: np.ndarray) -> np.ndarray:
    """``ζ(s, x) = Σₖ (x + k)⁻ˢ`` for integer ``s ≥ 2``."""
    x = np.asarray(x, dtype=np.float64)
    finite = x[np.isfinite(x)]
    lo = float(finite.min()) if finite.size else 0.0
    n_direct = int(max(25, math.ceil(25 - lo)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = np.zeros_like(x)
        for k in range(n_direct):
            total += np.power(x + k, -float(s))
        a = x + n_direct
        tail = np.power(a, 1.0 - s) / (s - 1) + 0.5 * np.power(a, -float(s))
        rising = float(s)  # s (s+1) ... (s+2j-2)
        fact = 2.0  # (2j)!
        for j in range(1, len(_B2K) + 1):
            tail += _B2K[j - 1] / fact * rising * np.power(a, -float(s) - 2 * j + 1)
            rising *= (s + 2 * j - 1) * (s + 2 * j)
            fact *= (2 * j + 1) * (2 * j + 2)
        out = total + tail
        out[(x <= 0) & (x == np.floor(x))] = np.inf
    return out


def _polygamma64(n: int, x: np.ndarray) -> np.ndarray:
    if n == 0:
        return _digamma64(x)
    z = _hurwitz_zeta64(n + 1, x)
    return (-1.0) ** (n + 1) * math.factorial(n) * z


def polygamma_array(n: int, x: Any) -> Any:
    """``ψ⁽ⁿ⁾(x)``, the ``n``-th derivative of the digamma function, elementwise."""
    return _back(_polygamma64(n, _as64(x)), x)


def _erfinv64(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ax = np.abs(x)
        inside = ax < 1
        a = np.where(inside, ax, 0.0)
        # starting point: Giles' single-precision polynomial in w = −ln(1 − a²)
        w = -np.log((1 - a) * (1 + a))
        w1 = w - 2.5
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p1 = c + p1 * w1
        w2 = np.sqrt(w) - 3
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            p2 = c + p2 * w2
        y = np.where(w < 5, p1, p2) * a
        big = a > 0.5
        one_minus = 1 - a  # exact for a in [0.5, 1]
        for _ in range(6):  # Halley steps on f(y) = erf(y) − a
            r_small = _vectorize(math.erf, y) - a
            r_big = one_minus - _vectorize(math.erfc, y)
            r = np.where(big, r_big, r_small)
            d = (2 / _SQRT_PI) * np.exp(-y * y)
            y = y - r / (d + y * r)
        y = np.where(a == 0, 0.0, y)
        out = np.where(inside, np.copysign(y, x), np.nan)
        out = np.where(ax == 1, np.copysign(np.inf, x), out)
    return out


def erfinv_array(x: Any) -> Any:
    """The inverse of ``erf`` on ``(−1, 1)`` (±inf at ±1, NaN outside)."""
    return _back(_erfinv64(_as64(x)), x)


def _i1_64(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    h = x / 2
    q = h * h
    term = h.copy()
    total = term.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        k = 0
        while True:
            k += 1
            term = term * q / (k * (k + 1))
            total = total + term
            if not np.any(np.abs(term) > 1e-17 * np.abs(total)) or k > 2000:
                break
    return total


def i0_array(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 0."""
    return _back(np.i0(_as64(x)), x)


def i1_array(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 1 (``i0'``)."""
    return _back(_i1_64(_as64(x)), x)


def _polygamma(n: int, x: Any) -> Any:
    """``ψ⁽ⁿ⁾(x)`` on an array, or recorded on a Tensor (for the second derivative)."""
    return Polygamma.apply(x, n) if hasattr(x, "grad_fn") else polygamma_array(n, x)


def _erfinv_vjp(g: Any, x: Any) -> Any:
    z = D.call(Erfinv, x)
    return g * D.exp(z * z) * (_SQRT_PI / 2)


def _i1_vjp(g: Any, x: Any) -> Any:
    """``g ⊙ (I₀(x) − I₁(x)/x)``, and ``g ⊙ ½`` at ``x = 0`` (the limit)."""
    zero = D.data(x) == 0
    safe = D.where(zero, D.zeros_like(x) + 1, x)
    d = D.call(I0, x) - D.call(I1, safe) / safe
    return g * D.where(zero, D.zeros_like(x) + 0.5, d)


_SP = "docs/derivations/special.md#"

# one row per function (see ``_unary.py``): name, f, vjp(g, x), glass-box text, derivation
Lgamma = unary("Lgamma", lgamma_array, lambda g, x: g * D.call(Digamma, x), "dX = dZ ⊙ ψ(X)", _SP + "lgamma",
               "z = ln|Γ(x)|")
Digamma = unary("Digamma", digamma_array, lambda g, x: g * _polygamma(1, x), "dX = dZ ⊙ ψ⁽¹⁾(X)",
                _SP + "digamma", "z = ψ(x)")
Erfc = unary("Erfc", erfc_array, lambda g, x: g * D.exp(-(x * x)) * (-2.0 / _SQRT_PI),
             "dX = −dZ ⊙ (2/√π) e^(−X²)", _SP + "erfc", "z = erfc(x) = 1 − erf(x)")
Erfinv = unary("Erfinv", erfinv_array, _erfinv_vjp, "dX = dZ ⊙ (√π/2) e^(Z²)", _SP + "erfinv",
               "z = erfinv(x)")
I0 = unary("I0", i0_array, lambda g, x: g * D.call(I1, x), "dX = dZ ⊙ I₁(X)", _SP + "i0-and-i1", "z = I₀(x)")
I1 = unary("I1", i1_array, _i1_vjp, "dX = dZ ⊙ (I₀(X) − I₁(X)/X)", _SP + "i0-and-i1", "z = I₁(x)")


class Polygamma(Function):
    """``z = ψ⁽ⁿ⁾(x)``."""
    formulas = {"inputs": "X, n", "grads": ("dX = dZ ⊙ ψ⁽ⁿ⁺¹⁾(X)", None)}
    derivation = "docs/derivations/special.md#polygamma"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, n):
        ctx.save_for_backward(x)
        ctx.n = n
        return polygamma_array(n, x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ ψ⁽ⁿ⁺¹⁾(x)``."""
        (x,) = ctx.saved_tensors
        return g * _polygamma(ctx.n + 1, x), None
