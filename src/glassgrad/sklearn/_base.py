"""The training engine shared by the scikit-learn estimators of :mod:`glassgrad.sklearn`.

One class, :class:`BaseNet`, owns what scikit-learn's ``MLPClassifier`` and ``MLPRegressor``
do around the network: checking the hyperparameters, validating ``X`` and ``y``, the
mini-batch loop (``adam``/``sgd``) with scikit-learn's stopping rule, the full-batch
``lbfgs`` run, early stopping on a held-out split, ``warm_start`` and ``partial_fit``. The
subclasses say which glassgrad module to train and which loss to minimise.

What runs inside is ordinary glassgrad: an ``nn.Module`` (``module_``), a loss from
``nn.functional``, ``optim.Adam``/``optim.SGD``/``optim.LBFGS``, and ``gg.capture`` to
replay the recorded training step. scikit-learn's L2 term ``alpha/2·‖W‖²/n_batch`` is
PyTorch's coupled ``weight_decay = alpha/n_batch`` on the weights (not on the biases): its
gradient ``alpha·W/n_batch`` is what the optimizer adds to ``W.grad``.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from typing import Any, Iterator

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, column_or_1d, gen_batches, shuffle
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import allocator, optim
from ..autograd import capture, no_grad
from ..creation import from_numpy
from ..nn import functional as F
from ..random import get_rng_state, manual_seed, set_rng_state

__all__ = ["BaseNet"]

STOCHASTIC_SOLVERS = ("sgd", "adam")
# lbfgs stops when the loss changes by less than this: SciPy's default ftol (factr 1e7 times
# float64's machine epsilon), whatever the dtype
_FTOL = 1e7 * float(np.finfo(np.float64).eps)


def _check_number(owner: str, name: str, value: Any, kind: type, low: float | None = None,
                  high: float | None = None, low_open: bool = False, high_open: bool = False) -> None:
    """A ValueError naming ``owner.name`` unless ``value`` is a ``kind`` in the interval."""
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}, "
        hi = "inf)" if high is None else f"{high}" + (")" if high_open else "]")
        what = "an integer" if kind is numbers.Integral else "a number"
        raise ValueError(f"{owner}: {name} must be {what} in {lo}{hi}, got {value!r}")


def _check_option(owner: str, name: str, value: Any, options: tuple) -> None:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(map(repr, options))}, "
                         f"got {value!r}")


@contextlib.contextmanager
def _seeded_glassgrad_rng(seed: int) -> Iterator[None]:
    """Seed glassgrad's default generator for the block, then put its state back: fitting
    with an integer ``random_state`` is reproducible (module initialisation, dropout)
    without changing the caller's random stream."""
    state = get_rng_state()
    manual_seed(seed)
    try:
        yield
    finally:
        set_rng_state(state)


