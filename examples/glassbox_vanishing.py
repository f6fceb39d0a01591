"""Vanishing gradients, seen: a deep sigmoid MLP next to a ReLU / He-initialized one.

Both networks have 12 hidden layers of width 64 and are trained with plain SGD on the
two-moons data set. ``GradientFlow`` records every layer's gradient norm, weight norm
and update/weight ratio at every step, and the plot puts the two side by side.

Why the sigmoid net starves: backprop multiplies δ by ``Wᵀ`` and by ``σ′(z) ≤ ¼`` at
every layer (``δˡ = (Wˡ⁺¹)ᵀ δˡ⁺¹ ⊙ σ′(zˡ)``), so with weights of the default scale the
gradient shrinks geometrically towards the input. ReLU has ``relu′ = 1`` on its active
half, and He initialization (variance 2/fan_in) keeps ‖δ‖ roughly constant with depth.

Run::

    python examples/glassbox_vanishing.py [--steps 100] [--out runs/examples/glassbox_vanishing/vanishing.png]

The figure goes to ``runs/examples/glassbox_vanishing/vanishing.png`` by default; the one in
the documentation is refreshed with ``--out docs/img/vanishing.png``.
"""

from __future__ import annotations

import argparse
import os
import warnings

import glassgrad as gg
from glassgrad.glassbox import GradientFlow
from glassgrad.train import progress
from glassgrad.viz import compare_gradient_flow

nn = gg.nn
F = gg.nn.functional


def make_mlp(depth: int, width: int, act: str) -> nn.Module:
    layers: list = [nn.Linear(2, width)]
    for _ in range(depth - 1):
        layers += [nn.Sigmoid() if act == "sigmoid" else nn.ReLU(), nn.Linear(width, width)]
    layers += [nn.Sigmoid() if act == "sigmoid" else nn.ReLU(), nn.Linear(width, 2)]
    model = nn.Sequential(*layers)
    if act == "relu":
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    return model


def train(model: nn.Module, x: gg.Tensor, y: gg.Tensor, steps: int, lr: float, desc: str = "",
          show_progress: bool = True) -> tuple:
    flow = GradientFlow(model, warn=True)
    opt = gg.optim.SGD(model.parameters(), lr=lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in progress(range(steps), desc=desc, enabled=show_progress):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            flow.record()
            opt.step()
            flow.record_update()
    flow.remove()
    with gg.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    return flow, float(loss.item()), acc, [str(w.message) for w in caught]


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--out", default=os.path.join("runs", "examples", "glassbox_vanishing", "vanishing.png"),
                    help="PNG to write (docs/img/vanishing.png refreshes the documentation's figure)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    x, y = gg.data.make_moons(512, noise=0.1, seed=0)
    results = {}
    summary = {}
    for act, label in (("sigmoid", "sigmoid, default init"), ("relu", "ReLU, He init")):
        gg.manual_seed(0)
        model = make_mlp(args.depth, args.width, act)
        flow, loss, acc, warns = train(model, x, y, args.steps, lr=0.1, desc=label,
                                       show_progress=not args.no_progress)
        results[label] = flow
        names = list(flow.layers)
        first, last = flow.grad_norm[names[0]][0], flow.grad_norm[names[-1]][0]
        summary[act] = {"loss": loss, "accuracy": acc, "first_over_last": first / last,
                        "warnings": warns}
        print(f"== {label}: final loss {loss:.4f}, train accuracy {acc:.3f}")
        print(f"   step 0 gradient norm: first layer ({names[0]}) {first:.3e}, "
              f"last layer ({names[-1]}) {last:.3e}, ratio {first / last:.2e}")
        print("   " + flow.summary().replace("\n", "\n   "))
        for w in warns[:3]:
            print("   warning:", w)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    compare_gradient_flow(results, path=args.out,
                          title=f"{args.depth + 1}-layer MLP on two moons: gradient flow per layer")
    print("wrote", args.out)
    return summary


if __name__ == "__main__":
    main()
