"""One playground session: a configuration, its data, model, optimizer and training thread.

Everything here runs glassgrad itself: the toy data sets of :mod:`glassgrad.data`, the MLP,
loss and optimizer that ``glassgrad train`` builds, a :func:`glassgrad.trace` of the
backward of the batch shown, and a :class:`~glassgrad.glassbox.GradientFlow` per model.
A session turns that into JSON snapshots (:meth:`Session.snapshot`) that the page draws.

glassgrad's autograd state (grad mode, trace observers) is process-wide, so every piece of
glassgrad work of every session runs under one lock (:data:`COMPUTE_LOCK`).
"""

from __future__ import annotations

import base64
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd.grad_mode import no_grad
from ..glassbox.trace import trace
from ..nn.functional import softmax
from ..random import manual_seed
from ..tensor import tensor

__all__ = ["Limits", "ConfigError", "Session", "validate_config", "default_config", "COMPUTE_LOCK"]

COMPUTE_LOCK = threading.Lock()

DATASETS = ("xor", "moons", "circles", "spirals", "blobs")
ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("ce", "mse")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")


class ConfigError(ValueError):
    """A bad playground setting; the message names the setting and what was expected."""


@dataclass
class Limits:
    """Bounds on what one session may ask for (each configurable on the server)."""

    max_width: int = 64
    max_layers: int = 6
    max_samples: int = 2000
    min_samples: int = 20
    max_lr: float = 10.0
    max_noise: float = 1.0
    grid: int = 48  # decision-boundary resolution (grid × grid points)
    neuron_grid: int = 20  # resolution of each hidden neuron's heat map
    max_batch_rows: int = 64  # rows of δ shown (the first rows of the batch)


def default_config(dataset: str = "moons") -> dict:
    """The configuration a new page starts with: ``glassgrad train``'s per-data-set defaults."""
    from ..train.recipes import _DEFAULTS, _default_lr

    d = _DEFAULTS[dataset]
    n = min(int(d["data"].get("n_samples", 400)), Limits.max_samples)
    return {"dataset": dataset, "noise": float(d["data"].get("noise", 0.1)), "samples": n,
            "hidden": str(d["hidden"]), "activation": d["activation"], "loss": "ce",
            "optimizer": "adam", "lr": _default_lr(dataset, "adam"), "batch_size": int(d["batch_size"]),
            "seed": 0}


def _num(cfg: dict, key: str, label: str, integer: bool = False) -> float:
    v = cfg.get(key)
    if isinstance(v, bool) or v is None:
        raise ConfigError(f"{label} must be a number, got {v!r}")
    if isinstance(v, str):
        s = v.strip()
        try:
            v = int(s) if integer else float(s)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise ConfigError(f"{label} must be {kind}, got {v!r}") from None
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{label} must be a finite number, got {v!r}")
    if integer:
        if float(v) != int(v):
            raise ConfigError(f"{label} must be a whole number, got {v!r}")
        return int(v)
    return float(v)


def _choice(cfg: dict, key: str, label: str, options: tuple) -> str:
    v = cfg.get(key)
    if v not in options:
        raise ConfigError(f"{label} must be one of {', '.join(options)}; got {v!r}")
    return v


