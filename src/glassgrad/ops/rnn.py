"""Recurrent cells with hand-derived backward: the LSTM cell and the GRU cell as fused ops.

A recurrent layer applies one cell per time step. Backpropagation through time (BPTT)
is nothing special: the loop over time steps builds a chain of cell nodes and autograd
walks it backwards. What makes it fast is (1) one GEMM for the input projection of the
whole sequence, ``Xproj = X·W_ihᵀ + b`` of shape ``(T, B, G·H)``, done before the loop,
(2) per step one GEMM ``h·W_hhᵀ`` and one fused node for all the gate arithmetic
(instead of ~15 small nodes), and (3) :class:`Unbind` / ``stack``: one node each to cut
``Xproj`` into steps and to glue the outputs back together.

LSTM cell (PyTorch's gate order i, f, g, o; ``a = xproj_t + h·W_hhᵀ`` split in 4)::

    i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
    c' = f ⊙ c + i ⊙ g
    h' = o ⊙ tanh(c')

Its backward, given ``δh = ∂L/∂h'`` and ``δc = ∂L/∂c'`` (the gradient of ``c'`` coming
from the next step)::

    δo  = δh ⊙ tanh(c')
    δc* = δc + δh ⊙ o ⊙ (1 − tanh²c')      (total gradient reaching c')
    δi  = δc* ⊙ g      δg = δc* ⊙ i      δf = δc* ⊙ c      ∂L/∂c = δc* ⊙ f
    δa_i = δi ⊙ i(1−i)   δa_f = δf ⊙ f(1−f)   δa_g = δg ⊙ (1−g²)   δa_o = δo ⊙ o(1−o)
    ∂L/∂xproj_t = δa     ∂L/∂h = δa·W_hh     ∂L/∂W_hh = δaᵀ·h

GRU cell (gate order r, z, n; ``xp = xproj_t = x·W_ihᵀ + b_ih``, ``hp = h·W_hhᵀ + b_hh``)::

    r = σ(xp_r + hp_r)   z = σ(xp_z + hp_z)   n = tanh(xp_n + r ⊙ hp_n)
    h' = (1 − z) ⊙ n + z ⊙ h

and backward::

    δn = δh ⊙ (1 − z)   δz = δh ⊙ (h − n)   ∂L/∂h (direct) = δh ⊙ z
    δa_n = δn ⊙ (1 − n²)    δr = δa_n ⊙ hp_n
    δa_r = δr ⊙ r(1−r)      δa_z = δz ⊙ z(1−z)
    ∂L/∂xproj_t = [δa_r, δa_z, δa_n]      δhp = [δa_r, δa_z, δa_n ⊙ r]
    ∂L/∂h = δh ⊙ z + δhp·W_hh     ∂L/∂W_hh = δhpᵀ·h     ∂L/∂b_hh = Σ_rows δhp

Both backward formulas are written with operators only, so under ``create_graph=True``
(double backward) they run on Tensors and are differentiated again (the gate values
are recomputed from the saved inputs with glassgrad ops in that mode).

The array loops of :class:`LSTMLayer` live in ``ops/_rnn_loops.py``: on large batches
they run one loop per block of rows, one block per core (the rows are independent
sequences, so the blocks meet only at the end of the layer; the weight gradient is one
GEMM over all rows afterwards).

Derivations: ``docs/derivations/rnn.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.engine import run_backward
from ..autograd.function import Function
from ..backend import xp_of
from . import _dual as D
from . import _rnn_loops as L
from . import kernels as K
from ._rnn_loops import _SEQ_KERNEL_MAX_B, _WT_CACHE, _WT_CACHE_MAX, _lstm_gates_, _sigmoid_  # noqa: F401
from ._util import op_error, sum_rows
from .linear import Linear
from .movement import Cat, Stack

__all__: list = []  # the modules in nn/modules/rnn.py are the public API


# ----------------------------------------------------------------------------- helpers
def _cat_last(parts: list) -> Any:
    """Concatenate along the last axis (arrays or Tensors)."""
    if hasattr(parts[0], "grad_fn"):
        return Cat.apply(parts[0].ndim - 1, *parts)
    return xp_of(parts[0]).concatenate(parts, axis=-1)


def _check_cell(op: str, xproj: Any, h: Any, w_hh: Any, gates: int) -> int:
    H = w_hh.shape[-1]
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * H:
        raise op_error(op, f"weight_hh must have shape ({gates}·H, H), got {tuple(w_hh.shape)}")
    if h.ndim != 2 or h.shape[1] != H:
        raise op_error(op, f"hidden state must have shape (batch, {H}), got {tuple(h.shape)}")
    if xproj.shape != (h.shape[0], gates * H):
        raise op_error(op, f"input projection must have shape ({h.shape[0]}, {gates * H}) "
                       f"(batch, {gates}·hidden), got {tuple(xproj.shape)}")
    if not (xproj.dtype == h.dtype == w_hh.dtype):
        raise op_error(op, f"dtypes differ: input projection {xproj.dtype}, hidden {h.dtype}, "
                       f"weight_hh {w_hh.dtype}", TypeError)
    return H


# ----------------------------------------------------------------------------- LSTM
def _lstm_gate_grads(dh: Any, dc: Any, i: Any, f: Any, g: Any, o: Any, c: Any, tc: Any) -> tuple:
    """The LSTM cell backward up to the pre-activations (see the module docstring).

    Works on arrays and on Tensors. Returns ``(δa_i, δa_f, δa_g, δa_o, ∂L/∂c)``.
    """
    dcs = dc + dh * o * (1 - tc * tc)        # δc* = δc + δh ⊙ o ⊙ (1 − tanh²c')
    da_i = dcs * g * (i * (1 - i))           # δi = δc* ⊙ g, through σ' = i(1−i)
    da_f = dcs * c * (f * (1 - f))           # δf = δc* ⊙ c
    da_g = dcs * i * (1 - g * g)             # δg = δc* ⊙ i, through tanh' = 1−g²
    da_o = dh * tc * (o * (1 - o))           # δo = δh ⊙ tanh(c')
    return da_i, da_f, da_g, da_o, dcs * f   # ∂L/∂c = δc* ⊙ f


def _check_lstm_state(op: str, h: Any, c: Any) -> None:
    if c.shape != h.shape or c.dtype != h.dtype:
        raise op_error(op, f"cell state {tuple(c.shape)} {c.dtype} must match the "
                       f"hidden state {tuple(h.shape)} {h.dtype}")


class LSTMCellFused(Function):
    """One LSTM step: ``(h', c') = cell(xproj_t, h, c, W_hh)`` with
    ``xproj_t = x_t·W_ihᵀ + b_ih + b_hh`` computed beforehand (all steps in one GEMM).

    Shapes: ``xproj_t (B, 4H)``, ``h, c (B, H)``, ``W_hh (4H, H)``; outputs ``(B, H)`` twice.
    """
    formulas = {
        "inputs": "xproj, h, c, W_hh",
        "grads": (
            "dxproj = [δa_i, δa_f, δa_g, δa_o]",
            "dh = dxproj @ W_hh",
            "dc = (dc' + dh' ⊙ o ⊙ (1 − tanh²c')) ⊙ f",
            "dW_hh = dxprojᵀ @ h",
        ),
        "output": "h', c'",
    }
    derivation = "docs/derivations/rnn.md#the-lstm-cell-backward"
    fresh_grads = True

    @staticmethod
    def forward(ctx, xproj, h, c, w_hh):
        H = _check_cell("lstm_cell", xproj, h, w_hh, 4)
        _check_lstm_state("lstm_cell", h, c)
        a = h @ w_hh.T                      # (B, 4H): the only GEMM of the step
        a += xproj
        c_new, tc, h_new = _lstm_gates_(a, c, H)
        ctx.save_for_backward(xproj, h, c, w_hh)
        ctx.acts, ctx.tc, ctx.H = a, tc, H
        return h_new, c_new

    @staticmethod
    def backward(ctx, dh, dc):
        """VJP (module docstring): ``δa = [δa_i, δa_f, δa_g, δa_o]`` (B, 4H);
        ``dxproj = δa`` (B, 4H), ``dh = δa·W_hh`` (B, H), ``dc = δc* ⊙ f`` (B, H),
        ``dW_hh = δaᵀ·h`` (4H, H)."""
        xproj, h, c, w_hh = ctx.saved_tensors
        H = ctx.H
        need = ctx.needs_input_grad
        if ctx.create_graph:  # recompute the gates as Tensors: the result is differentiable
            a = xproj + h @ w_hh.T
            i, f = D.sigmoid(a[:, :H]), D.sigmoid(a[:, H:2 * H])
            g, o = D.tanh(a[:, 2 * H:3 * H]), D.sigmoid(a[:, 3 * H:])
            tc = D.tanh(f * c + i * g)
            *parts, dc_prev = _lstm_gate_grads(dh, dc, i, f, g, o, c, tc)
            da = _cat_last(parts)
        else:
            a, tc = ctx.acts, ctx.tc
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            *parts, dc_prev = _lstm_gate_grads(dh, dc, i, f, g, o, c, tc)
            da = xp_of(dh).concatenate(parts, axis=1)
        return (da if need[0] else None,
                da @ w_hh if need[1] else None,
                dc_prev if need[2] else None,
                da.T @ h if need[3] else None)


class LSTMLayer(Function):
    """A whole LSTM layer (one direction) in one node: ``(out, h_T, c_T) = lstm(xproj, h_0,
    c_0, W_hh[, b])`` with ``xproj: (T, B, 4H)`` the input projections of every step (one GEMM
    beforehand), ``h_0, c_0: (B, H)``, ``W_hh: (4H, H)``; ``out: (T, B, H)`` holds every
    step's ``h``. ``reverse=True`` runs the steps t = T−1, …, 0 (the backward direction of
    a bidirectional layer). ``b: (4H,)``, optional, is a bias of the projections
    (``b_ih + b_hh``, the projection then computed without it): the layer adds it step by
    step, which spares the large-batch forward a pass over the ``(T, B, 4H)`` projections
    (the same sums: ``(x·W_ihᵀ + b) + h·W_hhᵀ``); ``δb = Σ_t Σ_rows δa_t``.

    The forward runs the step of :class:`LSTMCellFused` T times, writing the gate
    activations of all steps into one ``(T, B, 4H)`` array. The backward is BPTT in one
    loop, newest step first, with the same per-step formulas (module docstring); what it
    saves over a chain of T cell nodes is the per-step graph bookkeeping and T small
    GEMMs: ``∂L/∂W_hh = Σ_t δa_tᵀ·h_{t−1}`` is one GEMM over all steps at the end, and
    ``∂L/∂xproj`` is the ``(T, B, 4H)`` array of all ``δa_t`` as is.
    Shapes of the backward: ``dxproj (T, B, 4H)``, ``dh_0, dc_0 (B, H)``, ``dW_hh (4H, H)``.
    """
    formulas = {
        "inputs": "Xproj, h_0, c_0, W_hh, b",
        "grads": (
            "dXproj[t] = [δa_i, δa_f, δa_g, δa_o] at step t (BPTT, newest step first)",
            "dh_0 = δa_first @ W_hh",
            "dc_0 = δc*_first ⊙ f_first",
            "dW_hh = Σ_t δa_tᵀ @ h_t−1 (one GEMM over all steps)",
            "db = Σ_t sum_rows(δa_t)",
        ),
        "output": "out, h_T, c_T",
    }
    derivation = "docs/derivations/rnn.md#backpropagation-through-time-bptt"
    fresh_grads = True

    @staticmethod
    def forward(ctx, xproj, h0, c0, w_hh, b=None, reverse=False):
        if xproj.ndim != 3 or xproj.shape[0] == 0:
            raise op_error("lstm", f"input projection must have shape (T, batch, 4·H) with T ≥ 1, "
                           f"got {tuple(xproj.shape)}")
        H = _check_cell("lstm", xproj[0], h0, w_hh, 4)
        _check_lstm_state("lstm", h0, c0)
        if b is not None and (b.shape != (4 * H,) or b.dtype != xproj.dtype):
            raise op_error("lstm", f"bias {tuple(b.shape)} {b.dtype} must have shape ({4 * H},) "
                           f"and the projection's dtype {xproj.dtype}")
        xp = xp_of(xproj)
        T, B, _ = xproj.shape
        dt = xproj.dtype
        out = xp.empty((T, B, H), dtype=dt)
        steps = range(T - 1, -1, -1) if reverse else range(T)
        keep = True   # the activations of every step, kept for the backward
        if xproj.nbytes > (1 << 20):   # (without a backward: one step's scratch)
            keep = any(ctx.needs_input_grad)
            acts, cs, tcs, c_last = L.forward_large(xproj, h0, c0, w_hh, out, keep, reverse, b)
        else:   # small: whole arrays cost less than reusing one step's scratch
            xb = xproj if b is None else xproj + b
            acts = xp.empty((T, B, 4 * H), dtype=dt)   # i, f, g, o of every step
            cs = xp.empty((T + 1, B, H), dtype=dt)      # cs[k]: c before the k-th step run
            tcs = xp.empty((T, B, H), dtype=dt)         # tanh(c') of every step
            cs[0] = c0
            L._lstm_small_forward(xb, w_hh, h0, cs, tcs, out, acts, steps)
            c_last = cs[T].copy()
        ctx.save_for_backward(xproj, h0, c0, w_hh, out, *((b,) if b is not None else ()))
        if keep:
            ctx.acts, ctx.cs, ctx.tcs = acts, cs, tcs
        ctx.reverse = reverse
        return out, out[steps[-1]].copy(), c_last

    @staticmethod
    def backward(ctx, dout, dhT, dcT):
        """VJP: BPTT over the saved gate activations (see the class docstring)."""
        xproj, h0, c0, w_hh, out, *b = ctx.saved_tensors
        if ctx.create_graph:
            return _lstm_layer_double(ctx, xproj, h0, c0, w_hh, b, dout, dhT, dcT)
        acts, cs, tcs, reverse = ctx.acts, ctx.cs, ctx.tcs, ctx.reverse
        xp = xp_of(acts)
        T, B, G = acts.shape
        H = G // 4
        need = ctx.needs_input_grad
        da_all = xp.empty_like(acts)
        dh, dc = L.backward_loop(acts, tcs, cs, dout, dhT, dcT, da_all, w_hh, reverse, need[1])
        # h_{t−1} of every step, aligned with da_all: h_0 first in the order the steps ran
        h_prev = (xp.concatenate([out[1:], h0[None]]) if reverse
                  else xp.concatenate([h0[None], out[:-1]]))
        dw = da_all.reshape(T * B, G).T @ h_prev.reshape(T * B, H) if need[3] else None
        grads = (da_all if need[0] else None, dh if need[1] else None,
                 dc if need[2] else None, dw)
        if len(need) < 5:   # called without a bias
            return grads
        return grads + (sum_rows(da_all.reshape(T * B, G)) if need[4] else None,)


def lstm_layer_arrays(x: Any, w_ih: Any, h0: Any, c0: Any, w_hh: Any, b: Any = None,
                      reverse: bool = False) -> tuple:
    """An LSTM layer on arrays with no graph (inference): ``(out, h_T, c_T)`` of
    ``LSTMLayer(Linear(x, W_ih), h_0, c_0, W_hh, b)`` for ``x: (T, B, F)``, ``W_ih: (4H, F)``.

    Where the layer runs its large float32 path with the compiled kernels, the projections
    ``x_t·W_ihᵀ`` are made inside each block's loop, one step at a time, into the step's
    pre-activations (:func:`._rnn_loops.forward_projecting`), instead of as one
    ``(T, B, 4H)`` array made beforehand and read back: the same products, summed with the
    bias in another order, so the same values to float32 rounding. Elsewhere, and for
    anything malformed (whose errors are then theirs), it is exactly ``Linear`` then
    ``LSTMLayer``."""
    if x.ndim != 3:
        raise op_error("lstm", f"input must have shape (T, batch, features), got {tuple(x.shape)}")
    T, B, F = x.shape
    H = w_hh.shape[-1]
    if (T and w_hh.shape == (4 * H, H) and w_ih.shape == (4 * H, F) and h0.shape == (B, H)
            and c0.shape == (B, H) and (b is None or b.shape == (4 * H,))
            and T * B * 4 * H * x.itemsize > (1 << 20)):   # (LSTMLayer's large path)
        res = L.forward_projecting(x, w_ih, h0, c0, w_hh, b, reverse)
        if res is not None:
            out, c_T = res
            return out, out[0 if reverse else T - 1].copy(), c_T
    xproj = Linear.forward_arrays(x.reshape(T * B, F), w_ih, None)
    return LSTMLayer.forward_arrays(xproj.reshape(T, B, -1), h0, c0, w_hh, b, reverse=reverse)


def _graph_vjp(outs: list, inputs: list, seeds: list) -> list:
    """``d(outs)/d(inputs)`` against the Tensor ``seeds``, recorded (``create_graph``), None
    for an input the outputs do not use (``autograd.grad(..., create_graph=True,
    allow_unused=True)`` written with the engine, which ops may call)."""
    return run_backward(outs, seeds, True, True, capture=inputs, accumulate=False)


def _lstm_layer_double(ctx: Any, xproj: Any, h0: Any, c0: Any, w_hh: Any, b: list, dout: Any,
                       dhT: Any, dcT: Any) -> tuple:
    """Under ``create_graph``: rebuild the layer from differentiable cell ops on the saved
    inputs (``b``: the bias, in a list of zero or one) and take the vector-Jacobian product
    with ``autograd.grad`` (so the result can be differentiated again)."""
    T = xproj.shape[0]
    steps = range(T - 1, -1, -1) if ctx.reverse else range(T)
    xb = xproj + b[0] if b else xproj
    h, c = h0, c0
    outs: list = [None] * T
    for t in steps:
        h, c = lstm_cell(xb[t], h, c, w_hh, fused=True)
        outs[t] = h
    out = Stack.apply(0, *outs)
    ins = [xproj, h0, c0, w_hh] + b
    want = [t for t, n in zip(ins, ctx.needs_input_grad) if n]
    gs = iter(_graph_vjp([out, h, c], want, [dout, dhT, dcT]))
    return tuple(next(gs) if n else None for n in ctx.needs_input_grad)


def lstm_cell_composed(xproj: Any, h: Any, c: Any, w_hh: Any) -> tuple:
    """The same LSTM step built from primitive glassgrad ops (reference for the fused cell)."""
    a = xproj + h @ w_hh.T
    i, f, g, o = a.chunk(4, 1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new


def lstm_cell(xproj: Any, h: Any, c: Any, w_hh: Any, fused: bool = True) -> tuple:
    """One LSTM step ``(h', c')`` from the precomputed input projection (see module docstring).

    Parameters
    ----------
    xproj : Tensor
        ``x_t·W_ihᵀ + b_ih + b_hh``, shape ``(B, 4H)``, gate order i, f, g, o.
    h, c : Tensor
        Hidden and cell state ``(B, H)``.
    w_hh : Tensor
        ``(4H, H)``.
    fused : bool
        Use :class:`LSTMCellFused` (default) or the composition of primitive ops.
    """
    if fused:
        return LSTMCellFused.apply(xproj, h, c, w_hh)
    _check_cell("lstm_cell", xproj, h, w_hh, 4)
    return lstm_cell_composed(xproj, h, c, w_hh)


# ----------------------------------------------------------------------------- GRU
def _gru_grads(dh: Any, h: Any, r: Any, z: Any, n: Any, hn: Any) -> tuple:
    """The GRU cell backward up to the pre-activations (arrays or Tensors).

    Returns ``(δa_r, δa_z, δa_n, δhp_n, ∂L/∂h direct)``.
    """
    da_n = dh * (1 - z) * (1 - n * n)        # δn = δh ⊙ (1−z), through tanh'
    da_r = da_n * hn * (r * (1 - r))         # δr = δa_n ⊙ hp_n, through σ'
    da_z = dh * (h - n) * (z * (1 - z))      # δz = δh ⊙ (h − n), through σ'
    return da_r, da_z, da_n, da_n * r, dh * z


class GRUCellFused(Function):
    """One GRU step: ``h' = cell(xproj_t, h, W_hh, b_hh)`` with ``xproj_t = x_t·W_ihᵀ + b_ih``.

    Shapes: ``xproj_t (B, 3H)``, ``h (B, H)``, ``W_hh (3H, H)``, ``b_hh (3H,)`` or None.
    """
    formulas = {
        "inputs": "xproj, h, W_hh, b_hh",
        "grads": (
            "dxproj = [δa_r, δa_z, δa_n]",
            "dh = dh' ⊙ z + δhp @ W_hh",
            "dW_hh = δhpᵀ @ h",
            "db_hh = sum_rows(δhp)",
        ),
        "output": "h'",
    }
    derivation = "docs/derivations/rnn.md#backpropagation-through-time-bptt"
    fresh_grads = True

    @staticmethod
    def forward(ctx, xproj, h, w_hh, b_hh=None):
        H = _check_cell("gru_cell", xproj, h, w_hh, 3)
        xp = xp_of(xproj)
        hp = h @ w_hh.T                      # (B, 3H)
        if b_hh is not None:
            if b_hh.shape != (3 * H,):
                raise op_error("gru_cell", f"bias_hh must have shape ({3 * H},), got "
                               f"{tuple(b_hh.shape)}")
            hp += b_hh
        rz = xproj[:, :2 * H] + hp[:, :2 * H]
        _sigmoid_(rz)
        r, z = rz[:, :H], rz[:, H:]
        hn = hp[:, 2 * H:]
        n = r * hn
        n += xproj[:, 2 * H:]
        xp.tanh(n, out=n)
        h_new = h - n                        # h' = n + z ⊙ (h − n)
        h_new *= z
        h_new += n
        ctx.save_for_backward(xproj, h, w_hh, b_hh)
        ctx.r, ctx.z, ctx.n, ctx.hn, ctx.H = r, z, n, hn, H
        return h_new

    @staticmethod
    def backward(ctx, dh):
        """VJP (module docstring): ``dxproj = [δa_r, δa_z, δa_n]`` (B, 3H),
        ``dh = δh ⊙ z + δhp·W_hh`` (B, H), ``dW_hh = δhpᵀ·h`` (3H, H), ``db_hh = Σ_rows δhp``."""
        xproj, h, w_hh, b_hh = ctx.saved_tensors
        H = ctx.H
        need = ctx.needs_input_grad
        if ctx.create_graph:
            hp = h @ w_hh.T
            if b_hh is not None:
                hp = hp + b_hh
            r = D.sigmoid(xproj[:, :H] + hp[:, :H])
            z = D.sigmoid(xproj[:, H:2 * H] + hp[:, H:2 * H])
            hn = hp[:, 2 * H:]
            n = D.tanh(xproj[:, 2 * H:] + r * hn)
        else:
            r, z, n, hn = ctx.r, ctx.z, ctx.n, ctx.hn
        da_r, da_z, da_n, dhp_n, dh_direct = _gru_grads(dh, h, r, z, n, hn)
        dx = _cat_last([da_r, da_z, da_n]) if need[0] else None
        dhp = _cat_last([da_r, da_z, dhp_n]) if (need[1] or need[2] or need[3]) else None
        return (dx,
                dh_direct + dhp @ w_hh if need[1] else None,
                dhp.T @ h if need[2] else None,
                dhp.sum(axis=0) if len(need) > 3 and need[3] else None)


def gru_cell_composed(xproj: Any, h: Any, w_hh: Any, b_hh: Any = None) -> Any:
    """The same GRU step built from primitive glassgrad ops (reference for the fused cell)."""
    hp = h @ w_hh.T
    if b_hh is not None:
        hp = hp + b_hh
    xr, xz, xn = xproj.chunk(3, 1)
    hr, hz, hn = hp.chunk(3, 1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h


def gru_cell(xproj: Any, h: Any, w_hh: Any, b_hh: Any = None, fused: bool = True) -> Any:
    """One GRU step ``h'`` from the precomputed ``xproj = x·W_ihᵀ + b_ih`` (gate order r, z, n)."""
    if fused:
        return GRUCellFused.apply(xproj, h, w_hh, b_hh)
    _check_cell("gru_cell", xproj, h, w_hh, 3)
    return gru_cell_composed(xproj, h, w_hh, b_hh)


