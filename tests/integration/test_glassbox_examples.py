"""The glass-box examples run (shortened) and show what they claim."""

from __future__ import annotations

import os

import pytest

from examples_helper import ROOT, load_example


def test_traceload_example(tmp_path, capsys):
    t = load_example("glassbox_trace").main(["--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "dW = dYᵀ @ X" in out and "model.0.weight" in out
    assert [r.op for r in t] == ["CrossEntropy", "Linear", "Relu", "Linear"]
    assert (tmp_path / "trace.html").exists() and (tmp_path / "trace.json").exists()
    assert (tmp_path / "graph.svg").exists() or (tmp_path / "graph.dot").exists()


def test_jacobianload_example(capsys):
    load_example("glassbox_jacobian").main()
    out = capsys.readouterr().out
    assert "Jacobian ∂z/∂W has shape (1, 2, 3, 2)" in out
    assert "gg.vjp gives the same: True; backward gives the same: True" in out


def test_vanishing_example_short(tmp_path):
    pytest.importorskip("matplotlib")
    r = load_example("glassbox_vanishing").main(["--steps", "2", "--width", "16",
                                              "--out", str(tmp_path / "v.png")])
    assert r["sigmoid"]["first_over_last"] < 1e-4      # vanishing
    assert r["relu"]["first_over_last"] > 1e-2         # not vanishing
    assert any("vanishing gradients in layer '0'" in w for w in r["sigmoid"]["warnings"])
    with open(tmp_path / "v.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"


def test_examples_write_under_runs_examples_by_default(tmp_path, monkeypatch, capsys):
    """Run from a checkout, the examples write into git-ignored runs/examples/<name>, never over
    tracked files (docs/img/vanishing.png) or loose folders in the checkout."""
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    docs_png = os.path.join(ROOT, "docs", "img", "vanishing.png")
    before = open(docs_png, "rb").read()
    load_example("glassbox_trace").main([])
    load_example("glassbox_vanishing").main(["--steps", "2", "--width", "8", "--depth", "3"])
    assert sorted(os.listdir(tmp_path)) == ["runs"]
    assert sorted(os.listdir(tmp_path / "runs" / "examples")) == ["glassbox_trace", "glassbox_vanishing"]
    assert (tmp_path / "runs" / "examples" / "glassbox_trace" / "trace.html").exists()
    assert (tmp_path / "runs" / "examples" / "glassbox_vanishing" / "vanishing.png").exists()
    assert open(docs_png, "rb").read() == before


def test_every_example_output_option_defaults_under_runs_examples():
    import re

    for fn in sorted(os.listdir(os.path.join(ROOT, "examples"))):
        if not fn.endswith(".py"):
            continue
        src = open(os.path.join(ROOT, "examples", fn), encoding="utf-8").read()
        for m in re.finditer(r'add_argument\("(--out[-a-z]*)",\s*default=([^\n]*)', src):
            default = m.group(2)
            want = f'os.path.join("runs", "examples", "{fn[:-3]}"'
            assert default.startswith(want), (fn, m.group(1), default)
