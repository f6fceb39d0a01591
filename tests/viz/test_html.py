"""HTML views (glassgrad.viz.html): tensors, modules and traces as HTML tables.
(The trace page rendered by headless Chromium: tests/integration/test_html_browser.py.)"""

from __future__ import annotations

import numpy as np

import glassgrad as gg
from glassgrad.viz.html import module_html, tensor_html, trace_html
from html_cells import cells

nn = gg.nn
F = gg.nn.functional


def test_tensor_html_small_and_header():
    t = gg.tensor([[1.5, -2.0], [3.25, 4.0]], requires_grad=True)
    h = t._repr_html_()
    assert "tensor (2, 2)" in h and "float32" in h and "requires_grad=True" in h
    assert cells(h).rows == [["1.5", "-2"], ["3.25", "4"]]
    y = (t * 2).sum()
    hy = tensor_html(y)
    assert "grad_fn=&lt;SumBackward&gt;" in hy and "tensor ()" in hy
    assert cells(hy).rows == [["13.5"]]


def test_tensor_html_truncates_big_and_nd():
    a = np.arange(100 * 50, dtype=np.float64).reshape(100, 50)
    h = tensor_html(gg.tensor(a))
    rows = cells(h).rows
    assert len(rows) == 9 and all(len(r) == 9 for r in rows)  # 4 + ellipsis + 4
    assert rows[0][:4] == ["0", "1", "2", "3"] and rows[0][4] == "⋯"
    assert rows[4][0] == "⋮" and rows[-1][-1] == str(100 * 50 - 1)
    assert "float64" in h
    h3 = tensor_html(gg.zeros(2, 3, 4))
    assert "showing [0, :, :] of (2, 3, 4)" in h3 and len(cells(h3).rows) == 3
    ints = tensor_html(gg.tensor([1, 2, 3]))
    assert cells(ints).rows == [["1", "2", "3"]] and "int64" in ints
    assert "empty" in tensor_html(gg.zeros(0, 3))
    named = gg.ones(2)
    named.name = "<x>"
    assert "name=&lt;x&gt;" in tensor_html(named)


def test_module_html_tree():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2)))
    h = module_html(model)
    assert "Sequential" in h and "Linear" in h and "ReLU" in h
    assert "weight (4, 3)" in h and "bias (2,)" in h
    assert "26 parameters in total" in h  # 3·4+4 + 4·2+2
    assert h.count("<li>") == 5
    if hasattr(nn.Module, "_repr_html_"):
        assert model._repr_html_() == h


def _trace():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    x = gg.randn(6, 4)
    y = gg.tensor([0, 1, 2, 0, 1, 2])
    return gg.explain(F.cross_entropy(model(x), y), model=model, file=None)


def test_trace_html_fragment_and_page(tmp_path):
    t = _trace()
    frag = trace_html(t)
    rows = cells(frag).rows
    header = rows[0]
    assert header[:6] == ["#", "node", "module", "grad", "shape", "formula"]
    assert len(rows) == 1 + len(t.rows())
    lin = [r for r in rows if r[1] == "LinearBackward"]
    assert lin and lin[0][2] == "model.2 (Linear)"
    assert any(r[5] == "dW = dYᵀ @ X" and r[4] == "(3, 5)" for r in rows)
    assert any(r[7] == "Σ axis 0: (6, 3)→(3,)" for r in rows)
    page = t.to_html(tmp_path / "t.html")
    assert (tmp_path / "t.html").read_text(encoding="utf-8") == page
    p = cells(page)
    assert {"html", "head", "body", "table", "style"} <= p.tags
    assert not {"script", "link", "img", "iframe"} & p.tags
    assert "http" not in page
