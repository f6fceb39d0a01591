"""The glass box: see inside every backward pass.

* :func:`trace` / :func:`explain` — every node of a backward, in order: op, module,
  shapes, the formula applied, gradient statistics, broadcast sums, time.
* :data:`FORMULAS` — the plain-text VJP of every op, keyed by op class.
* :func:`broadcast_marks` — where broadcasting made the backward sum a gradient.
* :func:`check_gradients` / :class:`GradientChecker` — finite-difference checks of a few
  parameter entries while training.
* :class:`GradientFlow` — per-layer gradient/weight norms and update ratios over
  training, vanishing/exploding gradient and dead-ReLU warnings.
* :func:`detect_anomaly` — stop at the first op making NaN/Inf (re-exported).
"""

from ..autograd.anomaly import AnomalyError, detect_anomaly
from .broadcast import BroadcastMark, broadcast_marks
from .checker import GradientChecker, GradientCheckReport, check_gradients
from .flow import GradientFlow
from .formulas import FORMULAS, Formula, formula_for
from .trace import GradRecord, GradStats, NodeRecord, Trace, explain, trace

__all__ = [
    "trace", "explain", "Trace", "NodeRecord", "GradRecord", "GradStats",
    "FORMULAS", "Formula", "formula_for", "BroadcastMark", "broadcast_marks",
    "check_gradients", "GradientChecker", "GradientCheckReport", "GradientFlow",
    "detect_anomaly", "AnomalyError",
]
