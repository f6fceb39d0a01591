"""Elementwise ops of one input as rows of a table: ``z = f(x)``, ``dx = g ⊙ f′(x)``.

Most pointwise functions differ only in ``f`` and ``f′``; as ``Function`` classes they
repeat the same lines (forward computes ``f(x)`` and saves something, backward multiplies
``g`` by the derivative). :func:`unary` makes that class from one row::

    Exp = unary("Exp", "exp", lambda g, z: g * z, "dX = dZ ⊙ Z", _PW)

reads: the op ``Exp`` computes ``z = exp(x)`` (``"exp"`` is the NumPy/CuPy function of
that name; any function of an array works too); given ``g = dL/dz`` its vector-Jacobian
product is ``g ⊙ z``; ``gg.trace`` prints ``dX = dZ ⊙ Z``; the derivation is the section
``_PW`` of ``docs/derivations/``.

The names of the VJP's parameters after ``g`` say what the forward keeps for it: ``x`` (the
input), ``z`` (the output), both (``g, x, z``) or nothing (``g``). Keeping the output
(``exp``, ``tanh``, ``sigmoid``) spares recomputing ``f`` in the backward.

The VJP is written with operators and the helpers of :mod:`glassgrad.ops._dual`, so it runs
on arrays in ordinary backward and on Tensors under ``create_graph=True``, where it is
itself recorded: every op of the table has a second derivative.

The generated classes are ordinary ``Function`` subclasses with the name, module,
``formulas`` and ``derivation`` a hand-written op has; ``fn`` is the array function and
``vjp`` the rule (a class attribute that every row should have goes in ``attrs`` below).
Ops with options or special numerics stay hand-written classes.

:func:`binary` does the same for a function of two inputs that broadcast, ``z = f(a, b)``
(``hypot``, ``logaddexp``): one VJP per input, of ``g``, ``a``, ``b`` and ``z``, each
summed back to its input's shape (:func:`~glassgrad.ops._util.unbroadcast`) and computed
only when that input needs a gradient.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, Callable

from ..autograd.function import Function
from ..backend import np, xp_of
from ._util import unbroadcast

__all__ = ["binary", "unary"]

_KEEPS = {("g",): "", ("g", "x"): "x", ("g", "z"): "z", ("g", "x", "z"): "xz"}


def _array_fn(forward: str | Callable) -> Callable:
    if callable(forward):
        return forward
    name = forward

    def fn(x: Any) -> Any:
        return getattr(xp_of(x), name)(x)

    fn.__name__ = fn.__qualname__ = name
    return fn


def _quiet(fn: Callable, ignore: tuple) -> Callable:
    """``fn`` with NumPy's warnings for ``ignore`` (``"divide"``, ``"invalid"``) silenced."""
    if not ignore:
        return fn
    quiet = dict.fromkeys(ignore, "ignore")

    def wrapped(*args: Any) -> Any:
        with np.errstate(**quiet):
            return fn(*args)

    return wrapped


