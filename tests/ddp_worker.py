"""Data-parallel training cases, run by ``mpiexec -n W python tests/ddp_worker.py OUT``
(from tests/integration/test_distributed_mpi.py) and, for the reference, in one process by the test.

Every case trains a small model for a few steps on this rank's share of a fixed data set
(``DistributedSampler``) and rank 0 writes the final parameters and buffers. The test
compares them with one process training on the full batches (the union of the ranks'
batches at each step), or, with BatchNorm, with W replicas emulated in one process (batch
statistics per rank, running statistics broadcast from rank 0 as PyTorch's DDP does).
"""

from __future__ import annotations

import os
import sys

import numpy as np

import glassgrad as gg
import glassgrad.nn as nn
from glassgrad.data import DataLoader, DistributedSampler, TensorDataset

N_SAMPLES = 50        # not a multiple of 2 or 4 ranks x batch: padding and a short last batch
BATCH = 4             # per rank
EPOCHS = 2

# name: (dtype, optimizer, batchnorm, no_sync accumulation steps, find_unused)
CASES = {
    "sgd64": ("float64", "sgd", False, 1, False),
    "adam64": ("float64", "adam", False, 1, False),
    "sgd32": ("float32", "sgd", False, 1, False),
    "accum64": ("float64", "sgd", False, 2, False),
    "bn64": ("float64", "sgd", True, 1, False),
    "unused64": ("float64", "adam", False, 1, True),
}


class Net(nn.Module):
    def __init__(self, bn: bool, extra: bool) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.bn = nn.BatchNorm1d(16) if bn else nn.Identity()
        self.fc2 = nn.Linear(16, 3)
        self.spare = nn.Linear(3, 3) if extra else None   # never used in forward

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return self.fc2(self.bn(self.fc1(x)).tanh())


def make(case: str) -> tuple[nn.Module, gg.Tensor, gg.Tensor]:
    dtype, _, bn, _, extra = CASES[case]
    gg.manual_seed(1)
    model = Net(bn, extra)
    model = model.double() if dtype == "float64" else model
    rng = np.random.default_rng(7)
    X = gg.tensor(rng.standard_normal((N_SAMPLES, 6)).astype(dtype))
    y = gg.tensor(rng.integers(0, 3, N_SAMPLES))
    return model, X, y


def optimizer(case: str, params: object) -> gg.optim.Optimizer:
    if CASES[case][1] == "adam":
        return gg.optim.Adam(params, lr=0.01)
    return gg.optim.SGD(params, lr=0.1, momentum=0.9)


def state(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: np.array(v.array) for k, v in model.state_dict().items()}


def rank_batches(case: str, n_ranks: int, rank: int, epoch: int, X: gg.Tensor, y: gg.Tensor):
    s = DistributedSampler(TensorDataset(X, y), num_replicas=n_ranks, rank=rank, shuffle=True, seed=3)
    s.set_epoch(epoch)
    # BatchNorm cannot train on a batch of one: its runs drop the short last batch
    return list(DataLoader(TensorDataset(X, y), batch_size=BATCH, sampler=s, drop_last=CASES[case][2]))


def run_rank(case: str) -> dict[str, np.ndarray]:
    """This rank's part of a DDP run (the process group is initialized)."""
    import glassgrad.distributed as dist
    from glassgrad.nn.parallel import DistributedDataParallel as DDP

    model, X, y = make(case)
    ddp = DDP(model, bucket_cap_mb=0.001, find_unused_parameters=CASES[case][4])  # ~1 KB buckets
    opt = optimizer(case, ddp.parameters())
    accum = CASES[case][3]
    for epoch in range(EPOCHS):
        batches = rank_batches(case, dist.get_world_size(), dist.get_rank(), epoch, X, y)
        for k in range(0, len(batches), accum):
            group = batches[k:k + accum]
            opt.zero_grad()
            for j, (xb, yb) in enumerate(group):
                if j < len(group) - 1:
                    with ddp.no_sync():
                        nn.functional.cross_entropy(ddp(xb), yb).backward()
                else:
                    nn.functional.cross_entropy(ddp(xb), yb).backward()
            opt.step()
    return state(model)


def reference(case: str, n_ranks: int) -> dict[str, np.ndarray]:
    """One process: the full batch of every step is the union of the ranks' batches."""
    if CASES[case][2]:
        return _replicas(case, n_ranks)
    model, X, y = make(case)
    opt = optimizer(case, model.parameters())
    accum = CASES[case][3]
    for epoch in range(EPOCHS):
        per_rank = [rank_batches(case, n_ranks, r, epoch, X, y) for r in range(n_ranks)]
        steps = len(per_rank[0])
        for k in range(0, steps, accum):
            opt.zero_grad()
            for j in range(k, min(k + accum, steps)):
                xb = gg.cat([per_rank[r][j][0] for r in range(n_ranks)])
                yb = gg.cat([per_rank[r][j][1] for r in range(n_ranks)])
                nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    return state(model)


