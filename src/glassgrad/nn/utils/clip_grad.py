"""Gradient clipping, in place on ``p.grad`` (PyTorch's ``torch.nn.utils.clip_grad_*``).

``clip_grad_norm_`` treats all the gradients as one long vector ``G`` and rescales it when
its norm is too large::

    total = ||G||_p = (sum over every grad element |g|^p) ** (1/p)     (max |g| for p = inf)
    coef  = max_norm / (total + 1e-6)
    if coef < 1:  every g <- g * coef          (the direction of G is kept)

``clip_grad_value_`` clamps each element to ``[-clip_value, clip_value]`` (which changes
the direction of ``G``).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from ..._docfill import fill_doc
from ...backend import np, xp_of
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


_shared_doc = fill_doc({
    "parameters": "parameters : Tensor or iterable of Tensor\n"
                  "    Tensors whose ``.grad`` is clipped (those without a gradient are skipped).",
    "foreach": "foreach : bool, optional\n    Accepted for PyTorch compatibility; ignored.",
})


def _params(parameters: Tensor | Iterable[Tensor], fn: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        ps = list(parameters)
    except TypeError:
        raise TypeError(f"{fn}: parameters must be a Tensor or an iterable of Tensors, got "
                        f"{type(parameters).__name__}") from None
    for i, p in enumerate(ps):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameter {i} is a {type(p).__name__}, expected a Tensor")
    return ps


def _writable(g: Tensor) -> bool:
    """Whether a gradient can be changed in place (an owned array, not part of a graph)."""
    return getattr(g.array.flags, "writeable", True) and g.grad_fn is None and not g.requires_grad


def _norm_type(norm_type: Any, fn: str) -> float:
    if isinstance(norm_type, str):
        if norm_type.lower() in ("inf", "+inf"):
            return math.inf
        if norm_type.lower() == "-inf":
            return -math.inf
        raise ValueError(f"{fn}: norm_type must be a number or 'inf', got {norm_type!r}")
    p = float(norm_type)
    if math.isnan(p):
        raise ValueError(f"{fn}: norm_type must be a number or 'inf', got nan")
    return p


def _vector_norm(g: Any, p: float) -> float:
    """The p-norm of one array, as a Python float."""
    if g.size == 0:
        return 0.0 if p != -math.inf else math.inf
    a = g.reshape(-1)
    if p == 2.0:
        return math.sqrt(float(np.dot(a, a)))
    if p == math.inf:
        return float(np.abs(a).max())
    if p == -math.inf:
        return float(np.abs(a).min())
    if p == 1.0:
        return float(np.abs(a).sum())
    if p == 0.0:
        return float(np.count_nonzero(a))
    return float((np.abs(a) ** p).sum()) ** (1.0 / p)


def _combine(norms: list[float], p: float) -> float:
    """The p-norm of the vector of per-tensor p-norms (= the norm of all elements at once)."""
    if p == math.inf:
        return max(norms)
    if p == -math.inf:
        return min(norms)
    if p == 0.0:
        return float(sum(norms))
    return math.fsum(n**p for n in norms) ** (1.0 / p)


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float | str = 2.0,
                   error_if_nonfinite: bool = False) -> Tensor:
    """The norm of several tensors taken together as one vector (0-d Tensor).

    Parameters
    ----------
    tensors : Tensor or iterable of Tensor
        E.g. the gradients of a model.
    norm_type : float or 'inf'
        Order ``p`` of the norm (default 2).
    error_if_nonfinite : bool
        Raise if the norm is nan or inf.
    """
    ts = _params(tensors, "get_total_norm")
    return _total_norm([t.array for t in ts], _norm_type(norm_type, "get_total_norm"),
                       error_if_nonfinite, "get_total_norm")


def _total_norm(grads: list[Any], p: float, error_if_nonfinite: bool, fn: str) -> Tensor:
    if not grads:
        return Tensor._make(np.asarray(0.0, dtype=np.float32), False)
    dtype = np.result_type(*[g.dtype for g in grads])
    total = _combine([_vector_norm(g, p) for g in grads], p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"{fn}: the total norm of order {p} of the gradients of {len(grads)} parameters is "
            f"{total}, so they cannot be clipped; set error_if_nonfinite=False to clip anyway "
            "(the gradients then become nan)"
        )
    return Tensor._make(xp_of(grads[0]).asarray(total, dtype=dtype), False)


@_shared_doc
def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Rescale the gradients in place so that their total norm is at most ``max_norm``.

    Parameters
    ----------
    {parameters}
    max_norm : float
        Maximum allowed norm of all the gradients together.
    norm_type : float or 'inf'
        Order of the norm (default 2; ``inf`` for the largest absolute element).
    error_if_nonfinite : bool
        Raise a ``RuntimeError`` if the total norm is nan or inf (default: clip anyway, which
        fills the gradients with nan, as PyTorch does).
    {foreach}

    Notes
    -----
    The norm is that of all gradient elements as one vector. For ``norm_type=0`` (not a
    norm: the count of non-zero elements) this is the total count, where PyTorch returns
    the number of tensors whose gradient has a non-zero element.

    Returns
    -------
    Tensor
        The total norm *before* clipping (0-d, the gradients' dtype); log it to watch for
        exploding gradients.
    """
    ps = _params(parameters, "clip_grad_norm_")
    p = _norm_type(norm_type, "clip_grad_norm_")
    max_norm = float(max_norm)
    holders = [t for t in ps if t.grad is not None]
    total = _total_norm([t.grad.array for t in holders], p, error_if_nonfinite, "clip_grad_norm_")
    _scale(holders, max_norm, total)
    return total


def _scale(holders: list[Tensor], max_norm: float, total: Any) -> None:
    coef = max_norm / (float(total) + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        for t in holders:
            g = t.grad
            if _writable(g):
                g.array *= coef
                g._version[0] += 1
            else:
                t.grad = Tensor._make(g.array * coef, False)


@_shared_doc
def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                          total_norm: Tensor | float, foreach: bool | None = None) -> None:
    """Scale the gradients by ``max_norm / (total_norm + 1e-6)`` when that is below 1.

    The second half of :func:`clip_grad_norm_`, for a ``total_norm`` computed elsewhere
    (e.g. with :func:`get_total_norm`, or summed over several models).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``.grad`` is scaled in place.
    max_norm : float
        Maximum allowed norm.
    total_norm : Tensor or float
        The norm of the gradients.
    {foreach}
    """
    ps = _params(parameters, "clip_grads_with_norm_")
    _scale([t for t in ps if t.grad is not None], float(max_norm), total_norm)


@_shared_doc
def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    {parameters}
    clip_value : float
        Bound on the absolute value of the gradient elements (>= 0).
    {foreach}
    """
    ps = _params(parameters, "clip_grad_value_")
    c = float(clip_value)
    if not c >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    for t in ps:
        g = t.grad
        if g is None:
            continue
        if _writable(g):
            np.clip(g.array, -c, c, out=g.array)
            g._version[0] += 1
        else:
            t.grad = Tensor._make(np.clip(g.array, -c, c), False)
