"""Draw the autograd graph of a tensor as Graphviz DOT (and SVG/PNG/PDF when ``dot`` exists).

::

    dot = gg.viz.draw_graph(loss, params=dict(model.named_parameters()), path="graph.svg")

Boxes are op nodes (``LinearBackward``) with their output shape and dtype and, when the
node was created inside an ``nn.Module``, the module's class; ellipses are leaves:
parameters with their names (blue), other tensors that require grad (grey). Edges go
the way the forward ran (input → op → ... → output); the backward walks them in reverse.
With ``show_saved=True`` the arrays each node saved for its backward are drawn as small
notes attached by dashed edges — that is the memory a backward pass keeps alive.

Only the standard library is needed for the DOT text. Rendering uses Graphviz's ``dot``
program (``apt-get install graphviz``, ``brew install graphviz``, ``conda install
graphviz``); when it is missing the DOT text is still returned (and written next to
``path`` with suffix ``.dot``) and a warning says how to get ``dot``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from typing import Any

from .._atomic import atomic_write

__all__ = ["draw_graph", "graph_nodes"]

_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": None, ".gv": None}


def _q(s: str) -> str:
    """A DOT double-quoted string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(s: Any) -> str:
    s = tuple(int(d) for d in s)
    return "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"


def graph_nodes(root: Any) -> tuple[list, list]:
    """All op nodes and leaf tensors reachable from ``root`` (a Tensor or a list of
    them), newest op first; returns ``(ops, leaves)``."""
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    ops: list = []
    leaves: list = []
    seen: set = set()
    stack = []
    for t in roots:
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad and id(t) not in seen:
            seen.add(id(t))
            leaves.append(t)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        ops.append(v)
        for e in v._edges or ():
            if e is None:
                continue
            u = e[0]
            if id(u) in seen:
                continue
            if hasattr(u, "grad_fn"):
                seen.add(id(u))
                leaves.append(u)
            else:
                stack.append(u)
    ops.sort(key=lambda n: n._seq, reverse=True)
    return ops, leaves


