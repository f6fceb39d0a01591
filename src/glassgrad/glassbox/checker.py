"""Gradient checking while training: compare a few gradient entries with finite differences.

::

    checker = gg.check_gradients(model, every=100, samples=3, tol=1e-2)
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        checker.step(model, lambda: F.cross_entropy(model(x), y))  # after backward
        opt.step()

Every ``every`` calls, for each parameter tensor, ``samples`` random entries ``θ_j`` are
perturbed in a float64 copy of the model and the loss is re-evaluated on the same batch:

    numeric_j = (L(θ + ε e_j) − L(θ − ε e_j)) / 2ε        (central difference, error O(ε²))

and compared with the gradient the backward produced (``p.grad``):

    rel_err = max(|analytic − numeric| − noise, 0) / max(|analytic|, |numeric|, g_layer, atol)

``g_layer`` is the largest ``|gradient|`` entry of the layer (all its parameters, the whole
backward gradient, not only the sampled entries): an entry whose true gradient is 0 — the
bias of a Linear feeding a BatchNorm — comes out of a float32 backward as ~1e-8 of rounding,
which is an error relative to the layer's gradients of ~1e-7, not of 100 %. ``noise`` is
the rounding error of the difference quotient itself, ``4 u max(|L(θ+εe_j)|, |L(θ−εe_j)|) / 2ε``
with ``u`` the unit roundoff of the precision of the finite differences. A wrong backward
(a missing factor, a wrong sign, a transposed product) shows as an error of order 1 on
the layer's scale; rounding in float32 stays below ~1e-5.

A layer whose largest error exceeds ``tol`` gets a ``warnings.warn`` naming it. Buffers
(BatchNorm running statistics) and the random-number state are restored around every
evaluation, so checking changes nothing in training. Dropout draws new masks on every
call, so check models with dropout in ``eval()`` mode.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..autograd.grad_mode import no_grad
from ..backend import to_numpy

__all__ = ["GradientChecker", "GradientCheckReport", "GradientCheckWarning", "check_gradients"]


class GradientCheckWarning(UserWarning):
    """A parameter's gradient disagrees with finite differences."""


@dataclass
class GradientCheckReport:
    """Result of one check.

    Attributes
    ----------
    step : int
        How many times ``step`` had been called (1 = the first call).
    entries : list of tuple
        ``(param_name, flat_index, analytic, numeric, rel_err)`` for every sampled entry.
    layers : dict
        Layer name → largest relative error among its sampled entries.
    scales : dict
        Layer name → ``g_layer``, the largest ``|gradient|`` entry of the layer (the scale
        the errors are measured against).
    dtype : str
        Precision of the finite differences (``float64`` unless the model refused it).
    tol : float
    """

    step: int
    entries: list = field(default_factory=list)
    layers: dict = field(default_factory=dict)
    scales: dict = field(default_factory=dict)
    dtype: str = "float64"
    tol: float = 1e-2

    @property
    def ok(self) -> bool:
        return all(e <= self.tol for e in self.layers.values())

    @property
    def max_error(self) -> float:
        return max(self.layers.values(), default=0.0)

    def __str__(self) -> str:
        lines = [f"gradient check (step {self.step}, finite differences in {self.dtype}, "
                 f"tol {self.tol:g})"]
        w = max([len(k) for k in self.layers] + [5])
        for layer, err in self.layers.items():
            flag = "OK" if err <= self.tol else "MISMATCH"
            lines.append(f"  {layer.ljust(w)}  max rel err {err:.2e}  {flag}")
        return "\n".join(lines)


