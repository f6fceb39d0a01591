"""Multi-head attention with PyTorch's API (``nn.MultiheadAttention``; the transformer
layers built on it are in :mod:`glassgrad.nn.modules.transformer`).

Multi-head attention (``E`` = embed_dim, ``h`` heads of ``d = E/h`` features)::

    Q = query·W_qᵀ + b_q     K = key·W_kᵀ + b_k     V = value·W_vᵀ + b_v
    split each into h heads of d features          (N, h, L, d), (N, h, S, d)
    O_head = softmax(Q·Kᵀ/√d + mask)·V             (the fused op F.scaled_dot_product_attention)
    output = concat(heads)·W_oᵀ + b_o              (out_proj, a Linear)

``W_q, W_k, W_v`` are the three row blocks of ``in_proj_weight (3E, E)`` (PyTorch's
layout, so a state_dict maps one to one). Masks follow PyTorch's convention *for this
module*: a boolean ``attn_mask`` / ``key_padding_mask`` is ``True`` where attention is
**not** allowed (the opposite of ``scaled_dot_product_attention``'s boolean mask); float
masks are added to the scores.
"""

from __future__ import annotations

import math
from typing import Any

from ...backend import np, xp_of
from ...random import _rng
from ...tensor import Tensor
from ..module import Module
from ..parameter import Parameter

__all__ = ["MultiheadAttention"]

_MOVED = ("TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
          "TransformerDecoder", "Transformer")


