"""Differentially private MNIST: DP-SGD (clip C = 1, noise σ = 1.1) with Poisson sampling.

The image goes through a fixed map first — its 8×8 lowest-frequency 2-D DCT coefficients
(784 → 64 numbers; the map does not depend on the data, so it costs no privacy) — then a
64-256-10 MLP with tanh (bounded activations suit clipping), trained with
:class:`glassgrad.privacy.DPOptimizer` over SGD (lr 8, momentum 0.9, cosine decay) with an
expected batch of 2048 for 6 epochs. Each step clips every sample's gradient to norm ≤ C,
sums, adds N(0, σ²C²) noise and divides by the expected batch size. Few weights mean little
noise in total (σC per weight) and cheap per-sample gradients::

    python examples/dp_mnist.py                       # ~95.3% test accuracy, ε ≈ 2.8 (δ = 1e-5)
    python examples/dp_mnist.py --epochs 1 -q         # a quick look
    python examples/dp_mnist.py --fixed-batches       # shuffled fixed-size batches (see the caveat)
    python examples/dp_mnist.py --dct 0 --pool 2      # 2x2-pooled pixels instead (~94.6%)

The privacy budget ε (δ = 1e-5 by default) needs the optional accountant:
``pip install glassgrad[privacy]``; without it training runs and ε is reported as not computed.
Writes ``dp_mnist.png`` (test accuracy and training loss, ε over the steps) to ``--out``
when matplotlib is present. Algorithm and caveats: docs/dp_sgd.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

import glassgrad as gg
from glassgrad import nn, optim
from glassgrad.data import DataLoader, Subset
from glassgrad.privacy import make_private

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _mnist import add_data_args, load_mnist  # noqa: E402


class DCT(nn.Module):
    """The ``k×k`` lowest-frequency coefficients of the orthonormal 2-D DCT-II of a 28×28
    image: ``x ↦ x·M`` with a fixed ``(784, k²)`` matrix (a buffer, not trained)."""

    def __init__(self, k: int) -> None:
        super().__init__()
        n = np.arange(28)
        D = np.cos(np.pi * (n[None, :] + 0.5) * n[:, None] / 28) * np.sqrt(2 / 28)
        D[0] /= np.sqrt(2)
        M = np.einsum("ui,vj->ijuv", D[:k], D[:k]).reshape(784, k * k)
        self.register_buffer("M", gg.tensor(M.astype(np.float32)))

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return x @ self.M


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    right = total = 0
    with gg.no_grad():
        for x, y in loader:
            right += int((model(x).argmax(1).array == y.array).sum())
            total += y.shape[0]
    model.train()
    return right / max(total, 1)


def epsilon_or_none(dp, delta: float) -> float | None:
    try:
        return dp.epsilon(delta)
    except ImportError:
        return None


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="DP-SGD on MNIST (DCT features, 64-256-10 tanh MLP)")
    add_data_args(ap)
    ap.add_argument("--epochs", type=float, default=6, help="expected passes over the data")
    ap.add_argument("--batch-size", type=int, default=2048, help="expected batch size (q = b/N)")
    ap.add_argument("--lr", type=float, default=8.0)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--no-cosine", action="store_true", help="constant lr (default: cosine decay to 0)")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--pool", type=int, default=1,
                    help="with --dct 0: average-pool the 28x28 image by this factor first (also a fixed "
                         "map)")
    ap.add_argument("--dct", type=int, default=8,
                    help="keep the K×K lowest-frequency 2-D DCT coefficients of the image (a fixed, "
                         "data-independent map: no privacy cost; fewer weights, so less noise and "
                         "faster steps); 0: the pixels")
    ap.add_argument("--max-grad-norm", type=float, default=1.0, help="C")
    ap.add_argument("--noise-multiplier", type=float, default=1.1, help="σ")
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--fixed-batches", action="store_true",
                    help="shuffled fixed-size batches instead of Poisson sampling (ε then assumes "
                         "Poisson sampling anyway: see docs/dp_sgd.md)")
    ap.add_argument("--train-subset", type=int, default=None, help="use the first N training images")
    ap.add_argument("--test-subset", type=int, default=None, help="use the first N test images")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    ap.add_argument("--eval-every", type=int, default=None, help="steps between evaluations "
                    "(default: 4 per epoch)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join("runs", "examples", "dp_mnist"))
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)

    train_ds, test_ds = load_mnist(a.data, a.no_download)
    if a.train_subset:
        train_ds = Subset(train_ds, range(min(a.train_subset, len(train_ds))))
    if a.test_subset:
        test_ds = Subset(test_ds, range(min(a.test_subset, len(test_ds))))
    n = len(train_ds)
    bsz = min(a.batch_size, n)
    gg.manual_seed(a.seed)
    if a.dct:
        pre: list = [DCT(a.dct)]
        n_in = a.dct * a.dct
    elif a.pool > 1:
        pre = [nn.Unflatten(1, (1, 28, 28)), nn.AvgPool2d(a.pool), nn.Flatten()]
        n_in = (28 // a.pool) ** 2
    else:
        pre, n_in = [], 784
    model = nn.Sequential(*pre, nn.Linear(n_in, a.hidden), nn.Tanh(), nn.Linear(a.hidden, 10))
    opt = optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    dp, loader = make_private(model, opt, nn.CrossEntropyLoss(), train_ds, batch_size=bsz,
                              max_grad_norm=a.max_grad_norm, noise_multiplier=a.noise_multiplier,
                              poisson=not a.fixed_batches, generator=gg.Generator(a.seed),
                              noise_generator=gg.Generator(a.seed + 1))
    test = DataLoader(test_ds, batch_size=1000)
    steps_per_epoch = len(loader)
    total = max(1, round(a.epochs * steps_per_epoch))
    if a.max_steps is not None:
        total = min(total, a.max_steps)
    sched = None if a.no_cosine else optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    every = a.eval_every or max(1, steps_per_epoch // 4)
    say = (lambda *s: None) if a.quiet else (lambda *s: print(*s, flush=True))
    say(f"DP-SGD: N={n}, expected batch {bsz} (q={dp.sample_rate:.5f}), C={a.max_grad_norm}, "
        f"σ={a.noise_multiplier}, {total} steps ({total / steps_per_epoch:.2f} epochs), "
        f"{'fixed-size shuffled' if a.fixed_batches else 'Poisson'} batches")
    hist: dict = {"step": [], "test_acc": [], "loss": [], "epsilon": []}
    losses: list[float] = []
    t0 = time.perf_counter()
    step = 0
    while step < total:
        for x, y in loader:
            loss = dp.step(x, y)
            if sched is not None:
                sched.step()
            if not math.isnan(loss):
                losses.append(loss)
            step += 1
            if step % every == 0 or step == total:
                acc = evaluate(model, test)
                eps = epsilon_or_none(dp, a.delta)
                hist["step"].append(step)
                hist["test_acc"].append(acc)
                hist["loss"].append(float(np.mean(losses[-every:])) if losses else float("nan"))
                hist["epsilon"].append(eps)
                say(f"step {step:5d}/{total}  epoch {step / steps_per_epoch:5.2f}  "
                    f"loss {hist['loss'][-1]:.4f}  "
                    f"test acc {acc:.4f}  ε {'n/a' if eps is None else f'{eps:.3f}'}  "
                    f"clipped {dp.last_step['clipped']:.2f}  {time.perf_counter() - t0:6.1f}s")
            if step >= total:
                break
    wall = time.perf_counter() - t0
    eps = hist["epsilon"][-1]
    say(f"test accuracy {hist['test_acc'][-1]:.4f}, "
        + (f"ε = {eps:.3f} for δ = {a.delta:g}" if eps is not None else
           "ε not computed (pip install glassgrad[privacy] for the accountant)")
        + f", {step} steps in {wall:.1f} s")
    plot = None
    if not a.no_plots:
        plot = _plot(hist, a, os.path.join(a.out, "dp_mnist.png"))
        if plot:
            say(f"wrote {plot}")
    return {"test_acc": hist["test_acc"][-1], "epsilon": eps, "steps": step, "seconds": wall,
            "history": hist, "plot": plot}


def _plot(hist: dict, a: argparse.Namespace, path: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax1, ax3) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(hist["step"], hist["test_acc"], "o-", color="C0", label="test accuracy")
    ax1.set_xlabel("step")
    ax1.set_ylabel("test accuracy", color="C0")
    ax2 = ax1.twinx()
    ax2.plot(hist["step"], hist["loss"], "s--", color="C1", label="training loss")
    ax2.set_ylabel("training loss", color="C1")
    ax1.set_title(f"DP-SGD on MNIST, C={a.max_grad_norm}, σ={a.noise_multiplier}")
    if any(e is not None for e in hist["epsilon"]):
        ax3.plot(hist["step"], [np.nan if e is None else e for e in hist["epsilon"]], "o-", color="C2")
        ax3.set_ylabel(f"ε (δ = {a.delta:g}, RDP accountant)")
    else:
        ax3.text(0.5, 0.5, "ε not computed\n(pip install glassgrad[privacy])", ha="center",
                 va="center", transform=ax3.transAxes)
    ax3.set_xlabel("step")
    ax3.set_title("privacy spent")
    fig.tight_layout()
    gg.viz.save_figure(fig, path)  # atomic: a temp file in the same folder, then os.replace
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
