"""Data-parallel training on MPI: all-reduce bandwidth, epoch times, an 8-rank run, scaling.

::

    python bench/bench_ddp.py allreduce        # glassgrad's collectives against mpi4py's raw calls
    python bench/bench_ddp.py epochs           # MNIST MLP and LeNet: 2 ranks x 1 thread vs 1 rank x 2 threads
    python bench/bench_ddp.py same-weights     # 8 ranks (oversubscribed) end with one process's weights
    python bench/bench_ddp.py scaling          # expected scaling to 8 and 64 machines, on paper
    python bench/bench_ddp.py all

Every measurement runs in fresh processes started here (``mpiexec -n N python
bench_ddp.py --child ...``), with the BLAS thread count set before NumPy loads. The two
sides of a comparison take turns (``--rounds``), and medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MNIST = os.environ.get("GLASSGRAD_DATA") or os.path.join(os.path.dirname(os.path.dirname(ROOT)),
                                                         "shared", "data", "mnist")
if not os.path.isdir(MNIST):
    MNIST = "/work/shared/data/mnist"

# the networks the scaling estimate is made for: (name, bandwidth bytes/s, latency s)
NETWORKS = [("10 Gb/s Ethernet", 1.25e9, 25e-6), ("100 Gb/s InfiniBand", 12.5e9, 2e-6)]


# ------------------------------------------------------------------------------ launching
def _mpiexec() -> str:
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if exe is None:
        sys.exit("bench_ddp: mpiexec not found; pip install 'glassgrad[distributed]'")
    return exe


def _run(nproc: int | None, threads: int, args: list[str], timeout: float = 1200) -> dict:
    """Run this script's ``--child`` mode (under mpiexec when nproc is given); rank 0's result."""
    path = os.path.join(ROOT, "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
    env = dict(os.environ, PYTHONPATH=path)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", *args]
    if nproc is not None:
        cmd = [_mpiexec(), "-n", str(nproc), *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if p.returncode != 0:
        sys.exit(f"bench_ddp: {' '.join(cmd)} failed:\n{p.stdout}\n{p.stderr}")
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    sys.exit(f"bench_ddp: no result from {' '.join(cmd)}:\n{p.stdout}\n{p.stderr}")


# ------------------------------------------------------------------------------ children
def _ddp_bucket_sum(g, bucket, _core) -> None:
    """What DistributedDataParallel does with a full bucket: start the sum, wait, add."""
    from glassgrad.nn.parallel.distributed import _start_sum

    req = _start_sum(g, bucket)
    if not req.Test():
        _core._wait_request(g, req, "bucket", g.timeout)
    if bucket.peer_buf is not None:
        np.add(bucket.buf, bucket.peer_buf, out=bucket.buf)


def _ways(op: str, nbytes: int, g, MPI, dist, gg, _core) -> dict:
    """The calls compared for one collective and per-rank tensor size: mpi4py's blocking call
    on NumPy buffers ("raw") against glassgrad's function on Tensors over the same memory."""
    w, rank = g.size, g.rank
    n = max(1, nbytes // 4)
    if op == "all_reduce":
        from glassgrad.nn.parallel.distributed import _Bucket

        buf = np.zeros(n, np.float32)
        t = gg.Tensor._make(buf, False)
        bucket = _Bucket(0, [0], [n], np.float32)
        return {"raw": lambda: g.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM),
                "glassgrad": lambda: dist.all_reduce(t),
                "DDP bucket": lambda: _ddp_bucket_sum(g, bucket, _core)}
    if op == "broadcast":
        buf = np.zeros(n, np.float32)
        t = gg.Tensor._make(buf, False)
        return {"raw": lambda: g.comm.Bcast(buf, root=0), "glassgrad": lambda: dist.broadcast(t, 0)}
    if op == "all_gather":
        src = np.full(n, rank, np.float32)
        flat = np.zeros((w, n), np.float32)
        t = gg.Tensor._make(src, False)
        rows = [gg.Tensor._make(flat[i], False) for i in range(w)]
        separate = [gg.zeros(n) for _ in range(w)]
        return {"raw": lambda: g.comm.Allgather(src, flat),
                "glassgrad": lambda: dist.all_gather(rows, t),
                "separate tensors": lambda: dist.all_gather(separate, t)}
    if op == "reduce_scatter":
        send = np.ones((w, n), np.float32)
        recv = np.zeros(n, np.float32)
        out = gg.Tensor._make(recv, False)
        rows = [gg.Tensor._make(send[i], False) for i in range(w)]
        separate = [gg.ones(n) for _ in range(w)]
        return {"raw": lambda: g.comm.Reduce_scatter_block(send, recv, op=MPI.SUM),
                "glassgrad": lambda: dist.reduce_scatter(out, rows),
                "separate tensors": lambda: dist.reduce_scatter(out, separate)}
    raise ValueError(op)


