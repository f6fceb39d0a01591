"""``torch.nn.modules.utils``'s helpers that model code imports: ``_single``, ``_pair``,
``_triple``, ``_quadruple`` (an int repeated to a tuple, an iterable kept as a tuple),
``_ntuple``, ``_reverse_repeat_tuple`` and ``consume_prefix_in_state_dict_if_present``
(strips e.g. the ``module.`` prefix that ``DataParallel`` puts on ``state_dict`` keys); and
glassgrad's ``_table_class``, which makes a layer class from one row of a table."""

from __future__ import annotations

import collections.abc
import sys
from itertools import repeat
from typing import Any, Callable

__all__ = ["consume_prefix_in_state_dict_if_present"]


def _ntuple(n: int, name: str = "parse") -> Callable[[Any], tuple]:
    def parse(x: Any) -> tuple:
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _table_class(name: str, base: type, doc: str, attrs: dict[str, Any] | None = None,
                 depth: int = 1) -> type:
    """The class ``name`` derived from ``base``, with docstring ``doc`` and class attributes
    ``attrs``, for a row ``Name = ...`` of a table of layers that differ only in those
    (``depth``: how many calls up the row is). An ordinary class: its module, qualified
    name and pickling are those of a class statement at the row (``__firstlineno__`` is the
    row's line, as Python 3.13 sets for a class statement)."""
    row = sys._getframe(depth)
    ns = {"__doc__": doc, "__module__": row.f_globals["__name__"], "__qualname__": name,
          "__firstlineno__": row.f_lineno, **(attrs or {})}
    return type(name, (base,), ns)


def _reverse_repeat_tuple(t: tuple, n: int) -> tuple:
    """Reverse ``t`` and repeat each element ``n`` times (conv padding → ``F.pad`` order)."""
    return tuple(x for x in reversed(t) for _ in range(n))


def consume_prefix_in_state_dict_if_present(state_dict: dict, prefix: str) -> None:
    """Remove ``prefix`` from every key of ``state_dict`` that starts with it, in place, as
    PyTorch's function (renamed keys move to the end, so a dict whose keys all carry the
    prefix keeps its order), and from the keys of its ``_metadata`` if it has one.

    Parameters
    ----------
    state_dict : dict
        E.g. a ``DataParallel`` model's ``state_dict()`` (keys ``module.…``).
    prefix : str
        E.g. ``"module."``.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"consume_prefix_in_state_dict_if_present: prefix must be a str, got "
                        f"{type(prefix).__name__}")
    for key in list(state_dict.keys()):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
    meta = getattr(state_dict, "_metadata", None)
    if meta is not None:
        for key in list(meta.keys()):
            if key and (key == prefix.replace(".", "") or key.startswith(prefix)):
                meta[key[len(prefix):]] = meta.pop(key)
