"""The :class:`DataLoader` (batches from a dataset) and :func:`default_collate`.

How a batch is made
-------------------
1. The batch sampler draws the epoch's index order once (a NumPy permutation when
   ``shuffle=True``) and cuts it into batches of ``batch_size`` int64 index arrays.
2. Fast path: if no ``collate_fn`` was given and the dataset has ``gather(indices)``
   (:class:`TensorDataset`, :class:`Subset`/:class:`ConcatDataset` of one, ``MNIST``,
   ``Digits``), the batch is ``dataset.gather(idx)``: one fancy-indexing ``X[idx]`` per
   array. There is no per-sample Python work, so an MNIST epoch (60,000 samples, batch 128)
   costs the loader a few milliseconds.
3. Otherwise: ``collate_fn([dataset[i] for i in idx])`` (default :func:`default_collate`);
   a dataset with PyTorch's ``__getitems__(indices) -> list of samples`` gets one call.

Both paths give the same batches (the tests check it).
"""

from __future__ import annotations

import collections.abc as cabc
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from .. import dtypes as _dt
from ..backend import xp_of
from ..random import Generator
from ..tensor import Tensor, stack
from .dataset import Dataset, IterableDataset, _can_gather
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _check_generator

__all__ = ["DataLoader", "default_collate", "default_convert"]


