"""``torch.nn.parallel`` on one device: :class:`DataParallel` runs the wrapped module as
it is (glassgrad does not split batches across devices). ``DistributedDataParallel`` is
not provided."""

from .data_parallel import DataParallel

__all__ = ["DataParallel"]