def draw_graph(root: Any, params: dict | None = None, show_saved: bool = False,
               path: str | os.PathLike | None = None, model: Any = None,
               rankdir: str = "TB", title: str | None = None) -> str:
    """The autograd graph that produced ``root`` as DOT text.

    Parameters
    ----------
    root : Tensor or list of Tensor
        Output(s) whose history to draw (usually the loss).
    params : dict of str to Tensor, optional
        Names for leaves, e.g. ``dict(model.named_parameters())``.
    show_saved : bool
        Also draw the arrays each node saved for its backward (shape and dtype).
    path : str or path, optional
        Write the drawing; the format comes from the suffix: ``.svg``, ``.png``, ``.pdf``
        (need Graphviz's ``dot``) or ``.dot``/``.gv`` (the text itself).
    model : nn.Module, optional
        Names parameters (when ``params`` is not given) and modules.
    rankdir : str
        Graphviz layout direction (``"TB"`` top to bottom, ``"LR"`` left to right).
    title : str, optional
        A label drawn above the graph.

    Returns
    -------
    str
        The DOT source.
    """
    names: dict[int, str] = {}
    mod_names: dict[int, str] = {}
    if model is not None:
        for n, p in model.named_parameters():
            names[id(p)] = n
        for n, m in model.named_modules():
            mod_names[id(m)] = n
    if params:
        for n, p in dict(params).items():
            names[id(p)] = n
    if path is not None:
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext not in _FORMATS:
            raise ValueError(f"draw_graph: unknown format {ext!r} for path {os.fspath(path)!r}; "
                             f"use one of {', '.join(_FORMATS)}")
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    for r in roots:
        if not hasattr(r, "grad_fn"):
            raise TypeError(f"draw_graph: expected a Tensor, got {type(r).__name__}")
        if r.grad_fn is None and not r.requires_grad:
            raise ValueError(f"draw_graph: the tensor of shape {_shape(r.shape)} has no graph "
                             "(it does not require grad; was it computed under no_grad?)")
    ops, leaves = graph_nodes(roots)
    ids: dict[int, str] = {}
    lines = ["digraph glassgrad {",
             f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    if title:
        lines.append(f"  labelloc=t; label={_q(title)};")
    for k, t in enumerate(leaves):
        nid = f"leaf{k}"
        ids[id(t)] = nid
        name = names.get(id(t)) or getattr(t, "_name", None)
        label = f"{name}\n{_shape(t.shape)} {t.dtype}" if name else f"{_shape(t.shape)} {t.dtype}"
        color = "#cfe2ff" if name and id(t) in names else "#e9ecef"
        lines.append(f"  {nid} [label={_q(label)}, shape=ellipse, style=filled, fillcolor="
                     f"{_q(color)}];")
    for k, node in enumerate(ops):
        nid = f"op{k}"
        ids[id(node)] = nid
        outs = ", ".join(f"{_shape(s)} {d}" for s, d in node._out_meta)
        label = f"{node.name()}\n{outs}"
        scope = getattr(node, "_scope", None)
        if scope is not None:
            mname = mod_names.get(id(scope))
            label += "\nin " + (f"{mname} ({type(scope).__name__})" if mname else
                                (scope if isinstance(scope, str) else type(scope).__name__))
        lines.append(f"  {nid} [label={_q(label)}, shape=box, style=\"rounded,filled\", "
                     'fillcolor="#fff3cd"];')
    from ..autograd.formula import formula_for, input_names

    for node in ops:
        dst = ids[id(node)]
        edges = node._edges or ()
        arg_names = input_names(formula_for(node), len(edges))
        n_in = sum(m is not None for m in (node._in_meta or ()))
        for i, e in enumerate(edges):
            if e is None:
                continue
            src = ids.get(id(e[0]))
            if src is None:
                continue
            lab = f" [label={_q(arg_names[i])}]" if n_in > 1 else ""
            lines.append(f"  {src} -> {dst}{lab};")
    for k, r in enumerate(roots):
        nid = f"out{k}"
        label = f"{getattr(r, '_name', None) or 'output'}\n{_shape(r.shape)} {r.dtype}"
        lines.append(f"  {nid} [label={_q(label)}, shape=ellipse, style=filled, "
                     'fillcolor="#d1e7dd"];')
        src = ids.get(id(r.grad_fn)) if r.grad_fn is not None else ids.get(id(r))
        if src is not None:
            lines.append(f"  {src} -> {nid};")
    if show_saved:
        for node in ops:
            saved = getattr(node, "_saved", None)
            nid = ids[id(node)]
            if getattr(node, "_freed", False):
                lines.append(f"  {nid}_freed [label=\"saved: freed\", shape=note, fontsize=8, "
                             'color="#999999"];')
                lines.append(f"  {nid}_freed -> {nid} [style=dashed, arrowhead=none];")
                continue
            snames = _saved_names(node, len(saved or ()))
            for j, a in enumerate(saved or ()):
                if a is None or not hasattr(a, "shape"):
                    continue
                sid = f"{nid}_s{j}"
                who = f"{snames[j]} " if snames[j] else ""
                lines.append(f"  {sid} [label={_q(f'saved {who}{_shape(a.shape)} {a.dtype}')}, "
                             'shape=note, fontsize=8, style=filled, fillcolor="#f8f9fa"];')
                lines.append(f"  {sid} -> {nid} [style=dashed, arrowhead=none];")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        _write(text, os.fspath(path))
    return text


def _saved_names(node: Any, n: int) -> list:
    """Which input or output each saved array is (``"X"``, ``"W"``, ``"Z"``), if known."""
    from ..autograd.formula import formula_for, input_names

    meta = getattr(node, "_saved_meta", None)
    out: list = [None] * n
    if not meta:
        return out
    f = formula_for(node)
    edges = node._edges or ()
    names = input_names(f, len(edges))
    outs = [s.strip() for s in (f.output if f else "Z").split(",")]
    for j, m in enumerate(meta[:n]):
        if m is None:
            continue
        if m[0] == "out":
            k = m[3]
            out[j] = outs[k] if k < len(outs) else f"out{k}"
            continue
        t = m[3]
        for i, e in enumerate(edges):
            if e is None:
                continue
            if e[0] is t or (t.grad_fn is not None and e[0] is t.grad_fn and e[1] == t._out_idx):
                out[j] = names[i]
                break
        else:  # an input without gradient (no edge): identify it by shape and dtype if unique
            cand = [i for i, mm in enumerate(node._in_meta or ())
                    if mm is not None and edges[i] is None and tuple(mm[0]) == tuple(t.shape)
                    and mm[1] == t.dtype]
            if len(cand) == 1:
                out[j] = names[cand[0]]
    return out


def _write(text: str, path: str) -> None:
    ext = os.path.splitext(path)[1].lower()
    fmt = _FORMATS[ext]
    if fmt is None:
        atomic_write(path, text.encode())
        return
    exe = shutil.which("dot")
    if exe is None:
        alt = os.path.splitext(path)[0] + ".dot"
        atomic_write(alt, text.encode())
        warnings.warn(
            f"draw_graph: Graphviz's 'dot' program was not found, so {path!r} was not rendered; "
            f"the DOT text was written to {alt!r} (and returned). Install Graphviz to render: "
            "apt-get install graphviz / brew install graphviz / conda install graphviz.",
            RuntimeWarning, stacklevel=3)
        return
    res = subprocess.run([exe, f"-T{fmt}"], input=text.encode(), capture_output=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"draw_graph: 'dot -T{fmt}' failed: {res.stderr.decode(errors='replace')}")
    atomic_write(path, res.stdout)
