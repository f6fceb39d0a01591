"""A small training loop: :class:`Trainer` / :func:`fit`, :func:`evaluate`, :func:`accuracy`.

The loop is the one you would write by hand — this module only saves typing::

    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)   # optional
            optimizer.step()
        scheduler.step()                                            # optional
        model.eval()
        with gg.no_grad():
            val_loss = sum(loss_fn(model(x), y).item() * len(x) for x, y in val_loader) / n_val

With the utility::

    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, scheduler=sched,
                      callbacks=[EarlyStopping(patience=5)], grad_clip=1.0)
    history = trainer.fit(train_loader, val_loader, epochs=20)
    history.to_csv("metrics.csv")
    trainer.save_checkpoint("run.ckpt")          # resume later with trainer.load_checkpoint

What it adds: per-epoch train/val loss and accuracy (sample-weighted means), a History,
callbacks, LR schedulers stepped per epoch or per step (``ReduceLROnPlateau`` gets the
validation loss), gradient clipping, a progress bar (tqdm, only on a terminal) or one
line per epoch, a clear error when the loss becomes nan/inf, and checkpoints that resume
bit for bit (they include the RNG and DataLoader-generator states).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, Callable

import numpy as np

from ..allocator import tune_for_training
from ..autograd.capture import capture
from ..tensor import Tensor
from .callbacks import Callback
from .history import History
from .progressbar import make_bar

__all__ = ["Trainer", "fit", "evaluate", "accuracy", "save_checkpoint", "load_checkpoint",
           "CHECKPOINT_KIND"]

CHECKPOINT_KIND = "glassgrad-training-checkpoint"


# ---------------------------------------------------------------------------- metrics
def _arr(x: Any) -> np.ndarray:
    from ..backend import to_numpy
    from ..tensor import Tensor

    if isinstance(x, Tensor):
        return to_numpy(x.array)
    return to_numpy(np.asarray(x)) if not isinstance(x, np.ndarray) else x


def accuracy(output: Any, target: Any, threshold: float | None = None) -> float:
    """Fraction of correct predictions in a batch.

    Parameters
    ----------
    output : Tensor or array, shape (N, C) or (N,)/(N, 1)
        Scores. With C ≥ 2 columns the prediction is the argmax. With one column it is
        ``output > threshold``; by default the threshold is 0.5 when all outputs lie in
        [0, 1] (probabilities, e.g. after a sigmoid) and 0 otherwise (logits).
    target : Tensor or array, shape (N,) class indices, or (N, C) one-hot / (N, 1) 0-1 targets
    threshold : float, optional

    Returns
    -------
    float
    """
    o, t = _arr(output), _arr(target)
    if o.ndim == 2 and o.shape[1] >= 2:
        pred = o.argmax(1)
        if t.ndim == 2 and t.shape[1] == o.shape[1]:
            t = t.argmax(1)
        t = t.reshape(-1)
    else:
        o = o.reshape(len(o), -1)
        if o.shape[1] != 1:
            raise ValueError(f"accuracy: output of shape {o.shape} is neither (N, C) nor (N, 1)")
        o = o[:, 0]
        if threshold is None:
            threshold = 0.5 if (o.size and o.min() >= 0 and o.max() <= 1) else 0.0
        pred = (o > threshold).astype(np.int64)
        t = t.reshape(-1)
        if t.dtype.kind == "f":
            t = (t > 0.5).astype(np.int64)
    if t.shape[0] != pred.shape[0]:
        raise ValueError(f"accuracy: {pred.shape[0]} predictions but {t.shape[0]} targets "
                         f"(output shape {o.shape}, target shape {_arr(target).shape})")
    return float((pred == t).mean()) if pred.size else math.nan


_METRICS: dict[str, tuple[str, Callable[[Any, Any], float]]] = {
    "accuracy": ("acc", accuracy),
    "acc": ("acc", accuracy),
}


def _resolve_metrics(metrics: Any) -> list[tuple[str, Callable[[Any, Any], float]]]:
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    if isinstance(metrics, dict):
        return [(str(k), v) for k, v in metrics.items()]
    out = []
    for m in metrics:
        if isinstance(m, str):
            if m not in _METRICS:
                raise ValueError(f"Trainer: unknown metric {m!r}; known: {sorted(_METRICS)} "
                                 "(or pass a function (output, target) -> float)")
            out.append(_METRICS[m])
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise TypeError(f"Trainer: metrics must be names or callables, got {type(m).__name__}")
    return out


def _split_batch(batch: Any) -> tuple[Any, Any]:
    from ..tensor import Tensor

    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        x, y = batch
    else:
        got = f"a {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list))
                                             else "")
        raise TypeError(f"Trainer: each batch must be a pair (inputs, targets), got {got}")
    if isinstance(x, np.ndarray):
        x = Tensor._make(x, False)
    if isinstance(y, np.ndarray):
        y = Tensor._make(y, False)
    return x, y


def _batch_len(x: Any) -> int:
    s = getattr(x, "shape", None)
    return int(s[0]) if s else 1


def _is_plateau(scheduler: Any) -> bool:
    return any(c.__name__ == "ReduceLROnPlateau" for c in type(scheduler).__mro__)


# ---------------------------------------------------------------------------- evaluation
def evaluate(model: Callable[[Any], Any], loader: Iterable, loss_fn: Callable[[Any, Any], Any] | None = None,
             metrics: Any = ("accuracy",)) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader`` (eval mode, no gradients).

    Parameters
    ----------
    model : Module or callable
    loader : iterable of (inputs, targets)
    loss_fn : callable, optional
        Averaged per sample (batch means weighted by batch size).
    metrics : sequence of str or callables
        Default: accuracy (key ``'acc'``).

    Returns
    -------
    dict
        ``{'loss': ..., 'acc': ..., 'n': number of samples}``.
    """
    from ..autograd.grad_mode import no_grad

    mets = _resolve_metrics(metrics)
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    tot = {"loss": 0.0, **{k: 0.0 for k, _ in mets}}
    n = 0
    try:
        with no_grad():
            for batch in loader:
                x, y = _split_batch(batch)
                out = model(x)
                b = _batch_len(x)
                if loss_fn is not None:
                    tot["loss"] += float(_arr(loss_fn(out, y))) * b
                for k, fn in mets:
                    tot[k] += float(fn(out, y)) * b
                n += b
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    res = {k: (v / n if n else math.nan) for k, v in tot.items()}
    if loss_fn is None:
        del res["loss"]
    res["n"] = n
    return res


# ---------------------------------------------------------------------------- checkpoints
def _generator_of(loader: Any) -> Any:
    g = getattr(loader, "generator", None)
    return g if g is not None and hasattr(g, "get_state") else None


def save_checkpoint(path: Any, model: Any, optimizer: Any = None, scheduler: Any = None, epoch: int = 0,
                    loaders: Sequence[Any] = (), history: dict | None = None,
                    extra: dict | None = None) -> None:
    """Write a training checkpoint with :func:`glassgrad.save`.

    It holds ``model`` (state_dict), ``optimizer``, ``scheduler``, ``epoch``, ``history``,
    ``rng`` (``gg.get_rng_state()``), ``generators`` (the state of each loader's
    ``generator``, ``None`` where a loader has none), ``extra`` and a ``kind`` marker.
    """
    from ..random import get_rng_state
    from ..serialization import save

    ckpt = {
        "kind": CHECKPOINT_KIND,
        "version": 1,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": dict(history) if history is not None else None,
        "rng": get_rng_state(),
        "generators": [g.get_state() if (g := _generator_of(ld)) is not None else None
                       for ld in loaders],
        "extra": extra or {},
    }
    save(ckpt, path)


def load_checkpoint(path: Any, model: Any = None, optimizer: Any = None, scheduler: Any = None,
                    loaders: Sequence[Any] = (), restore_rng: bool = True, strict: bool = True) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` and restore what is passed in.

    Parameters
    ----------
    path : str or path-like
    model, optimizer, scheduler : optional
        Objects whose ``load_state_dict`` receives the saved state.
    loaders : sequence of DataLoader
        Their ``generator`` states are restored (same order as when saved).
    restore_rng : bool
        Restore the global generator (``gg.set_rng_state``).
    strict : bool
        Passed to ``model.load_state_dict``.

    Returns
    -------
    dict
        The whole checkpoint (``epoch``, ``history``, ``extra``, ...).
    """
    from ..random import set_rng_state
    from ..serialization import CheckpointError, load

    ckpt = load(path)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(
            f"load_checkpoint: {str(path)!r} is a glassgrad file but not a training checkpoint "
            "(no 'kind' marker); load it with gg.load"
        )
    if model is not None:
        model.load_state_dict(ckpt["model"], strict=strict)
    if optimizer is not None:
        if ckpt.get("optimizer") is None:
            raise CheckpointError(f"load_checkpoint: {str(path)!r} has no optimizer state")
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        if ckpt.get("scheduler") is None:
            raise CheckpointError(f"load_checkpoint: {str(path)!r} has no scheduler state")
        scheduler.load_state_dict(ckpt["scheduler"])
    if restore_rng and ckpt.get("rng") is not None:
        set_rng_state(ckpt["rng"])
    _restore_generators(loaders, ckpt.get("generators") or [])
    return ckpt


def _restore_generators(loaders: Sequence[Any], states: Sequence[Any]) -> None:
    for ld, st in zip(loaders, states):
        if ld is None or st is None:
            continue
        g = _generator_of(ld)
        if g is None:
            raise ValueError("load_checkpoint: the checkpoint has a DataLoader generator state but the "
                             "loader passed has no generator (create it with generator=gg.Generator())")
        g.set_state(st)


def _output_and_loss(model: Any, loss_fn: Callable[[Any, Any], Any], x: Any, y: Any) -> tuple:
    out = model(x)
    return out, loss_fn(out, y)


# ---------------------------------------------------------------------------- Trainer
class Trainer:
    """Train a model over DataLoaders with metrics, callbacks, schedulers and checkpoints.

    Parameters
    ----------
    model : Module
    loss_fn : callable
        ``loss_fn(output, target)`` -> scalar Tensor (batch mean), e.g. ``nn.CrossEntropyLoss()``.
    optimizer : Optimizer
    scheduler : LR scheduler, optional
        Stepped after every epoch (``scheduler_interval='epoch'``) or every optimizer step
        (``'step'``). ``ReduceLROnPlateau`` is stepped per epoch with the validation loss
        (the training loss when there is no validation loader).
    callbacks : sequence of Callback
    grad_clip : float, optional
        Clip the global gradient norm to this value (``nn.utils.clip_grad_norm_``).
    metrics : sequence of str or callables
        ``'accuracy'`` (logged as ``acc``) or functions ``(output, target) -> float``; ``None``
        or ``()`` for regression.
    scheduler_interval : {'epoch', 'step'}
    verbose : int
        0: silent. 1: a progress bar while an epoch runs (when ``progress`` is on and stdout
        is a terminal) and one summary line per epoch (every ``log_every`` epochs).
    log_every : int, optional
        Print every this many epochs (default: about 10 lines per ``fit``; first, last and
        early-stopped epochs always print).
    extra : dict, optional
        Stored in checkpoints (e.g. how to rebuild the model and data).
    capture : bool
        Record the model's forward and the loss once per batch shape with
        :func:`glassgrad.capture` and replay them on the next batches: the same arithmetic
        with less bookkeeping per op (see ``bench/bench_mnist_mlp.py``). A model that does
        something a replay cannot reproduce raises ``CaptureError`` on the first batch.
    progress : bool
        Show a tqdm bar over each epoch's batches (only with ``verbose >= 1`` and when stdout
        is a terminal; see :func:`glassgrad.train.progress`). ``False``: never.

    Notes
    -----
    Data-parallel training: wrap the model in
    :class:`~glassgrad.nn.parallel.DistributedDataParallel` and give the train loader a
    :class:`~glassgrad.data.DistributedSampler` (its ``set_epoch`` is called before every
    epoch). The logged training loss and metrics are means over all ranks' samples, only
    rank 0 prints and writes checkpoints (of the wrapped module, so that they load without
    the wrapper), and every rank resumes from them with :meth:`load_checkpoint`.

    Attributes
    ----------
    epoch : int
        Completed epochs (continues across ``fit`` calls and checkpoint resumes).
    history : History
    stop_training : bool
        Set by a callback to stop after the current epoch.
    """

    def __init__(self, model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any, scheduler: Any = None,
                 callbacks: Sequence[Callback] = (), grad_clip: float | None = None,
                 metrics: Any = ("accuracy",), scheduler_interval: str = "epoch", verbose: int = 1,
                 log_every: int | None = None, extra: dict | None = None,
                 capture: bool = False, progress: bool = True) -> None:
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got "
                             f"{scheduler_interval!r}")
        if scheduler is not None and scheduler_interval == "step" and _is_plateau(scheduler):
            raise ValueError("Trainer: ReduceLROnPlateau needs a metric per epoch; use "
                             "scheduler_interval='epoch'")
        if grad_clip is not None and not (grad_clip > 0):
            raise ValueError(f"Trainer: grad_clip must be a positive number, got {grad_clip!r}")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.callbacks = list(callbacks)
        self.grad_clip = grad_clip
        self.metrics = _resolve_metrics(metrics)
        self.scheduler_interval = scheduler_interval
        self.verbose = int(verbose)
        self.log_every = log_every
        self.extra = dict(extra or {})
        self.capture = bool(capture)
        self.progress = bool(progress)
        self._captured: Any = None
        self.epoch = 0
        self.global_step = 0
        self.history = History()
        self.stop_training = False
        self._loaders: list[Any] = []
        self._pending_generators: list[Any] | None = None

    # ------------------------------------------------------------------ loop
    def fit(self, train_loader: Iterable, val_loader: Iterable | None = None, epochs: int = 1) -> History:
        """Train for ``epochs`` more epochs; returns :attr:`history` (all epochs so far).

        Parameters
        ----------
        train_loader : iterable of (inputs, targets)
        val_loader : iterable of (inputs, targets), optional
        epochs : int
            Number of epochs to run now (numbering continues from :attr:`epoch`).
        """
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be a non-negative int, got {epochs!r}")
        # keep a step's memory for the next step (glibc; see glassgrad.allocator): LeNet-5
        # 18.4 -> 9.5 ms per step measured, no effect where nothing is returned to the OS
        tune_for_training()
        self._loaders = [train_loader, val_loader]
        if self._pending_generators is not None:
            _restore_generators(self._loaders, self._pending_generators)
            self._pending_generators = None
        self.stop_training = False
        if self.capture and self._dist() is not None:
            raise ValueError("Trainer: capture=True cannot replay DistributedDataParallel's "
                             "communication; leave capture off in data-parallel training")
        params = list(self.model.parameters()) if hasattr(self.model, "parameters") else []
        first, last = self.epoch + 1, self.epoch + epochs
        every = self.log_every or max(1, math.ceil(epochs / 10))
        self._call("on_train_begin", self)
        try:
            for epoch in range(first, last + 1):
                t0 = time.perf_counter()
                sampler = getattr(train_loader, "sampler", None)
                if callable(getattr(sampler, "set_epoch", None)):
                    sampler.set_epoch(epoch - 1)      # DistributedSampler: a new shuffle per epoch
                self._call("on_epoch_begin", self, epoch)
                lr = self._lr()
                logs = {f"train_{k}": v for k, v in
                        self._train_epoch(train_loader, params, epoch, last).items()}
                if val_loader is not None:
                    res = evaluate(self.model, val_loader, self.loss_fn, self._metric_spec())
                    res.pop("n", None)
                    logs.update({f"val_{k}": v for k, v in res.items()})
                if self.scheduler is not None and self.scheduler_interval == "epoch":
                    if _is_plateau(self.scheduler):
                        self.scheduler.step(logs.get("val_loss", logs["train_loss"]))
                    else:
                        self.scheduler.step()
                self.epoch = epoch
                logs = {k: float(v) for k, v in logs.items()}
                row = {"epoch": epoch, **logs, "lr": lr, "time": time.perf_counter() - t0}
                self.history.append(**row)
                self._call("on_epoch_end", self, epoch, logs)
                if self.verbose and self._rank() == 0 and (
                        (epoch - first) % every == 0 or epoch == last or self.stop_training
                        or epoch == first):
                    self._print(self._line(epoch, last, row))
                if self.stop_training:
                    break
        finally:
            self._call("on_train_end", self)
        return self.history

    def _metric_spec(self) -> dict[str, Callable[[Any, Any], float]]:
        return {k: fn for k, fn in self.metrics}

    def _train_epoch(self, loader: Iterable, params: list, epoch: int, last: int) -> dict[str, float]:
        model, opt, loss_fn = self.model, self.optimizer, self.loss_fn
        if hasattr(model, "train"):
            model.train()
        clip = None
        if self.grad_clip is not None:
            from ..nn.utils import clip_grad_norm_ as clip
        bar = self._bar(loader, epoch, last)
        it = bar if bar is not None else loader
        tot_loss, n = 0.0, 0
        tot_m = {k: 0.0 for k, _ in self.metrics}
        step_sched = self.scheduler is not None and self.scheduler_interval == "step"
        batch_end = self._has_batch_end
        # callbacks that look at the gradients before the update (e.g. the gradient checker)
        after_bw = [c for c in self.callbacks if callable(getattr(c, "on_after_backward", None))]
        try:
            for step, batch in enumerate(it):
                self._call("on_batch_begin", self, step)
                x, y = _split_batch(batch)
                opt.zero_grad()
                if self.capture and isinstance(x, Tensor) and isinstance(y, Tensor):
                    if self._captured is None:
                        self._captured = capture(lambda x, y: _output_and_loss(model, loss_fn, x, y))
                    out, loss = self._captured(x, y)
                else:
                    out = model(x)
                    loss = loss_fn(out, y)
                loss.backward()
                lv = float(_arr(loss))
                if not math.isfinite(lv):
                    raise FloatingPointError(
                        f"Trainer: the loss became {lv} at epoch {epoch}, step {step}; try a smaller "
                        "learning rate, gradient clipping (grad_clip=...) or check the inputs for nan"
                    )
                if after_bw:
                    for c in after_bw:
                        c.on_after_backward(self, x, y)
                if clip is not None:
                    clip(params, self.grad_clip)
                opt.step()
                self.global_step += 1
                if step_sched:
                    self.scheduler.step()
                b = _batch_len(x)
                tot_loss += lv * b
                n += b
                if self.metrics:
                    for k, fn in self.metrics:
                        tot_m[k] += float(fn(out.detach() if hasattr(out, "detach") else out, y)) * b
                if bar is not None and step % 10 == 0:
                    bar.set_postfix(loss=f"{lv:.4f}", refresh=False)
                if batch_end:
                    self._call("on_batch_end", self, step, {"loss": lv, "batch_size": b})
        finally:
            if bar is not None:
                bar.close()
        dist = self._dist()
        if dist is not None and dist.get_world_size() > 1:
            # every rank reports the epoch's means over all ranks' samples (so that logs,
            # early stopping and checkpoints agree)
            tot = Tensor(np.array([tot_loss, n, *tot_m.values()], dtype=np.float64))
            dist.all_reduce(tot)
            tot_loss, n = float(tot.array[0]), int(tot.array[1])
            tot_m = {k: float(v) for k, v in zip(tot_m, tot.array[2:])}
        if n == 0:
            raise ValueError("Trainer.fit: the training loader produced no batches")
        return {"loss": tot_loss / n, **{k: v / n for k, v in tot_m.items()}}

    # ------------------------------------------------------------------ distributed
    def _dist(self) -> Any:
        """:mod:`glassgrad.distributed` when the model is a DistributedDataParallel, else None."""
        from ..nn.parallel.distributed import DistributedDataParallel

        if isinstance(self.model, DistributedDataParallel):
            from .. import distributed

            return distributed
        return None

    def _rank(self) -> int:
        d = self._dist()
        return d.get_rank() if d is not None else 0

    def _plain_model(self) -> Any:
        """The model checkpoints hold: the wrapped module of a DistributedDataParallel (so that
        a checkpoint loads into the model without the wrapper)."""
        return self.model.module if self._dist() is not None else self.model

    @property
    def _has_batch_end(self) -> bool:
        def overridden(c: Any) -> bool:
            fn = getattr(c, "on_batch_end", None)
            return fn is not None and getattr(fn, "__func__", None) is not Callback.on_batch_end

        return any(overridden(c) for c in self.callbacks)

    def evaluate(self, loader: Iterable) -> dict[str, float]:
        """Mean loss and metrics over ``loader`` (see :func:`evaluate`)."""
        return evaluate(self.model, loader, self.loss_fn, self._metric_spec())

    def predict(self, x: Any, batch_size: int = 4096) -> np.ndarray:
        """Model outputs for inputs ``x`` (array or Tensor), in eval mode, as a NumPy array."""
        from ..autograd.grad_mode import no_grad
        from ..tensor import Tensor

        xa = _arr(x)
        was = getattr(self.model, "training", None)
        if hasattr(self.model, "eval"):
            self.model.eval()
        try:
            with no_grad():
                outs = [_arr(self.model(Tensor._make(xa[i:i + batch_size], False)))
                        for i in range(0, len(xa), batch_size)]
        finally:
            if was and hasattr(self.model, "train"):
                self.model.train()
        return np.concatenate(outs) if outs else np.zeros((0,))

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "global_step": self.global_step,
                "callbacks": [c.state_dict() if hasattr(c, "state_dict") else {} for c in self.callbacks]}

    def save_checkpoint(self, path: Any) -> None:
        """Write everything needed to resume exactly (see :func:`save_checkpoint`)."""
        extra = dict(self.extra)
        extra["trainer"] = self.state_dict()
        dist = self._dist()
        if dist is None or dist.get_rank() == 0:    # in data-parallel training rank 0 writes
            save_checkpoint(path, self._plain_model(), self.optimizer, self.scheduler, self.epoch,
                            self._loaders, self.history, extra)
        if dist is not None:
            dist.barrier()                            # the file exists for every rank after this

    def load_checkpoint(self, path: Any, restore_rng: bool = True) -> dict:
        """Restore model, optimizer, scheduler, epoch, history and RNG state from ``path``.

        DataLoader generator states are applied to the loaders of the next :meth:`fit` call
        (train loader first, then validation), so ``trainer.load_checkpoint(p);
        trainer.fit(train_loader, epochs=k)`` continues as if never interrupted.
        """
        ckpt = load_checkpoint(path, self._plain_model(), self.optimizer, self.scheduler, (), restore_rng)
        self.epoch = int(ckpt["epoch"])
        self.history = History()
        if ckpt.get("history"):
            self.history.load_state_dict(ckpt["history"])
        tstate = (ckpt.get("extra") or {}).get("trainer") or {}
        self.global_step = int(tstate.get("global_step", 0))
        for c, st in zip(self.callbacks, tstate.get("callbacks", [])):
            if st and hasattr(c, "load_state_dict"):
                c.load_state_dict(st)
        self._pending_generators = list(ckpt.get("generators") or [])
        return ckpt

    # ------------------------------------------------------------------ output
    def _lr(self) -> float:
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups else math.nan

    def _call(self, hook: str, *args: Any) -> None:
        for c in self.callbacks:
            fn = getattr(c, hook, None)
            if fn is not None:
                fn(*args)

    def _bar(self, loader: Any, epoch: int, last: int) -> Any:
        if self.verbose < 1 or not self.progress or not _isatty() or self._rank() != 0:
            return None
        bar = make_bar(loader, desc=f"epoch {epoch}/{last}", file=sys.stdout)
        return None if bar is loader else bar

    def _print(self, line: str) -> None:
        print(line, flush=True)

    @staticmethod
    def _line(epoch: int, last: int, row: dict[str, Any]) -> str:
        parts = [f"epoch {epoch:>{len(str(last))}}/{last}"]
        for k, v in row.items():
            if k in ("epoch", "time"):
                continue
            if k.endswith("acc"):
                parts.append(f"{k} {100 * v:6.2f}%")
            elif k == "lr":
                parts.append(f"lr {v:.3g}")
            else:
                parts.append(f"{k} {v:.4f}")
        parts.append(f"({row['time']:.2f}s)")
        return "  ".join(parts)


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def fit(model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any, train_loader: Iterable,
        val_loader: Iterable | None = None, epochs: int = 1, **trainer_kwargs: Any) -> History:
    """One-call training: ``Trainer(model, loss_fn, optimizer, **kw).fit(train, val, epochs)``.

    Returns
    -------
    History
    """
    return Trainer(model, loss_fn, optimizer, **trainer_kwargs).fit(train_loader, val_loader, epochs)
