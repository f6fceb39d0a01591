"""The ``glassgrad`` command (run as ``python -m glassgrad`` in a subprocess)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.cli import main

pytest.importorskip("matplotlib")

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "GLASSGRAD_DEBUG": ""}


def _run(args: list[str], cwd=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glassgrad", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def _png_ok(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 2000


def test_default_train_then_evaluate_then_plot(tmp_path, capsys):
    r = _run(["train"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    runs = os.listdir(tmp_path / "runs")
    assert len(runs) == 1 and runs[0].startswith("moons-")
    out = tmp_path / "runs" / runs[0]
    assert f"writing to {out}" in r.stdout
    assert re.search(r"^epoch +1/25 .*train_loss", r.stdout, re.M)
    acc = float(re.search(r"final: val accuracy ([\d.]+)%", r.stdout).group(1))
    assert acc >= 97.0
    for f in ("metrics.csv", "model.ckpt", "config.json"):
        assert (out / f).stat().st_size > 0
    for f in ("loss.png", "decision_boundary.png"):
        assert _png_ok(out / f)
    hist = gg.train.History.from_csv(out / "metrics.csv")
    assert hist["epoch"] == list(range(1, 26))

    capsys.readouterr()
    assert main(["evaluate", str(out / "model.ckpt")]) == 0
    text = capsys.readouterr().out
    ev = float(re.search(r"accuracy ([\d.]+)%", text).group(1))
    assert ev == acc and "moons (val, 200 samples)" in text

    os.remove(out / "loss.png")
    os.remove(out / "decision_boundary.png")
    assert main(["plot", str(out)]) == 0
    assert _png_ok(out / "loss.png") and _png_ok(out / "decision_boundary.png")


def test_other_options_in_process(tmp_path, capsys):
    """sigmoid + squared loss + SGD momentum on XOR, and a 3-class problem with AdamW."""
    out = tmp_path / "xor"
    assert main(["train", "--dataset", "xor", "--activation", "sigmoid", "--loss", "mse", "--optimizer",
                 "momentum", "--lr", "0.5", "--epochs", "3", "--hidden", "8,8", "--no-plots", "-q",
                 "--out", str(out), "--checkpoint-every", "2"]) == 0
    text = capsys.readouterr().out
    assert "final:" in text and "epoch 1/3" not in text  # -q: no per-epoch lines
    assert sorted(os.listdir(out)) == ["config.json", "epoch002.ckpt", "metrics.csv", "model.ckpt"]
    ck = gg.load(out / "model.ckpt")
    assert ck["extra"]["config"]["loss"] == "mse" and ck["epoch"] == 3
    assert [k for k in ck["model"]] == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]

    out = tmp_path / "blobs"
    assert main(["train", "--dataset", "blobs", "--optimizer", "adamw", "--epochs", "2", "--out", str(out),
                 "--seed", "3", "--n-samples", "300", "--patience", "5"]) == 0
    assert _png_ok(out / "decision_boundary.png")
    assert main(["evaluate", str(out), "--split", "train"]) == 0  # a run folder works too
    assert "blobs (train, 240 samples)" in capsys.readouterr().out


def test_seed_makes_runs_reproducible(tmp_path):
    for name in ("a", "b"):
        assert main(["train", "--epochs", "2", "--no-plots", "-q", "--out", str(tmp_path / name)]) == 0
    a, b = gg.load(tmp_path / "a" / "model.ckpt"), gg.load(tmp_path / "b" / "model.ckpt")
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k].numpy(), b["model"][k].numpy())


BAD = [
    (["train", "--dataset", "imagenet"], "invalid choice: 'imagenet'"),
    (["train", "--lr", "-0.1"], "--lr must be a positive number"),
    (["train", "--hidden", "64,abc"], "--hidden must be comma-separated positive integers"),
    (["train", "--hidden", "64,-3"], "--hidden sizes must be positive"),
    (["train", "--hidden", "0"], "use --hidden none for a linear model"),
    (["train", "--hidden", "0,5"], "use --hidden none for a linear model"),
    (["train", "--epochs", "0"], "--epochs must be a positive integer"),
    (["train", "--batch-size", "x"], "invalid int value"),
    (["train", "--val-fraction", "1.5"], "--val-fraction must be between 0 and 1"),
    (["train", "--dataset", "mnist", "--noise", "0.1"], "apply to the 2-D datasets"),
    (["evaluate", "does/not/exist.ckpt"], "no such checkpoint"),
    (["plot", "no_such_dir"], "no such run folder"),
    (["fly"], "invalid choice: 'fly'"),
]


def test_bad_arguments_one_line_error_subprocess(tmp_path):
    """The real command: one line on stderr, exit status 2, no traceback (run concurrently)."""
    picks = [BAD[0], BAD[1], BAD[2], BAD[8]]
    procs = [subprocess.Popen([sys.executable, "-m", "glassgrad", *args], cwd=tmp_path, env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args, _ in picks]
    for p, (args, msg) in zip(procs, picks):
        out, err = p.communicate(timeout=120)
        assert p.returncode == 2, (args, out, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert msg in err and err.startswith("glassgrad")
    assert not (tmp_path / "runs").exists()  # nothing written for a bad command


@pytest.mark.parametrize("args, msg", BAD)
def test_bad_arguments_one_line_error(args, msg, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and msg in err and err.startswith("glassgrad"), err
    assert not (tmp_path / "runs").exists()


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("I am a file")
    r = _run(["train", "--out", str(blocker / "run")])
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "cannot write to output folder" in r.stderr
    assert not blocker.is_dir()


def test_not_a_checkpoint(tmp_path, capsys):
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    assert main(["evaluate", str(tmp_path / "plain.npz")]) == 2
    err = capsys.readouterr().err
    assert "not a glassgrad checkpoint" in err and len(err.strip().splitlines()) == 1
    gg.save({"a": 1}, tmp_path / "other.ckpt")
    assert main(["evaluate", str(tmp_path / "other.ckpt")]) == 2
    assert "not a checkpoint written by 'glassgrad train'" in capsys.readouterr().err


def test_help_and_no_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "train" in out and "evaluate" in out and "plot" in out
    assert main([]) == 2 and "usage" in capsys.readouterr().out


def test_mnist_missing_gives_one_line_error(tmp_path, capsys):
    assert main(["train", "--dataset", "mnist", "--data", str(tmp_path), "--no-download", "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cannot load MNIST" in err and len(err.strip().splitlines()) == 1
    # advice in command-line terms, not the Python API's
    assert "--data DIR" in err and "GLASSGRAD_DATA" in err and "--no-download" in err
    assert "download=" not in err and "root=" not in err
    assert str(tmp_path) in err and "train-images-idx3-ubyte" in err
    assert not (tmp_path / "o").exists()  # the failed run left no folder


def test_mnist_offline_error_says_where_to_put_the_files(tmp_path, capsys, monkeypatch):
    # every mirror refused (nothing listens on port 9): the one-line error names the
    # cache directory and the four file names
    monkeypatch.setenv("GLASSGRAD_MNIST_MIRRORS", "http://127.0.0.1:9/")
    monkeypatch.delenv("GLASSGRAD_DATA", raising=False)
    monkeypatch.setenv("GLASSGRAD_CACHE", str(tmp_path / "cache"))
    assert main(["train", "--dataset", "mnist", "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    err = lines[-1]  # earlier lines are the download attempts' progress messages
    assert err.startswith("glassgrad train: error: cannot load MNIST")
    assert "Traceback" not in "\n".join(lines)
    assert str(tmp_path / "cache") in err
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in err
    assert "--data DIR" in err and "download=" not in err and "root=" not in err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"glassgrad {gg.__version__}"


def test_hidden_none_is_a_linear_model(tmp_path, capsys):
    for spec in ("none", ""):
        out = tmp_path / (spec or "empty")
        assert main(["train", "--hidden", spec, "--epochs", "1", "--no-plots", "-q", "--out", str(out)]) == 0
        assert list(gg.load(out / "model.ckpt")["model"]) == ["0.weight", "0.bias"]


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch, capsys):
    import glassgrad.cli as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.time, "strftime", lambda fmt, *a: "20260101-120000")
    (tmp_path / "runs" / "moons-20260101-120000").mkdir(parents=True)  # taken by an earlier run
    (tmp_path / "runs" / "moons-20260101-120000" / "mine.txt").write_text("keep")
    for _ in range(2):
        assert main(["train", "--epochs", "1", "--no-plots", "-q"]) == 0
    assert sorted(os.listdir("runs")) == ["moons-20260101-120000", "moons-20260101-120000-2",
                                          "moons-20260101-120000-3"]
    assert os.listdir("runs/moons-20260101-120000") == ["mine.txt"]
    for d in ("moons-20260101-120000-2", "moons-20260101-120000-3"):
        assert (tmp_path / "runs" / d / "model.ckpt").exists()


def test_failed_run_removes_its_folder(tmp_path, monkeypatch, capsys):
    import glassgrad.train as T

    def boom(self, *a, **k):
        raise RuntimeError("boom")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(T.Trainer, "fit", boom)
    assert main(["train", "--no-plots"]) == 1            # default folder under a new runs/
    assert "boom" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    (tmp_path / "runs").mkdir()
    assert main(["train", "--no-plots"]) == 1            # runs/ existed: only the run folder goes
    assert os.listdir(tmp_path / "runs") == []
    assert main(["train", "--no-plots", "--out", "a/b/c"]) == 1
    assert not (tmp_path / "a").exists()
    (tmp_path / "mine").mkdir()
    assert main(["train", "--no-plots", "--out", "mine"]) == 1  # a folder the user made stays
    assert (tmp_path / "mine").is_dir()


def test_failed_run_keeps_a_folder_with_checkpoints(tmp_path, monkeypatch, capsys):
    import glassgrad.train as T

    def fail_at_epoch_2(trainer, epoch, logs):
        if epoch == 2:
            raise RuntimeError("failed at epoch 2")

    orig = T.Trainer.__init__

    def init(self, *a, callbacks=(), **k):
        orig(self, *a, callbacks=[*callbacks, T.LambdaCallback(on_epoch_end=fail_at_epoch_2)], **k)

    monkeypatch.setattr(T.Trainer, "__init__", init)
    out = tmp_path / "o"
    assert main(["train", "--epochs", "3", "--checkpoint-every", "1", "--no-plots", "--out", str(out)]) == 1
    assert (out / "epoch001.ckpt").exists()


class _FakeMNIST:
    """Stands in for data.MNIST: 60 random 784-pixel images, records where it was read from."""

    roots: list = []

    def __init__(self, root=None, train=True, download=True, **kw):
        from glassgrad.data.mnist import mnist_dir

        self.roots.append(str(mnist_dir(root)))
        rng = np.random.default_rng(0 if train else 1)
        self.X = rng.random((60, 784), dtype=np.float32)
        self.y = np.arange(60, dtype=np.int64) % 10

    def arrays(self):
        return self.X, self.y


def test_evaluate_reads_mnist_from_where_train_read_it(tmp_path, monkeypatch, capsys):
    import glassgrad.data as D

    monkeypatch.setattr(D, "MNIST", _FakeMNIST)
    _FakeMNIST.roots = []
    data = tmp_path / "mnist_files"
    data.mkdir()
    monkeypatch.setenv("GLASSGRAD_DATA", str(data))
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--epochs", "1", "--no-plots", "-q", "--out", str(out)]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data_root"] == str(data)
    assert gg.load(out / "model.ckpt")["extra"]["config"]["data_root"] == str(data)
    monkeypatch.delenv("GLASSGRAD_DATA")         # a new shell without the variable
    monkeypatch.setenv("GLASSGRAD_CACHE", str(tmp_path / "cache"))
    _FakeMNIST.roots = []
    assert main(["evaluate", str(out)]) == 0
    assert _FakeMNIST.roots and set(_FakeMNIST.roots) == {str(data)}
    other = tmp_path / "elsewhere"
    other.mkdir()
    _FakeMNIST.roots = []
    assert main(["evaluate", str(out), "--data", str(other)]) == 0  # --data still wins
    assert set(_FakeMNIST.roots) == {str(other)}


def test_digits_without_sklearn_says_it_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert main(["train", "--dataset", "digits", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'glassgrad[sklearn]'" in err
    assert err.count("scikit-learn") == 1 and err.count("pip install") == 1
    assert not (tmp_path / "d").exists()


def test_sgd_defaults_learn_xor_with_sigmoid_and_squared_loss(tmp_path, capsys):
    assert main(["train", "--dataset", "xor", "--loss", "mse", "--activation", "sigmoid",
                 "--optimizer", "sgd", "--no-plots", "-q", "--out", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"val accuracy ([\d.]+)%", out).group(1)) >= 90 and "hint" not in out


def test_a_run_that_did_not_learn_says_so_and_what_to_try(tmp_path, capsys):
    assert main(["train", "--dataset", "circles", "--activation", "sigmoid", "--optimizer", "sgd",
                 "--epochs", "2", "--no-plots", "-q", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    hint = [ln for ln in out.splitlines() if ln.startswith("hint:")]
    assert len(hint) == 1 and "did not learn" in hint[0]
    for tip in ("--activation tanh or relu", "--lr", "--optimizer adam", "--epochs"):
        assert tip in hint[0]


def test_progress_bar_on_a_terminal_and_no_progress(tmp_path, monkeypatch, capsys):
    import glassgrad.train.trainer as T

    monkeypatch.setattr(T, "_isatty", lambda: True)
    assert main(["train", "--epochs", "2", "--no-plots", "--out", str(tmp_path / "a")]) == 0
    assert "\r" in capsys.readouterr().out          # tqdm redraws its bar
    assert main(["train", "--epochs", "2", "--no-plots", "--no-progress", "--out", str(tmp_path / "b")]) == 0
    assert "\r" not in capsys.readouterr().out


def test_digits_plot_title_gives_the_real_error_and_says_examples_are_picked(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    from glassgrad import viz

    titles = []
    orig = viz.plot_digits

    def spy(*a, **k):
        titles.append(k.get("title"))
        return orig(*a, **k)

    monkeypatch.setattr(viz, "plot_digits", spy)
    out = tmp_path / "d"
    assert main(["train", "--dataset", "digits", "--epochs", "1", "-q", "--out", str(out)]) == 0
    acc = float(re.search(r"val accuracy ([\d.]+)%", capsys.readouterr().out).group(1))
    m = re.match(r"val error ([\d.]+)% \((\d+) of (\d+) wrong\); shown: (\d+) picked mistakes \(red\) "
                 r"and (\d+) correct examples$", titles[0])
    assert m, titles
    assert abs(float(m.group(1)) - (100 - acc)) < 0.06 and int(m.group(3)) == 359
    assert int(m.group(4)) == min(20, int(m.group(2))) and int(m.group(4)) + int(m.group(5)) == 40
    assert _png_ok(out / "digits.png")
