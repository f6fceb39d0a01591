"""Shared base of the small image-classification datasets (MNIST, Digits)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..tensor import Tensor
from .dataset import Dataset, TensorDataset, _as_index_array, _check_index, _gather_is_current


class ImageClassificationDataset(Dataset):
    """Grey-level images stored as integers in ``[0, max_value]`` with int64 labels.

    Subclasses set ``self.data`` (uint8 Tensor ``(N, H, W)``), ``self.targets`` (int64 Tensor
    ``(N,)``), ``_max_value``, ``_mean``/``_std`` (of the [0, 1]-scaled training pixels) and
    ``_name``.

    Samples are ``(image, label)``: ``image`` a float32 Tensor ``(1, H, W)`` (or ``(H*W,)``
    with ``flatten=True``) scaled to ``[0, 1]`` (then standardised when ``normalize``),
    ``label`` a Python int; ``transform``/``target_transform`` are applied to them.
    """

    _name = "images"
    _max_value = 255.0
    _mean = 0.0
    _std = 1.0

    def _setup(self, transform: Callable | None, target_transform: Callable | None, flatten: bool,
               normalize: bool | tuple[float, float]) -> None:
        if transform is not None and not callable(transform):
            raise TypeError(f"{self._name}: transform must be callable, got {type(transform).__name__}")
        if target_transform is not None and not callable(target_transform):
            raise TypeError(f"{self._name}: target_transform must be callable, got "
                            f"{type(target_transform).__name__}")
        self.transform = transform
        self.target_transform = target_transform
        self.flatten = bool(flatten)
        if normalize is True:
            self._norm: tuple[float, float] | None = (self._mean, self._std)
        elif normalize is False or normalize is None:
            self._norm = None
        else:
            m, s = normalize
            if float(s) <= 0:
                raise ValueError(f"{self._name}: normalize std must be > 0, got {s}")
            self._norm = (float(m), float(s))
        self.normalize = normalize

    # ------------------------------------------------------------------ conversion
    def _to_float(self, raw: np.ndarray, flatten: bool) -> np.ndarray:
        """uint8 ``(n, H, W)`` -> float32 in [0, 1] (``x / max``, rounded once), standardised,
        shaped ``(n, 1, H, W)`` or ``(n, H*W)``."""
        x = np.divide(raw, np.float32(self._max_value), dtype=np.float32)
        if self._norm is not None:
            m, s = self._norm
            x -= np.float32(m)
            x /= np.float32(s)
        n = raw.shape[0]
        return x.reshape(n, -1) if flatten else x.reshape(n, 1, *raw.shape[1:])

    def __len__(self) -> int:
        return self.targets.shape[0]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = _check_index(self._name, index, len(self))
        img: Any = Tensor._make(self._to_float(self.data.array[i:i + 1], self.flatten)[0], False)
        label: Any = int(self.targets.array[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return img, label

    def can_gather(self) -> bool:
        return self.transform is None and self.target_transform is None and _gather_is_current(self)

    def gather(self, indices: Any) -> tuple[Tensor, Tensor]:
        """The batch ``indices`` as ``(images float32 (n, 1, H, W) or (n, H*W), labels int64 (n,))``
        in one fancy-indexing step (only without transforms)."""
        if not self.can_gather():
            raise TypeError(f"{self._name}.gather: not available with transform/target_transform "
                            "(the DataLoader then goes sample by sample)")
        idx = _as_index_array(f"{self._name}.gather", indices, len(self))
        x = self._to_float(self.data.array.take(idx, axis=0), self.flatten)
        return Tensor._make(x, False), Tensor._make(self.targets.array.take(idx), False)

    def arrays(self, flatten: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """All samples at once, for fast training loops.

        Parameters
        ----------
        flatten : bool
            ``True`` (default): ``X`` is ``(N, H*W)``; ``False``: ``(N, 1, H, W)``.

        Returns
        -------
        X : numpy.ndarray, float32, in [0, 1] (standardised if ``normalize``)
        y : numpy.ndarray, int64, (N,)
        """
        return self._to_float(self.data.array, flatten), self.targets.array.copy()

    def as_tensor_dataset(self, flatten: bool = True) -> TensorDataset:
        """``TensorDataset(X, y)`` of :meth:`arrays` (float32 X, int64 y): the fastest thing to
        hand a DataLoader."""
        X, y = self.arrays(flatten)
        return TensorDataset(Tensor._make(X, False), Tensor._make(y, False))
