"""2-D toy datasets: exact geometry without noise, noise statistics, balance, seeding."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.data import (
    DataLoader,
    TensorDataset,
    load_digits,
    make_blobs,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    toy,
    toy_dataset,
)

MAKERS = [make_moons, make_circles, make_spirals, make_blobs, lambda **kw: make_xor(40, 0.1, **kw)]


def test_xor_truth_table():
    X, y = make_xor()
    np.testing.assert_array_equal(X.numpy(), [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y.numpy(), [0, 1, 1, 0])
    assert X.dtype == np.float32 and y.dtype == np.int64
    Xn, yn = make_xor(400, noise=0.05, seed=0)
    assert np.bincount(yn.numpy()).tolist() == [200, 200]
    corners = np.round(Xn.numpy())
    np.testing.assert_array_equal(np.logical_xor(corners[:, 0], corners[:, 1]).astype(int), yn.numpy())
    assert 0.04 < np.std(Xn.numpy() - corners) < 0.06


def test_moons_geometry_noise_free():
    X, y = make_moons(1001, noise=0.0, seed=0)
    X, y = X.numpy().astype(np.float64), y.numpy()
    assert np.bincount(y).tolist() == [500, 501]
    a, b = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(a[:, 0], a[:, 1]), 1.0, atol=1e-6)
    assert a[:, 1].min() >= -1e-7  # upper half circle
    np.testing.assert_allclose(np.hypot(b[:, 0] - 1.0, b[:, 1] - 0.5), 1.0, atol=1e-6)
    assert b[:, 1].max() <= 0.5 + 1e-7  # lower half circle
    # the angles are evenly spaced over [0, pi]
    t = np.sort(np.arctan2(a[:, 1], a[:, 0]))
    np.testing.assert_allclose(t, np.linspace(0, np.pi, 500), atol=1e-6)


def test_moons_match_sklearn_when_noise_free():
    sk = pytest.importorskip("sklearn.datasets")
    for n in (10, 101, (7, 4)):
        Xs, ys = sk.make_moons(n, noise=0.0, shuffle=False)
        X, y = make_moons(n, noise=0.0, shuffle=False)
        np.testing.assert_allclose(X.numpy(), Xs, atol=1e-6)
        np.testing.assert_array_equal(y.numpy(), ys)
        Xs, ys = sk.make_circles(n, noise=0.0, factor=0.3, shuffle=False)
        X, y = make_circles(n, factor=0.3, shuffle=False)
        np.testing.assert_allclose(X.numpy(), Xs, atol=1e-6)
        np.testing.assert_array_equal(y.numpy(), ys)


def test_noise_statistics():
    X0, y0 = make_moons(4000, noise=0.0, shuffle=False)
    X1, y1 = make_moons(4000, noise=0.2, shuffle=False, seed=3)
    np.testing.assert_array_equal(y0.numpy(), y1.numpy())
    d = (X1.numpy() - X0.numpy()).ravel()
    assert abs(d.mean()) < 0.01 and abs(d.std() - 0.2) < 0.01


def test_circles_geometry():
    X, y = make_circles(600, factor=0.5, seed=1)
    X, y = X.numpy(), y.numpy()
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.5, atol=1e-6)
    assert np.bincount(y).tolist() == [300, 300]
    with pytest.raises(ValueError, match=r"factor has to be in \[0, 1\)"):
        make_circles(10, factor=1.5)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_spirals_geometry(k):
    X, y = make_spirals(301, noise=0.0, n_classes=k, turns=1.25, seed=0)
    X, y = X.numpy().astype(np.float64), y.numpy()
    counts = np.bincount(y, minlength=k)
    assert counts.sum() == 301 and counts.max() - counts.min() <= 1
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 0.05 - 1e-6 and r.max() <= 1.0 + 1e-6
    theta = 2 * np.pi * y / k + 2 * np.pi * 1.25 * r
    err = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - theta)))
    assert np.abs(err).max() < 1e-4


def test_blobs():
    C = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, -10.0]])
    X, y, centers = make_blobs(3001, centers=C, cluster_std=[0.5, 1.0, 2.0], seed=0, return_centers=True)
    X, y = X.numpy(), y.numpy()
    assert np.bincount(y).tolist() == [1001, 1000, 1000]
    np.testing.assert_allclose(centers.numpy(), C)
    for i, s in enumerate([0.5, 1.0, 2.0]):
        pts = X[y == i]
        assert np.abs(pts.mean(0) - C[i]).max() < 4 * s / np.sqrt(len(pts))
        assert np.abs(pts.std(0) - s).max() < 0.1 * s
    X, y = make_blobs([5, 7], centers=2, n_features=3, seed=1)
    assert X.shape == (12, 3) and np.bincount(y.numpy()).tolist() == [5, 7]
    Xa, _ = make_blobs(50, centers=4, center_box=(-1, 1), cluster_std=0.0, seed=2)
    assert np.abs(Xa.numpy()).max() <= 1.0
    Xq, yq = make_blobs(4000, centers=[[0.0, 0.0]], cluster_std=0.6, noise=0.8, seed=3)
    assert abs(Xq.numpy().std() - 1.0) < 0.03  # sqrt(0.6^2 + 0.8^2)
    with pytest.raises(ValueError, match="cluster_std"):
        make_blobs(10, centers=3, cluster_std=[1.0, 2.0])


@pytest.mark.parametrize("maker", MAKERS)
def test_seeding(maker):
    a = maker(seed=11)
    b = maker(seed=11)
    c = maker(seed=12)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())
    g1, g2 = gg.Generator(4), gg.Generator(4)
    np.testing.assert_array_equal(maker(generator=g1)[0].numpy(), maker(generator=g2)[0].numpy())
    gg.manual_seed(9)
    d = maker()
    gg.manual_seed(9)
    e = maker()
    np.testing.assert_array_equal(d[0].numpy(), e[0].numpy())
    assert a[0].dtype == np.float32 and a[1].dtype == np.int64
    with pytest.raises(ValueError, match="not both"):
        maker(seed=1, generator=gg.Generator(1))


def test_bad_arguments():
    with pytest.raises(ValueError, match="make_moons: n_samples"):
        make_moons(0)
    with pytest.raises(ValueError, match="make_moons: noise"):
        make_moons(10, noise=-1)
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(10, n_classes=1)
    with pytest.raises(TypeError, match="seed must be an int"):
        make_moons(10, seed=1.5)


def test_toy_dataset_and_loader():
    ds = toy_dataset("moons", n_samples=100, noise=0.1, seed=0)
    assert isinstance(ds, TensorDataset) and len(ds) == 100
    xb, yb = next(iter(DataLoader(ds, batch_size=32, shuffle=True)))
    assert xb.shape == (32, 2) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert len(toy_dataset("blobs", n_samples=10, return_centers=True, seed=0)) == 10
    with pytest.raises(ValueError, match="unknown dataset 'moon'"):
        toy_dataset("moon")


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install glassgrad\[sklearn\]"):
        load_digits()


def test_digits():
    sk = pytest.importorskip("sklearn.datasets")
    ds = load_digits()
    ref = sk.load_digits()
    assert len(ds) == 1797 and ds.data.shape == (1797, 8, 8) and ds.data.dtype == np.uint8
    assert ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.targets.numpy(), ref.target)
    img, label = ds[5]
    assert img.shape == (1, 8, 8) and img.dtype == np.float32 and label == ref.target[5]
    np.testing.assert_allclose(img.numpy()[0], ref.images[5] / 16, rtol=1e-6)
    X, y = ds.arrays()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and 0 <= X.min() and X.max() == 1.0
    xb, yb = next(iter(DataLoader(ds, batch_size=10)))
    np.testing.assert_array_equal(xb.numpy().reshape(10, 64), X[:10])
    nd = load_digits(normalize=True, flatten=True)
    Xn, _ = nd.arrays()
    assert abs(Xn.mean()) < 1e-4 and abs(Xn.std() - 1) < 1e-3 and nd[0][0].shape == (64,)


@pytest.mark.parametrize("name", ["xor", "moons", "circles", "spirals"])
def test_2d_makers_document_their_returns(name):
    doc = inspect.cleandoc(getattr(toy, f"make_{name}").__doc__)
    assert "{returns}" not in doc
    assert "Returns\n-------\nX : Tensor, float32, (n_samples, 2)\ny : Tensor, int64, (n_samples,)" in doc
