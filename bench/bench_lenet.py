"""LeNet-5 training speed and memory: glassgrad vs PyTorch on the CPU, in one process.

    python bench/bench_lenet.py                   # one MNIST epoch (938 batches of 64) each
    python bench/bench_lenet.py --batches 100 --reps 3

Both frameworks train the same LeNet-5 (conv 6@5x5 pad 2, ReLU, max-pool 2, conv 16@5x5,
ReLU, max-pool 2, 120, 84, 10) with Adam (lr 1e-3) on the same batches, starting from the
same weights (PyTorch's initialisation copied into glassgrad). Repetitions alternate
between the two frameworks so that load changes on a shared machine hit both alike;
the best and the median repetition are reported as seconds per batch, seconds per epoch
and the glassgrad/PyTorch ratio. Peak memory (max RSS) is measured per framework in a
child process (the same training loop on ``--mem-batches`` batches), together with the
RSS after imports and data loading, so the difference is what training itself costs.

Both use ``--threads`` BLAS/intra-op threads (default 1: the fair and stable setting
on a shared CPU; the environment variables are set before NumPy is imported).
MNIST is read from ``--data`` (default $GLASSGRAD_DATA, else ../shared/data/mnist beside the repository);
without it, random images with random labels are used (same speed, meaningless loss).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=0,
                   help="batches per repetition (default 0: one full epoch, 938 batches)")
    p.add_argument("--reps", type=int, default=2, help="alternating repetitions (default 2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    shared = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "shared", "data", "mnist")  # ../shared/data/mnist beside the repository
    p.add_argument("--data", default=os.environ.get("GLASSGRAD_DATA", shared))
    p.add_argument("--mem-batches", type=int, default=50,
                   help="batches trained in each memory-measuring child (0: skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--numpy", action="store_true",
                   help="also time the hand-written NumPy loop (bench/_numpy_ref.py)")
    p.add_argument("--child", choices=["glassgrad", "torch", "numpy"], help=argparse.SUPPRESS)
    return p.parse_args(argv)


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import _threads  # noqa: E402  (settle)
import numpy as np  # noqa: E402  (after the thread settings)


def load_data(path: str, n_needed: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Standardised MNIST training images ``(N, 1, 28, 28)`` float32 and int64 labels."""
    try:
        import glassgrad as gg

        ds = gg.data.MNIST(root=path, train=True, normalize=True)
        X, y = ds.arrays(flatten=False)
        return np.ascontiguousarray(X, dtype=np.float32), y.astype(np.int64), "MNIST"
    except Exception as e:  # noqa: BLE001 - any failure: fall back to synthetic data
        rng = np.random.default_rng(seed)
        n = max(n_needed, 64)
        X = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, n).astype(np.int64)
        return X, y, f"random data (MNIST not loaded: {type(e).__name__})"


def torch_lenet():
    import torch.nn as tnn

    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))


