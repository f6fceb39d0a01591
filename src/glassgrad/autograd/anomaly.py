"""Anomaly mode: stop at the first op whose forward or backward makes NaN or Inf.

``with gg.detect_anomaly(): ...`` records, for every op, the line of user code that
created it, and checks every forward output and every backward gradient. The error
names the op, its input shapes, and where it came from.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import InitVar, dataclass
from typing import Any

from ..backend import np, to_numpy
from .grad_mode import STATE

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(eq=False, repr=False)  # the fields are the attributes; str() and repr() are the message
class AnomalyError(RuntimeError):
    """Raised by anomaly mode.

    Attributes
    ----------
    op : str
        The op's class name (``"Log"``).
    phase : str
        ``"forward"`` (the op's output is NaN/Inf), ``"backward"`` (a gradient it
        computed is) or ``"input"`` (a leaf tensor fed to it already held NaN/Inf).
    where : str or None
        The line of user code that created the op (file, line, function and source).
    filename, lineno
        The same location, parsed.
    module : str or None
        Class of the ``nn.Module`` whose forward created the op.
    """

    msg: InitVar[str]
    op: str
    phase: str
    where: str | None
    filename: str | None = None
    lineno: int | None = None
    module: str | None = None

    def __post_init__(self, msg: str) -> None:
        super().__init__(msg)


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


def _user_frame_entry(stack: Any) -> Any:
    """The innermost frame outside glassgrad itself (the user's line), or None."""
    if not stack:
        return None
    for fr in reversed(stack):
        if not os.path.abspath(fr.filename).startswith(_PKG_DIR):
            return fr
    return stack[-1]


def _user_frame(stack: Any) -> str | None:
    """The innermost frame outside glassgrad itself: the user's line, formatted."""
    fr = _user_frame_entry(stack)
    if fr is None:
        return None
    if fr.line:
        return f'File "{fr.filename}", line {fr.lineno}, in {fr.name}\n    {fr.line}'
    return f'File "{fr.filename}", line {fr.lineno}, in {fr.name}'


def _bad(a: Any) -> str | None:
    if a is None:
        return None
    arr = a.array if hasattr(a, "grad_fn") else a
    if not hasattr(arr, "dtype") or arr.dtype.kind not in "fc" or arr.size == 0:
        return None
    arr = to_numpy(arr)
    if np.isnan(arr).any():
        return "NaN"
    if np.isinf(arr).any():
        return "Inf"
    return None


def _desc(t: Any) -> str:
    return f"{tuple(t.shape)} {t.dtype}"


def _scope_name(scope: Any) -> str | None:
    if scope is None:
        return None
    return scope if isinstance(scope, str) else type(scope).__name__


def _error(msg: str, op: str, phase: str, where: str | None, frame: Any,
           module: str | None) -> AnomalyError:
    """An :class:`AnomalyError` located at ``frame`` (a traceback entry, or None)."""
    return AnomalyError(msg, op, phase, where, getattr(frame, "filename", None),
                        getattr(frame, "lineno", None), module)


def check_forward(cls: type, args: tuple, outs: tuple) -> None:
    """Raise :class:`AnomalyError` if an output of ``cls``'s forward holds NaN/Inf."""
    if not STATE.anomaly_check_nan:
        return
    for o in outs:
        kind = _bad(o)
        if not kind:
            continue
        tensors = [(i, a) for i, a in enumerate(args) if hasattr(a, "grad_fn")]
        bad_in = [(i, a, _bad(a)) for i, a in tensors if _bad(a)]
        fr = _user_frame_entry(traceback.extract_stack()[:-3])
        where = _user_frame(traceback.extract_stack()[:-3])
        module = _scope_name(STATE.scope)
        in_mod = f" in module {module}" if module else ""
        shapes = ", ".join(_desc(a) for _, a in tensors)
        if bad_in:
            leaf = [(i, a, k) for i, a, k in bad_in if a.grad_fn is None]
            if len(leaf) < len(bad_in):
                return  # the NaN came out of an earlier op, created outside anomaly mode
            i, a, k = leaf[0]
            raise _error(
                f"anomaly: input {i} of '{cls.__name__}'{in_mod} ({_desc(a)}, a leaf tensor: data "
                f"or a parameter) already contains {k}; it did not come from an op "
                f"(inputs: {shapes})\n  used at: {where}",
                cls.__name__, "input", where, fr, module)
        raise _error(
            f"anomaly: forward of '{cls.__name__}'{in_mod} produced {kind} "
            f"(inputs: {shapes}; output {tuple(o.shape)} {o.dtype}; all inputs were finite)"
            f"\n  created at: {where}",
            cls.__name__, "forward", where, fr, module)


def check_backward(node: Any, grads: tuple) -> None:
    """Raise :class:`AnomalyError` if a gradient computed by ``node``'s backward holds NaN/Inf."""
    if not STATE.anomaly_check_nan:
        return
    for i, g in enumerate(grads):
        kind = _bad(g)
        if kind:
            fr = _user_frame_entry(node._stack)
            where = _user_frame(node._stack)
            if where is None:
                where = "(unknown: the op was created outside detect_anomaly(), so its line was not recorded)"
            module = _scope_name(getattr(node, "_scope", None))
            in_mod = f" in module {module}" if module else ""
            shapes = ", ".join(str(tuple(m[0])) for m in node._in_meta if m is not None)
            outs = ", ".join(str(tuple(m[0])) for m in node._out_meta)
            raise _error(
                f"anomaly: backward of '{node.name()}'{in_mod} returned {kind} in the gradient of "
                f"input {i} (input shapes: {shapes}; output shapes: {outs})"
                f"\n  the op was created at: {where}",
                type(node).__name__, "backward", where, fr, module)
