"""DP-SGD as an optimizer wrapper: :class:`DPOptimizer` and :func:`make_private`.

One :meth:`DPOptimizer.step` (Abadi et al. 2016, Algorithm 1), for a batch ``B`` with
parameters ``θ``:

1. ``gᵢ = ∇θ ℓ(θ; xᵢ, yᵢ)`` for every ``i ∈ B`` — :func:`glassgrad.per_sample_grads`, one
   batched forward and backward with the per-layer rules (Linear: ``gᵢ = δᵢ xᵢᵀ``).
2. ``ḡᵢ = gᵢ · min(1, C / ‖gᵢ‖)`` where ``‖gᵢ‖`` is the L2 norm over *all* trained
   parameters together (flat clipping), so ``‖ḡᵢ‖ ≤ C``.
3. ``g̃ = (Σᵢ ḡᵢ + z) / b`` with ``z ~ N(0, σ²C² I)`` drawn per coordinate and ``b`` the
   expected batch size (``q·N`` under Poisson sampling; fixed otherwise). Dividing by the
   *expected* size, not ``|B|``, keeps the sensitivity of the sum ``C`` (``|B|`` itself
   depends on the data).
4. ``p.grad = g̃`` for every parameter and the wrapped optimizer's ``step()``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..backend import to_numpy
from ..per_sample import per_sample_grads
from ..random import Generator, _rng
from ..tensor import Tensor
from .accountant import PrivacyAccountant
from .sampling import DPDataLoader

__all__ = ["DPOptimizer", "make_private", "clip_factors"]


def _coupling_modules(model: Any) -> list[str]:
    """Modules in ``model`` that mix the samples of a batch in the current mode."""
    bad = []
    for name, m in model.named_modules():
        t = type(m).__name__
        if t.startswith("BatchNorm") or t.startswith("SyncBatchNorm"):
            if getattr(m, "training", False) or getattr(m, "running_mean", 0) is None:
                bad.append(f"{name or '<model>'} ({t})")
    return bad


def _pos(name: str, v: Any, allow_zero: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"DPOptimizer: {name} must be a number, got {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f) or f < 0 or (f == 0 and not allow_zero):
        raise ValueError(f"DPOptimizer: {name} must be a finite number {'>=' if allow_zero else '>'} 0, "
                         f"got {v!r}")
    return f


def clip_factors(per_sample: Any, max_norm: float) -> tuple[np.ndarray, np.ndarray]:
    """``(factors, norms)`` for flat clipping: ``norms[i]`` is the L2 norm of sample ``i``'s
    gradient over all the arrays in ``per_sample`` (a dict or list of ``(n, ...)`` arrays)
    together, ``factors[i] = min(1, max_norm / norms[i])`` (1 for a zero gradient), so that
    ``factors[i] * norms[i] <= max_norm``."""
    arrs = list(per_sample.values()) if isinstance(per_sample, dict) else list(per_sample)
    if not arrs:
        raise ValueError("clip_factors: per_sample is empty")
    n = arrs[0].shape[0]
    sq = np.zeros(n, np.float64)
    for g in arrs:
        flat = to_numpy(g).reshape(n, -1)
        # in the array's dtype (a float64 einsum of a float32 array would copy it: 5x slower);
        # the per-parameter sums add up in float64
        sq += np.einsum("ij,ij->i", flat, flat)
    norms = np.sqrt(sq)
    factor = np.where(norms > max_norm, max_norm / np.where(norms > 0, norms, 1.0), 1.0)
    return factor, norms


class DPOptimizer:
    """Wrap an optimizer so that each step is a DP-SGD step (see the module docstring).

    Parameters
    ----------
    optimizer : optim.Optimizer
        Any glassgrad optimizer (SGD, Adam, ...) over parameters of ``model``.
    model : nn.Module
        The model; no module may mix samples (BatchNorm in training mode is refused).
    loss_fn : callable
        ``loss_fn(output, targets)`` — e.g. ``nn.CrossEntropyLoss()``; its per-sample losses
        are taken as :func:`~glassgrad.per_sample_grads` describes.
    max_grad_norm : float
        ``C``: every sample's whole-model gradient is clipped to L2 norm ≤ C.
    noise_multiplier : float
        ``σ``: the noise added to the summed gradient has standard deviation ``σ·C``.
    expected_batch_size : float, optional
        ``b`` the sum is divided by. Required under Poisson sampling (``q·N``); None: the
        size of each batch (correct only for fixed-size batches).
    sample_rate : float, optional
        ``q`` for the accountant (``b/N``). Without it :meth:`epsilon` cannot be computed.
    generator : Generator, optional
        Source of the noise (seed it for reproducible runs). The noise of one step is drawn
        as ``standard_normal(p.shape)`` for each parameter in the optimizer's order.
    accountant : {"rdp", "pld"} or PrivacyAccountant
        How :meth:`epsilon` computes ε (needs ``pip install glassgrad[privacy]``).

    Attributes
    ----------
    last_step : dict
        After a step: ``batch_size``, ``norms`` (the per-sample gradient norms before
        clipping, an ``(n,)`` array), ``clipped`` (fraction of samples clipped), ``loss``.
    accountant : PrivacyAccountant
    """

    def __init__(self, optimizer: Any, model: Any, loss_fn: Callable, *, max_grad_norm: float,
                 noise_multiplier: float, expected_batch_size: float | None = None,
                 sample_rate: float | None = None, generator: Generator | None = None,
                 accountant: str | PrivacyAccountant = "rdp") -> None:
        from ..nn import Module
        from ..optim.optimizer import Optimizer

        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"DPOptimizer: optimizer must be a glassgrad optimizer, got "
                            f"{type(optimizer).__name__}")
        if not isinstance(model, Module):
            raise TypeError(f"DPOptimizer: model must be an nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"DPOptimizer: loss_fn must be callable, got {type(loss_fn).__name__}")
        self.max_grad_norm = _pos("max_grad_norm", max_grad_norm, allow_zero=False)
        self.noise_multiplier = _pos("noise_multiplier", noise_multiplier, allow_zero=True)
        self.expected_batch_size = (None if expected_batch_size is None
                                    else _pos("expected_batch_size", expected_batch_size, False))
        if sample_rate is not None:
            q = _pos("sample_rate", sample_rate, allow_zero=False)
            if q > 1:
                raise ValueError(f"DPOptimizer: sample_rate must be in (0, 1], got {sample_rate!r}")
            sample_rate = q
        self.sample_rate = sample_rate
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DPOptimizer: generator must be a glassgrad Generator, got "
                            f"{type(generator).__name__}")
        self.generator = generator
        self.accountant = accountant if isinstance(accountant, PrivacyAccountant) \
            else PrivacyAccountant(accountant)
        self.optimizer, self.model, self.loss_fn = optimizer, model, loss_fn
        by_id = {id(p): n for n, p in model.named_parameters()}
        self._params: list[tuple[str, Tensor]] = []
        for g in optimizer.param_groups:
            for p in g["params"]:
                if id(p) not in by_id:
                    raise ValueError(f"DPOptimizer: the optimizer has a parameter of shape "
                                     f"{tuple(p.shape)} that is not a parameter of the model")
                if p.requires_grad:
                    self._params.append((by_id[id(p)], p))
        if not self._params:
            raise ValueError("DPOptimizer: the optimizer has no parameter that requires grad")
        self._check_model()
        self.last_step: dict = {}

    # ------------------------------------------------------------------ the optimizer's API
    @property
    def param_groups(self) -> list:
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        return self.optimizer.state

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def _check_model(self) -> None:
        bad = _coupling_modules(self.model)
        if bad:
            raise RuntimeError(
                f"DPOptimizer: {', '.join(bad)} normalizes with the statistics of the whole batch, "
                "so one sample's gradient depends on the others and clipping it does not bound "
                "its influence (DP-SGD's guarantee fails). Use GroupNorm or LayerNorm instead, "
                "or put the layer in eval mode (running statistics).")

    # ------------------------------------------------------------------ one DP-SGD step
    def privatize(self, inputs: Any, targets: Any = None) -> dict:
        """Steps 1–3 without the optimizer step: ``{parameter name: noisy mean gradient}``
        (NumPy arrays), also written to each parameter's ``.grad``."""
        self._check_model()
        args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
        if not args or not all(isinstance(a, Tensor) and a.ndim >= 1 for a in args):
            raise TypeError("DPOptimizer.step: inputs must be a Tensor (or a tuple of Tensors) with "
                            "the batch on axis 0")
        n = int(args[0].shape[0])
        if self.expected_batch_size is None and n == 0:
            raise ValueError("DPOptimizer.step: an empty batch needs expected_batch_size (Poisson "
                             "sampling); without it the sum is divided by the batch size")
        b = self.expected_batch_size if self.expected_batch_size is not None else float(n)
        C, sigma = self.max_grad_norm, self.noise_multiplier
        names = [nm for nm, _ in self._params]
        if n > 0:
            ps = per_sample_grads(self.model, self.loss_fn, inputs, targets)
            missing = [nm for nm in names if nm not in ps]
            if missing:
                raise RuntimeError(f"DPOptimizer.step: no per-sample gradient for {missing}")
            grads = [to_numpy(ps[nm]) for nm in names]
            factor, norms = clip_factors(grads, C)
            summed = [np.tensordot(factor.astype(g.dtype), g, axes=1) for g in grads]
            loss = float(np.mean(ps.losses))
        else:
            norms = np.zeros(0)
            factor = np.zeros(0)
            summed = [np.zeros(tuple(p.shape), to_numpy(p.array).dtype) for _, p in self._params]
            loss = float("nan")
        rng = _rng(self.generator)
        out = {}
        for (nm, p), s in zip(self._params, summed):
            dt = s.dtype
            z = rng.standard_normal(s.shape, dtype=dt if dt in (np.float32, np.float64) else np.float64)
            g = ((s + (sigma * C) * z.astype(dt, copy=False)) / b).astype(dt, copy=False)
            out[nm] = g
            arr = p.array
            if not isinstance(arr, np.ndarray):   # a GPU parameter: the gradient goes there too
                from ..backend import xp_of

                g = xp_of(arr).asarray(g)
            p.grad = Tensor._make(g, False)
        self.last_step = {"batch_size": n, "norms": norms, "loss": loss,
                          "clipped": float(np.mean(factor < 1.0)) if n else 0.0}
        return out

    def step(self, inputs: Any, targets: Any = None) -> float:
        """One DP-SGD step on the batch: per-sample gradients, clip, sum, noise, divide,
        ``optimizer.step()``. Returns the batch's mean loss (for monitoring only: it is
        computed from the data without noise, so reporting it is not covered by ε)."""
        self.privatize(inputs, targets)
        self.optimizer.step()
        if self.sample_rate is not None:
            self.accountant.step(self.noise_multiplier, self.sample_rate)
        return self.last_step["loss"]

    def epsilon(self, delta: float = 1e-5) -> float:
        """ε of the steps taken so far, for ``delta`` (needs ``sample_rate`` and the
        ``dp-accounting`` package: ``pip install glassgrad[privacy]``)."""
        if self.sample_rate is None:
            raise RuntimeError("DPOptimizer.epsilon: pass sample_rate= (q = expected batch size / "
                               "dataset size) to DPOptimizer so that the steps can be accounted")
        return self.accountant.epsilon(delta)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "accountant": self.accountant.state_dict(),
                "generator": None if self.generator is None else self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.accountant.load_state_dict(state.get("accountant", {}))
        if state.get("generator") is not None and self.generator is not None:
            self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return (f"DPOptimizer({type(self.optimizer).__name__}, max_grad_norm={self.max_grad_norm}, "
                f"noise_multiplier={self.noise_multiplier}, expected_batch_size="
                f"{self.expected_batch_size}, sample_rate={self.sample_rate})")


def make_private(model: Any, optimizer: Any, loss_fn: Callable, dataset: Any, *, batch_size: int,
                 max_grad_norm: float, noise_multiplier: float, poisson: bool = True,
                 generator: Generator | None = None, noise_generator: Generator | None = None,
                 accountant: str = "rdp") -> tuple[DPOptimizer, Any]:
    """``(DPOptimizer, loader)`` for DP-SGD on ``dataset`` with expected batch ``batch_size``.

    ``poisson=True`` (default): a :class:`DPDataLoader` with sample rate ``batch_size/N``,
    the sampling that ε assumes. ``poisson=False``: a shuffling ``DataLoader`` with fixed
    batches (``drop_last=True``); ε is then still computed as if batches were Poisson
    samples, which is the common practice but not what the proof covers (docs/dp_sgd.md).
    """
    from ..data import DataLoader

    n = len(dataset)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or not 0 < batch_size <= n:
        raise ValueError(f"make_private: batch_size must be an int in [1, len(dataset)={n}], "
                         f"got {batch_size!r}")
    q = batch_size / n
    if poisson:
        loader: Any = DPDataLoader(dataset, sample_rate=q, generator=generator)
    else:
        loader = DataLoader(dataset, batch_size=int(batch_size), shuffle=True, drop_last=True,
                            generator=generator)
    dp = DPOptimizer(optimizer, model, loss_fn, max_grad_norm=max_grad_norm,
                     noise_multiplier=noise_multiplier, expected_batch_size=float(batch_size),
                     sample_rate=q, generator=noise_generator, accountant=accountant)
    return dp, loader