def child_allreduce(a: argparse.Namespace) -> None:
    import glassgrad as gg
    import glassgrad.distributed as dist
    from glassgrad.distributed import _core

    dist.init_process_group("mpi")
    g = _core._GROUP
    from mpi4py import MPI

    res = []
    for op in a.ops.split(","):
        for nbytes in [int(s) for s in a.sizes.split(",")]:
            ways = _ways(op, nbytes, g, MPI, dist, gg, _core)
            # calls: about a.seconds per size in all, agreed by all ranks
            g.comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(3):
                ways["raw"]()
            est = np.array([(time.perf_counter() - t0) / 3])
            g.comm.Allreduce(MPI.IN_PLACE, est, op=MPI.MAX)
            reps = int(max(5, min(4000, a.seconds / len(ways) / max(est[0], 1e-7))))
            # the ways take turns call by call (drift on a shared machine hits them alike); each
            # call starts after a barrier and its time is the slowest rank's
            local = np.zeros((reps, len(ways)))
            for i in range(reps):
                for j, fn in enumerate(ways.values()):
                    g.comm.Barrier()
                    t0 = time.perf_counter()
                    fn()
                    local[i, j] = time.perf_counter() - t0
            g.comm.Allreduce(MPI.IN_PLACE, local, op=MPI.MAX)
            res.append({"op": op, "bytes": nbytes, "reps": reps,
                        "times": {k: float(np.median(local[:, j])) for j, k in enumerate(ways)}})
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps({"sizes": res, "world": dist.get_world_size()}), flush=True)


def _mnist(n: int | None):
    import glassgrad as gg

    try:
        ds = gg.data.MNIST(MNIST, train=True, download=False, flatten=True)
        X, y = ds.arrays()
        src = "MNIST"
    except Exception as e:  # noqa: BLE001 - no MNIST here: random data of its shape
        rng = np.random.default_rng(0)
        X = rng.standard_normal((60000, 784)).astype(np.float32)
        y = rng.integers(0, 10, 60000)
        src = f"random data ({type(e).__name__})"
    if n is not None:
        X, y = X[:n], y[:n]
    return gg.tensor(np.ascontiguousarray(X, np.float32)), gg.tensor(y.astype(np.int64)), src


