"""Anomaly mode: stop at the first op whose forward or backward makes NaN or Inf.

``with gg.detect_anomaly(): ...`` records, for every op, the line of user code that
created it, and checks every forward output and every backward gradient. The error
names the op, its input shapes, and where it came from.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from ..backend import np, to_numpy
from .grad_mode import STATE

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AnomalyError(RuntimeError):
    """Raised by anomaly mode; ``.op`` names the op, ``.phase`` is 'forward' or 'backward'."""

    def __init__(self, msg: str, op: str, phase: str, where: str | None) -> None:
        super().__init__(msg)
        self.op = op
        self.phase = phase
        self.where = where


class detect_anomaly:
    """Context manager (and decorator) enabling anomaly detection, like PyTorch's.

    Parameters
    ----------
    check_nan : bool
        Check outputs and gradients for NaN/Inf (default True). With False only the
        creation stacks are recorded (for better error messages).
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> detect_anomaly:
        self._prev = (STATE.anomaly, STATE.anomaly_check_nan)
        STATE.anomaly = True
        STATE.anomaly_check_nan = self.check_nan
        return self

    def __exit__(self, *exc: Any) -> None:
        STATE.anomaly, STATE.anomaly_check_nan = self._prev

    def __call__(self, fn: Any) -> Any:
        import functools

        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return fn(*a, **k)

        return wrapper


def set_detect_anomaly(mode: bool) -> None:
    STATE.anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    return STATE.anomaly


def _user_frame(stack: Any) -> str | None:
    """The innermost frame outside glassgrad itself: the user's line."""
    if not stack:
        return None
    for fr in reversed(stack):
        if not os.path.abspath(fr.filename).startswith(_PKG_DIR):
            return f'File "{fr.filename}", line {fr.lineno}, in {fr.name}\n    {fr.line}'
    fr = stack[-1]
    return f'File "{fr.filename}", line {fr.lineno}, in {fr.name}'


def _bad(a: Any) -> str | None:
    if a is None:
        return None
    arr = a.data if hasattr(a, "grad_fn") else a
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return None
    arr = to_numpy(arr)
    if np.isnan(arr).any():
        return "NaN"
    if np.isinf(arr).any():
        return "Inf"
    return None


def check_forward(cls: type, args: tuple, outs: tuple) -> None:
    if not STATE.anomaly_check_nan:
        return
    for o in outs:
        kind = _bad(o)
        if kind:
            bad_in = any(_bad(a) for a in args if hasattr(a, "grad_fn"))
            if bad_in:
                return  # the NaN came in from an earlier op, which was reported (or allowed)
            where = _user_frame(traceback.extract_stack()[:-3])
            shapes = ", ".join(
                f"{tuple(a.shape)} {a.dtype}" for a in args if hasattr(a, "grad_fn")
            )
            raise AnomalyError(
                f"anomaly: forward of '{cls.__name__}' produced {kind} "
                f"(inputs: {shapes}; output {tuple(o.shape)})\n  created at: {where}",
                cls.__name__,
                "forward",
                where,
            )


def check_backward(node: Any, grads: tuple) -> None:
    if not STATE.anomaly_check_nan:
        return
    for i, g in enumerate(grads):
        kind = _bad(g)
        if kind:
            where = _user_frame(node._stack)
            shapes = ", ".join(str(tuple(m[0])) for m in node._in_meta if m is not None)
            raise AnomalyError(
                f"anomaly: backward of '{node.name()}' returned {kind} in the gradient of "
                f"input {i} (input shapes: {shapes})\n  the op was created at: {where}",
                node.name(),
                "backward",
                where,
            )
