"""Whole-module converters: recurrent layers to ONNX ``LSTM``/``GRU``/``RNN`` and
``MultiheadAttention`` to projections + scaled dot-product attention.

Gate orders. PyTorch (and glassgrad) stack the gate blocks of ``weight_ih``/``weight_hh``
as LSTM ``(i, f, g, o)`` and GRU ``(r, z, n)``; ONNX wants LSTM ``(i, o, f, c)`` and GRU
``(z, r, h)``. The blocks are reordered here, and GRU uses ``linear_before_reset=1``,
which is PyTorch's formula ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._graph import Graph
from ._ops import attention
from ._trace import Call, ExportError

__all__ = ["MODULE_CONVERTERS"]

_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _blocks(a: np.ndarray, order: list) -> np.ndarray:
    parts = np.split(a, len(order), axis=0)
    return np.concatenate([parts[i] for i in order], axis=0)


def _recurrent(g: Graph, c: Call, c2: Call) -> None:
    m = c.target
    mode = m.mode
    if c.kwargs.get("lengths") is not None or (len(c.args) > 2 and c.args[2] is not None):
        raise ExportError(f"onnx.export: {g.where}: variable-length sequences (lengths=) are not supported")
    if len(c.ins) > 1 and any(c.ins[1:]):
        raise ExportError(f"onnx.export: {g.where}: an initial state was given; the exporter supports "
                          "recurrent layers that start from zeros")
    if getattr(m, "proj_size", 0):
        raise ExportError(f"onnx.export: {g.where}: LSTM projections are not supported")
    x = c.ins[0]
    batched = len(c.in_shapes[0]) == 3
    if not batched:
        x = g.unsqueeze(x, [1])
    elif m.batch_first:
        x = g.node("Transpose", [x], perm=[1, 0, 2])
    H = m.hidden_size
    D = 2 if m.bidirectional else 1
    order = _ORDER[mode]
    G = len(order)
    sd = {k: v.detach().numpy() for k, v in m.named_parameters()}
    op = "LSTM" if mode == "LSTM" else "GRU" if mode == "GRU" else "RNN"
    hs, cs = [], []
    for layer in range(m.num_layers):
        W, R, B = [], [], []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            W.append(_blocks(sd["weight_ih" + sfx], order))
            R.append(_blocks(sd["weight_hh" + sfx], order))
            if m.bias:
                B.append(np.concatenate([_blocks(sd["bias_ih" + sfx], order),
                                         _blocks(sd["bias_hh" + sfx], order)]))
            else:
                B.append(np.zeros(2 * G * H, dtype=W[-1].dtype))
        ins = [x, g.const(np.stack(W), hint="W"), g.const(np.stack(R), hint="R"),
               g.const(np.stack(B), hint="B")]
        attrs: dict[str, Any] = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
        if op == "GRU":
            attrs["linear_before_reset"] = 1
        if op == "RNN":
            act = "Tanh" if mode == "RNN_TANH" else "Relu"
            attrs["activations"] = [act] * D
        n_out = 3 if op == "LSTM" else 2
        outs = g.node(op, ins, n_out, **attrs)
        y, yh = outs[0], outs[1]
        hs.append(yh)
        if op == "LSTM":
            cs.append(outs[2])
        # Y: (T, D, B, H) -> (T, B, D*H)
        y = g.node("Transpose", [y], perm=[0, 2, 1, 3])
        x = g.node("Reshape", [y, g.ints([0, 0, -1])])
    out = x
    if not batched:
        out = g.squeeze(out, [1])
    elif m.batch_first:
        out = g.node("Transpose", [out], perm=[1, 0, 2])
    g.node("Identity", [out], c.outs[0])
    states = [hs] + ([cs] if op == "LSTM" else [])
    for name, parts in zip(c.outs[1:], states):
        s = parts[0] if len(parts) == 1 else g.node("Concat", parts, axis=0)
        if not batched:
            s = g.squeeze(s, [1])
        g.node("Identity", [s], name)


def _mha(g: Graph, c: Call, c2: Call) -> None:
    m = c.target
    kw = dict(c.kwargs)
    for k in ("key_padding_mask", "attn_mask"):
        if kw.get(k) is not None:
            raise ExportError(f"onnx.export: {g.where}: {k}= is not supported by the exporter")
    if len(c.ins) > 3:
        raise ExportError(f"onnx.export: {g.where}: MultiheadAttention was given positional masks; the "
                          "exporter supports query, key, value and is_causal=")
    need_weights = kw.get("need_weights", True)
    average = kw.get("average_attn_weights", True)
    is_causal = kw.get("is_causal", False)
    q_in, k_in, v_in = c.ins[:3]
    batched = len(c.in_shapes[0]) == 3
    E, h = m.embed_dim, m.num_heads
    hd = E // h

    def lay(x: str) -> str:
        if not batched:
            return g.unsqueeze(x, [1])
        if m.batch_first:
            return g.node("Transpose", [x], perm=[1, 0, 2])
        return x

    L = c.in_shapes[0][1 if (batched and m.batch_first) else 0]
    S = c.in_shapes[1][1 if (batched and m.batch_first) else 0]
    sd = {k: v.detach().numpy() for k, v in m.named_parameters()}
    if m._qkv_same_embed_dim:
        w = sd["in_proj_weight"]
        ws = [w[:E], w[E:2 * E], w[2 * E:]]
    else:
        ws = [sd["q_proj_weight"], sd["k_proj_weight"], sd["v_proj_weight"]]
    b = sd.get("in_proj_bias")
    bs = [None] * 3 if b is None else [b[:E], b[E:2 * E], b[2 * E:]]

    def proj(x: str, w: np.ndarray, b: Any) -> str:
        y = g.node("MatMul", [x, g.const(np.ascontiguousarray(w.T), hint="Wt")])
        return y if b is None else g.node("Add", [y, g.const(b, hint="b")])

    def heads(x: str) -> str:  # (T, N, E) -> (N, h, T, hd)
        x = g.node("Reshape", [x, g.ints([0, 0, h, hd])])
        return g.node("Transpose", [x], perm=[1, 2, 0, 3])

    q = heads(proj(lay(q_in), ws[0], bs[0]))
    k = heads(proj(lay(k_in), ws[1], bs[1]))
    v = heads(proj(lay(v_in), ws[2], bs[2]))
    mask = None
    if is_causal:
        dt = c.out_dtypes[0]
        mask = g.const(np.triu(np.full((L, S), -np.inf, dtype=dt), 1))
    o, w = attention(g, q, k, v, mask, 1.0 / math.sqrt(hd), 4, None)
    o = g.node("Transpose", [o], perm=[2, 0, 1, 3])                 # (L, N, h, hd)
    o = g.node("Reshape", [o, g.ints([0, 0, E])])
    out = g.node("MatMul", [o, g.node("Transpose", [_param(g, m, "out_proj.weight")], perm=[1, 0])])
    if m.out_proj.bias is not None:
        out = g.node("Add", [out, _param(g, m, "out_proj.bias")])
    if not batched:
        out = g.squeeze(out, [1])
    elif m.batch_first:
        out = g.node("Transpose", [out], perm=[1, 0, 2])
    g.node("Identity", [out], c.outs[0])
    if need_weights and len(c.outs) > 1:
        if average:
            w = g.reduce("ReduceMean", w, [1], False)
        if not batched:
            w = g.squeeze(w, [0])
        g.node("Identity", [w], c.outs[1])


def _param(g: Graph, m: Any, name: str) -> str:
    obj = m
    for part in name.split("."):
        obj = getattr(obj, part)
    return g.const(obj.detach().numpy(), hint=name.replace(".", "_"))


MODULE_CONVERTERS = {"LSTM": _recurrent, "GRU": _recurrent, "RNN": _recurrent, "MultiheadAttention": _mha}
