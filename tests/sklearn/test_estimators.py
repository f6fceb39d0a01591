"""glassgrad.sklearn: scikit-learn's estimator checks, parity with scikit-learn's MLPs (same
seed: same initial weights, same batches; same weights: same outputs), use in Pipeline,
GridSearchCV and cross_val_score, and any glassgrad module as an estimator."""

from __future__ import annotations

import contextlib
import importlib
import pickle
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.datasets import load_digits, make_classification, make_friedman1  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import glassgrad.nn as nn  # noqa: E402
from glassgrad.sklearn import (  # noqa: E402
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
)


class TinyNet(nn.Module):
    """A module built from the data's sizes: ``NeuralNet*(module=TinyNet)``."""

    def __init__(self, n_features: int, n_outputs: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, 32), nn.ReLU(), nn.Linear(32, n_outputs))

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    """A convolutional network on the 8x8 digits, fed the 64 pixels as a flat row."""

    def __init__(self, n_features: int, n_outputs: int) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(8 * 4 * 4, n_outputs)

    def forward(self, x):
        return self.head(self.features(x.reshape(-1, 1, 8, 8)).flatten(1))


# scikit-learn's check_estimator, every check. None is expected to fail; the mapping is kept
# so that a check that must be waived gets its reason here ({check name: reason}).
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "MLPClassifier": {}, "MLPRegressor": {}, "NeuralNetClassifier": {}, "NeuralNetRegressor": {},
}


@parametrize_with_checks(
    [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100),
     NeuralNetClassifier(TinyNet, max_iter=100), NeuralNetRegressor(TinyNet, max_iter=100)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est).__name__],
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small matrices: more BLAS threads only add contention on a shared machine (both
    libraries alike); threadpoolctl comes with scikit-learn."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


