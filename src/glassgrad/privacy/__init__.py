"""Differentially private training (DP-SGD) built on :func:`glassgrad.per_sample_grads`.

::

    from glassgrad.privacy import DPDataLoader, DPOptimizer

    loader = DPDataLoader(train_ds, sample_rate=256 / len(train_ds), generator=gg.Generator(0))
    dp = DPOptimizer(optim.SGD(model.parameters(), lr=0.1), model, nn.CrossEntropyLoss(),
                     max_grad_norm=1.0, noise_multiplier=1.1,
                     expected_batch_size=256, sample_rate=loader.sample_rate,
                     generator=gg.Generator(1))
    for x, y in loader:
        dp.step(x, y)                 # instead of zero_grad / forward / backward / step
    print(dp.epsilon(delta=1e-5))     # needs the optional extra: pip install glassgrad[privacy]

* :class:`DPOptimizer` — per step: per-sample gradients, each sample's whole-model gradient
  clipped to L2 norm ≤ C, summed, Gaussian noise N(0, σ²C²) added per coordinate, divided
  by the expected batch size, then the wrapped optimizer's ``step()``.
* :class:`PoissonSampler` / :class:`DPDataLoader` — Poisson sampling (every sample enters a
  batch independently with probability q), the sampling the privacy analysis assumes.
* :class:`PrivacyAccountant` — ε for a given δ through Google's ``dp-accounting`` library
  (RDP or PLD accountant), an optional extra.
* :func:`make_private` — the three above from a model, optimizer, loss and dataset.

Algorithm, per-sample rule and caveats: ``docs/dp_sgd.md``.
"""

from .accountant import PrivacyAccountant
from .optimizer import DPOptimizer, make_private
from .sampling import DPDataLoader, PoissonSampler

__all__ = ["DPOptimizer", "DPDataLoader", "PoissonSampler", "PrivacyAccountant", "make_private"]
