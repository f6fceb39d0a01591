"""``torch.nn.parallel``: :class:`DataParallel` runs the wrapped module as it is on one
device (glassgrad does not split batches across devices); :class:`DistributedDataParallel`
trains one replica per process and averages the gradients over MPI
(see :mod:`glassgrad.distributed`)."""

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
