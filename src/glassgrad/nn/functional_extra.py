"""More of ``torch.nn.functional``, written as compositions of glassgrad's ops (so each
gradient is the graph of existing ops): in-place activations, randomized activations and
dropouts, ``local_response_norm``, power-average pooling, max unpooling, the margin
losses, ``embedding_bag``, ``pdist``, ``channel_shuffle``, ``conv_tbc``, ``gumbel_softmax``.

Re-exported by :mod:`glassgrad.nn.functional`; sampling (grid_sample, affine_grid) and
CTC are in :mod:`.functional_grid` and :mod:`glassgrad.ops.ctc`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..backend import np, xp_of
from ..ops import conv as _conv
from ..ops import pool as _pool
from ..ops._util import op_error
from ..ops.ctc import CTCLoss as _CTCLoss
from ..random import Generator, _rng
from ..tensor import Tensor, stack
from . import functional as F

__all__ = [
    "relu_", "elu_", "selu_", "celu_", "leaky_relu_", "hardtanh_", "threshold_", "rrelu",
    "rrelu_", "alpha_dropout", "feature_alpha_dropout", "gumbel_softmax", "local_response_norm",
    "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices",
    "multi_margin_loss", "multilabel_margin_loss", "triplet_margin_with_distance_loss",
    "embedding_bag", "pdist", "channel_shuffle", "conv_tbc", "ctc_loss",
]


def _const(x: Tensor, arr: Any) -> Tensor:
    """A constant (no-grad) tensor from a NumPy array, in ``x``'s dtype and on its device."""
    return Tensor._make(xp_of(x.array).asarray(np.asarray(arr, dtype=x.dtype)), False)


def _check_float(op: str, x: Any, name: str = "input") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating tensor, got {x.dtype}")


# ============================================================================ in place
def _in_place(op: str, input: Tensor, compute: Callable[[], Tensor]) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    return input._inplace_from(op, compute)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`~glassgrad.nn.functional.relu`; returns ``input``."""
    return _in_place("relu_", input, lambda: F.relu(input))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`~glassgrad.nn.functional.elu`."""
    return _in_place("elu_", input, lambda: F.elu(input, alpha))


def selu_(input: Tensor) -> Tensor:
    """In-place :func:`~glassgrad.nn.functional.selu`."""
    return _in_place("selu_", input, lambda: F.selu(input))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`~glassgrad.nn.functional.celu`."""
    return _in_place("celu_", input, lambda: F.celu(input, alpha))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`~glassgrad.nn.functional.leaky_relu`."""
    return _in_place("leaky_relu_", input, lambda: F.leaky_relu(input, negative_slope))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place :func:`~glassgrad.nn.functional.hardtanh`."""
    return _in_place("hardtanh_", input, lambda: F.hardtanh(input, min_val, max_val))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place :func:`~glassgrad.nn.functional.threshold`."""
    return _in_place("threshold_", input, lambda: F.threshold(input, threshold, value))


# ============================================================================ random
def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False, generator: Generator | None = None) -> Tensor:
    """Randomized leaky ReLU: ``x`` if ``x ≥ 0`` else ``a·x``, with ``a ~ U(lower, upper)``
    drawn per element in training and ``a = (lower + upper)/2`` in evaluation.

    The gradient is ``1`` or ``a`` (the same ``a`` as the forward): the slopes are a
    constant tensor in the graph.
    """
    _check_float("rrelu", input)
    if not lower <= upper:
        raise ValueError(f"rrelu: lower bound {lower} must be at most the upper bound {upper}")
    if inplace:
        return rrelu_(input, lower, upper, training, generator)
    if not training:
        return F.leaky_relu(input, (lower + upper) / 2)
    a = _rng(generator).uniform(lower, upper, size=tuple(input.shape))
    neg = input.array < 0
    slope = _const(input, 1.0) if not neg.any() else Tensor._make(
        xp_of(input.array).where(neg, xp_of(input.array).asarray(a.astype(input.dtype)),
                                 input.array.dtype.type(1)), False)
    return input * slope


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
           generator: Generator | None = None) -> Tensor:
    """In-place :func:`rrelu`."""
    return _in_place("rrelu_", input, lambda: rrelu(input, lower, upper, training, False,
                                                    generator))


