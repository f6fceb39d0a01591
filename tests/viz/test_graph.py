"""draw_graph: the DOT text of a known graph, asserted structurally."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.viz import draw_graph

NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r'^\s*(\w+) -> (\w+)(?: \[(.*)\])?;$')


def parse(dot: str):
    nodes, edges = {}, []
    for line in dot.splitlines():
        m = EDGE.match(line)
        if m:
            lab = re.search(r'label="([^"]*)"', m.group(3) or "")
            edges.append((m.group(1), m.group(2), lab.group(1) if lab else None, m.group(3) or ""))
            continue
        m = NODE.match(line)
        if m:
            nodes[m.group(1)] = (m.group(2).replace("\\n", "\n"), m.group(3))
    return nodes, edges


def _graph():
    a = gg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    a.name = "a"
    W = gg.tensor(np.full((3, 4), 0.5, np.float32), requires_grad=True)
    x = gg.ones(2, 3)  # does not require grad: not drawn
    z = ((a + x) @ W).relu().sum()
    return z, a, W


def test_dot_structure():
    z, a, W = _graph()
    dot = draw_graph(z, params={"W": W})
    assert dot.startswith("digraph glassgrad {") and dot.rstrip().endswith("}")
    nodes, edges = parse(dot)
    labels = {k: v[0] for k, v in nodes.items()}
    by_first = {lab.split("\n")[0]: k for k, lab in labels.items()}
    assert set(by_first) == {"a", "W", "SumBackward", "ReluBackward", "MatMulBackward",
                             "AddBackward", "output"}
    assert labels[by_first["W"]] == "W\n(3, 4) float32"
    assert labels[by_first["a"]] == "a\n(2, 3) float32"
    assert labels[by_first["MatMulBackward"]] == "MatMulBackward\n(2, 4) float32"
    assert labels[by_first["SumBackward"]] == "SumBackward\n() float32"
    assert "shape=box" in nodes[by_first["ReluBackward"]][1]
    assert "shape=ellipse" in nodes[by_first["W"]][1]
    e = {(labels[s].split("\n")[0], labels[d].split("\n")[0], lab) for s, d, lab, _ in edges}
    assert e == {
        ("a", "AddBackward", "A"),
        ("AddBackward", "MatMulBackward", "A"),
        ("W", "MatMulBackward", "B"),
        ("MatMulBackward", "ReluBackward", None),
        ("ReluBackward", "SumBackward", None),
        ("SumBackward", "output", None),
    }


def test_show_saved_and_model_names():
    nn = gg.nn
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    loss = model(gg.randn(5, 3)).sum()
    dot = draw_graph(loss, model=model, show_saved=True)
    nodes, edges = parse(dot)
    labels = [v[0] for v in nodes.values()]
    assert "0.weight\n(2, 3) float32" in labels and "0.bias\n(2,) float32" in labels
    assert "LinearBackward\n(5, 2) float32\nin 0 (Linear)" in labels
    saved = sorted(v[0] for v in nodes.values() if v[0].startswith("saved"))
    # Linear saves X and W, Tanh saves its output
    assert saved == ["saved W (2, 3) float32", "saved X (5, 3) float32", "saved Z (5, 2) float32"]
    assert sum("style=dashed" in extra for *_, extra in edges) == 3
    loss.backward()
    dot2 = draw_graph(loss, model=model, show_saved=True)
    assert "saved: freed" in dot2


def test_write_dot_and_errors(tmp_path):
    z, a, W = _graph()
    p = tmp_path / "g.dot"
    text = draw_graph(z, path=p)
    assert p.read_text() == text
    with pytest.raises(ValueError, match="unknown format"):
        draw_graph(z, path=tmp_path / "g.jpgx")
    with pytest.raises(ValueError, match="no graph"):
        draw_graph(gg.ones(3))
    with pytest.raises(TypeError, match="Tensor"):
        draw_graph(3.0)


def test_no_graphviz_warns_and_writes_dot(tmp_path, monkeypatch):
    import glassgrad.viz.graph as G

    monkeypatch.setattr(G.shutil, "which", lambda name: None)
    z, a, W = _graph()
    with pytest.warns(RuntimeWarning, match="Graphviz's 'dot' program was not found"):
        text = draw_graph(z, path=tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
    assert (tmp_path / "g.dot").read_text() == text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_render_svg_and_png(tmp_path):
    z, a, W = _graph()
    draw_graph(z, params={"W": W}, path=tmp_path / "g.svg")
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "MatMulBackward" in svg
    draw_graph(z, path=tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