def _type_error(what: str) -> TypeError:
    return TypeError(f"default_collate: batch must contain Tensors, NumPy arrays, numbers, strings, "
                     f"dicts or lists/tuples; found {what}")


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch (PyTorch's rules, float32 by default).

    * Tensors / NumPy arrays -> one Tensor stacked on a new first axis (dtype kept: a float64
      array stays float64). Shapes must match.
    * NumPy scalars -> a 1-D Tensor of their dtype; Python ``bool`` -> bool, ``int`` -> int64,
      ``float`` -> the default dtype (float32; PyTorch would give float64).
    * ``str``/``bytes`` -> the list as is.
    * dict -> dict of collated values per key; tuple (and namedtuple) -> tuple of collated
      fields; list -> list of collated fields.

    Parameters
    ----------
    batch : list
        The samples (``dataset[i]`` for the batch's indices).
    """
    if not isinstance(batch, (list, tuple)) or len(batch) == 0:
        raise ValueError("default_collate: expected a non-empty list of samples")
    elem = batch[0]
    if isinstance(elem, Tensor):
        if not all(isinstance(b, Tensor) for b in batch):
            k = next(i for i, b in enumerate(batch) if not isinstance(b, Tensor))
            raise TypeError(f"default_collate: sample 0 is a Tensor but sample {k} is a "
                            f"{type(batch[k]).__name__}")
        _check_shapes(batch)
        if any(b.requires_grad for b in batch):
            return stack(list(batch))
        return Tensor._make(xp_of(elem.array).stack([b.array for b in batch]), False)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            raise _type_error(f"a NumPy array of dtype {elem.dtype}")
        arrs = [np.asarray(b) for b in batch]
        _check_shapes(arrs)
        return Tensor._make(np.stack(arrs), False)
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "USO":
            return list(batch)
        return Tensor._make(np.array(batch, dtype=elem.dtype), False)
    if isinstance(elem, bool):
        return Tensor._make(np.array(batch, dtype=np.bool_), False)
    if isinstance(elem, int):
        return Tensor._make(np.array(batch, dtype=np.int64), False)
    if isinstance(elem, float):
        return Tensor._make(np.array(batch, dtype=_dt.get_default_dtype()), False)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, cabc.Mapping):
        keys = list(elem.keys())
        for k, b in enumerate(batch):
            if not isinstance(b, cabc.Mapping) or set(b.keys()) != set(keys):
                got = sorted(map(str, b.keys())) if isinstance(b, cabc.Mapping) else type(b).__name__
                raise ValueError(f"default_collate: sample 0 has keys {sorted(map(str, keys))} but "
                                 f"sample {k} has {got}")
        out = {key: default_collate([b[key] for b in batch]) for key in keys}
        try:
            return type(elem)(out) if type(elem) is not dict else out
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        _check_lengths(batch)
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        _check_lengths(batch)
        fields = [default_collate(list(s)) for s in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    if elem is None:
        raise _type_error("None")
    raise _type_error(type(elem).__name__)


def _check_shapes(items: list) -> None:
    s0 = tuple(items[0].shape)
    for k, b in enumerate(items):
        if tuple(b.shape) != s0:
            raise ValueError(
                f"default_collate: samples must have equal shapes to be stacked; sample 0 has shape "
                f"{s0}, sample {k} has shape {tuple(b.shape)} (pass a collate_fn, e.g. one that pads, "
                "for variable-size samples)")


def _check_lengths(batch: list) -> None:
    n0 = len(batch[0])
    for k, b in enumerate(batch):
        if not isinstance(b, (tuple, list)) or len(b) != n0:
            got = len(b) if isinstance(b, (tuple, list)) else type(b).__name__
            raise ValueError(f"default_collate: each sample must have the same number of fields; "
                             f"sample 0 has {n0}, sample {k} has {got}")


def default_convert(data: Any) -> Any:
    """Arrays -> Tensors (dtype kept), recursively; used when ``batch_size=None``."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "USO" else Tensor._make(data, False)
    if isinstance(data, np.generic) and data.dtype.kind not in "USO":
        return Tensor._make(np.asarray(data), False)
    if isinstance(data, cabc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


def get_worker_info() -> None:
    """``None``, as PyTorch's ``get_worker_info()`` returns in the main process: glassgrad
    loads every batch in the main process (``num_workers`` is accepted and ignored), so an
    ``IterableDataset`` that splits its stream by worker sees a single worker."""
    return None


class DataLoader:
    """Iterate over a dataset in (optionally shuffled) mini-batches, like ``torch.utils.data``.

    Parameters
    ----------
    dataset : Dataset
        Map-style (``__getitem__``/``__len__``) or an :class:`IterableDataset`.
    batch_size : int or None
        Samples per batch (default 1). ``None`` yields single samples, arrays converted to
        Tensors but not stacked.
    shuffle : bool
        Draw a new random order at the start of every epoch.
    sampler : Sampler or iterable of int, optional
        The index order (exclusive with ``shuffle``).
    batch_sampler : iterable of index lists, optional
        Yields whole batches of indices (exclusive with ``batch_size``, ``shuffle``,
        ``sampler``, ``drop_last``).
    num_workers : int
        Accepted for PyTorch compatibility; batches are always made in the main process
        (with the batched fast path there is nothing to parallelise), a warning says so
        when ``num_workers > 0``.
    collate_fn : callable, optional
        Turns a list of samples into a batch (default :func:`default_collate`). Giving one
        disables the batched fast path.
    pin_memory : bool
        Accepted for PyTorch compatibility; no effect on the CPU.
    drop_last : bool
        Drop the last incomplete batch.
    generator : Generator, optional
        The source of the shuffle order; default the global generator, so that
        ``gg.manual_seed(s)`` before building/iterating gives the same batch order. Its state
        (``loader.generator.get_state()``) can be checkpointed to resume mid-run exactly.

    Examples
    --------
    >>> ds = TensorDataset(X, y)
    >>> loader = DataLoader(ds, batch_size=128, shuffle=True, generator=gg.Generator(0))
    >>> for xb, yb in loader:      # xb: (128, ...) float32 Tensor, yb: (128,) int64 Tensor
    ...     ...
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Any | None = None, batch_sampler: Any | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False,
                 generator: Generator | None = None, **kwargs: Any) -> None:
        unknown = set(kwargs) - {"timeout", "worker_init_fn", "prefetch_factor", "persistent_workers",
                                 "multiprocessing_context", "pin_memory_device", "in_order"}
        if unknown:
            raise TypeError(f"DataLoader: unexpected keyword argument(s) {sorted(unknown)}")
        if not hasattr(dataset, "__getitem__") and not isinstance(dataset, IterableDataset) \
                and not hasattr(dataset, "__iter__"):
            raise TypeError(f"DataLoader: dataset must be a Dataset (with __getitem__ and __len__) or "
                            f"an IterableDataset, got {type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, (int, np.integer))
                                       or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer or None, got "
                             f"{batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) \
                or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers should be a non-negative integer, got "
                             f"{num_workers!r}")
        if num_workers > 0:
            warnings.warn("DataLoader: num_workers > 0 is accepted for compatibility but glassgrad "
                          "makes batches in the main process", stacklevel=2)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.generator = _check_generator("DataLoader", generator)
        self.drop_last = bool(drop_last)
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: sampler and batch_sampler are not "
                                 "allowed (the dataset decides the order)")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size = None
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else \
                SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    # ------------------------------------------------------------------ iteration
    def _uses_gather(self) -> bool:
        return (self.collate_fn is default_collate and not self._iterable
                and _can_gather(self.dataset))

    def _index_batches(self) -> Iterator[np.ndarray]:
        bs = self.batch_sampler
        if hasattr(bs, "epoch_batches"):
            yield from bs.epoch_batches()
        else:
            for b in bs:
                yield np.asarray(b, dtype=np.int64).reshape(-1)

    def __iter__(self) -> Iterator[Any]:
        ds, collate = self.dataset, self.collate_fn
        if self._iterable:
            yield from self._iter_stream()
            return
        if self.batch_sampler is None:  # batch_size=None: one sample at a time
            for i in self.sampler:
                yield collate(ds[i])
            return
        if self._uses_gather():
            gather = ds.gather
            for idx in self._index_batches():
                if idx.size:
                    yield gather(idx)
            return
        getitems = getattr(ds, "__getitems__", None)  # PyTorch's batched-fetch hook
        for idx in self._index_batches():
            if idx.size:
                samples = getitems(idx.tolist()) if getitems is not None else [ds[int(i)] for i in idx]
                yield collate(samples)

    def _iter_stream(self) -> Iterator[Any]:
        collate, bs = self.collate_fn, self.batch_size
        if bs is None:
            for s in self.dataset:
                yield collate(s)
            return
        buf: list = []
        for s in self.dataset:
            buf.append(s)
            if len(buf) == bs:
                yield collate(buf)
                buf = []
        if buf and not self.drop_last:
            yield collate(buf)

    def __len__(self) -> int:
        if self._iterable:
            try:
                n = len(self.dataset)  # type: ignore[arg-type]
            except TypeError:
                raise TypeError("DataLoader: len() of a loader over an IterableDataset without "
                                "__len__") from None
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __repr__(self) -> str:
        try:
            size = f"{len(self.dataset)} samples"  # type: ignore[arg-type]
        except TypeError:
            size = "a stream"
        return (f"DataLoader({type(self.dataset).__name__} of {size}, "
                f"batch_size={self.batch_size}, shuffle={isinstance(self.sampler, RandomSampler)}, "
                f"drop_last={self.drop_last}, fast_path={self._uses_gather()})")