def gg_lenet():
    import glassgrad.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class Runner:
    """One framework's model, optimizer and training step (``numpy``: the hand-written
    NumPy loop of ``_numpy_ref.py``)."""

    def __init__(self, name: str, state: dict) -> None:
        self.name = name
        if name == "numpy":
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from _numpy_ref import NumpyLeNet

            self.net = NumpyLeNet(state)
        elif name == "torch":
            import torch

            torch.set_num_threads(ARGS.threads if ARGS else 1)
            self.torch = torch
            self.model = torch_lenet()
            self.model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
            self.F = torch.nn.functional
        else:
            import glassgrad as gg

            gg.allocator.tune_for_training()  # as Trainer.fit does (glassgrad/allocator.py)
            # the compiled kernels' library (Numba, LLVM: ~120 MB, glassgrad/ops/kernels.py) is
            # loaded with the imports, as PyTorch's kernels are, not counted as training memory
            gg.ops.kernels.preload()
            self.gg = gg
            self.model = gg_lenet()
            self.model.load_state_dict({k: gg.tensor(v) for k, v in state.items()})
            self.opt = gg.optim.Adam(self.model.parameters(), lr=1e-3)
            self.F = gg.nn.functional

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        if self.name == "numpy":
            return self.net.step(xb, yb)
        if self.name == "torch":
            x, y = self.torch.from_numpy(xb), self.torch.from_numpy(yb)
        else:
            x, y = self.gg.from_numpy(xb), self.gg.from_numpy(yb)
        loss = self.F.cross_entropy(self.model(x), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def run(self, X: np.ndarray, y: np.ndarray, n_batches: int, bs: int, start: int) -> tuple:
        t0 = time.perf_counter()
        losses = []
        n = len(X) // bs
        for i in range(n_batches):
            j = (start + i) % n
            losses.append(self.step(X[j * bs:(j + 1) * bs], y[j * bs:(j + 1) * bs]))
        return time.perf_counter() - t0, float(np.mean(losses))


def initial_state(seed: int) -> dict:
    import torch

    torch.manual_seed(seed)
    return {k: v.detach().numpy().copy() for k, v in torch_lenet().state_dict().items()}


def _peak_kb() -> int:
    """This process's peak resident memory in KiB: ``VmHWM`` from /proc (``ru_maxrss`` is
    inherited from the parent across fork+exec on Linux, so it would report the parent's
    peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(args: argparse.Namespace) -> None:
    """Train ``--mem-batches`` batches with one framework from the batches and weights in
    the ``.npz`` file the parent wrote (so that neither the full dataset nor the other
    framework is ever loaded here); print RSS figures as JSON."""
    with np.load(args.data, allow_pickle=False) as f:
        X, y = f["X"], f["y"]
        state = {k[2:]: f[k] for k in f.files if k.startswith("w:")}
    r = Runner(args.child, state)
    setup = _peak_kb()  # interpreter, framework, batches, model
    r.run(X, y, args.mem_batches, args.batch_size, 1)
    peak = _peak_kb()
    print(json.dumps({"setup_kb": setup, "peak_kb": peak}))


def measure_memory(args: argparse.Namespace, name: str, X: np.ndarray, y: np.ndarray,
                   state: dict) -> dict:
    import tempfile

    n = args.mem_batches * args.batch_size
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "batches.npz")
        np.savez(path, X=X[:n], y=y[:n], **{"w:" + k: v for k, v in state.items()})
        cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--threads",
               str(args.threads), "--data", path, "--mem-batches", str(args.mem_batches),
               "--batch-size", str(args.batch_size)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(args: argparse.Namespace) -> None:
    if args.child:
        child(args)
        return
    bs = args.batch_size
    X, y, src = load_data(args.data, max(args.batches, 1) * bs, args.seed)
    n_batches = args.batches or len(X) // bs
    state = initial_state(args.seed)
    runners = [Runner("glassgrad", state), Runner("torch", state)]
    if args.numpy:
        runners.append(Runner("numpy", state))
    for r in runners:  # warm-up (first-call set-up) on the same batch
        r.step(X[:bs], y[:bs])
    print(f"LeNet-5, Adam, batch {bs}, {n_batches} batches per repetition, {args.reps} "
          f"alternating repetitions, {args.threads} thread(s), data: {src}")
    times: dict = {r.name: [] for r in runners}
    for rep in range(args.reps):
        for r in runners:
            _threads.settle()   # the other framework's threads idle first
            sec, loss = r.run(X, y, n_batches, bs, 1 + rep * n_batches)
            times[r.name].append(sec / n_batches)
            print(f"  rep {rep + 1} {r.name:9s}: {sec:8.2f} s  ({sec / n_batches * 1e3:7.2f} "
                  f"ms/batch, mean loss {loss:.4f})", flush=True)
    per_epoch = (len(X) // bs) if src == "MNIST" else 938
    print(f"\n{'':10s} {'best ms/batch':>14s} {'median ms/batch':>16s} {'s/epoch (best)':>15s}")
    for name, ts in times.items():
        print(f"{name:10s} {min(ts) * 1e3:14.2f} {float(np.median(ts)) * 1e3:16.2f} "
              f"{min(ts) * per_epoch:15.1f}")
    ratio_best = min(times["glassgrad"]) / min(times["torch"])
    ratio_med = float(np.median(times["glassgrad"])) / float(np.median(times["torch"]))
    print(f"ratio glassgrad/torch: {ratio_best:.2f}x (best), {ratio_med:.2f}x (median)")
    if args.numpy:
        print(f"ratio glassgrad/numpy: {min(times['glassgrad']) / min(times['numpy']):.2f}x "
              f"(best), {float(np.median(times['glassgrad'])) / float(np.median(times['numpy'])):.2f}x"
              " (median)")
    if args.mem_batches:
        print(f"\npeak memory (max RSS of a child process training {args.mem_batches} "
              "batches):")
        for name in ("glassgrad", "torch"):
            m = measure_memory(args, name, X, y, state)
            print(f"  {name:9s}: peak {m['peak_kb'] / 1024:7.1f} MiB, after imports/data/model "
                  f"{m['setup_kb'] / 1024:7.1f} MiB, training adds "
                  f"{(m['peak_kb'] - m['setup_kb']) / 1024:6.1f} MiB")


if __name__ == "__main__":
    main(ARGS)
