"""scikit-learn estimators trained by glassgrad (needs the ``sklearn`` extra).

* :class:`MLPClassifier`, :class:`MLPRegressor`: scikit-learn's multi-layer perceptrons
  (same hyperparameters, initialisation, stopping rule and attributes), the network being a
  glassgrad ``nn.Sequential`` (``module_``) trained by glassgrad's optimizers;
* :class:`NeuralNetClassifier`, :class:`NeuralNetRegressor`: any glassgrad module
  (``module=``) as an estimator, with the same training engine.

All four work with ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and pass
scikit-learn's ``check_estimator``. See ``docs/sklearn.md``.
"""

from __future__ import annotations

try:
    import sklearn as _sklearn
except ImportError:  # pragma: no cover - exercised by a test that hides sklearn
    raise ImportError("glassgrad.sklearn needs scikit-learn: pip install 'glassgrad[sklearn]'") from None


def _version(v: str) -> tuple[int, int]:
    parts = v.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):  # pragma: no cover - unusual version strings
        return (0, 0)


if _version(_sklearn.__version__) < (1, 6):
    raise ImportError(f"glassgrad.sklearn needs scikit-learn >= 1.6 (validate_data, estimator tags), "
                      f"found {_sklearn.__version__}: pip install -U 'glassgrad[sklearn]'")

from .mlp import MLPClassifier, MLPRegressor  # noqa: E402
from .neural_net import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor", "NeuralNetClassifier", "NeuralNetRegressor"]
