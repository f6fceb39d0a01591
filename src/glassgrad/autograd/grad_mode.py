"""Global autograd switches: grad mode, anomaly mode, and the module scope used by traces.

``no_grad`` / ``enable_grad`` / ``set_grad_enabled`` work as context managers and as
decorators, like PyTorch's.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable


class _State:
    """Process-wide autograd flags (read on every op, so kept as plain attributes)."""

    __slots__ = ("grad_enabled", "anomaly", "anomaly_check_nan", "scope", "observers", "seq",
                 "recorder", "check_ownership", "batching")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.anomaly_check_nan = True
        self.scope: Any = None  # name of the nn.Module being called, for traces
        self.observers: list = []  # callables told about every node the backward runs
        self.seq = 0  # creation counter of graph nodes (backward runs newest first)
        self.recorder: Any = None  # the trace of gg.capture while it records a function
        # verify every ``Function.fresh_grads`` declaration (engine.set_debug_ownership)
        self.check_ownership = os.environ.get("GLASSGRAD_CHECK_OWNERSHIP", "") not in ("", "0")
        # while glassgrad.func.vmap runs a function on a batch: its dispatch to batching rules
        self.batching: Any = None


STATE = _State()


def is_grad_enabled() -> bool:
    """True when ops record a graph for backward."""
    return STATE.grad_enabled


class _GradModeContext:
    _enabled: bool

    def __new__(cls, *args: Any) -> Any:
        # ``@no_grad`` without parentheses (allowed by PyTorch): decorate the function now
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]):
            return object.__new__(cls)(args[0])
        return object.__new__(cls)

    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self._enabled

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        enabled = self._enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = STATE.grad_enabled
            STATE.grad_enabled = enabled
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.grad_enabled = prev

        return wrapper


class no_grad(_GradModeContext):
    """Context manager / decorator: ops inside record no graph (for evaluation and updates)."""

    _enabled = False


class enable_grad(_GradModeContext):
    """Context manager / decorator: turn graph recording back on inside ``no_grad``."""

    _enabled = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` is ``no_grad()``; usable as a call, context or decorator."""

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self._enabled

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        # used as a decorator: undo the switch made by __init__, apply it per call instead
        STATE.grad_enabled = self._prev
        return super().__call__(fn)


class inference_mode(no_grad):
    """Alias of :class:`no_grad` (PyTorch's name for the same idea)."""
