"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn's multi-layer perceptrons, trained by
glassgrad.

Same hyperparameters, defaults, initialisation, batches, stopping rule, attributes and
outputs as ``sklearn.neural_network``; the network is a glassgrad ``nn.Sequential`` of
``nn.Linear`` layers and activations (``module_``), trained with glassgrad's optimizers.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import nn
from ..nn import functional as F
from ._base import BaseNet, _ClassifierOutputs, _RegressorFit

__all__ = ["MLPClassifier", "MLPRegressor"]

_ACTIVATIONS = {"identity": nn.Identity, "logistic": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


class _MLP(BaseNet):
    """What the two perceptrons share: the layers, their initialisation and ``coefs_``."""

    _uses_glassgrad_rng = False

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: Any = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Any = None, tol: float = 1e-4, verbose: bool = False,
                 warm_start: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 max_fun: int = 15000) -> None:
        self._keep_init_args(locals())

    def _hidden(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if any(not isinstance(s, numbers.Integral) or isinstance(s, bool) or s <= 0 for s in sizes):
            raise ValueError(f"{type(self).__name__}: hidden_layer_sizes must be positive integers, "
                             f"got {self.hidden_layer_sizes!r}")
        return [int(s) for s in sizes]

    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.activation, str) or self.activation not in _ACTIVATIONS:
            raise ValueError(f"{type(self).__name__}: activation must be one of "
                             f"{', '.join(map(repr, _ACTIVATIONS))}, got {self.activation!r}")
        self._hidden()

    def _build_module(self, n_features: int, n_outputs: int, dtype: Any, rs: np.random.RandomState) -> Any:
        """``Linear, act, …, Linear`` with scikit-learn's initialisation, drawn in its order:
        for each layer the weights, then the biases, uniform in ``±sqrt(f/(fan_in+fan_out))``
        with ``f = 2`` for the logistic activation and ``6`` otherwise (Glorot & Bengio)."""
        units = [n_features] + self._hidden() + [n_outputs]
        factor = 2.0 if self.activation == "logistic" else 6.0
        layers: list = []
        for i, (fan_in, fan_out) in enumerate(zip(units[:-1], units[1:])):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = rs.uniform(-bound, bound, (fan_in, fan_out))
            intercept = rs.uniform(-bound, bound, fan_out)
            lin = nn.Linear(fan_in, fan_out, dtype=dtype)
            lin.weight.array[...] = coef.T
            lin.bias.array[...] = intercept
            layers.append(lin)
            if i < len(units) - 2:
                layers.append(_ACTIVATIONS[self.activation]())
        self.n_layers_ = len(units)
        return nn.Sequential(*layers)

    def _weights(self) -> list:
        return [m.weight for m in self.module_ if isinstance(m, nn.Linear)]

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, ``coefs_[i]`` of shape ``(units[i], units[i+1])``: views of the
        glassgrad parameters (``module_``'s ``Linear.weight`` transposed)."""
        check_is_fitted(self, "module_")
        return [m.weight.array.T for m in self.module_ if isinstance(m, nn.Linear)]

    @coefs_.setter
    def coefs_(self, values: list) -> None:
        self._assign("coefs_", values, lambda m: m.weight, transpose=True)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, ``intercepts_[i]`` of shape ``(units[i+1],)``: the parameters' arrays."""
        check_is_fitted(self, "module_")
        return [m.bias.array for m in self.module_ if isinstance(m, nn.Linear)]

    @intercepts_.setter
    def intercepts_(self, values: list) -> None:
        self._assign("intercepts_", values, lambda m: m.bias, transpose=False)

    def _assign(self, name: str, values: list, get: Any, transpose: bool) -> None:
        check_is_fitted(self, "module_")
        layers = [m for m in self.module_ if isinstance(m, nn.Linear)]
        if len(values) != len(layers):
            raise ValueError(f"{type(self).__name__}.{name}: expected {len(layers)} arrays, "
                             f"got {len(values)}")
        for m, v in zip(layers, values):
            p = get(m)
            v = np.asarray(v)
            want = p.array.T.shape if transpose else p.array.shape
            if v.shape != want:
                raise ValueError(f"{type(self).__name__}.{name}: expected an array of shape {want}, "
                                 f"got {v.shape}")
            p.array[...] = v.T if transpose else v


class MLPClassifier(ClassifierMixin, _ClassifierOutputs, _MLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by glassgrad.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int
        Units of each hidden layer (default ``(100,)``).
    activation : {'identity', 'logistic', 'tanh', 'relu'}
        Activation of the hidden layers (default ``'relu'``).
    solver : {'adam', 'sgd', 'lbfgs'}
        ``optim.Adam``, ``optim.SGD`` (with momentum) or full-batch ``optim.LBFGS``
        (strong-Wolfe line search, history 10).
    alpha : float
        L2 penalty ``alpha/2·‖W‖²/n_samples`` on the weights (not the biases).
    batch_size : int or 'auto'
        Mini-batch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}
        Schedule of the ``sgd`` step size: constant; ``learning_rate_init / (t_+1)**power_t``
        after each epoch; or divided by 5 each time the loss stalls.
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
    momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2,
    epsilon, n_iter_no_change, max_fun :
        As in scikit-learn. ``max_iter`` counts epochs (``adam``/``sgd``) or iterations
        (``lbfgs``); training stops when the loss (or, with ``early_stopping``, the
        validation accuracy) has not improved by ``tol`` for ``n_iter_no_change`` epochs.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, n_outputs_, n_layers_, out_activation_,
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, n_iter_, t_ :
        As in scikit-learn.
    coefs_, intercepts_ : list of ndarray
        Views of the weights and biases of ``module_`` (weights as ``(fan_in, fan_out)``).
    module_ : nn.Sequential
        The trained glassgrad network; it returns logits (the output activation,
        ``out_activation_``, is applied by :meth:`predict_proba`).

    Notes
    -----
    Computes in ``X``'s dtype like scikit-learn: float32 input stays float32, anything else
    becomes float64. :meth:`classify` is :meth:`predict` under another name.
    """

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple:
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as "
                                     f"in the previous call to fit. Previously got {self.classes_}, "
                                     f"`y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        onehot = self._label_binarizer.transform(y)
        if self._label_binarizer.y_type_ == "multiclass":
            targets = np.argmax(onehot, axis=1).astype(np.int64)
        else:
            targets = onehot.astype(X.dtype)
        return X, y, targets

    def _n_outputs(self, targets: np.ndarray) -> int:
        return len(self.classes_) if targets.ndim == 1 else targets.shape[1]

    def _initialize(self, X: np.ndarray, targets: np.ndarray) -> None:
        multiclass = self._label_binarizer.y_type_ == "multiclass"
        self.out_activation_ = "softmax" if multiclass else "logistic"
        super()._initialize(X, targets)

    def _make_loss(self) -> Any:
        if self.out_activation_ == "softmax":
            return (lambda out, t: F.cross_entropy(out, t)), 1.0
        k = float(self.n_outputs_)
        # mean over samples and outputs, times k: summed over outputs, averaged over samples
        return (lambda out, t: F.binary_cross_entropy_with_logits(out, t) * k), 1.0

    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        if self.out_activation_ == "softmax":
            z = logits - logits.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            return z
        return 0.5 * (1.0 + np.tanh(0.5 * logits))  # the logistic function, without overflow

    def _predict_array(self, X: np.ndarray) -> np.ndarray:
        prob = self._probabilities(self._forward_array(X))
        if self.n_outputs_ == 1:
            prob = prob.ravel()
        return self._label_binarizer.inverse_transform(prob)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (label indicator rows for multilabel ``y``)."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return self._predict_array(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)``: softmax for several classes;
        ``[1 − p, p]`` for two; one logistic column per label for multilabel ``y``."""
        prob = self._probabilities(self._forward(X))
        if self.n_outputs_ == 1:
            p = prob.ravel()
            return np.column_stack([1.0 - p, p])
        return prob

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y`` (``adam``/``sgd``). ``classes`` (all labels ``y`` will
        ever hold) is required on the first call and must not change after.

        Returns
        -------
        self
        """
        first = not hasattr(self, "classes_")
        if classes is not None and not first and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                             f"partial_fit, was: {self.classes_!r}")
        if first:
            if classes is None and not type_of_target(y).startswith("multilabel"):
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if classes is None else classes)
            self.classes_ = self._label_binarizer.classes_
        return self._fit(X, y, incremental=True)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _RegressorFit, _MLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor`` (squared error),
    trained by glassgrad.

    Same parameters and attributes as :class:`MLPClassifier` (no ``classes_``); the output
    layer is linear (``out_activation_ = 'identity'``). The loss is
    ``½·mean((y − ŷ)²)`` (+ the L2 term); as in scikit-learn, its gradient is taken summed
    over the outputs (for several outputs the reported ``loss_`` is the training objective
    divided by ``n_outputs_``).
    """

    def _initialize(self, X: np.ndarray, targets: np.ndarray) -> None:
        self.out_activation_ = "identity"
        super()._initialize(X, targets)

    def _predict_array(self, X: np.ndarray) -> np.ndarray:
        out = self._forward_array(X)
        return out.ravel() if out.shape[1] == 1 else out

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shape ``(n_samples,)`` or ``(n_samples, n_outputs)``."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return self._predict_array(X)
