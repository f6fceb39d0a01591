"""Samplers: which dataset indices an epoch visits, in which order (PyTorch names).

Every sampler here also has ``epoch_indices()``: the whole epoch's indices as one int64
NumPy array, drawn in one call. The DataLoader slices that array into batches, so that a
60,000-sample epoch costs one ``permutation`` instead of 60,000 Python iterations. A custom
sampler only needs ``__iter__`` (and ``__len__`` for ``len(loader)``).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence, Sized

import numpy as np

from ..random import Generator, _rng


def _check_generator(name: str, generator: Any) -> Generator | None:
    """``generator`` must be a :class:`glassgrad.Generator` (or None for the global one)."""
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"{name}: generator must be a glassgrad.Generator (e.g. gg.Generator(0)) or None, "
                        f"got {type(generator).__module__}.{type(generator).__name__}")
    return generator


__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler"]


class Sampler:
    """Base class: iterate over dataset indices."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class _ArraySampler(Sampler):
    """A sampler whose epoch is an index array (``__iter__`` walks it)."""

    def epoch_indices(self) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())


class SequentialSampler(_ArraySampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def epoch_indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_ArraySampler):
    """A random permutation each epoch (or ``num_samples`` draws with replacement).

    Parameters
    ----------
    data_source : Sized
    replacement : bool
        Draw with replacement (then ``num_samples`` may exceed the dataset size).
    num_samples : int, optional
        Samples per epoch (default ``len(data_source)``).
    generator : Generator, optional
        Source of randomness; default the global generator (``gg.manual_seed``). A new
        permutation is drawn at the start of every epoch, so the same seed gives the same
        sequence of epochs.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = _check_generator("RandomSampler", generator)
        if num_samples is not None and (not isinstance(num_samples, (int, np.integer))
                                        or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer, got "
                             f"{num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def epoch_indices(self) -> np.ndarray:
        n, m = len(self.data_source), self.num_samples
        rng = _rng(self.generator)
        if n == 0:
            if m:
                raise ValueError(f"RandomSampler: cannot draw {m} samples from an empty dataset")
            return np.zeros(0, np.int64)
        if self.replacement:
            return rng.integers(0, n, size=m, dtype=np.int64)
        # like PyTorch: whole permutations, then a partial one, to reach num_samples
        parts = [rng.permutation(n) for _ in range(m // n)]
        if m % n:
            parts.append(rng.permutation(n)[: m % n])
        return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_ArraySampler):
    """The given indices in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = _check_generator("SubsetRandomSampler", generator)

    def epoch_indices(self) -> np.ndarray:
        return self.indices[_rng(self.generator).permutation(self.indices.size)]

    def __len__(self) -> int:
        return int(self.indices.size)


class WeightedRandomSampler(_ArraySampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        w = np.asarray(getattr(weights, "data", weights), dtype=np.float64).reshape(-1)
        if w.size == 0 or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all "
                             "zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                             f"replacement from {np.count_nonzero(w)} non-zero weights")
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = bool(replacement)
        self.generator = _check_generator("WeightedRandomSampler", generator)

    def epoch_indices(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        return _rng(self.generator).choice(p.size, size=self.num_samples, replace=self.replacement,
                                           p=p).astype(np.int64)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group a sampler's indices into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer, got "
                             f"{batch_size!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)

    def epoch_batches(self) -> Iterator[np.ndarray]:
        """Batches as int64 index arrays (slices of one epoch array when the sampler has one)."""
        bs = self.batch_size
        if hasattr(self.sampler, "epoch_indices"):
            idx = np.asarray(self.sampler.epoch_indices(), dtype=np.int64)
            n = idx.size
            stop = n - n % bs if self.drop_last else n
            for s in range(0, stop, bs):
                yield idx[s:s + bs]
            return
        batch: list[int] = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == bs:
                yield np.asarray(batch, dtype=np.int64)
                batch = []
        if batch and not self.drop_last:
            yield np.asarray(batch, dtype=np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        for b in self.epoch_batches():
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(_ArraySampler):
    """Each rank's share of the dataset for data-parallel training (PyTorch's rules).

    Every epoch the indices (a permutation drawn from ``seed + epoch`` when ``shuffle``,
    the same on every rank) are cut to a multiple of ``num_replicas`` — by dropping the tail
    when ``drop_last``, otherwise by repeating indices from the start — and rank ``r`` takes
    every ``num_replicas``-th one from position ``r``. All ranks get the same number of
    samples, so they run the same number of steps. Call ``set_epoch(e)`` at the start of
    every epoch, or every epoch has the same order.

    Parameters
    ----------
    dataset : Sized
    num_replicas, rank : int, optional
        Default: the world size and rank of the initialized process group
        (:mod:`glassgrad.distributed`).
    shuffle : bool
        Default True.
    seed : int
        Must be the same on every rank (default 0).
    drop_last : bool
        Drop the tail instead of padding (default False).
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        name = "DistributedSampler"
        if num_replicas is None or rank is None:
            from .. import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError(f"{name}: pass num_replicas and rank, or call "
                                   f"glassgrad.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        for arg, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name}: {arg} must be an int, got {v!r}")
        if num_replicas < 1:
            raise ValueError(f"{name}: num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"{name}: invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = -(-(n - self.num_replicas) // self.num_replicas)
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Seed the next epoch's shuffle with ``seed + epoch`` (call it on every rank)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
            raise TypeError(f"DistributedSampler.set_epoch: epoch must be an int, got {epoch!r}")
        self.epoch = int(epoch)

    def epoch_indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            idx = np.random.default_rng(self.seed + self.epoch).permutation(n).astype(np.int64)
        else:
            idx = np.arange(n, dtype=np.int64)
        if self.drop_last:
            idx = idx[:self.total_size]
        elif self.total_size > n:
            pad = self.total_size - n
            idx = np.concatenate([idx, np.resize(idx, pad)]) if n else idx
        return idx[self.rank:self.total_size:self.num_replicas]

    def __len__(self) -> int:
        return self.num_samples
