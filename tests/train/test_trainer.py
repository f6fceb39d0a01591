"""glassgrad.train: Trainer/fit, callbacks, History, schedulers, clipping, exact resume."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn, optim
from glassgrad.data import DataLoader, TensorDataset, make_moons
from glassgrad.serialization import CheckpointError
from glassgrad.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    Trainer,
    accuracy,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
)


def _model(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    gg.manual_seed(seed)
    layers = [nn.Linear(2, 16), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(16, 2))
    return nn.Sequential(*layers)


def _data(n: int = 240):
    X, y = make_moons(n, noise=0.2, seed=0)
    return X, y


def _loaders(gen_seed: int = 1, batch: int = 32):
    X, y = _data()
    tr = DataLoader(TensorDataset(X[:200], y[:200]), batch_size=batch, shuffle=True,
                    generator=gg.Generator(gen_seed))
    va = DataLoader(TensorDataset(X[200:], y[200:]), batch_size=64)
    return tr, va


def _params(model) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_fit_history_and_metrics(capsys):
    model = _model()
    tr, va = _loaders()
    opt = optim.Adam(model.parameters(), lr=0.02)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0)
    h = t.fit(tr, va, epochs=5)
    assert isinstance(h, History) and len(h) == 5 and t.epoch == 5
    for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"):
        assert len(h[k]) == 5, k
    assert h["epoch"] == [1, 2, 3, 4, 5]
    assert h["train_loss"][-1] < h["train_loss"][0]
    # val metrics are the sample-weighted means a hand-written evaluation gives
    X, y = _data()
    with gg.no_grad():
        model.eval()
        out = model(X[200:])
        ref_loss = nn.functional.cross_entropy(out, y[200:]).item()
        ref_acc = float((out.argmax(1).numpy() == y[200:].numpy()).mean())
    assert h["val_loss"][-1] == pytest.approx(ref_loss, rel=1e-5)
    assert h["val_acc"][-1] == pytest.approx(ref_acc)
    assert t.evaluate(va)["acc"] == pytest.approx(ref_acc)
    assert capsys.readouterr().out == ""  # verbose=0 is silent
    # fit continues the epoch numbering
    t.fit(tr, va, epochs=2)
    assert h["epoch"][-2:] == [6, 7] and len(t.history) == 7


def test_same_as_hand_written_loop():
    """The Trainer is a convenience: it does exactly what the plain loop does (bit for bit)."""
    m1, m2 = _model(), _model()
    tr1, _ = _loaders(5)
    tr2, _ = _loaders(5)
    loss_fn = nn.CrossEntropyLoss()
    o1 = optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    Trainer(m1, loss_fn, o1, verbose=0).fit(tr1, epochs=3)
    o2 = optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        for x, y in tr2:
            o2.zero_grad()
            loss = loss_fn(m2(x), y)
            loss.backward()
            o2.step()
    for a, b in zip(_params(m1), _params(m2)):
        np.testing.assert_array_equal(a, b)


def test_capture_trains_bit_for_bit_like_eager():
    """Trainer(capture=True) replays the recorded forward and loss: same history, same
    weights, dropout included (the last batch of 200 samples has another shape: 8)."""
    runs = []
    for cap in (False, True):
        model = _model(dropout=0.2)
        tr, va = _loaders(3)
        gg.manual_seed(7)
        t = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02),
                    verbose=0, capture=cap)
        h = t.fit(tr, va, epochs=3)
        runs.append((h["train_loss"], h["train_acc"], h["val_loss"], _params(model), t))
    (l1, a1, v1, p1, _), (l2, a2, v2, p2, t2) = runs
    assert l1 == l2 and a1 == a2 and v1 == v2
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)
    assert t2._captured.records == 2  # batches of 32 and the last one of 8


def test_verbose_prints_one_line_per_epoch_without_tty(capsys):
    model = _model()
    tr, va = _loaders()
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), verbose=1).fit(tr, va, 3)
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3") and lines[2].startswith("epoch 3/3")
    assert "val_acc" in lines[0] and "%" in lines[0] and "\r" not in out  # no progress bar off a TTY


def test_log_every():
    model = _model()
    tr, _ = _loaders()
    lines: list[str] = []
    t = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), log_every=3)
    t._print = lines.append
    t.fit(tr, epochs=7)
    assert [ln.split()[1] for ln in lines] == ["1/7", "4/7", "7/7"]


def _resume_setup(model_seed: int, gen_seed: int):
    model = _model(model_seed, dropout=0.3)
    tr, va = _loaders(gen_seed)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return model, tr, va, opt, sched


def test_resume_is_bit_exact(tmp_path):
    """4 epochs straight == 2 epochs, save, rebuild everything from scratch, load, 2 epochs."""
    gg.manual_seed(123)
    model, tr, va, opt, sched = _resume_setup(0, 1)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, verbose=0)
    t.fit(tr, va, epochs=4)
    straight = _params(model)

    gg.manual_seed(123)
    model, tr, va, opt, sched = _resume_setup(0, 1)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, verbose=0)
    t.fit(tr, va, epochs=2)
    path = tmp_path / "run.ckpt"
    t.save_checkpoint(path)
    del model, tr, va, opt, sched, t

    # "fresh process": different init, different generator seeds, global RNG moved on
    model, tr, va, opt, sched = _resume_setup(77, 999)
    gg.manual_seed(4242)
    gg.randn(10)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, verbose=0)
    ck = t.load_checkpoint(path)
    assert ck["epoch"] == 2 and t.epoch == 2 and len(t.history) == 2
    t.fit(tr, va, epochs=2)
    for a, b in zip(straight, _params(model)):
        np.testing.assert_array_equal(a, b)
    assert t.history["epoch"] == [1, 2, 3, 4]
    assert t.history["lr"] == pytest.approx([0.01, 0.007, 0.0049, 0.00343])


def test_resume_from_model_checkpoint_callback(tmp_path):
    gg.manual_seed(5)
    model, tr, va, opt, sched = _resume_setup(0, 1)
    cb = ModelCheckpoint(tmp_path, every_n_epochs=2)
    Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, callbacks=[cb], verbose=0).fit(tr, va, 4)
    straight = _params(model)
    assert [p.rsplit("/", 1)[-1] for p in cb.saved] == ["epoch002.ckpt", "epoch004.ckpt"]
    assert (tmp_path / "last.ckpt").exists()

    model, tr, va, opt, sched = _resume_setup(3, 3)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, verbose=0)
    t.load_checkpoint(tmp_path / "epoch002.ckpt")
    t.fit(tr, va, epochs=2)
    for a, b in zip(straight, _params(model)):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_functions(tmp_path):
    model = _model()
    tr, _ = _loaders()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(model, nn.CrossEntropyLoss(), opt, tr, epochs=1, verbose=0)
    save_checkpoint(tmp_path / "c.ckpt", model, opt, epoch=1, loaders=[tr], extra={"note": "hi"})
    m2 = _model(9)
    o2 = optim.SGD(m2.parameters(), lr=0.5, momentum=0.9)
    tr2, _ = _loaders(8)
    ck = load_checkpoint(tmp_path / "c.ckpt", m2, o2, loaders=[tr2])
    assert ck["extra"] == {"note": "hi"} and ck["epoch"] == 1
    assert o2.param_groups[0]["lr"] == 0.1
    for a, b in zip(_params(model), _params(m2)):
        np.testing.assert_array_equal(a, b)
    assert tr2.generator.get_state() == tr.generator.get_state()
    with pytest.raises(CheckpointError, match="no scheduler state"):
        load_checkpoint(tmp_path / "c.ckpt", m2, scheduler=optim.lr_scheduler.StepLR(o2, 1))
    gg.save({"just": "data"}, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "plain.ckpt", m2)


def test_early_stopping_restores_best_weights():
    scores = [0.5, 0.8, 0.7, 0.75, 0.6, 0.9]  # best at epoch 2, then 3 epochs without improvement
    model = _model()
    tr, va = _loaders()
    t = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), verbose=0)
    snapshots = {}
    t.metrics = [("score", lambda out, y: scores[t.epoch])]
    es = EarlyStopping(monitor="val_score", patience=3)
    keep = LambdaCallback(on_epoch_end=lambda tr_, e, logs: snapshots.__setitem__(e, _params(tr_.model)))
    t.callbacks = [keep, es]
    h = t.fit(tr, va, epochs=6)
    assert es.mode == "max" and es.best_epoch == 2 and es.stopped_epoch == 5
    assert h["epoch"] == [1, 2, 3, 4, 5] and h["val_score"] == scores[:5]
    for a, b in zip(_params(model), snapshots[2]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_falls_back_to_train_loss_and_checks_key():
    model = _model()
    tr, _ = _loaders()
    es = EarlyStopping(patience=100)
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), callbacks=[es],
            verbose=0).fit(tr, epochs=2)
    assert es.best_epoch == 2
    bad = EarlyStopping(monitor="val_f1")
    with pytest.raises(KeyError, match="val_f1"):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), callbacks=[bad],
                verbose=0).fit(tr, epochs=1)


def test_grad_clip_limits_the_update():
    model = _model()
    X, y = _data()
    loader = [(X[:64], y[:64])]
    before = _params(model)
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1.0), grad_clip=1e-3,
            verbose=0).fit(loader, epochs=1)
    diffs = [(a - b).astype(np.float64) for a, b in zip(_params(model), before)]
    step = math.sqrt(sum(float((d ** 2).sum()) for d in diffs))
    assert step == pytest.approx(1e-3, rel=1e-3)
    with pytest.raises(ValueError, match="grad_clip"):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1.0), grad_clip=-1)


def test_schedulers_per_epoch_per_step_and_plateau():
    model = _model()
    tr, va = _loaders()
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 ** s)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, scheduler_interval="step", verbose=0)
    t.fit(tr, va, epochs=1)
    assert t.global_step == len(tr) == 7
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 ** 7)

    class Recorder(optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics, *a, **k):
            seen.append(float(metrics))
            return super().step(metrics, *a, **k)

    seen: list[float] = []
    opt = optim.SGD(model.parameters(), lr=0.1)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=Recorder(opt, patience=0), verbose=0)
    h = t.fit(tr, va, epochs=3)
    assert seen == h["val_loss"]
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=Recorder(opt), scheduler_interval="step")


def test_nan_loss_gives_clear_error():
    model = _model()
    X, y = _data()
    Xbad = X[:32].numpy().copy()
    Xbad[0, 0] = np.nan
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, step 0"):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), verbose=0).fit(
            [(gg.tensor(Xbad), y[:32])], epochs=1)


def test_bad_batches_and_arguments():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0)
    with pytest.raises(TypeError, match=r"pair \(inputs, targets\)"):
        t.fit([gg.randn(4, 2)], epochs=1)
    with pytest.raises(ValueError, match="no batches"):
        t.fit([], epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        t.fit([], epochs=-1)
    with pytest.raises(ValueError, match="unknown metric"):
        Trainer(model, nn.CrossEntropyLoss(), opt, metrics=["f1"])
    with pytest.raises(ValueError, match="scheduler_interval"):
        Trainer(model, nn.CrossEntropyLoss(), opt, scheduler_interval="batch")


def test_callback_order_and_stop_training():
    events: list[str] = []

    class Rec(Callback):
        def on_train_begin(self, t): events.append("begin")
        def on_epoch_begin(self, t, e): events.append(f"e{e}")
        def on_batch_end(self, t, s, logs): events.append("b")
        def on_epoch_end(self, t, e, logs):
            events.append(f"end{e}")
            t.stop_training = e == 2
        def on_train_end(self, t): events.append("done")

    model = _model()
    X, y = _data()
    loader = [(X[:10], y[:10]), (X[10:20], y[10:20])]
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), callbacks=[Rec()],
            verbose=0).fit(loader, epochs=5)
    assert events == ["begin", "e1", "b", "b", "end1", "e2", "b", "b", "end2", "done"]
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_step=print)


def test_csv_logger_and_history_roundtrip(tmp_path):
    model = _model()
    tr, va = _loaders()
    p = tmp_path / "metrics.csv"
    t = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), callbacks=[CSVLogger(p)],
                verbose=0)
    h = t.fit(tr, va, epochs=2)
    back = History.from_csv(p)
    assert list(back) == list(h) and back["epoch"] == [1, 2]
    for k in h:
        assert back[k] == pytest.approx(h[k]), k
    h2 = History()
    h2.append(epoch=1, train_loss=0.5)
    h2.append(epoch=2, train_loss=0.25, val_loss=0.3)
    assert math.isnan(h2["val_loss"][0]) and h2.last("val_loss") == 0.3
    assert h2.best("train_loss") == (1, 0.25)
    assert "train_loss" in h2.to_csv().splitlines()[0]


def test_accuracy_function():
    out = gg.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(out, gg.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(out, np.eye(2)[[0, 1, 0]]) == 1.0  # one-hot targets
    assert accuracy(gg.tensor([[0.9], [0.2]]), gg.tensor([[1.0], [0.0]])) == 1.0  # probabilities
    assert accuracy(gg.tensor([-1.0, 2.0]), gg.tensor([0, 1])) == 1.0  # logits: threshold 0
    with pytest.raises(ValueError, match="2 predictions but 3 targets"):
        accuracy(gg.tensor([[1.0, 0], [0, 1]]), gg.tensor([0, 1, 1]))


def test_evaluate_restores_training_mode():
    model = _model(dropout=0.5)
    _, va = _loaders()
    model.train()
    r1 = evaluate(model, va, nn.CrossEntropyLoss())
    r2 = evaluate(model, va, nn.CrossEntropyLoss())
    assert model.training and r1 == r2 and r1["n"] == 40  # dropout off in eval: deterministic


def test_progress_bar_on_a_terminal(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    import glassgrad.train.trainer as T

    monkeypatch.setattr(T, "_isatty", lambda: True)
    model = _model()
    tr, va = _loaders()
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1)).fit(tr, va, epochs=2)
    out = capsys.readouterr().out
    assert "\r" in out and "epoch 1/2" in out  # tqdm's bar, then the summary lines
    assert sum(line.startswith("epoch 2/2  train_loss") for line in out.replace("\r", "\n").splitlines()) == 1


def test_trainer_progress_false_draws_no_bar(monkeypatch, capsys):
    import glassgrad.train.trainer as T

    monkeypatch.setattr(T, "_isatty", lambda: True)
    model = _model()
    tr, va = _loaders()
    opt = optim.SGD(model.parameters(), lr=0.1)
    Trainer(model, nn.CrossEntropyLoss(), opt, progress=False).fit(tr, va, epochs=2)
    out = capsys.readouterr().out
    assert "\r" not in out and "epoch 2/2  train_loss" in out


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_helper_only_on_a_terminal():
    from glassgrad.train import progress, progress_enabled, progress_write

    items = [1, 2, 3]
    assert progress(items) is items                      # pytest's stdout is not a terminal
    assert progress(items, file=io.StringIO()) is items
    assert progress(items, file=_Terminal(), enabled=False) is items
    assert not progress_enabled(file=io.StringIO()) and progress_enabled(file=_Terminal())
    term = _Terminal()
    bar = progress(items, desc="work", file=term)
    assert bar is not items and list(bar) == items       # iterates the same
    assert "work:" in term.getvalue() and "/3 " in term.getvalue()  # desc and total on the bar
    plain = io.StringIO()
    progress_write("a line", file=plain)
    assert plain.getvalue() == "a line\n"
