"""The small training recipes ``glassgrad train`` and the playground share: per-data-set
defaults, the train/validation split, and the model, loss and optimizer they build from
a configuration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# per-dataset defaults: hidden, activation, epochs, batch size, Adam learning rate (lr), plain SGD
# learning rate where it differs from _LR_SGD (lr_sgd), generator kwargs
_DEFAULTS: dict[str, dict[str, Any]] = {
    "xor": dict(hidden="8", activation="tanh", epochs=60, batch_size=16, lr=0.03, lr_sgd=0.5,
                data=dict(n_samples=400, noise=0.15)),
    "moons": dict(hidden="16,16", activation="relu", epochs=25, batch_size=32, lr=0.01, lr_sgd=0.5,
                  data=dict(n_samples=1000, noise=0.1)),
    "circles": dict(hidden="16,16", activation="relu", epochs=40, batch_size=32, lr=0.01, lr_sgd=0.5,
                    data=dict(n_samples=1000, noise=0.05, factor=0.5)),
    "spirals": dict(hidden="64,64", activation="relu", epochs=60, batch_size=32, lr=0.01, lr_sgd=0.5,
                    data=dict(n_samples=1500, noise=0.03, n_classes=3)),
    "blobs": dict(hidden="16", activation="relu", epochs=20, batch_size=32, lr=0.01,
                  data=dict(n_samples=1000, centers=4, cluster_std=1.0)),
    "digits": dict(hidden="64", activation="relu", epochs=30, batch_size=32, lr=1e-3, data={}),
    "mnist": dict(hidden="128", activation="relu", epochs=5, batch_size=128, lr=1e-3, data={}),
}
# learning rate when --lr is not given, for the optimizers other than Adam/AdamW
_LR_SGD = {"sgd": 0.1, "momentum": 0.05}


def _default_lr(dataset: str, optimizer: str) -> float:
    """The learning rate of a run without ``--lr``."""
    d = _DEFAULTS[dataset]
    return float(d.get(f"lr_{optimizer}", _LR_SGD.get(optimizer, d["lr"])))


def _split(X: np.ndarray, y: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, ...]:
    n = len(X)
    n_val = int(round(n * frac))
    perm = np.random.default_rng(seed + 1).permutation(n)
    va, tr = perm[:n_val], perm[n_val:]
    return X[tr], y[tr], X[va], y[va]


def build_model(in_features: int, hidden: Sequence[int], num_classes: int, activation: str) -> Any:
    """``Linear -> act -> ... -> Linear`` as an ``nn.Sequential``."""
    from .. import nn

    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    layers: list[Any] = []
    d = in_features
    for h in hidden:
        layers += [nn.Linear(d, h), acts[activation]()]
        d = h
    layers.append(nn.Linear(d, num_classes))
    return nn.Sequential(*layers)


class _MSEOnehot:
    """Squared error between the outputs and one-hot targets (``loss='mse'``)."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes

    def __call__(self, out: Any, y: Any) -> Any:
        from .. import nn
        from ..functional_api import one_hot

        return nn.functional.mse_loss(out, one_hot(y, self.num_classes).float())


def build_loss(kind: str, num_classes: int) -> Any:
    from .. import nn

    return nn.CrossEntropyLoss() if kind == "ce" else _MSEOnehot(num_classes)


def build_optimizer(kind: str, params: Any, lr: float, weight_decay: float) -> Any:
    from .. import optim

    if kind == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if kind == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if kind == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return optim.AdamW(params, lr=lr, weight_decay=weight_decay if weight_decay else 1e-2)
