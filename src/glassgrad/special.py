"""``gg.special``: PyTorch's ``torch.special`` names for glassgrad's special functions.

The functions are the Tensor methods (``erfinv``, ``digamma``, ...; values and backward in
``glassgrad/ops/special.py``, derivations in ``docs/derivations/special.md``) and short
compositions of them (``ndtr``, ``ndtri``, ``log_ndtr``, ``entr``, ``xlog1py``, ...).
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

from .ops import special as _S
from .tensor import Tensor

__all__ = ["erf", "erfc", "erfinv", "erfcx", "gammaln", "digamma", "psi", "polygamma",
           "multigammaln", "i0", "i1", "sinc", "logit", "expit", "xlogy", "xlog1py", "log1p",
           "expm1", "exp2", "logsumexp", "softmax", "log_softmax", "ndtr", "ndtri",
           "log_ndtr", "entr", "round"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _method(name: str, method: str | None = None) -> Callable[[Any], Tensor]:
    """The function ``name(input)``: ``input``'s Tensor method ``method`` (default: ``name``)."""
    call = operator.methodcaller(method or name)

    def f(input: Any) -> Tensor:
        return call(_t(input))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``torch.special.{name}``: ``input.{method or name}()``."
    return f


erf = _method("erf")
erfc = _method("erfc")
erfinv = _method("erfinv")


def erfcx(input: Any) -> Tensor:
    """Scaled complementary error function ``e^(x²) erfc(x)`` (overflows for very
    negative ``x``, as the product does)."""
    x = _t(input)._f()
    return (x * x).exp() * x.erfc()


gammaln = _method("gammaln", "lgamma")
digamma = _method("digamma")
psi = digamma


def polygamma(n: int, input: Any) -> Tensor:
    return _t(input).polygamma(n)


def multigammaln(input: Any, p: int) -> Tensor:
    return _t(input).mvlgamma(p)


i0 = _method("i0")


def i1(input: Any) -> Tensor:
    """The modified Bessel function of the first kind of order 1."""
    return _S.I1.apply(_t(input)._f())


sinc = _method("sinc")


def logit(input: Any, eps: float | None = None) -> Tensor:
    return _t(input).logit(eps)


def expit(input: Any) -> Tensor:
    return _t(input)._f().sigmoid()


def xlogy(input: Any, other: Any) -> Tensor:
    return _t(input).xlogy(other)


def xlog1py(input: Any, other: Any) -> Tensor:
    """``x · log1p(y)``, 0 where ``x == 0``."""
    x = _t(input)._f()
    y = other if isinstance(other, Tensor) else x._other_t(other)
    y = y.to(x.dtype) if y.dtype.kind != "f" else y
    zero = (x == 0) & (y <= -1)
    return x * y.masked_fill(zero, 0.0).log1p()


log1p = _method("log1p")
expm1 = _method("expm1")
exp2 = _method("exp2")


def logsumexp(input: Any, dim: Any, keepdim: bool = False) -> Tensor:
    return _t(input).logsumexp(dim, keepdim)


def softmax(input: Any, dim: int, *, dtype: Any = None) -> Tensor:
    x = _t(input) if dtype is None else _t(input).to(dtype)
    return x.softmax(dim)


def log_softmax(input: Any, dim: int, *, dtype: Any = None) -> Tensor:
    x = _t(input) if dtype is None else _t(input).to(dtype)
    return x.log_softmax(dim)


def ndtr(input: Any) -> Tensor:
    """The standard normal CDF ``Φ(x) = erfc(−x/√2)/2``."""
    return (_t(input)._f() * (-1 / math.sqrt(2))).erfc() * 0.5


def ndtri(input: Any) -> Tensor:
    """The inverse of :func:`ndtr`: ``√2 · erfinv(2p − 1)``."""
    return (_t(input)._f() * 2 - 1).erfinv() * math.sqrt(2)


def log_ndtr(input: Any) -> Tensor:
    """``log Φ(x)`` (through ``erfc``, accurate for moderately negative ``x``)."""
    return ndtr(input).log()


def entr(input: Any) -> Tensor:
    """``−x ln x`` (0 at 0, ``−inf`` for ``x < 0``)."""
    x = _t(input)._f()
    neg = x < 0
    r = -x.xlogy(x.masked_fill(neg, 1.0))
    return r.masked_fill(neg, -math.inf)


def round(input: Any, *, decimals: int = 0) -> Tensor:  # noqa: A001
    return _t(input).round(decimals)
