"""The :class:`History` of a training run: a dict of per-epoch lists, with ``to_csv``."""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Any

from .._atomic import atomic_write

__all__ = ["History"]


class History(dict):
    """Per-epoch metrics, as a ``dict`` of equal-length lists.

    Keys are e.g. ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``
    and ``time``. A value missing in some epoch is stored as ``nan`` so that every list has
    one entry per epoch.

    >>> h = History()
    >>> h.append(epoch=1, train_loss=0.7)
    >>> h.append(epoch=2, train_loss=0.4, val_loss=0.5)
    >>> h["val_loss"]
    [nan, 0.5]
    """

    def __len__(self) -> int:  # number of epochs, not keys
        return max((len(v) for v in self.values()), default=0)

    def append(self, **row: Any) -> None:
        """Add one epoch's values (new keys are back-filled with ``nan``)."""
        n = len(self)
        for k, v in row.items():
            if k not in self:
                self[k] = [math.nan] * n
            self[k].append(_plain(v))
        for k in list(super().keys()):
            if k not in row:
                self[k].append(math.nan)

    def last(self, key: str, default: Any = None) -> Any:
        """The most recent value of ``key`` (``default`` when absent or empty)."""
        v = self.get(key)
        return v[-1] if v else default

    def best(self, key: str, mode: str = "min") -> tuple[int, float]:
        """``(index, value)`` of the best finite entry of ``key`` (``mode`` 'min' or 'max')."""
        vals = [(i, v) for i, v in enumerate(self.get(key, [])) if isinstance(v, (int, float))
                and math.isfinite(v)]
        if not vals:
            raise KeyError(f"History.best: no finite values recorded for {key!r} (keys: {list(self)})")
        pick = min if mode == "min" else max
        return pick(vals, key=lambda t: t[1])

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """Write one row per epoch as CSV (atomically); returns the CSV text.

        Parameters
        ----------
        path : str or path-like, optional
            File to write; without it only the text is returned.
        """
        keys = list(super().keys())
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(keys)
        for i in range(len(self)):
            w.writerow([_fmt(self[k][i]) if i < len(self[k]) else "" for k in keys])
        text = buf.getvalue()
        if path is not None:
            atomic_write(path, text)
        return text

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> History:
        """Read a CSV written by :meth:`to_csv` (numbers become floats, ``epoch`` ints)."""
        h = cls()
        with open(path, newline="") as fh:
            r = csv.reader(fh)
            try:
                keys = next(r)
            except StopIteration:
                return h
            for k in keys:
                h[k] = []
            for row in r:
                for k, v in zip(keys, row):
                    h[k].append(_parse(k, v))
        return h

    def state_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.items()}

    def load_state_dict(self, state: dict[str, list]) -> None:
        self.clear()
        self.update({k: list(v) for k, v in state.items()})

    def __repr__(self) -> str:
        return f"History({len(self)} epochs: {', '.join(super().keys())})"


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):
        v = v.item()
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("" if math.isnan(v) else str(v))
    return str(v)


def _parse(key: str, v: str) -> Any:
    if v == "":
        return math.nan
    try:
        f = float(v)
    except ValueError:
        return v
    if key == "epoch" and f.is_integer():
        return int(f)
    return f
