"""XOR with a 2-8-1 sigmoid network, squared loss and plain full-batch gradient descent.

The classic: XOR is not linearly separable, so a network needs a hidden layer. This
example writes the training loop by hand (no Trainer) to show how little there is::

    python examples/xor.py                 # prints the loss, the predictions, 100% accuracy
    python examples/xor.py --plot xor.png  # also draws the decision boundary
"""

from __future__ import annotations

import argparse
import sys

import glassgrad as gg
from glassgrad import nn, optim


def build(seed: int = 0) -> nn.Module:
    gg.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.Sigmoid(), nn.Linear(8, 1), nn.Sigmoid())


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="XOR: 2-8-1 sigmoid MLP, squared loss, full-batch GD")
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default=None, help="save the decision boundary to this PNG")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)

    X, y = gg.data.make_xor()                      # the 4 corners, y = [0, 1, 1, 0]
    target = y.float().reshape(4, 1)
    model = build(a.seed)
    loss_fn = nn.MSELoss()                         # mean of (output - target)^2
    opt = optim.SGD(model.parameters(), lr=a.lr)   # plain gradient descent: the batch is all 4 points

    for epoch in range(1, a.epochs + 1):
        opt.zero_grad()
        loss = loss_fn(model(X), target)
        loss.backward()
        opt.step()
        if not a.quiet and (epoch == 1 or epoch % (a.epochs // 10 or 1) == 0):
            print(f"epoch {epoch:5d}  loss {loss.item():.6f}")

    with gg.no_grad():
        out = model(X).reshape(4)
    pred = (out > 0.5).long()
    acc = float((pred == y).float().mean().item())
    if not a.quiet:
        for xi, oi, yi in zip(X.tolist(), out.tolist(), y.tolist()):
            print(f"  x = {xi}  output {oi:.4f}  target {yi}")
        print(f"accuracy {100 * acc:.0f}%  final loss {loss.item():.6f}")
    if a.plot:
        from glassgrad.viz import plot_decision_boundary

        plot_decision_boundary(model, X, y, a.plot, margin=0.5, title="XOR: 2-8-1 sigmoid")
        if not a.quiet:
            print(f"wrote {a.plot}")
    return {"accuracy": acc, "loss": float(loss.item()), "model": model}


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["accuracy"] == 1.0 else 1)
