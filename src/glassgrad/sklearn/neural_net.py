"""``NeuralNetClassifier`` and ``NeuralNetRegressor``: any glassgrad module as a scikit-learn
estimator, trained by the same engine (batches, solvers, stopping rule) as the MLPs."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import nn
from ..nn import functional as F
from ._base import BaseNet, _ClassifierOutputs, _RegressorFit

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]


class _NeuralNet(BaseNet):
    def __init__(self, module: Any, *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: Any = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: int = 10, max_fun: int = 15000) -> None:
        self._keep_init_args(locals())

    def _check_params(self) -> None:
        super()._check_params()
        if not (isinstance(self.module, nn.Module) or callable(self.module)):
            raise TypeError(f"{type(self).__name__}: module must be a glassgrad nn.Module or a callable "
                            f"(n_features, n_outputs) -> nn.Module, got {type(self.module).__name__}")

    def _build_module(self, n_features: int, n_outputs: int, dtype: Any, rs: np.random.RandomState) -> Any:
        """A deep copy of ``module`` (the parameter itself is never trained), or
        ``module(n_features, n_outputs)`` when ``module`` is a class or other callable."""
        if isinstance(self.module, nn.Module):
            built = copy.deepcopy(self.module)
        else:
            built = self.module(n_features, n_outputs)
            if not isinstance(built, nn.Module):
                raise TypeError(f"{type(self).__name__}: module(n_features, n_outputs) must return a "
                                f"glassgrad nn.Module, got {type(built).__name__}")
        if not any(True for _ in built.parameters()):
            raise ValueError(f"{type(self).__name__}: the module has no parameters to train")
        return built

    def _validate_X(self, X: Any, reset: bool) -> np.ndarray:
        return validate_data(self, X, dtype=(np.float64, np.float32), reset=reset)

    def _fit(self, X: Any, y: Any, incremental: bool) -> Any:
        self._check_params()
        return super()._fit(X, y, incremental)


class NeuralNetClassifier(ClassifierMixin, _ClassifierOutputs, _NeuralNet):
    """A glassgrad module as a scikit-learn classifier.

    Parameters
    ----------
    module : nn.Module, or callable (n_features, n_outputs) -> nn.Module
        The network. It maps a float batch ``(n, n_features)`` to one logit per class,
        ``(n, n_classes)`` (two for a binary problem), and is trained with softmax
        cross-entropy. A module instance is deep-copied at each fresh ``fit`` (it keeps its
        initial weights; the trained copy is ``module_``); a class or function is called
        with the sizes seen in the data, under glassgrad's generator seeded from
        ``random_state``.
    solver, alpha, batch_size, learning_rate, learning_rate_init, power_t, max_iter,
    shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum,
    early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun :
        As in :class:`MLPClassifier`; ``alpha`` penalises the parameters with two or more
        dimensions (weights, kernels), not biases or norm scales.

    Attributes
    ----------
    module_ : nn.Module
        The trained network (in ``eval()`` mode after ``fit``).
    classes_, n_features_in_, feature_names_in_, n_outputs_, loss_, best_loss_, loss_curve_,
    validation_scores_, best_validation_score_, n_iter_, t_ :
        As in :class:`MLPClassifier`.

    Notes
    -----
    ``X`` is cast to the dtype of the module's parameters (float32 for a module built with
    glassgrad's defaults). Multilabel targets are not supported. :meth:`classify` is
    :meth:`predict` under another name.
    """

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple:
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1:
            raise ValueError(f"{type(self).__name__}: y must be one label per sample, got shape {y.shape} "
                             "(multilabel/multioutput targets are not supported)")
        check_classification_targets(y)
        classes = unique_labels(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self.classes_ = classes
        elif len(np.setdiff1d(classes, self.classes_)):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{self.classes_}. 'y' has {classes}.")
        targets = np.searchsorted(self.classes_, y).astype(np.int64)
        return X, y, targets

    def _n_outputs(self, targets: np.ndarray) -> int:
        return len(self.classes_)

    def _stratify(self, y: np.ndarray, targets: np.ndarray) -> Any:
        return y if len(self.classes_) > 1 else None

    def _make_loss(self) -> Any:
        return (lambda out, t: F.cross_entropy(out, t)), 1.0

    def _proba_array(self, X: np.ndarray) -> np.ndarray:
        z = self._forward_array(X).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def _predict_array(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self._forward_array(X), axis=1)]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels."""
        check_is_fitted(self, "module_")
        return self._predict_array(self._validate_X(X, reset=False))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax of the module's logits, shape ``(n_samples, n_classes)`` (float64)."""
        check_is_fitted(self, "module_")
        return self._proba_array(self._validate_X(X, reset=False))

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NeuralNetClassifier:
        """One epoch over ``X, y`` (``adam``/``sgd``); ``classes`` is required on the first call.

        Returns
        -------
        self
        """
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            if type_of_target(classes) not in ("binary", "multiclass"):
                raise ValueError(f"{type(self).__name__}.partial_fit: classes must be class labels, "
                                 f"got {classes!r}")
            self.classes_ = unique_labels(classes)
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                             f"was: {self.classes_!r}")
        return self._fit(X, y, incremental=True)


class NeuralNetRegressor(RegressorMixin, _RegressorFit, _NeuralNet):
    """A glassgrad module as a scikit-learn regressor.

    Same parameters as :class:`NeuralNetClassifier`; the module maps ``(n, n_features)`` to
    ``(n, n_outputs)`` (one column for a 1-d ``y``) and is trained with scikit-learn's
    squared error ``½·mean((y − ŷ)²)`` (see :class:`MLPRegressor`).
    """

    def _predict_array(self, X: np.ndarray) -> np.ndarray:
        out = self._forward_array(X).astype(np.float64)  # scikit-learn's regressors return float64
        return out.ravel() if out.shape[1] == 1 else out

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values (float64), shape ``(n_samples,)`` or ``(n_samples, n_outputs)``."""
        check_is_fitted(self, "module_")
        return self._predict_array(self._validate_X(X, reset=False))
