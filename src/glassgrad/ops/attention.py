"""Scaled dot-product attention as one fused op with a hand-derived backward.

Forward, for queries ``Q (..., L, E)``, keys ``K (..., S, E)``, values ``V (..., S, Ev)``
and an additive mask ``M`` (0 where attention is allowed, −∞ where not)::

    S = Q·Kᵀ·scale + M          (..., L, S)    scale = 1/√E by default
    P = softmax(S, axis=−1)     (..., L, S)    each row sums to 1
    P̃ = P ⊙ D / (1 − p)                        dropout mask D (only if dropout_p > 0)
    O = P̃·V                     (..., L, Ev)

Backward, given ``dO = ∂L/∂O``::

    dV = P̃ᵀ·dO                              (..., S, Ev)
    dP = (dO·Vᵀ) ⊙ D / (1 − p)              (..., L, S)
    dS = P ⊙ (dP − Σ_j dP ⊙ P)              softmax VJP, row by row
    dQ = dS·K·scale     dK = dSᵀ·Q·scale    dM = dS (a float mask that requires grad)

The softmax VJP comes from its Jacobian ``∂P_j/∂S_k = P_j(δ_jk − P_k)``; summing
``dP_j`` against it gives ``P_k(dP_k − Σ_j dP_j P_j)``. The whole backward is four GEMMs
and two elementwise passes; no ``(L, S, S)`` Jacobian is ever formed.

Derivations: ``docs/derivations/attention.md``.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Function
from ..backend import is_array, np, xp_of
from ._util import is_tensor, op_error, unbroadcast

__all__ = ["scaled_dot_product_attention"]


def _softmax_last(s: Any) -> Any:
    """Row softmax on a fresh array, in place. A row that is entirely masked (all −∞)
    gives zeros, as PyTorch's ``scaled_dot_product_attention`` does on the CPU."""
    xp = xp_of(s)
    m = s.max(axis=-1, keepdims=True)
    dead = xp.isneginf(m)
    if dead.any():
        m[dead] = 0
    s -= m
    xp.exp(s, out=s)
    tot = s.sum(axis=-1, keepdims=True)
    if dead.any():
        tot[dead] = 1
    s /= tot
    return s


class ScaledDotProductAttention(Function):
    """``O = dropout(softmax(Q·Kᵀ·scale + M))·V``; called as
    ``apply(q, k, v, mask, scale, dropout_p, generator)`` where ``mask`` is an additive
    float mask, a boolean one (``True`` = may attend, turned into 0/−inf here) or None.
    The dropout multiplier ``D/(1−p)`` is drawn here, in the op, from ``generator`` (a
    ``gg.Generator`` or None for the default one), so that a captured call draws anew."""
    formulas = {
        "inputs": "Q, K, V, M, scale, dropout_p, generator",
        "grads": (
            "dQ = dS @ K·scale  (dS = P ⊙ (dP − sum_row(dP ⊙ P)), dP = dO @ Vᵀ)",
            "dK = dSᵀ @ Q·scale",
            "dV = Pᵀ @ dO",
            "dM = dS",
            None, None, None,
        ),
        "output": "O",
    }
    derivation = "docs/derivations/attention.md#backward"
    fresh_grads = True

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, dropout_p=0.0, generator=None):
        xp = xp_of(q)
        s = q @ k.swapaxes(-1, -2)
        s *= scale
        if mask is not None and mask.dtype == bool:
            mask = xp.where(mask, xp.asarray(0, s.dtype), xp.asarray(-xp.inf, s.dtype))
        keep = None
        if dropout_p > 0.0:
            from ..random import _rng

            u = _rng(generator).random(s.shape)
            keep = xp.asarray(((u >= dropout_p) / (1.0 - dropout_p)).astype(s.dtype))
        if mask is not None:
            if np.broadcast_shapes(s.shape, mask.shape) == s.shape:
                s += mask
            else:
                s = s + mask
        p = _softmax_last(s)
        pd = p if keep is None else p * keep
        ctx.save_for_backward(q, k, v, mask)
        ctx.p, ctx.pd, ctx.scale, ctx.keep = p, pd, scale, keep
        return pd @ v

    @staticmethod
    def backward(ctx, do):
        """VJP (module docstring); shapes: dQ like Q, dK like K, dV like V, dM like M."""
        q, k, v, mask = ctx.saved_tensors
        scale, keep = ctx.scale, ctx.keep
        need = ctx.needs_input_grad
        if ctx.create_graph:  # recompute P with glassgrad ops so the result is differentiable
            s = q @ k.swapaxes(-1, -2) * scale
            if mask is not None:
                s = s + mask
            p = s.softmax(-1)
            pd = p if keep is None else p * keep
        else:
            p, pd = ctx.p, ctx.pd
        dq = dk = dv = dm = None
        if need[2]:
            dv = unbroadcast(pd.swapaxes(-1, -2) @ do, ctx.input_shape(2))
        if need[0] or need[1] or need[3]:
            dp = do @ v.swapaxes(-1, -2)
            if keep is not None:
                dp = dp * keep
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
            if need[0]:
                dq = unbroadcast(ds @ k * scale, ctx.input_shape(0))
            if need[1]:
                dk = unbroadcast(ds.swapaxes(-1, -2) @ q * scale, ctx.input_shape(1))
            if need[3]:
                dm = unbroadcast(ds, ctx.input_shape(3))
        return dq, dk, dv, dm, None, None, None


