"""Variable-length sequences: padding, lengths ↔ masks, and picking the last valid step.

glassgrad has no ``PackedSequence``: a batch of sequences of different lengths is a
padded tensor plus its ``lengths``. Recurrent layers take ``lengths=`` directly
(``lstm(x, lengths=lengths)``) and then give the same outputs and final states as
PyTorch's ``pack_padded_sequence`` → LSTM → ``pad_packed_sequence`` (zeros at padded
steps; ``h_n`` taken at each sequence's last valid step).
"""

from __future__ import annotations

from typing import Any, Sequence

from ...backend import np
from ...ops._util import op_error
from ...tensor import Tensor, stack

__all__ = ["pad_sequence", "lengths_to_mask", "mask_to_lengths", "last_valid_step",
           "masked_mean"]


def _lengths_array(lengths: Any) -> np.ndarray:
    if isinstance(lengths, Tensor):
        lengths = lengths.data
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
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
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
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.shape != tuple(x.shape[:m.ndim]):
        raise op_error("masked_mean", f"mask of shape {m.shape} does not match the leading dims "
                       f"of x {tuple(x.shape)}")
    mf = m.astype(x.dtype).reshape(m.shape + (1,) * (x.ndim - m.ndim))
    cnt = np.maximum(mf.sum(axis=dim), 1)
    return (x * Tensor._make(mf, False)).sum(dim) / Tensor._make(cnt, False)
