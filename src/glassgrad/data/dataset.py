"""Map-style datasets: :class:`Dataset`, :class:`TensorDataset`, :class:`Subset`,
:class:`ConcatDataset` and :func:`random_split` (PyTorch names and behaviour).

The batched-fetch protocol
--------------------------
A dataset may define ``gather(indices)``: given an int64 NumPy array of indices it returns
the whole *already collated* batch (e.g. a tuple of Tensors whose first dimension is
``len(indices)``). :class:`~glassgrad.data.DataLoader` uses it when no ``collate_fn`` is
given, so that a batch costs one fancy-indexing ``X[idx]`` per array instead of one Python
``__getitem__`` call per sample followed by a stack. :class:`TensorDataset`,
:class:`Subset` and :class:`ConcatDataset` (of gatherable datasets), ``MNIST`` and
``Digits`` implement it. A dataset that cannot gather (e.g. a ``Subset`` of a plain
``Dataset``) reports ``can_gather() == False`` and is served sample by sample.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Generic, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from ..backend import xp_of
from ..random import Generator, _rng
from ..tensor import Tensor

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
    "StackDataset", "random_split",
]

T_co = TypeVar("T_co", covariant=True)


def _check_index(name: str, index: Any, n: int) -> int:
    """Normalize one integer index (negative counts from the end) or raise IndexError."""
    if isinstance(index, Tensor):
        if index.ndim != 0:
            raise TypeError(f"{name}: expected an integer index, got a tensor of shape "
                            f"{tuple(index.shape)}")
        index = index.item()
    try:
        i = int(index)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an integer index, got {type(index).__name__}") from None
    if isinstance(index, (float, np.floating)) and i != index:
        raise TypeError(f"{name}: expected an integer index, got {index!r}")
    if not -n <= i < n:
        raise IndexError(f"{name}: index {i} is out of range for a dataset of {n} samples")
    return i + n if i < 0 else i


def _as_index_array(name: str, indices: Any, n: int) -> np.ndarray:
    """An int64 index array with negatives wrapped, checked against ``n``."""
    idx = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        if idx.size == 0:
            idx = idx.astype(np.int64)
        else:
            raise TypeError(f"{name}: indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64, copy=False).reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexError(f"{name}: index {int(bad)} is out of range for a dataset of {n} samples")
    if idx.size and idx.min() < 0:
        idx = np.where(idx < 0, idx + n, idx)
    return idx


class Dataset(Generic[T_co]):
    """Base class of map-style datasets: implement ``__getitem__(i)`` and ``__len__()``.

    ``ds1 + ds2`` is a :class:`ConcatDataset`. Define ``gather(indices)`` to serve whole
    batches at once (see the module docstring).
    """

    def __getitem__(self, index: int) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    # no __len__ here (as in PyTorch): an IterableDataset may have none, and a map-style
    # subclass that forgets it fails with Python's own "has no len()".

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])

    def can_gather(self) -> bool:
        """Whether :meth:`gather` is available (batches in one fancy-indexing step).

        False when a subclass overrides ``__getitem__`` below the class that defines
        ``gather`` (e.g. a TensorDataset subclass that augments samples): the DataLoader
        must then call the overriding ``__getitem__``.
        """
        return _gather_is_current(self)


class IterableDataset(Dataset[T_co]):
    """A stream of samples: implement ``__iter__``. The DataLoader batches it in order
    (``shuffle`` and ``sampler`` are not allowed, as in PyTorch)."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def can_gather(self) -> bool:
        return False


