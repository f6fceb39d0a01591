"""Per-sample gradient norms per layer inside a backward trace: ``gg.trace(per_sample=True)``.

::

    with gg.trace(model=model, per_sample=True) as t:
        loss = loss_fn(model(x), y)      # the forward runs inside the block too
        loss.backward()
    print(t.per_sample)                  # (also appended to print(t), to_html, to_json)

How: while the trace is active, a forward hook on every layer with a per-sample rule
(:mod:`glassgrad._per_sample_rules`: Linear, Conv, Embedding, LayerNorm, GroupNorm, RMSNorm,
BatchNorm in eval mode) keeps the layer's input and names the graph node of its output. When
the backward runs that node, the trace's observer sees the gradient the node received — the
layer's output gradient δ — and the rule turns (input, δ) into the rows ``gᵢ`` that the
ordinary weight gradient sums over (Linear: ``gᵢ = δᵢ xᵢᵀ``, ``Σᵢ gᵢ = ∂L/∂W``).

So the rows are each sample's **contribution to this step's gradient**: for a loss with
``reduction='mean'`` over ``N`` samples, ``gᵢ = ∇ℓᵢ / N`` (the per-sample gradient of
:func:`~glassgrad.per_sample_grads` divided by ``N``). Per layer (all of its parameters
together) the report gives the norms ``‖gᵢ‖`` and the samples that dominate the step: the
``top_k`` largest norms with their share ``‖gᵢ‖ / Σⱼ ‖gⱼ‖``; the last row does the same for
the whole model (``‖gᵢ‖² = Σ_layers ‖gᵢ,layer‖²``, the norm DP-SGD clips).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import to_numpy

__all__ = ["PerSampleTrace", "LayerPerSample"]


@dataclass
class LayerPerSample:
    """Per-sample gradient norms of one layer (``layer == "(model)"``: all layers)."""

    layer: str
    params: list
    norms: np.ndarray            # (N,) ‖gᵢ‖ over the layer's parameters
    top: list                    # [(sample index, norm, share)], largest first

    def to_dict(self) -> dict:
        return {"layer": self.layer, "params": list(self.params),
                "norms": [float(v) for v in self.norms],
                "top": [{"sample": int(i), "norm": float(v), "share": float(s)} for i, v, s in self.top]}


def _top(norms: np.ndarray, k: int) -> list:
    tot = float(norms.sum())
    order = np.argsort(-norms, kind="stable")[:k]
    return [(int(i), float(norms[i]), float(norms[i]) / tot if tot > 0 else 0.0) for i in order]


class PerSampleTrace:
    """Collects per-sample gradient contributions of a model's layers during a trace."""

    def __init__(self, model: Any, model_name: str = "model", top_k: int = 3) -> None:
        if model is None or not hasattr(model, "named_modules"):
            raise TypeError("trace(per_sample=True): needs model= (an nn.Module), got "
                            f"{type(model).__name__}")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"trace(per_sample=True): top_k must be a positive int, got {top_k!r}")
        self.model, self.model_name, self.top_k = model, model_name, top_k
        self._handles: list = []
        self._taps: dict = {}         # id(node) -> [(out index, module, rule, record), ...]
        self._keep: list = []         # keeps tapped nodes alive so their ids stay unique
        self._sums: dict = {}         # id(module) -> {local param name: (N, *shape) array}
        self._names: dict = {}        # id(module) -> label
        self.skipped: dict = {}       # label -> why no per-sample norms
        self.layers: list[LayerPerSample] = []
        self.total: LayerPerSample | None = None

    # ---- recording ------------------------------------------------------------------------
    def install(self) -> None:
        from ..per_sample import _rule_for

        for name, m in self.model.named_modules():
            own = [k for k, p in m._parameters.items() if p is not None and p.requires_grad]
            if not own:
                continue
            label = f"{self.model_name}.{name}" if name else self.model_name
            label = f"{label} ({type(m).__name__})"
            self._names[id(m)] = label
            try:
                kind, rule = _rule_for(m)
            except RuntimeError:
                self.skipped[label] = "batch statistics couple the samples"
                continue
            if kind != "hook":
                self.skipped[label] = "no per-sample rule for this layer in traces"
                continue
            seq_first = type(m).__name__ == "NonDynamicallyQuantizableLinear"
            self._handles.append(m.register_forward_hook(self._hook(rule, 1 if seq_first else 0)))

    def _hook(self, rule: Any, axis: int) -> Any:
        def hook(mod: Any, args: tuple, out: Any) -> None:
            x = args[0] if args else None
            node = getattr(out, "grad_fn", None)
            if node is None or not hasattr(x, "array"):
                return
            rec = {"x": x.array, "axis": axis, "shapes": [tuple(out.shape)], "dtype": out.array.dtype}
            self._taps.setdefault(id(node), []).append((out._out_idx, mod, rule, rec))
            self._keep.append(node)
        return hook

    def observe(self, node: Any, grads_in: Any) -> None:
        taps = self._taps.get(id(node))
        if not taps:
            return
        from .. import _per_sample_rules as R

        for j, mod, rule, rec in taps:
            g = grads_in[j] if j < len(grads_in) else None
            if g is None:
                continue
            g = g.array if hasattr(g, "grad_fn") else g
            n = rec["x"].shape[rec["axis"]]
            try:
                res = rule(mod, rec, [g], n)
            except R.Unsupported as e:
                self.skipped[self._names.get(id(mod), type(mod).__name__)] = str(e)
                continue
            acc = self._sums.setdefault(id(mod), {})
            for k, v in res.items():
                p = mod._parameters.get(k)
                if p is None or not p.requires_grad:
                    continue
                v = to_numpy(v)
                acc[k] = v if k not in acc or acc[k].shape != v.shape else acc[k] + v

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._taps, self._keep = {}, []
        self._finish()

    def _finish(self) -> None:
        layers = []
        for _, m in self.model.named_modules():
            acc = self._sums.get(id(m))
            if not acc:
                continue
            n = next(iter(acc.values())).shape[0]
            sq = np.zeros(n, np.float64)
            for v in acc.values():
                flat = v.reshape(n, -1).astype(np.float64, copy=False)
                sq += np.einsum("ij,ij->i", flat, flat)
            norms = np.sqrt(sq)
            layers.append(LayerPerSample(self._names[id(m)], list(acc), norms, _top(norms, self.top_k)))
        self._sums = {}
        self.layers = layers
        sizes = {ly.norms.shape[0] for ly in layers}
        if len(sizes) == 1:
            tot = np.sqrt(sum(ly.norms ** 2 for ly in layers))
            self.total = LayerPerSample("(model)", [p for ly in layers for p in ly.params], tot,
                                        _top(tot, self.top_k))
        else:
            self.total = None

    # ---- report ---------------------------------------------------------------------------
    def table(self) -> str:
        """Per layer: mean/max of ‖gᵢ‖ and the top-k samples with their share of Σ‖gᵢ‖."""
        if not self.layers:
            out = ["per-sample gradients: no layer with a per-sample rule ran in the traced "
                   "forward and backward (run the forward inside the with block)"]
        else:
            n = self.layers[0].norms.shape[0]
            out = [f"per-sample gradient contributions ‖gᵢ‖ (Σᵢ gᵢ = this backward's gradient; "
                   f"{n} samples; share = ‖gᵢ‖ / Σⱼ ‖gⱼ‖)"]
            rows = [("layer", "mean ‖gᵢ‖", "max ‖gᵢ‖", f"top {self.top_k} samples (norm, share)")]
            for ly in self.layers + ([self.total] if self.total is not None else []):
                top = ", ".join(f"#{i} ({v:.3g}, {100 * s:.1f}%)" for i, v, s in ly.top)
                rows.append((ly.layer, f"{ly.norms.mean():.3g}", f"{ly.norms.max():.3g}", top))
            w = [max(len(r[c]) for r in rows) for c in range(4)]
            for k, r in enumerate(rows):
                out.append("  ".join((r[c].rjust(w[c]) if c in (1, 2) else r[c].ljust(w[c]))
                                     for c in range(4)).rstrip())
                if k == 0:
                    out.append("  ".join("-" * x for x in w))
        for label, why in self.skipped.items():
            out.append(f"  not covered: {label}: {why}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict:
        return {"layers": [ly.to_dict() for ly in self.layers],
                "model": self.total.to_dict() if self.total is not None else None,
                "skipped": dict(self.skipped)}

    def html(self) -> str:
        """An HTML table of the report (for the trace's HTML view)."""
        from html import escape

        if not self.layers:
            return f"<pre>{escape(self.table())}</pre>"
        head = ("<tr><th>layer</th><th>mean ‖gᵢ‖</th><th>max ‖gᵢ‖</th>"
                f"<th>top {self.top_k} samples (norm, share of Σ‖gⱼ‖)</th></tr>")
        body = []
        for ly in self.layers + ([self.total] if self.total is not None else []):
            top = ", ".join(f"#{i} ({v:.3g}, {100 * s:.1f}%)" for i, v, s in ly.top)
            body.append(f"<tr><td>{escape(ly.layer)}</td><td>{ly.norms.mean():.3g}</td>"
                        f"<td>{ly.norms.max():.3g}</td><td>{escape(top)}</td></tr>")
        skipped = "".join(f"<div>not covered: {escape(k)}: {escape(v)}</div>"
                          for k, v in self.skipped.items())
        return (f"<div class='hd'>per-sample gradient contributions ‖gᵢ‖ (Σᵢ gᵢ = this backward's "
                f"gradient)</div><table>{head}{''.join(body)}</table>{skipped}")
