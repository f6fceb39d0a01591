"""The size arguments of constructors, in all of PyTorch's spellings.

``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])``, ``zeros(size=(2, 3))`` and
``zeros(x.shape)`` all mean shape ``(2, 3)``; a 0-d integer tensor or NumPy integer counts
as an integer. Anything else is a ``TypeError`` and a negative size a ``ValueError``, both
naming the function.
"""

from __future__ import annotations

import operator
from typing import Any

__all__ = ["size_arg"]


def size_arg(op: str, size: tuple, size_kw: Any = None) -> tuple:
    """The shape meant by ``op(*size)`` or ``op(size=size_kw)``, as a tuple of ints.

    Raises
    ------
    TypeError
        Size given twice, or an entry that is not an integer.
    ValueError
        A negative entry.
    """
    if size_kw is not None:
        if size:
            raise TypeError(f"{op}: got the size both as positional arguments {size} and as size=")
        size = (size_kw,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for i, s in enumerate(size):
        if isinstance(s, bool) or not hasattr(s, "__index__"):
            raise TypeError(f"{op}: argument 'size' must be a tuple of ints, but entry {i} is "
                            f"{type(s).__name__} {s!r}")
        try:
            out.append(operator.index(s))
        except TypeError:
            raise TypeError(f"{op}: argument 'size' must be a tuple of ints, but entry {i} is "
                            f"{s!r}") from None
    for s in out:
        if s < 0:
            raise ValueError(f"{op}: negative dimension {s} in argument 'size' {tuple(out)}: "
                             "every size must be >= 0")
    return tuple(out)
