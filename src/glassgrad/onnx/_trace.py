"""Tracing a model for ONNX export: run it once and record every op it calls.

The recorder plugs into the same hook as :func:`glassgrad.capture` (``Function.apply``
hands every op call to the recorder installed with :mod:`glassgrad.autograd.recording`):
each call becomes a :class:`Call` naming the
op's ``Function`` class, its non-tensor arguments as given, the value names of its tensor
arguments and of its results, and the module that made it. Tensors an op reads that no
earlier op produced and that are not inputs (parameters, buffers, constants made inside
``forward``) become initializers, named by their ``state_dict`` key where they have one.

Recurrent layers and multi-head attention are recorded as one call each (their inner ops
run unrecorded): ONNX has whole-layer ops for the recurrent ones (``LSTM``, ``GRU``,
``RNN``), and attention is written out with dynamic shapes by its converter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import recording
from ..autograd.grad_mode import STATE
from ..backend import is_array, to_numpy

__all__ = ["ExportError", "Call", "Trace", "trace"]


class ExportError(RuntimeError):
    """The model cannot be exported to ONNX (the message names the op and the module)."""


class Call:
    """One recorded op (``kind='op'``: a ``Function``) or whole module (``kind='module'``)."""

    __slots__ = ("kind", "target", "args", "kwargs", "ins", "outs", "out_shapes", "out_dtypes",
                 "in_shapes", "scope")

    def __init__(self, kind: str, target: Any, args: list, kwargs: dict, ins: list, outs: list,
                 out_arrays: list, in_shapes: list, scope: Any) -> None:
        self.kind, self.target, self.args, self.kwargs = kind, target, args, kwargs
        self.ins, self.outs, self.scope = ins, outs, scope
        self.out_shapes = [tuple(a.shape) for a in out_arrays]
        self.out_dtypes = [np.dtype(a.dtype) for a in out_arrays]
        self.in_shapes = in_shapes

    @property
    def name(self) -> str:
        return self.target.__name__ if self.kind == "op" else type(self.target).__name__


class Trace:
    """What one run of the model recorded."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.inputs: list[str] = []
        self.input_arrays: list[np.ndarray] = []
        self.outputs: list[str] = []
        self.inits: dict[str, np.ndarray] = {}     # initializer name -> array
        self.shapes: dict[str, tuple] = {}         # every value's traced shape
        self.dtypes: dict[str, np.dtype] = {}
        self.paths: dict[int, str] = {}            # id(module) -> "path (Type)"


_WHOLE = ("LSTM", "GRU", "RNN", "MultiheadAttention")