class TensorDataset(Dataset):
    """Samples are the ``i``-th rows of the given tensors: ``ds[i] == (t[i] for t in tensors)``.

    Parameters
    ----------
    *tensors : Tensor or numpy.ndarray
        Same size in the first dimension. NumPy arrays are wrapped without a copy and keep
        their dtype.

    Examples
    --------
    >>> X, y = gg.randn(100, 2), gg.randint(0, 2, (100,))
    >>> ds = TensorDataset(X, y)
    >>> x0, y0 = ds[0]          # shapes (2,) and ()
    >>> xb, yb = ds.gather(np.array([3, 1, 4]))   # shapes (3, 2) and (3,)
    """

    def __init__(self, *tensors: Tensor | np.ndarray) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        ts = []
        for k, t in enumerate(tensors):
            if isinstance(t, np.ndarray):
                t = Tensor._make(t, False)
            elif not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {k} is a {type(t).__name__}; expected a "
                                "Tensor or a NumPy array")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {k} is 0-dimensional; every tensor needs "
                                 "a first (sample) dimension")
            ts.append(t)
        n = ts[0].shape[0]
        if any(t.shape[0] != n for t in ts):
            shapes = ", ".join(str(tuple(t.shape)) for t in ts)
            raise ValueError(f"TensorDataset: size mismatch between tensors: all must have the "
                             f"same first dimension, got shapes {shapes}")
        self.tensors: tuple[Tensor, ...] = tuple(ts)

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        """``ds[i]``: the ``i``-th rows. A slice or an index list/array gives the stacked rows
        (like ``tuple(t[index] for t in tensors)`` in PyTorch)."""
        if isinstance(index, slice):
            return tuple(t[index] if t.requires_grad else Tensor._make(t.array[index], False)
                         for t in self.tensors)
        if isinstance(index, (list, np.ndarray)) or (isinstance(index, Tensor) and index.ndim > 0):
            return self.gather(index)
        i = _check_index("TensorDataset", index, len(self))
        return tuple(t[i] if t.requires_grad else Tensor._make(t.array[i], False)
                     for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def gather(self, indices: Any) -> tuple[Tensor, ...]:
        """The batch of samples ``indices`` as a tuple of Tensors, one fancy-indexing per tensor.

        A contiguous ascending run of indices is copied as a slice (faster than ``take``).
        The batch never shares memory with the dataset.
        """
        idx = _as_index_array("TensorDataset.gather", indices, len(self))
        sl = _as_slice(idx)
        out = []
        for t in self.tensors:
            if t.requires_grad:
                out.append(t[Tensor._make(idx, False)])
            elif sl is not None:
                out.append(Tensor._make(t.array[sl].copy(), False))
            elif isinstance(t.array, np.ndarray):
                out.append(Tensor._make(t.array.take(idx, axis=0), False))
            else:  # a GPU array: move the indices to its device first
                out.append(Tensor._make(t.array.take(xp_of(t.array).asarray(idx), axis=0), False))
        return tuple(out)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in self.tensors)
        return f"TensorDataset({len(self)} samples: {shapes})"


def _as_slice(idx: np.ndarray) -> slice | None:
    """``slice(a, b)`` when ``idx`` is exactly ``a, a+1, ..., b-1`` (checked in O(1) + O(n))."""
    n = idx.size
    if n == 0:
        return None
    a = int(idx[0])
    if int(idx[-1]) != a + n - 1:
        return None
    if n > 2 and not np.array_equal(idx, np.arange(a, a + n)):
        return None
    return slice(a, a + n)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order).

    Parameters
    ----------
    dataset : Dataset
    indices : sequence of int
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        n = len(dataset)
        self._idx = _as_index_array("Subset", indices, n)
        self.indices = self._idx.tolist()

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(self._idx[i])] for i in index]
        i = _check_index("Subset", index, len(self))
        return self.dataset[int(self._idx[i])]

    def __len__(self) -> int:
        return self._idx.size

    def can_gather(self) -> bool:
        return _gather_is_current(self) and _can_gather(self.dataset)

    def gather(self, indices: Any) -> Any:
        """Batched fetch through the parent dataset's ``gather``."""
        if not self.can_gather():
            raise TypeError(f"Subset.gather: the parent {type(self.dataset).__name__} has no gather()")
        idx = _as_index_array("Subset.gather", indices, len(self))
        return self.dataset.gather(self._idx[idx])

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {type(self.dataset).__name__} with {len(self.dataset)} samples)"


def _gather_is_current(ds: Any) -> bool:
    """``gather`` exists and is defined in the same class as ``__getitem__`` or below it."""
    mro = type(ds).__mro__
    g = next((c for c in mro if "gather" in c.__dict__), None)
    gi = next((c for c in mro if "__getitem__" in c.__dict__), None)
    return g is not None and callable(getattr(ds, "gather", None)) and (gi is None or issubclass(g, gi))


def _can_gather(ds: Any) -> bool:
    cg = getattr(ds, "can_gather", None)
    if callable(cg):
        return bool(cg())
    return callable(getattr(ds, "gather", None))


class ConcatDataset(Dataset):
    """Datasets one after the other: index ``len(ds0) + j`` is ``ds1[j]``.

    Parameters
    ----------
    datasets : sequence of Dataset
        Map-style datasets (not iterable ones).
    """

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for k, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset: dataset {k} is an IterableDataset; only map-style "
                                "datasets can be concatenated")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        i = _check_index("ConcatDataset", index, len(self))
        k = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][i - start]

    def can_gather(self) -> bool:
        return _gather_is_current(self) and all(_can_gather(d) for d in self.datasets)

    def gather(self, indices: Any) -> Any:
        """Gather from each part, then put the rows back in the requested order."""
        if not self.can_gather():
            raise TypeError("ConcatDataset.gather: every part needs gather()")
        idx = _as_index_array("ConcatDataset.gather", indices, len(self))
        cum = np.asarray(self.cumulative_sizes)
        part = np.searchsorted(cum, idx, side="right")
        starts = np.concatenate([[0], cum[:-1]])
        parts = np.unique(part)
        if parts.size == 1:
            k = int(parts[0])
            return self.datasets[k].gather(idx - starts[k])
        order = np.argsort(part, kind="stable")
        pieces = [self.datasets[int(k)].gather(idx[part == k] - starts[k]) for k in parts]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        return _concat_reorder(pieces, inverse)

    def __repr__(self) -> str:
        return f"ConcatDataset({len(self)} samples from {len(self.datasets)} datasets)"


