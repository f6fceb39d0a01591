"""MNIST the classic way: 784-30-10 sigmoid network, quadratic cost, mini-batch SGD.

Michael Nielsen's first network ("Neural Networks and Deep Learning", chapter 1):
sigmoid hidden and output units, the quadratic cost ``C = 1/(2n) Σ ||a - y||²`` against
one-hot targets, mini-batches of 10, learning rate 3.0, 30 epochs; about 95% test
accuracy. Note the cost sums over the 10 outputs (and halves): ``nn.MSELoss`` would
average over them too, shrinking the gradient 5-fold, so the cost is written out here.

    python examples/mnist_sigmoid.py --data /path/to/mnist             # 30 epochs (slow)
    python examples/mnist_sigmoid.py --epochs 3                         # a quicker look

The loop is written by hand (no Trainer), as in the book.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import glassgrad as gg
from glassgrad import nn, optim
from glassgrad.data import DataLoader
from glassgrad.train import progress

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _mnist import add_data_args, load_mnist  # noqa: E402


def quadratic_cost(a: gg.Tensor, labels: gg.Tensor) -> gg.Tensor:
    """``1/(2n) Σ_samples Σ_outputs (a - onehot(y))²``."""
    y = gg.one_hot(labels, 10).float()
    return 0.5 * ((a - y) ** 2).sum(dim=1).mean()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="MNIST 784-30-10 sigmoid, quadratic cost, SGD lr 3.0, batch 10")
    add_data_args(ap)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=3.0)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)

    train_ds, test_ds = load_mnist(a.data, a.no_download)
    Xte, yte = (gg.tensor(v) for v in test_ds.arrays())
    gg.manual_seed(a.seed)
    model = nn.Sequential(nn.Linear(784, a.hidden), nn.Sigmoid(), nn.Linear(a.hidden, 10), nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=a.lr)
    loader = DataLoader(train_ds, batch_size=a.batch_size, shuffle=True, generator=gg.Generator(a.seed))
    if not a.quiet:
        print(f"MNIST 784-{a.hidden}-10 sigmoid, quadratic cost, SGD lr {a.lr}, batch {a.batch_size}, "
              f"{a.epochs} epochs")
    accs = []
    t0 = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        te = time.perf_counter()
        for x, y in progress(loader, desc=f"epoch {epoch}/{a.epochs}", enabled=not (a.quiet or a.no_progress),
                             unit="batch"):
            opt.zero_grad()
            quadratic_cost(model(x), y).backward()
            opt.step()
        with gg.no_grad():
            correct = int((model(Xte).argmax(1) == yte).sum().item())
        accs.append(correct / len(yte))
        if not a.quiet:
            print(f"epoch {epoch:2d}: {correct} / {len(yte)} test images correct "
                  f"({100 * accs[-1]:.2f}%, {time.perf_counter() - te:.1f}s)", flush=True)
    secs = time.perf_counter() - t0
    if not a.quiet:
        print(f"final test accuracy {100 * accs[-1]:.2f}% after {a.epochs} epochs ({secs:.0f}s)")
    return {"accuracy": accs[-1], "accuracies": accs, "seconds": secs}


if __name__ == "__main__":
    r = main()
    sys.exit(0 if r["accuracy"] >= 0.9 else 1)
