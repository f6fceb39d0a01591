"""Schedules stepped after every batch that cycle the rate, and the momentum the other
way: ``OneCycleLR`` (one warm-up and anneal, see its docstring) and ``CyclicLR``.

``CyclicLR`` (Smith, 2017, "Cyclical Learning Rates for Training Neural Networks"): with
``t`` the number of batches so far and a cycle of ``up + down`` batches::

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

from ..optimizer import Optimizer
from ._base import LRScheduler, _check_optimizer, _per_group


class _MomentumMixin:
    """Cycling ``momentum`` (SGD, RMSprop) or ``betas[0]`` (the Adam family) together with
    the rate, for :class:`OneCycleLR` and :class:`CyclicLR`."""

    use_beta1: bool

    def _init_momentum(self, sched: str, optimizer: Optimizer, base_momentum: Any,
                       max_momentum: Any, last_epoch: int) -> tuple[list[Any], list[Any]]:
        """Check the optimizer has a momentum, start every group at its ``max_momentum`` (a
        fresh schedule) and return the per-group ``(base_momentums, max_momentums)``."""
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(f"{sched}: cycle_momentum=True needs an optimizer with a "
                             f"'momentum' or 'betas' option; {type(optimizer).__name__} has "
                             "neither (pass cycle_momentum=False)")
        self.use_beta1 = "betas" in optimizer.defaults
        maxm = _per_group(sched, "max_momentum", optimizer, max_momentum)
        basem = _per_group(sched, "base_momentum", optimizer, base_momentum)
        if last_epoch == -1:
            for mm, bm, group in zip(maxm, basem, optimizer.param_groups):
                self._set_momentum(group, mm)
                group["max_momentum"] = mm
                group["base_momentum"] = bm
        return basem, maxm

    def _set_momentum(self, group: dict[str, Any], m: float) -> None:
        if self.use_beta1:
            group["betas"] = (m, *tuple(group["betas"])[1:])
        else:
            group["momentum"] = m


class OneCycleLR(_MomentumMixin, LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): warm up to ``max_lr``, then anneal far below
    the start; momentum cycles the opposite way. Step it after every *batch*.

    Two phases (default) over ``total_steps`` steps, with ``lr0 = max_lr / div_factor`` and
    ``lr_min = lr0 / final_div_factor``:

    1. steps ``0 .. pct_start * total_steps - 1``: ``lr0 -> max_lr``, momentum
       ``max_momentum -> base_momentum``;
    2. then up to ``total_steps - 1``: ``max_lr -> lr_min``, momentum back up to
       ``max_momentum``.

    ``three_phase=True`` instead goes ``lr0 -> max_lr -> lr0`` symmetrically, then
    ``lr0 -> lr_min``. Each phase interpolates with ``anneal_strategy``: ``'cos'``
    (``end + (start - end) * (1 + cos(pi * pct)) / 2``) or ``'linear'``.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of float
        Peak learning rate (per group).
    total_steps : int, optional
        Length of the cycle; or give ``epochs`` and ``steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
    pct_start : float
        Fraction of the cycle spent warming up (default 0.3).
    anneal_strategy : {'cos', 'linear'}
    cycle_momentum : bool
        Also cycle ``momentum`` (SGD, RMSprop) or ``betas[0]`` (Adam, AdamW) between
        ``base_momentum`` and ``max_momentum`` (default True).
    base_momentum, max_momentum : float or list of float
        Defaults 0.85 and 0.95.
    div_factor : float
        ``initial_lr = max_lr / div_factor`` (default 25).
    final_div_factor : float
        ``min_lr = initial_lr / final_div_factor`` (default 1e4).
    three_phase : bool
    last_epoch : int
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85, max_momentum: float | list[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        _check_optimizer("OneCycleLR", optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"OneCycleLR: expected a positive integer total_steps, got {total_steps!r}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"OneCycleLR: expected a positive integer epochs, got {epochs!r}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"OneCycleLR: expected a positive integer steps_per_epoch, got "
                                 f"{steps_per_epoch!r}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: give either total_steps or both epochs and steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: expected a float pct_start in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        n = self.total_steps
        if three_phase:
            self._schedule_phases = [
                dict(end_step=float(pct_start * n) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * n) - 2, start_lr="max_lr", end_lr="initial_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
                dict(end_step=n - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._schedule_phases = [
                dict(end_step=float(pct_start * n) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=n - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]
        max_lrs = _per_group("OneCycleLR", "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self._init_momentum("OneCycleLR", optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the schedule has "
                             f"total_steps={self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, ph in enumerate(self._schedule_phases):
                end = ph["end_step"]
                if step <= end or i == len(self._schedule_phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = self._anneal(group[ph["start_lr"]], group[ph["end_lr"]], pct)
                    if self.cycle_momentum:
                        mom = self._anneal(group[ph["start_momentum"]], group[ph["end_momentum"]], pct)
                    break
                start = ph["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                self._set_momentum(group, mom)
        return lrs


_MODES = ("triangular", "triangular2", "exp_range")


class CyclicLR(_MomentumMixin, LRScheduler):
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
            self.base_momentums, self.max_momentums = self._init_momentum(
                "CyclicLR", optimizer, base_momentum, max_momentum, last_epoch)
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
