"""Smoke runs of the sequence examples (a few steps each) so that they keep working.

The real runs are the commands in each example's docstring (minutes on a CPU).
"""

import importlib.util
import os

import numpy as np
import pytest

from examples_helper import MNIST_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_ex_{name}", os.path.join(ROOT, "examples", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_adding_problem_smoke(tmp_path, capsys):
    mod = _load("adding_problem")
    x, lengths, y = mod.make_batch(np.random.default_rng(0), 8, 6, 10)
    assert x.shape == (8, 10, 2) and y.shape == (8, 1)
    assert (x.numpy()[:, :, 1].sum(1) == 2).all()          # two markers per sequence
    for b, n in enumerate(lengths):
        assert not x.numpy()[b, n:].any()                   # padding is zero
    assert mod.main(["--steps", "3", "--length", "10", "--hidden", "4", "--batch-size", "4",
                     "--out", str(tmp_path)]) == 0
    rows = (tmp_path / "adding_losses.csv").read_text().splitlines()
    assert rows[0] == "step,RNN,LSTM,GRU" and len(rows) == 4


def test_adding_problem_default_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _load("adding_problem").main(["--steps", "2", "--length", "6", "--hidden", "4",
                                         "--batch-size", "4", "--models", "RNN"]) == 0
    assert os.listdir(tmp_path) == ["runs"]
    assert (tmp_path / "runs" / "examples" / "adding_problem" / "adding_losses.csv").exists()


@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_char_lm_smoke(tmp_path, capsys, arch):
    mod = _load("char_lm")
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. def f(x): return x\n" * 20)
    assert mod.main(["--arch", arch, "--text", str(text), "--steps", "2", "--eval-every", "1",
                     "--seq-len", "16", "--batch-size", "4", "--hidden", "16", "--sample-chars", "10",
                     "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "--- sample" in out
    assert (tmp_path / f"char_lm_{arch}_loss.csv").exists()


def test_lstm_mnist_smoke(capsys):
    data = MNIST_DIR
    if not os.path.exists(os.path.join(data, "train-images-idx3-ubyte.gz")) and \
            not os.path.exists(os.path.join(data, "train-images-idx3-ubyte")):
        pytest.skip("MNIST files not available")
    mod = _load("lstm_mnist")
    assert mod.main(["--data", data, "--epochs", "1", "--limit", "256", "--test-limit", "200",
                     "--hidden", "16"]) == 0
    assert "test accuracy" in capsys.readouterr().out