class _Recorder:
    def __init__(self, model: Any, args: tuple) -> None:
        from ..tensor import Tensor

        self.Tensor = Tensor
        self.busy = False
        self.tr = Trace()
        self.names: dict[int, str] = {}
        self.keep: list = []
        self.made: dict[int, Any] = {}   # tensors made in forward by something other than an op
        self.n = 0
        self.params = {}
        for k, v in list(model.state_dict(keep_vars=True).items()):
            self.params.setdefault(id(v.array), k)
        self.paths = {id(m): (p or "<root>") for p, m in model.named_modules()}
        self.tr.paths = {id(m): f"{p or '<root>'} ({type(m).__name__})" for p, m in model.named_modules()}
        for k, a in enumerate(args):
            nm = f"input_{k}"
            self._bind(a.array, nm)
            self.tr.inputs.append(nm)
            self.tr.input_arrays.append(to_numpy(a.array))

    def _bind(self, arr: Any, name: str) -> None:
        self.names[id(arr)] = name
        self.keep.append(arr)
        self.tr.shapes[name] = tuple(arr.shape)
        self.tr.dtypes[name] = np.dtype(arr.dtype)

    def value(self, t: Any, op: str = "") -> str:
        arr = t.array
        nm = self.names.get(id(arr))
        if nm is not None:
            return nm
        if id(t) in self.made:
            raise ExportError(
                f"onnx.export: {op or 'an op'} in {self.path(STATE.scope)} reads a tensor of shape "
                f"{tuple(t.shape)} that forward made by something other than a glassgrad op (a "
                "comparison such as x > 0, gg.tensor(array), a conversion from NumPy): the exporter "
                "cannot follow how it was computed and would freeze its value. Compute it with ops "
                "(e.g. relu, clamp, gg.where on op results) or make it outside forward as a buffer")
        nm = self.params.get(id(arr))
        if nm is None:
            nm = f"const_{len(self.tr.inits)}"
        self.tr.inits[nm] = np.array(to_numpy(arr))
        self._bind(arr, nm)
        return nm

    def _new(self, t: Any) -> str:
        self.n += 1
        nm = f"v{self.n}"
        self._bind(t.array, nm)
        return nm

    def path(self, m: Any) -> str:
        if m is None:
            return "<root>"
        return f"{self.paths.get(id(m), '?')} ({type(m).__name__})"

    # ---- the recorder interface Function.apply, Module and Tensor use ----------------------
    def constant(self, t: Any) -> None:
        self.made.pop(id(t), None)

    def module(self, m: Any) -> None:
        pass

    def module_hooks(self, m: Any) -> None:
        raise ExportError(f"onnx.export: {type(m).__name__} has forward or backward hooks, which "
                          "the exporter does not follow; remove them before exporting")

    def inplace(self, t: Any, op: str, graph: bool) -> None:
        if not graph:
            raise ExportError(f"onnx.export: in-place {op} on a tensor in {self.path(STATE.scope)} "
                              "writes into its array outside the graph; use the out-of-place form")

    def apply(self, cls: type, args: tuple, kwargs: dict) -> Any:
        Tensor = self.Tensor
        for v in kwargs.values():
            if isinstance(v, Tensor):
                raise ExportError(f"onnx.export: {cls.__name__} in {self.path(STATE.scope)} got a tensor "
                                  "keyword argument, which the exporter does not follow")
        ins = [self.value(a, cls.__name__) if isinstance(a, Tensor) else None for a in args]
        for k, a in enumerate(args):
            if is_array(a) and id(a) not in self.params and any(t.array is a for t in self.made.values()):
                raise ExportError(f"onnx.export: {cls.__name__} in {self.path(STATE.scope)} got argument {k} "
                                  f"(shape {tuple(a.shape)}) from a tensor that forward made by something "
                                  "other than a glassgrad op (e.g. a comparison such as x > 0); the "
                                  "exporter cannot follow how it was computed and would freeze its value")
        in_shapes = [tuple(a.shape) if isinstance(a, Tensor) else None for a in args]
        self.busy = True
        try:
            res = cls.apply(*args, **kwargs)
        finally:
            self.busy = False
        outs = res if type(res) is tuple else (res,)
        names = [self._new(t) for t in outs]
        tmpl = [None if isinstance(a, Tensor) else a for a in args]
        self.tr.calls.append(Call("op", cls, tmpl, dict(kwargs), ins, names,
                                  [t.array for t in outs], in_shapes, STATE.scope))
        return res

    def whole(self, m: Any, orig: Any, args: tuple, kwargs: dict) -> Any:
        Tensor = self.Tensor
        flat = list(args) + list(kwargs.values())
        for v in flat:
            if isinstance(v, (tuple, list)) and any(isinstance(e, Tensor) for e in v):
                raise ExportError(f"onnx.export: {self.path(m)} was given an initial state; the "
                                  "exporter supports recurrent layers that start from zeros")
        ins = [self.value(a, type(m).__name__) if isinstance(a, Tensor) else None for a in args]
        kw = {}
        for k, v in kwargs.items():
            if isinstance(v, Tensor):
                raise ExportError(f"onnx.export: {self.path(m)} was given the tensor argument {k}=; "
                                  "masks and initial states are not supported by the exporter")
            kw[k] = v
        in_shapes = [tuple(a.shape) if isinstance(a, Tensor) else None for a in args]
        self.busy = True
        try:
            out = orig(*args, **kwargs)
        finally:
            self.busy = False
        flat_out: list = []
        for o in (out if isinstance(out, tuple) else (out,)):
            if isinstance(o, tuple):
                flat_out.extend(o)
            else:
                flat_out.append(o)
        real = [o for o in flat_out if isinstance(o, Tensor)]
        names = [self._new(t) for t in real]
        self.tr.calls.append(Call("module", m, [None if isinstance(a, Tensor) else a for a in args], kw,
                                  ins, names, [t.array for t in real], in_shapes, m))
        return out


def trace(model: Any, args: tuple) -> Trace:
    """Run ``model(*args)`` once (no grad) and record it (see the module docstring)."""
    from ..autograd.grad_mode import no_grad
    from ..tensor import Tensor

    rec = _Recorder(model, args)
    patched = []
    for _, m in model.named_modules():
        if type(m).__name__ in _WHOLE and "forward" not in m.__dict__:
            orig = m.forward

            def fwd(*a: Any, _m: Any = m, _orig: Any = orig, **kw: Any) -> Any:
                return rec.whole(_m, _orig, a, kw)

            m.__dict__["forward"] = fwd
            patched.append(m)
    if recording.active() is not None:
        raise ExportError("onnx.export: cannot export inside gg.capture or another export")
    orig_make = Tensor.__dict__["_make"]
    orig_init = Tensor.__init__
    made = rec.made

    def make(cls: Any, arr: Any, requires_grad: bool) -> Any:
        t = orig_make.__func__(cls, arr, requires_grad)
        if not rec.busy:
            made[id(t)] = t
        return t

    def init(self: Any, *a: Any, **kw: Any) -> None:
        orig_init(self, *a, **kw)
        data = a[0] if a else kw.get("data")
        if not rec.busy and (isinstance(data, Tensor) or is_array(data)):  # Python numbers: constants
            made[id(self)] = self

    recording.install(rec)
    Tensor._make = classmethod(make)
    Tensor.__init__ = init
    try:
        with no_grad():
            out = model(*args)
    finally:
        recording.uninstall()
        Tensor._make = orig_make
        Tensor.__init__ = orig_init
        for m in patched:
            del m.__dict__["forward"]
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise ExportError(f"onnx.export: output {k} of the model is {type(o).__name__}; the model must "
                              "return a Tensor or a tuple/list of Tensors")
        nm = rec.names.get(id(o.array))
        if nm is None:
            raise ExportError(f"onnx.export: output {k} of the model was not computed by an op")
        rec.tr.outputs.append(nm)
    rec.tr.keep = rec.keep  # type: ignore[attr-defined]
    return rec.tr