def validate_config(cfg: Any, limits: Limits | None = None) -> dict:
    """Check a configuration from the page; returns it normalised (numbers parsed, hidden
    widths as a list). Raises :class:`ConfigError` naming the first bad setting."""
    lim = limits or Limits()
    if not isinstance(cfg, dict):
        raise ConfigError(f"the configuration must be a JSON object, got {type(cfg).__name__}")
    base = default_config(cfg["dataset"]) if cfg.get("dataset") in DATASETS else default_config()
    cfg = {**base, **cfg}
    out: dict[str, Any] = {"dataset": _choice(cfg, "dataset", "data set", DATASETS)}
    out["noise"] = _num(cfg, "noise", "noise")
    if not 0 <= out["noise"] <= lim.max_noise:
        raise ConfigError(f"noise must be between 0 and {lim.max_noise:g}, got {out['noise']:g}")
    out["samples"] = _num(cfg, "samples", "number of samples", integer=True)
    if not lim.min_samples <= out["samples"] <= lim.max_samples:
        raise ConfigError(f"number of samples must be between {lim.min_samples} and {lim.max_samples}, "
                          f"got {out['samples']}")
    hidden = cfg.get("hidden")
    if isinstance(hidden, str):
        parts = [p.strip() for p in hidden.replace(" ", ",").split(",") if p.strip()]
    elif isinstance(hidden, (list, tuple)):
        parts = list(hidden)
    else:
        raise ConfigError(f"hidden layers must be widths separated by commas (e.g. 8,8), got {hidden!r}")
    if len(parts) > lim.max_layers:
        raise ConfigError(f"at most {lim.max_layers} hidden layers, got {len(parts)}")
    widths = []
    for i, p in enumerate(parts):
        w = _num({"w": p}, "w", f"hidden layer {i + 1} width", integer=True)
        if not 1 <= w <= lim.max_width:
            raise ConfigError(f"hidden layer {i + 1} width must be between 1 and {lim.max_width} neurons, "
                              f"got {w}")
        widths.append(w)
    out["hidden"] = widths
    out["activation"] = _choice(cfg, "activation", "activation", ACTIVATIONS)
    out["loss"] = _choice(cfg, "loss", "loss", LOSSES)
    out["optimizer"] = _choice(cfg, "optimizer", "optimizer", OPTIMIZERS)
    out["lr"] = _num(cfg, "lr", "learning rate")
    if not 0 < out["lr"] <= lim.max_lr:
        raise ConfigError(f"learning rate must be > 0 and at most {lim.max_lr:g}, got {out['lr']:g}")
    out["batch_size"] = _num(cfg, "batch_size", "batch size", integer=True)
    n_train = out["samples"] - int(round(out["samples"] * 0.2))
    if not 1 <= out["batch_size"] <= n_train:
        raise ConfigError(f"batch size must be between 1 and the {n_train} training points, "
                          f"got {out['batch_size']}")
    out["seed"] = _num(cfg, "seed", "seed", integer=True)
    if not 0 <= out["seed"] < 2**31:
        raise ConfigError(f"seed must be between 0 and {2**31 - 1}, got {out['seed']}")
    return out


def _u8(a: np.ndarray, signed: bool) -> tuple[str, float]:
    """Quantise an array to bytes for a heat map: base64 text and the scale used.
    ``signed``: 0 ↦ 127.5, ±scale ↦ 0/255; else [0, scale] ↦ [0, 255]."""
    a = np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    m = float(np.abs(a).max()) if a.size else 0.0
    if m == 0:
        q = np.full(a.shape, 128 if signed else 0, dtype=np.uint8)
    elif signed:
        q = np.clip(np.round((a / m + 1) * 127.5), 0, 255).astype(np.uint8)
    else:
        q = np.clip(np.round(np.abs(a) / m * 255), 0, 255).astype(np.uint8)
    return base64.b64encode(q.tobytes()).decode("ascii"), m


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


