"""What glassgrad's malloc tuning (glassgrad/allocator.py) does to a training step.

Each case trains in a fresh child process — the way a user's script runs — once with the
tuning (the default) and once with ``GLASSGRAD_MALLOC_TUNING=0`` (glibc's own adaptive
thresholds), alternating, and reports the median time per step and the page faults per
step (``ru_minflt``) after a few warm-up steps. Random data of the right shapes: timing
does not depend on values.

    python bench/bench_allocator.py                 # LeNet-5, LSTM (Adam), MLPs (SGD)
    python bench/bench_allocator.py --reps 5 --steps 40

Only meaningful on Linux with glibc (elsewhere the tuning does nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

CASES = {
    "lenet5-b64-adam": "LeNet-5, batch 64, Adam",
    "lstm128-b128-adam": "LSTM 28-128, 28 steps, b128, Adam",
    "mlp-784-1024-10-b128-sgd": "MLP 784-1024-10, batch 128, SGD",
    "mlp-784-4096-10-b128-sgd": "MLP 784-4096-10, batch 128, SGD",
    "mlp-784-256-10-b128-sgd": "MLP 784-256-10, batch 128, SGD",
}


def _child(case: str, steps: int) -> None:
    import resource
    import time

    import numpy as np

    import glassgrad as gg
    from glassgrad import nn

    gg.manual_seed(0)
    rng = np.random.default_rng(0)
    if case.startswith("lenet5"):
        sys.path.insert(0, HERE)
        from bench_lenet import gg_lenet

        model = gg_lenet()
        X = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, 64)
        opt = gg.optim.Adam(model.parameters(), lr=1e-3)
    elif case.startswith("lstm"):
        sys.path.insert(0, HERE)
        from _models import gg_lstm_classifier

        model = gg_lstm_classifier(128)
        X = rng.standard_normal((128, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, 128)
        opt = gg.optim.Adam(model.parameters(), lr=1e-3)
    else:
        parts = case.split("-")  # mlp-784-W-10-bB-sgd
        width, batch = int(parts[2]), int(parts[4][1:])
        model = nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Linear(width, 10))
        X = rng.standard_normal((batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        opt = gg.optim.SGD(model.parameters(), lr=0.01)
    gg.allocator.tune_for_training()  # as Trainer.fit does; GLASSGRAD_MALLOC_TUNING=0 stops it
    xb, yb = gg.from_numpy(X), gg.from_numpy(y)

    def step() -> None:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()

    for _ in range(3):
        step()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    print(json.dumps({"ms": statistics.median(ts) * 1e3, "faults": faults / steps,
                      "tuning": gg.allocator.malloc_tuning()}))


def run(case: str, steps: int, tuned: bool) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k != "GLASSGRAD_MALLOC_TUNING" and not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    if not tuned:
        env["GLASSGRAD_MALLOC_TUNING"] = "0"
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", case, str(steps)],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="fresh processes per case and setting")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per process")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--child", nargs=2, metavar=("CASE", "STEPS"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        _child(a.child[0], int(a.child[1]))
        return 0
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    bad = [c for c in cases if c not in CASES]
    if bad:
        ap.error(f"unknown case(s) {bad}; choose from {list(CASES)}")
    print(f"median ms per step over {a.reps} fresh processes x {a.steps} steps; page faults per "
          "step; 'glibc' = GLASSGRAD_MALLOC_TUNING=0")
    print(f"{'case':36s} {'tuned ms':>9s} {'glibc ms':>9s} {'ratio':>6s} {'tuned flt':>10s} "
          f"{'glibc flt':>10s}")
    for c in cases:
        res: dict[bool, list] = {True: [], False: []}
        for _ in range(a.reps):
            for tuned in (True, False):
                res[tuned].append(run(c, a.steps, tuned))
        tm = statistics.median(r["ms"] for r in res[True])
        gm = statistics.median(r["ms"] for r in res[False])
        tf = statistics.median(r["faults"] for r in res[True])
        gf = statistics.median(r["faults"] for r in res[False])
        print(f"{CASES[c]:36s} {tm:9.2f} {gm:9.2f} {gm / tm:6.2f} {tf:10.0f} {gf:10.0f}")
    st = res[True][0]["tuning"]
    print(f"tuning in the tuned children: {st}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
