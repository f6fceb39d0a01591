"""A Transformer encoder training step: glassgrad vs PyTorch (CPU), same weights and batches.

The model: ``nn.TransformerEncoder`` of 2 ``nn.TransformerEncoderLayer`` (d_model 128,
4 heads, feed-forward 512, dropout 0.1, ``batch_first=True``), the mean over the sequence,
then ``Linear(128, 10)``; softmax cross-entropy; AdamW (lr 1e-3). Inputs are random
``(batch, seq, 128)`` float32 sequences with random labels (no data set needed). PyTorch's
initial weights are copied into glassgrad's model, so both start from the same point.

Timing: the frameworks alternate within each repetition (``--steps`` steps each); the
median seconds per step and the ratio of the medians (and the median of per-turn ratios)
are printed, with the processor and the versions.

    python bench/bench_transformer.py                      # 2 threads each, 5 repetitions
    python bench/bench_transformer.py --steps 5 --reps 1   # smoke run

``--threads`` sets PyTorch's intra-op threads and the BLAS threads NumPy uses (set before
NumPy is imported).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from typing import Any, Callable

import _threads  # first: it sets the BLAS threads before NumPy loads

_threads.from_argv("2")

import numpy as np  # noqa: E402

D_MODEL, HEADS, FF, LAYERS, CLASSES = 128, 4, 512, 2, 10


def _build(lib: Any) -> Any:
    nn = lib.nn

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.1, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.head = nn.Linear(D_MODEL, CLASSES)

        def forward(self, x: Any) -> Any:
            return self.head(self.encoder(x).mean(1))

    return Model()


def make_steppers(threads: int, seed: int) -> dict[str, Callable]:
    import torch

    import glassgrad as gg

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gg.manual_seed(seed)
    gg.allocator.tune_for_training()  # as Trainer.fit does (glassgrad/allocator.py)
    # the compiled kernels' library (Numba, LLVM: ~120 MB, glassgrad/ops/kernels.py) is
    # loaded with the imports, as PyTorch's kernels are, not counted as training memory
    gg.ops.kernels.preload()
    tm = _build(torch)
    gm = _build(gg)
    state = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    gm.load_state_dict({k: gg.tensor(v) for k, v in state.items()})
    topt = torch.optim.AdamW(tm.parameters(), lr=1e-3)
    gopt = gg.optim.AdamW(gm.parameters(), lr=1e-3)
    tm.train()
    gm.train()

    def torch_step(x: np.ndarray, y: np.ndarray) -> float:
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        topt.step()
        return float(loss.detach())

    def gg_step(x: np.ndarray, y: np.ndarray) -> float:
        gopt.zero_grad()
        loss = gg.nn.functional.cross_entropy(gm(gg.from_numpy(x)), gg.from_numpy(y))
        loss.backward()
        gopt.step()
        return float(loss)

    return {"glassgrad": gg_step, "torch": torch_step}


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per turn")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    import torch

    import glassgrad as gg

    rng = np.random.default_rng(a.seed)
    n = a.steps
    xs = rng.standard_normal((n, a.batch_size, a.seq, D_MODEL)).astype(np.float32)
    ys = rng.integers(0, CLASSES, (n, a.batch_size))
    steppers = make_steppers(a.threads, a.seed)
    for fn in steppers.values():  # warm-up
        fn(xs[0], ys[0])
    times: dict[str, list[float]] = {k: [] for k in steppers}
    for _ in range(a.reps):
        for name, fn in steppers.items():
            _threads.settle()   # the other framework's threads idle first
            t0 = time.perf_counter()
            for i in range(n):
                fn(xs[i], ys[i])
            times[name].append((time.perf_counter() - t0) / n)
    print(f"{_cpu()}; NumPy {np.__version__}, PyTorch {torch.__version__}, glassgrad "
          f"{gg.__version__}; {a.threads} thread(s) each; batch {a.batch_size}, seq {a.seq}, "
          f"d_model {D_MODEL}, {HEADS} heads, ff {FF}, {LAYERS} layers, AdamW")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:10s} median {v * 1e3:8.2f} ms/step  (best {min(times[k]) * 1e3:.2f})")
    turns = statistics.median(g / t for g, t in zip(times["glassgrad"], times["torch"]))
    print(f"glassgrad / torch: {med['glassgrad'] / med['torch']:.2f} "
          f"(best {min(times['glassgrad']) / min(times['torch']):.2f}, "
          f"median of per-turn ratios {turns:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
