"""Broadcast markers: where did the backward have to *sum* a gradient over axes?

When ``b`` of shape ``(10,)`` is added to ``XW`` of shape ``(64, 10)``, NumPy copies ``b``
64 times. The gradient of a copied value is the sum of the gradients of its copies, so
the backward sums ``dZ`` over axis 0: ``db = Σ_rows dZ``, shape ``(64, 10) → (10,)``.
These sums are invisible in the code of a model and are a classic source of shape bugs,
so the trace marks every node where one happened. They are computed from the shapes
recorded at forward time (``node._in_meta`` vs ``node._out_meta``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ops._util import broadcast_axes

__all__ = ["BroadcastMark", "broadcast_marks", "BROADCASTING_OPS"]

#: Ops whose backward un-broadcasts elementwise (all tensor inputs against the output).
BROADCASTING_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "Where",
                              "Expand"})


@dataclass(frozen=True)
class BroadcastMark:
    """One input whose gradient was summed over broadcast axes.

    Attributes
    ----------
    input : int
        Position of the input among ``forward``'s arguments.
    axes : tuple of int
        Axes of ``grad_shape`` that were summed.
    grad_shape : tuple
        Shape of the gradient before the sum (the broadcast shape).
    input_shape : tuple
        Shape after the sum (the input's own shape).
    """

    input: int
    axes: tuple
    grad_shape: tuple
    input_shape: tuple

    def __str__(self) -> str:
        ax = ",".join(str(a) for a in self.axes)
        word = "axis" if len(self.axes) == 1 else "axes"
        return f"Σ {word} {ax}: {_shp(self.grad_shape)}→{_shp(self.input_shape)}"

    def to_dict(self) -> dict:
        return {"input": self.input, "axes": list(self.axes), "grad_shape": list(self.grad_shape),
                "input_shape": list(self.input_shape)}


def _shp(s: tuple) -> str:
    return "(" + ", ".join(str(int(d)) for d in s) + ("," if len(s) == 1 else "") + ")"


def _mark(i: int, in_shape: tuple, out_shape: tuple) -> BroadcastMark | None:
    in_shape, out_shape = tuple(in_shape), tuple(out_shape)
    if in_shape == out_shape or len(in_shape) > len(out_shape):
        return None
    axes = broadcast_axes(in_shape, out_shape)
    if not axes:
        return None
    return BroadcastMark(i, tuple(axes), out_shape, in_shape)


def broadcast_marks(node: Any) -> list[BroadcastMark]:
    """The inputs of ``node`` (a graph node, ``tensor.grad_fn``) whose gradient the
    backward sums over broadcast axes; empty for ops that do not broadcast.

    Covers the elementwise binary ops, ``where``, ``expand``, the batch dimensions of
    ``matmul`` (a weight shared across a batch), the bias of the fused linear layer and of
    convolutions, and the per-feature γ, β of batch and layer normalization.
    """
    name = type(node).__name__
    in_meta = getattr(node, "_in_meta", ()) or ()
    out_meta = getattr(node, "_out_meta", ()) or ()
    edges = getattr(node, "_edges", None) or (None,) * len(in_meta)
    if not out_meta:
        return []
    out_shape = tuple(out_meta[0][0])
    marks: list[BroadcastMark] = []
    if name in BROADCASTING_OPS:
        for i, m in enumerate(in_meta):
            if m is None or edges[i] is None:
                continue
            mk = _mark(i, m[0], out_shape)
            if mk:
                marks.append(mk)
    elif name == "MatMul" and len(in_meta) == 2 and None not in in_meta:
        sa, sb = tuple(in_meta[0][0]), tuple(in_meta[1][0])
        ba, bb = sa[:-2], sb[:-2]
        try:
            bo = tuple(np.broadcast_shapes(ba, bb))
        except ValueError:
            return []
        for i, (s, bs) in enumerate(((sa, ba), (sb, bb))):
            if edges[i] is None or bs == bo:
                continue
            axes = broadcast_axes(bs, bo)
            if axes:
                mat = s[-2:] if len(s) >= 2 else s
                marks.append(BroadcastMark(i, tuple(axes), bo + mat, s))
    elif name in ("Linear", "LayerNorm"):
        # bias (and LayerNorm's γ, β) align with the trailing axes of the output
        for i in ((2,) if name == "Linear" else (1, 2)):
            if len(in_meta) > i and in_meta[i] is not None and edges[i] is not None:
                mk = _mark(i, tuple(in_meta[i][0]), out_shape)
                if mk:
                    marks.append(mk)
    elif name in ("ConvNd", "ConvTransposeNd", "BatchNorm"):
        # per-channel bias / γ / β of shape (C,) against an output (N, C, *spatial)
        for i in ((2,) if name != "BatchNorm" else (1, 2)):
            if len(in_meta) > i and in_meta[i] is not None and edges[i] is not None:
                s = tuple(in_meta[i][0])
                if len(s) == 1 and len(out_shape) >= 2 and out_shape[1] == s[0]:
                    axes = (0,) + tuple(range(2, len(out_shape)))
                    marks.append(BroadcastMark(i, axes, out_shape, s))
    return marks
