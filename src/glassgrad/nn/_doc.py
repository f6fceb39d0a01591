"""Docstring text written once and filled into several docstrings: :func:`fill_doc`."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

_T = TypeVar("_T")

__all__ = ["fill_doc"]


def fill_doc(entries: dict[str, str]) -> Callable[[_T], _T]:
    """A decorator that replaces each docstring line holding only ``{name}`` (a key of
    ``entries``) by that entry's text, every line indented as the placeholder was: one text
    for a parameter that several functions or classes describe alike (numpydoc sections
    stay intact)."""

    def fill(obj: Any) -> Any:
        doc = obj.__doc__
        if doc:  # (None under python -OO)
            lines = []
            for line in doc.split("\n"):
                key = line.strip()
                if key[:1] == "{" and key[-1:] == "}" and key[1:-1] in entries:
                    indent = line[:len(line) - len(line.lstrip())]
                    lines.extend(indent + t if t else t for t in entries[key[1:-1]].split("\n"))
                else:
                    lines.append(line)
            obj.__doc__ = "\n".join(lines)
        return obj

    return fill