def _model(kind: str):
    from glassgrad import nn

    if kind == "lenet":
        return nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def child_epoch(a: argparse.Namespace) -> None:
    """Train ``--model`` for ``--epochs`` passes over ``--samples`` MNIST images with the
    global batch ``--batch``; DDP when started by mpiexec with more than one rank."""
    import glassgrad as gg
    import glassgrad.distributed as dist
    from glassgrad import nn
    from glassgrad.data import DataLoader, DistributedSampler, TensorDataset
    from glassgrad.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    w, r = dist.get_world_size(), dist.get_rank()
    X, y, src = _mnist(a.samples)
    gg.manual_seed(0)
    model = _model(a.model)
    net = DDP(model) if w > 1 else model
    opt = gg.optim.Adam(net.parameters(), lr=1e-3)
    ds = TensorDataset(X, y)
    sampler = DistributedSampler(ds, w, r, seed=0)
    loader = DataLoader(ds, batch_size=a.batch // w, sampler=sampler)
    loss_fn = nn.CrossEntropyLoss()

    waits = []

    def epoch(e: int) -> float:
        sampler.set_epoch(e)
        dist.barrier()
        t0 = time.perf_counter()
        wait = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(net(xb), yb).backward()
            wait += getattr(net, "last_wait_seconds", 0.0)
            opt.step()
        dist.barrier()
        waits.append(wait)
        return time.perf_counter() - t0

    for xb, yb in list(loader)[:5]:        # warm-up
        opt.zero_grad()
        loss_fn(net(xb), yb).backward()
        opt.step()
    times = [epoch(e) for e in range(a.epochs)]
    sizes = net.bucket_sizes if w > 1 else None
    if r == 0:
        print("RESULT " + json.dumps({"times": times, "waits": waits, "steps": len(loader), "world": w,
                                      "data": src,
                                      "params": int(sum(p.numel() for p in model.parameters())),
                                      "bucket_sizes": sizes}), flush=True)


# ------------------------------------------------------------------------------ commands
def cmd_allreduce(a: argparse.Namespace) -> None:
    r = _run(a.nproc, 1, ["allreduce", "--sizes", a.sizes, "--seconds", str(a.seconds), "--ops", a.ops])
    print(f"collectives on {r['world']} ranks (float32; bytes per rank), the ways take turns call by "
          f"call, median time per call; each way as a percentage of mpi4py's raw call on NumPy "
          f"buffers (its time / the way's time)")
    last = None
    for s in r["sizes"]:
        t = s["times"]
        if s["op"] != last:
            last = s["op"]
            others = [k for k in t if k != "raw"]
            print(f"{last}:\n{'bytes':>10}  {'raw':>10}  " + "  ".join(f"{k:>18}" for k in others))
        print(f"{s['bytes']:>10}  {t['raw'] * 1e6:>7.1f} us  "
              + "  ".join(f"{t[k] * 1e6:>8.1f} us {t['raw'] / t[k]:>6.1%}" for k in others))


def cmd_epochs(a: argparse.Namespace) -> dict:
    out = {}
    for kind in a.models.split(","):
        samples = a.samples if kind == "mlp" else a.lenet_samples
        args = ["epoch", "--model", kind, "--epochs", "1", "--batch", str(a.batch)]
        if samples:
            args += ["--samples", str(samples)]
        one, two, single, wait = [], [], [], []
        for _ in range(a.rounds):
            one.append(_run(None, 2, args)["times"][0])
            r2 = _run(2, 1, args)
            two.append(r2["times"][0])
            wait.append(r2["waits"][0])
            single.append(_run(None, 1, args)["times"][0])
        m1, m2, m0 = float(np.median(one)), float(np.median(two)), float(np.median(single))
        n = samples or 60000
        print(f"{kind}: {n} samples, global batch {a.batch}, Adam ({r2['data']}); median of {a.rounds} "
              f"turns: 1 rank x 2 threads {m1:.2f} s, 2 ranks x 1 thread {m2:.2f} s, "
              f"ratio 2x1 / 1x2 = {m2 / m1:.2f} (1 rank x 1 thread {m0:.2f} s; the 2 ranks waited "
              f"{float(np.median(wait)):.2f} s for all-reduces after the backward)", flush=True)
        out[kind] = (m1, m2, m0)
    return out


def cmd_same_weights(a: argparse.Namespace) -> None:
    import tempfile

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import ddp_worker as w

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "ranks.npz")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1")
        t0 = time.perf_counter()
        p = subprocess.run([_mpiexec(), "-n", str(a.nproc), sys.executable,
                            os.path.join(ROOT, "tests", "ddp_worker.py"), "run", out],
                           capture_output=True, text=True, env=env, timeout=1200)
        secs = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(p.stdout + p.stderr)
        got = np.load(out)
        print(f"{a.nproc} ranks on {os.cpu_count()} cores ({secs:.1f} s, all cases); largest difference "
              f"from one process on the full batches, relative to the largest weight:")
        for case, (dtype, opt, bn, accum, unused) in w.CASES.items():
            ref = w.reference(case, a.nproc)
            err = max(float(np.abs(got[f"{case}/{k}"] - v).max() / max(1.0, np.abs(v).max()))
                      for k, v in ref.items())
            what = (f"{dtype} {opt}" + (" BatchNorm" if bn else "")
                    + (f" no_sync x{accum}" if accum > 1 else "") + (" unused params" if unused else ""))
            print(f"  {case:10s} {what:36s} {err:.1e}")


