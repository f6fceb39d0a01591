"""Gradient-flow plots: per-layer gradient norms and update ratios over training.

Needs matplotlib (``pip install glassgrad[plot]``). Uses matplotlib's object API
(:class:`matplotlib.figure.Figure`), so it works without a display and never touches
the global pyplot state. Figures are returned; with ``path`` they are also saved.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .._atomic import atomic_open

__all__ = ["plot_gradient_flow", "compare_gradient_flow"]


def _figure(figsize: tuple) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("gradient-flow plots need matplotlib: pip install glassgrad[plot]") from None
    return Figure(figsize=figsize, layout="constrained")


def _save(fig: Any, path: str | os.PathLike | None) -> None:
    if path is None:
        return
    ext = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=ext, dpi=110)


def _finite(v: list) -> list:
    return [x if (x == x and math.isfinite(x) and x > 0) else float("nan") for x in v]


def _panels(flow: Any, axes: Any, label: str = "") -> None:
    names = list(flow.layers)
    cmap = _cmap(len(names))
    ax0, ax1, ax2 = axes
    for i, n in enumerate(names):
        ax0.plot(flow.steps, _finite(flow.grad_norm[n]), color=cmap[i], label=n, lw=1.2)
        if flow.update_ratio[n]:
            ax1.plot(range(len(flow.update_ratio[n])), _finite(flow.update_ratio[n]), color=cmap[i],
                     label=n, lw=1.2)
    ax0.set_yscale("log")
    ax0.set_xlabel("step")
    ax0.set_ylabel("‖∂L/∂W‖ per layer")
    ax0.set_title(f"{label}gradient norm per layer", fontsize=10)
    ax1.set_yscale("log")
    ax1.set_xlabel("step")
    ax1.set_ylabel("‖ΔW‖ / ‖W‖")
    ax1.set_title(f"{label}update / weight ratio", fontsize=10)
    # gradient norm by depth (mean over the recorded steps)
    means = []
    for n in names:
        v = [x for x in flow.grad_norm[n] if x == x and math.isfinite(x)]
        means.append(sum(v) / len(v) if v else float("nan"))
    ax2.bar(range(len(names)), means, color=cmap)
    ax2.set_yscale("log")
    ax2.set_xticks(range(len(names)))
    ax2.set_xticklabels(names, rotation=60, fontsize=7)
    ax2.set_ylabel("mean ‖∂L/∂W‖")
    ax2.set_title(f"{label}mean gradient norm by depth", fontsize=10)
    ax2.set_xlabel("layer (input → output)")
    _layer_key(ax2, names, cmap)


def _layer_key(ax: Any, names: list, colors: list) -> None:
    """A colour bar beside ``ax`` naming the layer of each line colour (all three panels share
    the colours); it reads for any number of layers, unlike a legend."""
    if not names:
        return
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap

    n = len(names)
    sm = ScalarMappable(norm=BoundaryNorm(range(n + 1), n), cmap=ListedColormap(colors))
    cb = ax.figure.colorbar(sm, ax=ax, fraction=0.06, pad=0.02)
    step = max(1, -(-n // 16))  # at most ~16 labels
    ticks = list(range(0, n, step))
    cb.set_ticks([i + 0.5 for i in ticks])
    cb.set_ticklabels([names[i] for i in ticks], fontsize=7)
    cb.set_label("layer (colour of its line)", fontsize=8)


def _cmap(n: int) -> list:
    from matplotlib import colormaps

    cm = colormaps["viridis"]
    return [cm(i / max(n - 1, 1)) for i in range(n)]


def plot_gradient_flow(flow: Any, path: str | os.PathLike | None = None, title: str | None = None
                       ) -> Any:
    """Three panels for one :class:`~glassgrad.glassbox.GradientFlow`: gradient norm per
    layer over steps, update/weight ratio per layer over steps, and mean gradient norm
    by depth. Returns the matplotlib Figure (saved to ``path`` when given)."""
    fig = _figure((13, 3.8))
    axes = fig.subplots(1, 3)
    _panels(flow, axes)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig


def compare_gradient_flow(flows: dict, path: str | os.PathLike | None = None,
                          title: str | None = None) -> Any:
    """One row of the three panels per named flow (e.g. ``{"sigmoid": f1, "ReLU + He": f2}``),
    with shared y-axes so that the magnitudes compare directly."""
    fig = _figure((13, 3.6 * len(flows)))
    axes = fig.subplots(len(flows), 3, squeeze=False)
    for row, (label, fl) in zip(axes, flows.items()):
        _panels(fl, row, label=f"{label}: ")
    for col in range(3):
        lo, hi = math.inf, 0.0
        for row in axes:
            a, b = row[col].get_ylim()
            lo, hi = min(lo, a), max(hi, b)
        for row in axes:
            row[col].set_ylim(lo, hi)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig
