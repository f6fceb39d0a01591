"""Probability distributions with PyTorch's ``torch.distributions`` names, for the programs
that use them (policy gradients sample actions from a ``Categorical`` and differentiate
``log_prob``; VAEs and Gaussian policies use ``Normal``).

Every density is written with glassgrad ops, so ``log_prob``, ``entropy`` and ``rsample``
are differentiable with respect to the parameters; ``sample`` is not (as in PyTorch)::

    Categorical: log p(k) = logits_k − logsumexp(logits)      H = −Σ p log p
    Bernoulli:   log p(x) = x·l − softplus(l)  (l the logit)  H = softplus(l) − p·l
    Normal:      log p(x) = −(x − μ)²/(2σ²) − log σ − ½ log 2π
                 H = ½ + ½ log 2π + log σ;   rsample = μ + σ·ε, ε ~ N(0, 1)

Random numbers come from glassgrad's generator (``gg.manual_seed``), so samples differ
from PyTorch's for the same seed; probabilities and gradients are the same.
"""

from __future__ import annotations

import math
from typing import Any

from . import creation as _c
from .backend import np
from .random import _rng
from .tensor import Tensor, _from_data

__all__ = ["Distribution", "Categorical", "Bernoulli", "Normal", "kl_divergence"]


def _t(x: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return _from_data(x, dtype=like.dtype if like is not None else None)


def _shape(sample_shape: Any) -> tuple:
    if isinstance(sample_shape, int):
        return (sample_shape,)
    return tuple(int(s) for s in sample_shape)


class Distribution:
    """Base class: ``sample``, ``log_prob``, ``entropy``, ``batch_shape``/``event_shape``."""

    has_rsample = False

    def __init__(self, batch_shape: tuple = (), event_shape: tuple = ()) -> None:
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)

    @property
    def batch_shape(self) -> tuple:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        return self._event_shape

    def sample(self, sample_shape: Any = ()) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.sample")

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no reparameterized sample "
                                  "(rsample); use sample() and a score-function estimator")

    def log_prob(self, value: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.log_prob")

    def entropy(self) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.entropy")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={self.batch_shape})"


def _probs_or_logits(name: str, probs: Any, logits: Any) -> tuple:
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: give exactly one of probs or logits")
    return probs, logits


class Categorical(Distribution):
    """A choice among ``K`` categories (the last dim of ``probs``/``logits``).

    Parameters
    ----------
    probs : Tensor, optional
        Non-negative weights, normalised over the last dim.
    logits : Tensor, optional
        Unnormalised log-probabilities.
    """

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: Any = None) -> None:
        probs, logits = _probs_or_logits("Categorical", probs, logits)
        if probs is not None:
            p = _t(probs)
            if p.ndim == 0:
                raise ValueError("Categorical: probs must have at least one dimension")
            if bool((p < 0).any()):
                raise ValueError("Categorical: probs must be non-negative")
            self.probs = p / p.sum(-1, keepdim=True)
            self.logits = self.probs.clamp_min(float(np.finfo(p.dtype).tiny)).log()
        else:
            lg = _t(logits)
            if lg.ndim == 0:
                raise ValueError("Categorical: logits must have at least one dimension")
            self.logits = lg - lg.logsumexp(-1, keepdim=True)
            self.probs = self.logits.exp()
        self._num_events = self.probs.shape[-1]
        super().__init__(tuple(self.probs.shape[:-1]))

    @property
    def param_shape(self) -> tuple:
        return tuple(self.probs.shape)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        shape = _shape(sample_shape)
        p = self.probs.detach().numpy().astype(np.float64).reshape(-1, self._num_events)
        p = p / p.sum(-1, keepdims=True)
        n = int(np.prod(shape, dtype=np.int64))
        rng = _rng(None)
        u = rng.random((n, p.shape[0]))
        draws = (u[..., None] > np.cumsum(p, -1)[None]).sum(-1)
        draws = np.minimum(draws, self._num_events - 1)
        return Tensor._make(draws.reshape(shape + self.batch_shape).astype(np.int64), False)

    def log_prob(self, value: Any) -> Tensor:
        v = _t(value)
        if v.dtype.kind not in "iu":
            raise TypeError(f"Categorical.log_prob: value must be an integer tensor of category "
                            f"indices, got {v.dtype}")
        lg = self.logits
        shape = tuple(np.broadcast_shapes(tuple(v.shape), self.batch_shape))
        lg = lg.expand(shape + (self._num_events,))
        idx = v.expand(shape).unsqueeze(-1)
        return lg.gather(-1, idx).squeeze(-1)

    def entropy(self) -> Tensor:
        lg = self.logits.clamp_min(float(np.finfo(self.logits.dtype).min))
        return -(self.probs * lg).sum(-1)

    @property
    def mean(self) -> Tensor:
        return _c.full(self.batch_shape, float("nan"), dtype=self.probs.dtype)