class BaseNet(BaseEstimator):
    """Base class of the estimators; not to be used directly.

    Subclasses implement ``_validate_input``, ``_build_module``, ``_make_loss`` and
    ``_score``, and may override ``_weights``. Hyperparameters have scikit-learn's names
    and meanings (see :class:`glassgrad.sklearn.MLPClassifier`).
    """

    def _keep_init_args(self, args: dict[str, Any]) -> None:
        """Store each ``__init__`` argument (``locals()`` at its start), unchanged, as the
        attribute of the same name: scikit-learn's rule for estimators (no checks or
        conversions in ``__init__``; ``fit`` checks them)."""
        for name, value in args.items():
            if name != "self":
                setattr(self, name, value)

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        name = type(self).__name__
        _check_option(name, "solver", self.solver, ("lbfgs", "sgd", "adam"))
        _check_option(name, "learning_rate", self.learning_rate, ("constant", "invscaling", "adaptive"))
        _check_number(name, "alpha", self.alpha, numbers.Real, 0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _check_number(name, "batch_size", self.batch_size, numbers.Integral, 1)
        _check_number(name, "learning_rate_init", self.learning_rate_init, numbers.Real, 0, low_open=True)
        _check_number(name, "power_t", self.power_t, numbers.Real, 0)
        _check_number(name, "max_iter", self.max_iter, numbers.Integral, 1)
        _check_number(name, "tol", self.tol, numbers.Real, 0)
        _check_number(name, "momentum", self.momentum, numbers.Real, 0, 1)
        _check_number(name, "validation_fraction", self.validation_fraction, numbers.Real, 0, 1,
                      high_open=True)
        _check_number(name, "beta_1", self.beta_1, numbers.Real, 0, 1, high_open=True)
        _check_number(name, "beta_2", self.beta_2, numbers.Real, 0, 1, high_open=True)
        _check_number(name, "epsilon", self.epsilon, numbers.Real, 0, low_open=True)
        if self.n_iter_no_change != np.inf:
            _check_number(name, "n_iter_no_change", self.n_iter_no_change, numbers.Integral, 1)
        _check_number(name, "max_fun", self.max_fun, numbers.Integral, 1)
        for flag in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise ValueError(f"{name}: {flag} must be True or False, got {getattr(self, flag)!r}")

    # ------------------------------------------------------------------ hooks
    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple:
        """``(X, y, targets)``: validated arrays and the loss's target array."""
        raise NotImplementedError

    def _build_module(self, n_features: int, n_outputs: int, dtype: Any, rs: np.random.RandomState) -> Any:
        raise NotImplementedError

    def _make_loss(self) -> Any:
        """``(loss(out, target) -> Tensor, report_scale)``: the training loss (its gradient
        is scikit-learn's) and the factor that turns it into the reported ``loss_``."""
        raise NotImplementedError

    def _score(self, X: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def _weights(self) -> list:
        """The parameters that ``alpha`` penalises: those with two or more dimensions."""
        return [p for p in self.module_.parameters() if p.ndim >= 2]

    def _n_outputs(self, targets: np.ndarray) -> int:
        return 1 if targets.ndim == 1 else targets.shape[1]

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any) -> BaseNet:
        """Fit the network to ``X`` (n_samples, n_features) and ``y``.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def _check_solver(self) -> bool:
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers; "
                                 f"solver={self.solver!r} is not stochastic")
        return True

    def _fit(self, X: Any, y: Any, incremental: bool) -> BaseNet:
        self._check_params()
        first_pass = not hasattr(self, "module_") or (not self.warm_start and not incremental)
        X, y, targets = self._validate_input(X, y, incremental, reset=first_pass)
        self._random_state = check_random_state(self.random_state)
        # keep a step's memory for the next step, as Trainer.fit does (see glassgrad.allocator)
        allocator.tune_for_training()
        if first_pass:
            self._initialize(X, targets)
        elif self._n_outputs(targets) != self.n_outputs_:
            raise ValueError(f"{type(self).__name__}: y has {self._n_outputs(targets)} outputs, "
                             f"the fitted network {self.n_outputs_}")
        # the module computes in its parameters' dtype: X's for the MLPs (as scikit-learn),
        # the module's own for NeuralNet* (float32 for glassgrad's defaults)
        dtype = self._param_dtype()
        X = X.astype(dtype, copy=False)
        if targets.dtype.kind == "f":
            targets = targets.astype(dtype, copy=False)
        seed = int(self._random_state.randint(np.iinfo(np.int32).max)) if self._uses_glassgrad_rng else 0
        with _seeded_glassgrad_rng(seed):
            self.module_.train()
            try:
                if self.solver in STOCHASTIC_SOLVERS:
                    self._fit_stochastic(X, y, targets, incremental)
                else:
                    self._fit_lbfgs(X, targets)
            finally:
                self.module_.eval()
        if not all(np.isfinite(p.array).all() for p in self.module_.parameters()):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _initialize(self, X: np.ndarray, targets: np.ndarray) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = self._n_outputs(targets)
        rs = self._random_state
        if self._uses_glassgrad_rng:
            with _seeded_glassgrad_rng(int(rs.randint(np.iinfo(np.int32).max))):
                self.module_ = self._build_module(X.shape[1], self.n_outputs_, X.dtype, rs)
        else:
            self.module_ = self._build_module(X.shape[1], self.n_outputs_, X.dtype, rs)
        self._check_output(X)
        self._optimizer = None
        self.__dict__.pop("_best_state", None)
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # True: the module may draw from glassgrad's generator (initialisation, dropout), which is
    # then seeded from random_state. False (the MLPs): all randomness comes from the NumPy
    # RandomState, drawn in scikit-learn's order, so that the same seed gives the same run.
    _uses_glassgrad_rng = True

    def _check_output(self, X: np.ndarray) -> None:
        """Run the new module on two samples: a clear error if its output does not fit."""
        with no_grad():
            self.module_.eval()
            out = self.module_(from_numpy(np.ascontiguousarray(X[:2], dtype=self._param_dtype())))
        want = (min(2, X.shape[0]), self.n_outputs_)
        if tuple(out.shape) != want:
            raise ValueError(f"{type(self).__name__}: the module must map (n_samples, {X.shape[1]}) "
                             f"inputs to (n_samples, {self.n_outputs_}) outputs; on {want[0]} "
                             f"sample(s) it returned shape {tuple(out.shape)}")
        dtypes = {p.array.dtype for p in self.module_.parameters()}
        if len(dtypes) > 1:
            raise ValueError(f"{type(self).__name__}: the module's parameters must share one dtype, "
                             f"got {sorted(map(str, dtypes))}")

    def _param_dtype(self) -> Any:
        for p in self.module_.parameters():
            return p.array.dtype
        return np.float64

    def _make_optimizer(self) -> Any:
        weights = self._weights()
        ids = {id(p) for p in weights}
        rest = [p for p in self.module_.parameters() if id(p) not in ids]
        groups = [{"params": weights}, {"params": rest, "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        lr = float(self.learning_rate_init)
        if self.solver == "adam":
            return optim.Adam(groups, lr=lr, betas=(float(self.beta_1), float(self.beta_2)),
                              eps=float(self.epsilon))
        momentum = float(self.momentum)
        return optim.SGD(groups, lr=lr, momentum=momentum,
                         nesterov=bool(self.nesterovs_momentum) and momentum > 0)

    def _set_decay(self, n_batch: int) -> None:
        """``weight_decay = alpha / n_batch`` on the weights' group (the first)."""
        if self._weights():
            self._optimizer.param_groups[0]["weight_decay"] = float(self.alpha) / n_batch

    def _penalty_value(self, n: int) -> float:
        """scikit-learn's ``alpha/2·‖W‖²/n`` for the loss it reports."""
        if not self.alpha:
            return 0.0
        sq = sum(float(np.dot(p.array.ravel(), p.array.ravel())) for p in self._weights())
        return 0.5 * float(self.alpha) * sq / n

    def _fit_stochastic(self, X: np.ndarray, y: np.ndarray, targets: np.ndarray, incremental: bool) -> None:
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
            self._lr = float(self.learning_rate_init)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            stratify = self._stratify(y, targets)
            X_train, X_val, y_train_raw, y_val, t_train, _ = train_test_split(
                X, y, targets, random_state=self._random_state,
                test_size=self.validation_fraction, stratify=stratify)
            del y_train_raw
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                                 "or the size of your dataset.")
        else:
            X_train, t_train, X_val, y_val = X, targets, None, None
        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                              "to be clipped", stacklevel=3)
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        loss_fn, report_scale = self._make_loss()
        module = self.module_
        step = capture(lambda xb, tb: loss_fn(module(xb), tb))
        opt = self._optimizer
        sample_idx = np.arange(n_samples)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                accumulated = 0.0
                for batch in gen_batches(n_samples, batch_size):
                    idx = sample_idx[batch] if self.shuffle else batch
                    xb, tb = X_train[idx], t_train[idx]
                    n_b = xb.shape[0]
                    self._set_decay(n_b)
                    penalty = self._penalty_value(n_b)
                    opt.zero_grad()
                    loss = step(from_numpy(np.ascontiguousarray(xb)), from_numpy(np.ascontiguousarray(tb)))
                    loss.backward()
                    opt.step()
                    accumulated += (float(loss.item()) * report_scale + penalty) * n_b
                self.n_iter_ += 1
                self.loss_ = accumulated / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(early_stopping, X_val, y_val)
                self._iteration_ends()
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = (f"{what} did not improve more than tol={self.tol:f} for "
                           f"{self.n_iter_no_change} consecutive epochs.")
                    if self._trigger_stopping(msg):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                                  "and the optimization hasn't converged yet.", ConvergenceWarning,
                                  stacklevel=3)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if early_stopping and getattr(self, "_best_state", None) is not None:
            for p, a in zip(self.module_.parameters(), self._best_state):
                p.array[...] = a

    def _stratify(self, y: np.ndarray, targets: np.ndarray) -> Any:
        """What the early-stopping split is stratified by: as scikit-learn's MLPs, only
        a classifier's single binary output."""
        return targets if is_classifier(self) and self.n_outputs_ == 1 else None

    def _iteration_ends(self) -> None:
        """scikit-learn's ``invscaling``: ``lr = learning_rate_init / (t_ + 1) ** power_t``."""
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._set_lr(float(self.learning_rate_init) / (self.t_ + 1) ** float(self.power_t))

    def _set_lr(self, lr: float) -> None:
        self._lr = lr
        for g in self._optimizer.param_groups:
            g["lr"] = lr

    def _trigger_stopping(self, msg: str) -> bool:
        """Stop, unless ``learning_rate='adaptive'`` (sgd): then divide the rate by 5 and go
        on until it falls to 1e-6."""
        if not (self.solver == "sgd" and self.learning_rate == "adaptive"):
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._lr <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._set_lr(self._lr / 5.0)
        if self.verbose:
            print(msg + f" Setting learning rate to {self._lr:f}")
        return False

    def _update_no_improvement_count(self, early_stopping: bool, X_val: Any, y_val: Any) -> None:
        if early_stopping:
            self.module_.eval()
            score = self._score(X_val, y_val)
            self.module_.train()
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_state = [p.array.copy() for p in self.module_.parameters()]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _fit_lbfgs(self, X: np.ndarray, targets: np.ndarray) -> None:
        loss_fn, report_scale = self._make_loss()
        module, weights, n = self.module_, self._weights(), X.shape[0]
        coef = 0.5 * float(self.alpha) / n

        def objective(x: Any, t: Any) -> Any:
            loss = loss_fn(module(x), t)
            if coef and weights:
                sq = (weights[0] * weights[0]).sum()
                for w in weights[1:]:
                    sq = sq + (w * w).sum()
                loss = loss + sq * coef
            return loss

        step = capture(objective)
        xt, tt = from_numpy(np.ascontiguousarray(X)), from_numpy(np.ascontiguousarray(targets))
        params = list(module.parameters())
        opt = optim.LBFGS(params, lr=1.0, max_iter=int(self.max_iter), max_eval=int(self.max_fun),
                          tolerance_grad=float(self.tol), tolerance_change=_FTOL,
                          history_size=10, line_search_fn="strong_wolfe")

        def closure() -> Any:
            opt.zero_grad()
            loss = step(xt, tt)
            loss.backward()
            return loss

        opt.step(closure)
        st = opt.state[params[0]]
        self.n_iter_ = int(st.get("n_iter", 0))
        evals = int(st.get("func_evals", 0))
        with no_grad():
            data = float(loss_fn(module(xt), tt).item())
        self.loss_ = data * report_scale + self._penalty_value(n)
        if self.n_iter_ >= self.max_iter or evals >= self.max_fun:
            which = (f"max_iter={self.max_iter} iterations" if self.n_iter_ >= self.max_iter
                     else f"max_fun={self.max_fun} loss evaluations")
            warnings.warn(f"lbfgs failed to converge: {which} reached. Increase max_iter/max_fun "
                          "or scale the data.", ConvergenceWarning, stacklevel=3)
        if self.verbose:
            print(f"lbfgs: {self.n_iter_} iterations, {evals} loss evaluations, loss = {self.loss_:.8f}")

    # ------------------------------------------------------------------ prediction
    def _forward(self, X: Any) -> np.ndarray:
        """The module's raw outputs (logits for the classifiers) on validated ``X``."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return self._forward_array(X)

    def _forward_array(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=self._param_dtype())
        module = self.module_
        was_training = module.training
        module.eval()
        try:
            with no_grad():
                out = module(from_numpy(X)).array
        finally:
            if was_training:
                module.train()
        return np.asarray(out)


class _ClassifierOutputs:
    """The classifiers' score (accuracy) and the outputs derived from ``predict`` and
    ``predict_proba``."""

    def _score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(accuracy_score(y, self._predict_array(X)))  # type: ignore[attr-defined]

    def classify(self, X: Any) -> np.ndarray:
        """Same as :meth:`predict` (the name glassgrad's examples use)."""
        return self.predict(X)  # type: ignore[attr-defined]

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        prob = self.predict_proba(X)  # type: ignore[attr-defined]
        return np.log(prob, out=prob)


class _RegressorFit:
    """The regressors' targets (any number of outputs), squared-error loss, score (R²),
    ``partial_fit`` and tags."""

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple:
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # float64 here; _fit casts them to the module's dtype
        targets = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float64)
        return X, y, targets

    def _n_outputs(self, targets: np.ndarray) -> int:
        return targets.shape[1]

    def _make_loss(self) -> Any:
        k = float(self.n_outputs_)  # type: ignore[attr-defined]
        return (lambda out, t: F.mse_loss(out, t) * (0.5 * k)), 1.0 / k

    def _score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(r2_score(y, self._predict_array(X)))  # type: ignore[attr-defined]

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: Any, y: Any) -> Any:
        """One epoch over ``X, y`` (``adam``/``sgd``).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True)  # type: ignore[attr-defined]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.target_tags.multi_output = True
        return tags