def _replicas(case: str, n_ranks: int) -> dict[str, np.ndarray]:
    """W replicas in one process: each its own batch statistics, gradients averaged, the
    running statistics of replica 0 copied to the others before every forward."""
    reps = [make(case) for _ in range(n_ranks)]
    X, y = reps[0][1], reps[0][2]
    models = [m for m, _, _ in reps]
    opts = [optimizer(case, m.parameters()) for m in models]
    for epoch in range(EPOCHS):
        per_rank = [rank_batches(case, n_ranks, r, epoch, X, y) for r in range(n_ranks)]
        for k in range(len(per_rank[0])):
            for m, o in zip(models, opts):
                o.zero_grad()
                for b0, b in zip(models[0].buffers(), m.buffers()):
                    b.array[...] = b0.array
            for r, m in enumerate(models):
                xb, yb = per_rank[r][k]
                nn.functional.cross_entropy(m(xb), yb).backward()
            params = [list(m.parameters()) for m in models]
            for ps in zip(*params):
                avg = sum(p.grad.array for p in ps) / n_ranks
                for p in ps:
                    p.grad.array[...] = avg
            for o in opts:
                o.step()
    return state(models[0])


def main() -> None:
    import glassgrad.distributed as dist

    mode, out = sys.argv[1], sys.argv[2]
    if mode == "kill":
        dist.init_process_group("mpi", timeout=float(sys.argv[3]))
        _kill_run()
        return
    dist.init_process_group("mpi", timeout=60)
    results = {}
    for case in CASES:
        st = run_rank(case)
        # every rank must end with the same weights: compare with rank 0's
        for k, v in st.items():
            if "running" in k or "num_batches" in k:
                continue         # each rank updates its own running statistics (as PyTorch)
            t = gg.tensor(v)
            dist.broadcast(t, src=0)
            if not np.array_equal(t.array, v):
                raise AssertionError(f"{case}: rank {dist.get_rank()} differs from rank 0 in {k}")
        results.update({f"{case}/{k}": v for k, v in st.items()})
    results.update(_trainer_resume(os.path.dirname(out)))
    results.update(_traced())
    if dist.get_rank() == 0:
        np.savez(out, world=dist.get_world_size(), **results)
    dist.destroy_process_group()


def _trainer_resume(folder: str) -> dict[str, np.ndarray]:
    """The Trainer on DDP: 3 epochs straight, and 2 epochs + checkpoint (rank 0 writes) +
    a fresh model, optimizer and loader on every rank resuming for 1 more epoch."""
    import glassgrad.distributed as dist
    from glassgrad.nn.parallel import DistributedDataParallel as DDP

    def setup():
        model, X, y = make("adam64")
        ddp = DDP(model)
        ds = TensorDataset(X, y)
        loader = DataLoader(ds, batch_size=BATCH, sampler=DistributedSampler(ds, seed=3))
        tr = gg.train.Trainer(ddp, nn.CrossEntropyLoss(), optimizer("adam64", ddp.parameters()),
                              verbose=0)
        return model, loader, tr

    model, loader, tr = setup()
    hist = tr.fit(loader, epochs=3)
    straight = state(model)
    model, loader, tr = setup()
    tr.fit(loader, epochs=2)
    path = os.path.join(folder, "ddp.ckpt")
    tr.save_checkpoint(path)
    model, loader, tr = setup()
    tr.load_checkpoint(path)
    tr.fit(loader, epochs=1)
    resumed = state(model)
    plain = Net(False, False).double()
    plain.load_state_dict(gg.load(path)["model"])        # written without the wrapper's prefix
    loss = gg.tensor(hist.last("train_loss"), dtype=gg.float64)
    dist.broadcast(loss, src=0)
    assert loss.item() == hist.last("train_loss"), ("ranks log different epoch losses", loss.item())
    return {**{f"straight/{k}": v for k, v in straight.items()},
            **{f"resumed/{k}": v for k, v in resumed.items()}}


def _traced() -> dict[str, np.ndarray]:
    """gg.trace() of a DDP backward records each bucket's all-reduce."""
    from glassgrad.nn.parallel import DistributedDataParallel as DDP

    model, X, y = make("sgd64")
    ddp = DDP(model, bucket_cap_mb=0.001)
    with gg.trace(model=ddp) as t:
        nn.functional.cross_entropy(ddp(X[:8]), y[:8]).backward()
    table = t.table()
    assert "gradient all-reduce (DistributedDataParallel" in table, table
    assert t.to_dict()["communication"] == t.communication
    ev = t.communication
    return {"trace/bytes": np.array([e["bytes"] for e in ev]),
            "trace/params": np.array([e["params"] for e in ev]),
            "trace/bucket_sizes": np.array(ddp.bucket_sizes),
            "trace/times": np.array([[e["start"], e["seconds"], e["overlap"], e["backward_seconds"]]
                                     for e in ev])}


def _kill_run() -> None:
    """Rank 1 dies in the middle of the third step (after its forward, before its backward)."""
    import glassgrad.distributed as dist
    from glassgrad.nn.parallel import DistributedDataParallel as DDP

    model, X, y = make("sgd64")
    ddp = DDP(model)
    opt = optimizer("sgd64", ddp.parameters())
    batches = rank_batches("sgd64", dist.get_world_size(), dist.get_rank(), 0, X, y)
    for step, (xb, yb) in enumerate(batches):
        loss = nn.functional.cross_entropy(ddp(xb), yb)
        if step == 2 and dist.get_rank() == 1:
            sys.stdout.flush()
            os._exit(3)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("finished without noticing the dead rank", flush=True)


if __name__ == "__main__":
    main()
