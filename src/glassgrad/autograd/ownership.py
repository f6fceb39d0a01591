"""Who owns a gradient array: the rule the engine follows, and a mode that checks it.

The engine adds gradients in place (and makes a fresh one a leaf's ``.grad`` without a
copy) only into arrays it *owns*: ones it allocated itself (a sum of two gradients, a
cast), or ones returned by the backward of an op that declares ``fresh_grads = True``
(:attr:`glassgrad.autograd.function.Function.fresh_grads`) — unless the array is one of
the upstream gradients passed through unchanged, which the engine recognises by
identity. Everything else (the gradient the caller seeds ``backward`` with, what a
hook returned or was shown, what ``gg.grad`` hands back) is never written to.

A wrong ``fresh_grads = True`` would corrupt gradients silently, so
:func:`set_debug_ownership` (or the environment variable ``GLASSGRAD_CHECK_OWNERSHIP=1``)
makes the engine verify every declaration as the backward runs, with
``np.shares_memory`` against the upstream gradients, the op's inputs, outputs and saved
arrays, and the other gradients the same backward returned.
"""

from __future__ import annotations

from typing import Any

from ..backend import np
from .grad_mode import STATE

_ALL_TRUE = tuple((True,) * n for n in range(33))
_ALL_FALSE = tuple((False,) * n for n in range(33))


def set_debug_ownership(enabled: bool) -> None:
    """Verify every op's ``fresh_grads`` declaration during backward (slow; off by
    default). A violation raises ``RuntimeError`` naming the op."""
    STATE.check_ownership = bool(enabled)


def is_debug_ownership_enabled() -> bool:
    """Whether :func:`set_debug_ownership` is on."""
    return STATE.check_ownership


def fresh_flags(fresh: Any, n: int) -> tuple:
    """One bool per input from a ``fresh_grads`` declaration (a bool, or a tuple of bools
    that a backward set on its ctx for one call)."""
    if type(fresh) is tuple:
        return fresh + (False,) * (n - len(fresh))
    if n < 33:
        return _ALL_TRUE[n] if fresh else _ALL_FALSE[n]
    return (bool(fresh),) * n


def is_one_of(g: Any, arrays: Any) -> bool:
    """Whether ``g`` is (by identity) one of ``arrays`` (``in`` would compare arrays
    elementwise)."""
    for a in arrays:
        if a is g:
            return True
    return False


def sum_into(old: Any, owned: bool, g: Any) -> Any:
    """``old + g``, computed in place into ``old`` when the engine owns it (a writeable
    array of ``g``'s shape and dtype); the result is the engine's either way."""
    if (owned and type(old) is type(g) and hasattr(old, "flags") and old.flags.writeable
            and old.shape == g.shape and old.dtype == g.dtype):
        old += g
        return old
    return old + g


def check_fresh(node: Any, upstream: Any, returned: Any) -> None:
    """Raise if ``node``'s backward returned, for an input it declares fresh, an array
    that is not fresh (see the module docstring). ``node`` is a graph node (its saved
    arrays, ctx attributes and, when recorded in this mode, its inputs and outputs are
    compared)."""
    flags = fresh_flags(node.fresh_grads, len(returned))
    if not any(flags):
        return
    name = node.name()
    kept = [("an upstream gradient", a) for a in _arrays(upstream)]
    kept += [("an array the op saved for backward", a) for a in _arrays(node._saved or ())]
    inputs, outputs = node.__dict__.get("_checked_arrays", ((), ()))
    kept += [("an input of the op", a) for a in _arrays(inputs)]
    kept += [("an output of the op", a) for a in _arrays(outputs)]
    for k, v in node.__dict__.items():
        if k != "_checked_arrays":
            kept += [(f"ctx.{k}", a) for a in _arrays((v,))]
    mine: list = []
    for k, (g, fresh) in enumerate(zip(returned, flags)):
        if not fresh or type(g) is not np.ndarray or is_one_of(g, upstream):
            continue
        what = f"{name} declares fresh_grads, but the gradient it returned for input {k}"
        for label, a in kept + mine:
            if np.may_share_memory(g, a) and np.shares_memory(g, a):
                raise RuntimeError(
                    f"{what} shares memory with {label}: return a new array (or the upstream "
                    "gradient itself), or set fresh_grads = False on the op"
                )
        if not g.flags.writeable:
            raise RuntimeError(f"{what} is read-only (a cached or broadcast array)")
        mine.append((f"the gradient it returned for input {k}", g))


def _arrays(items: Any) -> list:
    """The NumPy arrays among ``items`` and inside the tuples, lists and dicts among them
    (two levels deep)."""
    out = []
    for x in items:
        if type(x) is np.ndarray:
            out.append(x)
        elif isinstance(x, (tuple, list)):
            out += [y for y in x if type(y) is np.ndarray]
            for y in x:
                if isinstance(y, (tuple, list)):
                    out += [z for z in y if type(z) is np.ndarray]
        elif isinstance(x, dict):
            out += [y for y in x.values() if type(y) is np.ndarray]
    return out
