"""Variable-length sequences: padding, lengths ↔ masks, packed sequences, last valid step.

In glassgrad a batch of sequences of different lengths is a padded tensor plus its
``lengths``. Recurrent layers take ``lengths=`` directly (``lstm(x, lengths=lengths)``):
the state stops changing after each sequence's last step and padded outputs are zero,
which gives the same outputs and final states as PyTorch's packed sequences.

For code ported from PyTorch, :func:`pack_padded_sequence` / :func:`pack_sequence` /
:func:`pad_packed_sequence` and :class:`PackedSequence` work as there (an RNN given a
PackedSequence returns one). Internally a PackedSequence keeps the padded tensor and the
lengths; its ``data`` and ``batch_sizes`` are PyTorch's packed layout, built on demand.
"""

from __future__ import annotations

from typing import Any, Sequence

from ...backend import np
from ...ops._util import op_error
from ...tensor import Tensor, stack

__all__ = ["pad_sequence", "lengths_to_mask", "mask_to_lengths", "last_valid_step",
           "masked_mean", "PackedSequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpack_sequence"]


def _lengths_array(lengths: Any) -> np.ndarray:
    if isinstance(lengths, Tensor):
        lengths = lengths.array
    arr = np.asarray(lengths)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise op_error("lengths", f"lengths must be a 1-D sequence of integers, got shape "
                       f"{arr.shape} dtype {arr.dtype}", TypeError)
    if arr.size and arr.min() < 0:
        raise op_error("lengths", f"lengths must be >= 0, got {arr.tolist()}")
    return arr.astype(np.int64)


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into ``(max L, B, *)`` (or ``(B, max L, *)``).

    Differentiable: the gradient of each sequence is its slice of the padded gradient.

    Parameters
    ----------
    sequences : sequence of Tensor
        Each ``(L_i, *)`` with the same trailing shape and dtype.
    batch_first : bool
        Output ``(B, T, *)`` instead of ``(T, B, *)``.
    padding_value : float
        Value of the padded positions.
    padding_side : {'right', 'left'}
        Where the padding goes (PyTorch's argument).
    """
    seqs = list(sequences)
    if not seqs:
        raise op_error("pad_sequence", "expected a non-empty list of tensors")
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor):
            raise op_error("pad_sequence", f"element {i} is a {type(s).__name__}, expected a "
                           "Tensor", TypeError)
        if s.ndim == 0 or s.shape[1:] != seqs[0].shape[1:] or s.dtype != seqs[0].dtype:
            raise op_error("pad_sequence", f"sequence {i} has shape {tuple(s.shape)} {s.dtype}; "
                           f"all must be (L_i, {', '.join(map(str, seqs[0].shape[1:]))}) "
                           f"{seqs[0].dtype}")
    if padding_side not in ("right", "left"):
        raise op_error("pad_sequence", f"padding_side must be 'right' or 'left', got {padding_side!r}")
    T = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        extra = T - s.shape[0]
        pw = ((0, extra) if padding_side == "right" else (extra, 0),) + ((0, 0),) * (s.ndim - 1)
        padded.append(s.pad_nd(pw, padding_value))
    return stack(padded, 0 if batch_first else 1)


def lengths_to_mask(lengths: Any, max_len: int | None = None, batch_first: bool = True) -> Tensor:
    """Boolean mask of valid steps: ``mask[b, t] = t < lengths[b]``.

    Parameters
    ----------
    lengths : sequence of int or Tensor
        ``(B,)``.
    max_len : int, optional
        Number of time steps ``T`` (default ``max(lengths)``).
    batch_first : bool
        Shape ``(B, T)`` (default) or ``(T, B)``.

    Notes
    -----
    ``nn.MultiheadAttention``'s ``key_padding_mask`` wants ``True`` at *padded* steps:
    pass ``~lengths_to_mask(lengths)``.
    """
    arr = _lengths_array(lengths)
    T = int(arr.max()) if max_len is None and arr.size else int(max_len or 0)
    if arr.size and arr.max() > T:
        raise op_error("lengths_to_mask", f"max_len={T} is smaller than the longest length "
                       f"{int(arr.max())}")
    mask = np.arange(T)[None, :] < arr[:, None]
    return Tensor._make(mask if batch_first else np.ascontiguousarray(mask.T), False)


def mask_to_lengths(mask: Any, batch_first: bool = True) -> Tensor:
    """Inverse of :func:`lengths_to_mask` for right-padded masks: number of True per row."""
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != bool or m.ndim != 2:
        raise op_error("mask_to_lengths", f"expected a 2-D bool mask, got shape {m.shape} {m.dtype}",
                       TypeError)
    return Tensor._make(m.sum(axis=1 if batch_first else 0).astype(np.int64), False)


def last_valid_step(output: Tensor, lengths: Any, batch_first: bool = False) -> Tensor:
    """The output at each sequence's last valid step: ``(B, *)`` from ``(T, B, *)``.

    For a unidirectional RNN run with ``lengths=`` this equals ``h_n[-1]``. Sequences of
    length 0 give zeros.
    """
    arr = _lengths_array(lengths)
    B = output.shape[0 if batch_first else 1]
    if arr.shape[0] != B:
        raise op_error("last_valid_step", f"{arr.shape[0]} lengths for a batch of {B} "
                       f"(output shape {tuple(output.shape)})")
    t = np.maximum(arr - 1, 0)
    b = np.arange(B)
    out = output[b, t] if batch_first else output[t, b]
    if (arr == 0).any():
        out = out * Tensor._make((arr > 0).astype(output.dtype).reshape((B,) + (1,) * (out.ndim - 1)),
                                 False)
    return out


def masked_mean(x: Tensor, mask: Any, dim: int = 0) -> Tensor:
    """Mean over ``dim`` counting only positions where ``mask`` is True.

    ``mask`` has ``x``'s leading shape (e.g. ``(T, B)`` for ``x (T, B, F)``); rows with no
    valid position give 0.
    """
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.shape != tuple(x.shape[:m.ndim]):
        raise op_error("masked_mean", f"mask of shape {m.shape} does not match the leading dims "
                       f"of x {tuple(x.shape)}")
    mf = m.astype(x.dtype).reshape(m.shape + (1,) * (x.ndim - m.ndim))
    cnt = np.maximum(mf.sum(axis=dim), 1)
    return (x * Tensor._make(mf, False)).sum(dim) / Tensor._make(cnt, False)


# ----------------------------------------------------------------------------- packed sequences
class PackedSequence:
    """A batch of variable-length sequences (what ``pack_padded_sequence`` returns).

    Attributes
    ----------
    padded : Tensor
        ``(T, B, *)`` time-major, ``T = max(lengths)``, batch in the caller's order.
    lengths : ndarray of int64
        ``(B,)`` in the caller's order.
    sorted_indices, unsorted_indices : Tensor or None
        Batch order by decreasing length and its inverse (None with ``enforce_sorted``).
    """

    def __init__(self, padded: Tensor, lengths: Any, sorted_indices: Tensor | None = None,
                 unsorted_indices: Tensor | None = None) -> None:
        self.padded = padded
        self.lengths = _lengths_array(lengths)
        self.sorted_indices = sorted_indices
        self.unsorted_indices = unsorted_indices

    def _order(self) -> np.ndarray:
        return np.argsort(-self.lengths, kind="stable")

    @property
    def batch_sizes(self) -> Tensor:
        """``batch_sizes[t]`` = number of sequences longer than ``t`` (int64, ``(T,)``)."""
        T = self.padded.shape[0]
        return Tensor._make((self.lengths[None, :] > np.arange(T)[:, None]).sum(1).astype(np.int64),
                            False)

    @property
    def data(self) -> Tensor:
        """PyTorch's packed layout ``(Σ lengths, *)``: step 0 of every sequence (longest
        first), then step 1 of those still running, ... Differentiable."""
        order = self._order()
        T = self.padded.shape[0]
        t_idx, b_idx = [], []
        for t in range(T):
            alive = order[self.lengths[order] > t]
            t_idx.append(np.full(alive.shape, t))
            b_idx.append(alive)
        return self.padded[np.concatenate(t_idx).astype(np.int64), np.concatenate(b_idx).astype(np.int64)]

    def __iter__(self):  # (data, batch_sizes, sorted_indices, unsorted_indices) like PyTorch
        return iter((self.data, self.batch_sizes, self.sorted_indices, self.unsorted_indices))

    @property
    def is_cuda(self) -> bool:
        return self.padded.is_cuda

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        return PackedSequence(self.padded.to(*args, **kwargs), self.lengths, self.sorted_indices,
                              self.unsorted_indices)

    def __repr__(self) -> str:
        return (f"PackedSequence(padded shape {tuple(self.padded.shape)}, lengths "
                f"{self.lengths.tolist()})")


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Mark a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) with its lengths.

    Parameters
    ----------
    enforce_sorted : bool
        Require lengths in decreasing order (as PyTorch); otherwise any order is fine.
    """
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise op_error("pack_padded_sequence", f"input must be a Tensor of at least 2 dims, got "
                       f"{getattr(input, 'shape', type(input).__name__)}", TypeError)
    arr = _lengths_array(lengths)
    x = input.transpose(0, 1) if batch_first else input
    T, B = x.shape[0], x.shape[1]
    if arr.shape[0] != B:
        raise op_error("pack_padded_sequence", f"expected {B} lengths (batch size of input "
                       f"{tuple(input.shape)}), got {arr.shape[0]}")
    if arr.size and (arr.min() <= 0 or arr.max() > T):
        raise op_error("pack_padded_sequence", f"lengths must be in [1, {T}], got {arr.tolist()}")
    if enforce_sorted and (np.diff(arr) > 0).any():
        raise op_error("pack_padded_sequence", f"lengths {arr.tolist()} are not sorted in decreasing "
                       "order; sort the batch or pass enforce_sorted=False")
    si = ui = None
    if not enforce_sorted:
        order = np.argsort(-arr, kind="stable").astype(np.int64)
        si = Tensor._make(order, False)
        ui = Tensor._make(np.argsort(order).astype(np.int64), False)
    Tm = int(arr.max()) if arr.size else 0
    return PackedSequence(x[:Tm] if Tm < T else x, arr, si, ui)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` tensors (``pad_sequence`` then ``pack_padded_sequence``)."""
    lens = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lens, enforce_sorted=enforce_sorted)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None) -> tuple:
    """Inverse of :func:`pack_padded_sequence`: ``(padded, lengths)``, padded positions set to
    ``padding_value`` and ``T = total_length or max(lengths)``."""
    if not isinstance(sequence, PackedSequence):
        raise op_error("pad_packed_sequence", f"expected a PackedSequence, got "
                       f"{type(sequence).__name__}", TypeError)
    x = sequence.padded
    T = x.shape[0]
    if total_length is not None:
        if total_length < T:
            raise op_error("pad_packed_sequence", f"total_length={total_length} is smaller than the "
                           f"longest sequence ({T})")
        if total_length > T:
            x = x.pad_nd(((0, total_length - T),) + ((0, 0),) * (x.ndim - 1))
    mask = lengths_to_mask(sequence.lengths, x.shape[0], batch_first=False).array
    m = mask.reshape(mask.shape + (1,) * (x.ndim - 2))
    x = x * Tensor._make(m.astype(x.dtype), False)
    if padding_value != 0:
        x = x + Tensor._make(np.where(m, 0, padding_value).astype(x.dtype), False)
    if batch_first:
        x = x.transpose(0, 1)
    return x, Tensor._make(sequence.lengths.copy(), False)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of ``(L_i, *)`` tensors in a PackedSequence."""
    x = packed_sequences.padded
    return [x[:n, b] for b, n in enumerate(packed_sequences.lengths)]
