"""The base class of the schedulers, :class:`LRScheduler`, and the argument checks they share."""

from __future__ import annotations

import warnings
from typing import Any

from ..optimizer import Optimizer


def _check_optimizer(sched: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{sched}: expected a glassgrad Optimizer, got {type(optimizer).__name__}")


def _per_group(sched: str, name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """One value per param group: a scalar is repeated, a list must have the right length."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{sched}: expected {n} values for {name} (one per param group), "
                             f"got {len(value)}")
        return list(value)
    return [value] * n


class LRScheduler:
    """Base class of the schedulers: tracks ``last_epoch`` and writes ``group['lr']``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are set.
    last_epoch : int
        Index of the last epoch; -1 (default) starts a new schedule. A value >= 0 resumes
        one, and needs ``'initial_lr'`` in every param group (from a loaded optimizer state).

    Subclasses implement :meth:`get_lr` (the new rates, given ``self.last_epoch`` already
    incremented) and optionally ``_get_closed_form_lr``.
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(type(self).__name__, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param 'initial_lr' is not specified in "
                        f"param_groups[{i}] when resuming with last_epoch={last_epoch}; load the "
                        "optimizer's state first (or use last_epoch=-1 for a fresh schedule)"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Step 0: set the schedule's first learning rates."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        """The learning rates for epoch ``self.last_epoch`` (one per param group)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last :meth:`step` (one per param group)."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one epoch (or jump to ``epoch``, closed form).

        Call it after ``optimizer.step()``.
        """
        if self._step_count == 1 and not self._is_initial:
            opt = self.optimizer
            if type(opt).step is Optimizer.step and opt._step_count == 0:
                warnings.warn(
                    f"{type(self).__name__}.step() was called before optimizer.step(): call "
                    "optimizer.step() first, then scheduler.step(), or the first value of the "
                    "schedule is skipped", UserWarning, stacklevel=2)
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def _scaled(self, factor: float) -> list[float]:
        """Every group's current rate times ``factor`` (the chainable update)."""
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (Python scalars, lists, dicts)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by :meth:`state_dict`."""
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(last_epoch={self.last_epoch}, "
                f"last_lr={getattr(self, '_last_lr', None)})")
