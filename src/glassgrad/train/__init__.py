"""Training utilities: :class:`Trainer` / :func:`fit`, callbacks, :class:`History`, checkpoints.

The utility is a convenience; the hand-written loop stays a few lines (see
:mod:`glassgrad.train.trainer` for both ways side by side).
"""

from .callbacks import Callback, CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint
from .history import History
from .progressbar import progress, progress_enabled, progress_write
from .trainer import (
    CHECKPOINT_KIND,
    Trainer,
    accuracy,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
)

__all__ = [
    "Trainer", "fit", "evaluate", "accuracy", "History", "Callback", "LambdaCallback", "EarlyStopping",
    "ModelCheckpoint", "CSVLogger", "save_checkpoint", "load_checkpoint", "CHECKPOINT_KIND", "progress",
    "progress_enabled", "progress_write",
]
