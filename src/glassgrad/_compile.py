"""``gg.compile``: accepted so that PyTorch programs calling ``torch.compile`` run.

glassgrad has no compiler: every op runs eagerly as the NumPy code you can read in
``glassgrad/ops`` (the point of the library). ``compile(model)`` returns ``model`` itself,
and ``@compile`` / ``@compile(mode=...)`` leave the function as it is. To record a
training step's ops once and replay them, see :func:`glassgrad.capture`.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["compile"]

_BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs")


def compile(model: Callable | None = None, *, fullgraph: bool = False, dynamic: bool | None = None,
            backend: str | Callable = "inductor", mode: str | None = None,
            options: dict | None = None, disable: bool = False) -> Any:  # noqa: A001
    """Return ``model`` unchanged (or a decorator that does), as a no-op stand-in for
    ``torch.compile``; the arguments are checked and otherwise have no effect."""
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise ValueError(f"compile: unknown backend {backend!r}; glassgrad runs every backend "
                         f"as eager execution ({', '.join(_BACKENDS)} or a callable)")
    if mode is not None and mode not in ("default", "reduce-overhead", "max-autotune",
                                         "max-autotune-no-cudagraphs"):
        raise ValueError(f"compile: unknown mode {mode!r}")
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise TypeError(f"compile: expected a Module or a function, got {type(model).__name__}")
    return model
