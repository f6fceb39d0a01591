"""``glassgrad.utils.data``: ``torch.utils.data``'s names, so that
``from glassgrad.utils.data import DataLoader`` works where a program said
``from torch.utils.data import DataLoader``. The same objects as :mod:`glassgrad.data`;
its modules ``dataloader``, ``dataset`` and ``sampler`` are importable from here too
(``from glassgrad.utils.data.sampler import Sampler``), as the same module objects.
"""

import sys as _sys

from ...data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    dataloader,
    dataset,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
    sampler,
)

for _m in (dataloader, dataset, sampler):
    _sys.modules[f"{__name__}.{_m.__name__.rsplit('.', 1)[1]}"] = _m

__all__ = [
    "dataloader", "dataset", "sampler",
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "IterableDataset",
    "RandomSampler",
    "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
    "WeightedRandomSampler", "default_collate", "default_convert", "random_split",
    "ChainDataset", "StackDataset", "get_worker_info",
]
