"""The recording hook: the one place where a recorder (``gg.capture``, ``onnx.export``)
plugs into eager execution.

A recorder is an object installed with :func:`install` for the time a function runs.
``Function.apply`` hands it every op call (``recorder.apply(cls, args, kwargs)``, unless
``recorder.busy``): that is how it sees the ops. The few things that are not op calls but
that a recorder must hear about go through the functions of this module, each a no-op when
nothing records, so that the modules calling them need not know which recorder (if any)
is listening:

===========================  ======================================================
:func:`constant`             a tensor made inside the function from no tensor data
                             (``gg.zeros``, a constant matrix): the same on every call
:func:`module`               an ``nn.Module`` is called (its train/eval mode matters)
:func:`module_hooks`         a Module with hooks is called (a recorder may refuse it)
:func:`inplace`              an in-place write on a tensor (``+=``, ``t[i] = v``)
:func:`active`               whether something records (e.g. to pass index tensors as op
                             inputs rather than as constants)
===========================  ======================================================

A recorder implements the methods of the same names (``constant``, ``module``,
``module_hooks``, ``inplace``) plus ``apply`` and the ``busy`` flag.

One convention needs no call: an op argument that is a *read-only* array (an index or a
mask the Python code built from constants) is a constant to a recorder; a writeable
array may change between calls, so a recorder refuses it.
"""

from __future__ import annotations

from typing import Any

from .grad_mode import STATE

__all__ = ["active", "constant", "inplace", "install", "module", "module_hooks", "uninstall"]


def active() -> Any:
    """The installed recorder, or None (the fast check callers make before extra work)."""
    return STATE.recorder


def install(recorder: Any) -> None:
    """Install ``recorder`` (one at a time: the recorders check :func:`active` first)."""
    STATE.recorder = recorder


def uninstall() -> None:
    """Remove the installed recorder (if any)."""
    STATE.recorder = None


def constant(t: Any) -> None:
    """Tell the recorder that tensor ``t``, made here from no tensor data, holds the same
    values on every call (so ops may use it)."""
    r = STATE.recorder
    if r is not None:
        r.constant(t)


def module(m: Any) -> None:
    """Tell the recorder that module ``m`` is being called."""
    r = STATE.recorder
    if r is not None:
        r.module(m)


def module_hooks(m: Any) -> None:
    """Tell the recorder that module ``m``, which has forward or backward hooks, is being
    called (the recorder raises its error if it cannot reproduce the hooks)."""
    r = STATE.recorder
    if r is not None:
        r.module_hooks(m)


def inplace(t: Any, op: str, graph: bool) -> None:
    """Tell the recorder about the in-place ``op`` on ``t``: done through the graph (out of
    place, ``t`` re-pointed at the result) when ``graph``, else straight into its array (the
    recorder raises its error if it cannot reproduce it)."""
    r = STATE.recorder
    if r is not None:
        r.inplace(t, op, graph)
