"""Seedable 2-D toy classification datasets, generated in-house (no scikit-learn needed).

Every ``make_*`` function returns ``(X, y)`` as **Tensors**: ``X`` float32 of shape
``(n_samples, 2)`` (``(n_samples, n_features)`` for blobs) and ``y`` int64 of shape
``(n_samples,)`` holding class labels ``0 .. n_classes - 1``. ``TensorDataset(*make_moons())``
or :func:`toy_dataset` ``("moons", ...)`` wraps them for a DataLoader; ``X.numpy()`` gives
the arrays.

Randomness: pass ``seed=`` (an int) or ``generator=`` (a :class:`glassgrad.Generator`); with
neither, the global generator is used, so ``gg.manual_seed(s)`` makes them reproducible.
Geometry is computed in float64 and rounded to float32 once at the end.

=============  ====================================================================
make_xor       the XOR truth table (4 points) or noisy points around its 4 corners
make_moons     two interleaving half circles (same geometry as scikit-learn's)
make_circles   a big circle containing a small one (same geometry as scikit-learn's)
make_spirals   ``n_classes`` interleaved arms of an Archimedean spiral
make_blobs     isotropic Gaussian blobs
=============  ====================================================================
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from ..random import Generator, _rng
from ..tensor import Tensor
from .dataset import TensorDataset

__all__ = ["make_xor", "make_moons", "make_circles", "make_spirals", "make_blobs", "toy_dataset"]


# the Returns section of the docstrings of the 2-D makers (its line ``{returns}``)
_RETURNS_2D = """Returns
-------
X : Tensor, float32, (n_samples, 2)
y : Tensor, int64, (n_samples,)"""

_F = TypeVar("_F", bound=Callable)


def _returns_2d(fn: _F) -> _F:
    """``fn`` with :data:`_RETURNS_2D` in place of the line ``{returns}`` of its docstring
    (the docstring dedented, as ``help`` shows it)."""
    fn.__doc__ = inspect.cleandoc(fn.__doc__ or "").replace("{returns}", _RETURNS_2D)
    return fn


def _rng_for(name: str, seed: int | None, generator: Generator | None) -> np.random.Generator:
    if seed is not None and generator is not None:
        raise ValueError(f"{name}: pass either seed= or generator=, not both")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"{name}: seed must be an int, got {type(seed).__name__}")
        return np.random.Generator(np.random.PCG64(int(seed)))
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"{name}: generator must be a glassgrad.Generator, got "
                        f"{type(generator).__name__}")
    return _rng(generator)


def _check_n(name: str, n: Any, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{name}: n_samples must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _check_noise(name: str, noise: Any) -> float:
    noise = float(noise)
    if not math.isfinite(noise) or noise < 0:
        raise ValueError(f"{name}: noise must be a finite number >= 0, got {noise}")
    return noise


def _finish(X: np.ndarray, y: np.ndarray, noise: float, shuffle: bool,
            rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    if noise > 0:
        X = X + rng.normal(0.0, noise, size=X.shape)
    if shuffle:
        p = rng.permutation(X.shape[0])
        X, y = X[p], y[p]
    return (Tensor._make(np.ascontiguousarray(X, dtype=np.float32), False),
            Tensor._make(np.ascontiguousarray(y, dtype=np.int64), False))


@_returns_2d
def make_xor(n_samples: int = 4, noise: float = 0.0, *, shuffle: bool = False, seed: int | None = None,
             generator: Generator | None = None) -> tuple[Tensor, Tensor]:
    """XOR: ``y = x1 xor x2`` on the corners of the unit square.

    With the defaults it is the exact truth table, in this order::

        X = [[0, 0], [0, 1], [1, 0], [1, 1]],  y = [0, 1, 1, 0]

    With other ``n_samples`` the corners repeat in that order (so the classes are balanced
    when ``n_samples`` is a multiple of 4) and ``noise`` (the standard deviation of
    Gaussian noise added to every coordinate) blurs them.

    Parameters
    ----------
    n_samples : int
    noise : float
    shuffle : bool
        Shuffle the rows (default False: corner order).
    seed, generator : optional
        Source of randomness (only used when ``noise > 0`` or ``shuffle``).

    {returns}
    """
    n = _check_n("make_xor", n_samples)
    noise = _check_noise("make_xor", noise)
    rng = _rng_for("make_xor", seed, generator) if (noise > 0 or shuffle) else None
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0])
    k = np.arange(n) % 4
    return _finish(corners[k], labels[k], noise, shuffle, rng)  # type: ignore[arg-type]


def _split2(name: str, n_samples: Any) -> tuple[int, int]:
    if isinstance(n_samples, (tuple, list)):
        if len(n_samples) != 2:
            raise ValueError(f"{name}: n_samples as a pair (n_outer, n_inner), got {n_samples!r}")
        a, b = (_check_n(name, v, 0) for v in n_samples)
        if a + b < 1:
            raise ValueError(f"{name}: needs at least one sample, got {n_samples!r}")
        return a, b
    n = _check_n(name, n_samples)
    return n // 2, n - n // 2


@_returns_2d
def make_moons(n_samples: int | tuple[int, int] = 1000, noise: float = 0.1, *, shuffle: bool = True,
               seed: int | None = None, generator: Generator | None = None) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles (scikit-learn's ``make_moons`` geometry).

    Class 0 (``n_samples // 2`` points): the upper half of the unit circle,
    ``(cos t, sin t)`` for ``t`` evenly spaced in ``[0, pi]``. Class 1 (the rest): the
    lower half circle centred at ``(1, 0.5)``, ``(1 - cos t, 0.5 - sin t)``. Then Gaussian
    noise of standard deviation ``noise`` is added to each coordinate.

    Parameters
    ----------
    n_samples : int or (int, int)
        Total points, or ``(n_class0, n_class1)``.
    noise : float
        Standard deviation of the Gaussian noise (default 0.1).
    shuffle : bool
        Shuffle the rows (default True); otherwise class 0 comes first.
    seed, generator : optional
        Source of randomness.

    {returns}
    """
    n_out, n_in = _split2("make_moons", n_samples)
    noise = _check_noise("make_moons", noise)
    rng = _rng_for("make_moons", seed, generator)
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)]).reshape(-1, 2)
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    return _finish(X, y, noise, shuffle, rng)