class Bernoulli(Distribution):
    """A coin with ``P(1) = probs`` (or ``sigmoid(logits)``)."""

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: Any = None) -> None:
        probs, logits = _probs_or_logits("Bernoulli", probs, logits)
        if probs is not None:
            self.probs = _t(probs)
            eps = float(np.finfo(self.probs.dtype).eps)
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (1 - p).log()
        else:
            self.logits = _t(logits)
            self.probs = self.logits.sigmoid()
        super().__init__(tuple(self.probs.shape))

    def sample(self, sample_shape: Any = ()) -> Tensor:
        shape = _shape(sample_shape) + self.batch_shape
        u = _rng(None).random(shape)
        p = np.broadcast_to(self.probs.detach().numpy(), shape)
        return Tensor._make((u < p).astype(self.probs.dtype), False)

    def log_prob(self, value: Any) -> Tensor:
        v = _t(value, self.logits)
        lg = self.logits
        return v * lg - lg.clamp_min(0) - (-lg.abs()).exp().log1p()  # x·l − softplus(l)

    def entropy(self) -> Tensor:
        lg = self.logits
        softplus = lg.clamp_min(0) + (-lg.abs()).exp().log1p()
        return softplus - self.probs * lg

    @property
    def mean(self) -> Tensor:
        return self.probs


class Normal(Distribution):
    """The Gaussian ``N(loc, scale²)`` (broadcast over ``loc`` and ``scale``)."""

    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: Any = None) -> None:
        self.loc = _t(loc)
        self.scale = _t(scale, self.loc)
        if bool((self.scale <= 0).any()):
            raise ValueError("Normal: scale must be positive")
        shape = tuple(np.broadcast_shapes(tuple(self.loc.shape), tuple(self.scale.shape)))
        super().__init__(shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = _shape(sample_shape) + self.batch_shape
        eps = Tensor._make(_rng(None).standard_normal(shape).astype(self.loc.dtype), False)
        return self.loc + self.scale * eps

    def sample(self, sample_shape: Any = ()) -> Tensor:
        return self.rsample(sample_shape).detach()

    def log_prob(self, value: Any) -> Tensor:
        v = _t(value, self.loc)
        var = self.scale * self.scale
        return -((v - self.loc) ** 2) / (2 * var) - self.scale.log() - 0.5 * math.log(2 * math.pi)

    def entropy(self) -> Tensor:
        h = 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
        return h.expand(self.batch_shape) if tuple(h.shape) != self.batch_shape else h

    @property
    def mean(self) -> Tensor:
        return self.loc.expand(self.batch_shape)

    @property
    def stddev(self) -> Tensor:
        return self.scale.expand(self.batch_shape)

    @property
    def variance(self) -> Tensor:
        return (self.scale * self.scale).expand(self.batch_shape)


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """``KL(p ‖ q)`` for two distributions of the same kind (Normal, Categorical, Bernoulli)."""
    if isinstance(p, Normal) and isinstance(q, Normal):
        r = p.scale / q.scale
        return (((p.loc - q.loc) / q.scale) ** 2 + r * r - 1) / 2 - r.log()
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        return (p.probs * (p.logits - q.logits)).sum(-1)
    if isinstance(p, Bernoulli) and isinstance(q, Bernoulli):
        def softplus(x: Tensor) -> Tensor:
            return x.clamp_min(0) + (-x.abs()).exp().log1p()

        # log p = −softplus(−l), log(1 − p) = −softplus(l)
        lp, lq = p.logits, q.logits
        return (p.probs * (softplus(-lq) - softplus(-lp))
                + (1 - p.probs) * (softplus(lq) - softplus(lp)))
    raise NotImplementedError(f"kl_divergence: no rule for {type(p).__name__} and "
                              f"{type(q).__name__}")
