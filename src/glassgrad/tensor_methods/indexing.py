"""The indexing methods of :class:`~glassgrad.tensor.Tensor` (a mixin): ``__getitem__``,
``__setitem__``, ``__iter__``, ``gather``, ``narrow``, ``index_select``, ``scatter_add``,
``index_add``, ``take_along_dim`` and ``masked_fill``."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Iterator

from ..autograd import recording
from ..autograd.grad_mode import STATE
from ..backend import is_array, np
from ..ops import indexing as I
from ..ops._util import check_index, norm_dim, op_error
from ..ops.indexing import IndexPut
from ._common import _T, where

if TYPE_CHECKING:
    from ..tensor import Tensor


class IndexingMethods:
    """The indexing methods of ``Tensor`` (a mixin; see the module docstring)."""

    __slots__ = ()

    def __setitem__(self, idx: Any, value: Any) -> None:
        key = I.normalize_index(idx, _T())
        key = key[0] if len(key) == 1 else key
        v = value.array if isinstance(value, _T()) else value
        if STATE.grad_enabled and (self.requires_grad or (isinstance(value, _T())
                                                          and value.requires_grad)):
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(
                    "setitem: a leaf tensor that requires grad is being used in an in-place "
                    "operation; wrap the assignment in gg.no_grad()"
                )
            val = value if isinstance(value, _T()) else _T()(v, dtype=self.dtype)
            new = IndexPut.apply(self, key, val.to(self.dtype))
            recording.inplace(self, "setitem", True)
            self.array, self.grad_fn, self._out_idx = new.array, new.grad_fn, new._out_idx
            self._version = new._version
            self.requires_grad = new.requires_grad
            return
        recording.inplace(self, "setitem", False)
        try:
            self.array[key] = v
        except (IndexError, ValueError) as e:
            raise op_error("setitem", f"cannot assign into shape {tuple(self.shape)} at "
                           f"{I._idx_str(key if isinstance(key, tuple) else (key,))}: {e}",
                           IndexError) from None
        self._version[0] += 1

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """Elements where ``mask`` is true replaced by ``value``."""
        m = mask.array if isinstance(mask, _T()) else np.asarray(mask)
        if m.dtype.kind != "b":
            raise op_error("masked_fill", f"mask must be a bool tensor, got {m.dtype}", TypeError)
        try:
            v = np.asarray(value.array if isinstance(value, _T()) else value, dtype=self.dtype)
        except (OverflowError, ValueError, TypeError) as e:
            raise op_error("masked_fill", f"value {value!r} cannot be converted to {self.dtype} "
                           f"without overflow ({e})", RuntimeError) from None
        return where(m, _T()._make(v, False) if not isinstance(value, _T()) else value, self)

    def gather(self, dim: int, index: Any) -> Tensor:
        """``out[i][j] = self[index[i][j]][j]`` for ``dim=0`` (as ``torch.gather``)."""
        idx = index.array if isinstance(index, _T()) else np.asarray(index)
        if idx.dtype.kind not in "iu":
            raise op_error("gather", f"index must be an integer tensor, got {idx.dtype}",
                           TypeError)
        if idx.ndim <= 1 and self.ndim <= 1 and idx.ndim != self.ndim:
            # PyTorch treats 0-d and 1-element 1-d alike here: gather as 1-d, keep index's shape
            return self.reshape(-1).gather(dim, index.reshape(-1) if isinstance(index, _T())
                                           else idx.reshape(-1)).reshape(idx.shape)
        if idx.ndim != self.ndim and idx.size:
            raise op_error("gather", f"index has {idx.ndim} dims but input has {self.ndim} "
                           f"(shapes {tuple(idx.shape)} and {tuple(self.shape)})")
        d = norm_dim(dim, self.ndim, "gather")
        check_index(idx, self.shape[d] if self.ndim else 1, "gather", d)
        if idx.ndim != self.ndim or not idx.size:  # an empty index: an empty result (as torch)
            return self.reshape(-1)[:0].reshape(idx.shape)
        if self.ndim == 0:  # (index 0 checked above)
            return self.reshape(1)[_T()._make(idx.reshape(1), False)].reshape(())
        x = self
        if idx.shape != self.shape and builtins.any(
                i != d and idx.shape[i] != self.shape[i] for i in range(self.ndim)):
            # PyTorch allows an index smaller than the input in the other dims: use the
            # leading part of the input there
            if builtins.any(i != d and idx.shape[i] > self.shape[i] for i in range(self.ndim)):
                raise op_error("gather", f"index of shape {tuple(idx.shape)} is larger than the "
                               f"input {tuple(self.shape)} outside dim {d}", IndexError)
            x = self[tuple(slice(None) if i == d else slice(0, idx.shape[i])
                           for i in range(self.ndim))]
        # the index tensor itself (not its array), so that gg.capture reads it on every call
        return I.TakeAlong.apply(x, index if isinstance(index, _T()) else idx, d)

    # ---- selections written with the ops above (their gradients come from those ops) ----
    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """``length`` elements of ``dim`` from ``start`` (a view-like slice)."""
        d = norm_dim(dim, self.ndim, "narrow")
        n = self.shape[d]
        start = start + n if start < 0 else start
        if not (0 <= start <= n and 0 <= length <= n - start):
            raise op_error("narrow", f"start {start} and length {length} do not fit dim {d} "
                           f"of size {n} (shape {tuple(self.shape)})", IndexError)
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The entries ``index`` (1-D integers) of ``dim``; repeated indices add up their
        gradients (``x[..., index, ...]``)."""
        d = norm_dim(dim, builtins.max(self.ndim, 1), "index_select")
        idx = index.array if isinstance(index, _T()) else np.asarray(index)
        if idx.dtype.kind not in "iu" or idx.ndim > 1:
            raise op_error("index_select", f"index must be a 1-D integer tensor, got "
                           f"{idx.dtype} of shape {tuple(idx.shape)}", TypeError)
        check_index(idx, self.shape[d] if self.ndim else 1, "index_select", d)
        if self.ndim == 0 and idx.size != 1:
            raise op_error("index_select", f"the index into a 0-d tensor must hold one value, "
                           f"got {idx.size}", IndexError)
        # the index as a tensor: gg.capture then reads it anew on every replay
        it = (index if isinstance(index, _T()) else _T()._make(idx, False)).reshape(-1)
        if self.ndim == 0:  # a 0-d result, as PyTorch
            return self.reshape(1)[it].reshape(())
        return self[(slice(None),) * d + (it,)]

    def scatter_add(self, dim: int, index: Any, src: Tensor) -> Tensor:
        """``out = self`` plus ``src`` added at ``index`` along ``dim`` (out of place;
        repeated indices add up). Gradients: ``self`` gets ``g``, ``src`` gets
        ``gather(g, dim, index)``."""
        d = norm_dim(dim, self.ndim, "scatter_add")
        idx = index.array if isinstance(index, _T()) else np.asarray(index)
        if idx.dtype.kind not in "iu" or idx.shape != tuple(src.shape):
            raise op_error("scatter_add", f"index must be an integer tensor of src's shape "
                           f"{tuple(src.shape)}, got {idx.dtype} {tuple(idx.shape)}", TypeError)
        check_index(idx, self.shape[d] if self.ndim else 1, "scatter_add", d)
        it = index if isinstance(index, _T()) else _T()._make(idx, False)
        return self + I.ScatterAlong.apply(self._other_t(src), it, d, tuple(self.shape))

    def index_add(self, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
        """``out = self`` with ``alpha·source`` slices added at ``index`` along ``dim``."""
        d = norm_dim(dim, self.ndim, "index_add")
        it = index if isinstance(index, _T()) else _T()(np.asarray(index))
        if it.dtype.kind not in "iu" or it.ndim != 1:
            raise op_error("index_add", f"index must be a 1-D integer tensor, got {it.dtype} "
                           f"of shape {tuple(it.shape)}", TypeError)
        check_index(it.array, self.shape[d] if self.ndim else 1, "index_add", d)
        src = self._other_t(source) * alpha if alpha != 1 else self._other_t(source)
        shape = [1] * src.ndim
        shape[d] = -1
        return self.scatter_add(d, it.reshape(tuple(shape)).expand(tuple(src.shape)), src)

    def take_along_dim(self, indices: Any, dim: int) -> Tensor:
        return self.gather(dim, indices)

    def __getitem__(self, idx: Any) -> Tensor:
        key = I.normalize_index(idx, _T())
        if recording.active() is not None and builtins.any(
                isinstance(i, _T()) for i in (idx if isinstance(idx, tuple) else (idx,))):
            # a recorder is on: the index tensors go in as inputs of the op, so that
            # a replay indexes with the new ones (the key keeps a marker in their place)
            ts = idx if isinstance(idx, tuple) else (idx,)
            marked = tuple(I.INDEX_ARG if isinstance(i, _T()) else k for i, k in zip(ts, key))
            out = I.GetItem.apply(self, marked[0] if len(marked) == 1 else marked,
                                  *[i for i in ts if isinstance(i, _T())])
        else:
            out = I.GetItem.apply(self, key[0] if len(key) == 1 else key)
        if not builtins.any(is_array(k) for k in key):
            out._version = self._version  # basic indexing gives a view of self's memory
            out._strided = True
        return out

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.shape[0]):
            yield self[i]
