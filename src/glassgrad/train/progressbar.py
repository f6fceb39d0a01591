"""Progress bars for long loops: tqdm on a terminal, nothing otherwise.

tqdm is a core dependency. A bar is shown only when it is wanted (``enabled``) and the
stream it writes to is a terminal, so logs, pipes, CI and pytest stay free of bar
characters without any option. :class:`~glassgrad.train.Trainer` uses it for each epoch
(``progress=False`` turns it off); hand-written loops wrap their ``range``::

    for step in progress(range(steps), desc="train"):
        ...
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

__all__ = ["progress", "progress_enabled", "progress_write", "make_bar"]


def progress_enabled(enabled: bool = True, file: IO[str] | None = None) -> bool:
    """Whether :func:`progress` would draw a bar: ``enabled`` and ``file`` (default stdout) is
    a terminal."""
    if not enabled:
        return False
    stream = sys.stdout if file is None else file
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress(iterable: Iterable, desc: str | None = None, total: int | None = None, enabled: bool = True,
             leave: bool = False, file: IO[str] | None = None, **tqdm_kwargs: Any) -> Iterable:
    """``iterable`` wrapped in a tqdm progress bar, or ``iterable`` itself.

    Parameters
    ----------
    iterable : iterable
    desc : str, optional
        Text before the bar (e.g. ``"epoch 3/10"``).
    total : int, optional
        Number of items (default ``len(iterable)`` when it has one).
    enabled : bool
        ``False``: never a bar (e.g. a ``--no-progress`` option).
    leave : bool
        Keep the finished bar on the screen.
    file : text stream, optional
        Where the bar goes (default ``sys.stdout``). No bar unless it is a terminal.
    **tqdm_kwargs
        Passed to ``tqdm`` (e.g. ``unit="batch"``).

    Returns
    -------
    iterable
        Iterates exactly as ``iterable`` does.
    """
    stream = sys.stdout if file is None else file
    if not progress_enabled(enabled, stream):
        return iterable
    return make_bar(iterable, desc=desc, total=total, leave=leave, file=stream, **tqdm_kwargs)


def make_bar(iterable: Iterable, desc: str | None = None, total: int | None = None, leave: bool = False,
             file: IO[str] | None = None, **tqdm_kwargs: Any) -> Any:
    """A tqdm bar over ``iterable`` whether or not ``file`` is a terminal (``iterable`` itself
    if tqdm cannot be imported). :func:`progress` decides when to call it."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency; a broken install only loses the bar
        return iterable
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    return tqdm(iterable, desc=desc, total=total, leave=leave, dynamic_ncols=True,
                file=sys.stdout if file is None else file, **tqdm_kwargs)


def progress_write(line: str, file: IO[str] | None = None) -> None:
    """Print ``line`` without breaking a progress bar that is on the screen (``tqdm.write``:
    the bar is cleared, the line printed, the bar drawn again); a plain ``print`` otherwise."""
    stream = sys.stdout if file is None else file
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        print(line, file=stream, flush=True)
        return
    tqdm.write(line, file=stream)
    stream.flush()
