"""Row-by-row MNIST with an LSTM: each image is a sequence of 28 rows of 28 pixels.

An ``nn.LSTM(28, 128)`` reads the rows top to bottom; a Linear layer classifies the last
hidden state. Trained with Adam and gradient-norm clipping
(``nn.utils.clip_grad_norm_``). Measured (seed 0): 96.5 % test accuracy after one epoch,
97.4 % after two (about 1.5–2 minutes per epoch on a busy 2-core CPU, one BLAS thread).

    python examples/lstm_mnist.py                       # 2 epochs, full data
    python examples/lstm_mnist.py --epochs 1 --limit 10000 --test-limit 2000   # quick look

On a busy shared CPU set ``OPENBLAS_NUM_THREADS=1`` (multi-threaded BLAS on small GEMMs
slows down badly when the cores are taken). MNIST comes from ``--data`` /
``$GLASSGRAD_DATA`` (IDX files, raw or .gz); ``--download`` fetches it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

import glassgrad as gg  # noqa: E402
from glassgrad import nn, optim  # noqa: E402
from glassgrad.train import progress, progress_enabled  # noqa: E402


class RowLSTM(nn.Module):
    """28 rows → LSTM → last hidden state → 10 logits."""

    def __init__(self, hidden: int = 128, layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(28, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        _, (h, _) = self.lstm(x)            # h: (layers, B, hidden)
        return self.fc(h[-1])


def evaluate(model: nn.Module, X: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with gg.no_grad():
        for i in range(0, len(X), batch):
            logits = model(gg.from_numpy(X[i:i + batch]))
            correct += int((logits.array.argmax(1) == y[i:i + batch]).sum())
    model.train()
    return correct / len(X)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="use only this many training images")
    ap.add_argument("--test-limit", type=int, default=None, help="evaluate on this many test images")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip", type=float, default=1.0, help="max gradient norm (0: no clipping)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=os.environ.get("GLASSGRAD_DATA"))
    ap.add_argument("--download", action="store_true")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)

    from glassgrad.data import MNIST

    try:
        Xtr, ytr = MNIST(a.data, train=True, download=a.download).arrays()
        Xte, yte = MNIST(a.data, train=False, download=a.download).arrays()
    except Exception as e:
        print(f"lstm_mnist: cannot load MNIST ({e}); pass --data DIR or --download", file=sys.stderr)
        return 2
    mean, std = 0.1307, 0.3081
    Xtr = ((Xtr - mean) / std).astype(np.float32).reshape(-1, 28, 28)[: a.limit]
    ytr = ytr[: a.limit]
    Xte = ((Xte - mean) / std).astype(np.float32).reshape(-1, 28, 28)[: a.test_limit]
    yte = yte[: a.test_limit]

    gg.manual_seed(a.seed)
    model = RowLSTM(a.hidden, a.layers)
    opt = optim.Adam(model.parameters(), lr=a.lr)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)   # halve lr after epochs 2, 3, ...
    rng = np.random.default_rng(a.seed)
    print(f"{model}\ntrain {len(Xtr)} / test {len(Xte)} images, batch {a.batch_size}, Adam lr {a.lr}, "
          f"clip {a.clip or 'off'}")
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        perm = rng.permutation(len(Xtr))
        tot, n, clipped = 0.0, 0, 0
        batches = range(0, len(perm), a.batch_size)
        bar = progress_enabled(not a.no_progress)
        for k, i in enumerate(progress(batches, desc=f"epoch {epoch}/{a.epochs}", enabled=bar, unit="batch")):
            idx = perm[i:i + a.batch_size]
            loss = nn.functional.cross_entropy(model(gg.from_numpy(Xtr[idx])), gg.from_numpy(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            if a.clip:
                norm = float(nn.utils.clip_grad_norm_(model.parameters(), a.clip))
                clipped += norm > a.clip
            opt.step()
            tot += loss.item() * len(idx)
            n += len(idx)
            if k % 100 == 0 and not bar:  # the bar shows the progress on a terminal
                print(f"  epoch {epoch} batch {k:4d}  loss {loss.item():.4f}", flush=True)
        if epoch >= 2:
            sched.step()
        acc = evaluate(model, Xte, yte)
        print(f"epoch {epoch}: train loss {tot / n:.4f}, test accuracy {100 * acc:.2f}% "
              f"({time.perf_counter() - t0:.0f} s; {clipped} batches clipped)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
