"""``CyclicLR`` (Smith, 2017, "Cyclical Learning Rates for Training Neural Networks"), as
``torch.optim.lr_scheduler.CyclicLR``; re-exported from :mod:`glassgrad.optim.lr_scheduler`.

With ``t`` the number of batches so far and a cycle of ``up + down`` batches::

    cycle = floor(1 + t / (up + down))
    x     = 1 + t / (up + down) - cycle                  (position in the cycle, 0..1)
    f     = x / r            while x <= r = up / (up + down)      (rising)
            (x - 1) / (r - 1) after                               (falling)
    lr    = base_lr + (max_lr - base_lr) · f · scale(cycle or t)
    momentum = max_m - (max_m - base_m) · f · scale(...)          (opposite to lr)

``scale`` is 1 (``'triangular'``), ``1 / 2**(cycle - 1)`` (``'triangular2'``: each cycle
half as high), ``gamma**t`` (``'exp_range'``) or your own ``scale_fn``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .lr_scheduler import LRScheduler, _check_optimizer, _per_group
from .optimizer import Optimizer

__all__ = ["CyclicLR"]

_MODES = ("triangular", "triangular2", "exp_range")


class CyclicLR(LRScheduler):
    """Cycle the learning rate between ``base_lr`` and ``max_lr`` (step it after every batch).

    Parameters
    ----------
    optimizer : Optimizer
    base_lr, max_lr : float or list of float
        Lower and upper bound of the cycle (one per param group, or one for all).
    step_size_up, step_size_down : int
        Batches in the rising and the falling half (``step_size_down`` defaults to
        ``step_size_up``).
    mode : {'triangular', 'triangular2', 'exp_range'}
        The amplitude scaling, unless ``scale_fn`` is given.
    gamma : float
        Base of ``'exp_range'``'s scaling ``gamma**t``.
    scale_fn : callable, optional
        Your own amplitude scaling ``x -> float``; ``scale_mode`` says whether ``x`` is the
        cycle number or the batch count.
    scale_mode : {'cycle', 'iterations'}
    cycle_momentum : bool
        Cycle ``momentum`` (or Adam's ``betas[0]``) inversely between ``base_momentum`` and
        ``max_momentum`` (default True; needs an optimizer with one of them).
    base_momentum, max_momentum : float or list of float
    last_epoch : int
        Index of the last batch; -1 starts a new schedule.
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float],
                 max_lr: float | list[float], step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                 scale_fn: Callable[[float], float] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.8,
                 max_momentum: float | list[float] = 0.9, last_epoch: int = -1) -> None:
        _check_optimizer("CyclicLR", optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group("CyclicLR", "base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("CyclicLR", "max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        if not (up > 0 and down >= 0):
            raise ValueError(f"CyclicLR: step_size_up must be > 0 and step_size_down >= 0, got "
                             f"{step_size_up!r} and {step_size_down!r}")
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None and mode not in _MODES:
            raise ValueError(f"CyclicLR: mode must be one of {_MODES} (or give scale_fn), got "
                             f"{mode!r}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got "
                             f"{scale_mode!r}")
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else (
            "iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"CyclicLR: cycle_momentum=True needs an optimizer with a "
                                 f"'momentum' or 'betas' option; {type(optimizer).__name__} has "
                                 "neither (pass cycle_momentum=False)")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group("CyclicLR", "base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("CyclicLR", "max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for mm, bm, group in zip(self.max_momentums, self.base_momentums,
                                         optimizer.param_groups):
                    self._set_momentum(group, mm)
                    group["max_momentum"] = mm
                    group["base_momentum"] = bm
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude factor at ``x`` (the cycle number or the batch count)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _set_momentum(self, group: dict[str, Any], m: float) -> None:
        if self.use_beta1:
            group["betas"] = (m, *tuple(group["betas"])[1:])
        else:
            group["momentum"] = m

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        f = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [lo + (hi - lo) * f * scale for lo, hi in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, lo, hi in zip(self.optimizer.param_groups, self.base_momentums,
                                     self.max_momentums):
                self._set_momentum(group, hi - (hi - lo) * f * scale)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """As the other schedulers' (a custom ``scale_fn`` is not saved: pass it again)."""
        return {k: v for k, v in super().state_dict().items() if k != "_scale_fn_custom"}
