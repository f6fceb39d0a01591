"""Backward traces: watch every node of a backward pass, in the order it runs.

::

    with gg.trace(model=model) as t:
        loss.backward()
    print(t)              # one block per node: the gradient it received, the formula it
                          # applied and the gradients it sent, with shapes and statistics
    t.to_html("trace.html"); t.to_json("trace.json")

``gg.explain(loss, model=model)`` does the same without touching ``.grad``: it runs the
backward with ``retain_graph=True``, prints the table and returns the :class:`Trace`.

How it works: the engine calls every callable in ``STATE.observers`` with
``(node, grads_received, grads_sent, seconds)`` right after a node's backward (before
its saved arrays are freed). The trace turns that into a :class:`NodeRecord`: op name,
the module that created the node (``node.scope``), input/output shapes and dtypes, the
gradient received per output (the layer's δ), the gradient sent to each input with the
formula that computed it (:mod:`glassgrad.glassbox.formulas`), norm/mean/max|g|/fraction
of zeros, broadcast sums (:mod:`glassgrad.glassbox.broadcast`) and time spent.

Under :class:`~glassgrad.nn.parallel.DistributedDataParallel` the trace also records the
communication: one :attr:`Trace.communication` entry per gradient bucket's all-reduce
(bytes, parameters, when it started after the backward began, how long it was in flight
and how much of that overlapped the rest of the backward), printed under the table.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator, TextIO

import numpy as np

from .._atomic import atomic_write
from ..autograd.grad_mode import STATE
from ..backend import to_numpy
from .broadcast import BroadcastMark, broadcast_marks
from .formulas import formula_for, grad_formulas, input_names

__all__ = ["trace", "explain", "Trace", "NodeRecord", "GradRecord", "GradStats"]


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class GradStats:
    """Summary of one gradient array: L2 norm, mean, max |g| and fraction of exact zeros."""

    norm: float
    mean: float
    max_abs: float
    zeros: float
    nonfinite: int = 0

    @staticmethod
    def of(a: Any) -> GradStats:
        """Statistics of array ``a`` in a few allocation-free passes (float64 sums)."""
        a = to_numpy(a)
        if a.size == 0:
            return GradStats(0.0, 0.0, 0.0, 0.0)
        if a.dtype.kind not in "fc":
            a = a.astype(np.float64)
        flat = a.reshape(-1)
        if flat.dtype.kind == "c":
            flat = np.abs(flat)
        total = float(flat.sum(dtype=np.float64))
        norm = float(np.sqrt(np.dot(flat, flat)))
        bad = 0
        if not (math.isfinite(total) and math.isfinite(norm)):
            fin = np.isfinite(flat)
            bad = int(flat.size - np.count_nonzero(fin))
            flat = flat[fin]
            if flat.size == 0:
                return GradStats(float("nan"), float("nan"), float("nan"), 0.0, bad)
            total = float(flat.sum(dtype=np.float64))
            norm = float(np.sqrt(np.dot(flat, flat)))
        max_abs = max(float(flat.max()), -float(flat.min()))
        return GradStats(norm, total / flat.size, max_abs,
                         1.0 - np.count_nonzero(flat) / a.size, bad)

    def to_dict(self) -> dict:
        """JSON-safe: NaN/Inf statistics become None (``nonfinite`` counts such entries)."""
        def f(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {"norm": f(self.norm), "mean": f(self.mean), "max_abs": f(self.max_abs),
                "zeros": self.zeros, "nonfinite": self.nonfinite}


@dataclass
class GradRecord:
    """One gradient seen by the trace: received by a node (``dZ``) or sent to an input.

    Attributes
    ----------
    name : str
        ``"dY"``, ``"dW"``, ... (from the formula table's names).
    shape, dtype
        Of the gradient (None when no gradient flowed).
    formula : str or None
        The VJP that computed it (sent gradients).
    to : str or None
        Where it went: a parameter's name, a named tensor, ``"input"`` (another leaf) or
        the next node (``"ReluBackward"``).
    stats : GradStats or None
    broadcast : BroadcastMark or None
        Set when the backward summed this gradient over broadcast axes.
    value : numpy array or None
        A copy of the gradient, only with ``trace(keep_values=True)``.
    """

    name: str
    shape: tuple | None
    dtype: str | None
    formula: str | None = None
    to: str | None = None
    stats: GradStats | None = None
    broadcast: BroadcastMark | None = None
    value: Any = None

    def to_dict(self, values: bool = False) -> dict:
        d = {"name": self.name, "shape": None if self.shape is None else list(self.shape),
             "dtype": self.dtype, "formula": self.formula, "to": self.to,
             "stats": self.stats.to_dict() if self.stats else None,
             "broadcast": self.broadcast.to_dict() if self.broadcast else None}
        if values and self.value is not None:
            v = np.asarray(self.value, dtype=np.float64)
            fin = np.isfinite(v)
            d["value"] = v.tolist() if fin.all() else np.where(fin, v.astype(object), None).tolist()
        return d


@dataclass
class NodeRecord:
    """Everything the trace knows about one node of the backward pass."""

    index: int
    op: str
    node: str
    module: str | None
    inputs: list = field(default_factory=list)  # [(name, shape, dtype) or None] per argument
    outputs: list = field(default_factory=list)  # [(shape, dtype)] per output
    received: list = field(default_factory=list)  # [GradRecord] per output
    sent: list = field(default_factory=list)  # [GradRecord] per differentiable input
    seconds: float = 0.0
    broadcast: list = field(default_factory=list)  # [BroadcastMark]
    formula_doc: str = ""

    @property
    def signature(self) -> str:
        """The forward call with shapes: ``Linear(X (16, 8) float32, W (3, 8) float32,
        b (3,) float32) → Y (16, 3) float32``."""
        ins = ", ".join(f"{i[0]} {_fmt_shape(i[1])} {i[2]}" for i in self.inputs if i is not None)
        names = [g.name[1:] for g in self.received] or ["Z"] * len(self.outputs)
        outs = ", ".join(f"{n} {_fmt_shape(s)} {d}" for n, (s, d) in zip(names, self.outputs))
        return f"{self.op}({ins}) → {outs}"

    def grad(self, name: str) -> GradRecord:
        """The sent or received gradient called ``name`` (``"dW"``, ``"dY"``, ...)."""
        for g in self.sent + self.received:
            if g.name == name:
                return g
        names = [g.name for g in self.received + self.sent]
        raise KeyError(f"{self.node}: no gradient named {name!r}; this node has {names}")

    def to_dict(self, values: bool = False) -> dict:
        return {
            "index": self.index, "op": self.op, "node": self.node, "module": self.module,
            "inputs": [None if i is None else {"name": i[0], "shape": list(i[1]), "dtype": i[2]}
                       for i in self.inputs],
            "outputs": [{"shape": list(s), "dtype": d} for s, d in self.outputs],
            "received": [g.to_dict(values) for g in self.received],
            "sent": [g.to_dict(values) for g in self.sent],
            "seconds": self.seconds,
            "broadcast": [b.to_dict() for b in self.broadcast],
            "derivation": self.formula_doc,
        }


# ----------------------------------------------------------------------------- the trace
def _fmt_shape(s: tuple | None) -> str:
    if s is None:
        return "—"
    return "(" + ", ".join(str(int(d)) for d in s) + ("," if len(s) == 1 else "") + ")"


def _g(x: float) -> str:
    if x != x:
        return "nan"
    if x == 0:
        return "0"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.2e}"


class Trace:
    """A recorded backward pass; also the context manager returned by :func:`trace`.

    Parameters
    ----------
    model : nn.Module, optional
        Used to name modules (``model.2 (Linear)``) and parameters (``2.weight``).
    params : dict of str to Tensor, optional
        Extra names for leaf tensors (e.g. ``dict(model.named_parameters())`` or
        ``{"W1": W1}`` for hand-written models).
    keep_values : bool
        Keep a copy of every gradient (``record.sent[i].value``), for teaching and tests.
    stats : bool
        Compute norm/mean/max/zeros of every gradient (one pass over each array).
    model_name : str
        Prefix of module names in the table.
    per_sample : bool
        Also record each sample's gradient contribution per layer (needs ``model`` and the
        forward inside the ``with`` block); see :mod:`glassgrad.glassbox.per_sample_trace`.
    top_k : int
        How many dominating samples the per-sample report lists per layer.
    """

    def __init__(self, model: Any = None, params: dict | None = None, keep_values: bool = False,
                 stats: bool = True, model_name: str = "model", per_sample: bool = False,
                 top_k: int = 3) -> None:
        self.records: list[NodeRecord] = []
        self.keep_values = keep_values
        self.stats = stats
        self.model_name = model_name
        self._mod_names: dict[int, str] = {}
        self._param_names: dict[int, str] = {}
        self._keep: list = []  # keeps named modules/params alive so their ids stay valid
        if model is not None:
            if not hasattr(model, "named_modules"):
                raise TypeError(f"trace(model=...): expected an nn.Module, got {type(model).__name__}")
            for name, m in model.named_modules():
                self._mod_names[id(m)] = name
                self._keep.append(m)
            for name, p in model.named_parameters():
                self._param_names[id(p)] = f"{model_name}.{name}" if model_name else name
                self._keep.append(p)
        if params:
            for name, p in dict(params).items():
                self._param_names[id(p)] = name
                self._keep.append(p)
        self._active = False
        self.communication: list[dict] = []
        self.per_sample = _per_sample_trace(model, model_name, top_k) if per_sample else None

    # ---- context manager -------------------------------------------------------------------
    def __enter__(self) -> Trace:
        if self._active:
            raise RuntimeError("trace: this trace is already recording")
        self._active = True
        if self.per_sample is not None:
            self.per_sample.install()
        STATE.observers.append(self._observe)
        from ..distributed import _core as dist_core

        dist_core.COMM_OBSERVERS.append(self._observe_comm)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._active = False
        obs = STATE.observers
        for i in range(len(obs) - 1, -1, -1):
            if obs[i] == self._observe:
                del obs[i]
                break
        from ..distributed import _core as dist_core

        comm = dist_core.COMM_OBSERVERS
        for i in range(len(comm) - 1, -1, -1):
            if comm[i] == self._observe_comm:
                del comm[i]
                break
        if self.per_sample is not None:
            self.per_sample.remove()

    def _observe_comm(self, event: dict) -> None:
        self.communication.append(dict(event))

    # ---- recording ----------------------------------------------------------------------------
    def _module_label(self, scope: Any) -> str | None:
        if scope is None:
            return None
        if isinstance(scope, str):
            return scope
        cls = type(scope).__name__
        name = self._mod_names.get(id(scope))
        if name is None:
            return cls
        full = self.model_name if name == "" else f"{self.model_name}.{name}"
        return f"{full} ({cls})"

    def _dest(self, edge: Any) -> str | None:
        if edge is None:
            return None
        u = edge[0]
        if hasattr(u, "grad_fn"):  # a leaf Tensor
            name = self._param_names.get(id(u))
            if name is None:
                name = getattr(u, "_name", None)
            return name or f"leaf {_fmt_shape(tuple(u.shape))}"
        return u.name()

    def _grad_record(self, name: str, g: Any, formula: str | None = None, to: str | None = None,
                     mark: BroadcastMark | None = None) -> GradRecord:
        if g is None:
            return GradRecord(name, None, None, formula, to, None, mark)
        arr = g.array if hasattr(g, "grad_fn") else g
        st = GradStats.of(arr) if self.stats else None
        val = np.array(to_numpy(arr), copy=True) if self.keep_values else None
        return GradRecord(name, tuple(arr.shape), str(arr.dtype), formula, to, st, mark, val)

    def _observe(self, node: Any, grads_in: Any, grads_out: Any, seconds: float) -> None:
        if self.per_sample is not None:
            self.per_sample.observe(node, grads_in)
        f = formula_for(node)
        in_meta = getattr(node, "_in_meta", ()) or ()
        n = len(in_meta)
        names = input_names(f, n)
        forms = grad_formulas(f, n)
        edges = getattr(node, "_edges", None) or (None,) * n
        marks = broadcast_marks(node)
        by_input = {m.input: m for m in marks}
        outs = list(getattr(node, "_out_meta", ()) or ())
        out_names = [s.strip() for s in (f.output if f else "Z").split(",")]
        if len(out_names) == 1 and out_names[0].endswith(("_i", "_t")):
            base = out_names[0][:-2]
            out_names = [f"{base}_{j}" for j in range(len(outs))]
        elif len(out_names) < len(outs):
            out_names = [f"{out_names[0]}_{j}" for j in range(len(outs))]
        rec = NodeRecord(
            index=len(self.records) + 1,
            op=type(node).__name__,
            node=node.name(),
            module=self._module_label(getattr(node, "_scope", None)),
            inputs=[None if m is None else (names[i], tuple(m[0]), str(m[1]))
                    for i, m in enumerate(in_meta)],
            outputs=[(tuple(s), str(d)) for s, d in outs],
            seconds=float(seconds),
            broadcast=marks,
            formula_doc=f.doc if f else "",
        )
        for j, g in enumerate(grads_in):
            nm = "d" + (out_names[j] if j < len(out_names) else f"Z{j}")
            rec.received.append(self._grad_record(nm, g))
        for i, g in enumerate(grads_out):
            if i >= n or edges[i] is None:
                continue
            rec.sent.append(self._grad_record("d" + names[i], g, forms[i], self._dest(edges[i]),
                                              by_input.get(i)))
        self.records.append(rec)

    # ---- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[NodeRecord]:
        return iter(self.records)

    def __getitem__(self, i: int) -> NodeRecord:
        return self.records[i]

    def find(self, op: str | None = None, module: str | None = None) -> list[NodeRecord]:
        """Records whose op (``"Linear"`` or ``"LinearBackward"``) and/or module label
        (substring, e.g. ``"model.2"``) match."""
        out = []
        for r in self.records:
            if op is not None and op not in (r.op, r.node):
                continue
            if module is not None and (r.module is None or module not in r.module):
                continue
            out.append(r)
        return out

    def grads_to(self, name: str) -> list[GradRecord]:
        """Every gradient sent to the leaf or node called ``name`` (e.g. ``"0.weight"``)."""
        return [g for r in self.records for g in r.sent if g.to == name]

    @property
    def total_seconds(self) -> float:
        return sum(r.seconds for r in self.records)

    # ---- text ----------------------------------------------------------------------------------
    _COLS = ("#", "node", "module", "grad", "shape", "formula", "→ to", "broadcast", "‖g‖", "mean",
             "max|g|", "zeros", "ms")

    def rows(self) -> list[tuple]:
        """The table as tuples of strings (one row per received or sent gradient)."""
        rows: list[tuple] = []
        for r in self.records:
            first = True
            for g in r.received:
                rows.append(self._row(r, g, first, received=True))
                first = False
            for g in r.sent:
                rows.append(self._row(r, g, first, received=False))
                first = False
            if first:
                rows.append((str(r.index), r.node, r.module or "") + ("",) * 9
                            + (f"{r.seconds * 1e3:.3f}",))
        return rows

    def _row(self, r: NodeRecord, g: GradRecord, first: bool, received: bool) -> tuple:
        st = g.stats
        formula = "(received)" if received else (g.formula or "")
        bc = "" if g.broadcast is None else str(g.broadcast)
        return (
            str(r.index) if first else "",
            r.node if first else "",
            (r.module or "") if first else "",
            g.name,
            _fmt_shape(g.shape),
            formula,
            "" if received else (g.to or ""),
            bc,
            _g(st.norm) if st else "",
            _g(st.mean) if st else "",
            _g(st.max_abs) if st else "",
            f"{100 * st.zeros:.0f}%" if st else "",
            f"{r.seconds * 1e3:.3f}" if first else "",
        )

    def table(self, max_formula: int = 44, forward: bool = False) -> str:
        """The trace as a fixed-width text table; ``forward=True`` adds each node's forward
        call with its shapes (:attr:`NodeRecord.signature`) under its rows."""
        rows = []
        for row in self.rows():
            f = row[5]
            if len(f) > max_formula:
                f = f[: max_formula - 1] + "…"
            rows.append(row[:5] + (f,) + row[6:])
        cols = self._COLS
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
        right = {0, 8, 9, 10, 11, 12}

        def line(cells: tuple) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        out = [line(cols), "  ".join("-" * w for w in widths)]
        recs = {str(r.index): r for r in self.records}
        pending = None
        for row in rows:
            if row[0]:
                if pending is not None:
                    out.append(pending)
                if len(out) > 2:
                    out.append("")
                rec = recs[row[0]]
                pending = None
                if forward:
                    pending = " " * (widths[0] + 2) + "forward: " + rec.signature
                    if rec.formula_doc:
                        pending += f"   (derivation: docs/derivations/{rec.formula_doc})"
            out.append(line(row))
        if pending is not None:
            out.append(pending)
        n_b = sum(len(r.broadcast) for r in self.records)
        out.append("")
        out.append(f"{len(self.records)} nodes, {self.total_seconds * 1e3:.3f} ms in backward "
                   f"formulas, {n_b} broadcast sum(s)")
        if self.communication:
            out.append("")
            out.append(self.communication_table())
        if self.per_sample is not None:
            out.append("")
            out.append(self.per_sample.table())
        return "\n".join(out)

    def communication_table(self) -> str:
        """DistributedDataParallel's bucket all-reduces: one row per bucket and backward."""
        if not self.communication:
            return "no communication recorded (no DistributedDataParallel backward in the trace)"
        w = self.communication[0].get("world_size", "?")
        out = [f"gradient all-reduce (DistributedDataParallel, {w} ranks; times from the start of "
               f"the backward, in ms)",
               f"{'bucket':>6}  {'params':>6}  {'bytes':>10}  {'start':>8}  {'in flight':>9}  "
               f"{'overlap':>8}  {'backward':>8}"]
        for ev in self.communication:
            out.append(f"{ev['bucket']:>6}  {ev['params']:>6}  {ev['bytes']:>10}  {ev['start'] * 1e3:8.3f}  "
                       f"{ev['seconds'] * 1e3:9.3f}  {ev['overlap'] * 1e3:8.3f}  "
                       f"{ev['backward_seconds'] * 1e3:8.3f}")
        tot = sum(ev["bytes"] for ev in self.communication)
        ov = sum(ev["overlap"] for ev in self.communication)
        fl = sum(ev["seconds"] for ev in self.communication)
        out.append(f"{len(self.communication)} all-reduce(s), {tot} bytes; {ov * 1e3:.3f} of "
                   f"{fl * 1e3:.3f} ms in flight overlapped the backward")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<Trace of {len(self.records)} backward nodes>"

    # ---- export ---------------------------------------------------------------------------------
    def to_dict(self, values: bool = False) -> dict:
        return {"format": "glassgrad-trace", "version": 1,
                "nodes": [r.to_dict(values) for r in self.records],
                "total_seconds": self.total_seconds,
                "communication": [dict(ev) for ev in self.communication],
                "per_sample": None if self.per_sample is None else self.per_sample.to_dict()}

    def to_json(self, path: str | os.PathLike | None = None, values: bool = False) -> str:
        """The trace as JSON text; written atomically to ``path`` when given.

        ``values=True`` includes the gradient arrays (only kept with ``keep_values``)."""
        text = json.dumps(self.to_dict(values), indent=1, ensure_ascii=False, allow_nan=False)
        if path is not None:
            atomic_write(path, text)
        return text

    def to_html(self, path: str | os.PathLike | None = None, title: str = "glassgrad backward trace"
                ) -> str:
        """A self-contained HTML page (inline CSS, no external resources); written
        atomically to ``path`` when given."""
        from .._html import trace_page

        text = trace_page(self, title=title)
        if path is not None:
            atomic_write(path, text)
        return text

    def _repr_html_(self) -> str:
        from .._html import trace_html

        return trace_html(self)


