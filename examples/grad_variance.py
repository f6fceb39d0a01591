"""The variance of per-sample gradients over training, per layer (two moons or MNIST).

Each step computes every sample's gradient with :func:`gg.per_sample_grads` (one batched
backward), measures per layer with :func:`gg.gradient_variance` the trace of their covariance
``tr Σ = E‖gᵢ − ḡ‖²``, the mean squared norm ``E‖gᵢ‖²``, the squared norm of the mean ``‖ḡ‖²``
and the noise scale ``tr Σ / ‖ḡ‖²`` (the batch size at which noise equals signal), then takes
the ordinary SGD step with the mean ``ḡ`` (no second backward)::

    python examples/grad_variance.py                   # two moons, 2-32-32-2 tanh MLP, 400 steps
    python examples/grad_variance.py --mnist --steps 200

Writes ``grad_variance.png`` (and ``grad_variance.csv``) to ``--out``. On two moons the mean
gradient dominates at first (noise scale ~10); within ~50 steps ``‖ḡ‖²`` falls while the
per-sample spread ``tr Σ`` grows, and the noise scale settles around 100: from then on a
batch of 64 gives a mean gradient dominated by sampling noise (larger batches would pay off).
The last layer's variance falls steadily as its samples become well classified.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import numpy as np

import glassgrad as gg
from glassgrad import nn
from glassgrad.data import DataLoader, Subset, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _mnist import add_data_args, load_mnist  # noqa: E402

KEYS = ("trace_cov", "mean_sq_norm", "grad_sq_norm", "noise_scale")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="per-sample gradient variance per layer over training")
    add_data_args(ap)
    ap.add_argument("--mnist", action="store_true", help="MNIST 784-64-10 instead of two moons")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join("runs", "examples", "grad_variance"))
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)

    gg.manual_seed(a.seed)
    if a.mnist:
        train, _ = load_mnist(a.data, a.no_download)
        train = Subset(train, range(min(len(train), 20000)))
        model = nn.Sequential(nn.Linear(784, 64), nn.Tanh(), nn.Linear(64, 10))
    else:
        from glassgrad.data import make_moons

        X, y = make_moons(2000, noise=0.15, seed=a.seed)
        train = TensorDataset(X, y)
        model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
    loss_fn = nn.CrossEntropyLoss()
    opt = gg.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9)
    loader = DataLoader(train, batch_size=a.batch_size, shuffle=True, drop_last=True,
                        generator=gg.Generator(a.seed))
    params = dict(model.named_parameters())
    rows: list[dict] = []
    t0 = time.perf_counter()
    step = 0
    while step < a.steps:
        for x, yb in loader:
            ps = gg.per_sample_grads(model, loss_fn, x, yb)
            var = gg.gradient_variance(ps)
            for layer, d in var.items():
                rows.append({"step": step, "layer": layer, "loss": float(ps.losses.mean()), **d})
            for k, g in ps.items():                  # the ordinary step: the mean gradient
                params[k].grad = gg.Tensor._make(g.mean(0), False)
            opt.step()
            step += 1
            if not a.quiet and (step % max(1, a.steps // 10) == 0):
                m = var["(model)"]
                print(f"step {step:4d}  loss {rows[-1]['loss']:.4f}  tr Σ {m['trace_cov']:.3g}  "
                      f"‖ḡ‖² {m['grad_sq_norm']:.3g}  noise scale {m['noise_scale']:.3g}", flush=True)
            if step >= a.steps:
                break
    wall = time.perf_counter() - t0
    os.makedirs(a.out, exist_ok=True)
    csv_path = os.path.join(a.out, "grad_variance.csv")
    tmp = csv_path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "layer", "loss", *KEYS])
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, csv_path)
    plot = None if a.no_plots else _plot(rows, os.path.join(a.out, "grad_variance.png"),
                                         "MNIST" if a.mnist else "two moons")
    if not a.quiet:
        print(f"{step} steps in {wall:.1f} s; wrote {csv_path}" + (f" and {plot}" if plot else ""))
    return {"rows": rows, "seconds": wall, "csv": csv_path, "plot": plot}


def _plot(rows: list[dict], path: str, what: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    titles = {"trace_cov": "tr Σ = E‖gᵢ − ḡ‖² (per-sample variance)",
              "grad_sq_norm": "‖ḡ‖² (squared norm of the mean gradient)",
              "noise_scale": "noise scale tr Σ / ‖ḡ‖²"}
    for ax, key in zip(axes, titles):
        for layer in layers:
            sel = [r for r in rows if r["layer"] == layer]
            v = np.array([r[key] for r in sel])
            k = max(1, len(v) // 30)                   # a running mean over ~1/30 of the run
            sm = np.convolve(v, np.ones(k) / k, mode="valid")
            ax.plot(np.arange(len(sm)) + k - 1, sm, label=f"layer {layer}",
                    lw=2.5 if layer == "(model)" else 1.2)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(titles[key], fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"per-sample gradients over training ({what}, running means)")
    fig.tight_layout()
    gg.viz.save_figure(fig, path)  # atomic: a temp file in the same folder, then os.replace
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
