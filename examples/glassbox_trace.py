"""Trace one backward pass of a small MLP: the textbook derivation, printed by the code.

Prints the trace table (δ of each layer, ∂W, ∂b, with shapes, formulas and statistics),
then writes it as HTML and JSON, and draws the graph (SVG when Graphviz is installed,
DOT text otherwise).

Run::

    python examples/glassbox_trace.py [--out-dir runs/examples/glassbox_trace]
"""

from __future__ import annotations

import argparse
import os
import shutil

import glassgrad as gg

nn = gg.nn
F = gg.nn.functional


def main(argv: list | None = None) -> gg.glassbox.Trace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join("runs", "examples", "glassbox_trace"))
    args = ap.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)

    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = gg.randn(16, 4)
    y = gg.randint(0, 3, (16,))
    loss = F.cross_entropy(model(x), y)

    with gg.trace(model=model) as t:
        loss.backward()
    print(t)

    html = os.path.join(args.out_dir, "trace.html")
    t.to_html(html)
    t.to_json(os.path.join(args.out_dir, "trace.json"))
    suffix = ".svg" if shutil.which("dot") else ".dot"
    graph = os.path.join(args.out_dir, "graph" + suffix)
    gg.viz.draw_graph(loss, model=model, path=graph)
    print(f"\nwrote {html}, trace.json and {graph}")
    return t


if __name__ == "__main__":
    main()
