"""examples/dp_mnist.py and examples/grad_variance.py: fast smoke runs; the full DP-SGD
MNIST run (>= 95% test accuracy) is marked slow."""

from __future__ import annotations

import csv

import pytest

from examples_helper import MNIST_DIR, is_png, load_example, needs_mnist


@needs_mnist
def test_dp_mnist_smoke(tmp_path):
    pytest.importorskip("matplotlib")
    r = load_example("dp_mnist").main(["-q", "--data", MNIST_DIR, "--no-download", "--train-subset", "600",
                                   "--test-subset", "200", "--batch-size", "60", "--max-steps", "2",
                                   "--eval-every", "1", "--out", str(tmp_path)])
    assert r["steps"] == 2 and 0.0 <= r["test_acc"] <= 1.0
    assert len(r["history"]["step"]) == 2
    try:
        import dp_accounting  # noqa: F401
    except ImportError:
        assert r["epsilon"] is None
    else:
        assert 0 < r["epsilon"] < 100
    assert is_png(tmp_path / "dp_mnist.png")


def test_dp_mnist_without_data_exits_cleanly(tmp_path):
    with pytest.raises(SystemExit, match="cannot load MNIST"):
        load_example("dp_mnist").main(["-q", "--data", str(tmp_path), "--no-download"])


@pytest.mark.slow
@needs_mnist
def test_dp_mnist_reaches_95_percent(tmp_path):
    r = load_example("dp_mnist").main(["-q", "--data", MNIST_DIR, "--no-download", "--no-plots",
                                   "--out", str(tmp_path)])
    assert r["test_acc"] >= 0.95


def test_grad_variance_smoke(tmp_path):
    pytest.importorskip("matplotlib")
    r = load_example("grad_variance").main(["-q", "--steps", "6", "--out", str(tmp_path)])
    layers = {row["layer"] for row in r["rows"]}
    assert layers == {"0", "2", "4", "(model)"} and len(r["rows"]) == 6 * 4
    with open(tmp_path / "grad_variance.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and float(rows[0]["trace_cov"]) > 0
    assert is_png(tmp_path / "grad_variance.png")
