"""Converters from glassgrad ops (``Function`` classes) to ONNX nodes.

Each converter gets the :class:`~glassgrad.onnx._graph.Graph`, the recorded
:class:`~glassgrad.onnx._trace.Call` and the same call from the second trace (whose
non-tensor arguments show which sizes follow the dynamic axes), and writes nodes whose
outputs are the call's output names. ``CONVERTERS`` maps the op class name to its
converter; an op without one stops the export with its name and module path.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ._graph import Graph
from ._trace import Call, ExportError

__all__ = ["CONVERTERS"]

CONVERTERS: dict[str, Callable[[Graph, Call, Call], None]] = {}
_BIG = 2**62


def _reg(*names: str) -> Callable:
    def deco(fn: Callable) -> Callable:
        for n in names:
            CONVERTERS[n] = fn
        return fn

    return deco


def _refuse(g: Graph, c: Call, why: str) -> ExportError:
    return ExportError(f"onnx.export: op {c.name} in {g.where}: {why}")


def _operand(g: Graph, c: Call, k: int, like: str) -> str:
    """Input ``k`` of ``c``: its value name, or a constant of ``like``'s dtype."""
    if c.ins[k] is not None:
        return c.ins[k]
    return g.scalar_like(c.args[k], like)


# ---------------------------------------------------------------------------- elementwise
_UNARY = {"Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Abs": "Abs", "Sin": "Sin",
          "Cos": "Cos", "Tan": "Tan", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Relu": "Relu",
          "Erf": "Erf", "Sinh": "Sinh", "Cosh": "Cosh", "Asin": "Asin", "Acos": "Acos",
          "Atan": "Atan", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh"}


def _unary(g: Graph, c: Call, c2: Call) -> None:
    g.node(_UNARY[c.name], [c.ins[0]], c.outs[0])


for _n in _UNARY:
    CONVERTERS[_n] = _unary

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow", "Maximum": "Max",
           "Minimum": "Min", "MatMul": "MatMul"}


def _binary(g: Graph, c: Call, c2: Call) -> None:
    like = c.ins[0] if c.ins[0] is not None else c.ins[1]
    g.node(_BINARY[c.name], [_operand(g, c, 0, like), _operand(g, c, 1, like)], c.outs[0])


for _n in _BINARY:
    CONVERTERS[_n] = _binary


@_reg("RSub", "RDiv", "RPow")
def _reversed(g: Graph, c: Call, c2: Call) -> None:  # b - a, c / a, c ** a
    op = {"RSub": "Sub", "RDiv": "Div", "RPow": "Pow"}[c.name]
    g.node(op, [_operand(g, c, 1, c.ins[0]), c.ins[0]], c.outs[0])


@_reg("Where")
def _where(g: Graph, c: Call, c2: Call) -> None:
    like = c.ins[1] or c.ins[2]
    cond = c.ins[0] if c.ins[0] is not None else g.const(np.asarray(c.args[0], bool))
    if g.dtypes.get(cond, np.dtype(bool)) != np.bool_:
        cond = g.node("Cast", [cond], to=9)
    g.node("Where", [cond, _operand(g, c, 1, like), _operand(g, c, 2, like)], c.outs[0])


@_reg("Cast")
def _cast(g: Graph, c: Call, c2: Call) -> None:
    from onnx import helper

    g.node("Cast", [c.ins[0]], c.outs[0], to=int(helper.np_dtype_to_tensor_dtype(c.out_dtypes[0])))


@_reg("LeakyRelu")
def _leaky(g: Graph, c: Call, c2: Call) -> None:
    g.node("LeakyRelu", [c.ins[0]], c.outs[0], alpha=float(c.args[1] if len(c.args) > 1 else 0.01))


@_reg("Elu")
def _elu(g: Graph, c: Call, c2: Call) -> None:
    g.node("Elu", [c.ins[0]], c.outs[0], alpha=float(c.args[1] if len(c.args) > 1 else 1.0))


