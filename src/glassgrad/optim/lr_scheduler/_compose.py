"""Schedulers made of other schedulers of the same optimizer: one after another
(``SequentialLR``) or all at once (``ChainedScheduler``)."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Sequence

from ..optimizer import Optimizer
from ._base import LRScheduler, _check_optimizer
from ._plateau import ReduceLROnPlateau


def _check_schedulers(sched: str, optimizer: Optimizer, schedulers: Sequence[Any], why: str) -> None:
    """At least one scheduler, none a ``ReduceLROnPlateau`` (``why`` says why not), all of
    ``optimizer``."""
    if len(schedulers) < 1:
        raise ValueError(f"{sched}: expects at least one scheduler")
    for i, s in enumerate(schedulers):
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{sched}: scheduler {i} is a ReduceLROnPlateau, which {why}")
        if getattr(s, "optimizer", None) is not optimizer:
            raise ValueError(f"{sched}: scheduler {i} ({type(s).__name__}) belongs to a "
                             "different optimizer")


class _SchedulerList:
    """``state_dict`` of a scheduler made of others: their states are saved inside its own."""

    _schedulers: list[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        sd = dict(state_dict)
        subs = sd.pop("_schedulers")
        self.__dict__.update(sd)
        for s, st in zip(self._schedulers, subs):
            s.load_state_dict(st)


class SequentialLR(_SchedulerList, LRScheduler):
    """Run schedulers one after another: ``schedulers[i]`` from epoch ``milestones[i-1]``.

    A typical use is a warm-up then a decay::

        warm = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warm, decay], milestones=[5])

    Parameters
    ----------
    optimizer : Optimizer
    schedulers : list of LRScheduler
        Schedulers of this same optimizer.
    milestones : list of int
        ``len(schedulers) - 1`` epochs at which to switch.
    last_epoch : int
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        _check_optimizer("SequentialLR", optimizer)
        _check_schedulers("SequentialLR", optimizer, schedulers,
                          "needs a metric in step() and cannot be sequenced")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expects len(milestones) == len(schedulers) - 1, got "
                             f"{len(milestones)} milestones for {len(schedulers)} schedulers")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self._step_count = 0
        # undo the step 0 that each scheduler made when it was built, and restart the first
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _recursive_undo(self, sched: Any = None) -> None:
        s = self if sched is None else sched
        if hasattr(s, "_schedulers"):
            for sub in s._schedulers:
                self._recursive_undo(sub)
        elif hasattr(s, "last_epoch"):
            s.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch (switching scheduler at a milestone)."""
        self.last_epoch += 1
        self._step_count += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()


class ChainedScheduler(_SchedulerList, LRScheduler):
    """Step several (chainable) schedulers together; their effects compose.

    Parameters
    ----------
    schedulers : sequence of LRScheduler
    optimizer : Optimizer, optional
        Defaults to the first scheduler's optimizer.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler: expects at least one scheduler")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers("ChainedScheduler", optimizer, schedulers, "cannot be chained")
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._step_count = 0
        self._last_lr = self._current()

    def step(self) -> None:  # type: ignore[override]
        """Step every scheduler once."""
        for s in self._schedulers:
            s.step()
        self._step_count += 1
        self._last_lr = self._current()
