"""Argument checks shared by the functional API: tensor arguments must be tensors.

PyTorch's ``torch.nn.functional`` refuses a NumPy array, a list or None where a tensor is
expected (``F.linear(x, None)``, ``F.relu(np.ones(3))``) with a TypeError naming the
function and the argument. :func:`require_tensors` gives a function that check, read
from its annotations: a parameter annotated ``Tensor`` must be a Tensor when it is
given; one annotated ``Tensor | None`` may also be None.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from ..ops._util import op_error


def require_tensors(fn: Callable, tensor_cls: type) -> Callable:
    """``fn`` wrapped so that its ``Tensor``-annotated arguments are checked first."""
    checks = []
    for i, (name, p) in enumerate(inspect.signature(fn).parameters.items()):
        ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        if ann in ("Tensor", "Tensor | None") and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                              p.KEYWORD_ONLY):
            checks.append((i if p.kind == p.POSITIONAL_OR_KEYWORD else 1 << 30, name,
                           ann != "Tensor"))
    if not checks:
        return fn

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for i, name, optional in checks:
            if i < len(args):
                v = args[i]
            elif name in kwargs:
                v = kwargs[name]
            else:
                continue  # not given: the function's default or its own TypeError
            if not isinstance(v, tensor_cls) and not (optional and v is None):
                raise op_error(fn.__name__, f"argument '{name}' must be a Tensor"
                               f"{' or None' if optional else ''}, not {type(v).__name__}",
                               TypeError)
        return fn(*args, **kwargs)

    return checked