_SELU_ALPHA_PRIME = 1.7580993408473766  # −(selu scale · selu alpha): SELU's negative saturation


def _alpha_dropout(op: str, x: Tensor, p: float, training: bool, feature: bool,
                   generator: Generator | None) -> Tensor:
    _check_float(op, x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    if feature and x.ndim < 2:
        raise op_error(op, f"expects an input of at least 2 dims (N, C, *), got shape "
                       f"{tuple(x.shape)}")
    shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2) if feature else tuple(x.shape)
    keep = (_rng(generator).random(shape) >= p).astype(x.dtype)
    al = _SELU_ALPHA_PRIME
    a = 1.0 / math.sqrt((al * al * p + 1) * (1 - p))
    # y = a·(x·m − α'(1 − m)) + α'·a·p: dropped units go to SELU's saturation value, then an
    # affine map restores zero mean and unit variance
    b = (keep - 1.0) * (al * a) + al * a * p
    return x * _const(x, keep * a) + _const(x, b)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False,
                  generator: Generator | None = None) -> Tensor:
    """Alpha dropout (for SELU networks): dropped elements are set to SELU's negative
    saturation ``−α' = −λα``, then ``y = a·x̃ + b`` with ``a = ((1 − p)(1 + pα'²))^{−½}``,
    ``b = a·α'·p`` keeps mean 0 and variance 1. Identity when not training."""
    y = _alpha_dropout("alpha_dropout", input, p, training, False, generator)
    return input._inplace_from("alpha_dropout", lambda: y) if inplace and y is not input else y


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False, generator: Generator | None = None) -> Tensor:
    """Alpha dropout of whole channels: one mask entry per ``(sample, channel)``."""
    y = _alpha_dropout("feature_alpha_dropout", input, p, training, True, generator)
    if inplace and y is not input:
        return input._inplace_from("feature_alpha_dropout", lambda: y)
    return y


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1, generator: Generator | None = None) -> Tensor:
    """Sample from the Gumbel-softmax distribution: ``softmax((logits + g)/τ)`` with
    ``g = −log E``, ``E ~ Exp(1)``. ``hard=True`` returns the one-hot of the arg-max in the
    forward with the soft sample's gradient (straight-through: ``y_hard − sg(y) + y``)."""
    _check_float("gumbel_softmax", logits, "logits")
    e = _rng(generator).exponential(1.0, size=tuple(logits.shape))
    g = _const(logits, -np.log(e))
    y = ((logits + g) / tau).softmax(dim)
    if not hard:
        return y
    xp = xp_of(y.array)
    idx = y.array.argmax(axis=dim)
    hard_arr = xp.zeros_like(y.array)
    xp.put_along_axis(hard_arr, xp.expand_dims(idx, dim), 1, axis=dim)
    return Tensor._make(hard_arr, False) - y.detach() + y


