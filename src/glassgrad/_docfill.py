"""Docstring text written once and filled into several docstrings: :func:`fill_doc`.

numpydoc entries that several functions or classes describe alike (a parameter shared by
the optimizers, the pooling windows, the gradient clippers) are written once, and each
docstring names them on a line of their own: ``{name}`` or ``{name, other, ...}``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, TypeVar

_T = TypeVar("_T")

__all__ = ["fill_doc"]

_LINE = re.compile(r"^([ \t]*)\{(\w+(?:, *\w+)*)\}[ \t]*$", re.M)


def fill_doc(entries: Mapping[str, str] | Callable[[str], str]) -> Callable[[_T], _T]:
    """A decorator that replaces each docstring line holding only ``{name}`` (or
    ``{name, other, ...}``) by the entries' texts, one after the other, every line
    indented as the placeholder was, so that numpydoc sections stay intact.

    Parameters
    ----------
    entries : mapping or callable
        ``name -> text``; a callable is asked for each name (to fill in per-object details,
        such as a default read from a signature). A name it does not know is a KeyError.
    """
    get = entries if callable(entries) else entries.__getitem__

    def line(m: re.Match) -> str:
        text = "\n".join(get(name.strip()) for name in m.group(2).split(","))
        return "\n".join(m.group(1) + ln if ln else ln for ln in text.split("\n"))

    def fill(obj: Any) -> Any:
        if obj.__doc__:  # (None under python -OO)
            obj.__doc__ = _LINE.sub(line, obj.__doc__)
        return obj

    return fill