@_returns_2d
def make_circles(n_samples: int | tuple[int, int] = 1000, noise: float = 0.0, factor: float = 0.8, *,
                 shuffle: bool = True, seed: int | None = None,
                 generator: Generator | None = None) -> tuple[Tensor, Tensor]:
    """A large circle (class 0, radius 1) around a small one (class 1, radius ``factor``).

    Same geometry as scikit-learn's ``make_circles``: ``n_samples // 2`` points at angles
    ``2 pi k / n_outer`` on the unit circle, the rest at angles ``2 pi k / n_inner`` on the
    circle of radius ``factor``, then Gaussian noise of standard deviation ``noise``.

    Parameters
    ----------
    n_samples : int or (int, int)
        Total points, or ``(n_outer, n_inner)``.
    noise : float
    factor : float
        Inner radius over outer radius, in ``[0, 1)``.
    shuffle : bool
    seed, generator : optional

    {returns}
    """
    n_out, n_in = _split2("make_circles", n_samples)
    noise = _check_noise("make_circles", noise)
    factor = float(factor)
    if not 0.0 <= factor < 1.0:
        raise ValueError(f"make_circles: factor has to be in [0, 1), got {factor}")
    rng = _rng_for("make_circles", seed, generator)
    t_out = np.linspace(0.0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        factor * np.stack([np.cos(t_in), np.sin(t_in)], 1)]).reshape(-1, 2)
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    return _finish(X, y, noise, shuffle, rng)