class GRULayer(Function):
    """A whole GRU layer (one direction) in one node: ``(out, h_T) = gru(xproj, h_0, W_hh,
    b_hh)`` with ``xproj: (T, B, 3H)`` the input projections ``x_t·W_ihᵀ + b_ih`` of every
    step (one GEMM beforehand), ``h_0: (B, H)``, ``W_hh: (3H, H)``, ``b_hh: (3H,)`` or None;
    ``out: (T, B, H)`` holds every step's ``h``. ``reverse=True`` runs the steps
    t = T−1, …, 0.

    The forward runs the step of :class:`GRUCellFused` T times into preallocated
    ``(T, B, 3H)`` arrays (``hp_t = h·W_hhᵀ + b_hh`` and the gates ``r, z, n``). The
    backward is BPTT in one loop, newest step first, with the per-step formulas of the
    module docstring; only ``δhp_t·W_hh`` stays in the loop: ``∂L/∂W_hh = Σ_t δhp_tᵀ·h_{t−1}``
    is one GEMM over all steps at the end, ``∂L/∂b_hh = Σ_t Σ_rows δhp_t`` one sum.
    Shapes of the backward: ``dxproj (T, B, 3H)``, ``dh_0 (B, H)``, ``dW_hh (3H, H)``,
    ``db_hh (3H,)``.
    """
    formulas = {
        "inputs": "Xproj, h_0, W_hh, b_hh",
        "grads": (
            "dXproj[t] = [δa_r, δa_z, δa_n] at step t (BPTT, newest step first)",
            "dh_0 = dh_first ⊙ z_first + δhp_first @ W_hh",
            "dW_hh = Σ_t δhp_tᵀ @ h_t−1 (one GEMM over all steps)",
            "db_hh = Σ_t sum_rows(δhp_t)",
        ),
        "output": "out, h_T",
    }
    derivation = "docs/derivations/rnn.md#the-whole-gru-layer-in-one-node"
    fresh_grads = True

    @staticmethod
    def forward(ctx, xproj, h0, w_hh, b_hh=None, reverse=False):
        if xproj.ndim != 3 or xproj.shape[0] == 0:
            raise op_error("gru", f"input projection must have shape (T, batch, 3·H) with T ≥ 1, "
                           f"got {tuple(xproj.shape)}")
        H = _check_cell("gru", xproj[0], h0, w_hh, 3)
        if b_hh is not None and b_hh.shape != (3 * H,):
            raise op_error("gru", f"bias_hh must have shape ({3 * H},), got {tuple(b_hh.shape)}")
        xp = xp_of(xproj)
        T, B, _ = xproj.shape
        dt = xproj.dtype
        hps = xp.empty((T, B, 3 * H), dtype=dt)     # h·W_hhᵀ + b_hh of every step
        gates = xp.empty((T, B, 3 * H), dtype=dt)   # r, z, n of every step
        out = xp.empty((T, B, H), dtype=dt)
        w_t = xp.ascontiguousarray(w_hh.T)          # C order: faster small GEMMs (see LSTMLayer)
        ctx.save_for_backward(xproj, h0, w_hh, b_hh, out)
        ctx.hps, ctx.gates, ctx.reverse = hps, gates, reverse
        if L.gru_forward_rows(xproj, h0, w_t, b_hh, hps, gates, out, reverse):
            # (float32 with the kernels: blocks of rows, each loop one compiled call)
            return out, out[T - 1 if not reverse else 0].copy()
        h = h0
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            hp, gt, x_t = hps[t], gates[t], xproj[t]
            xp.matmul(h, w_t, out=hp)               # the only GEMM of the step
            if b_hh is not None:
                hp += b_hh
            rz = gt[:, :2 * H]
            xp.add(x_t[:, :2 * H], hp[:, :2 * H], out=rz)
            _sigmoid_(rz)                           # r, z
            n = gt[:, 2 * H:]
            xp.multiply(gt[:, :H], hp[:, 2 * H:], out=n)
            n += x_t[:, 2 * H:]
            xp.tanh(n, out=n)                       # n = tanh(xp_n + r ⊙ hp_n)
            h_new = xp.subtract(h, n, out=out[t])   # h' = n + z ⊙ (h − n)
            h_new *= gt[:, H:2 * H]
            h_new += n
            h = h_new
        return out, h.copy()

    @staticmethod
    def backward(ctx, dout, dhT):
        """VJP: BPTT over the saved gates (see the class docstring)."""
        xproj, h0, w_hh, b_hh, out = ctx.saved_tensors
        if ctx.create_graph:
            return _gru_layer_double(ctx, xproj, h0, w_hh, b_hh, dout, dhT)
        hps, gates, reverse = ctx.hps, ctx.gates, ctx.reverse
        xp = xp_of(hps)
        T, B, G = hps.shape
        H = G // 3
        need = ctx.needs_input_grad
        need_b = len(need) > 3 and need[3]
        dx_all = xp.empty_like(hps)                 # [δa_r, δa_z, δa_n] of every step
        dhp_all = xp.empty_like(hps)                # [δa_r, δa_z, δa_n ⊙ r] of every step
        # h_{t−1} of every step, aligned with the steps: h_0 first in the order they ran
        h_prev = (xp.concatenate([out[1:], h0[None]]) if reverse
                  else xp.concatenate([h0[None], out[:-1]]))
        dh = dhT
        steps = range(T - 1, -1, -1) if reverse else range(T)
        kern = K.rnn(hps, dout, dh)
        done = L.gru_backward_rows(dout, dhT, h_prev, gates, hps, w_hh, dx_all, dhp_all, reverse,
                                   need[1])
        if done is not None:   # float32 with the kernels: blocks of rows, one call each
            dh = done
        elif kern is not None:   # the loop body below as one compiled pass per step
            one = hps.dtype.type(1)
            dh_direct = xp.empty((B, H), dtype=hps.dtype)
            for k in range(T - 1, -1, -1):
                t = steps[k]
                kern.gru_bwd_step(dout[t], dh, h_prev[t], gates[t], hps[t], one, dx_all[t],
                                  dhp_all[t], dh_direct, 0, B)
                if k or need[1]:
                    dh = dh_direct + dhp_all[t] @ w_hh
        else:
            for k in range(T - 1, -1, -1):
                t = steps[k]
                gt = gates[t]
                r, z, n = gt[:, :H], gt[:, H:2 * H], gt[:, 2 * H:]
                dh = dout[t] + dh                       # from the output and from step t+1
                dx, dhp = dx_all[t], dhp_all[t]
                (dx[:, :H], dx[:, H:2 * H], dx[:, 2 * H:], dhp[:, 2 * H:],
                 dh_direct) = _gru_grads(dh, h_prev[t], r, z, n, hps[t][:, 2 * H:])
                dhp[:, :2 * H] = dx[:, :2 * H]
                if k or need[1]:
                    dh = dh_direct + dhp @ w_hh         # ∂L/∂h_{t−1}
        dw = (dhp_all.reshape(T * B, G).T @ h_prev.reshape(T * B, H)) if need[2] else None
        db = dhp_all.reshape(T * B, G).sum(axis=0) if need_b else None
        return (dx_all if need[0] else None, dh if need[1] else None, dw, db)


