"""Where an MLP training step spends its time: glassgrad vs a hand-written NumPy loop.

Times zero_grad, each forward layer (Linear, ReLU, Linear, the loss), the backward and the
SGD step separately, inside the running training loop, over one MNIST epoch of a 784-H-10
ReLU MLP, for glassgrad and for the same arithmetic written by hand in NumPy (the "no
framework" bar), alternating. The difference per phase is the framework overhead of that
phase as it shows in the running step, where the work of each Python call runs with
caches cold from the GEMMs around it (issue 7). Same initial weights and batch order.

    GLASSGRAD_DATA=../shared/data/mnist python bench/bench_mlp_phases.py --batch-size 32
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_mnist_mlp as B  # noqa: E402

import glassgrad as gg  # noqa: E402
import glassgrad.nn as nn  # noqa: E402
import glassgrad.nn.functional as F  # noqa: E402

PHASES = ("zero_grad", "linear1", "relu", "linear2", "loss", "backward", "step")


def run_glassgrad(X, y, order, w, lr):
    model = nn.Sequential(nn.Linear(784, w[0][0].shape[0]), nn.ReLU(),
                          nn.Linear(w[0][0].shape[0], 10))
    for lin, (W, b) in zip([model[0], model[2]], w):
        lin.weight.data[...] = W
        lin.bias.data[...] = b
    lin1, relu, lin2 = model
    opt = gg.optim.SGD(model.parameters(), lr=lr)
    pc = time.perf_counter
    T = np.zeros(len(PHASES))
    for idx in order:
        xb, yb = gg.from_numpy(X[idx]), gg.from_numpy(y[idx])
        t0 = pc()
        opt.zero_grad()
        t1 = pc()
        h = lin1(xb)
        t2 = pc()
        a = relu(h)
        t3 = pc()
        z = lin2(a)
        t4 = pc()
        loss = F.cross_entropy(z, yb)
        t5 = pc()
        loss.backward()
        t6 = pc()
        opt.step()
        t7 = pc()
        T += (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)
    return dict(zip(PHASES, T))


def run_numpy(X, y, order, w, lr):
    (W1, b1), (W2, b2) = [(W.copy(), b.copy()) for W, b in w]
    pc = time.perf_counter
    lr32 = np.float32(lr)
    T = np.zeros(len(PHASES))
    for idx in order:
        xb, yb = X[idx], y[idx]
        n = len(idx)
        t1 = pc()
        h = xb @ W1.T
        h += b1
        t2 = pc()
        np.maximum(h, 0, out=h)
        t3 = pc()
        z = h @ W2.T
        z += b2
        t4 = pc()
        z -= z.max(1, keepdims=True)        # softmax (the loss value itself is not computed)
        np.exp(z, out=z)
        z /= z.sum(1, keepdims=True)
        t5 = pc()
        z[np.arange(n), yb] -= 1.0
        z *= np.float32(1.0 / n)
        gW2, gb2 = z.T @ h, z.sum(0)
        g = z @ W2
        g *= h > 0
        gW1, gb1 = g.T @ xb, g.sum(0)
        t6 = pc()
        W2 -= lr32 * gW2
        b2 -= lr32 * gb2
        W1 -= lr32 * gW1
        b1 -= lr32 * gb1
        t7 = pc()
        T += (0.0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)
    return dict(zip(PHASES, T))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data", default=None)
    a = ap.parse_args(argv)
    X, y, _, _ = B.load_mnist(a.data)
    w = B.init_weights([784, a.hidden, 10], 0)
    order = B.batch_order(len(X), a.batch_size, 0)
    print(f"MLP 784-{a.hidden}-10, batch {a.batch_size}, {len(order)} steps; ms per epoch")
    print(f"{'':10s} " + " ".join(f"{k:>9s}" for k in PHASES) + f" {'total':>9s}")
    rows: dict[str, list] = {"glassgrad": [], "numpy": []}
    for _ in range(a.reps):
        for name, f in (("glassgrad", run_glassgrad), ("numpy", run_numpy)):
            T = f(X, y, order, w, 0.1)
            rows[name].append(T)
            print(f"{name:10s} " + " ".join(f"{v * 1e3:9.0f}" for v in T.values())
                  + f" {sum(T.values()) * 1e3:9.0f}")
    med = {n: {k: float(np.median([r[k] for r in rs])) for k in rs[0]} for n, rs in rows.items()}
    print("median extra per step (µs): " + ", ".join(
        f"{k} {(med['glassgrad'][k] - med['numpy'][k]) / len(order) * 1e6:.0f}"
        for k in med["numpy"]))


if __name__ == "__main__":
    main()
