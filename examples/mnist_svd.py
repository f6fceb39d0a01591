"""MNIST zeros and ones, projected to 2-D by an SVD, plotted, and separated by a small network.

1. Take the training images of 0 and 1 (12,665 of them, 784 pixels each) and centre them.
2. SVD: ``X - mean = U S Vᵀ``; the first two right singular vectors (the principal
   directions) give each image two coordinates ``(X - mean) V[:, :2]``.
3. Plot the projected points coloured by digit: the two classes already form two clouds.
4. Train a 2-8-2 tanh network on the 2-D points and draw its decision boundary over the
   projected *test* images.

    python examples/mnist_svd.py --data /path/to/mnist     # writes runs/examples/mnist_svd/*.png
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import glassgrad as gg
from glassgrad import nn, optim
from glassgrad.data import DataLoader, TensorDataset
from glassgrad.train import Trainer
from glassgrad.viz import svd_project

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _mnist import add_data_args, load_mnist  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="MNIST 0 vs 1: 2-D SVD projection + a small network")
    add_data_args(ap)
    ap.add_argument("--digits", default="0,1", help="two digits to separate")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join("runs", "examples", "mnist_svd"))
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    d0, d1 = (int(v) for v in a.digits.split(","))

    train_ds, test_ds = load_mnist(a.data, a.no_download)
    X, y = train_ds.arrays()
    Xt, yt = test_ds.arrays()
    keep, keep_t = np.isin(y, [d0, d1]), np.isin(yt, [d0, d1])
    X, y, Xt, yt = X[keep], (y[keep] == d1).astype(np.int64), Xt[keep_t], (yt[keep_t] == d1).astype(np.int64)

    Z, comps, mean = svd_project(X, 2, center=True)        # fit the projection on training images
    Zt = (Xt - mean) @ comps.T                              # ... and apply it to the test images
    scale = Z.std(0)                                        # standardise the two coordinates
    Z, Zt = Z / scale, Zt / scale

    gg.manual_seed(a.seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    train = DataLoader(TensorDataset(gg.tensor(Z), gg.tensor(y)), batch_size=128, shuffle=True,
                       generator=gg.Generator(a.seed))
    test = DataLoader(TensorDataset(gg.tensor(Zt), gg.tensor(yt)), batch_size=4096)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0 if a.quiet else 1,
                      progress=not a.no_progress)
    hist = trainer.fit(train, test, epochs=a.epochs)
    acc = hist.last("val_acc")
    if not a.quiet:
        print(f"digits {d0} vs {d1}: {len(Z)} train / {len(Zt)} test images; in 2-D SVD coordinates a "
              f"2-8-2 tanh network gets {100 * acc:.2f}% test accuracy")
    files = []
    if not a.no_plots:
        from glassgrad import viz

        os.makedirs(a.out, exist_ok=True)
        names = [str(d0), str(d1)]
        fig = viz.plot_projection(Z, y, method="none", class_names=names,
                                  title=f"MNIST {d0} vs {d1}: first two SVD components")
        files.append(viz.save_figure(fig, os.path.join(a.out, "svd_projection.png")))
        files.append(viz.save_figure(viz.plot_decision_boundary(
            model, Zt, yt, title=f"test images, 2-8-2 tanh: accuracy {100 * acc:.2f}%", class_names=names),
            os.path.join(a.out, "svd_decision_boundary.png")))
        if not a.quiet:
            print("wrote " + ", ".join(files))
    return {"accuracy": acc, "n_train": len(Z), "n_test": len(Zt), "files": files, "Z": Z}


if __name__ == "__main__":
    r = main()
    sys.exit(0 if r["accuracy"] >= 0.99 else 1)
