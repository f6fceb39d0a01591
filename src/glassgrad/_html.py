"""HTML views for notebooks (``_repr_html_``) and self-contained trace pages.

* :func:`tensor_html` — a Tensor: shape, dtype, device, ``grad_fn``, ``requires_grad``
  and a small table of values (big tensors show their corners, like ``repr``).
* :func:`module_html` — an ``nn.Module``: its tree of sub-modules with parameter shapes
  and counts.
* :func:`trace_html` / :func:`trace_page` — a backward trace as a table (fragment for
  Jupyter, full page with inline CSS for ``Trace.to_html``).

Everything is plain HTML with inline styles: no JavaScript, no external resources.
The renderers read their argument's attributes (duck typing) and import nothing above
``backend``, so that ``Tensor``, ``nn.Module`` and ``glassbox.Trace`` can use them for
``_repr_html_``; :mod:`glassgrad.viz.html` is their public home.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

__all__ = ["tensor_html", "module_html", "trace_html", "trace_page"]

_CSS = """
.gg{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:13px;color:#1b1f24}
.gg .hd{margin:2px 0 6px 0}
.gg .tag{display:inline-block;background:#eef2f7;border-radius:3px;padding:0 5px;margin-right:4px;
 font-family:Menlo,Consolas,monospace;font-size:12px}
.gg table{border-collapse:collapse;font-family:Menlo,Consolas,monospace;font-size:12px}
.gg td,.gg th{border:1px solid #d6dbe1;padding:2px 6px;text-align:right;white-space:nowrap}
.gg th{background:#f3f5f8;font-weight:600}
.gg td.l,.gg th.l{text-align:left}
.gg tr.node td{border-top:2px solid #8a94a3}
.gg td.recv{color:#5b6675;font-style:italic}
.gg .bc{color:#b3470b;font-weight:600}
.gg .mod{color:#22639b}
.gg .zero{color:#a11}
.gg ul{margin:0;padding-left:18px;font-family:Menlo,Consolas,monospace;font-size:12px}
"""

_E = html.escape


def _shape(s: Any) -> str:
    s = tuple(int(d) for d in s)
    return "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"


# ----------------------------------------------------------------------------- tensors
def _cells(a: np.ndarray, edge: int) -> tuple[list, list, list]:
    """Rows/cols to show (``None`` marks an ellipsis) for a 2-D array."""
    def pick(n: int) -> list:
        return list(range(n)) if n <= 2 * edge + 1 else list(range(edge)) + [None] + \
            list(range(n - edge, n))

    return pick(a.shape[0]), pick(a.shape[1]), []


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, complex | np.complexfloating):
        return f"{v:.4g}"
    return f"{float(v):.4g}"


def _value_table(a: np.ndarray, edge: int = 4) -> str:
    if a.ndim == 0:
        return f"<table><tr><td>{_E(_fmt(a.item()))}</td></tr></table>"
    note = ""
    if a.ndim == 1:
        a2 = a.reshape(1, -1)
    elif a.ndim == 2:
        a2 = a
    else:
        lead = a.shape[:-2]
        a2 = a[(0,) * len(lead)]
        note = (f"<div class='hd'>showing [{', '.join('0' for _ in lead)}, :, :] of "
                f"{_E(_shape(a.shape))}</div>")
    rows, cols, _ = _cells(a2, edge)
    out = [note, "<table>"]
    for i in rows:
        out.append("<tr>")
        for j in cols:
            if i is None or j is None:
                out.append("<td>⋯</td>" if i is not None else "<td>⋮</td>")
            else:
                out.append(f"<td>{_E(_fmt(a2[i, j]))}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def tensor_html(t: Any, edge: int = 4) -> str:
    """HTML for a Tensor: a header (shape, dtype, device, grad_fn / requires_grad) and a
    table of values showing at most ``2·edge`` rows and columns (corners of big tensors)."""
    from .backend import to_numpy

    a = to_numpy(t.array)
    tags = [f"tensor {_E(_shape(a.shape))}", _E(str(a.dtype))]
    if getattr(t, "device", "cpu") != "cpu":
        tags.append(_E(str(t.device)))
    if t.grad_fn is not None:
        tags.append(f"grad_fn=&lt;{_E(t.grad_fn.name())}&gt;")
    elif t.requires_grad:
        tags.append("requires_grad=True")
    if getattr(t, "_name", None):
        tags.append(f"name={_E(t._name)}")
    if t.grad is not None:
        tags.append(f"grad {_E(_shape(t.grad.shape))}")
    head = "".join(f"<span class='tag'>{x}</span>" for x in tags)
    body = _value_table(a, edge) if a.size else "<i>empty</i>"
    return f"<div class='gg'><style>{_CSS}</style><div class='hd'>{head}</div>{body}</div>"


# ----------------------------------------------------------------------------- modules
def module_html(module: Any) -> str:
    """HTML for an ``nn.Module``: the tree of sub-modules, each with its own parameters'
    shapes, and the total parameter count."""

    def count(m: Any) -> int:
        return sum(int(p.array.size) for p in m.parameters())

    def node(name: str, m: Any) -> str:
        own = [f"{_E(n)} {_E(_shape(p.shape))}" for n, p in m.named_parameters(recurse=False)]
        extra = ""
        if hasattr(m, "extra_repr"):
            try:
                extra = m.extra_repr()
            except Exception:  # noqa: BLE001 - a broken extra_repr must not break display
                extra = ""
        label = f"<b>{_E(name)}</b> " if name else ""
        label += f"<span class='mod'>{_E(type(m).__name__)}</span>"
        if extra:
            label += f"({_E(extra)})"
        n = count(m)
        label += f" <span class='tag'>{n:,} params</span>"
        if own:
            label += " " + ", ".join(own)
        kids = "".join(node(cn, c) for cn, c in m.named_children())
        return f"<li>{label}{'<ul>' + kids + '</ul>' if kids else ''}</li>"

    return (f"<div class='gg'><style>{_CSS}</style><ul>{node('', module)}</ul>"
            f"<div class='hd'>{count(module):,} parameters in total</div></div>")


# ----------------------------------------------------------------------------- traces
def _trace_table(tr: Any) -> str:
    cols = tr._COLS
    out = ["<table><thead><tr>"]
    for i, c in enumerate(cols):
        cls = " class='l'" if i in (1, 2, 3, 4, 5, 6, 7) else ""
        out.append(f"<th{cls}>{_E(c)}</th>")
    out.append("</tr></thead><tbody>")
    recs = {str(r.index): r for r in tr.records}
    for row in tr.rows():
        rc = " class='node'" if row[0] else ""
        out.append(f"<tr{rc}>")
        sig = recs[row[0]].signature if row[0] in recs else ""
        for i, c in enumerate(row):
            cls = []
            if i in (1, 2, 3, 4, 5, 6, 7):
                cls.append("l")
            if i == 7 and c:
                cls.append("bc")
            if i == 5 and c == "(received)":
                cls.append("recv")
            if i == 2 and c:
                cls.append("mod")
            attr = f" class='{' '.join(cls)}'" if cls else ""
            if i == 1 and sig:
                attr += f" title='{_E(sig, quote=True)}'"
            out.append(f"<td{attr}>{_E(c)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def trace_html(tr: Any) -> str:
    """An HTML fragment (for Jupyter) with the trace table."""
    n_b = sum(len(r.broadcast) for r in tr.records)
    summary = (f"{len(tr.records)} backward nodes, {tr.total_seconds * 1e3:.3f} ms in backward "
               f"formulas, {n_b} broadcast sum(s)")
    ps = getattr(tr, "per_sample", None)
    extra = "" if ps is None else f"<div style='margin-top:10px'>{ps.html()}</div>"
    return (f"<div class='gg'><style>{_CSS}</style><div class='hd'>{_E(summary)}</div>"
            f"{_trace_table(tr)}{extra}</div>")


def trace_page(tr: Any, title: str = "glassgrad backward trace") -> str:
    """A complete, self-contained HTML page for a trace (inline CSS only)."""
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_E(title)}</title></head><body style='margin:16px'>"
            f"<div class='gg'><h2 style='margin:0 0 8px 0'>{_E(title)}</h2></div>"
            f"{trace_html(tr)}"
            "<div class='gg' style='margin-top:10px;color:#5b6675'>Rows per node: the gradient "
            "it received (dZ: the node's δ), then each gradient it sent, the formula that "
            "computed it and where it went. Derivations: docs/derivations/.</div>"
            "</body></html>\n")
