"""Poisson sampling for DP-SGD: :class:`PoissonSampler` and :class:`DPDataLoader`.

The privacy analysis of DP-SGD (the subsampled Gaussian mechanism) assumes that each step's
batch is drawn by including every one of the ``N`` training samples independently with
probability ``q`` (the *sample rate*). Batches then have a random size (Binomial(N, q),
mean ``q·N``), and can be empty: an empty batch is still a step (only noise), so the
loader yields it as a batch with zero rows rather than skipping it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from ..data.dataloader import DataLoader, default_collate
from ..data.dataset import _can_gather
from ..random import Generator, _rng
from ..tensor import Tensor

__all__ = ["PoissonSampler", "DPDataLoader"]


def _check_rate(name: str, q: Any) -> float:
    if isinstance(q, bool) or not isinstance(q, (int, float, np.floating, np.integer)) \
            or not 0.0 < float(q) <= 1.0:
        raise ValueError(f"{name}: sample_rate must be a number in (0, 1], got {q!r}")
    return float(q)


class PoissonSampler:
    """A batch sampler: each of ``steps`` batches holds every index in ``range(num_samples)``
    independently with probability ``sample_rate``.

    Parameters
    ----------
    num_samples : int
        Size of the dataset ``N``.
    sample_rate : float
        ``q`` in (0, 1]; the expected batch size is ``q·N``.
    steps : int, optional
        Batches per pass (``len(sampler)``); default ``round(1/q)``, one expected epoch.
    generator : Generator, optional
        Source of the random draws (default: glassgrad's default generator).
    """

    def __init__(self, num_samples: int, sample_rate: float, steps: int | None = None,
                 generator: Generator | None = None) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
                or num_samples <= 0:
            raise ValueError(f"PoissonSampler: num_samples must be a positive int, got {num_samples!r}")
        self.num_samples = int(num_samples)
        self.sample_rate = _check_rate("PoissonSampler", sample_rate)
        if steps is None:
            steps = max(1, round(1.0 / self.sample_rate))
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
            raise ValueError(f"PoissonSampler: steps must be a positive int, got {steps!r}")
        self.steps = int(steps)
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"PoissonSampler: generator must be a glassgrad Generator, got "
                            f"{type(generator).__name__}")
        self.generator = generator

    @property
    def expected_batch_size(self) -> float:
        return self.sample_rate * self.num_samples

    def epoch_batches(self) -> Iterator[np.ndarray]:
        """The ``steps`` batches as int64 index arrays (possibly empty)."""
        rng = _rng(self.generator)
        for _ in range(self.steps):
            yield np.flatnonzero(rng.random(self.num_samples) < self.sample_rate).astype(np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        for b in self.epoch_batches():
            yield b.tolist()

    def __len__(self) -> int:
        return self.steps

    def __repr__(self) -> str:
        return f"PoissonSampler(num_samples={self.num_samples}, sample_rate={self.sample_rate}, " \
               f"steps={self.steps})"


class DPDataLoader(DataLoader):
    """A :class:`~glassgrad.data.DataLoader` whose batches are Poisson samples of the dataset.

    Parameters
    ----------
    dataset : Dataset
        A map-style dataset with ``len()``.
    sample_rate : float
        ``q``: each sample is in each batch with this probability (expected batch ``q·N``).
    steps : int, optional
        Batches per pass over the loader (default ``round(1/q)``, one expected epoch).
    generator : Generator, optional
        Seeds the sampling.
    collate_fn : callable, optional
        As for ``DataLoader``.

    Notes
    -----
    Unlike ``DataLoader``, an empty batch is yielded (with zero rows: the fields of one
    sample collated, then sliced to ``[:0]``) because DP-SGD must take a noise-only step for
    it: skipping it would make the number of steps depend on the data.
    """

    def __init__(self, dataset: Any, sample_rate: float, steps: int | None = None,
                 generator: Generator | None = None, collate_fn: Callable[[list], Any] | None = None
                 ) -> None:
        try:
            n = len(dataset)
        except TypeError:
            raise TypeError(f"DPDataLoader: dataset must have a length (a map-style dataset), got "
                            f"{type(dataset).__name__}") from None
        sampler = PoissonSampler(n, sample_rate, steps, generator)
        super().__init__(dataset, batch_sampler=sampler, collate_fn=collate_fn)
        self.sample_rate = sampler.sample_rate
        self.expected_batch_size = sampler.expected_batch_size

    def _empty(self) -> Any:
        one = self.collate_fn([self.dataset[0]])
        return _slice0(one)

    def __iter__(self) -> Iterator[Any]:
        ds, collate = self.dataset, self.collate_fn
        gather = ds.gather if (collate is default_collate and _can_gather(ds)) else None
        for idx in self.batch_sampler.epoch_batches():
            if idx.size == 0:
                yield self._empty()
            elif gather is not None:
                yield gather(idx)
            else:
                yield collate([ds[int(i)] for i in idx])

    def __repr__(self) -> str:
        return (f"DPDataLoader({type(self.dataset).__name__} of {len(self.dataset)} samples, "
                f"sample_rate={self.sample_rate:.6g}, steps={len(self.batch_sampler)})")


def _slice0(x: Any) -> Any:
    if isinstance(x, Tensor):
        return Tensor._make(x.array[:0], False)
    if isinstance(x, np.ndarray):
        return x[:0]
    if isinstance(x, dict):
        return {k: _slice0(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_slice0(v) for v in x))
    if isinstance(x, (tuple, list)):
        return type(x)(_slice0(v) for v in x)
    return x
