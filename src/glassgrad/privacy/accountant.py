"""The privacy budget of DP-SGD: :class:`PrivacyAccountant` (ε for a given δ).

The accountant records the steps (noise multiplier σ, sample rate q, count) and asks Google's
``dp-accounting`` library (the optional extra ``pip install glassgrad[privacy]``) for ε:

* ``method="rdp"`` (default): Rényi-DP accounting of the Poisson-subsampled Gaussian
  (Mironov et al. 2017/2019), the successor of the moments accountant of Abadi et al. 2016;
  converted to (ε, δ) with the library's conversion.
* ``method="pld"``: privacy-loss-distribution accounting (numerically tight; slower).

Both assume Poisson sampling with rate q and the add/remove-one neighbouring relation.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["PrivacyAccountant", "require_dp_accounting"]

_METHODS = ("rdp", "pld")


def require_dp_accounting(what: str) -> Any:
    """Import ``dp_accounting`` or raise an ImportError that names the extra to install."""
    try:
        import dp_accounting
    except ImportError as e:
        raise ImportError(
            f"{what}: computing ε needs the optional 'dp-accounting' package (Google's "
            "differential-privacy accountant); install it with `pip install glassgrad[privacy]` "
            "(or `pip install dp-accounting`)") from e
    return dp_accounting


class PrivacyAccountant:
    """Records DP-SGD steps and computes ε for a given δ.

    Parameters
    ----------
    method : {"rdp", "pld"}
        The accountant of ``dp-accounting`` to use (see the module docstring).

    Examples
    --------
    >>> acc = PrivacyAccountant()
    >>> acc.step(noise_multiplier=1.1, sample_rate=256 / 60000, steps=14062)
    >>> acc.epsilon(1e-5)            # doctest: +SKIP
    """

    def __init__(self, method: str = "rdp") -> None:
        if method not in _METHODS:
            raise ValueError(f"PrivacyAccountant: method must be one of {_METHODS}, got {method!r}")
        self.method = method
        self.history: list[tuple[float, float, int]] = []  # (sigma, q, steps), merged runs

    def step(self, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Record ``steps`` steps of the subsampled Gaussian mechanism."""
        s, q = float(noise_multiplier), float(sample_rate)
        if not (s >= 0 and math.isfinite(s)):
            raise ValueError(f"PrivacyAccountant.step: noise_multiplier must be a finite number >= 0, "
                             f"got {noise_multiplier!r}")
        if not 0.0 < q <= 1.0:
            raise ValueError(f"PrivacyAccountant.step: sample_rate must be in (0, 1], got {sample_rate!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"PrivacyAccountant.step: steps must be an int >= 0, got {steps!r}")
        if steps == 0:
            return
        if self.history and self.history[-1][:2] == (s, q):
            self.history[-1] = (s, q, self.history[-1][2] + steps)
        else:
            self.history.append((s, q, steps))

    @property
    def steps(self) -> int:
        return sum(h[2] for h in self.history)

    def _event(self, dpa: Any) -> Any:
        evs = [dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(s)), n)
               for s, q, n in self.history]
        return evs[0] if len(evs) == 1 else dpa.ComposedDpEvent(evs)

    def epsilon(self, delta: float) -> float:
        """ε such that the recorded steps are (ε, δ)-differentially private (``inf`` when a
        step had no noise; 0 before any step)."""
        d = float(delta)
        if not 0.0 < d < 1.0:
            raise ValueError(f"PrivacyAccountant.epsilon: delta must be in (0, 1), got {delta!r}")
        dpa = require_dp_accounting("PrivacyAccountant.epsilon")
        if not self.history:
            return 0.0
        if any(s == 0 for s, _, _ in self.history):
            return math.inf
        acc = dpa.rdp.RdpAccountant() if self.method == "rdp" else dpa.pld.PLDAccountant()
        acc.compose(self._event(dpa))
        return float(acc.get_epsilon(d))

    def state_dict(self) -> dict:
        return {"method": self.method, "history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        method = state.get("method", "rdp")
        if method not in _METHODS:
            raise ValueError(f"PrivacyAccountant.load_state_dict: unknown method {method!r}")
        self.method = method
        self.history = [(float(s), float(q), int(n)) for s, q, n in state.get("history", [])]

    def __repr__(self) -> str:
        return f"PrivacyAccountant(method={self.method!r}, steps={self.steps})"