def unary(name: str, forward: str | Callable, vjp: Callable, formula: str, derivation: str,
          doc: str | None = None, ignore: tuple = ()) -> type[Function]:
    """The ``Function`` class of the elementwise op ``z = forward(x)`` with VJP ``vjp``.

    Parameters
    ----------
    name : str
        Class name (the graph node is ``<name>Backward``).
    forward : str or callable
        The name of a NumPy function (``"exp"``; CuPy's on the GPU), or a function of the
        input array returning the output array.
    vjp : callable
        ``vjp(g[, x][, z])``: the gradient of the input from ``g = dL/dz``; the parameter
        names ``x``/``z`` choose what the forward saves (input, output).
    formula : str
        The VJP as ``gg.trace`` prints it (``"dX = dZ ⊙ Z"``).
    derivation : str
        ``docs/derivations/<chapter>.md#<anchor>``.
    doc : str, optional
        The op in one line (default ``z = <forward>(x)``).
    ignore : tuple of str
        NumPy floating-point warnings silenced in forward and backward (``"divide"``,
        ``"invalid"``), where ±inf/NaN is the expected answer (``asin'(±1)``).
    """
    params = tuple(inspect.signature(vjp).parameters)
    keeps = _KEEPS.get(params)
    if keeps is None:
        raise TypeError(f"unary {name}: the vjp's parameters must be (g), (g, x), (g, z) or "
                        f"(g, x, z), got {params}")
    fn = _quiet(_array_fn(forward), ignore)
    rule = _quiet(vjp, ignore)
    # what forward keeps for the vjp (the input, the output, both or nothing)
    if keeps == "x":
        def forward_(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return fn(x)
    elif keeps == "z":
        def forward_(ctx: Any, x: Any) -> Any:
            z = fn(x)
            ctx.save_for_backward(z)
            return z
    elif keeps == "xz":
        def forward_(ctx: Any, x: Any) -> Any:
            z = fn(x)
            ctx.save_for_backward(x, z)
            return z
    else:
        def forward_(ctx: Any, x: Any) -> Any:
            return fn(x)

    if len(keeps) == 1:
        def backward(ctx: Any, g: Any) -> Any:
            (saved,) = ctx.saved_tensors
            return rule(g, saved)
    else:
        def backward(ctx: Any, g: Any) -> Any:
            return rule(g, *ctx.saved_tensors)

    backward.__doc__ = f"VJP: ``{formula}``."
    text = doc or f"z = {getattr(forward, '__name__', forward)}(x)"
    return _op_class(name, sys._getframe(1), f"``{text}``.", {"inputs": "X", "grads": (formula,)},
                     derivation, fn, forward_, backward, vjp=staticmethod(vjp))


def _op_class(name: str, caller: Any, doc: str, formulas: dict, derivation: str, fn: Callable,
              forward: Callable, backward: Callable, **rules: Any) -> type[Function]:
    """The ``Function`` class of a row, attributed to the row's module and line (``caller``)."""
    attrs = {
        "__doc__": doc,
        "__module__": caller.f_globals["__name__"],
        "__qualname__": name,
        "__firstlineno__": caller.f_lineno,  # the row's line (as Python 3.13 sets for a class)
        "formulas": formulas,
        "derivation": derivation,
        "fn": staticmethod(fn),
        "forward": staticmethod(forward),
        "backward": staticmethod(backward),
        # g ⊙ f'(x) is a new array (Function.fresh_grads; checked by GLASSGRAD_CHECK_OWNERSHIP=1)
        "fresh_grads": True,
        **rules,
    }
    return type(name, (Function,), attrs)


def binary(name: str, forward: str, vjp_a: Callable, vjp_b: Callable, formula_a: str,
           formula_b: str, derivation: str, doc: str) -> type[Function]:
    """The ``Function`` class of the elementwise op ``z = forward(a, b)`` (``a``, ``b``
    broadcast together) with VJPs ``vjp_a``, ``vjp_b``.

    Parameters
    ----------
    name : str
        Class name (the graph node is ``<name>Backward``).
    forward : str
        The name of a NumPy function of two arrays (``"hypot"``; CuPy's on the GPU).
    vjp_a, vjp_b : callable
        ``vjp(g, a, b, z)``: the gradient of ``a`` (``b``) from ``g = dL/dz``, of ``z``'s
        shape (:func:`binary` sums it back to the input's shape); the forward keeps both
        inputs and the output for them.
    formula_a, formula_b : str
        The VJPs as ``gg.trace`` prints them (``"dA = unbroadcast(dZ ⊙ A / Z, A.shape)"``).
    derivation : str
        ``docs/derivations/<chapter>.md#<anchor>``.
    doc : str
        The class docstring (the op in one line).
    """
    for vjp in (vjp_a, vjp_b):
        params = tuple(inspect.signature(vjp).parameters)
        if params != ("g", "a", "b", "z"):
            raise TypeError(f"binary {name}: the vjps' parameters must be (g, a, b, z), got {params}")
    def fn(a: Any, b: Any) -> Any:
        return getattr(xp_of(a), forward)(a, b)

    fn.__name__ = fn.__qualname__ = forward

    def forward_(ctx: Any, a: Any, b: Any) -> Any:
        z = fn(a, b)
        ctx.save_for_backward(a, b, z)
        return z

    def backward(ctx: Any, g: Any) -> Any:
        a, b, z = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (
            unbroadcast(vjp_a(g, a, b, z), ctx.input_shape(0)) if need[0] else None,
            unbroadcast(vjp_b(g, a, b, z), ctx.input_shape(1)) if need[1] else None,
        )

    backward.__doc__ = f"VJP: ``{formula_a}``, ``{formula_b}``."
    return _op_class(name, sys._getframe(1), doc, {"inputs": "A, B", "grads": (formula_a, formula_b)},
                     derivation, fn, forward_, backward, vjp_a=staticmethod(vjp_a),
                     vjp_b=staticmethod(vjp_b))