def _layer_of(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else "(model)"


def _layer_labels(model: Any) -> dict:
    """Module name → ``"name (Class)"`` for the report."""
    out = {}
    if hasattr(model, "named_modules"):
        for name, m in model.named_modules():
            out[name or "(model)"] = f"{name or '(model)'} ({type(m).__name__})"
    return out


def _arity(fn: Callable) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 0
    return sum(1 for p in sig.parameters.values()
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


class GradientChecker:
    """Checks sampled gradient entries against central finite differences every N steps.

    A plain object with one method to call after ``backward``: :meth:`step`. Usable as a
    training callback.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable, optional
        Recomputes the loss on the current batch: ``loss_fn()`` or ``loss_fn(model)``.
        Can be given per call to :meth:`step` instead (a closure over the batch).
    every : int
        Check on the 1st call of :meth:`step` and then every ``every`` calls.
    samples : int
        Entries checked per parameter tensor.
    tol : float
        Relative error above which a layer is reported with ``warnings.warn``.
    eps : float
        Finite-difference step (float64).
    atol : float
        Floor of the denominator of the relative error, for a layer whose gradients are
        all near 0.
    seed : int
        Seed of the entry sampler (its own generator; training randomness is untouched).
    """

    def __init__(self, model: Any, loss_fn: Callable | None = None, every: int = 100,
                 samples: int = 3, tol: float = 1e-2, eps: float = 1e-6, atol: float = 1e-5,
                 seed: int = 0, warn: bool = True) -> None:
        if not hasattr(model, "named_parameters"):
            raise TypeError(f"check_gradients: expected an nn.Module, got {type(model).__name__}")
        if every < 1 or samples < 1:
            raise ValueError(f"check_gradients: every and samples must be >= 1, got every={every}, "
                             f"samples={samples}")
        self.model = model
        self.loss_fn = loss_fn
        self.every = int(every)
        self.samples = int(samples)
        self.tol = float(tol)
        self.eps = float(eps)
        self.atol = float(atol)
        self.warn = warn
        self.rng = np.random.default_rng(seed)
        self.calls = 0
        self.reports: list[GradientCheckReport] = []

    # ------------------------------------------------------------------ API
    def step(self, model: Any = None, closure: Callable | None = None) -> GradientCheckReport | None:
        """Call after ``loss.backward()`` (before ``optimizer.step()``). Runs a check on
        the first call and every ``every`` calls; returns its report, else None.

        Accepts ``step(closure)``, ``step(model, closure)`` or ``step()`` (uses ``loss_fn``).
        """
        if model is not None and closure is None and not hasattr(model, "named_parameters"):
            model, closure = None, model
        self.calls += 1
        if (self.calls - 1) % self.every:
            return None
        return self.check(closure, model=model)

    __call__ = step

    def on_after_backward(self, trainer: Any, x: Any, y: Any) -> GradientCheckReport | None:
        """Training-loop hook (after ``backward``, before ``optimizer.step()``): checks
        ``trainer.loss_fn(trainer.model(x), y)`` on the current batch ``(x, y)``."""
        model = trainer.model
        return self.step(model, lambda: trainer.loss_fn(model(x), y))

    def state_dict(self) -> dict:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict) -> None:
        self.calls = int(state.get("calls", 0))

    def check(self, closure: Callable | None = None, model: Any = None) -> GradientCheckReport:
        """Check now (see the module docstring)."""
        model = self.model if model is None else model
        fn = closure if closure is not None else self.loss_fn
        if fn is None:
            raise ValueError("check_gradients: no loss to check; pass loss_fn=... or "
                             "checker.step(model, closure) with a closure recomputing the loss")
        call = (lambda: fn(model)) if _arity(fn) >= 1 else fn
        if self.warn and not getattr(self, "_dropout_warned", False):
            active = [n for n, m in model.named_modules()
                      if type(m).__name__.startswith("Dropout") and getattr(m, "training", False)
                      and getattr(m, "p", 0) > 0] if hasattr(model, "named_modules") else []
            if active:
                self._dropout_warned = True
                warnings.warn(
                    f"check_gradients: dropout is active in {active} (training mode): the finite "
                    "differences see other dropout masks than the backward did, so errors will "
                    "look large; check with model.eval() or dropout off", GradientCheckWarning,
                    stacklevel=3)
        params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        picks: list[tuple[str, Any, np.ndarray]] = []
        for n, p in params:
            if p.grad is None:
                continue
            size = int(p.array.size)
            k = min(self.samples, size)
            picks.append((n, p, self.rng.choice(size, size=k, replace=False)))
        report = GradientCheckReport(step=self.calls, tol=self.tol)
        if not picks:
            raise RuntimeError("check_gradients: no parameter has a .grad; call step() after "
                               "loss.backward()")
        labels = _layer_labels(model)
        layer_of = {n: labels.get(_layer_of(n), _layer_of(n)) for n, _p, _i in picks}
        analytic = {}
        for n, p, idx in picks:
            g = to_numpy(p.grad.array).reshape(-1)
            analytic[n] = g[idx].astype(np.float64)
            top = float(np.max(np.abs(g))) if g.size else 0.0
            report.scales[layer_of[n]] = max(report.scales.get(layer_of[n], 0.0), top)
        numeric, noise, dtype = self._finite_differences(model, call, params, picks)
        report.dtype = dtype
        for n, _p, idx in picks:
            layer = layer_of[n]
            floor = max(report.scales[layer], self.atol)
            for j, a, num, nz in zip(idx, analytic[n], numeric[n], noise[n]):
                err = max(abs(a - num) - nz, 0.0) / max(abs(a), abs(num), floor)
                report.entries.append((n, int(j), float(a), float(num), float(err)))
                report.layers[layer] = max(report.layers.get(layer, 0.0), float(err))
        self.reports.append(report)
        if self.warn:
            for layer, err in report.layers.items():
                if err > self.tol:
                    worst = max((e for e in report.entries
                                 if labels.get(_layer_of(e[0]), _layer_of(e[0])) == layer),
                                key=lambda e: e[4])
                    warnings.warn(
                        f"gradient check (step {self.calls}): layer '{layer}' has relative error "
                        f"{err:.2e} > tol {self.tol:g}; worst entry {worst[0]}[{worst[1]}]: "
                        f"backward gave {worst[2]:.6g}, finite differences {worst[3]:.6g}",
                        GradientCheckWarning, stacklevel=3)
        return report

    # ------------------------------------------------------------------ internals
    def _finite_differences(self, model: Any, call: Callable, params: list, picks: list
                            ) -> tuple[dict, dict, str]:
        """Central differences of the sampled entries, and the rounding error of each."""
        from ..random import get_rng_state, set_rng_state

        originals = {id(p): p.array for _, p in params}
        buffers = [(b, b.array.copy()) for _, b in model.named_buffers()] \
            if hasattr(model, "named_buffers") else []
        rng_state = get_rng_state()

        def evaluate() -> float:
            set_rng_state(rng_state)
            with no_grad():
                v = call()
            for b, d in buffers:
                b.array = d.copy()
            return float(to_numpy(v.array if hasattr(v, "data") else v).reshape(-1)[0])

        numeric: dict = {}
        noise: dict = {}
        dtype = "float64"
        handle = None
        if hasattr(model, "register_forward_pre_hook"):
            # the batch is float32: cast the model's floating inputs to float64 too
            handle = model.register_forward_pre_hook(_cast_inputs_f64)
        try:
            for _, p in params:
                if p.array.dtype.kind == "f":
                    p.array = p.array.astype(np.float64)
            try:
                evaluate()
                eps = self.eps
            except (TypeError, ValueError, RuntimeError):
                # the model refuses float64 somewhere: fall back to its own dtype
                if handle is not None:
                    handle.remove()
                    handle = None
                for _, p in params:
                    p.array = originals[id(p)].copy()
                dtype = str(originals[id(params[0][1])].dtype)
                eps = 1e-2 if dtype in ("float32", "float16") else self.eps
            u = float(np.finfo(dtype).eps) / 2
            for n, p, idx in picks:
                flat = p.array.reshape(-1)
                vals, nz = [], []
                for j in idx:
                    old = flat[j]
                    flat[j] = old + eps
                    lp = evaluate()
                    flat[j] = old - eps
                    lm = evaluate()
                    flat[j] = old
                    vals.append((lp - lm) / (2 * eps))
                    nz.append(4 * u * max(abs(lp), abs(lm)) / (2 * eps))
                numeric[n] = vals
                noise[n] = nz
        finally:
            if handle is not None:
                handle.remove()
            for _, p in params:
                p.array = originals[id(p)]
            for b, d in buffers:
                b.array = d
            set_rng_state(rng_state)
        return numeric, noise, dtype


def _cast_inputs_f64(module: Any, args: tuple) -> tuple:
    from ..tensor import Tensor

    return tuple(Tensor._make(a.array.astype(np.float64), False)
                 if isinstance(a, Tensor) and a.array.dtype.kind == "f" and a.array.dtype != np.float64
                 else a for a in args)


def check_gradients(model: Any, loss_fn: Callable | None = None, every: int = 100,
                    samples: int = 3, tol: float = 1e-2, eps: float = 1e-6, atol: float = 1e-5,
                    seed: int = 0, warn: bool = True) -> GradientChecker:
    """A :class:`GradientChecker` for ``model``: call ``checker.step(model, closure)`` after
    each ``loss.backward()``; every ``every`` steps it compares ``samples`` random entries
    of each parameter's gradient with float64 central finite differences on the current
    batch and warns (naming the layer) where the relative error exceeds ``tol``."""
    return GradientChecker(model, loss_fn, every=every, samples=samples, tol=tol, eps=eps,
                           atol=atol, seed=seed, warn=warn)
