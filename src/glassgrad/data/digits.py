"""The 8x8 handwritten digits of scikit-learn (1,797 images, 10 classes) as a Dataset."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..tensor import Tensor
from ._image import ImageClassificationDataset

__all__ = ["Digits", "load_digits"]


def _sklearn_digits():
    try:
        from sklearn.datasets import load_digits as _sk_load
    except ImportError:
        raise ImportError("load_digits needs scikit-learn, an optional extra: "
                          "pip install glassgrad[sklearn]") from None
    return _sk_load()


class Digits(ImageClassificationDataset):
    """scikit-learn's 8x8 digits (UCI optical recognition), same interface as :class:`MNIST`.

    Parameters
    ----------
    transform, target_transform : callable, optional
    flatten : bool
        Samples are ``(64,)`` instead of ``(1, 8, 8)``.
    normalize : bool or (float, float)
        Standardise pixels (``True``: the dataset's own mean/std on the [0, 1] scale).

    Attributes
    ----------
    data : Tensor, uint8, (1797, 8, 8), values 0..16
    targets : Tensor, int64, (1797,)

    Notes
    -----
    ``ds[i]`` is ``(float32 Tensor (1, 8, 8) equal to data[i] / 16, int label)``.
    :meth:`arrays` gives float32 ``X`` ``(1797, 64)`` in [0, 1] and int64 ``y``.
    """

    _name = "Digits"
    _max_value = 16.0
    classes = [str(i) for i in range(10)]

    def __init__(self, transform: Callable | None = None, target_transform: Callable | None = None, *,
                 flatten: bool = False, normalize: bool | tuple[float, float] = False) -> None:
        bunch = _sklearn_digits()
        images = np.asarray(bunch.images)
        if images.min() < 0 or images.max() > 16 or not np.array_equal(images, np.round(images)):
            raise ValueError("Digits: scikit-learn returned unexpected pixel values (expected "
                             "integers 0..16)")
        scaled = images / 16.0
        self._mean, self._std = float(scaled.mean()), float(scaled.std())
        self._setup(transform, target_transform, flatten, normalize)
        self.data = Tensor._make(images.astype(np.uint8), False)
        self.targets = Tensor._make(np.asarray(bunch.target, dtype=np.int64), False)

    def __repr__(self) -> str:
        return f"Digits({len(self)} images 8x8, flatten={self.flatten}, normalize={self.normalize})"


def load_digits(transform: Callable | None = None, target_transform: Callable | None = None, *,
                flatten: bool = False, normalize: bool | tuple[float, float] = False) -> Digits:
    """scikit-learn's 8x8 digits as a :class:`Digits` dataset (needs ``glassgrad[sklearn]``)."""
    return Digits(transform, target_transform, flatten=flatten, normalize=normalize)