@_reg("Gelu")
def _gelu(g: Graph, c: Call, c2: Call) -> None:
    x = c.ins[0]
    approx = c.args[1] if len(c.args) > 1 else c.kwargs.get("approximate", "none")
    if g.opset >= 20:
        g.node("Gelu", [x], c.outs[0], approximate=str(approx))
        return
    half = g.scalar_like(0.5, x)
    one = g.scalar_like(1.0, x)
    if approx == "tanh":
        x3 = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [x3, g.scalar_like(0.044715, x)])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.scalar_like(math.sqrt(2 / math.pi), x)])])
    else:
        t = g.node("Erf", [g.node("Mul", [x, g.scalar_like(1 / math.sqrt(2), x)])])
    g.node("Mul", [g.node("Mul", [x, half]), g.node("Add", [t, one])], c.outs[0])


@_reg("Softplus")
def _softplus(g: Graph, c: Call, c2: Call) -> None:
    beta = float(c.args[1]) if len(c.args) > 1 else 1.0
    x = c.ins[0]
    if beta == 1.0:
        g.node("Softplus", [x], c.outs[0])
        return
    b = g.scalar_like(beta, x)
    g.node("Div", [g.node("Softplus", [g.node("Mul", [x, b])]), b], c.outs[0])


@_reg("LogSigmoid")
def _logsigmoid(g: Graph, c: Call, c2: Call) -> None:
    g.node("Neg", [g.node("Softplus", [g.node("Neg", [c.ins[0]])])], c.outs[0])


@_reg("Clamp")
def _clamp(g: Graph, c: Call, c2: Call) -> None:
    x = c.ins[0]
    args = list(c.args) + [None] * (3 - len(c.args))
    lo = c.ins[1] if len(c.ins) > 1 and c.ins[1] else (None if args[1] is None else g.scalar_like(args[1], x))
    hi = c.ins[2] if len(c.ins) > 2 and c.ins[2] else (None if args[2] is None else g.scalar_like(args[2], x))
    g.node("Clip", [x, lo or "", hi or ""], c.outs[0])


@_reg("Softmax", "LogSoftmax")
def _softmax(g: Graph, c: Call, c2: Call) -> None:
    axis = c.args[1] if len(c.args) > 1 else c.kwargs.get("axis", -1)
    g.node(c.name, [c.ins[0]], c.outs[0], axis=int(axis))


# ---------------------------------------------------------------------------- reductions
@_reg("Sum", "Mean", "Amax", "Amin")
def _reduce(g: Graph, c: Call, c2: Call) -> None:
    op = {"Sum": "ReduceSum", "Mean": "ReduceMean", "Amax": "ReduceMax", "Amin": "ReduceMin"}[c.name]
    args = list(c.args) + [None, None]
    axes = c.kwargs.get("axes", args[1])
    keep = c.kwargs.get("keepdims", args[2] or False)
    g.reduce(op, c.ins[0], axes, keep, c.outs[0])


# ---------------------------------------------------------------------------- nn
@_reg("Linear")
def _linear(g: Graph, c: Call, c2: Call) -> None:
    x, w = c.ins[0], c.ins[1]
    b = c.ins[2] if len(c.ins) > 2 else None
    if len(g.shapes[x]) == 2:
        g.node("Gemm", [x, w] + ([b] if b else []), c.outs[0], transB=1)
        return
    wt = g.node("Transpose", [w], perm=[1, 0])
    if b:
        g.node("Add", [g.node("MatMul", [x, wt]), b], c.outs[0])
    else:
        g.node("MatMul", [x, wt], c.outs[0])


def _spatial_pads(pads: Any) -> list[int]:
    return [int(p[0]) for p in pads] + [int(p[1]) for p in pads]


@_reg("ConvNd")
def _conv(g: Graph, c: Call, c2: Call) -> None:
    _, _, _, stride, pads, dil, groups, _ = c.args
    ins = [c.ins[0], c.ins[1]] + ([c.ins[2]] if c.ins[2] else [])
    g.node("Conv", ins, c.outs[0], strides=list(stride), pads=_spatial_pads(pads), dilations=list(dil),
           group=int(groups))


