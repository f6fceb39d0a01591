"""The classic examples in examples/ (the MNIST training runs are slow: ``pytest -m slow``)."""

from __future__ import annotations

import pytest

from examples_helper import MNIST_DIR, is_png, load_example, needs_mnist


def test_xor_full_batch_gd_reaches_100_percent():
    r = load_example("xor").main(["-q"])
    assert r["accuracy"] == 1.0 and r["loss"] < 1e-3


def test_moons_fast(tmp_path):
    """Same network and data; lr 0.5 instead of 0.05 so that it converges in ~130 epochs."""
    pytest.importorskip("matplotlib")
    r = load_example("moons").main(["-q", "--lr", "0.5", "--epochs", "400", "--target-acc", "0.995",
                                "--out", str(tmp_path)])
    assert r["accuracy"] >= 0.99 and r["epochs"] < 400
    assert is_png(tmp_path / "loss.png") and is_png(tmp_path / "decision_boundary.png")
    assert (tmp_path / "metrics.csv").exists()


@pytest.mark.slow
def test_moons_as_specified(tmp_path):
    """2-4-4-2 sigmoid, batch 50, SGD lr 0.05: >= 99% (seed 0 gets there at epoch ~1000)."""
    r = load_example("moons").main(["-q", "--out", str(tmp_path)])
    assert r["accuracy"] >= 0.99


@needs_mnist
def test_mnist_svd_zero_vs_one(tmp_path):
    pytest.importorskip("matplotlib")
    r = load_example("mnist_svd").main(["-q", "--data", MNIST_DIR, "--no-download", "--out", str(tmp_path)])
    assert r["n_train"] == 12665 and r["n_test"] == 2115
    assert r["accuracy"] >= 0.99
    assert is_png(tmp_path / "svd_projection.png") and is_png(tmp_path / "svd_decision_boundary.png")


@pytest.mark.slow
@needs_mnist
def test_mnist_mlp_98_percent(tmp_path):
    r = load_example("mnist_mlp").main(["-q", "--data", MNIST_DIR, "--no-download", "--out", str(tmp_path)])
    assert r["accuracy"] >= 0.98


@pytest.mark.slow
@needs_mnist
def test_mnist_sigmoid_about_95_percent():
    r = load_example("mnist_sigmoid").main(["-q", "--data", MNIST_DIR, "--no-download"])
    assert r["accuracy"] >= 0.94


def test_mnist_example_without_data_exits_cleanly(tmp_path):
    with pytest.raises(SystemExit, match="cannot load MNIST"):
        load_example("mnist_mlp").main(["-q", "--data", str(tmp_path), "--no-download"])
