"""ONNX export: ``gg.onnx.export(model, args, path, ...)``, as ``torch.onnx.export``.

How it works
------------
1. **Trace.** The model runs once in eval mode under ``no_grad`` while a recorder (the hook
   :func:`glassgrad.capture` uses) writes down every op it calls: the op's ``Function``
   class, its non-tensor arguments, where its tensor arguments come from and the module
   that called it (see :mod:`glassgrad.onnx._trace`). Parameters and buffers the ops read
   become initializers under their ``state_dict`` names. ``LSTM``/``GRU``/``RNN`` and
   ``MultiheadAttention`` are recorded as one call each.
2. **Dynamic axes.** When ``dynamic_axes`` is given, the model is traced a second time with
   each dynamic axis one longer. Sizes that differ between the two traces follow the
   dynamic axes: a reshape target writes them as ``0`` (copy the input's dim) or ``-1``,
   and they become symbolic dims of the graph's inputs and outputs.
3. **Convert.** Each recorded call is mapped to ONNX nodes by a converter
   (:mod:`glassgrad.onnx._ops`, :mod:`glassgrad.onnx._modules`); an op without one stops
   the export with the op's name and the module path that called it.
4. **Check and write.** ``onnx.checker.check_model(full_check=True)`` runs, then the file is
   written atomically.

Needs the ``onnx`` package (``pip install 'glassgrad[interop]'``); ``onnxruntime`` is only
needed to run the result.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ._trace import ExportError, trace

__all__ = ["export", "ExportError", "supported_ops", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17
_OPSETS = range(17, 22)


def supported_ops() -> list[str]:
    """The glassgrad op (``Function``) and module names the exporter converts."""
    from ._modules import MODULE_CONVERTERS
    from ._ops import CONVERTERS

    return sorted(set(CONVERTERS) | set(MODULE_CONVERTERS))


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError("gg.onnx.export needs the 'onnx' package: pip install 'glassgrad[interop]' "
                          "(or pip install onnx)") from None
    return onnx


def _axes_spec(spec: Any, name: str) -> dict[int, str]:
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return {int(k): f"{name}_dynamic_axes_{i + 1}" for i, k in enumerate(spec)}
    raise TypeError(f"onnx.export: dynamic_axes[{name!r}] must be a list of axes or a dict "
                    f"{{axis: name}}, got {type(spec).__name__}")


def _grow(arr: np.ndarray, axes: list[int]) -> np.ndarray:
    for ax in axes:
        idx = np.r_[np.arange(arr.shape[ax]), 0] if arr.shape[ax] else np.zeros(1, np.int64)
        arr = np.take(arr, idx, axis=ax) if arr.shape[ax] else np.concatenate(
            [arr, np.zeros(arr.shape[:ax] + (1,) + arr.shape[ax + 1:], arr.dtype)], axis=ax)
    return arr


def export(model: Any, args: Any, f: Any, *, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, dynamic_axes: dict | None = None,
           opset_version: int | None = None, export_params: bool = True, verbose: bool = False,
           do_constant_folding: bool = True, training: Any = None) -> Any:
    """Export ``model`` to an ONNX file (PyTorch's ``torch.onnx.export`` arguments).

    Parameters
    ----------
    model : nn.Module
        Exported in eval mode (its train/eval modes are restored afterwards).
    args : Tensor or tuple of Tensors
        Example inputs; the model is run on them.
    f : str, path-like or binary file object
        Where to write the model (atomically for a path).
    input_names, output_names : list of str, optional
        Graph input/output names (default ``input_0``..., ``output_0``...).
    dynamic_axes : dict, optional
        ``{name: [axis, ...]}`` or ``{name: {axis: "dim_name"}}`` for inputs and outputs
        whose sizes may change, e.g. ``{"x": {0: "batch"}, "y": {0: "batch"}}``.
    opset_version : int, optional
        ONNX opset, 17 to 21 (default :data:`DEFAULT_OPSET`).
    export_params, verbose, do_constant_folding, training
        Accepted for PyTorch compatibility; parameters are always exported, and the graph
        is already folded (the trace records values, not Python control flow).

    Returns
    -------
    onnx.ModelProto
        The exported model (also written to ``f``).

    Raises
    ------
    ExportError
        An op or module the exporter cannot convert (named with the module path that
        called it), or a shape that cannot be made dynamic.
    """
    from ..nn import Module
    from ..tensor import Tensor

    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    del export_params, do_constant_folding, training
    if not isinstance(model, Module):
        raise TypeError(f"onnx.export: model must be an nn.Module, got {type(model).__name__}")
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    if not args or not all(isinstance(a, Tensor) for a in args):
        raise TypeError("onnx.export: args must be a Tensor or a tuple of Tensors (the example inputs)")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset not in _OPSETS:
        raise ValueError(f"onnx.export: opset_version must be {_OPSETS.start}..{_OPSETS.stop - 1}, "
                         f"got {opset}")
    in_names = list(input_names or [])
    if len(in_names) > len(args):
        raise ValueError(f"onnx.export: {len(in_names)} input_names for {len(args)} inputs")
    in_names += [f"input_{k}" for k in range(len(in_names), len(args))]
    dyn = {str(k): _axes_spec(v, str(k)) for k, v in (dynamic_axes or {}).items()}

    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        tr = trace(model, args)
        tr2 = tr
        grow = {k: sorted(dyn[n]) for k, n in enumerate(in_names) if n in dyn}
        if grow:
            from ..backend import to_numpy

            args2 = tuple(Tensor._make(_grow(to_numpy(a.array), grow.get(k, [])), False)
                          for k, a in enumerate(args))
            tr2 = trace(model, args2)
    finally:
        for m, mode in modes:
            m.training = mode
    if len(tr2.calls) != len(tr.calls) or any(
            a.name != b.name for a, b in zip(tr.calls, tr2.calls)):
        raise ExportError("onnx.export: the model runs different ops when a dynamic axis changes size "
                          "(Python control flow on a shape); it cannot be exported with these dynamic_axes")
    for k, a in tr.inits.items():
        if k in tr2.inits and tr2.inits[k].shape != a.shape:
            raise ExportError(f"onnx.export: a tensor made inside forward ({k}, shape {a.shape}) has a size "
                              "that follows a dynamic axis; make it from the input with ops instead")
    out_names = list(output_names or [])
    if len(out_names) > len(tr.outputs):
        raise ValueError(f"onnx.export: {len(out_names)} output_names for {len(tr.outputs)} outputs")
    out_names += [f"output_{k}" for k in range(len(out_names), len(tr.outputs))]
    unknown = set(dyn) - set(in_names) - set(out_names)
    if unknown:
        raise ValueError(f"onnx.export: dynamic_axes names {sorted(unknown)} are neither input_names nor "
                         "output_names")

    graph = _convert(tr, tr2, opset)
    # ---- graph inputs, outputs, initializers
    rename = dict(zip(tr.inputs, in_names))
    for n in graph.nodes:
        n.input[:] = [rename.get(i, i) for i in n.input]
    inputs = []
    for nm, arr in zip(in_names, tr.input_arrays):
        dims = [dyn.get(nm, {}).get(i, s) for i, s in enumerate(arr.shape)]
        inputs.append(helper.make_tensor_value_info(nm, helper.np_dtype_to_tensor_dtype(arr.dtype), dims))
    outputs = []
    for k, (val, nm) in enumerate(zip(tr.outputs, out_names)):
        graph.node("Identity", [rename.get(val, val)], nm)
        s1, s2 = tr.shapes[val], tr2.shapes.get(tr2.outputs[k], tr.shapes[val])
        dims: list = []
        for i, (p, q) in enumerate(zip(s1, s2)):
            dims.append(dyn.get(nm, {}).get(i, p if p == q else f"{nm}_dim_{i}"))
        outputs.append(helper.make_tensor_value_info(
            nm, helper.np_dtype_to_tensor_dtype(tr.dtypes[val]), dims))
    used = {i for n in graph.nodes for i in n.input}
    inits = [numpy_helper.from_array(np.array(a, order="C"), name=k)
             for k, a in {**tr.inits, **graph.inits}.items() if k in used]
    g = helper.make_graph(graph.nodes, type(model).__name__, inputs, outputs, inits)
    proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="glassgrad")
    proto.ir_version = min(proto.ir_version, 10)
    del TensorProto
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:
        raise ExportError(f"onnx.export: the exported graph fails onnx.checker "
                          f"({type(e).__name__}: {e})") from None
    if verbose:
        print(helper.printable_graph(proto.graph))
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
    else:
        from .._atomic import atomic_open

        with atomic_open(os.fspath(f), "wb", fsync=True) as fh:
            fh.write(data)
    return proto


def _convert(tr: Any, tr2: Any, opset: int) -> Any:
    from ._graph import Graph
    from ._modules import MODULE_CONVERTERS
    from ._ops import CONVERTERS

    # value shapes of trace 2 under trace 1's names (same op sequence, so the same order)
    shapes2 = dict(tr.shapes)
    for c, c2 in zip(tr.calls, tr2.calls):
        for n1, s in zip(c.outs, c2.out_shapes):
            shapes2[n1] = s
    for n1, n2 in zip(tr.inputs, tr2.inputs):
        shapes2[n1] = tr2.shapes[n2]
    g = Graph(opset, tr.shapes, shapes2, tr.dtypes)
    paths = {}
    for c, c2 in zip(tr.calls, tr2.calls):
        scope = c.scope
        if id(scope) not in paths:
            paths[id(scope)] = _path_of(tr, scope)
        g.where = paths[id(scope)]
        conv = (MODULE_CONVERTERS if c.kind == "module" else CONVERTERS).get(c.name)
        if conv is None:
            raise ExportError(f"onnx.export: op {c.name} (called in {g.where}) has no ONNX converter; "
                              f"supported ops: {', '.join(supported_ops())}")
        conv(g, c, c2)
    return g


def _path_of(tr: Any, scope: Any) -> str:
    return tr.paths.get(id(scope), "the model's forward") if scope is not None else "the model's forward"
