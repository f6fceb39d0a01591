"""MNIST on several processes with DistributedDataParallel (MPI).

Each process (rank) holds a replica of the 784-300-100-10 MLP (``--model lenet``: LeNet-5),
trains on its share of every batch (``DistributedSampler``) and the gradients are averaged
over the ranks during the backward, so all replicas take the same steps::

    pip install 'glassgrad[distributed]'                 # mpi4py and an MPI library
    mpiexec -n 2 python examples/ddp_mnist.py            # 2 processes on this machine
    mpiexec -n 64 -hostfile hosts python examples/ddp_mnist.py    # a cluster (srun under Slurm)
    python examples/ddp_mnist.py                         # one process (a world of 1)

``--batch-size`` is the global batch (split evenly over the ranks), so the run takes the
same optimizer steps on any number of processes. Rank 0 prints and writes the checkpoint
``OUT/last.ckpt`` after every epoch; ``--resume`` continues from it on every rank.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import glassgrad as gg
import glassgrad.distributed as dist
from glassgrad import nn, optim
from glassgrad.data import DataLoader, DistributedSampler, Subset
from glassgrad.nn.parallel import DistributedDataParallel as DDP
from glassgrad.train import ModelCheckpoint, Trainer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _mnist import add_data_args, load_mnist  # noqa: E402


def build(kind: str) -> nn.Module:
    if kind == "lenet":
        return nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="data-parallel MNIST over MPI processes")
    add_data_args(ap)
    ap.add_argument("--model", choices=("mlp", "lenet"), default="mlp")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128, help="global batch, split over the ranks")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="train on the first N samples only")
    ap.add_argument("--out", default=os.path.join("runs", "examples", "ddp_mnist"))
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt if it exists")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)

    dist.init_process_group(backend="mpi")       # rank and world size from mpiexec / srun
    rank, world = dist.get_rank(), dist.get_world_size()
    if a.batch_size % world:
        sys.exit(f"--batch-size {a.batch_size} must be divisible by the number of processes ({world})")
    train_ds, test_ds = load_mnist(a.data, a.no_download)
    if a.limit is not None:
        train_ds = Subset(train_ds, range(min(a.limit, len(train_ds))))
    gg.manual_seed(a.seed)
    model = DDP(build(a.model))                  # rank 0's initial weights go to every rank
    opt = optim.Adam(model.parameters(), lr=a.lr)
    sampler = DistributedSampler(train_ds, shuffle=True, seed=a.seed)   # set_epoch: by the Trainer
    train = DataLoader(train_ds, batch_size=a.batch_size // world, sampler=sampler)
    test = DataLoader(test_ds, batch_size=1000)
    verbose = 0 if a.quiet else 1
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=verbose, progress=False,
                      callbacks=[ModelCheckpoint(a.out, every_n_epochs=0, save_last=True)])
    last = os.path.join(a.out, "last.ckpt")
    if a.resume and os.path.exists(last):
        trainer.load_checkpoint(last)            # every rank reads rank 0's checkpoint
    if verbose and rank == 0:
        print(f"MNIST {len(train_ds)} train / {len(test_ds)} test, {a.model}, {world} process(es) x "
              f"{a.batch_size // world} samples per step, Adam lr {a.lr}, {a.epochs} epochs")
    t0 = time.perf_counter()
    hist = trainer.fit(train, test, epochs=max(a.epochs - trainer.epoch, 0))
    secs = time.perf_counter() - t0
    acc = hist.last("val_acc")
    if verbose and rank == 0:
        print(f"test accuracy {100 * acc:.2f}% after {trainer.epoch} epochs ({secs:.1f}s)")
    dist.destroy_process_group()
    return {"accuracy": acc, "seconds": secs, "rank": rank, "world": world}


if __name__ == "__main__":
    main()
