"""Datasets and loaders (``torch.utils.data`` names): :class:`Dataset`, :class:`TensorDataset`,
:class:`Subset`, :class:`ConcatDataset`, :func:`random_split`, :class:`DataLoader` with a
batched fast path, samplers, 2-D toy datasets (``make_moons`` ...), :class:`MNIST` and
:func:`load_digits`.

>>> from glassgrad.data import DataLoader, TensorDataset, make_moons
>>> X, y = make_moons(1000, noise=0.1, seed=0)      # float32 (1000, 2), int64 (1000,)
>>> loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True)
>>> for xb, yb in loader:
...     pass
"""

from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .digits import Digits, load_digits
from .mnist import MNIST, MNIST_MIRRORS, MNIST_SHA256, DownloadError, IDXError, load_mnist, read_idx
from .sampler import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .toy import make_blobs, make_circles, make_moons, make_spirals, make_xor, toy_dataset

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
    "ChainDataset", "StackDataset", "DataLoader", "default_collate", "default_convert",
    "get_worker_info",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
    "BatchSampler", "DistributedSampler",
    "make_xor", "make_moons", "make_circles", "make_spirals", "make_blobs", "toy_dataset",
    "MNIST", "load_mnist", "read_idx", "MNIST_MIRRORS", "MNIST_SHA256", "DownloadError", "IDXError",
    "Digits", "load_digits",
]