class Session:
    """A model being trained for one browser tab.

    Parameters
    ----------
    sid : str
        The session id (the page sends it with every request).
    limits : Limits
    steps_per_second : float
        Upper bound on training steps per second while running (0: as fast as possible).
    snapshot_interval : float
        Seconds between snapshots sent while running.
    """

    def __init__(self, sid: str, limits: Limits | None = None, steps_per_second: float = 40.0,
                 snapshot_interval: float = 0.2) -> None:
        self.id = sid
        self.limits = limits or Limits()
        self.steps_per_second = steps_per_second
        self.snapshot_interval = snapshot_interval
        self.lock = threading.RLock()  # guards this session's fields
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.latest: dict | None = None
        self.running = False
        self.closed = False
        self.message = ""
        self.last_seen = time.monotonic()
        self.streams = 0
        self.configure(default_config())
        self._thread = threading.Thread(target=self._run, name=f"playground-{sid[:8]}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ building
    def configure(self, raw: Any) -> None:
        """Validate ``raw`` and rebuild data, model and optimizer (training restarts)."""
        cfg = validate_config(raw, self.limits)
        with self.lock, COMPUTE_LOCK:
            self._build(cfg)
            self._publish()

    def _build(self, cfg: dict) -> None:
        from .. import data as D
        from ..glassbox import GradientFlow
        from ..train.recipes import _DEFAULTS, _split, build_loss, build_model, build_optimizer

        name = cfg["dataset"]
        kw = dict(_DEFAULTS[name]["data"])
        kw.update(n_samples=cfg["samples"], noise=cfg["noise"])
        if name == "blobs":
            kw.pop("noise")
            kw["cluster_std"] = 0.5 + 2.0 * cfg["noise"]
        if name == "xor":
            kw["shuffle"] = True
        X, y = getattr(D, f"make_{name}")(**kw, seed=cfg["seed"])
        X, y = X.numpy().astype(np.float32), y.numpy().astype(np.int64)
        self.Xtr, self.ytr, self.Xte, self.yte = _split(X, y, 0.2, cfg["seed"])
        self.classes = int(y.max()) + 1
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-3
        self.extent = [float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]),
                       float(hi[1] + pad[1])]
        g = self.limits.grid
        gx, gy = np.meshgrid(np.linspace(self.extent[0], self.extent[1], g),
                             np.linspace(self.extent[3], self.extent[2], g))  # row 0 at the top
        self.grid_points = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
        ng = self.limits.neuron_grid
        nx, ny = np.meshgrid(np.linspace(self.extent[0], self.extent[1], ng),
                             np.linspace(self.extent[3], self.extent[2], ng))
        self.neuron_points = np.stack([nx.ravel(), ny.ravel()], 1).astype(np.float32)
        manual_seed(cfg["seed"])
        self.model = build_model(2, cfg["hidden"], self.classes, cfg["activation"])
        self.loss_fn = build_loss(cfg["loss"], self.classes)
        self.opt = build_optimizer(cfg["optimizer"], self.model.parameters(), cfg["lr"], 0.0)
        self.flow = GradientFlow(self.model, track_updates=False, relu_hooks=False, warn=False)
        self.config = cfg
        self.step_count = 0
        self.rng = np.random.default_rng(cfg["seed"] + 7)
        self.order = self.rng.permutation(len(self.Xtr))
        self.pos = 0
        self.history: list[list] = []
        self.last_trace: Any = None
        self.last_batch: tuple | None = None
        self.linear_names = [n for n, m in self.model.named_modules() if type(m).__name__ == "Linear"]
        self.message = ""

    # ------------------------------------------------------------------ training
    def _batch(self) -> tuple[np.ndarray, np.ndarray]:
        b = self.config["batch_size"]
        if self.pos + b > len(self.order):
            self.order = self.rng.permutation(len(self.Xtr))
            self.pos = 0
        idx = self.order[self.pos:self.pos + b]
        self.pos += b
        return self.Xtr[idx], self.ytr[idx]

    def _step(self, traced: bool) -> None:
        """One optimizer step on the next batch (caller holds both locks)."""
        xb, yb = self._batch()
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(tensor(xb)), tensor(yb))
        if traced:
            with trace(model=self.model, keep_values=True) as t:
                loss.backward()
            self.last_trace = t
            self.last_batch = (xb, yb)
        else:
            loss.backward()
        self.flow.record(snapshot=False)
        self.opt.step()
        self.step_count += 1
        self.batch_loss = float(loss.item())
        if not math.isfinite(self.batch_loss):
            self.running = False
            self.message = (f"training diverged at step {self.step_count} (the batch loss is "
                            f"{self.batch_loss}): lower the learning rate and reset")

    def step(self, n: int = 1) -> None:
        """Run ``n`` steps now and publish a snapshot (the last step is traced)."""
        with self.lock, COMPUTE_LOCK:
            try:
                for i in range(n):
                    self._step(traced=i == n - 1)
                    if self.message:
                        break
            except Exception as e:
                self.message = f"training stopped: {type(e).__name__}: {e}"
            self._publish()

    def _run(self) -> None:
        next_snap = 0.0
        while True:
            with self.lock:
                while not self.running and not self.closed:
                    self.changed.wait()
                if self.closed:
                    return
                now = time.monotonic()
                traced = now >= next_snap
                with COMPUTE_LOCK:
                    try:
                        self._step(traced)
                        if traced:
                            self._publish()
                            next_snap = now + self.snapshot_interval
                    except Exception as e:  # a diverging run must not kill the thread
                        self.running = False
                        self.message = f"training stopped: {type(e).__name__}: {e}"
                        self._publish()
            if self.steps_per_second > 0:
                time.sleep(1.0 / self.steps_per_second)
            else:
                time.sleep(0)

    def set_running(self, running: bool) -> None:
        with self.lock:
            self.running = running
            with COMPUTE_LOCK:
                self._publish()

    def reset(self) -> None:
        with self.lock:
            self.running = False
            with COMPUTE_LOCK:
                self._build(self.config)
                self._publish()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.running = False
            self.changed.notify_all()

    # ------------------------------------------------------------------ snapshots
    def _eval_loss(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        with no_grad():
            out = self.model(tensor(X))
            loss = float(self.loss_fn(out, tensor(y)).item())
        acc = float((out.numpy().argmax(1) == y).mean())
        return loss, acc

    def _publish(self) -> None:
        """Compute a snapshot and wake the event streams (caller holds both locks)."""
        self.latest = self.snapshot()
        self.version += 1
        self.changed.notify_all()

    def snapshot(self) -> dict:
        """Everything the page draws, as JSON-ready data (caller holds the compute lock)."""
        tr_loss, tr_acc = self._eval_loss(self.Xtr, self.ytr)
        te_loss, te_acc = self._eval_loss(self.Xte, self.yte)
        if not self.history or self.history[-1][0] != self.step_count:
            self.history.append([self.step_count, _finite(tr_loss), _finite(te_loss)])
            if len(self.history) > 600:  # keep the curve light: drop every other old point
                self.history = self.history[:300:2] + self.history[300:]
        with no_grad():
            probs = softmax(self.model(tensor(self.grid_points)), dim=1).numpy()
            # hidden neuron outputs: the output of every activation module
            h = tensor(self.neuron_points)
            neurons = []
            mods = list(self.model.children())
            for i, m in enumerate(mods):
                h = m(h)
                if type(m).__name__ != "Linear" and i < len(mods) - 1:
                    a = h.numpy()
                    signed = self.config["activation"] == "tanh"
                    neurons.append([{"data": _u8(a[:, j], signed)[0], "signed": signed}
                                    for j in range(a.shape[1])])
        cls = probs.argmax(1)
        conf = np.nan_to_num(probs.max(1), nan=0.0)
        k = self.classes
        conf_n = (conf - 1.0 / k) / (1 - 1.0 / k)
        boundary = (cls * 64 + np.clip(np.round(conf_n * 63), 0, 63)).astype(np.uint8)
        layers = self._layers()
        flow = self._flow()
        return {
            "id": self.id, "step": self.step_count, "running": self.running, "message": self.message,
            "config": {**self.config, "hidden": ",".join(map(str, self.config["hidden"]))},
            "classes": k, "extent": self.extent,
            "points": {"train": np.round(self.Xtr, 4).tolist(), "train_y": self.ytr.tolist(),
                       "test": np.round(self.Xte, 4).tolist(), "test_y": self.yte.tolist()},
            "metrics": {"train_loss": _finite(tr_loss), "test_loss": _finite(te_loss),
                        "train_acc": tr_acc, "test_acc": te_acc},
            "history": self.history,
            "boundary": {"size": self.limits.grid,
                         "data": base64.b64encode(boundary.tobytes()).decode("ascii")},
            "neurons": {"size": self.limits.neuron_grid, "layers": neurons},
            "layers": layers, "flow": flow,
        }

    def _layers(self) -> list[dict]:
        """Per Linear layer: δ = ∂L/∂Z, ∂W and ∂b of the traced batch as heat maps."""
        out = []
        t = self.last_trace
        for i, name in enumerate(self.linear_names):
            mod = dict(self.model.named_modules())[name]
            d = {"index": i, "name": f"model.{name}", "in": int(mod.in_features),
                 "out": int(mod.out_features), "grads": []}
            recs = t.find(module=f"model.{name} ") if t is not None else []
            if recs:
                r = recs[0]
                for g in (r.received[0], r.grad("dW"), r.grad("db")):
                    v = np.asarray(g.value)
                    shown = v[: self.limits.max_batch_rows] if g.name == "dY" else v
                    data, scale = _u8(shown if shown.ndim == 2 else shown[None, :], True)
                    d["grads"].append({
                        "name": "δ = ∂L/∂Z" if g.name == "dY" else ("∂W" if g.name == "dW" else "∂b"),
                        "shape": list(v.shape), "shown": list(shown.shape if shown.ndim == 2
                                                              else (1, shown.shape[0])),
                        "norm": _finite(g.stats.norm) if g.stats else None, "scale": scale, "data": data})
            out.append(d)
        return out

    def _flow(self) -> list[dict]:
        """Gradient norm per layer at the latest step, flagged as GradientFlow flags it."""
        f = self.flow
        status = f.status() if f.steps else {}
        return [{"layer": f"model.{n}", "grad_norm": _finite(f.grad_norm[n][-1]) if f.grad_norm[n] else None,
                 "weight_norm": _finite(f.weight_norm[n][-1]) if f.weight_norm[n] else None,
                 "status": status.get(n, "")} for n in f.layers]

    def trace_row(self, layer: int) -> dict:
        """The trace record of layer ``layer`` (0-based among the Linear layers) for the
        batch shown, plus the activation's record: formulas, shapes, broadcast sums."""
        with self.lock:
            if not isinstance(layer, int) or not 0 <= layer < len(self.linear_names):
                raise ConfigError(f"layer must be between 0 and {len(self.linear_names) - 1}, got {layer!r}")
            if self.last_trace is None:
                raise ConfigError("no batch has been traced yet: press step or start first")
            name = self.linear_names[layer]
            rows = [r.to_dict() for r in self.last_trace.find(module=f"model.{name} ")]
            mods = [n for n, _ in self.model.named_modules() if n]
            nxt = mods[mods.index(name) + 1] if mods.index(name) + 1 < len(mods) else None
            if nxt is not None:
                rows += [r.to_dict() for r in self.last_trace.find(module=f"model.{nxt} ")]
            sigs = [r.signature for r in self.last_trace.find(module=f"model.{name} ")]
            return {"layer": layer, "module": f"model.{name}", "signature": sigs[0] if sigs else "",
                    "rows": rows, "step": self.step_count}
