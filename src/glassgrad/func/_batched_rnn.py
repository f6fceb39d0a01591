"""The fused LSTM/GRU layers inside ``vmap(grad)``: one recurrent weight for every sample,
each sample's own gradient of it.

``grad`` inside ``vmap`` makes each parameter a batched leaf that is the *same* matrix for
every sample (a broadcast view, stride 0 on the batch axis; see ``_batched_linear.py``).
The forward of a layer then is the fused op itself over all ``B·N`` sequences with that one
``W_hh`` (the vmap batch folded into the RNN's batch axis), and only the backward differs:
the fused op's BPTT gives ``∂L/∂xproj_t = δa_t`` of every step and row, and each sample's
weight gradient is the sum over its own rows and steps,

    dW_hh[b] = Σ_t Σ_{n in sample b} δhp_t[n]ᵀ · h_{t−1}[n]        (one batched GEMM)
    db_hh[b] = Σ_t Σ_{n in sample b} δhp_t[n]                       (GRU)

with ``δhp = δa`` for the LSTM and ``δhp = [δa_r, δa_z, δa_n ⊙ r]`` for the GRU (the
formulas of ``ops/rnn.py``) — the same sums the fused op's ``dW_hh`` GEMM takes over all
rows, split by sample. Under ``create_graph`` the backward is rebuilt from differentiable
ops (the unrolled recurrence of ``_batch_rules_nn``) and differentiated by the engine.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import xp_of
from ..ops import rnn as RN


class _Inner:
    """The context the fused layer's own forward and backward run with (plain attributes:
    what they save and the gradients they are asked for)."""

    create_graph = False

    def __init__(self, needs: tuple) -> None:
        self.needs_input_grad = needs
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays


def _per_sample_sums(dhp: Any, h_prev: Any, B: int, want_b: bool) -> tuple:
    """``dW[b] = Σ δhpᵀ·h_prev`` and ``db[b] = Σ δhp`` over sample ``b``'s rows and all steps,
    for ``dhp: (T, B·N, G)``, ``h_prev: (T, B·N, H)``."""
    T, BN, G = dhp.shape
    N, H = BN // B, h_prev.shape[2]
    d4 = dhp.reshape(T, B, N, G)
    dm = d4.transpose(1, 3, 0, 2).reshape(B, G, T * N)
    hm = h_prev.reshape(T, B, N, H).transpose(1, 0, 2, 3).reshape(B, T * N, H)
    return xp_of(dhp).matmul(dm, hm), (d4.sum(axis=(0, 2)) if want_b else None)


def _h_prev(out: Any, h0: Any, reverse: bool) -> Any:
    """``h_{t−1}`` of every step, aligned with the steps (``h_0`` first in the order run)."""
    xp = xp_of(out)
    return xp.concatenate([out[1:], h0[None]]) if reverse else xp.concatenate([h0[None], out[:-1]])


class SharedWeightLSTMLayer(Function):
    """``LSTMLayer`` over ``B·N`` sequences with one ``W_hh`` given as its ``(B, 4H, H)``
    broadcast, returning each sample's ``dW_hh[b]`` (module docstring). Shapes:
    ``xproj (T, B·N, 4H)``, ``h0, c0 (B·N, H)``, ``w (B, 4H, H)`` (stride 0 on axis 0)."""

    formulas = {"inputs": "Xproj, h_0, c_0, W (B copies)",
                "grads": ("dXproj[t] = δa_t (LSTMLayer's BPTT)",
                          "dh_0 = δa_first @ W",
                          "dc_0 = δc*_first ⊙ f_first",
                          "dW[b] = Σ_t Σ_{n∈b} δa_t[n]ᵀ @ h_t−1[n] (one batched GEMM)"),
                "output": "out, h_T, c_T"}
    derivation = "docs/derivations/per_sample.md#rnn-lstm-gru-summed-over-time-per-sample"
    fresh_grads = True

    @staticmethod
    def forward(ctx, xproj, h0, c0, w, reverse=False):
        need = ctx.needs_input_grad
        inner = _Inner((any(need), need[1], need[2], False))
        out, hT, cT = RN.LSTMLayer.forward(inner, xproj, h0, c0, w[0], reverse=reverse)
        ctx.inner, ctx.reverse, ctx.out = inner, reverse, out
        ctx.save_for_backward(xproj, h0, c0, w)
        return out, hT, cT

    @staticmethod
    def backward(ctx, dout, dhT, dcT):
        need = ctx.needs_input_grad
        if ctx.create_graph:
            return _double(ctx, dout, dhT, dcT)
        xproj, h0, c0, w = ctx.saved_tensors
        da, dh0, dc0, _ = RN.LSTMLayer.backward(ctx.inner, dout, dhT, dcT)
        dw = (_per_sample_sums(da, _h_prev(ctx.out, h0, ctx.reverse), w.shape[0], False)[0]
              if need[3] else None)
        return (da if need[0] else None, dh0 if need[1] else None, dc0 if need[2] else None, dw)


class SharedWeightGRULayer(Function):
    """``GRULayer`` over ``B·N`` sequences with one ``W_hh`` (and ``b_hh``) given as their
    ``(B, 3H, H)`` (``(B, 3H)``) broadcasts, returning each sample's ``dW_hh[b]`` and
    ``db_hh[b]`` (module docstring)."""

    formulas = {"inputs": "Xproj, h_0, W (B copies), b (B copies)",
                "grads": ("dXproj[t] = [δa_r, δa_z, δa_n] (GRULayer's BPTT)",
                          "dh_0 = dh_first ⊙ z_first + δhp_first @ W",
                          "dW[b] = Σ_t Σ_{n∈b} δhp_t[n]ᵀ @ h_t−1[n] (one batched GEMM)",
                          "db[b] = Σ_t Σ_{n∈b} δhp_t[n]"),
                "output": "out, h_T"}
    derivation = "docs/derivations/per_sample.md#rnn-lstm-gru-summed-over-time-per-sample"
    fresh_grads = True

    @staticmethod
    def forward(ctx, xproj, h0, w, b=None, reverse=False):
        need = ctx.needs_input_grad
        inner = _Inner((any(need), need[1], False, False))
        out, hT = RN.GRULayer.forward(inner, xproj, h0, w[0], None if b is None else b[0], reverse)
        ctx.inner, ctx.reverse, ctx.out = inner, reverse, out
        ctx.save_for_backward(xproj, h0, w, b)
        return out, hT

    @staticmethod
    def backward(ctx, dout, dhT):
        need = ctx.needs_input_grad
        if ctx.create_graph:
            return _double(ctx, dout, dhT)
        xproj, h0, w, b = ctx.saved_tensors
        dx, dh0, _, _ = RN.GRULayer.backward(ctx.inner, dout, dhT)
        want_w, want_b = need[2], len(need) > 3 and need[3]
        dw = db = None
        if want_w or want_b:
            H = w.shape[2]
            dhp = dx.copy()                              # [δa_r, δa_z, δa_n ⊙ r]
            dhp[..., 2 * H:] *= ctx.inner.gates[..., :H]
            dw, db = _per_sample_sums(dhp, _h_prev(ctx.out, h0, ctx.reverse), w.shape[0], want_b)
        return (dx if need[0] else None, dh0 if need[1] else None,
                dw if want_w else None, db)


def _double(ctx: Any, *seeds: Any) -> tuple:
    """Under ``create_graph``: the unrolled recurrence on the saved inputs (Tensors now),
    differentiated by the engine, so the result is differentiable again."""
    from ._batch_rules_nn import _unrolled_layer  # (the rules import this module)

    ins = list(ctx.saved_tensors)
    outs = _unrolled_layer(type(ctx) is SharedWeightLSTMLayer, ins, ctx.reverse)
    need = ctx.needs_input_grad
    want = [t for t, n in zip(ins, need) if n]
    gs = iter(RN._graph_vjp(list(outs), want, list(seeds)))
    return tuple(next(gs) if n else None for n in need)