def __getattr__(name: str) -> Any:
    """The transformer classes, importable from here as before (they live in
    :mod:`.transformer`, imported on first use: it imports this module)."""
    if name in _MOVED:
        from . import transformer

        return getattr(transformer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _xavier_uniform(shape: tuple, dtype: Any) -> Any:
    fan_out, fan_in = shape
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return _rng(None).uniform(-bound, bound, size=shape).astype(dtype)


def _float_mask(mask: Any, dtype: Any, what: str) -> Tensor | None:
    """Bool (True = blocked) → additive float (−∞ blocked); float masks are used as given."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        mask = Tensor._make(np.asarray(mask), False)
    if mask.dtype == bool:
        xp = xp_of(mask.array)
        return Tensor._make(xp.where(mask.array, xp.asarray(-xp.inf, dtype), xp.asarray(0, dtype)),
                            False)
    if mask.dtype.kind == "f":
        return mask if mask.dtype == dtype else mask.to(dtype)
    raise TypeError(f"MultiheadAttention: {what} must be a bool or float tensor, got {mask.dtype}")


class MultiheadAttention(Module):
    """Multi-head attention (PyTorch's signature and parameter names).

    Parameters
    ----------
    embed_dim : int
    num_heads : int
        Must divide ``embed_dim``.
    dropout : float
        Dropout on the attention weights (training mode only).
    bias : bool
        ``in_proj_bias`` and ``out_proj.bias``.
    add_bias_kv, add_zero_attn : bool
        Not implemented (must be False).
    kdim, vdim : int, optional
        Feature sizes of key and value (default ``embed_dim``); when they differ from
        ``embed_dim`` the projections are ``q_proj_weight``, ``k_proj_weight``,
        ``v_proj_weight`` instead of ``in_proj_weight``.
    batch_first : bool
        Inputs and output ``(N, L, E)`` instead of ``(L, N, E)``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        from ... import dtypes as _dt
        from .linear import NonDynamicallyQuantizableLinear

        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be > 0, got "
                             f"{embed_dim} and {num_heads}")
        if embed_dim % num_heads != 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv / add_zero_attn are not "
                                      "implemented in glassgrad")
        d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(_xavier_uniform((3 * E, E), d))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(_xavier_uniform((E, E), d))
            self.k_proj_weight = Parameter(_xavier_uniform((E, self.kdim), d))
            self.v_proj_weight = Parameter(_xavier_uniform((E, self.vdim), d))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * E, dtype=d))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, dtype=d)
        if bias:
            self.out_proj.bias.array[...] = 0
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False

    def _proj(self, query: Tensor, key: Tensor, value: Tensor) -> tuple:
        from .. import functional as F

        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:          # self-attention: one GEMM
                return F.linear(query, w, b).chunk(3, -1)
            if key is value:
                kv = F.linear(key, w[E:], None if b is None else b[E:]).chunk(2, -1)
                return (F.linear(query, w[:E], bq),) + tuple(kv)
            wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
        """Attend from ``query`` to ``key``/``value``.

        Parameters
        ----------
        query : Tensor
            ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``) or unbatched ``(L, E)``.
        key, value : Tensor
            ``(S, N, kdim)``, ``(S, N, vdim)`` (same layout as ``query``).
        key_padding_mask : Tensor, optional
            ``(N, S)``: bool ``True`` = padded key to ignore, or float added to the scores.
        need_weights : bool
            Also return the attention weights (computed unfused, as PyTorch does).
        attn_mask : Tensor, optional
            ``(L, S)`` or ``(N·num_heads, L, S)``: bool ``True`` = not allowed, or float.
        average_attn_weights : bool
            Average the returned weights over heads.
        is_causal : bool
            Causal mask (built here when ``attn_mask`` is None).

        Returns
        -------
        attn_output : Tensor
            Like ``query`` with ``E`` features.
        attn_weights : Tensor or None
            ``(N, L, S)`` averaged, or ``(N, num_heads, L, S)``.
        """
        from .. import functional as F

        name = "MultiheadAttention"
        for nm, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {nm} must be a Tensor, got {type(t).__name__}")
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: query, key and value must all be 3-D (batched) or 2-D "
                             f"(unbatched), got {tuple(query.shape)}, {tuple(key.shape)}, "
                             f"{tuple(value.shape)}")
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or \
                value.shape[-1] != self.vdim:
            raise ValueError(f"{name}: expected feature sizes query {self.embed_dim}, key "
                             f"{self.kdim}, value {self.vdim}; got {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        wd = self.out_proj.weight.dtype
        if query.dtype != wd:
            raise TypeError(f"{name}: query dtype {query.dtype} does not match the parameters' {wd}")
        if not batched:
            lay = lambda t: t.unsqueeze(1)
            if key_padding_mask is not None and key_padding_mask.ndim == 1:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            lay = lambda t: t.transpose(0, 1)
        else:
            lay = lambda t: t
        # keep the identities query is key is value (self-attention projects in one GEMM)
        q_in = lay(query)
        k_in = q_in if key is query else lay(key)
        v_in = k_in if value is key else (q_in if value is query else lay(value))
        query, key, value = q_in, k_in, v_in
        L, N, E = query.shape
        S = key.shape[0]
        if key.shape[1] != N or value.shape[1] != N or value.shape[0] != S:
            raise ValueError(f"{name}: key {tuple(key.shape)} and value {tuple(value.shape)} do "
                             f"not match query {tuple(query.shape)} (seq-first layout)")
        h, hd = self.num_heads, self.head_dim
        # ---- masks -> one additive mask broadcastable to (N, h, L, S) -------------------
        mask = _float_mask(attn_mask, wd, "attn_mask")
        if mask is not None:
            if mask.ndim == 2:
                if tuple(mask.shape) != (L, S):
                    raise ValueError(f"{name}: 2-D attn_mask must be ({L}, {S}), got "
                                     f"{tuple(mask.shape)}")
            elif mask.ndim == 3 and tuple(mask.shape) == (N * h, L, S):
                mask = mask.reshape(N, h, L, S)
            else:
                raise ValueError(f"{name}: attn_mask must be ({L}, {S}) or ({N * h}, {L}, {S}), got "
                                 f"{tuple(mask.shape)}")
        elif is_causal:
            xp = xp_of(query.array)
            mask = Tensor._make(xp.triu(xp.full((L, S), -xp.inf, dtype=wd), 1), False)
        kpm = _float_mask(key_padding_mask, wd, "key_padding_mask")
        if kpm is not None:
            if tuple(kpm.shape) != (N, S):
                raise ValueError(f"{name}: key_padding_mask must be ({N}, {S}), got "
                                 f"{tuple(kpm.shape)}")
            kpm = kpm.reshape(N, 1, 1, S)
            mask = kpm if mask is None else mask + kpm
        # ---- projections and heads -----------------------------------------------------
        q, k, v = self._proj(query, key, value)
        # (L, N, E) -> (N, h, L, hd)
        q = q.reshape(L, N, h, hd).permute(1, 2, 0, 3)
        k = k.reshape(S, N, h, hd).permute(1, 2, 0, 3)
        v = v.reshape(S, N, h, hd).permute(1, 2, 0, 3)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q * (1.0 / math.sqrt(hd))) @ k.swapaxes(-1, -2)
            if mask is not None:
                scores = scores + mask
            w = scores.softmax(-1)
            weights = w
            if p > 0:
                w = F.dropout(w, p, True)
            o = w @ v
        else:
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        o = o.permute(2, 0, 1, 3).reshape(L, N, E)          # (L, N, E)
        out = self.out_proj(o)
        if weights is not None and average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out = out.squeeze(1)
            if weights is not None:
                weights = weights.squeeze(0)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}" + (
            f", dropout={self.dropout}" if self.dropout else "") + (
            ", batch_first=True" if self.batch_first else "")
