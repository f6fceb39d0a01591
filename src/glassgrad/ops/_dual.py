"""Math that works on arrays *and* on Tensors.

A backward formula written with these helpers (and with operators, ``.sum``,
``.reshape``, ``@``) runs on plain arrays in ordinary backward and on Tensors under
``create_graph=True``, where it is recorded and can itself be differentiated.
"""

from __future__ import annotations

from typing import Any

from ..backend import is_array, xp_of


def _arr(x: Any) -> bool:
    return is_array(x) or not hasattr(x, "grad_fn")


def _pointwise(name: str) -> Any:
    """``name(x)``: NumPy's (CuPy's) function on an array, the Tensor method on a Tensor."""

    def f(x: Any) -> Any:
        return getattr(xp_of(x), name)(x) if _arr(x) else getattr(x, name)()

    f.__name__ = f.__qualname__ = name
    return f


exp = _pointwise("exp")
log = _pointwise("log")
sqrt = _pointwise("sqrt")
sin = _pointwise("sin")
cos = _pointwise("cos")
sinh = _pointwise("sinh")
cosh = _pointwise("cosh")
tanh = _pointwise("tanh")


def call(op: Any, x: Any) -> Any:
    """The op of the table (:func:`glassgrad.ops._unary.unary`) ``op`` at ``x``: its array
    function on an array, ``op.apply`` (recorded) on a Tensor."""
    return op.fn(x) if _arr(x) else op.apply(x)


def sigmoid(x: Any) -> Any:
    if _arr(x):
        from .elementwise import _sigmoid

        return _sigmoid(x)
    return x.sigmoid()


def erf(x: Any) -> Any:
    from .elementwise import Erf

    return call(Erf, x)


def sign(x: Any) -> Any:
    """sign(x) is piecewise constant: its derivative is 0, so arrays suffice."""
    if not _arr(x):
        return x.sign()
    xp = xp_of(x)
    s = xp.sign(x)
    return xp.where(xp.isnan(x), x.dtype.type(0), s) if x.dtype.kind == "f" else s  # sign(nan) = 0


def where(c: Any, a: Any, b: Any) -> Any:
    cc = c.array if hasattr(c, "grad_fn") else c
    if _arr(a) and _arr(b):
        return xp_of(cc).where(cc, a, b)
    from .elementwise import Where

    cc = xp_of(cc).asarray(cc)
    if cc.dtype != bool:
        cc = cc.astype(bool)
    # both branches in the Tensor's dtype (a number or array becomes a constant of it)
    if _arr(a):
        b, a = b._operands(a)
        if _arr(a):
            a = b.new_full((), a)
    else:
        a, b = a._operands(b)
        if _arr(b):
            b = a.new_full((), b)
    return Where.apply(cc, a, b)


def swap_last(x: Any) -> Any:
    """Transpose of the last two axes (``x.mT``)."""
    return x.swapaxes(-1, -2)


def zeros_like(x: Any) -> Any:
    if _arr(x):
        return xp_of(x).zeros_like(x)
    return x.new_zeros(x.shape)


def expand(x: Any, shape: tuple) -> Any:
    if _arr(x):
        return xp_of(x).broadcast_to(x, shape)
    return x.expand(shape)


def data(x: Any) -> Any:
    """The array behind ``x`` (for masks and indices, which carry no gradient)."""
    return x.array if hasattr(x, "grad_fn") else x
