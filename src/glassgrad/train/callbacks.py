"""Callbacks: code that runs at fixed points of :meth:`Trainer.fit`.

A callback is an object with any of these methods (all optional; the base class
:class:`Callback` defines them as no-ops)::

    on_train_begin(trainer)                  on_train_end(trainer)
    on_epoch_begin(trainer, epoch)           on_epoch_end(trainer, epoch, logs)
    on_batch_begin(trainer, step)            on_batch_end(trainer, step, logs)

``epoch`` counts from 1; ``logs`` is the dict of metrics just computed (``train_loss``,
``val_acc``, ...; for batches: ``loss``, ``batch_size``). Set ``trainer.stop_training =
True`` to end training after the current epoch.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any, Callable

from .._atomic import remove_stale_temp_files

__all__ = ["Callback", "LambdaCallback", "EarlyStopping", "ModelCheckpoint", "CSVLogger"]


class Callback:
    """Base class: override the hooks you need."""

    def on_train_begin(self, trainer: Any) -> None: ...

    def on_train_end(self, trainer: Any) -> None: ...

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None: ...

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None: ...

    def on_batch_begin(self, trainer: Any, step: int) -> None: ...

    def on_batch_end(self, trainer: Any, step: int, logs: dict[str, float]) -> None: ...

    # Optional: ``on_after_backward(self, trainer, x, y)`` runs after ``loss.backward()`` and
    # before ``optimizer.step()``, with the batch; define it to inspect gradients (the
    # gradient checker ``gg.check_gradients(...)`` does).

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda t, e, logs: ...)``."""

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        allowed = {n for n in dir(Callback) if n.startswith("on_")}
        for name, fn in hooks.items():
            if name not in allowed:
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; expected one of {sorted(allowed)}")
            setattr(self, name, fn)


def _resolve_mode(monitor: str, mode: str, who: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.endswith("score")) else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs (default ``'val_loss'``; falls back to ``'train_loss'`` with a
        note when no validation loader is given).
    patience : int
        Stop after this many consecutive epochs without improvement (as Keras/Lightning).
    min_delta : float
        An improvement must exceed this.
    mode : {'auto', 'min', 'max'}
        ``'auto'``: 'max' for accuracies, 'min' otherwise.
    restore_best_weights : bool
        At the end, load the model weights of the best epoch.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True, verbose: bool = False) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.mode = _resolve_mode(monitor, mode, "EarlyStopping")
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_state: dict | None = None

    def _improved(self, v: float) -> bool:
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        key = self.monitor
        if key not in logs and key.startswith("val_") and ("train_" + key[4:]) in logs:
            key = "train_" + key[4:]
        if key not in logs:
            raise KeyError(f"EarlyStopping: monitored metric {self.monitor!r} is not in the epoch "
                           f"logs {sorted(logs)}")
        v = float(logs[key])
        if math.isfinite(v) and self._improved(v):
            self.best, self.best_epoch, self.wait = v, epoch, 0
            if self.restore_best_weights:
                self._best_state = {k: v.detach().clone() if hasattr(v, "detach") else copy.deepcopy(v)
                                    for k, v in trainer.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                trainer.stop_training = True
                if self.verbose:
                    print(f"early stopping at epoch {epoch}: best {key} {self.best:.4g} at epoch "
                          f"{self.best_epoch}")

    def on_train_end(self, trainer: Any) -> None:
        if self.restore_best_weights and self._best_state is not None and self.stopped_epoch:
            trainer.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_state": self._best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self._best_state = state.get("best_state")


class ModelCheckpoint(Callback):
    """Save a full training checkpoint every ``every_n_epochs`` epochs (and/or on improvement).

    Each file holds what :meth:`Trainer.save_checkpoint` writes (model, optimizer, scheduler,
    epoch, history, RNG and DataLoader-generator states), so training can be resumed exactly.
    Files are written atomically; temporary files left in ``dirpath`` by a run that was
    killed while saving are removed when training starts (and by each later save).

    Parameters
    ----------
    dirpath : str or path-like
        Folder for the files (created if needed).
    every_n_epochs : int
        Period; 0 disables periodic saving.
    filename : str
        Format string with ``{epoch}`` and any log key, e.g. ``'epoch{epoch:03d}.ckpt'``.
    save_last : bool
        Also keep ``last.ckpt`` up to date every epoch.
    monitor : str, optional
        When given, also write ``best.ckpt`` whenever this metric improves.
    mode : {'auto', 'min', 'max'}
    """

    def __init__(self, dirpath: str | os.PathLike, every_n_epochs: int = 1,
                 filename: str = "epoch{epoch:03d}.ckpt", save_last: bool = True,
                 monitor: str | None = None, mode: str = "auto") -> None:
        if every_n_epochs < 0:
            raise ValueError(f"ModelCheckpoint: every_n_epochs must be >= 0, got {every_n_epochs}")
        self.dirpath = os.fspath(dirpath)
        self.every_n_epochs = int(every_n_epochs)
        self.filename = filename
        self.save_last = save_last
        self.monitor = monitor
        self.mode = _resolve_mode(monitor or "", mode, "ModelCheckpoint")
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_train_begin(self, trainer: Any) -> None:
        os.makedirs(self.dirpath, exist_ok=True)
        # temporary files of saves killed mid-write (a resumed run starts here)
        remove_stale_temp_files(self.dirpath)

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        if self.every_n_epochs and epoch % self.every_n_epochs == 0:
            p = os.path.join(self.dirpath, self.filename.format(epoch=epoch, **logs))
            trainer.save_checkpoint(p)
            self.saved.append(p)
        if self.save_last:
            trainer.save_checkpoint(os.path.join(self.dirpath, "last.ckpt"))
        if self.monitor is not None and self.monitor in logs:
            v = float(logs[self.monitor])
            if math.isfinite(v) and (v < self.best if self.mode == "min" else v > self.best):
                self.best = v
                trainer.save_checkpoint(os.path.join(self.dirpath, "best.ckpt"))


class CSVLogger(Callback):
    """Rewrite ``path`` with the trainer's history after every epoch (atomic writes)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        trainer.history.to_csv(self.path)