# ============================================================================ normalization
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """``b_c = a_c / (k + α/n · Σ_{c'} a_{c'}²)^β`` over the ``n = size`` channels
    ``c − ⌊n/2⌋ … c + ⌈n/2⌉ − 1`` (zero outside), as PyTorch (AlexNet's LRN)."""
    _check_float("local_response_norm", input)
    if input.ndim < 3:
        raise op_error("local_response_norm", f"expected 3D or higher input (N, C, *), got "
                       f"shape {tuple(input.shape)}")
    if size < 1:
        raise op_error("local_response_norm", f"size must be positive, got {size}")
    if input.numel() == 0:
        return input
    C = input.shape[1]
    sq = input * input
    widths = [(0, 0)] * input.ndim
    widths[1] = (size // 2, (size - 1) // 2)
    sqp = sq.pad_nd(widths, 0.0)
    acc = None
    for j in range(size):
        piece = sqp.narrow(1, j, C)
        acc = piece if acc is None else acc + piece
    div = (acc * (alpha / size) + k) ** beta
    return input / div


# ============================================================================ pooling
def _lp_pool(op: str, k: int, x: Tensor, norm_type: float, kernel_size: Any, stride: Any,
             ceil_mode: bool) -> Tensor:
    _check_float(op, x)
    ks = _conv._ntuple(kernel_size, k, "kernel_size", op, 1)
    avg = (_pool.avg_pool1d, _pool.avg_pool2d, _pool.avg_pool3d)[k - 1]
    out = avg(x ** norm_type, ks, stride, 0, ceil_mode)
    # sign(out)·relu(|out|) (as PyTorch: zero gradient where a window sums to exactly 0)
    return (out.sign() * out.abs().relu() * float(math.prod(ks))) ** (1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling ``(Σ_window xᵖ)^{1/p}`` over ``(N, C, L)``, see :func:`lp_pool2d`."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling ``(Σ_window xᵖ)^{1/p}`` (``p = ∞``-like max pooling for large
    ``p``, sum pooling for ``p = 1``), computed as PyTorch's: ``avg_pool(xᵖ)·|window|`` then
    the ``1/p`` power."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over ``(N, C, D, H, W)``, see :func:`lp_pool2d`."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def _max_unpool(op: str, k: int, x: Tensor, indices: Any, kernel_size: Any, stride: Any,
                padding: Any, output_size: Any) -> Tensor:
    _check_float(op, x)
    if x.ndim not in (k + 1, k + 2):
        raise op_error(op, f"expected a {k + 2}-D input (N, C, *spatial) or a {k + 1}-D "
                       f"unbatched input, got shape {tuple(x.shape)}")
    idx = indices.array if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor (as returned by max_pool with "
                        f"return_indices=True), got {idx.dtype}")
    if tuple(idx.shape) != tuple(x.shape):
        raise op_error(op, f"indices of shape {tuple(idx.shape)} must have the input's shape "
                       f"{tuple(x.shape)}")
    ks = _conv._ntuple(kernel_size, k, "kernel_size", op, 1)
    st = ks if stride is None else _conv._ntuple(stride, k, "stride", op, 1)
    pad = _conv._ntuple(padding, k, "padding", op, 0)
    sp = tuple(x.shape[-k:])
    default = tuple((n - 1) * s - 2 * p + kk for n, s, p, kk in zip(sp, st, pad, ks))
    if output_size is None:
        osz = default
    else:
        osz = tuple(int(o) for o in output_size)
        if len(osz) == k + 2 or (len(osz) == k + 1 and x.ndim == k + 1):
            osz = osz[-k:]
        if len(osz) != k:
            raise op_error(op, f"output_size must have {k} (or {k + 2}) elements, got "
                           f"{tuple(output_size)}")
        for o, d, s in zip(osz, default, st):
            if not d - s < o < d + s:
                raise op_error(op, f"invalid output_size {osz}: each size must be within the "
                               f"stride of the default size {default}")
    lead = tuple(x.shape[:-k])
    n_out = int(math.prod(osz))
    flat = idx.reshape(lead + (-1,))
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= n_out):
        raise IndexError(f"{op}: found an index out of range for an output of size {osz} "
                         f"(indices must be in [0, {n_out}))")
    zeros = Tensor._make(xp_of(x.array).zeros(lead + (n_out,), dtype=x.dtype), False)
    y = zeros.scatter(len(lead), Tensor._make(flat, False), x.reshape(lead + (-1,)))
    return y.reshape(lead + osz)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """Partial inverse of :func:`max_pool1d`, see :func:`max_unpool2d`."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """Partial inverse of :func:`max_pool2d`: put each value at its flat ``indices``
    position in a zero ``(N, C, OH, OW)`` output, with ``OH = (H − 1)·stride − 2·padding +
    kernel`` unless ``output_size`` says otherwise. A scatter, so the gradient is the
    gather at the same indices."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """Partial inverse of :func:`max_pool3d`, see :func:`max_unpool2d`."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple:
    """:func:`max_pool1d` that always returns ``(output, indices)``."""
    return _pool._max_pool_nd("max_pool1d_with_indices", 1, input, kernel_size, stride, padding,
                              dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple:
    """:func:`max_pool2d` that always returns ``(output, indices)``."""
    return _pool._max_pool_nd("max_pool2d_with_indices", 2, input, kernel_size, stride, padding,
                              dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple:
    """:func:`max_pool3d` that always returns ``(output, indices)``."""
    return _pool._max_pool_nd("max_pool3d_with_indices", 3, input, kernel_size, stride, padding,
                              dilation, ceil_mode, True)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of ``(N, C, D, H, W)`` to ``output_size``, see
    :func:`~glassgrad.nn.functional.adaptive_max_pool2d`."""
    return _pool._adaptive_max_pool_nd("adaptive_max_pool3d", 3, input, output_size,
                                       return_indices)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple:
    """:func:`adaptive_max_pool1d` that always returns ``(output, indices)``."""
    return _pool._adaptive_max_pool_nd("adaptive_max_pool1d_with_indices", 1, input,
                                       output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple:
    """:func:`adaptive_max_pool2d` that always returns ``(output, indices)``."""
    return _pool._adaptive_max_pool_nd("adaptive_max_pool2d_with_indices", 2, input,
                                       output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple:
    """:func:`adaptive_max_pool3d` that always returns ``(output, indices)``."""
    return _pool._adaptive_max_pool_nd("adaptive_max_pool3d_with_indices", 3, input,
                                       output_size, True)


# ============================================================================ losses
def _class_indices(op: str, target: Any) -> Any:
    y = target.array if isinstance(target, Tensor) else np.asarray(target)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {y.dtype}")
    return y


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: Any = None, reduce: Any = None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: ``ℓ_n = Σ_{j ≠ y_n} w_{y_n}·max(0, margin − x_{n,y_n} + x_{n,j})ᵖ
    / C`` for scores ``(N, C)`` (or ``(C,)``) and class indices ``y``; ``p`` is 1 or 2."""
    op = "multi_margin_loss"
    F._check_reduction(reduction, op)
    _check_float(op, input)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    if input.ndim not in (1, 2):
        raise op_error(op, f"expected input of shape (N, C) or (C,), got {tuple(input.shape)}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    N, C = x.shape
    y = _class_indices(op, target).reshape(-1)
    if y.shape != (N,):
        raise op_error(op, f"target of shape {tuple(np.shape(target))} does not match input of "
                       f"shape {tuple(input.shape)}: expected ({N},) class indices")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= C):
        raise IndexError(f"{op}: target {int(y.max()) if int(y.max()) >= C else int(y.min())} "
                         f"is out of bounds for {C} classes")
    yi = Tensor._make(xp_of(x.array).asarray(y.astype(np.int64)).reshape(N, 1), False)
    xy = x.gather(1, yi)
    z = (x - xy + margin).relu()
    if p == 2:
        z = z * z
    other = np.ones((N, C), dtype=x.dtype)
    other[np.arange(N), y] = 0
    z = z * _const(x, other)
    if weight is not None:
        w = weight if isinstance(weight, Tensor) else _const(x, weight)
        if tuple(w.shape) != (C,):
            raise op_error(op, f"weight of shape {tuple(w.shape)} must have shape ({C},)")
        z = z * w.to(x.dtype).gather(0, yi.reshape(N)).unsqueeze(1)
    loss = z.sum(1) / C
    if input.ndim == 1:
        loss = loss.reshape(())
    return F._reduce(loss, reduction, op)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: Any = None,
                           reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: for each sample, ``Σ_{j ∈ T} Σ_{k ∉ T} max(0, 1 − (x_j − x_k))
    / C``, where the target set ``T`` is the row of ``target`` up to its first ``−1``."""
    op = "multilabel_margin_loss"
    F._check_reduction(reduction, op)
    _check_float(op, input)
    if input.ndim not in (0, 1, 2):
        raise op_error(op, f"expected input of shape (N, C) or (C,), got {tuple(input.shape)}")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    N, C = x.shape
    y = _class_indices(op, target)
    if y.size != N * C or (input.ndim == 2 and tuple(y.shape) != (N, C)):
        raise op_error(op, f"target of shape {tuple(y.shape)} must have the input's shape "
                       f"{tuple(input.shape)}")
    y = np.asarray(y.get() if hasattr(y, "get") else y).reshape(N, C)
    count = np.zeros((N, C), dtype=np.float64)   # how often j is listed as a target
    is_t = np.zeros((N, C), dtype=bool)
    for n in range(N):
        for c in y[n]:
            if c < 0:
                break
            if c >= C:
                raise IndexError(f"{op}: target {int(c)} is out of bounds for {C} classes")
            count[n, c] += 1
            is_t[n, c] = True
    # pairs (j listed, k not a target): z[n, j, k] = max(0, 1 − x_j + x_k)
    z = (1.0 - x.unsqueeze(2) + x.unsqueeze(1)).relu()
    w = count[:, :, None] * (~is_t)[:, None, :]
    loss = (z * _const(x, w)).sum((1, 2)) / C
    if input.ndim < 2:
        loss = loss.reshape(())
    return F._reduce(loss, reduction, op)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable | None = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """``max(d(a, p) − d(a, n) + margin, 0)`` for any distance function ``d`` (default:
    :func:`~glassgrad.nn.functional.pairwise_distance`); ``swap`` uses
    ``min(d(a, n), d(p, n))``."""
    op = "triplet_margin_with_distance_loss"
    F._check_reduction(reduction, op)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    nd = {anchor.ndim, positive.ndim, negative.ndim}
    if len(nd) != 1:
        raise op_error(op, f"anchor, positive and negative must have the same number of dims, "
                       f"got shapes {tuple(anchor.shape)}, {tuple(positive.shape)}, "
                       f"{tuple(negative.shape)}")
    d = distance_function if distance_function is not None else F.pairwise_distance
    d_ap = d(anchor, positive)
    d_an = d(anchor, negative)
    if swap:
        d_an = d_an.minimum(d(positive, negative))
    return F._reduce((margin + d_ap - d_an).clamp(min=0), reduction, op)


# ============================================================================ embeddings
def _renorm_rows(weight: Tensor, rows: Any, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: rescale (in place, untracked) each referenced row
    whose ``norm_type``-norm exceeds ``max_norm`` to norm ``max_norm`` (``/(norm + 1e-7)``)."""
    xp = xp_of(weight.array)
    u = xp.unique(xp.asarray(rows).reshape(-1))
    w = weight.array
    norms = (xp.abs(w[u]) ** norm_type).sum(-1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    w[u] *= scale[:, None]
    weight._version[0] += 1


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxima of bags of embeddings without materializing the embeddings
    per bag: ``out[b] = reduce_{i ∈ bag b} w_i·weight[input[i]]``.

    ``input`` is ``(B, L)`` (``B`` bags of ``L`` indices) or 1-D with ``offsets`` (the start
    of each bag; ``include_last_offset``: the last offset is the end). Entries equal to
    ``padding_idx`` are left out (and not counted by ``mean``); empty bags give zeros.
    ``per_sample_weights`` (``mode='sum'`` only) scales each looked-up row.
    Sum and mean are one product with a ``(bags, n)`` membership matrix; max is a max per
    bag (the gradient goes to the arg-max row).
    """
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{op}: scale_grad_by_freq and sparse gradients are not "
                                  "supported")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise op_error(op, "weight must be a 2-D Tensor (num_embeddings, embedding_dim)")
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: input must hold integer indices, got {idx.dtype}")
    idx = np.asarray(idx.get() if hasattr(idx, "get") else idx).astype(np.int64)
    num = weight.shape[0]
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets must be None when input is 2-D (B, L), got "
                             "offsets")
        B, L = idx.shape
        starts = np.arange(B) * L
        ends = starts + L
        flat = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op}: offsets must be given when input is 1-D")
        off = offsets.array if isinstance(offsets, Tensor) else np.asarray(offsets)
        off = np.asarray(off.get() if hasattr(off, "get") else off)
        if off.ndim != 1 or off.dtype.kind not in "iu":
            raise op_error(op, f"offsets must be a 1-D integer tensor, got shape "
                           f"{tuple(off.shape)} {off.dtype}")
        off = off.astype(np.int64)
        flat = idx
        if include_last_offset:
            starts, ends = off[:-1], off[1:]
        else:
            starts, ends = off, np.append(off[1:], len(idx))
        if len(off) and (off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] > len(idx)):
            raise ValueError(f"{op}: offsets must start at 0, be non-decreasing and at most "
                             f"the input length {len(idx)}, got {off.tolist()}")
        B = len(starts)
    else:
        raise op_error(op, f"input must be 1-D (with offsets) or 2-D (B, L), got shape "
                       f"{tuple(idx.shape)}")
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= num):
        raise IndexError(f"{op}: index out of range for {num} embeddings")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings "
                             f"{num}")
        padding_idx %= num
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{op}: per_sample_weights is only supported for "
                                      f"mode='sum', got mode={mode!r}")
        if tuple(per_sample_weights.shape) != tuple(idx.shape):
            raise op_error(op, f"per_sample_weights of shape {tuple(per_sample_weights.shape)} "
                           f"must have the input's shape {tuple(idx.shape)}")
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    keep = np.ones(flat.shape, dtype=bool) if padding_idx is None else flat != padding_idx
    D = weight.shape[1]
    emb = weight.index_select(0, Tensor._make(xp_of(weight.array).asarray(flat), False))
    if mode == "max":
        rows = []
        for s, e in zip(starts, ends):
            sel = np.arange(s, e)[keep[s:e]]
            if sel.size == 0:
                rows.append(_const(weight, np.zeros(D)))
            else:
                rows.append(emb.index_select(0, Tensor._make(xp_of(weight.array).asarray(sel),
                                                              False)).max(0)[0])
        return stack(rows, 0) if rows else _const(weight, np.zeros((0, D)))
    M = np.zeros((B, flat.size), dtype=weight.dtype)
    for b, (s, e) in enumerate(zip(starts, ends)):
        M[b, s:e] = keep[s:e]
        if mode == "mean":
            cnt = keep[s:e].sum()
            if cnt:
                M[b, s:e] /= cnt
    if per_sample_weights is not None:
        emb = emb * per_sample_weights.reshape(-1, 1).to(weight.dtype)
    return _const(weight, M) @ emb


# ============================================================================ misc
def pdist(input: Tensor, p: float = 2) -> Tensor:
    """``‖x_i − x_j‖_p`` for all row pairs ``i < j`` of ``(N, M)``, in row-major order of
    the upper triangle (``N(N−1)/2`` values)."""
    _check_float("pdist", input)
    if input.ndim != 2:
        raise op_error("pdist", f"expected a 2-D input (N, M), got shape {tuple(input.shape)}")
    if p < 0:
        raise op_error("pdist", f"p must be non-negative, got {p}")
    N = input.shape[0]
    i, j = np.triu_indices(N, 1)
    xp = xp_of(input.array)
    a = input.index_select(0, Tensor._make(xp.asarray(i), False))
    b = input.index_select(0, Tensor._make(xp.asarray(j), False))
    return (a - b).norm(p, -1)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle of ``(N, C, *)``: view the channels as ``(g, C/g)``,
    transpose to ``(C/g, g)`` and flatten back (a reshape and a permute)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"channel_shuffle: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise op_error("channel_shuffle", f"expected an input of at least 3 dims (N, C, *), "
                       f"got shape {tuple(input.shape)}")
    g = int(groups)
    C = input.shape[1]
    if g <= 0 or C % g:
        raise op_error("channel_shuffle", f"number of channels {C} must be divisible by "
                       f"groups {groups} (> 0)")
    N, rest = input.shape[0], tuple(input.shape[2:])
    return input.reshape((N, g, C // g) + rest).transpose(1, 2).reshape(tuple(input.shape))


def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """1-D convolution in time-batch-channel layout: ``input (T, B, C_in)``, ``weight
    (K, C_in, C_out)``, ``bias (C_out,)`` -> ``(T + 2·pad − K + 1, B, C_out)``; a
    :func:`conv1d` of the permuted tensors."""
    if input.ndim != 3 or weight.ndim != 3 or bias.ndim != 1:
        raise op_error("conv_tbc", f"expected input (T, B, C_in), weight (K, C_in, C_out) and "
                       f"bias (C_out,), got {tuple(input.shape)}, {tuple(weight.shape)}, "
                       f"{tuple(bias.shape)}")
    if weight.shape[1] != input.shape[2] or bias.shape[0] != weight.shape[2]:
        raise op_error("conv_tbc", f"shapes do not match: input {tuple(input.shape)}, weight "
                       f"{tuple(weight.shape)}, bias {tuple(bias.shape)}")
    y = _conv.conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, 1, int(pad))
    return y.permute(2, 0, 1)


def _lengths(op: str, name: str, v: Any, n: int) -> list:
    a = v.array if isinstance(v, Tensor) else np.asarray(v)
    a = np.asarray(a.get() if hasattr(a, "get") else a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers, got {a.dtype}")
    a = a.reshape(-1)
    if a.size != n:
        raise op_error(op, f"{name} must have one entry per sequence ({n}), got {a.size}")
    if (a < 0).any():
        raise op_error(op, f"{name} must be non-negative, got {a.tolist()}")
    return [int(v) for v in a]


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss, as ``torch.nn.functional.ctc_loss``.

    Parameters
    ----------
    log_probs : Tensor
        ``(T, N, C)`` (or unbatched ``(T, C)``) log-probabilities, e.g. ``log_softmax``.
    targets : Tensor
        ``(N, S)`` padded class indices, or 1-D: all targets concatenated.
    input_lengths, target_lengths : Tensor or sequence of int
        ``(N,)`` each (scalars when unbatched).
    blank : int
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` divides each loss by its target length (at least 1), then averages.
    zero_infinity : bool
        Impossible alignments (infinite loss) give loss 0 and zero gradient.

    The op (:class:`glassgrad.ops.ctc.CTCLoss`) computes the loss by the alpha recursion
    and PyTorch's gradient by the beta recursion (``docs/derivations/ctc.md``).
    """
    op = "ctc_loss"
    F._check_reduction(reduction, op)
    _check_float(op, log_probs, "log_probs")
    if log_probs.ndim not in (2, 3):
        raise op_error(op, f"log_probs must be (T, N, C) or unbatched (T, C), got shape "
                       f"{tuple(log_probs.shape)}")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise op_error(op, f"blank {blank} must be a class index in [0, {C})")
    tg = targets.array if isinstance(targets, Tensor) else np.asarray(targets)
    tg = np.asarray(tg.get() if hasattr(tg, "get") else tg)
    if tg.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must hold integer class indices, got {tg.dtype}")
    il = _lengths(op, "input_lengths", input_lengths, N)
    tl = _lengths(op, "target_lengths", target_lengths, N)
    if max(il, default=0) > T:
        raise op_error(op, f"input_lengths {il} must be at most the time steps T = {T}")
    if unbatched and tg.ndim != 1:
        raise op_error(op, f"unbatched targets must be 1-D, got shape {tuple(tg.shape)}")
    if tg.ndim == 2 and not unbatched:
        if tg.shape[0] != N or max(tl, default=0) > tg.shape[1]:
            raise op_error(op, f"targets of shape {tuple(tg.shape)} do not fit {N} sequences "
                           f"of target_lengths {tl}")
        seqs = [tg[n, :tl[n]] for n in range(N)]
    elif tg.ndim == 1:
        if sum(tl) > tg.size:
            raise op_error(op, f"1-D targets hold {tg.size} labels but target_lengths sum to "
                           f"{sum(tl)}")
        ends = np.cumsum(tl)
        seqs = [tg[e - n:e] for e, n in zip(ends, tl)]
    else:
        raise op_error(op, f"targets must be (N, S) or 1-D, got shape {tuple(tg.shape)}")
    for s in seqs:
        if s.size and (int(s.min()) < 0 or int(s.max()) >= C or (s == blank).any()):
            raise IndexError(f"{op}: target labels must be in [0, {C}) and differ from the "
                             f"blank {blank}, got {s.tolist()}")
    loss = _CTCLoss.apply(lp, [s.astype(np.int64) for s in seqs], il, tl, int(blank),
                          bool(zero_infinity))
    if unbatched:
        loss = loss.reshape(())
    if reduction == "mean":
        div = _const(lp, np.maximum(np.asarray(tl, dtype=np.float64), 1.0))
        return (loss / (div.reshape(()) if unbatched else div)).mean()
    return F._reduce(loss, reduction, op)
