"""Framework cost per training step in CPU instructions: glassgrad vs the hand-written NumPy loop.

Wall-clock timings of a step on a shared 2-core machine drift by ±20 %; instruction
counts do not. This runs the MLP step of ``bench_mnist_mlp.py`` (glassgrad's
Sequential/cross_entropy/backward/SGD and the NumPy loop doing the same arithmetic)
under Valgrind (``cachegrind``, no cache simulation) twice per framework, for ``N`` and
for ``0`` steps after the same warm-up, and prints the difference divided by ``N``:
instructions per step, deterministic to about 0.1 % (``PYTHONHASHSEED=0``, one BLAS
thread). The glassgrad − NumPy difference is the framework's own work per step; the
``tape`` trainer (a minimal closure tape, see bench_mnist_mlp.py) shows how much of it any
eager Python autograd pays.
Random data of MNIST's shape is used, so no download is needed.

    python bench/bench_instructions.py                    # 784-256-10, batch 32
    python bench/bench_instructions.py --batch-size 128 --layers 784-300-100-10
    python bench/bench_instructions.py --phases           # per phase of the step (784-H-10)

``--phases`` splits the step of a 784-H-10 MLP (the first ``--layers`` hidden width) into
wrap batch / zero_grad / linear1 / relu / linear2 / loss / backward / step and counts each
for glassgrad and the NumPy loop (by running the step cut after each phase: 16 Valgrind
runs, about ten minutes). The NumPy loop's "loss" is its softmax only (it never computes
the loss value) and its "backward" starts with ``p − onehot``.

Needs ``valgrind`` on the PATH (Debian/Ubuntu: ``apt install valgrind``); takes about a
minute.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from itertools import islice

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _child(fw: str, steps: int, sizes: list[int], batch: int) -> None:
    """Run ``steps`` training steps (after 20 warm-up steps) of framework ``fw``.

    The warm-up lets CPython 3.11+ specialize the bytecode of the step (each instruction is
    specialized after it ran a few times) before counting starts."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
    import bench_mnist_mlp as B

    rng = np.random.default_rng(0)
    X = rng.random((4096, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], 4096)
    tr = B.TRAINERS[fw](B.init_weights(sizes, 0))
    order = B.batch_order(len(X), batch, 0)
    order = order * (1 + (20 + steps) // len(order))  # (several epochs when needed)
    tr.run(X, y, order[:20], 0.1)
    tr.run(X, y, order[20:20 + steps], 0.1)


PHASES = ("wrap batch", "zero_grad", "linear1", "relu", "linear2", "loss", "backward", "step")


def _phase_child(fw: str, upto: int, steps: int, hidden: int, batch: int) -> None:
    """``steps`` steps (after 20 warm-up steps) of a 784-``hidden``-10 MLP, each cut after
    phase number ``upto`` of :data:`PHASES` (0: only the batch wrapping). The steps are
    bench_mlp_phases.py's, the one definition of the phases."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
    import bench_mlp_phases as P

    import glassgrad as gg

    rng = np.random.default_rng(0)
    X = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    w = [((rng.random((hidden, 784), dtype=np.float32) - 0.5) * 0.1, np.zeros(hidden, np.float32)),
         ((rng.random((10, hidden), dtype=np.float32) - 0.5) * 0.1, np.zeros(10, np.float32))]
    if fw == "glassgrad":
        model = P.glassgrad_model(w, 0.01)

        def step() -> None:
            for _ in islice(P.glassgrad_step(model, gg.from_numpy(X), gg.from_numpy(y)), upto):
                pass
    else:
        lr32 = np.float32(0.01)

        def step() -> None:
            for _ in islice(P.numpy_step(w, lr32, X, y), upto):
                pass
    for _ in range(20):
        step()
    for _ in range(steps):
        step()


def count(fw: str, steps: int, sizes: list[int], batch: int, upto: int | None = None) -> int:
    """Instructions executed by a child process running ``steps`` steps of ``fw`` (cut
    after phase ``upto`` when given)."""
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    child = (["--child", fw, str(steps), "-".join(map(str, sizes)), str(batch)] if upto is None
             else ["--phase-child", fw, str(upto), str(steps), str(sizes[1]), str(batch)])
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, os.path.abspath(__file__), *child]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    m = re.search(r"I\s+refs:\s+([\d,]+)", res.stderr)
    if res.returncode != 0 or m is None:
        raise RuntimeError(f"valgrind run failed ({res.returncode}): {res.stderr[-500:]}")
    return int(m.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        fw, steps, layers, batch = argv[1:5]
        _child(fw, int(steps), [int(s) for s in layers.split("-")], int(batch))
        return 0
    if argv[:1] == ["--phase-child"]:
        fw, upto, steps, hidden, batch = argv[1:6]
        _phase_child(fw, int(upto), int(steps), int(hidden), int(batch))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", default="784-256-10")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=60, help="steps counted (default 60)")
    ap.add_argument("--phases", action="store_true",
                    help="count each phase of the step (784-H-10 with H from --layers)")
    a = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("bench_instructions: valgrind not found on PATH (apt install valgrind)", file=sys.stderr)
        return 2
    sizes = [int(s) for s in a.layers.split("-")]
    if a.phases:
        return _phases(sizes[1], a.batch_size, a.steps)
    per = {}
    for fw in ("numpy", "tape", "glassgrad", "capture"):
        per[fw] = (count(fw, a.steps, sizes, a.batch_size) - count(fw, 0, sizes, a.batch_size)) / a.steps
    print(f"MLP {a.layers} ReLU, batch {a.batch_size}, SGD; instructions per training step "
          f"(valgrind, 1 BLAS thread, {a.steps} steps)")
    for fw, v in per.items():
        print(f"  {fw:<10} {v / 1e6:8.3f} M")
    d = per["glassgrad"] - per["numpy"]
    print(f"  framework work: {d / 1e6:.3f} M instructions per step "
          f"({100 * d / per['numpy']:.1f} % of the NumPy loop's)")
    f = per["tape"] - per["numpy"]
    print(f"  of which a minimal Python tape (the floor, loss value included): {f / 1e6:.3f} M; "
          f"glassgrad's own features: {(d - f) / 1e6:.3f} M")
    c = per["capture"] - per["numpy"]
    print(f"  with gg.capture (ops replayed): {c / 1e6:.3f} M instructions per step "
          f"({100 * c / per['numpy']:.1f} %)")
    return 0


def _phases(hidden: int, batch: int, steps: int) -> int:
    """Print the instructions of each phase of the step, glassgrad vs the NumPy loop."""
    per: dict[str, list[float]] = {}
    for fw in ("numpy", "glassgrad"):
        cum = [(count(fw, steps, [784, hidden, 10], batch, k)
                - count(fw, 0, [784, hidden, 10], batch, k)) / steps for k in range(len(PHASES))]
        per[fw] = [c - p for c, p in zip(cum, [0.0] + cum[:-1])]
    print(f"MLP 784-{hidden}-10 ReLU, batch {batch}, SGD; thousand instructions per phase of a "
          f"training step (valgrind, 1 BLAS thread, {steps} steps)")
    print(f"{'phase':<11} {'numpy':>9} {'glassgrad':>10} {'extra':>8}")
    for i, ph in enumerate(PHASES):
        n, g = per["numpy"][i] / 1e3, per["glassgrad"][i] / 1e3
        print(f"{ph:<11} {n:9.1f} {g:10.1f} {g - n:8.1f}")
    n, g = sum(per["numpy"]) / 1e3, sum(per["glassgrad"]) / 1e3
    print(f"{'total':<11} {n:9.1f} {g:10.1f} {g - n:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