@_reg("ConvTransposeNd")
def _conv_t(g: Graph, c: Call, c2: Call) -> None:
    _, _, _, out_shape, stride, pads, dil, groups = c.args
    xs, ws = c.in_shapes[0], c.in_shapes[1]
    k = len(pads)
    outp = []
    for i in range(k):
        full = stride[i] * (xs[2 + i] - 1) + dil[i] * (ws[2 + i] - 1) + 1 - pads[i][0] - pads[i][1]
        outp.append(int(out_shape[2 + i] - full))
    if any(o < 0 for o in outp):
        raise _refuse(g, c, f"output size {tuple(out_shape)} is smaller than the transposed "
                            "convolution gives")
    ins = [c.ins[0], c.ins[1]] + ([c.ins[2]] if c.ins[2] else [])
    g.node("ConvTranspose", ins, c.outs[0], strides=list(stride), pads=_spatial_pads(pads),
           dilations=list(dil), group=int(groups), output_padding=outp if any(outp) else None)


def _ceil_mode(in_sp: tuple, ks: tuple, stride: tuple, pads: Any, dil: tuple, out_sp: tuple) -> int:
    for n, k, s, p, d, o in zip(in_sp, ks, stride, pads, dil, out_sp):
        floor = (n + p[0] + p[1] - d * (k - 1) - 1) // s + 1
        if o != floor:
            return 1
    return 0


@_reg("MaxPoolNd")
def _maxpool(g: Graph, c: Call, c2: Call) -> None:
    args = list(c.args) + [False]
    _, ks, stride, pads, dil, out_sp, with_idx = args[:7]
    if with_idx:
        raise _refuse(g, c, "max pooling with return_indices=True is not supported")
    ceil = _ceil_mode(c.in_shapes[0][2:], ks, stride, pads, dil, out_sp)
    g.node("MaxPool", [c.ins[0]], c.outs[0], kernel_shape=list(ks), strides=list(stride),
           pads=_spatial_pads(pads), dilations=list(dil) if any(d != 1 for d in dil) else None,
           ceil_mode=ceil or None)


@_reg("AvgPoolNd")
def _avgpool(g: Graph, c: Call, c2: Call) -> None:
    _, ks, stride, pads, inv, out_sp = c.args
    in_sp = c.in_shapes[0][2:]
    ceil = _ceil_mode(in_sp, ks, stride, pads, (1,) * len(ks), out_sp)
    # ONNX's count_include_pad=0 divides each window's sum by its in-bounds element count;
    # glassgrad's divisor (padding counted or not, ceil-mode overhang, divisor_override) is
    # the recorded 1/divisor array: rescale by divisor_onnx / divisor where they differ
    counts = np.ones((), dtype=np.float64)
    for n, k, s, p, o in zip(in_sp, ks, stride, pads, out_sp):
        start = np.arange(o) * s - p[0]
        cnt = np.minimum(start + k, n) - np.maximum(start, 0)
        counts = np.multiply.outer(counts, cnt.astype(np.float64))
    factor = np.broadcast_to(np.asarray(inv, dtype=np.float64), tuple(out_sp)) * counts
    y = g.node("AveragePool", [c.ins[0]], None if not np.allclose(factor, 1.0) else c.outs[0],
               kernel_shape=list(ks), strides=list(stride), pads=_spatial_pads(pads), ceil_mode=ceil or None,
               count_include_pad=0)
    if not np.allclose(factor, 1.0):
        g.node("Mul", [y, g.const(factor.astype(g.dtypes[c.ins[0]]))], c.outs[0])


@_reg("BatchNorm")
def _batchnorm(g: Graph, c: Call, c2: Call) -> None:
    x, w, b, rm, rv = c.ins[:5]
    use_batch, eps = c.args[5], c.args[7]
    if use_batch or rm is None or rv is None:
        raise _refuse(g, c, "batch norm with batch statistics (training mode, or "
                            "track_running_stats=False) is not supported; export in eval mode")
    C = c.in_shapes[0][1]
    dt = g.dtypes[x]
    w = w or g.const(np.ones(C, dt))
    b = b or g.const(np.zeros(C, dt))
    g.node("BatchNormalization", [x, w, b, rm, rv], c.outs[0], epsilon=float(eps))


@_reg("LayerNorm")
def _layernorm(g: Graph, c: Call, c2: Call) -> None:
    x, w, b = c.ins[:3]
    k, eps = int(c.args[3]), float(c.args[4])
    ns = c.in_shapes[0][-k:]
    dt = g.dtypes[x]
    w = w or g.const(np.ones(ns, dt))
    b = b or g.const(np.zeros(ns, dt))
    g.node("LayerNormalization", [x, w, b], c.outs[0], axis=-k, epsilon=eps)