def _shape(x: Any) -> tuple:
    return tuple(x.shape)


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False, *,
                                 generator: Any = None) -> Any:
    """Attention ``softmax(Q·Kᵀ·scale + mask)·V`` with PyTorch's signature.

    Parameters
    ----------
    query : Tensor
        ``(..., L, E)``.
    key : Tensor
        ``(..., S, E)``.
    value : Tensor
        ``(..., S, Ev)``.
    attn_mask : Tensor, optional
        Broadcastable to ``(..., L, S)``. Boolean: ``True`` = may attend (PyTorch's
        convention for this function). Float: added to the scores (``-inf`` blocks).
    dropout_p : float
        Dropout probability on the attention weights (always applied when > 0, as in
        PyTorch's functional form: pass 0.0 in evaluation).
    is_causal : bool
        Query ``i`` attends to keys ``j <= i`` (lower-triangular mask, top-left aligned).
    scale : float, optional
        Defaults to ``1/√E``.
    enable_gqa : bool
        Grouped-query attention: key/value may have fewer heads (dim −3) than the query;
        each key/value head serves ``Hq / Hkv`` consecutive query heads.
    generator : gg.Generator, optional
        Random source of the dropout mask (default: the global generator).

    Returns
    -------
    Tensor
        ``(..., L, Ev)``.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not is_tensor(t):
            raise op_error("scaled_dot_product_attention", f"{name} must be a Tensor, got "
                           f"{type(t).__name__}", TypeError)
        if t.ndim < 2:
            raise op_error("scaled_dot_product_attention", f"{name} needs at least 2 dims "
                           f"(..., seq, features), got shape {_shape(t)}")
        if t.dtype.kind != "f":
            raise op_error("scaled_dot_product_attention", f"{name} must be floating point, "
                           f"got {t.dtype}", TypeError)
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hk == 0 or hq % hk or value.shape[-3] != hk:
            raise op_error("scaled_dot_product_attention", f"enable_gqa: query heads ({hq}) must be a "
                           f"multiple of key/value heads ({hk}, {value.shape[-3]})")
        key = key.repeat_interleave(hq // hk, dim=-3)
        value = value.repeat_interleave(hq // hk, dim=-3)
    if not (query.dtype == key.dtype == value.dtype):
        raise op_error("scaled_dot_product_attention", f"query, key and value must share a dtype, "
                       f"got {query.dtype}, {key.dtype}, {value.dtype}", TypeError)
    L, E = query.shape[-2:]
    S = key.shape[-2]
    if key.shape[-1] != E:
        raise op_error("scaled_dot_product_attention", f"query {_shape(query)} and key "
                       f"{_shape(key)} must have the same last dim (embedding size)")
    if value.shape[-2] != S:
        raise op_error("scaled_dot_product_attention", f"key {_shape(key)} and value "
                       f"{_shape(value)} must have the same sequence length (dim -2)")
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise op_error("scaled_dot_product_attention", f"batch dims of query {_shape(query)}, "
                       f"key {_shape(key)} and value {_shape(value)} do not broadcast") from None
    if not 0.0 <= dropout_p < 1.0:
        raise op_error("scaled_dot_product_attention", f"dropout_p must be in [0, 1), got {dropout_p}")
    dt = query.dtype
    xp = xp_of(query.array)
    mask: Any = None
    if is_causal:
        if attn_mask is not None:
            raise op_error("scaled_dot_product_attention", "give either attn_mask or "
                           "is_causal=True, not both (as PyTorch)")
        attn_mask = xp.tril(xp.ones((L, S), dtype=bool))
        attn_mask.flags.writeable = False  # a constant (read-only: a recorder keeps it)
    if attn_mask is not None:
        m = attn_mask if is_tensor(attn_mask) or is_array(attn_mask) else xp.asarray(
            attn_mask)
        try:
            np.broadcast_shapes(m.shape, batch + (L, S))
        except ValueError:
            raise op_error("scaled_dot_product_attention", f"attn_mask of shape {_shape(m)} does "
                           f"not broadcast to the scores' shape {batch + (L, S)}") from None
        if m.dtype == bool:
            mask = m  # turned into 0 / −inf by the op
        elif m.dtype.kind == "f":
            if m.dtype != dt:
                raise op_error("scaled_dot_product_attention", f"a float attn_mask must have the "
                               f"query's dtype {dt}, got {m.dtype}", TypeError)
            mask = m
        else:
            raise op_error("scaled_dot_product_attention", f"attn_mask must be bool or float, got "
                           f"{m.dtype}", TypeError)
    sc = float(scale) if scale is not None else 1.0 / math.sqrt(E)
    return ScaledDotProductAttention.apply(query, key, value, mask, sc, float(dropout_p),
                                           generator)
