"""Gradient-flow diagnostics: per-layer gradient and weight norms over training.

::

    flow = gg.glassbox.GradientFlow(model)
    for x, y in loader:
        loss = loss_fn(model(x), y)
        opt.zero_grad(); loss.backward()
        flow.record()           # gradient and weight norms of every layer
        opt.step()
        flow.record_update()    # ‖ΔW‖ / ‖W‖: how much this step changed each layer
    print(flow.summary()); flow.plot("flow.png")

What to look for:

* **vanishing gradients** — early layers get gradients orders of magnitude smaller than
  late ones (deep sigmoid/tanh nets: each layer multiplies δ by σ′ ≤ ¼). Warned when a
  layer's gradient norm is below ``vanish_ratio`` times the largest layer's, or below
  ``vanish_abs``.
* **exploding gradients** — norms above ``explode_abs`` or not finite.
* **update/weight ratio** ``‖ΔW‖/‖W‖`` — around 1e-3 per step is healthy for SGD; 1e-1
  means the layer is being rewritten every step, 1e-6 that it is not learning.
* **dead ReLUs** — ReLU units whose output is 0 for every example of the batch get no
  gradient and stop learning. Measured with forward hooks on ``nn.ReLU`` modules (the
  fraction of units dead for the whole batch); warned above ``dead_frac``.

Warnings are issued once per layer and kind (``warnings.warn`` with the layer name).
Everything is opt-in and costs one pass over the parameters per ``record`` call.

It is also a ``Trainer`` callback: ``Trainer(..., callbacks=[GradientFlow(model)])``
records every batch (``on_batch_begin`` keeps the weights, ``on_batch_end`` records the
gradients of the step and ``‖ΔW‖/‖W‖``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..backend import to_numpy

__all__ = ["GradientFlow", "GradientFlowWarning"]


class GradientFlowWarning(UserWarning):
    """Vanishing or exploding gradients, or dead ReLUs, in a named layer."""


def _sqnorm(a: Any) -> float:
    a = to_numpy(a).reshape(-1)
    return float(np.dot(a, a)) if a.dtype.kind == "f" else float(np.sum(np.abs(a) ** 2))


class GradientFlow:
    """Records per-layer gradient norms, weight norms, update ratios and dead-ReLU fractions.

    Parameters
    ----------
    model : nn.Module
    track_updates : bool
        Keep a copy of the weights at :meth:`record` so that :meth:`record_update` can
        measure ``‖ΔW‖/‖W‖`` (one copy of the parameters).
    relu_hooks : bool
        Register forward hooks on ``ReLU`` modules to measure dead units.
    vanish_ratio, vanish_abs, explode_abs, dead_frac : float
        Warning thresholds (see the module docstring).
    warn : bool
        Issue warnings (each layer/kind once).
    """

    def __init__(self, model: Any, track_updates: bool = True, relu_hooks: bool = True,
                 vanish_ratio: float = 1e-3, vanish_abs: float = 1e-8, explode_abs: float = 1e3,
                 dead_frac: float = 0.5, warn: bool = True) -> None:
        if not hasattr(model, "named_modules"):
            raise TypeError(f"GradientFlow: expected an nn.Module, got {type(model).__name__}")
        self.model = model
        self.track_updates = track_updates
        self.vanish_ratio, self.vanish_abs = vanish_ratio, vanish_abs
        self.explode_abs, self.dead_frac = explode_abs, dead_frac
        self.warn = warn
        # layers = modules owning parameters directly, in registration order
        self.layers: dict[str, list] = {}
        for name, m in model.named_modules():
            own = [p for _, p in m.named_parameters(recurse=False)]
            if own:
                self.layers[name or "(model)"] = own
        if not self.layers:
            raise ValueError("GradientFlow: the model has no parameters")
        self.steps: list[int] = []
        self.grad_norm: dict[str, list] = {k: [] for k in self.layers}
        self.weight_norm: dict[str, list] = {k: [] for k in self.layers}
        self.update_ratio: dict[str, list] = {k: [] for k in self.layers}
        self.dead: dict[str, list] = {}
        self._dead_now: dict[str, float] = {}
        self._snap: dict | None = None
        self._warned: set = set()
        self._handles: list = []
        if relu_hooks:
            for name, m in model.named_modules():
                if type(m).__name__ == "ReLU":
                    self.dead[name] = []
                    self._handles.append(m.register_forward_hook(self._relu_hook(name)))

    # ------------------------------------------------------------------ hooks
    def _relu_hook(self, name: str) -> Any:
        def hook(module: Any, inputs: Any, out: Any) -> None:
            a = to_numpy(out.array)
            if a.ndim < 2 or a.shape[0] == 0:
                return
            dead = ~(a != 0).any(axis=0)  # unit zero for the whole batch
            self._dead_now[name] = float(dead.mean())
        return hook

    def remove(self) -> None:
        """Unregister the ReLU forward hooks."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> GradientFlow:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    # ------------------------------------------------------------------ recording
    # ------------------------------------------------------------------ Trainer callback
    def on_batch_begin(self, trainer: Any, step: int) -> None:
        """As a ``Trainer`` callback: keep the weights before this step's update."""
        if self.track_updates:
            self._snap = {id(p): to_numpy(p.array).copy() for ps in self.layers.values() for p in ps}

    def on_batch_end(self, trainer: Any, step: int, logs: dict) -> None:
        """As a ``Trainer`` callback (after ``optimizer.step()``; ``.grad`` still holds
        this step's gradients): record gradient norms, weight norms and update ratios."""
        if self.track_updates and self._snap is not None:
            self.record_update()
        self.record(snapshot=False)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def record(self, snapshot: bool = True) -> dict:
        """Record this step's gradient and weight norm per layer (after ``backward``).
        Returns ``{layer: grad_norm}``. With ``snapshot`` (and ``track_updates``) keeps a
        copy of the weights for :meth:`record_update`."""
        step = len(self.steps)
        self.steps.append(step)
        out = {}
        for name, ps in self.layers.items():
            g2 = sum(_sqnorm(p.grad.array) for p in ps if p.grad is not None)
            has = any(p.grad is not None for p in ps)
            gn = math.sqrt(g2) if has else float("nan")
            wn = math.sqrt(sum(_sqnorm(p.array) for p in ps))
            self.grad_norm[name].append(gn)
            self.weight_norm[name].append(wn)
            out[name] = gn
        for name in self.dead:
            self.dead[name].append(self._dead_now.get(name, float("nan")))
        self._dead_now = {}
        if self.track_updates and snapshot:
            self._snap = {id(p): to_numpy(p.array).copy() for ps in self.layers.values() for p in ps}
        self._check(step)
        return out

    def record_update(self) -> dict:
        """After ``optimizer.step()``: record ``‖W_new − W_old‖ / ‖W_old‖`` per layer."""
        if self._snap is None:
            raise RuntimeError("GradientFlow.record_update: call record() before optimizer.step() "
                               "(with track_updates=True)")
        out = {}
        for name, ps in self.layers.items():
            d2 = w2 = 0.0
            for p in ps:
                old = self._snap[id(p)]
                d2 += _sqnorm(to_numpy(p.array) - old)
                w2 += _sqnorm(old)
            r = math.sqrt(d2) / math.sqrt(w2) if w2 > 0 else float("inf")
            self.update_ratio[name].append(r)
            out[name] = r
        self._snap = None
        return out

    def status(self) -> dict:
        """The latest step's verdict per layer: ``"exploding"`` (norm above ``explode_abs``
        or not finite), ``"vanishing"`` (below ``vanish_abs`` or ``vanish_ratio`` × the
        largest layer's), ``"ok"``, or ``""`` when the layer got no gradient. The same
        thresholds as the warnings; nothing is warned."""
        last = {k: v[-1] for k, v in self.grad_norm.items() if v and not math.isnan(v[-1])}
        top = max((v for v in last.values() if math.isfinite(v)), default=0.0)
        out = {}
        for name in self.layers:
            g = last.get(name)
            if g is None:
                out[name] = ""
            elif not math.isfinite(g) or g > self.explode_abs:
                out[name] = "exploding"
            elif g < self.vanish_abs or (top > 0 and g < self.vanish_ratio * top):
                out[name] = "vanishing"
            else:
                out[name] = "ok"
        return out

    def _check(self, step: int) -> None:
        if not self.warn:
            return
        last = {k: v[-1] for k, v in self.grad_norm.items() if v and not math.isnan(v[-1])}
        if not last:
            return
        top = max((v for v in last.values() if math.isfinite(v)), default=0.0)
        verdict = self.status()
        for name, g in last.items():
            if verdict[name] == "exploding":
                self._warn(name, "explode", f"exploding gradients in layer '{name}' at step {step}: "
                           f"gradient norm {g:.3g} (> {self.explode_abs:g})")
            elif verdict[name] == "vanishing":
                self._warn(name, "vanish", f"vanishing gradients in layer '{name}' at step {step}: "
                           f"gradient norm {g:.3g}, {g / top if top else 0:.1e} × the largest "
                           f"layer's ({top:.3g})")
        for name, v in self.dead.items():
            if v and v[-1] == v[-1] and v[-1] > self.dead_frac:
                self._warn(name, "dead", f"dead ReLUs in '{name}' at step {step}: {100 * v[-1]:.0f}% of "
                           "its units output 0 for the whole batch (no gradient flows through them)")

    def _warn(self, layer: str, kind: str, msg: str) -> None:
        if (layer, kind) in self._warned:
            return
        self._warned.add((layer, kind))
        warnings.warn(msg, GradientFlowWarning, stacklevel=3)

    # ------------------------------------------------------------------ reading
    def summary(self) -> str:
        """The latest values per layer as a text table."""
        rows = [("layer", "‖grad‖", "‖W‖", "‖ΔW‖/‖W‖", "dead ReLU")]
        for name in self.layers:
            g = self.grad_norm[name][-1] if self.grad_norm[name] else float("nan")
            w = self.weight_norm[name][-1] if self.weight_norm[name] else float("nan")
            u = self.update_ratio[name][-1] if self.update_ratio[name] else float("nan")
            rows.append((name, f"{g:.3g}", f"{w:.3g}", f"{u:.3g}", ""))
        for name, v in self.dead.items():
            rows.append((name + " (ReLU)", "", "", "", f"{100 * v[-1]:.0f}%" if v else ""))
        w = [max(len(r[i]) for r in rows) for i in range(5)]
        return "\n".join("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])
                                   for i, c in enumerate(r)).rstrip() for r in rows)

    def __repr__(self) -> str:
        return f"<GradientFlow: {len(self.layers)} layers, {len(self.steps)} steps recorded>"

    def plot(self, path: str | None = None, title: str | None = None) -> Any:
        """Plot gradient norms, update ratios and dead-ReLU fractions over training
        (needs matplotlib); see :func:`glassgrad.viz.flow.plot_gradient_flow`."""
        from ..viz.flow import plot_gradient_flow

        return plot_gradient_flow(self, path=path, title=title)