@contextlib.contextmanager
def _quiet():
    """Runs cut short on purpose: no ConvergenceWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# ---------------------------------------------------------------- parity with scikit-learn
def test_digits_accuracy_within_one_point_of_sklearn(digits):
    X_tr, X_te, y_tr, y_te = digits
    with _quiet():
        ours = MLPClassifier(random_state=0).fit(X_tr, y_tr).score(X_te, y_te)
        theirs = SkMLPClassifier(random_state=0).fit(X_tr, y_tr).score(X_te, y_te)
    assert ours > 0.95
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
def test_same_seed_same_initial_weights_and_sgd_run_as_sklearn(digits, activation):
    """Constant-rate SGD does scikit-learn's arithmetic: same init (Glorot uniform, factor 2
    for logistic), same shuffles, same L2 gradient — the loss curves agree to rounding."""
    X_tr, _, y_tr, _ = digits
    kw = dict(hidden_layer_sizes=(20, 15), activation=activation, solver="sgd", learning_rate_init=0.05,
              alpha=1e-3, batch_size=100, max_iter=3, random_state=3)
    with _quiet():
        ours, theirs = MLPClassifier(**kw).fit(X_tr, y_tr), SkMLPClassifier(**kw).fit(X_tr, y_tr)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    assert (ours.n_iter_, ours.t_, ours.n_layers_, ours.n_outputs_, ours.out_activation_) == (
        theirs.n_iter_, theirs.t_, theirs.n_layers_, theirs.n_outputs_, theirs.out_activation_)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
def test_same_weights_same_outputs_as_sklearn(kind):
    X, y = make_classification(n_samples=80, n_features=6, n_informative=4, n_classes=3, random_state=0)
    if kind == "binary":
        y = y % 2
    elif kind == "multilabel":
        y = np.stack([y == 0, y == 1, X[:, 0] > 0], axis=1).astype(int)
    with _quiet():
        if kind == "regression":
            y = np.stack([X[:, 0] * 2 + X[:, 1], X[:, 2]], axis=1)
            theirs = SkMLPRegressor(hidden_layer_sizes=(7,), max_iter=20, random_state=0).fit(X, y)
            ours = MLPRegressor(hidden_layer_sizes=(7,), max_iter=1, random_state=1).fit(X, y)
        else:
            theirs = SkMLPClassifier(hidden_layer_sizes=(7,), max_iter=20, random_state=0).fit(X, y)
            ours = MLPClassifier(hidden_layer_sizes=(7,), max_iter=1, random_state=1).fit(X, y)
    ours.coefs_, ours.intercepts_ = theirs.coefs_, theirs.intercepts_
    assert ours.out_activation_ == theirs.out_activation_
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    if kind != "regression":
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10, atol=1e-12)


def test_regressor_r2_comparable_with_sklearn():
    X, y = make_friedman1(n_samples=600, noise=0.3, random_state=0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    kw = dict(hidden_layer_sizes=(50,), learning_rate_init=0.01, max_iter=300, random_state=0)
    with _quiet():
        ours = MLPRegressor(**kw).fit(X_tr, y_tr).score(X_te, y_te)
        theirs = SkMLPRegressor(**kw).fit(X_tr, y_tr).score(X_te, y_te)
    assert theirs > 0.75 and abs(ours - theirs) <= 0.02, (ours, theirs)


def test_lbfgs_solver_fits_and_counts_iterations(digits):
    X_tr, X_te, y_tr, y_te = digits
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf = MLPClassifier(hidden_layer_sizes=(30,), solver="lbfgs", max_iter=60, random_state=0)
        clf.fit(X_tr, y_tr)
    assert clf.n_iter_ == 60 and clf.score(X_te, y_te) > 0.9
    assert clf.loss_ < 0.1 and not hasattr(clf, "loss_curve_")  # as scikit-learn: stochastic only
    assert not hasattr(clf, "partial_fit")


# ---------------------------------------------------------------- attributes and behaviour
def test_classifier_attributes_and_classify_alias(digits):
    X_tr, X_te, y_tr, _ = digits
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(5\\)"):
        clf = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=5, random_state=0).fit(X_tr, y_tr)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 5 and clf.t_ == 5 * len(X_tr)
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)
    assert [c.shape for c in clf.coefs_] == [(64, 16), (16, 8), (8, 10)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 10 and clf.n_features_in_ == 64
    assert clf.out_activation_ == "softmax" and clf.coefs_[0].dtype == np.float64
    proba = clf.predict_proba(X_te)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classify(X_te), clf.predict(X_te))
    np.testing.assert_array_equal(clf.predict(X_te), clf.classes_[proba.argmax(axis=1)])
    assert isinstance(clf.module_, nn.Sequential)


def test_binary_labels_and_float32_kept():
    X, y = make_classification(n_samples=120, n_features=5, random_state=1)
    labels = np.array(["no", "yes"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)
    with _quiet():
        clf.fit(X.astype(np.float32), labels)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.coefs_[0].dtype == np.float32  # as scikit-learn: float32 input, float32 network
    assert set(clf.predict(X)) <= {"no", "yes"} and clf.predict_proba(X).shape == (120, 2)
    assert clf.score(X, labels) > 0.85


def test_fit_is_reproducible_and_warm_start_continues(digits):
    X_tr, _, y_tr, _ = digits
    with _quiet():
        a = MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=5).fit(X_tr, y_tr)
        b = MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=5).fit(X_tr, y_tr)
        np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
        b.set_params(warm_start=True).fit(X_tr, y_tr)
    assert len(b.loss_curve_) == 6 and b.loss_curve_[-1] < a.loss_curve_[-1]


def test_partial_fit_needs_classes_then_learns(digits):
    X_tr, X_te, y_tr, y_te = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X_tr[:50], y_tr[:50])
    for _ in range(15):
        clf.partial_fit(X_tr, y_tr, classes=np.arange(10))
    assert clf.t_ == 15 * len(X_tr) and clf.score(X_te, y_te) > 0.9
    with pytest.raises(ValueError, match="not the same as on last call"):
        clf.partial_fit(X_tr, y_tr, classes=np.arange(11))


def test_early_stopping_keeps_the_best_validation_weights(digits):
    X_tr, _, y_tr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(20,), early_stopping=True, n_iter_no_change=3,
                        learning_rate_init=0.01, max_iter=200, random_state=0).fit(X_tr, y_tr)
    assert clf.best_loss_ is None and clf.n_iter_ < 200
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.9


def test_sgd_adaptive_rate_is_divided_by_five_when_stalled():
    X, y = make_classification(n_samples=60, n_features=4, n_informative=2, random_state=0)
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.5,
              tol=10.0, n_iter_no_change=1, max_iter=50, random_state=0)
    with _quiet():
        ours, theirs = MLPClassifier(**kw).fit(X, y), SkMLPClassifier(**kw).fit(X, y)
    # every 2 epochs without a 10.0 gain the rate is divided by 5, until it is under 1e-6:
    # 0.5 / 5**9 after 9 divisions, stopped at the 10th stall (epoch 21)
    assert ours.n_iter_ == theirs.n_iter_ == 21
    assert ours._lr == pytest.approx(theirs._optimizer.learning_rate) == 0.5 / 5**9


def test_predict_before_fit_and_bad_hyperparameters_are_clear_errors():
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(np.zeros((2, 3)))
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    for params, name in [(dict(solver="newton"), "solver"), (dict(activation="gelu"), "activation"),
                         (dict(alpha=-1.0), "alpha"), (dict(hidden_layer_sizes=(3, 0)), "hidden_layer_sizes"),
                         (dict(batch_size=0), "batch_size"), (dict(momentum=2.0), "momentum"),
                         (dict(learning_rate="cyclic"), "learning_rate"), (dict(max_iter=0), "max_iter")]:
        with pytest.raises(ValueError, match=f"MLPClassifier: {name}"):
            MLPClassifier(**params).fit(X, y)


def test_coefs_setter_checks_shapes(digits):
    X_tr, _, y_tr, _ = digits
    with _quiet():
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X_tr, y_tr)
    with pytest.raises(ValueError, match=r"coefs_: expected an array of shape \(64, 4\)"):
        clf.coefs_ = [np.zeros((4, 64)), np.zeros((4, 10))]
    clf.coefs_ = [np.zeros((64, 4)), np.zeros((4, 10))]
    assert float(np.abs(clf.module_[0].weight.array).sum()) == 0.0


def test_pickle_round_trip_then_partial_fit(digits):
    X_tr, X_te, y_tr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    clf.partial_fit(X_tr, y_tr, classes=np.arange(10))
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X_te), clf.predict_proba(X_te))
    back.partial_fit(X_tr, y_tr)
    clf.partial_fit(X_tr, y_tr)
    np.testing.assert_allclose(back.predict_proba(X_te), clf.predict_proba(X_te))


# ---------------------------------------------------------------- scikit-learn tools
def test_pipeline_gridsearch_and_cross_val_score(digits):
    X_tr, X_te, y_tr, y_te = digits
    with _quiet():
        pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=30, random_state=0))
        grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (32,)],
                                   "mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3).fit(X_tr, y_tr)
        assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] == (32,)
        assert grid.score(X_te, y_te) > 0.9
        X, y = make_friedman1(n_samples=300, random_state=0)
        scores = cross_val_score(make_pipeline(StandardScaler(), NeuralNetRegressor(
            TinyNet, learning_rate_init=0.01, max_iter=150, random_state=0)), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.6


# ---------------------------------------------------------------- any glassgrad module
def test_neural_net_classifier_with_a_cnn_on_digits(digits):
    X_tr, X_te, y_tr, y_te = digits
    clf = NeuralNetClassifier(SmallCNN, learning_rate_init=0.01, batch_size=64, max_iter=12, random_state=0)
    with _quiet():
        clf.fit(X_tr, y_tr)
    assert isinstance(clf.module_, SmallCNN) and clf.n_iter_ == 12 and len(clf.loss_curve_) == 12
    assert clf.score(X_te, y_te) > 0.95
    assert clf.predict_proba(X_te).shape == (len(X_te), 10)
    np.testing.assert_array_equal(clf.classify(X_te[:5]), clf.predict(X_te[:5]))


def test_neural_net_lbfgs_on_a_float32_module():
    X, y = make_classification(n_samples=200, n_features=6, n_informative=4, n_classes=3, random_state=0)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    with _quiet():
        clf = NeuralNetClassifier(net, solver="lbfgs", max_iter=50, random_state=0).fit(X, y)
    assert clf.n_iter_ > 20 and clf.score(X, y) > 0.85


def test_neural_net_module_instance_is_copied_not_trained():
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    before = net[0].weight.array.copy()
    with _quiet():
        clf = NeuralNetClassifier(net, max_iter=20, random_state=0).fit(X, y)
        again = NeuralNetClassifier(net, max_iter=20, random_state=0).fit(X, y)
    np.testing.assert_array_equal(net[0].weight.array, before)
    assert clf.module_ is not net and clf.module_[0].weight.array.dtype == np.float32
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))


def test_neural_net_wrong_module_is_a_clear_error():
    X, y = make_classification(n_samples=30, n_features=4, n_classes=3, n_informative=3, n_redundant=1,
                               random_state=0)
    with pytest.raises(ValueError, match=r"must map \(n_samples, 4\) inputs to \(n_samples, 3\) outputs"):
        NeuralNetClassifier(nn.Linear(4, 2)).fit(X, y)
    with pytest.raises(TypeError, match="module must be a glassgrad nn.Module"):
        NeuralNetClassifier("mlp").fit(X, y)
    with pytest.raises(TypeError, match="must return a glassgrad nn.Module"):
        NeuralNetRegressor(lambda n_in, n_out: None).fit(X, y.astype(float))


def test_docs_examples_run():
    """The python blocks of docs/sklearn.md, in one namespace (the second uses the split)."""
    import os

    import glassgrad.sklearn as gs

    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "sklearn.md")
    with open(doc, encoding="utf-8") as fh:
        text = fh.read()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert len(blocks) == 2
    ns: dict = {}
    with _quiet():
        for block in blocks:
            exec(compile(block, doc, "exec"), ns)  # noqa: S102 - the repository's own docs
    assert isinstance(ns["clf"], gs.MLPClassifier) and ns["cnn"].score(ns["X_te"], ns["y_te"]) > 0.95


def test_missing_sklearn_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("glassgrad.sklearn")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install 'glassgrad\[sklearn\]'"):
        importlib.import_module("glassgrad.sklearn")
