"""The ONNX graph being built: nodes, initializers, fresh names, and helpers the converters
share (constants, axes inputs that moved between opsets, reshape targets with dynamic dims)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._trace import Call, ExportError

__all__ = ["Graph"]


class Graph:
    """Collects ONNX nodes for one export.

    ``shapes`` holds each value's traced shape and ``shapes2`` its shape in the second
    trace (with the dynamic axes grown by one); a dim that differs between the two depends
    on a dynamic axis.
    """

    def __init__(self, opset: int, shapes: dict, shapes2: dict, dtypes: dict) -> None:
        from onnx import helper

        self.helper = helper
        self.opset = opset
        self.nodes: list = []
        self.inits: dict[str, np.ndarray] = {}
        self.shapes, self.shapes2, self.dtypes = shapes, shapes2, dtypes
        self.n = 0
        self.where = ""

    # ---- names and nodes ---------------------------------------------------------------
    def fresh(self, hint: str = "t") -> str:
        self.n += 1
        return f"_{hint}_{self.n}"

    def node(self, op: str, ins: list, outs: Any = None, **attrs: Any) -> Any:
        """Add a node; ``outs`` is a name, a list of names or a count (fresh names)."""
        if outs is None:
            outs = 1
        if isinstance(outs, int):
            outs = [self.fresh(op.lower()) for _ in range(outs)]
        elif isinstance(outs, str):
            outs = [outs]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op, list(ins), list(outs), name=self.fresh(op), **attrs))
        return outs[0] if len(outs) == 1 else outs

    def const(self, value: Any, dtype: Any = None, hint: str = "c") -> str:
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.inits[name] = arr
        return name

    def ints(self, values: Any) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), hint="i")

    def scalar_like(self, v: Any, like: str) -> str:
        """A Python number or NumPy array operand as a constant of ``like``'s dtype."""
        dt = self.dtypes.get(like, np.dtype(np.float32))
        if isinstance(v, bool) and dt.kind == "f":
            v = float(v)
        arr = np.asarray(v)
        if arr.dtype != dt and not (arr.dtype == np.bool_ and dt == np.bool_):
            arr = arr.astype(dt)
        return self.const(arr)

    # ---- opset-dependent forms --------------------------------------------------------
    def reduce(self, op: str, x: str, axes: Any, keepdims: bool, out: Any = None) -> Any:
        if axes is None:
            axes = list(range(len(self.shapes[x])))
        axes = [int(a) for a in (axes if isinstance(axes, (list, tuple)) else [axes])]
        if op == "ReduceSum" or self.opset >= 18:
            return self.node(op, [x, self.ints(axes)], out, keepdims=int(bool(keepdims)))
        return self.node(op, [x], out, axes=axes, keepdims=int(bool(keepdims)))

    def unsqueeze(self, x: str, axes: list, out: Any = None) -> Any:
        return self.node("Unsqueeze", [x, self.ints(axes)], out)

    def squeeze(self, x: str, axes: list, out: Any = None) -> Any:
        return self.node("Squeeze", [x, self.ints(axes)], out)

    # ---- shapes ------------------------------------------------------------------------
    def dynamic_dims(self, name: str) -> list[int]:
        a, b = self.shapes.get(name), self.shapes2.get(name)
        if a is None or b is None:
            return []
        return [i for i, (p, q) in enumerate(zip(a, b)) if p != q]

    def reshape_target(self, x: str, t1: tuple, t2: tuple, call: Call) -> str:
        """An ONNX ``Reshape`` shape input for the target ``t1`` (``t2`` in the second trace):
        dims that change with a dynamic axis become 0 (copy the input's dim at that index)
        when they equal it in both traces, else the one -1."""
        in1, in2 = self.shapes[x], self.shapes2.get(x, self.shapes[x])
        out = list(t1)
        changing = [i for i, (p, q) in enumerate(zip(t1, t2)) if p != q]
        for i in list(changing):
            if i < len(in1) and i < len(in2) and t1[i] == in1[i] and t2[i] == in2[i]:
                out[i] = 0
                changing.remove(i)
        if changing:
            if len(changing) > 1 or -1 in out:
                raise ExportError(f"onnx.export: {call.name} in {self.where} reshapes to {tuple(t1)}, in "
                                  "which several dims depend on the dynamic axes; the exporter can "
                                  "express one such dim (as -1) per reshape")
            out[changing[0]] = -1
        if 0 in t1:
            raise ExportError(f"onnx.export: {call.name} in {self.where} reshapes to {tuple(t1)} with a "
                              "zero-size dim, which ONNX Reshape reads as 'copy'")
        return self.ints(out)