class ChainDataset(IterableDataset):
    """Iterable datasets one after the other (``torch.utils.data.ChainDataset``): iterating
    yields every sample of the first, then of the second, ...

    Parameters
    ----------
    datasets : iterable of IterableDataset
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for k, d in enumerate(self.datasets):
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: dataset {k} is a {type(d).__name__}, not an "
                                "IterableDataset (use ConcatDataset for map-style datasets)")
            yield from d

    def __len__(self) -> int:
        total = 0
        for k, d in enumerate(self.datasets):
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: dataset {k} is a {type(d).__name__}, not an "
                                "IterableDataset")
            total += len(d)  # type: ignore[arg-type]
        return total


class StackDataset(Dataset):
    """Several datasets of the same length side by side (``torch.utils.data.StackDataset``):
    ``StackDataset(a, b)[i] == (a[i], b[i])``, ``StackDataset(x=a, y=b)[i] == {"x": a[i],
    "y": b[i]}`` — e.g. images, masks and labels kept in separate datasets.
    """

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: give the datasets either as positional arguments "
                             "(samples are tuples) or as keywords (samples are dicts), not both")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset is needed")
        self.datasets: Any = args if args else kwargs
        items = list(enumerate(args)) if args else list(kwargs.items())
        lengths = {k: len(d) for k, d in items}  # type: ignore[arg-type]
        if len(set(lengths.values())) != 1:
            raise ValueError(f"StackDataset: the datasets must have the same length, got {lengths}")
        self._length = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> Any:
        i = _check_index("StackDataset", index, self._length)
        if isinstance(self.datasets, dict):
            return {k: d[i] for k, d in self.datasets.items()}
        return tuple(d[i] for d in self.datasets)


def _concat_reorder(pieces: list, inverse: np.ndarray) -> Any:
    first = pieces[0]
    if isinstance(first, Tensor):
        arr = np.concatenate([p.array for p in pieces], axis=0)
        return Tensor._make(arr[inverse], False)
    if isinstance(first, dict):
        return {k: _concat_reorder([p[k] for p in pieces], inverse) for k in first}
    if isinstance(first, (tuple, list)):
        out = [_concat_reorder([p[j] for p in pieces], inverse) for j in range(len(first))]
        return tuple(out) if isinstance(first, tuple) else out
    if isinstance(first, np.ndarray):
        return np.concatenate(pieces, axis=0)[inverse]
    raise TypeError(f"ConcatDataset.gather: cannot combine batches of type {type(first).__name__}")


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    Parameters
    ----------
    dataset : Dataset
    lengths : sequence of int or float
        Sizes that add up to ``len(dataset)``, or fractions that add up to 1: then each
        split gets ``floor(frac * n)`` samples and the remainder is handed out one by one
        round-robin from the first split (exactly PyTorch's rule).
    generator : Generator, optional
        Source of the permutation (default: the global generator, ``gg.manual_seed``).

    Returns
    -------
    list of Subset
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in lengths):
        sizes = [int(x) for x in lengths]
        if any(s < 0 for s in sizes):
            raise ValueError(f"random_split: lengths must be non-negative, got {sizes}")
    else:
        fr = [float(x) for x in lengths]
        if any(f < 0 or f > 1 for f in fr) or not math.isclose(sum(fr), 1.0, abs_tol=1e-6):
            raise ValueError(f"random_split: fractions must be in [0, 1] and sum to 1, got {fr} "
                             f"(sum {sum(fr)})")
        sizes = [int(math.floor(n * f)) for f in fr]
        rem = n - sum(sizes)
        for i in range(rem):
            sizes[i % len(sizes)] += 1
    if sum(sizes) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(sizes)} does not equal the length "
                         f"of the dataset ({n})")
    from .sampler import _check_generator

    perm = _rng(_check_generator("random_split", generator)).permutation(n)
    out, off = [], 0
    for s in sizes:
        out.append(Subset(dataset, perm[off:off + s]))
        off += s
    return out
