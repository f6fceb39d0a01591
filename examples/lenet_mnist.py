"""LeNet-5 on MNIST with glassgrad: the classic CNN, trained with Adam.

    python examples/lenet_mnist.py --epochs 10
    python examples/lenet_mnist.py --epochs 2 --checkpoint lenet.ckpt      # train 2 epochs,
    python examples/lenet_mnist.py --epochs 4 --checkpoint lenet.ckpt      # then 2 more

Network (LeCun et al., 1998, with ReLU and max pooling by default)::

    (1, 28, 28) -conv 6@5x5 pad 2-> (6, 28, 28) -pool 2-> (6, 14, 14)
                -conv 16@5x5-> (16, 10, 10) -pool 2-> (16, 5, 5) -> 400 -> 120 -> 84 -> 10

Prints, per epoch, the mean training loss, the test accuracy and the seconds the epoch
took. The learning rate decays by ``--gamma`` per epoch (exponential schedule). With
``--checkpoint`` the model, the optimizer and the epoch counter are saved
after every epoch (atomically, no pickle) and a later run with a larger ``--epochs``
resumes from there, so a long run can be split into short ones.

MNIST is read from ``--data`` (default ``$GLASSGRAD_DATA``, else ../shared/data/mnist beside
the repository, else the glassgrad cache;
``--download`` fetches it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import glassgrad as gg
import glassgrad.nn as nn
import glassgrad.nn.functional as F
from glassgrad.train import progress

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _mnist import default_root  # noqa: E402


class LeNet5(nn.Module):
    """LeNet-5: two conv+pool stages and three fully connected layers."""

    def __init__(self, act: str = "relu", pool: str = "max") -> None:
        super().__init__()
        Act = {"relu": nn.ReLU, "tanh": nn.Tanh}[act]
        Pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pool]
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), Act(), Pool(2),
            nn.Conv2d(6, 16, 5), Act(), Pool(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), Act(), nn.Linear(120, 84), Act(),
            nn.Linear(84, 10),
        )

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return self.classifier(self.features(x))


def evaluate(model: nn.Module, X: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    """Accuracy (%) on ``(X, y)``."""
    model.eval()
    correct = 0
    with gg.no_grad():
        for i in range(0, len(X), batch):
            logits = model(gg.from_numpy(X[i:i + batch]))
            correct += int((logits.numpy().argmax(1) == y[i:i + batch]).sum())
    model.train()
    return 100.0 * correct / len(X)


def main() -> None:
    p = argparse.ArgumentParser(description="LeNet-5 on MNIST with glassgrad")
    p.add_argument("--epochs", type=int, default=10, help="total epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--gamma", type=float, default=0.8,
                   help="learning rate multiplied by this after every epoch (default 0.8; "
                        "1 keeps it constant)")
    p.add_argument("--act", choices=["relu", "tanh"], default="relu")
    p.add_argument("--pool", choices=["max", "avg"], default="max")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=default_root())
    p.add_argument("--download", action="store_true", help="download MNIST if missing")
    p.add_argument("--limit", type=int, default=0,
                   help="use only the first N training images (quick runs)")
    p.add_argument("--checkpoint", default=None,
                   help="save after every epoch here; resume from it if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args()

    gg.manual_seed(args.seed)
    train = gg.data.MNIST(root=args.data, train=True, normalize=True, download=args.download)
    test = gg.data.MNIST(root=args.data, train=False, normalize=True, download=args.download)
    X, y = train.arrays(flatten=False)
    Xt, yt = test.arrays(flatten=False)
    if args.limit:
        X, y = X[:args.limit], y[:args.limit]
    X, Xt = np.ascontiguousarray(X, np.float32), np.ascontiguousarray(Xt, np.float32)

    model = LeNet5(args.act, args.pool)
    opt = gg.optim.Adam(model.parameters(), lr=args.lr)
    sched = gg.optim.lr_scheduler.ExponentialLR(opt, gamma=args.gamma)
    start = 0
    if args.checkpoint and os.path.exists(args.checkpoint):
        ck = gg.load(args.checkpoint)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        gg.set_rng_state(ck["rng"])
        start = int(ck["epoch"])
        print(f"resumed from {args.checkpoint} after epoch {start} "
              f"(test accuracy {ck['test_acc']:.2f}%)")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"LeNet-5 ({args.act}, {args.pool} pool), {n_params} parameters, Adam lr {args.lr} "
          f"(x{args.gamma} per epoch), batch {args.batch_size}, {len(X)} training images")
    rng = np.random.default_rng(args.seed)
    for _ in range(start):  # the same shuffles as an uninterrupted run
        rng.permutation(len(X))
    bs = args.batch_size
    for epoch in range(start, args.epochs):
        t0 = time.perf_counter()
        perm = rng.permutation(len(X))
        total, n = 0.0, 0
        for i in progress(range(0, len(X), bs), desc=f"epoch {epoch + 1}/{args.epochs}",
                          enabled=not args.no_progress, unit="batch"):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(model(gg.from_numpy(X[idx])), gg.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            n += len(idx)
        train_s = time.perf_counter() - t0
        sched.step()
        acc = evaluate(model, Xt, yt)
        print(f"epoch {epoch + 1:2d}: train loss {total / n:.4f}  test accuracy {acc:6.2f}%  "
              f"({train_s:.1f} s training, {time.perf_counter() - t0 - train_s:.1f} s test)",
              flush=True)
        if args.checkpoint:
            gg.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                     "scheduler": sched.state_dict(), "rng": gg.get_rng_state(),
                     "epoch": epoch + 1, "test_acc": acc},
                    args.checkpoint)


if __name__ == "__main__":
    main()
