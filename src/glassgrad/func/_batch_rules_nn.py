"""Batching rules of the layer ops: convolution, pooling, normalization, embedding,
dropout, recurrent layers and attention (assembled into ``_batch_rules.RULES``).

The layer ops already have a batch axis of their own (``N``), so most rules *fold* the
vmap batch ``B`` into it: the physical ``(B, N, C, ...)`` becomes ``(B·N, C, ...)``, the op
runs once, and the result is unfolded to ``(B, N, ...)``. Per-sample parameters (a weight
batched by ``grad`` inside ``vmap``, or an ensemble's stacked weights) need more:

* convolution with a batched weight: the *groups trick* — the batch moves into the
  channels, ``x: (N, B·C, ...)``, ``w: (B·O, C/G, ...)``, ``groups = B·G``: one grouped
  convolution in which group ``(b, g)`` sees only sample ``b``'s channels and weight, so
  its weight gradient is sample ``b``'s own;
* batch norm in training mode (statistics over each sample's own ``N``): the batch moves
  into the channels, ``(N, B·C, ...)``, so every ``(b, c)`` gets its own statistics
  (running statistics are then refused: their in-place update is one per sample);
* layer norm and batch norm in evaluation with a batched weight: the op without its
  affine part, then ``y·w + b`` through the elementwise rules;
* embedding with a batched weight: one lookup in the ``(B·V, D)`` table at ``idx + b·V``.
* the LSTM/GRU layers and cells with a batched ``W_hh``/``b_hh``: for a layer with
  ``grad``'s broadcast weight, the fused layer over ``B·N`` sequences whose backward splits
  the ``dW_hh`` GEMM by sample (``_batched_rnn.py``); otherwise (an ensemble, the cells) the
  recurrence unrolled over time on the physical tensors, the recurrent product of each step
  one ``BatchedLinear`` (``h: (B, N, H)`` times each sample's ``W_hhᵀ``), the gates
  elementwise ops — autograd then gives each sample's own recurrent-weight gradient.

Random draws (``Dropout``, attention dropout) follow ``vmap``'s ``randomness``:
``'different'`` draws the whole physical mask at once (independent per sample),
``'same'`` draws one logical mask broadcast over the batch, ``'error'`` raises.
Configurations not covered raise :class:`~glassgrad.func._batched.NoBatchRule`.
"""

from __future__ import annotations

from typing import Any, Callable

from ..backend import np
from ..ops import attention as AT
from ..ops import conv as CV
from ..ops import dropout as DR
from ..ops import indexing as I
from ..ops import movement as MV
from ..ops import norm as NO
from ..ops import pool as PO
from ..ops import rnn as RN
from ..tensor import Tensor
from ._batch_rules import _bind, _bt, _call, _level, _ndim, _phys_full, _wrap, aligned
from ._batched import MODES, BatchedTensor, NoBatchRule, random_allowed, randomness_error
from ._batched_linear import BatchedLinear
from ._batched_rnn import SharedWeightGRULayer, SharedWeightLSTMLayer

NN_RULES: dict[type, Callable] = {}


def _is_b(x: Any) -> bool:
    return type(x) is BatchedTensor


def _fold(p: Tensor) -> Tensor:
    """``(B, N, ...) -> (B·N, ...)``."""
    return p.reshape((p.shape[0] * p.shape[1],) + tuple(p.shape[2:]))