@_returns_2d
def make_spirals(n_samples: int = 1000, noise: float = 0.0, n_classes: int = 2, *, turns: float = 1.0,
                 shuffle: bool = True, seed: int | None = None,
                 generator: Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n_classes`` interleaved arms of an Archimedean spiral.

    Arm ``k`` holds ``m_k`` points (the sizes differ by at most one) at radii ``r`` evenly
    spaced in ``[0.05, 1]`` and angles ``theta = 2 pi k / n_classes + 2 pi turns r``:
    ``x = r (cos theta, sin theta)``, plus Gaussian noise of standard deviation ``noise``.
    Arms are rotations of each other by ``2 pi / n_classes``, so with ``noise=0`` every point
    satisfies ``atan2(x2, x1) = theta (mod 2 pi)`` with ``r = |x|``.

    Parameters
    ----------
    n_samples : int
        Total points.
    noise : float
    n_classes : int
        Number of arms (>= 2).
    turns : float
        How many full turns each arm makes from the centre to radius 1.
    shuffle : bool
    seed, generator : optional

    {returns}
    """
    n = _check_n("make_spirals", n_samples)
    noise = _check_noise("make_spirals", noise)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"make_spirals: n_classes must be an integer >= 2, got {n_classes!r}")
    turns = float(turns)
    if not math.isfinite(turns) or turns <= 0:
        raise ValueError(f"make_spirals: turns must be > 0, got {turns}")
    rng = _rng_for("make_spirals", seed, generator)
    sizes = [n // n_classes + (1 if k < n % n_classes else 0) for k in range(n_classes)]
    Xs, ys = [], []
    for k, m in enumerate(sizes):
        r = np.linspace(0.05, 1.0, m)
        theta = 2 * np.pi * k / n_classes + 2 * np.pi * turns * r
        Xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], 1).reshape(-1, 2))
        ys.append(np.full(m, k, np.int64))
    return _finish(np.concatenate(Xs), np.concatenate(ys), noise, shuffle, rng)


def make_blobs(n_samples: int | Sequence[int] = 100, centers: int | Any = 3, cluster_std: float | Any = 1.0,
               *, noise: float = 0.0, n_features: int = 2, center_box: tuple[float, float] = (-10.0, 10.0),
               shuffle: bool = True, seed: int | None = None, generator: Generator | None = None,
               return_centers: bool = False) -> tuple[Tensor, ...]:
    """Isotropic Gaussian blobs (scikit-learn's ``make_blobs`` conventions).

    Parameters
    ----------
    n_samples : int or sequence of int
        Total points, split as evenly as possible over the centers (the first
        ``n_samples % k`` centers get one more), or the number of points per center.
    centers : int or array_like (k, n_features)
        How many centers to draw uniformly in ``center_box``, or their coordinates.
    cluster_std : float or sequence of float
        Standard deviation of each blob (one value or one per center).
    noise : float
        Standard deviation of extra Gaussian noise added to every coordinate (default 0),
        as in the other ``make_*`` functions; the blobs then have standard deviation
        ``sqrt(cluster_std**2 + noise**2)``.
    n_features : int
        Dimension (2 by default; ignored when ``centers`` are given as coordinates).
    center_box : (float, float)
        Bounds for random centers.
    shuffle : bool
    seed, generator : optional
    return_centers : bool
        Also return the centers (float32 Tensor (k, n_features)).

    Returns
    -------
    X : Tensor, float32, (n_samples, n_features)
    y : Tensor, int64, (n_samples,): the index of each point's center
    centers : Tensor, only with ``return_centers=True``
    """
    rng = _rng_for("make_blobs", seed, generator)
    if isinstance(n_samples, (list, tuple, np.ndarray)):
        sizes = [_check_n("make_blobs", v, 0) for v in n_samples]
        if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool) \
                and centers != len(sizes):
            raise ValueError(f"make_blobs: {len(sizes)} sample counts but centers={centers}")
        k_from_sizes = len(sizes)
    else:
        sizes, k_from_sizes = None, None
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = int(centers)
        if k < 1:
            raise ValueError(f"make_blobs: centers must be >= 1, got {k}")
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < 1:
            raise ValueError(f"make_blobs: n_features must be an integer >= 1, got {n_features!r}")
        lo, hi = (float(v) for v in center_box)
        C = rng.uniform(lo, hi, size=(k, int(n_features)))
    else:
        C = np.asarray(centers.array if isinstance(centers, Tensor) else centers, dtype=np.float64)
        if C.ndim != 2 or C.shape[0] < 1:
            raise ValueError(f"make_blobs: centers must be an int or an array of shape (k, n_features), "
                             f"got shape {C.shape}")
        k = C.shape[0]
        if k_from_sizes is not None and k_from_sizes != k:
            raise ValueError(f"make_blobs: {k_from_sizes} sample counts but {k} centers")
    if sizes is None:
        n = _check_n("make_blobs", n_samples)
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    std = np.broadcast_to(np.asarray(cluster_std, dtype=np.float64).reshape(-1), (k,)) \
        if np.ndim(cluster_std) == 0 or np.size(cluster_std) in (1, k) else None
    if std is None:
        raise ValueError(f"make_blobs: cluster_std must be one number or one per center ({k}), got "
                         f"{np.size(cluster_std)} values")
    if np.any(std < 0) or not np.isfinite(std).all():
        raise ValueError("make_blobs: cluster_std must be finite and >= 0")
    d = C.shape[1]
    X = np.concatenate([C[i] + std[i] * rng.standard_normal((m, d)) for i, m in enumerate(sizes)]) \
        .reshape(-1, d)
    y = np.concatenate([np.full(m, i, np.int64) for i, m in enumerate(sizes)])
    out = _finish(X, y, _check_noise("make_blobs", noise), shuffle, rng)
    if return_centers:
        return out + (Tensor._make(C.astype(np.float32), False),)
    return out


_MAKERS = {"xor": make_xor, "moons": make_moons, "circles": make_circles, "spirals": make_spirals,
           "blobs": make_blobs}


def toy_dataset(name: str, **kwargs: Any) -> TensorDataset:
    """``TensorDataset(X, y)`` of a toy dataset by name: ``'xor'``, ``'moons'``, ``'circles'``,
    ``'spirals'`` or ``'blobs'``; ``kwargs`` go to the ``make_<name>`` function."""
    try:
        fn = _MAKERS[name]
    except KeyError:
        raise ValueError(f"toy_dataset: unknown dataset {name!r}; expected one of "
                         f"{sorted(_MAKERS)}") from None
    kwargs.pop("return_centers", None)
    X, y = fn(**kwargs)[:2]
    return TensorDataset(X, y)