def cmd_scaling(a: argparse.Namespace) -> None:
    """Weak scaling (``--batch`` samples per machine per step). Each bucket's all-reduce is
    costed as MPI's algorithm for large messages on N machines (reduce-scatter by recursive
    halving, then all-gather by doubling): 2·log2(N)·latency + 2(N-1)/N · bytes / bandwidth.
    Buckets before the last travel while the backward goes on; the last one cannot, so with
    one bucket all of it adds to the step."""
    for kind in a.models.split(","):
        r = _run(None, 1, ["epoch", "--model", kind, "--epochs", "1", "--batch", str(a.batch),
                           "--samples", str(a.batch * 40)])
        step = r["times"][0] / r["steps"]
        nbytes = 4 * r["params"]
        r2 = _run(2, 1, ["epoch", "--model", kind, "--epochs", "1", "--batch", str(2 * a.batch),
                         "--samples", str(a.batch * 8)])
        buckets = r2["bucket_sizes"]
        print(f"{kind}: {r['params']} parameters = {nbytes / 1e6:.2f} MB of float32 gradients in "
              f"{len(buckets)} bucket(s) of {', '.join(f'{b / 1e6:.2f} MB' for b in buckets)} "
              f"(bucket_cap_mb 25); "
              f"measured step on 1 core, batch {a.batch}: {step * 1e3:.1f} ms")
        for net, bw, lat in NETWORKS:
            row = []
            for n in (8, 64):
                ring = [2 * np.log2(n) * lat + 2 * (n - 1) / n * b / bw for b in buckets]
                comm = sum(ring)
                exposed = ring[-1]      # the earlier buckets travel while the backward goes on
                eff = step / (step + exposed)
                row.append(f"{n} machines: all-reduce {comm * 1e3:.2f} ms, efficiency {eff:.0%}, "
                           f"speed-up {n * eff:.1f}x")
            print(f"  {net} ({bw / 1e9:g} GB/s, {lat * 1e6:g} us): " + "; ".join(row))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=("allreduce", "epochs", "same-weights", "scaling", "all", "epoch"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--nproc", type=int, default=None, help="ranks (allreduce: 2; same-weights: 8)")
    p.add_argument("--sizes", default="4096,65536,1048576,4194304,16777216,67108864")
    p.add_argument("--ops", default="all_reduce,broadcast,all_gather,reduce_scatter",
                   help="allreduce: the collectives to measure")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0, help="allreduce: time per collective and size")
    p.add_argument("--models", default="mlp,lenet")
    p.add_argument("--model", default="mlp")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--samples", type=int, default=None, help="MLP: training samples per epoch (default all)")
    p.add_argument("--lenet-samples", type=int, default=12000,
                   help="LeNet: training samples per 'epoch' (default 12000, a fifth of MNIST)")
    a = p.parse_args(argv)
    if a.child:
        {"allreduce": child_allreduce, "epoch": child_epoch}[a.command](a)
        return
    if a.command in ("allreduce", "all"):
        a.nproc = a.nproc or 2
        cmd_allreduce(a)
        a.nproc = None
    if a.command in ("epochs", "all"):
        cmd_epochs(a)
    if a.command in ("same-weights", "all"):
        a.nproc = a.nproc or 8
        cmd_same_weights(a)
    if a.command in ("scaling", "all"):
        cmd_scaling(a)


if __name__ == "__main__":
    main()