@_reg("Embedding")
def _embedding(g: Graph, c: Call, c2: Call) -> None:
    idx = c.ins[1] if c.ins[1] is not None else g.const(np.asarray(c.args[1], np.int64))
    g.node("Gather", [c.ins[0], idx], c.outs[0], axis=0)


@_reg("Dropout")
def _dropout(g: Graph, c: Call, c2: Call) -> None:
    raise _refuse(g, c, "dropout ran in training mode; export calls model.eval() first, so a dropout "
                        "op here was called with training=True explicitly")


@_reg("ScaledDotProductAttention")
def _sdpa(g: Graph, c: Call, c2: Call) -> None:
    q, k, v = c.ins[:3]
    mask = c.ins[3]
    if mask is None and c.args[3] is not None:
        mask = g.const(np.asarray(c.args[3]))
    scale = c.args[4]
    if len(c.args) > 5 and c.args[5]:
        raise _refuse(g, c, "attention dropout in training mode")
    attention(g, q, k, v, mask, float(scale), len(c.in_shapes[1]), c.outs[0])


def attention(g: Graph, q: str, k: str, v: str, mask: Any, scale: float, rank: int, out: Any) -> Any:
    """``softmax(q·kᵀ·scale + mask)·v``; a boolean mask means True = may attend."""
    perm = list(range(rank))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    s = g.node("MatMul", [g.node("Mul", [q, g.scalar_like(scale, q)]), g.node("Transpose", [k], perm=perm)])
    if mask is not None:
        if g.dtypes.get(mask) == np.bool_:
            mask = g.node("Where", [mask, g.scalar_like(0.0, q), g.scalar_like(-np.inf, q)])
        s = g.node("Add", [s, mask])
    w = g.node("Softmax", [s], axis=-1)
    return g.node("MatMul", [w, v], out), w


# ---------------------------------------------------------------------------- movement
@_reg("Reshape")
def _reshape(g: Graph, c: Call, c2: Call) -> None:
    t1 = tuple(int(s) for s in c.args[1])
    t2 = tuple(int(s) for s in c2.args[1])
    g.node("Reshape", [c.ins[0], g.reshape_target(c.ins[0], t1, t2, c)], c.outs[0])


@_reg("Permute")
def _permute(g: Graph, c: Call, c2: Call) -> None:
    g.node("Transpose", [c.ins[0]], c.outs[0], perm=[int(p) for p in c.args[1]])


@_reg("Expand")
def _expand(g: Graph, c: Call, c2: Call) -> None:
    x = c.ins[0]
    t1, t2 = list(c.args[1]), list(c2.args[1])
    xin, xin2 = g.shapes[x], g.shapes2.get(x, g.shapes[x])
    off = len(t1) - len(xin)
    out = []
    for i, (a, b) in enumerate(zip(t1, t2)):
        j = i - off
        if a != b or a == -1:  # follows a dynamic axis: must come from the input itself
            if j < 0 or xin[j] != a or xin2[j] != b:
                raise _refuse(g, c, f"expanding to {tuple(t1)} where a dim follows a dynamic axis that "
                                    "the input does not have")
            out.append(1)
        else:
            out.append(int(a))
    g.node("Expand", [x, g.ints(out)], c.outs[0])


@_reg("Cat", "Stack")
def _cat(g: Graph, c: Call, c2: Call) -> None:
    axis = int(c.args[0])
    ins = [n if n is not None else g.const(np.asarray(a)) for n, a in zip(c.ins[1:], c.args[1:])]
    if c.name == "Stack":
        rank = len(g.shapes[ins[0]]) + 1
        ax = axis % rank
        ins = [g.unsqueeze(n, [ax]) for n in ins]
        axis = ax
    g.node("Concat", ins, c.outs[0], axis=axis)


