"""Per-sample gradients of the 784-256-10 MLP: glassgrad vs an ordinary training step vs
torch.func, in one process.

    python bench/bench_per_sample.py                  # batch 128, 7 rounds of 10 calls
    python bench/bench_per_sample.py --batch-size 64 --rounds 11 --calls 20

Three things are timed on the same random batch (float32, cross-entropy with mean
reduction), alternating round by round so that load changes on a shared machine hit all
three alike:

* ``step``: one ordinary glassgrad training step (zero_grad, forward, loss, backward,
  SGD step) — the reference cost of "one batched backward";
* ``per_sample``: ``gg.per_sample_grads(model, loss, x, y)`` — every sample's gradient,
  ``(N, 256, 784) + (N, 256) + (N, 10, 256) + (N, 10)`` floats;
* ``torch.func``: ``vmap(grad(loss))`` over ``functional_call`` of the same PyTorch model
  (the same result arrays, checked once against glassgrad's);
* ``gg vmap``: the same ``vmap(grad(loss))`` with ``glassgrad.func`` — one batched run
  (batching rules), checked once against ``torch.func``;
* ``gg vmap loop``: what ``glassgrad.func.vmap`` falls back to without batching rules —
  ``grad(loss)`` called once per sample and the results stacked;
* ``write floor``: just allocating and filling arrays of the result's shapes (103 MB at
  batch 128 in float32) — no method that returns the per-sample gradients can be faster.

Each round times ``--calls`` calls of each and keeps the median call; the report is the
median over rounds and the ratios per_sample/step and per_sample/torch.func. Both libraries
use ``--threads`` BLAS / intra-op threads (default 1). The CPU model (``lscpu``) is printed:
only figures from the same machine and run are comparable.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def _args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    p.add_argument("--calls", type=int, default=10, help="timed calls per round (default 10)")
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402  (after the thread settings)


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown CPU"


def setup(batch: int, seed: int, threads: int) -> dict:
    import torch
    from torch.func import functional_call, grad, vmap

    import glassgrad as gg
    from glassgrad import func as gf

    torch.set_num_threads(threads)
    gg.allocator.tune_for_training()  # as Trainer.fit does (glassgrad/allocator.py)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    gm = gg.nn.Sequential(gg.nn.Linear(784, 256), gg.nn.ReLU(), gg.nn.Linear(256, 10))
    tm = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    tm.load_state_dict({k: torch.tensor(np.array(v.array)) for k, v in gm.state_dict().items()})
    opt = gg.optim.SGD(gm.parameters(), lr=0.01)
    loss = gg.nn.CrossEntropyLoss()
    gx, gy = gg.tensor(X), gg.tensor(y)
    tx, ty = torch.tensor(X), torch.tensor(y)
    params = {k: v.detach() for k, v in tm.named_parameters()}

    def tloss(p, xi, yi):
        return torch.nn.functional.cross_entropy(functional_call(tm, p, (xi.unsqueeze(0),)),
                                                 yi.unsqueeze(0))

    tps = vmap(grad(tloss), in_dims=(None, 0, 0))

    gparams = {k: v.detach() for k, v in gm.named_parameters()}

    def gloss(p, xi, yi):
        return gg.nn.functional.cross_entropy(gf.functional_call(gm, p, (xi.unsqueeze(0),)),
                                              yi.unsqueeze(0))

    gps = gf.vmap(gf.grad(gloss), in_dims=(None, 0, 0))
    ggrad = gf.grad(gloss)

    def step():
        opt.zero_grad()
        loss(gm(gx), gy).backward()
        opt.step()

    def per_sample():
        return gg.per_sample_grads(gm, loss, gx, gy)

    def torch_func():
        return tps(params, tx, ty)

    def gg_vmap():
        return gps(gparams, gx, gy)

    def gg_loop():
        rows = [ggrad(gparams, gx[i], gy[i]) for i in range(batch)]
        return {k: gg.stack([r[k] for r in rows]) for k in gparams}

    # same answer (before any SGD step changes glassgrad's weights)
    a, b = per_sample(), torch_func()
    c, d = gg_vmap(), gg_loop()
    for k in b:
        np.testing.assert_allclose(a[k], b[k].numpy(), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(c[k].numpy(), b[k].numpy(), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(d[k].numpy(), b[k].numpy(), rtol=1e-3, atol=1e-5)
    shapes = [(batch,) + tuple(p.shape) for p in gm.parameters()]

    def write_floor():
        return [np.full(s, 1.0, np.float32) for s in shapes]

    return {"step": step, "per_sample": per_sample, "torch.func": torch_func,
            "gg vmap": gg_vmap, "gg vmap loop": gg_loop, "write floor": write_floor}


def main() -> None:
    args = ARGS or _args()
    fns = setup(args.batch_size, args.seed, args.threads)
    for fn in fns.values():          # warm-up
        fn()
    med: dict = {k: [] for k in fns}
    for _ in range(args.rounds):
        for name, fn in fns.items():
            ts = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            med[name].append(statistics.median(ts))
    res = {k: statistics.median(v) * 1e3 for k, v in med.items()}
    print(f"CPU: {cpu_name()}; Python {sys.version.split()[0]}, NumPy {np.__version__}, "
          f"threads {args.threads}")
    print(f"MLP 784-256-10, batch {args.batch_size}, float32; median over {args.rounds} rounds "
          f"of the median of {args.calls} calls (ms):")
    for k, v in res.items():
        spread = f"{min(med[k]) * 1e3:.2f}–{max(med[k]) * 1e3:.2f}"
        print(f"  {k:<13} {v:8.2f}   (rounds: {spread})")
    print(f"  per_sample / step        = {res['per_sample'] / res['step']:.2f}x")
    print(f"  per_sample / torch.func  = {res['per_sample'] / res['torch.func']:.2f}x")
    print(f"  gg vmap / torch.func     = {res['gg vmap'] / res['torch.func']:.2f}x")
    print(f"  gg vmap loop / gg vmap   = {res['gg vmap loop'] / res['gg vmap']:.2f}x")


if __name__ == "__main__":
    main()