def _gru_layer_double(ctx: Any, xproj: Any, h0: Any, w_hh: Any, b_hh: Any, dout: Any,
                      dhT: Any) -> tuple:
    """Under ``create_graph``: rebuild the layer from differentiable GRU cell ops on the saved
    inputs and take the vector-Jacobian product with ``autograd.grad``."""
    T = xproj.shape[0]
    h = h0
    outs: list = [None] * T
    for t in (range(T - 1, -1, -1) if ctx.reverse else range(T)):
        h = gru_cell(xproj[t], h, w_hh, b_hh, fused=True)
        outs[t] = h
    out = Stack.apply(0, *outs)
    ins = [xproj, h0, w_hh, b_hh]
    need = tuple(ctx.needs_input_grad) + (False,) * (4 - len(ctx.needs_input_grad))
    want = [t for t, n in zip(ins, need) if n]
    gs = iter(_graph_vjp([out, h], want, [dout, dhT]))
    return tuple(next(gs) if n else None for n in need[:len(ctx.needs_input_grad)])


# ----------------------------------------------------------------------------- sequence glue
class Unbind(Function):
    """``(x[0], x[1], ..., x[T-1]) = unbind(x)`` along axis 0, as one node.

    Indexing each step separately would give T nodes whose backward each scatters into
    a zero array of the full ``(T, ...)`` shape (O(T²) memory traffic); here the backward
    is one ``stack``.
    """
    formulas = {"inputs": "X", "grads": ("dX = stack(dZ_0, …, dZ_T−1)",), "output": "Z_t"}
    derivation = "docs/derivations/rnn.md#backpropagation-through-time-bptt"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x):
        return tuple(x[t] for t in range(x.shape[0]))

    @staticmethod
    def backward(ctx, *gs):
        """VJP: ``dx = stack(g_0, ..., g_{T-1})`` (steps that got no gradient are zeros)."""
        if hasattr(gs[0], "grad_fn"):
            return Stack.apply(0, *gs)
        return xp_of(gs[0]).stack(gs, axis=0)


def unbind_steps(x: Any) -> tuple:
    """Split ``x`` of shape ``(T, ...)`` into T tensors with one autograd node."""
    if x.shape[0] == 1:
        return (x[0],)
    return Unbind.apply(x)