@_reg("Split")
def _split(g: Graph, c: Call, c2: Call) -> None:
    sizes, axis = c.args[1], int(c.args[2])
    if c.out_shapes[0][axis % len(c.out_shapes[0])] != (
            c2.out_shapes[0][axis % len(c2.out_shapes[0])] if c2.out_shapes else None):
        raise _refuse(g, c, "splitting along a dynamic axis")
    sz = [int(s[axis]) for s in c.out_shapes]
    g.node("Split", [c.ins[0], g.ints(sz)], list(c.outs), axis=axis)
    del sizes


@_reg("Pad")
def _pad(g: Graph, c: Call, c2: Call) -> None:
    pw = c.args[1]
    value = c.args[2] if len(c.args) > 2 else c.kwargs.get("value", 0.0)
    pads = [int(p[0]) for p in pw] + [int(p[1]) for p in pw]
    g.node("Pad", [c.ins[0], g.ints(pads), g.scalar_like(value, c.ins[0])], c.outs[0], mode="constant")


@_reg("Flip")
def _flip(g: Graph, c: Call, c2: Call) -> None:
    axes = [int(a) for a in c.args[1]]
    n = len(axes)
    g.node("Slice", [c.ins[0], g.ints([-1] * n), g.ints([-_BIG] * n), g.ints(axes), g.ints([-1] * n)],
           c.outs[0])


@_reg("Tile")
def _tile(g: Graph, c: Call, c2: Call) -> None:
    reps = [int(r) for r in c.args[1]]
    x = c.ins[0]
    rank = len(g.shapes[x])
    if len(reps) > rank:
        x = g.unsqueeze(x, list(range(len(reps) - rank)))
    elif len(reps) < rank:
        reps = [1] * (rank - len(reps)) + reps
    g.node("Tile", [x, g.ints(reps)], c.outs[0])


@_reg("GetItem")
def _getitem(g: Graph, c: Call, c2: Call) -> None:
    from ..ops.indexing import INDEX_ARG

    x = c.ins[0]
    key = c.args[1]
    key = key if isinstance(key, tuple) else (key,)
    extra = iter(c.ins[2:])
    rank = len(g.shapes[x])
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    cur, axis = x, 0
    starts, ends, axes, steps, gathers, unsq = [], [], [], [], [], []
    out_axis = 0
    for k in key:
        if k is Ellipsis:
            skip = rank - n_real
            axis += skip
            out_axis += skip
        elif k is None:
            unsq.append(out_axis)
            out_axis += 1
        elif isinstance(k, slice):
            step = 1 if k.step is None else int(k.step)
            if step > 0:
                st = 0 if k.start is None else int(k.start)
                en = _BIG if k.stop is None else int(k.stop)
            else:
                st = -1 if k.start is None else int(k.start)
                en = -_BIG if k.stop is None else int(k.stop)
            if (st, en, step) != (0, _BIG, 1):
                starts.append(st)
                ends.append(en)
                axes.append(axis)
                steps.append(step)
            axis += 1
            out_axis += 1
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            gathers.append((axis, g.const(np.asarray(int(k), np.int64)), True))
            axis += 1
        else:
            if k is INDEX_ARG:
                idx = next(extra)
            elif isinstance(k, np.ndarray) and k.dtype.kind in "iu":
                idx = g.const(k.astype(np.int64))
            else:
                raise _refuse(g, c, f"indexing with {type(k).__name__} {getattr(k, 'dtype', '')} "
                                    "(supported: ints, slices, None, ..., and one integer index array)")
            if g.dtypes.get(idx, np.dtype(np.int64)).kind == "b":
                raise _refuse(g, c, "boolean-mask indexing (its output shape depends on the values)")
            gathers.append((axis, idx, False))
            axis += 1
            out_axis += 1
    arrays = [a for a in gathers if not a[2]]
    if len(arrays) > 1:
        raise _refuse(g, c, "indexing with more than one index array")
    if starts:
        cur = g.node("Slice", [cur, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    removed = 0
    for ax, idx, scalar in gathers:  # in axis order; scalar gathers remove their axis
        cur = g.node("Gather", [cur, idx], axis=ax - removed)
        if scalar:
            removed += 1
        elif len(g.shapes.get(idx, (0,))) != 1:
            raise _refuse(g, c, "an index array that is not 1-D")
    if unsq:
        cur = g.unsqueeze(cur, unsq)
    g.node("Identity", [cur], c.outs[0])