def _unfold(y: Tensor, B: int) -> Tensor:
    """``(B·N, ...) -> (B, N, ...)``."""
    return y.reshape((B, y.shape[0] // B) + tuple(y.shape[1:]))


def _to_channels(p: Tensor) -> Tensor:
    """``(B, N, C, ...) -> (N, B·C, ...)`` (the vmap batch moved into the channels)."""
    n = p.ndim
    q = p.permute((1, 0) + tuple(range(2, n)))
    return q.reshape((q.shape[0], q.shape[1] * q.shape[2]) + tuple(q.shape[3:]))


def _from_channels(y: Tensor, B: int) -> Tensor:
    """``(N, B·O, ...) -> (B, N, O, ...)``."""
    n = y.ndim
    q = y.reshape((y.shape[0], B, y.shape[1] // B) + tuple(y.shape[2:]))
    return q.permute((1, 0) + tuple(range(2, n + 1)))


# ----------------------------------------------------------------------------- convolution
def _conv(cls: type, args: tuple, kwargs: dict) -> Any:
    """ConvNd / ConvTransposeNd: fold the batch into N, or the groups trick for a batched
    weight (see the module docstring)."""
    b = _bind(cls, args, kwargs)
    x, w, bias = (_bt(b.arguments[k]) for k in ("x", "w", "b"))
    level, B = _level([x, w, bias])
    if _ndim(x) < 3 or _ndim(w) != _ndim(x):
        raise NoBatchRule(f"{cls.__name__} with unexpected input dimensions")
    transposed = cls is CV.ConvTransposeNd
    if not _is_b(w):
        if _is_b(bias):  # (added after: a batched bias alone needs no batched convolution)
            b.arguments["b"] = None
        if _is_b(x):  # the weight is shared: one convolution over B·N samples
            b.arguments["x"] = _fold(x._phys)
            if transposed:
                osh = tuple(b.arguments["out_shape"])
                b.arguments["out_shape"] = (B * osh[0],) + osh[1:]
            y = _unfold(_call(cls, b), B)
        else:
            y = _call(cls, b).unsqueeze(0)
        if _is_b(bias):
            y = y + bias._phys.reshape((B, 1, bias.shape[0]) + (1,) * (y.ndim - 3))
        return _wrap(y, level)
    # per-sample weights: the batch goes into the channels, B·G groups
    G = b.arguments["groups"]
    b.arguments["x"] = _to_channels(_phys_full(x, B))
    pw = w._phys
    b.arguments["w"] = pw.reshape((B * pw.shape[1],) + tuple(pw.shape[2:]))
    if bias is not None:
        pb = _phys_full(bias, B)
        b.arguments["b"] = pb.reshape((B * pb.shape[1],))
    b.arguments["groups"] = B * G
    if transposed:
        osh = tuple(b.arguments["out_shape"])
        b.arguments["out_shape"] = (osh[0], B * osh[1]) + osh[2:]
    return _wrap(_from_channels(_call(cls, b), B), level)


NN_RULES[CV.ConvNd] = NN_RULES[CV.ConvTransposeNd] = _conv


# ----------------------------------------------------------------------------- pooling
def _pool(cls: type, args: tuple, kwargs: dict) -> Any:
    """MaxPoolNd / AvgPoolNd work on the last k axes whatever the leading ones: the
    physical tensor (the batch as one more leading axis) goes in as it is."""
    b = _bind(cls, args, kwargs)
    x = _bt(b.arguments["x"])
    others = [v for k, v in b.arguments.items() if k not in ("ctx", "x")]
    if not _is_b(x) or any(_is_b(_bt(v)) for v in others):
        raise NoBatchRule(f"{cls.__name__} with batched options")
    if x.ndim < len(b.arguments["ks"]) + 1:
        raise NoBatchRule(f"{cls.__name__} with too few dimensions")
    b.arguments["x"] = x._phys
    return _wrap(_call(cls, b), x._level)


NN_RULES[PO.MaxPoolNd] = NN_RULES[PO.AvgPoolNd] = _pool


# ----------------------------------------------------------------------------- normalization
def _affine(y: Any, w: Any, bias: Any, shape: tuple) -> Any:
    """``y·w + bias`` on logical tensors (``w``, ``bias`` reshaped to ``shape``), through
    the elementwise rules."""
    if w is not None:
        y = y * w.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _layer_norm(cls: type, args: tuple, kwargs: dict) -> Any:
    b = _bind(cls, args, kwargs)
    x, w, bias = (_bt(b.arguments[k]) for k in ("x", "weight", "bias"))
    level, B = _level([x, w, bias])
    k = b.arguments["k"]
    if _ndim(x) < k:
        raise NoBatchRule("LayerNorm with fewer dimensions than normalized")
    if not _is_b(w) and not _is_b(bias):
        b.arguments["x"] = x._phys
        return _wrap(_call(cls, b), level)
    # per-sample affine parameters: normalize without them, then y·w + b batched
    nshape = tuple(x.shape[_ndim(x) - k:])
    for t in (w, bias):
        if t is not None and tuple(t.shape) != nshape:
            raise NoBatchRule("LayerNorm with a weight of the wrong shape")
    b.arguments["weight"] = b.arguments["bias"] = None
    if _is_b(x):
        b.arguments["x"] = x._phys
        y = _wrap(_call(cls, b), level)
    else:
        y = _call(cls, b)
    return _affine(y, w, bias, nshape)


NN_RULES[NO.LayerNorm] = _layer_norm


def _batch_norm(cls: type, args: tuple, kwargs: dict) -> Any:
    b = _bind(cls, args, kwargs)
    A = b.arguments
    x, w, bias = _bt(A["x"]), _bt(A["weight"]), _bt(A["bias"])
    rm, rv = _bt(A["running_mean"]), _bt(A["running_var"])
    if _is_b(rm) or _is_b(rv) or _is_b(_bt(A["num_batches"])):
        raise NoBatchRule("BatchNorm with batched running statistics")
    level, B = _level([x, w, bias])
    if _ndim(x) < 2:
        raise NoBatchRule("BatchNorm of an input with fewer than 2 dimensions")
    C = x.shape[1]
    if A["use_batch_stats"]:
        if rm is not None or A["num_batches"] is not None:
            raise NoBatchRule("BatchNorm in training mode with running statistics (their "
                              "in-place update happens once per sample)")
        # statistics per sample: the batch moves into the channels, (N, B·C, ...)
        A["x"] = _to_channels(_phys_full(x, B))
        for k, t in (("weight", w), ("bias", bias)):
            if t is not None:
                A[k] = _phys_full(t, B).reshape((B * C,))
        return _wrap(_from_channels(_call(cls, b), B), level)
    # evaluation: each element on its own; fold the batch into N
    if _is_b(x):
        A["x"] = _fold(x._phys)
    if not _is_b(w) and not _is_b(bias):
        y = _call(cls, b)
        return _wrap(_unfold(y, B), level) if _is_b(x) else y  # (x unbatched: no batched arg)
    A["weight"] = A["bias"] = None
    y = _call(cls, b)
    if _is_b(x):
        y = _wrap(_unfold(y, B), level)
    return _affine(y, w, bias, (C,) + (1,) * (_ndim(x) - 2))


NN_RULES[NO.BatchNorm] = _batch_norm


# ----------------------------------------------------------------------------- embedding
def _embedding(cls: type, args: tuple, kwargs: dict) -> Any:
    b = _bind(cls, args, kwargs)
    w, idx = _bt(b.arguments["w"]), _bt(b.arguments["idx"])
    level, B = _level([w, idx])
    if not _is_b(w):
        b.arguments["idx"] = idx._phys
        return _wrap(_call(cls, b), level)
    if _ndim(w) != 2:
        raise NoBatchRule("Embedding with a weight that is not a matrix")
    V, D = w.shape
    if _is_b(idx):
        ia = idx._phys.array
    else:
        ia = idx.array if isinstance(idx, Tensor) else np.asarray(idx)
        ia = np.broadcast_to(ia, (B,) + tuple(ia.shape))
    if ia.dtype.kind not in "iu" or (ia.size and (int(ia.min()) < 0 or int(ia.max()) >= V)):
        raise NoBatchRule("Embedding with invalid indices")  # the loop gives the error
    # per-sample tables: one lookup in the (B·V, D) table at idx + b·V
    off = ia + (np.arange(B, dtype=ia.dtype) * V).reshape((B,) + (1,) * (ia.ndim - 1))
    pw = w._phys
    pad = b.arguments["padding_idx"]
    if pad is not None:  # that row gets no gradient (its value is kept)
        keep = np.ones((1, V, 1), dtype=pw.dtype)
        keep[0, pad] = 0
        keep_t = Tensor._make(keep, False)
        pw = pw * keep_t + pw.detach() * (1 - keep_t)
    return _wrap(cls.apply(pw.reshape((B * V, D)), Tensor._make(off, False), None), level)


NN_RULES[I.Embedding] = _embedding


# ----------------------------------------------------------------------------- dropout
def _dropout(cls: type, args: tuple, kwargs: dict) -> Any:
    b = _bind(cls, args, kwargs)
    x = _bt(b.arguments["x"])
    if not _is_b(x):
        raise NoBatchRule("Dropout with batched options")
    mode = MODES.get(x._level, "error")
    if mode == "error":
        raise randomness_error("dropout")
    ms = b.arguments["mask_shape"]
    if mode == "same":  # one logical mask for every sample
        ms = (1,) + (tuple(x.shape) if ms is None else tuple(ms))
    elif ms is not None:  # channel dropout: one draw per (sample, n, c)
        ms = (x._phys.shape[0],) + tuple(ms)
    b.arguments["mask_shape"] = ms
    b.arguments["x"] = x._phys
    with random_allowed():
        return _wrap(_call(cls, b), x._level)


NN_RULES[DR.Dropout] = _dropout


# ----------------------------------------------------------------------------- recurrent
def _seq(x: Any, B: int) -> Tensor:
    """``(T, N, G)`` logical -> ``(T, B·N, G)`` physical."""
    p = _phys_full(x, B).permute((1, 0, 2, 3))
    return p.reshape((p.shape[0], B * p.shape[2], p.shape[3]))


def _rnn(cls: type, args: tuple, kwargs: dict) -> Any:
    """The fused LSTM/GRU layers and cells: with shared recurrent weights the batch is
    folded into the RNN's batch axis (one call of the fused op); with per-sample recurrent
    weights the recurrence is unrolled on the physical tensors (:func:`_rnn_unrolled`)."""
    b = _bind(cls, args, kwargs)
    A = b.arguments
    # (LSTMLayer's optional bias b is not given under vmap: nn.LSTM leaves it in the projection)
    names = [k for k in A if k not in ("ctx", "reverse") and not (k == "b" and A[k] is None)]
    weights = [k for k in names if k in ("w_hh", "b_hh")]
    level, B = _level([_bt(A[k]) for k in names])
    if any(_is_b(_bt(A[k])) for k in weights):
        return _rnn_unrolled(cls, A, level, B)
    states = [k for k in names if k not in weights and k != "xproj"]
    layer = cls in (RN.LSTMLayer, RN.GRULayer)
    xp = _bt(A["xproj"])
    if _ndim(xp) != (3 if layer else 2) or any(_ndim(_bt(A[k])) != 2 for k in states):
        raise NoBatchRule(f"{cls.__name__} with unexpected dimensions")
    N = xp.shape[-2]
    A["xproj"] = _seq(xp, B) if layer else _fold(_phys_full(xp, B))
    for k in states:
        A[k] = _fold(_phys_full(A[k], B))
    out = _call(cls, b)
    outs = out if type(out) is tuple else (out,)
    res = []
    for i, o in enumerate(outs):
        if layer and i == 0:  # the outputs of every step (T, B·N, H) -> (B, T, N, H)
            o = o.reshape((o.shape[0], B, N, o.shape[2])).permute((1, 0, 2, 3))
        else:
            o = _unfold(o, B)
        res.append(BatchedTensor.wrap(o, level))
    return tuple(res) if type(out) is tuple else res[0]


def _lstm_step(x_t: Tensor, hp: Tensor, c: Tensor) -> tuple:
    """One LSTM step from ``a = xproj_t + h·W_hhᵀ`` (gates i, f, g, o on the last axis)."""
    i, f, g, o = (x_t + hp).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()     # c' = f ⊙ c + i ⊙ g
    return o.sigmoid() * c.tanh(), c                 # h' = o ⊙ tanh(c')


def _gru_step(x_t: Tensor, hp: Tensor, h: Tensor) -> Tensor:
    """One GRU step from ``xproj_t`` and ``hp = h·W_hhᵀ + b_hh`` (gates r, z, n)."""
    xr, xz, xn = x_t.chunk(3, -1)
    hr, hz, hn = hp.chunk(3, -1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()                         # b_hn stays inside r ⊙ (W_hn h + b_hn)
    return (1 - z) * n + z * h                       # h' = (1 − z) ⊙ n + z ⊙ h


def _rnn_unrolled(cls: type, A: dict, level: int, B: int) -> Any:
    """Per-sample recurrent weights (``vmap(grad)`` over an RNN's own parameters, an
    ensemble of RNNs): the cell's formulas (``ops/rnn.py``) step by step with ordinary ops
    on the physical tensors. The recurrent product of a step is one ``BatchedLinear``,
    ``hp[b] = h[b]·W_hh[b]ᵀ + b_hh[b]`` for ``h: (B, N, H)``, ``W_hh: (B, G·H, H)`` (a single
    GEMM when the weight is ``grad``'s broadcast leaf), so autograd gives each sample's own
    ``dW_hh``; the gates are elementwise ops; a layer's outputs are stacked to
    ``(B, T, N, H)``. A layer whose weights are ``grad``'s broadcast leaf (one matrix for
    every sample) runs faster as the fused op over ``B·N`` sequences with a per-sample
    ``dW_hh`` in its backward (``SharedWeight*Layer``, ``_batched_rnn.py``)."""
    lstm = cls in (RN.LSTMLayer, RN.LSTMCellFused)
    layer = cls in (RN.LSTMLayer, RN.GRULayer)
    G = 4 if lstm else 3
    x, w = _bt(A["xproj"]), _bt(A["w_hh"])
    h = _bt(A["h0" if layer else "h"])
    c = _bt(A["c0" if layer else "c"]) if lstm else None
    bh = None if lstm else _bt(A["b_hh"])
    H = w.shape[-1] if _ndim(w) == 2 else -1
    ts = [t for t in (x, w, h, c, bh) if t is not None]
    if (H < 0 or tuple(w.shape) != (G * H, H) or _ndim(h) != 2 or h.shape[1] != H
            or _ndim(x) != (3 if layer else 2) or tuple(x.shape[-2:]) != (h.shape[0], G * H)
            or (layer and x.shape[0] == 0)
            or (c is not None and (_ndim(c) != 2 or tuple(c.shape) != tuple(h.shape)))
            or (bh is not None and tuple(bh.shape) != (G * H,))
            or not all(isinstance(t, Tensor) for t in ts) or len({t.dtype for t in ts}) != 1):
        raise NoBatchRule(f"{cls.__name__} with per-sample recurrent weights and unexpected "
                          "shapes or dtypes")  # the loop gives the op's own error
    pw = _phys_full(w, B)
    pb = None if bh is None else _phys_full(bh, B)
    ph = _phys_full(h, B)
    pc = None if c is None else _phys_full(c, B)
    if layer and all(t is None or B == 1 or t.array.strides[0] == 0 for t in (pw, pb)):
        # grad's broadcast leaf (one weight for every sample): the fused layer over B·N
        # sequences, each sample's own dW_hh from its BPTT (_batched_rnn.py)
        N = x.shape[1]
        xf, hf = _seq(x, B), _fold(ph)
        if lstm:
            res = SharedWeightLSTMLayer.apply(xf, hf, _fold(pc), pw, reverse=A["reverse"])
        else:
            res = SharedWeightGRULayer.apply(xf, hf, pw, pb, reverse=A["reverse"])
        o = res[0]
        out = o.reshape((o.shape[0], B, N, o.shape[2])).permute((1, 0, 2, 3))
        return _wrap((out,) + tuple(_unfold(r, B) for r in res[1:]), level)
    px = _phys_full(x, B)
    steps = RN.unbind_steps(px.permute((1, 0, 2, 3))) if layer else (px,)  # T × (B, N, G·H)
    T = len(steps)
    order = range(T - 1, -1, -1) if layer and A["reverse"] else range(T)
    outs, ph, pc = _recur(lstm, steps, order, ph, pc, pw, pb)
    if not layer:
        return _wrap((ph, pc) if lstm else ph, level)
    out = MV.Stack.apply(1, *outs)
    return _wrap((out, ph, pc) if lstm else (out, ph), level)


def _recur(lstm: bool, steps: Any, order: Any, h: Tensor, c: Any, w: Tensor, b: Any) -> tuple:
    """The recurrence with ordinary ops on physical tensors: ``steps[t] (B, N, G·H)``,
    ``h, c (B, N, H)``, ``w (B, G·H, H)``, ``b (B, G·H)`` or None; the recurrent product of
    a step is one ``BatchedLinear`` (each sample's ``h[b]·W_hh[b]ᵀ + b_hh[b]``). Returns
    ``(outputs by step, h, c)``."""
    outs: list = [None] * len(steps)
    for t in order:
        hp = BatchedLinear.apply(h, w, b)
        if lstm:
            h, c = _lstm_step(steps[t], hp, c)
        else:
            h = _gru_step(steps[t], hp, h)
        outs[t] = h
    return outs, h, c


def _unrolled_layer(lstm: bool, ins: list, reverse: bool) -> tuple:
    """The outputs of ``SharedWeightLSTMLayer``/``SharedWeightGRULayer`` (folded shapes:
    ``xproj (T, B·N, G·H)``, ``h0 (B·N, H)``, ``w (B, G·H, H)``) from :func:`_recur`, as a
    differentiable graph (their double backward)."""
    x, h0, c0, w, b = (ins[0], ins[1], ins[2], ins[3], None) if lstm else \
        (ins[0], ins[1], None, ins[2], ins[3])
    B, H = w.shape[0], w.shape[2]
    T, BN, GH = x.shape
    steps = RN.unbind_steps(x.reshape((T, B, BN // B, GH)))
    order = range(T - 1, -1, -1) if reverse else range(T)
    outs, h, c = _recur(lstm, steps, order, h0.reshape((B, BN // B, H)),
                        None if c0 is None else c0.reshape((B, BN // B, H)), w, b)
    res = (MV.Stack.apply(0, *outs).reshape((T, BN, H)), h.reshape((BN, H)))
    return res + (c.reshape((BN, H)),) if lstm else res


for _c in (RN.LSTMLayer, RN.GRULayer, RN.LSTMCellFused, RN.GRUCellFused):
    NN_RULES[_c] = _rnn


def _unbind(cls: type, args: tuple, kwargs: dict) -> Any:
    x = _bt(args[0])
    if len(args) != 1 or kwargs or not _is_b(x) or x.ndim == 0:
        raise NoBatchRule("Unbind with unexpected arguments")
    p = x._phys
    q = p.permute((1, 0) + tuple(range(2, p.ndim)))
    return _wrap(cls.apply(q), x._level)


NN_RULES[RN.Unbind] = _unbind


# ----------------------------------------------------------------------------- attention
def _attention(cls: type, args: tuple, kwargs: dict) -> Any:
    """Broadcasting on the logical leading dims (as matmul): batched q, k, v and mask as
    ``(B, 1.., *logical)``, unbatched ones broadcast from the right."""
    b = _bind(cls, args, kwargs)
    A = b.arguments
    if _is_b(_bt(A["generator"])) or not isinstance(A["scale"], (int, float)):
        raise NoBatchRule("ScaledDotProductAttention with batched options")
    keys = ["q", "k", "v"] + (["mask"] if A["mask"] is not None else [])
    ops, level = aligned([A[k] for k in keys])
    if any(_ndim(_bt(A[k])) < 2 for k in ("q", "k", "v")):
        raise NoBatchRule("ScaledDotProductAttention with fewer than 2 dimensions")
    for k, o in zip(keys, ops):
        A[k] = o
    if A["dropout_p"] > 0.0:
        mode = MODES.get(level, "error")
        if mode == "error":
            raise randomness_error("scaled_dot_product_attention (dropout)")
        if mode == "same":
            raise NoBatchRule("attention dropout with randomness='same'")
        with random_allowed():
            return _wrap(_call(cls, b), level)
    return _wrap(_call(cls, b), level)


NN_RULES[AT.ScaledDotProductAttention] = _attention
