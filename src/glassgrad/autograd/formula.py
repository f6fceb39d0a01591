"""The backward formula an op class declares, read from the class: the :class:`Formula` of
a :class:`~glassgrad.autograd.function.Function` subclass (its ``formulas`` and
``derivation`` attributes, else the ``VJP:`` line of its ``backward`` docstring).

This is part of the ``Function`` protocol, so it sits beside it: the graph drawing
(``viz``) and the traces (``glassbox``) read it from here. The table of all of
glassgrad's ops, :data:`glassgrad.glassbox.FORMULAS`, is built in
:mod:`glassgrad.glassbox.formulas` (which documents the notation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Formula", "formula_for", "from_class", "grad_formulas", "input_names"]


@dataclass(frozen=True)
class Formula:
    """The backward of one op.

    Attributes
    ----------
    inputs : tuple of str
        Names of ``forward``'s positional arguments. A trailing name ending in ``*``
        (``"x_i*"``) stands for any number of tensors (``cat``, ``stack``).
    grads : tuple of (str or None)
        The VJP of each argument, aligned with ``inputs`` (None: no gradient, e.g. a
        shape or an index).
    output : str
        Name of the output (``"Z"``; several comma-separated for multi-output ops).
    doc : str
        The derivation: ``<chapter>.md#<section>`` under ``docs/derivations/``.
    """

    inputs: tuple
    grads: tuple
    output: str = "Z"
    doc: str = ""

    def text(self) -> str:
        """All gradient formulas on one line, separated by ``;``."""
        return "; ".join(g for g in self.grads if g)


def _f(inputs: str, grads: tuple, output: str = "Z", doc: str = "") -> Formula:
    names = tuple(s.strip() for s in inputs.split(",")) if inputs else ()
    if len(names) != len(grads):
        raise ValueError(f"formula table: {len(names)} inputs {names} but {len(grads)} grads")
    return Formula(names, tuple(grads), output, doc)


_DERIVATIONS = "docs/derivations/"


def from_class(cls: type) -> Formula | None:
    """The :class:`Formula` an op class declares (its ``formulas`` and ``derivation``
    class attributes), or None when the class declares none (inherited ones do not count)."""
    spec = cls.__dict__.get("formulas")
    if spec is None:
        return None
    doc = cls.__dict__.get("derivation", "")
    if doc.startswith(_DERIVATIONS):
        doc = doc[len(_DERIVATIONS):]
    return _f(spec["inputs"], tuple(spec["grads"]), spec.get("output", "Z"), doc)


_CACHE: dict[type, Formula] = {}


def _formula(cls: Any) -> Formula | None:
    if not isinstance(cls, type):
        return None
    f = _CACHE.get(cls)
    if f is None:
        f = from_class(cls)
        if f is not None:
            _CACHE[cls] = f
    return f


_VJP_RE = re.compile(r"VJP[^:]*:\s*(.+?)(?:\n\s*\n|$)", re.S)


def formula_for(op: Any) -> Formula | None:
    """The :class:`Formula` of an op class (or node), else one read from the ``VJP:`` line
    of its ``backward`` docstring (a user's ``Function``), else None."""
    cls = op if isinstance(op, type) else type(op)
    f = _formula(cls)
    if f is not None:
        return f
    doc = getattr(cls.backward, "__doc__", None) or ""
    m = _VJP_RE.search(doc)
    if not m:
        return None
    text = " ".join(m.group(1).replace("``", "").split()).rstrip(".")
    return Formula((), (text,), "Z", "")


def input_names(f: Formula | None, n: int) -> list[str]:
    """Names of the ``n`` positional inputs of an op (expanding a ``*`` variadic name)."""
    if f is None or not f.inputs:
        return [f"input{i}" for i in range(n)]
    names = list(f.inputs)
    if names[-1].endswith("*"):
        base = names.pop()[:-1]
        k = n - len(names)
        names += [base.replace("_i", f"_{j}") for j in range(k)]
    while len(names) < n:
        names.append(f"input{len(names)}")
    return names[:n]


def grad_formulas(f: Formula | None, n: int) -> list[str | None]:
    """The gradient formula of each of ``n`` positional inputs (variadic expanded)."""
    if f is None:
        return [None] * n
    if not f.inputs:  # from a docstring: one text for the whole op
        return [f.grads[0]] + [None] * (n - 1) if n else []
    gs = list(f.grads)
    if f.inputs[-1].endswith("*"):
        tmpl = gs.pop()
        k = n - len(gs)
        gs += [tmpl.replace("_i", f"_{j}") if tmpl else None for j in range(k)]
    while len(gs) < n:
        gs.append(None)
    return gs[:n]
