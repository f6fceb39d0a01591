"""glassgrad.viz.plots: every plot produces a valid, non-empty PNG; helpers are correct."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.train import History
from glassgrad.viz import plots

pytest.importorskip("matplotlib")


def _png(path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(24)
    w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return head[:8] == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 2000 and w > 100 and h > 100


def _history() -> History:
    h = History()
    for e in range(1, 6):
        h.append(epoch=e, train_loss=1 / e, val_loss=1.2 / e, train_acc=1 - 0.5 / e, val_acc=1 - 0.6 / e)
    return h


def test_history_from_history_dict_and_csv(tmp_path):
    h = _history()
    fig = plots.plot_history(h, tmp_path / "loss.png", title="t")
    assert _png(tmp_path / "loss.png") and len(fig.axes) == 2
    labels = [ln.get_label() for ln in fig.axes[0].lines]
    assert labels == ["train", "validation"]
    assert [ln.get_label() for ln in fig.axes[1].lines] == ["train", "validation"]
    for ax in fig.axes:  # whole epochs only on the x axis
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    fig = plots.plot_history(h, val_name="test")
    assert [ln.get_label() for ln in fig.axes[0].lines] == ["train", "test"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), h["train_loss"])
    h.to_csv(tmp_path / "m.csv")
    fig = plots.plot_history(str(tmp_path / "m.csv"), tmp_path / "again.svg")
    assert (tmp_path / "again.svg").read_text().lstrip().startswith("<?xml")
    fig = plots.plot_history({"train_loss": [3.0, 2.0]})  # loss only: one panel
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_history({"foo": [1]})
    with pytest.raises(TypeError, match="History"):
        plots.plot_history(42)


def test_decision_boundary_binary_and_multiclass(tmp_path):
    X, y = gg.data.make_moons(200, noise=0.1, seed=0)
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    fig = plots.plot_decision_boundary(model, X, y, tmp_path / "b.png", resolution=60)
    assert _png(tmp_path / "b.png") and "accuracy" in fig.axes[0].get_title()
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x₁", "x₂")
    # the legend sits outside the axes: it covers no part of the decision regions
    r = fig.canvas.get_renderer()
    leg, box = ax.get_legend().get_window_extent(r), ax.get_window_extent(r)
    assert leg.y1 <= box.y0 and [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
    # a model that returns one probability column (sigmoid output) works too
    m1 = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    plots.plot_decision_boundary(m1, X.numpy(), y.numpy(), tmp_path / "p.png", resolution=40)
    assert _png(tmp_path / "p.png")
    X3, y3 = gg.data.make_blobs(150, centers=3, seed=1)
    m3 = nn.Sequential(nn.Linear(2, 3))
    plots.plot_decision_boundary(m3, X3, y3, tmp_path / "m.png", resolution=40)
    assert _png(tmp_path / "m.png")
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        plots.plot_decision_boundary(m3, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="5 rows but y has 4"):
        plots.plot_decision_boundary(m3, np.zeros((5, 2)), np.zeros(4))


def test_predict_proba_modes():
    logits = np.array([[2.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    f = lambda x: gg.tensor(logits)
    p = plots.predict_proba(f, np.zeros((2, 2)))
    np.testing.assert_allclose(p.sum(1), 1.0)
    np.testing.assert_allclose(p[0, 0], 1 / (1 + np.exp(-2.0)), rtol=1e-6)
    probs = lambda x: gg.tensor([[0.3, 0.7], [0.9, 0.1]])
    np.testing.assert_allclose(plots.predict_proba(probs, np.zeros((2, 2))), [[0.3, 0.7], [0.9, 0.1]],
                               rtol=1e-6)
    one = lambda x: gg.tensor([[0.0], [100.0]])
    np.testing.assert_allclose(plots.predict_proba(one, np.zeros((2, 2)), output="logits")[:, 1], [0.5, 1.0])
    with pytest.raises(ValueError, match="output must be"):
        plots.predict_proba(one, np.zeros((2, 2)), output="scores")


def test_digits_grid_highlights_wrong(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.random((12, 784)).astype(np.float32)
    true = np.arange(12) % 10
    pred = true.copy()
    pred[[1, 5]] = 0
    fig = plots.plot_digits(imgs, true, pred, tmp_path / "d.png", ncols=6)
    assert _png(tmp_path / "d.png")
    titles = [(ax.get_title(), ax.title.get_color()) for ax in fig.axes[:12]]
    assert titles[1] == ("p:0 t:1", "red") and titles[0] == ("p:0 t:0", "black")
    assert sum(c == "red" for _, c in titles) == 2
    assert fig._suptitle.get_text() == "2 of the 12 images shown are wrong (red)"
    fig = plots.plot_digits(imgs, true, pred, title="picked examples")
    assert fig._suptitle.get_text() == "picked examples"
    fig = plots.plot_digits(gg.tensor(imgs.reshape(12, 1, 28, 28)))  # images only, no labels
    assert fig.axes[0].get_title() == ""
    with pytest.raises(ValueError, match="square number"):
        plots.plot_digits(np.zeros((2, 10)))


def test_confusion_matrix(tmp_path):
    t = np.array([0, 0, 1, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0, 2])
    M = plots.confusion_matrix(t, p)
    np.testing.assert_array_equal(M, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    scores = np.eye(4)[p]
    np.testing.assert_array_equal(plots.confusion_matrix(t, scores, num_classes=4)[:3, :3], M)
    fig = plots.plot_confusion_matrix(t, p, tmp_path / "c.png", normalize=True, class_names=["a", "b", "c"])
    assert _png(tmp_path / "c.png") and "71.43%" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="y_true has shape"):
        plots.confusion_matrix([0, 1], [0])


def test_svd_projection(tmp_path):
    rng = np.random.default_rng(1)
    # two classes separated along one direction in 50-D
    d, e = rng.normal(size=50), rng.normal(size=50)
    X = np.concatenate([rng.normal(size=(100, 50)) * 0.1 + d, rng.normal(size=(100, 50)) * 0.1 - d])
    X += rng.normal(size=(200, 1)) * 0.5 * e  # a second, weaker direction of variation
    y = np.repeat([0, 1], 100)
    Z, comps, mean = plots.svd_project(X.astype(np.float32), 2, center=True)
    assert Z.shape == (200, 2) and Z.dtype == np.float32 and comps.shape == (2, 50)
    np.testing.assert_allclose(comps @ comps.T, np.eye(2), atol=1e-5)
    s = np.sign(Z[:, 0])  # the first component separates the classes
    assert (s[:100] == s[0]).all() and (s[100:] == -s[0]).all()
    # equals the textbook PCA projection (up to sign, fixed by the helper)
    Xc = X - X.mean(0)
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    np.testing.assert_allclose(np.abs(Z), np.abs(Xc @ Vt[:2].T), rtol=1e-3, atol=1e-3)
    # the randomized method agrees with the exact one
    Zr, cr, _ = plots.svd_project(X.astype(np.float32), 2, method="randomized")
    np.testing.assert_allclose(cr, comps, atol=1e-4)
    np.testing.assert_allclose(Zr, Z, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="k must be"):
        plots.svd_project(X, 60)
    plots.plot_projection(X, y, tmp_path / "svd.png", method="svd")
    plots.plot_projection(Z, y, tmp_path / "none.png", method="none", class_names=["a", "b"])
    assert _png(tmp_path / "svd.png") and _png(tmp_path / "none.png")
    with pytest.raises(ValueError, match="method"):
        plots.plot_projection(X, y, method="tsne")


def test_atomic_save_leaves_no_temp_files(tmp_path):
    fig = plots.plot_history(_history())
    plots.save_figure(fig, tmp_path / "sub" / "a.png")
    assert os.listdir(tmp_path / "sub") == ["a.png"]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'glassgrad\[plot\]'"):
        plots.plot_history(_history())
