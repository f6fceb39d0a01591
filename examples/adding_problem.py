"""The adding problem: gated RNNs (LSTM, GRU) beat a plain RNN on long dependencies.

Each input step carries two numbers: a value ``u_t ~ U(0, 1)`` and a marker ``m_t``; two
steps are marked (one in each half of the sequence) and the target is the sum of their
two values. Predicting the constant 1 gives MSE 1/6 ≈ 0.167; a model has to carry the
first marked value across many steps to do better. Here the sequences also have
*different lengths* (``--min-length`` … ``--length``): the batch is padded and the
recurrent layers get ``lengths=``, so padded steps are masked (the state is frozen past
each sequence's end and ``h_n`` is taken at its last real step). Gradients are clipped
with ``nn.utils.clip_grad_norm_``.

    python examples/adding_problem.py                  # T up to 50, 800 steps per model
    python examples/adding_problem.py --length 100 --steps 2000 --out runs/adding

Writes ``adding_losses.csv`` and, with matplotlib, ``adding_losses.png`` (the three loss
curves) to ``--out`` (default ``runs/examples/adding_problem``).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

import glassgrad as gg  # noqa: E402
from glassgrad import nn, optim  # noqa: E402
from glassgrad.nn.utils.rnn import pad_sequence  # noqa: E402
from glassgrad.train import progress, progress_write  # noqa: E402


def make_batch(rng: np.random.Generator, batch: int, t_min: int, t_max: int) -> tuple:
    """Variable-length sequences ``(L_i, 2)``, padded to ``(B, T, 2)``; targets ``(B, 1)``."""
    lengths = rng.integers(t_min, t_max + 1, size=batch)
    seqs, targets = [], []
    for n in lengths:
        u = rng.random(n)
        m = np.zeros(n)
        a, b = rng.integers(0, n // 2), rng.integers(n // 2, n)
        m[a] = m[b] = 1.0
        seqs.append(gg.tensor(np.stack([u, m], 1).astype(np.float32)))
        targets.append(u[a] + u[b])
    x = pad_sequence(seqs, batch_first=True)
    return x, lengths, gg.tensor(np.asarray(targets, np.float32)[:, None])


class Model(nn.Module):
    def __init__(self, kind: str, hidden: int) -> None:
        super().__init__()
        self.rnn = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[kind](2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: gg.Tensor, lengths: np.ndarray) -> gg.Tensor:
        _, h = self.rnn(x, lengths=lengths)
        h = h[0] if isinstance(h, tuple) else h      # LSTM: (h_n, c_n)
        return self.head(h[-1])                      # state at each sequence's last real step


def train(kind: str, a: argparse.Namespace) -> list[float]:
    gg.manual_seed(a.seed)
    model = Model(kind, a.hidden)
    opt = optim.Adam(model.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed)
    losses = []
    t0 = time.perf_counter()
    for step in progress(range(1, a.steps + 1), desc=kind, enabled=not a.no_progress):
        x, lengths, y = make_batch(rng, a.batch_size, a.min_length, a.length)
        loss = nn.functional.mse_loss(model(x, lengths), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        losses.append(loss.item())
        if step % max(a.steps // 8, 1) == 0:
            progress_write(f"  {kind:4s} step {step:5d}  mse (last 50) {np.mean(losses[-50:]):.4f}")
    print(f"{kind}: final mse {np.mean(losses[-50:]):.4f} ({time.perf_counter() - t0:.0f} s)")
    return losses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--length", type=int, default=50, help="longest sequence")
    ap.add_argument("--min-length", type=int, default=None, help="shortest (default length/2)")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--models", default="RNN,LSTM,GRU")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join("runs", "examples", "adding_problem"))
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)
    a.min_length = a.min_length or max(a.length // 2, 2)
    if not 2 <= a.min_length <= a.length:
        ap.error("need 2 <= --min-length <= --length")
    print(f"adding problem, lengths {a.min_length}..{a.length}, batch {a.batch_size}, hidden {a.hidden}, "
          f"Adam lr {a.lr}, clip {a.clip}; baseline (predict 1) mse = 0.1667")
    curves = {k: train(k, a) for k in a.models.split(",")}
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "adding_losses.csv")
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step"] + list(curves))
        for i in range(a.steps):
            w.writerow([i + 1] + [f"{curves[k][i]:.6f}" for k in curves])
    os.replace(tmp, path)
    print(f"wrote {path}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install glassgrad[plot]): no PNG")
        return 0
    fig, ax = plt.subplots(figsize=(7, 4))
    k = max(1, min(25, a.steps // 4))
    for name, c in curves.items():
        sm = np.convolve(c, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k, len(c) + 1), sm, label=name)
    ax.axhline(1 / 6, color="gray", ls="--", label="predict 1 (0.167)")
    ax.set(xlabel="training step", ylabel=f"MSE (moving avg of {k})", yscale="log",
           title=f"Adding problem, sequence length {a.min_length}-{a.length}")
    ax.legend()
    png = os.path.join(a.out, "adding_losses.png")
    fig.savefig(png + ".tmp.png", dpi=120, bbox_inches="tight")
    os.replace(png + ".tmp.png", png)
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