# ----------------------------------------------------------------------------- entry points
def trace(model: Any = None, params: dict | None = None, keep_values: bool = False,
          stats: bool = True, model_name: str = "model", per_sample: bool = False,
          top_k: int = 3) -> Trace:
    """Record every node of the backward passes run inside ``with``.

    Parameters
    ----------
    model : nn.Module, optional
        Names modules and parameters in the table.
    params : dict, optional
        ``{name: tensor}`` names for leaves (hand-written models).
    keep_values : bool
        Keep copies of all gradients (``record.grad("dW").value``).
    stats : bool
        Gradient statistics (norm, mean, max |g|, zeros).
    per_sample : bool
        Per layer, each sample's gradient contribution: norms and the ``top_k`` samples that
        dominate the step (``t.per_sample``, also printed under the table). Needs ``model``;
        run the forward inside the ``with`` block as well.

    Returns
    -------
    Trace
        Use as ``with gg.trace() as t: loss.backward()``; then ``print(t)``.
    """
    return Trace(model=model, params=params, keep_values=keep_values, stats=stats,
                 model_name=model_name, per_sample=per_sample, top_k=top_k)


def explain(loss: Any, model: Any = None, params: dict | None = None, keep_values: bool = False,
            file: TextIO | None | bool = True, accumulate: bool = False) -> Trace:
    """Run the backward of ``loss`` with ``retain_graph=True`` under a :class:`Trace`,
    print the table and return the trace.

    Parameters
    ----------
    loss : Tensor
        A scalar that requires grad.
    model, params, keep_values
        As for :func:`trace`.
    file : file, True or None
        Where to print (True: ``sys.stdout``; None/False: do not print).
    accumulate : bool
        Also accumulate the gradients into the leaves' ``.grad`` (default False: the
        explanation leaves ``.grad`` untouched, so training code is unaffected).
    """
    from ..autograd.engine import run_backward
    from ..backend import xp_of
    from ..tensor import Tensor

    if not isinstance(loss, Tensor):
        raise TypeError(f"explain: expected a Tensor, got {type(loss).__name__}")
    if not loss.requires_grad:
        raise RuntimeError(
            f"explain: the tensor (shape {tuple(loss.shape)}) does not require grad, so it has no "
            "backward to explain (was it computed under no_grad, or from tensors without "
            "requires_grad=True?)")
    if loss.array.size != 1:
        raise RuntimeError(f"explain: expected a scalar loss, got shape {tuple(loss.shape)}; "
                           "reduce it first (e.g. loss.sum())")
    t = Trace(model=model, params=params, keep_values=keep_values)
    seed = xp_of(loss.array).ones(loss.shape, dtype=loss.dtype)
    with t:
        if accumulate:
            run_backward([loss], [seed], retain_graph=True)
        else:
            run_backward([loss], [seed], retain_graph=True, capture=[], accumulate=False)
    if file:
        print(t.table(), file=sys.stdout if file is True else file)
    return t


def _per_sample_trace(model: Any, model_name: str, top_k: int) -> Any:
    from .per_sample_trace import PerSampleTrace

    return PerSampleTrace(model, model_name, top_k)
