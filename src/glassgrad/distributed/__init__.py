"""``torch.distributed``'s names on MPI: several processes, each with its own model replica,
exchanging Tensors with collectives.

glassgrad does not have a communication layer of its own: it runs on MPI through
``mpi4py`` (install with ``pip install 'glassgrad[distributed]'``, which also brings an MPI
library as a wheel), and the processes are started by MPI's launcher::

    mpiexec -n 4 python train.py                          # one machine
    mpiexec -n 64 -hostfile hosts python train.py         # a cluster (or srun under Slurm)

>>> import glassgrad.distributed as dist
>>> dist.init_process_group(backend="mpi")     # rank and world size from the launcher
>>> t = gg.ones(3) * dist.get_rank()
>>> dist.all_reduce(t, op=dist.ReduceOp.SUM)   # in place, on every rank

Started without a launcher, a program is a world of one (rank 0 of 1), so the same script
runs on one process unchanged.

Every collective is a non-blocking MPI request waited on with a deadline (``timeout`` of
:func:`init_process_group`, 30 minutes by default as PyTorch's): a rank that died or stopped
calling collectives makes the others raise :class:`DistBackendError` instead of hanging.
The public collectives first compare the ranks' tensors' dtypes and shapes (and ``op`` or
``src``) with one small all-reduce of a signature, and raise a ValueError on every rank when
they differ (``GLASSGRAD_DIST_CHECK=0`` turns this off; see docs/distributed.md).
"""

from __future__ import annotations

from ._core import (
    DistBackendError,
    ReduceOp,
    Work,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    reduce_scatter,
)

__all__ = [
    "DistBackendError", "ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast",
    "destroy_process_group", "get_backend", "get_rank", "get_world_size", "init_process_group",
    "is_available", "is_initialized", "is_mpi_available", "reduce_scatter",
]
