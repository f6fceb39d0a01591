"""Where an MLP training step spends its time: glassgrad vs a hand-written NumPy loop.

Times zero_grad, each forward layer (Linear, ReLU, Linear, the loss), the backward and the
SGD step separately, inside the running training loop, over one MNIST epoch of a 784-H-10
ReLU MLP, for glassgrad and for the same arithmetic written by hand in NumPy (the "no
framework" bar), alternating. The difference per phase is the framework overhead of that
phase as it shows in the running step, where the work of each Python call runs with
caches cold from the GEMMs around it. Same initial weights and batch order.

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


def glassgrad_model(w: list, lr: float) -> tuple:
    """``(lin1, relu, lin2, opt)``: glassgrad's 784-H-10 MLP with the weights ``w`` and SGD."""
    model = nn.Sequential(nn.Linear(784, w[0][0].shape[0]), nn.ReLU(),
                          nn.Linear(w[0][0].shape[0], 10))
    for lin, (W, b) in zip([model[0], model[2]], w):
        lin.weight.array[...] = W
        lin.bias.array[...] = b
    lin1, relu, lin2 = model
    return lin1, relu, lin2, gg.optim.SGD(model.parameters(), lr=lr)


def glassgrad_step(model: tuple, xb, yb):
    """One glassgrad training step (Tensors ``xb``, ``yb``), yielding after each of
    :data:`PHASES` (so that a caller can time the phases, or stop after one)."""
    lin1, relu, lin2, opt = model
    opt.zero_grad()
    yield
    h = lin1(xb)
    yield
    a = relu(h)
    yield
    z = lin2(a)
    yield
    loss = F.cross_entropy(z, yb)
    yield
    loss.backward()
    yield
    opt.step()
    yield


def numpy_step(Ws: list, lr32, xb, yb):
    """The same step written by hand in NumPy (bench_mnist_mlp's NumPy loop: in place,
    fused softmax-CE gradient, no loss value), yielding after each of :data:`PHASES`
    (zero_grad has nothing to do). ``Ws = [(W1, b1), (W2, b2)]`` is updated in place."""
    (W1, b1), (W2, b2) = Ws
    yield
    h = xb @ W1.T
    h += b1
    yield
    np.maximum(h, 0, out=h)
    yield
    z = h @ W2.T
    z += b2
    yield
    z -= z.max(1, keepdims=True)        # softmax (the loss value itself is not computed)
    np.exp(z, out=z)
    z /= z.sum(1, keepdims=True)
    yield
    n = len(yb)
    z[np.arange(n), yb] -= 1.0
    z *= np.float32(1.0 / n)
    gW2, gb2 = z.T @ h, z.sum(0)
    g = z @ W2
    g *= h > 0
    gW1, gb1 = g.T @ xb, g.sum(0)
    yield
    W2 -= lr32 * gW2
    b2 -= lr32 * gb2
    W1 -= lr32 * gW1
    b1 -= lr32 * gb1
    yield


def _timed(steps) -> dict:
    """Run the step generators of ``steps``, summing the time of each phase."""
    pc = time.perf_counter
    T = [0.0] * len(PHASES)
    for step in steps:
        t = pc()
        for k, _ in enumerate(step):
            t1 = pc()
            T[k] += t1 - t
            t = t1
    return dict(zip(PHASES, T))


def run_glassgrad(X, y, order, w, lr):
    model = glassgrad_model(w, lr)
    return _timed(glassgrad_step(model, gg.from_numpy(X[idx]), gg.from_numpy(y[idx]))
                  for idx in order)


def run_numpy(X, y, order, w, lr):
    Ws = [(W.copy(), b.copy()) for W, b in w]
    lr32 = np.float32(lr)
    return _timed(numpy_step(Ws, lr32, X[idx], y[idx]) for idx in order)


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
