"""What the update rules share, so that each optimizer's module reads as its formula.

- :func:`scalars`: a group's hyper-parameters as Python floats (a NumPy float64 scalar
  would upcast a float32 parameter under NumPy 2's promotion rules);
- :func:`zeros`: the zero-filled state arrays an optimizer starts a parameter with;
- :func:`grad_with_decay` and :func:`decayed_grad`: the gradient an update uses, with an
  L2 term or AdamW's decoupled shrinking of the weights;
- :func:`update_moments`: Adam's two running averages, and :func:`adam_moments`, the loop
  that applies the decay and those averages for each parameter of an Adam-family update;
- :func:`shared_doc`: the docstring entries optimizers share (``{params, lr, ...}``), with
  the defaults of the class's own signature.

Everything here works in place on NumPy (or CuPy) arrays, with scratch arrays given by
the caller (:meth:`Optimizer._buffers`).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterator, TypeVar

from .._docfill import fill_doc
from ..backend import np

__all__ = ["scalar", "scalars", "zeros", "grad_with_decay", "decayed_grad", "update_moments",
           "adam_moments", "shared_doc"]


def scalar(group: dict[str, Any], key: str) -> float:
    """``group[key]`` as a Python float (so that float32 arithmetic stays float32)."""
    return float(group[key])


def scalars(group: dict[str, Any], *keys: str) -> tuple[float, ...]:
    """``group[key]`` for each key, as Python floats."""
    return tuple(float(group[k]) for k in keys)


def zeros(x: Any, *names: str) -> dict[str, Any]:
    """``{name: zeros shaped like x}`` for each name: an optimizer's fresh state arrays."""
    return {name: np.zeros_like(x) for name in names}


def grad_with_decay(g: Any, x: Any, wd: float, maximize: bool, out: Any) -> Any:
    """The gradient an update uses: ``(-g if maximize else g) + wd * x``.

    Written into the scratch array ``out`` when it differs from ``g`` (the ``.grad`` array
    itself is never modified); returns ``g`` unchanged when ``wd == 0`` and not maximizing.
    """
    if wd != 0.0:
        np.multiply(x, wd, out=out)
        if maximize:
            np.subtract(out, g, out=out)
        else:
            np.add(out, g, out=out)
        return out
    if maximize:
        np.negative(g, out=out)
        return out
    return g


def decayed_grad(g: Any, x: Any, lr: float, wd: float, decoupled: bool, maximize: bool,
                 out: Any) -> Any:
    """Weight decay either way the Adam family offers it; returns the gradient to use::

        decoupled (AdamW):  x <- x * (1 - lr * wd);  g unchanged (negated if maximize)
        otherwise (L2):     g <- g + wd * x

    ``x`` is changed in place in the decoupled case; ``out`` is scratch as in
    :func:`grad_with_decay`.
    """
    g = grad_with_decay(g, x, 0.0 if decoupled else wd, maximize, out)
    if wd != 0.0 and decoupled:
        x *= 1.0 - lr * wd
    return g


def update_moments(g: Any, m: Any, v: Any, b1: float, b2: float, scratch: Any) -> None:
    """Adam's two running averages, in place (``scratch`` is overwritten)::

        m <- m + (1 - beta1) (g - m)      (= beta1 m + (1 - beta1) g, PyTorch's lerp form)
        v <- beta2 v + (1 - beta2) g^2
    """
    np.subtract(g, m, out=scratch)
    scratch *= 1.0 - b1
    m += scratch
    np.multiply(g, g, out=scratch)
    scratch *= 1.0 - b2
    v *= b2
    v += scratch


def adam_moments(opt: Any, group: dict[str, Any],
                 fused: Callable | None = None) -> Iterator[tuple[Any, Any, dict[str, Any], Any, Any]]:
    """The first half of an Adam, RAdam or NAdam update, for each parameter of ``group`` (of
    optimizer ``opt``) that has a gradient: the weight decay (:func:`decayed_grad`, L2 or
    decoupled as the group says), then the running averages ``state["exp_avg"]`` and
    ``state["exp_avg_sq"]`` (:func:`update_moments`).

    Yields ``(x, g, state, a, b)``: the parameter's array, the gradient used (held in the
    scratch array ``a`` when it differs from ``.grad``), the parameter's state, and the two
    scratch arrays; ``b`` is free for the rest of the update. ``fused(x, g, state)``, if
    given, is tried first: when it returns True it has done the parameter's whole update
    (a compiled pass) and the parameter is not yielded.
    """
    lr, wd = scalars(group, "lr", "weight_decay")
    b1, b2 = map(float, group["betas"])
    decoupled, maximize = bool(group["decoupled_weight_decay"]), bool(group["maximize"])
    for x, g, st in opt._with_grads(group):
        if fused is not None and fused(x, g, st):
            continue
        a, b = opt._buffers(x, 2)
        g = decayed_grad(g, x, lr, wd, decoupled, maximize, a)
        update_moments(g, st["exp_avg"], st["exp_avg_sq"], b1, b2, b)
        yield x, g, st, a, b


# The "Parameters" entries that read the same in every optimizer that has the option;
# ``{default}`` is filled in with the default of that argument in the class's ``__init__``.
_DOC = {
    "params": """params : iterable of Tensor or dict
    Parameters to optimize, or parameter-group dicts.""",
    "lr": """lr : float
    Learning rate (default {default}).""",
    "betas": """betas : tuple of float
    ``(beta1, beta2)``, decay rates of the running averages of the gradient and of its
    square (default {default}).""",
    "eps": """eps : float
    Added to the denominator for numerical stability (default {default}).""",
    "weight_decay": """weight_decay : float
    L2 penalty: ``weight_decay * p`` is added to the gradient (default {default}).""",
    "momentum": """momentum : float
    Momentum factor (default {default}).""",
    "amsgrad": """amsgrad : bool
    Use the maximum of all past second moments (AMSGrad, Reddi et al. 2018).""",
    "decoupled_weight_decay": """decoupled_weight_decay : bool
    Apply ``weight_decay`` AdamW-style, ``p *= 1 - lr * weight_decay``, instead of as an
    L2 term.""",
    "maximize": """maximize : bool
    Maximize the objective instead of minimizing it.""",
}

_C = TypeVar("_C", bound=type)


def _format_default(value: Any) -> str:
    """A default as the docs write it: ``1e-3`` rather than ``0.001``, ``0`` for ``0.0``."""
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_format_default, value)) + ")"
    if isinstance(value, float):
        if value != 0.0 and not 0.1 <= abs(value) < 1e4:
            mantissa, exponent = f"{value:e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        return f"{value:g}"
    return repr(value)


def shared_doc(cls: _C) -> _C:
    """Class decorator: replace each line ``{name, ...}`` of the docstring by the shared
    entries ``name``, ... (see ``_DOC``), indented as that line, with each entry's
    ``{default}`` taken from the signature of ``cls.__init__``."""
    signature = inspect.signature(cls.__init__).parameters

    def entry(name: str) -> str:
        text = _DOC[name]
        if "{default}" in text:
            text = text.replace("{default}", _format_default(signature[name].default))
        return text

    return fill_doc(entry)(cls)
