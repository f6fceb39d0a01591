"""Functional neural-network ops (PyTorch's ``torch.nn.functional``, imported as ``F``).

Layers: :func:`linear`, :func:`batch_norm`, :func:`layer_norm`, :func:`embedding`,
:func:`dropout`; activations; losses. The fused ones (linear, cross_entropy,
batch_norm, layer_norm, embedding) are single graph nodes whose forward and hand-derived
backward sit side by side in :mod:`glassgrad.ops` (``linear.py``, ``norm.py``, ``loss.py``,
``indexing.py``, ``dropout.py``); the others are compositions of
primitive ops. Convolution, pooling, attention and recurrent ops are re-exported at the
end of this file from their own modules.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..backend import np, xp_of
from ..functional_api import one_hot
from ..ops import dropout as _dropout
from ..ops import elementwise as _ew
from ..ops import indexing as _indexing
from ..ops import linear as _linear
from ..ops import loss as _loss
from ..ops import norm as _norm
from ..ops._util import norm_dim, op_error, scaled_sum_sq
from ..random import Generator
from ..tensor import Tensor, _from_data
from ..tensor_methods._common import where
from ._checks import require_tensors

__all__ = [
    "linear", "bilinear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "mish",
    "sigmoid", "tanh", "hardtanh", "softplus", "softsign", "logsigmoid", "softmax", "log_softmax",
    "softmin", "prelu", "dropout", "batch_norm", "layer_norm", "group_norm", "embedding",
    "one_hot", "normalize", "pad",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_similarity",
    "hardsigmoid", "hardswish", "glu", "celu", "threshold", "tanhshrink", "softshrink",
    "hardshrink", "rms_norm", "instance_norm", "pairwise_distance", "gaussian_nll_loss",
    "poisson_nll_loss", "margin_ranking_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
    "hinge_embedding_loss", "triplet_margin_loss", "cosine_embedding_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _t(x: Any, like: Tensor | None = None, op: str = "") -> Tensor:
    if isinstance(x, Tensor):
        return x
    if like is not None:
        arr = np.asarray(x)
        if arr.dtype.kind == "f" or arr.dtype.kind in "iub" and not isinstance(x, np.ndarray):
            arr = arr.astype(like.dtype)
        return Tensor._make(arr, False)
    return _from_data(x)


# ============================================================================ layers
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x·Wᵀ + b`` for ``x: (..., in)``, ``W: (out, in)``, ``b: (out,)`` (fused op)."""
    return _linear.Linear.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = x1ᵀ·W_k·x2 + b_k`` with ``W: (out, in1, in2)``."""
    y = ((input1.unsqueeze(-2).unsqueeze(-2) @ weight) @ input2.unsqueeze(-2).unsqueeze(-1))
    y = y.reshape(input1.shape[:-1] + (weight.shape[0],))
    return y + bias if bias is not None else y


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the others by
    ``1/(1−p)`` so that the expectation is unchanged; identity when not training.

    ``y = x ⊙ m`` with ``m_i = [u_i ≥ p]/(1−p)``, ``u_i ~ U(0, 1)``; the backward is
    ``δx = δy ⊙ m`` (the same mask). Random numbers come from the default generator
    (``gg.manual_seed``) or ``generator``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    return _dropout.Dropout.apply(input, float(p), None, generator)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float | None = 0.1, eps: float = 1e-5,
               num_batches_tracked: Tensor | None = None) -> Tensor:
    """Batch normalization of ``(N, C, *)`` per channel (fused op).

    With ``training=True`` (or no running statistics) it normalizes with the batch
    mean/variance and updates ``running_mean``/``running_var`` in place (unbiased
    variance, ``r ← (1−momentum)·r + momentum·batch_stat``); otherwise it uses them.
    ``num_batches_tracked`` (a 0-d integer tensor, used by the ``BatchNorm`` modules) is
    incremented in place by each training call; with ``momentum=None`` the running
    statistics are then the cumulative average (``momentum = 1/num_batches_tracked``).
    """
    use_batch = training or running_mean is None
    if not use_batch and running_var is None:
        raise ValueError("batch_norm: running_var is None but running_mean is given")
    if training and running_mean is not None:
        running_mean._version[0] += 1
        running_var._version[0] += 1
    if input.ndim < 2:
        raise op_error("batch_norm", f"expected input of shape (N, C) or (N, C, L, ...), got "
                       f"{tuple(input.shape)}")
    w = weight
    b = bias
    return _norm.BatchNorm.apply(input, w, b, running_mean, running_var, use_batch,
                               None if momentum is None else float(momentum), float(eps),
                               num_batches_tracked if training else None)


def layer_norm(input: Tensor, normalized_shape: Sequence[int] | int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` dims of each sample (fused op)."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(ns):]) != ns or input.ndim < len(ns):
        raise op_error("layer_norm", f"input of shape {tuple(input.shape)} does not end with "
                       f"normalized_shape {ns}")
    return _norm.LayerNorm.apply(input, weight, bias, len(ns), float(eps))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize ``(N, C, *)`` over groups of ``C/num_groups`` channels (and all spatial
    positions) per sample, then scale/shift per channel. Implemented as the fused layer
    norm of the ``(N, num_groups, -1)`` view followed by the per-channel affine map."""
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise op_error("group_norm", f"input of shape {tuple(input.shape)}: the channels (dim 1) "
                       f"must be divisible by num_groups={num_groups}")
    N, C = input.shape[0], input.shape[1]
    if N * (C // num_groups) * math.prod(input.shape[2:]) == 1:  # as PyTorch's check
        raise op_error("group_norm", "expected more than 1 value per channel when training, got "
                       f"input of shape {tuple(input.shape)} with num_groups={num_groups}")
    y = _norm.LayerNorm.apply(input.reshape(N, num_groups, -1), None, None, 1, float(eps))
    y = y.reshape(input.shape)
    shp = (1, C) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shp)
    if bias is not None:
        y = y + bias.reshape(shp)
    return y


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """PyTorch's ``F.pad``: ``pad = (left, right, top, bottom, ...)`` pairs from the last dim
    backwards; ``mode`` ``'constant'`` (negative pads crop), ``'reflect'``, ``'replicate'``
    or ``'circular'``. The non-constant modes gather with a fixed index map per axis, so
    their VJP adds each padded position's gradient back onto its source element."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be even, got {len(pad)}")
    n = len(pad) // 2
    if n > input.ndim:
        raise ValueError(f"pad: {n} dims of padding for a tensor of {input.ndim} dims "
                         f"(shape {tuple(input.shape)})")
    pairs = [(input.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(n)]
    if mode == "constant":
        y = input
        crop = [slice(None)] * input.ndim
        for ax, lo, hi in pairs:
            crop[ax] = slice(max(-lo, 0), input.shape[ax] - max(-hi, 0))
        if any(lo < 0 or hi < 0 for _, lo, hi in pairs):
            y = y[tuple(crop)]
        widths = [(0, 0)] * input.ndim
        for ax, lo, hi in pairs:
            widths[ax] = (max(lo, 0), max(hi, 0))
        return y.pad_nd(widths, 0.0 if value is None else value)
    modes = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    if mode not in modes:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    y = input
    for ax, lo, hi in pairs:
        size = input.shape[ax]
        if lo < 0 or hi < 0:
            raise ValueError("pad: negative padding is only supported in 'constant' mode")
        if mode == "reflect" and max(lo, hi) >= size:
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the size "
                             f"{size} of dim {ax} (input {tuple(input.shape)})")
        if mode == "circular" and max(lo, hi) > size:
            raise ValueError(f"pad: circular padding ({lo}, {hi}) must be at most the size {size} "
                             f"of dim {ax}")
        if lo == 0 and hi == 0:
            continue
        idx = np.pad(np.arange(size), (lo, hi), mode=modes[mode])
        y = y[(slice(None),) * ax + (xp_of(input.array).asarray(idx),)]
    return y


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` at the integer indices ``input``: output ``input.shape + (dim,)``."""
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if padding_idx is not None:
        n = weight.shape[0]
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings {n}")
        padding_idx %= n
    # the index tensor itself (not its array), so that gg.capture reads it on every call
    return _indexing.Embedding.apply(weight, input if isinstance(input, Tensor) else idx, padding_idx)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(‖x‖_p, eps)`` along ``dim``."""
    dim = norm_dim(dim, input.ndim, "normalize")
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1·x2 / (max(‖x1‖, eps)·max(‖x2‖, eps))`` along ``dim``."""
    n1 = x1.norm(2, dim).clamp(min=eps)
    n2 = x2.norm(2, dim).clamp(min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


# ============================================================================ activations
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``."""
    return input.relu()


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return input.clamp(0.0, 6.0)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` if ``x > 0`` else ``negative_slope·x``."""
    return input.leaky_relu(negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` if ``x > 0`` else ``alpha·(eˣ − 1)``."""
    return input.elu(alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return input.elu(alpha) * scale


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x·Φ(x)`` (``approximate='tanh'``: the tanh approximation)."""
    return input.gelu(approximate)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` if ``x > 0`` else ``a·x`` with learnable ``a`` (one, or one per channel = dim 1)."""
    a = weight
    if weight.numel() > 1:
        if input.ndim < 2 or input.shape[1] != weight.numel():
            raise op_error("prelu", f"weight of {weight.numel()} elements needs input with "
                           f"{weight.numel()} channels in dim 1, got {tuple(input.shape)}")
        a = weight.reshape((1, -1) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        a = weight.reshape(())
    return where(input.array > 0, input, input * a)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x·σ(x)`` (a.k.a. swish)."""
    return input * input.sigmoid()


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x·tanh(softplus(x))``."""
    return input * input.softplus().tanh()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    return input.clamp(min_val, max_val)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e^{βx})/β`` (linear above ``threshold`` for stability)."""
    return input.softplus(beta, threshold)


def softsign(input: Tensor) -> Tensor:
    return input / (input.abs() + 1)


def logsigmoid(input: Tensor) -> Tensor:
    """``log σ(x)``, stable for large ``|x|``."""
    return _ew.LogSigmoid.apply(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``: a piecewise-linear sigmoid (slope 1/6 on (−3, 3))."""
    return (input + 3.0).clamp(0.0, 6.0) / 6.0


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x · hardsigmoid(x)`` (MobileNetV3); derivative ``(2x + 3)/6`` on (−3, 3)."""
    return input * hardsigmoid(input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: split ``dim`` in halves ``a, b`` and return ``a ⊙ σ(b)``."""
    if input.shape[dim] % 2:
        raise op_error("glu", f"dim {dim} of shape {tuple(input.shape)} must have even size")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, α(e^{x/α} − 1))`` = ``α·elu(x/α)``."""
    if alpha == 0:
        raise op_error("celu", "alpha must not be 0")
    return (input / alpha).elu(1.0) * alpha


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    return where(input > threshold, input, value)


def tanhshrink(input: Tensor) -> Tensor:
    """``x − tanh(x)``."""
    return input - input.tanh()


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x − λ`` above ``λ``, ``x + λ`` below ``−λ``, else 0: ``x − clamp(x, −λ, λ)``."""
    if lambd < 0:
        raise op_error("softshrink", f"lambd must be non-negative, got {lambd}")
    return input - input.clamp(-lambd, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > λ``, else 0."""
    return where(input.abs() > lambd, input, 0.0)


def rms_norm(input: Tensor, normalized_shape: Sequence[int] | int, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / √(mean(x²) + ε) · w`` over the last ``len(normalized_shape)`` dims (RMSNorm,
    no centering); ``eps=None`` is the dtype's machine epsilon (as PyTorch)."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.ndim < len(ns) or tuple(input.shape[input.ndim - len(ns):]) != ns:
        raise op_error("rms_norm", f"input of shape {tuple(input.shape)} does not end with "
                       f"normalized_shape {ns}")
    e = float(np.finfo(input.dtype).eps) if eps is None else float(eps)
    dims = tuple(range(input.ndim - len(ns), input.ndim))
    t, s = scaled_sum_sq(input, dims)  # Σx² = t·s², scaled where x² would overflow
    n = max(math.prod(input.shape[d] for d in dims), 1)
    if isinstance(s, float):
        y = input * (t * (1.0 / n) + e).rsqrt()
    else:  # near 1e30 in float32: x/√(mean x² + ε) = (x/s)/√(t/n + ε/s²)
        with np.errstate(over="ignore", under="ignore"):
            y = (input / s) * (t * (1.0 / n) + e / s / s).rsqrt()
    return y * weight if weight is not None else y


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each ``(sample, channel)`` of ``(N, C, *)`` over its spatial positions, then
    scale/shift per channel: group norm with one channel per group."""
    if running_mean is not None or running_var is not None or not use_input_stats:
        raise NotImplementedError("instance_norm: running statistics (track_running_stats=True)"
                                  " are not supported; each sample uses its own statistics")
    if input.ndim < 3:
        raise op_error("instance_norm", f"expects (N, C, *spatial) input, got shape "
                       f"{tuple(input.shape)}")
    if math.prod(input.shape[2:]) == 1:
        raise op_error("instance_norm", "expected more than 1 spatial element per channel, got "
                       f"input of shape {tuple(input.shape)}")
    return group_norm(input, input.shape[1], weight, bias, eps)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``‖x1 − x2 + ε‖_p`` over the last dim (ε keeps the gradient finite at x1 = x2)."""
    return (x1 - x2 + eps).norm(p, -1, keepdim)


def _softmax_dim(ndim: int) -> int:
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """``exp(x) / Σ exp(x)`` along ``dim`` (max-shifted: large inputs do not overflow)."""
    x = input.to(dtype) if dtype is not None else input
    return x.softmax(_softmax_dim(x.ndim) if dim is None else dim)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    return softmax(-input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """``x − logsumexp(x)`` along ``dim``."""
    x = input.to(dtype) if dtype is not None else input
    return x.log_softmax(_softmax_dim(x.ndim) if dim is None else dim)


# ============================================================================ losses
def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction "
                     "(expected 'mean', 'sum' or 'none')")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction "
                         "(expected 'mean', 'sum' or 'none')")


def _pair(input: Any, target: Any, op: str) -> tuple[Tensor, Tensor]:
    """Validate an (input, target) pair of a pointwise loss: same shape, floating."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    target = _t(target, input)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating tensor, got {input.dtype}")
    if target.dtype.kind != "f":
        raise TypeError(f"{op}: target must be a floating tensor, got {target.dtype} "
                        "(convert with .float())")
    if input.shape != target.shape:
        raise ValueError(f"{op}: target shape {tuple(target.shape)} differs from input shape "
                         f"{tuple(input.shape)}; they must match (reshape the target, e.g. "
                         "target.view(-1, 1), or squeeze the input)")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return input, target


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """``(x − y)²``, reduced."""
    _check_reduction(reduction, "mse_loss")
    x, y = _pair(input, target, "mse_loss")
    d = x - y
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """``|x − y|``, reduced."""
    _check_reduction(reduction, "l1_loss")
    x, y = _pair(input, target, "l1_loss")
    return _reduce((x - y).abs(), reduction, "l1_loss")


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5·d²/β`` if ``|d| < β`` else ``|d| − 0.5·β`` (``d = x − y``); ``β = 0`` is L1."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, y = _pair(input, target, "smooth_l1_loss")
    if beta == 0:
        return _reduce((x - y).abs(), reduction, "smooth_l1_loss")
    return _reduce(_loss.Huber.apply(x, y, float(beta), False), reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """``0.5·d²`` if ``|d| < δ`` else ``δ·(|d| − 0.5·δ)``."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, y = _pair(input, target, "huber_loss")
    return _reduce(_loss.Huber.apply(x, y, float(delta), True), reduction, "huber_loss")


def _class_target(op: str, input: Tensor, target: Any, weight: Any) -> tuple[Any, Any, int]:
    """Check class-index targets: integer dtype, shape (N, d1, ...) for input (N, C, d1, ...);
    a weight of shape (C,). Returns (target, weight, C): the Tensors themselves where they
    need no conversion (so that ``gg.capture`` reads them on every call), else arrays. The
    target *values* are checked by the fused op, in the pass that reads them."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating tensor of scores, got {input.dtype}")
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    y = target.array if isinstance(target, Tensor) else np.asarray(target)
    C = input.shape[1] if input.ndim >= 2 else input.shape[0]
    expect = (input.shape[0],) + tuple(input.shape[2:]) if input.ndim >= 2 else ()
    if y.dtype.kind not in "iu":
        kind = "floating" if y.dtype.kind == "f" else str(y.dtype)
        raise TypeError(
            f"{op}: expected a target of integer class indices (int64) of shape {expect} for "
            f"input of shape {tuple(input.shape)}, got a {kind} target of shape "
            f"{tuple(y.shape)} ({y.dtype})"
            + ("; for class probabilities the target must have the input's shape"
               if op == "cross_entropy" else ""))
    if tuple(y.shape) != expect:
        raise ValueError(f"{op}: target of shape {tuple(y.shape)} does not match input of shape "
                         f"{tuple(input.shape)}: expected {expect} (input is (N, C, d1, ...) "
                         "and target (N, d1, ...) of class indices)")
    w = None
    if weight is not None:
        w = weight.array if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != (C,):
            raise ValueError(f"{op}: weight of shape {tuple(w.shape)} must have one entry per "
                             f"class, i.e. shape ({C},)")
        if w.dtype != input.dtype:
            w = w.astype(input.dtype)
    # tensors themselves where they are unchanged (so that gg.capture reads them each call)
    if isinstance(target, Tensor):
        y = target
    if isinstance(weight, Tensor) and weight.array is w:
        w = weight
    return y, w, C


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy between logits ``input`` and ``target``.

    ``input``: ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)`` unnormalized scores.
    ``target``: integer class indices ``(N, d1, ...)`` — one fused node (softmax computed
    once; ``δx = (softmax − onehot)/N``), with ``weight``, ``ignore_index`` and
    ``label_smoothing`` as in PyTorch (weighted mean divides by the sum of the targets'
    weights) — or class probabilities of the input's shape (a composition of
    ``log_softmax`` and sums).
    """
    if weight is None and not label_smoothing and isinstance(input, Tensor) and isinstance(
            target, Tensor) and reduction in _REDUCTIONS:
        # the common case, checked in a few attribute reads: (N, C) float scores, (N,)
        # integer targets (the fused op checks their range in the same pass it reads them)
        x, t = input.array, target.array
        if (x.ndim == 2 and t.dtype.kind in "iu" and x.dtype.kind == "f"
                and t.shape == x.shape[:1]):
            return _loss.CrossEntropy.apply(input, target, ignore_index=ignore_index,
                                          reduction=reduction)
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    t = target.array if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind == "f" and isinstance(input, Tensor) and tuple(t.shape) == tuple(input.shape):
        return _cross_entropy_probs(input, _t(target, input), weight, reduction, label_smoothing)
    y, w, C = _class_target("cross_entropy", input, target, weight)
    return _loss.CrossEntropy.apply(input, y, w, ignore_index=ignore_index,
                                  label_smoothing=float(label_smoothing), reduction=reduction)


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Any, reduction: str,
                         eps: float) -> Tensor:
    """``ℓ_i = −Σ_c w_c·t_ic·log softmax(x_i)_c`` with ``t ← (1−ε)t + ε/C``; mean over the
    ``N·d1·...`` positions (composition of primitive ops)."""
    cd = 1 if input.ndim >= 2 else 0
    C = input.shape[cd]
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    logp = input.log_softmax(cd)
    t = target * (1 - eps) + eps / C if eps else target
    if weight is not None:
        w = weight.array if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != (C,):
            raise ValueError(f"cross_entropy: weight of shape {tuple(w.shape)} must have shape ({C},)")
        t = t * w.astype(input.dtype).reshape((C,) + (1,) * (input.ndim - cd - 1))
    loss = -(logp * t).sum(cd)
    return _reduce(loss, reduction, "cross_entropy")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (``(N, C, d1, ...)``) at the
    integer targets: ``ℓ_i = −w_{y_i}·x_{i,y_i}``; ``mean`` divides by ``Σ_i w_{y_i}``
    over non-ignored targets (PyTorch's weighted mean). One fused node (``NLLLoss``).
    """
    _check_reduction(reduction, "nll_loss")
    y, w, _ = _class_target("nll_loss", input, target, weight)
    return _loss.NLLLoss.apply(input, y, w, ignore_index=ignore_index, reduction=reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """``−w·(t·log x + (1−t)·log(1−x))`` for probabilities ``x`` in [0, 1]; the logs are
    clamped at −100 (as PyTorch), so ``x = 0`` or ``1`` gives a finite loss."""
    _check_reduction(reduction, "binary_cross_entropy")
    x, t = _pair(input, target, "binary_cross_entropy")
    loss = _loss.BinaryCrossEntropy.apply(x, t)  # checks that x is in [0, 1]
    if weight is not None:
        loss = loss * _t(weight, x)
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in a stable form, for logits ``x``::

        ℓ = w·[(1 − t)·x − (1 + (p_w − 1)·t)·log σ(x)]

    with ``log σ(x) = −(max(−x, 0) + log1p(e^{−|x|}))``: finite for logits of ±1e4.
    ``pos_weight`` (broadcast along the last dim, one per class) weighs positive targets.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x, t = _pair(input, target, "binary_cross_entropy_with_logits")
    ls = _ew.LogSigmoid.apply(x)
    if pos_weight is not None:
        pw = _t(pos_weight, x)
        lw = (pw - 1) * t + 1
        loss = (1 - t) * x - lw * ls
    else:
        loss = (1 - t) * x - ls
    if weight is not None:
        loss = loss * _t(weight, x)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """``t·(log t − x)`` for log-probabilities ``x`` (0 where ``t = 0``); ``reduction=
    'batchmean'`` divides the sum by the batch size (the mathematically correct KL)."""
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: {reduction!r} is not a valid value for reduction")
    x, t = _pair(input, target, "kl_div")
    loss = _loss.KLDiv.apply(x, t, bool(log_target))
    if reduction == "batchmean":
        return loss.sum() / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction, "kl_div")


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """``½(log v + (x − t)²/v)`` (``+ ½ log 2π`` if ``full``) with the predicted variance
    ``v`` clamped at ``eps`` in value only (its gradient passes as if unclamped, as PyTorch).
    ``var`` has the input's shape, or one fewer trailing dim / a last dim of 1
    (homoscedastic)."""
    _check_reduction(reduction, "gaussian_nll_loss")
    v = _t(var, input)
    if v.shape != input.shape:
        if v.ndim == input.ndim - 1 and tuple(v.shape) == tuple(input.shape[:-1]):
            v = v.unsqueeze(-1)
        elif not (v.ndim == input.ndim and v.shape[-1] == 1
                  and tuple(v.shape[:-1]) == tuple(input.shape[:-1])):
            raise op_error("gaussian_nll_loss", f"var of shape {tuple(v.shape)} does not fit "
                           f"input of shape {tuple(input.shape)}")
    if (v.array < 0).any():
        raise op_error("gaussian_nll_loss", "var has negative entries")
    vd = v.detach()
    v = v + (vd.clamp(min=eps) - vd)          # value clamped, gradient unchanged
    loss = 0.5 * (v.log() + (input - _t(target, input)) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Any = None, eps: float = 1e-8, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood: ``eˣ − t·x`` for log-rates ``x`` (``log_input``),
    else ``x − t·log(x + ε)``; ``full`` adds Stirling's ``t log t − t + ½ log(2πt)`` for
    ``t > 1``."""
    _check_reduction(reduction, "poisson_nll_loss")
    t = _t(target, input)
    loss = input.exp() - t * input if log_input else input - t * (input + eps).log()
    if full:
        td = t.array
        xp = xp_of(td)
        t1 = xp.where(td > 1, td, 1)
        st = xp.where(td > 1, td * xp.log(t1) - td + 0.5 * xp.log(2 * np.pi * t1), 0)
        loss = loss + Tensor._make(st.astype(loss.dtype), False)
    return _reduce(loss, reduction, "poisson_nll_loss")


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, −y·(x1 − x2) + margin)`` with ``y = ±1``: rank ``x1`` above ``x2`` if
    ``y = 1``."""
    _check_reduction(reduction, "margin_ranking_loss")
    y = _t(target, input1)
    return _reduce((-y * (input1 - input2) + margin).relu(), reduction, "margin_ranking_loss")


def soft_margin_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + e^{−y·x})`` (logistic loss with ``y = ±1``), computed as ``softplus``."""
    _check_reduction(reduction, "soft_margin_loss")
    return _reduce((-_t(target, input) * input).softplus(), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: Any = None, reduce: Any = None,
                                reduction: str = "mean") -> Tensor:
    """``−(1/C) Σ_c w_c [y_c log σ(x_c) + (1 − y_c) log σ(−x_c)]`` per sample, for 0/1
    multi-label targets ``(N, C)``."""
    _check_reduction(reduction, "multilabel_soft_margin_loss")
    y = _t(target, input)
    ls = _ew.LogSigmoid.apply(input)
    ls_neg = _ew.LogSigmoid.apply(-input)
    loss = -(y * ls + (1 - y) * ls_neg)
    if weight is not None:
        loss = loss * _t(weight, input)
    return _reduce(loss.mean(-1), reduction, "multilabel_soft_margin_loss")


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """``x`` where ``y = 1``, ``max(0, margin − x)`` where ``y = −1``."""
    _check_reduction(reduction, "hinge_embedding_loss")
    y = _t(target, input)
    loss = where(y != 1, (margin - input).relu(), 0.0) + where(y != -1, input, 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """``max(d(a, p) − d(a, n) + margin, 0)`` with ``d`` the pairwise p-distance; ``swap``
    uses ``min(d(a, n), d(p, n))`` as the negative distance."""
    _check_reduction(reduction, "triplet_margin_loss")
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = d_an.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((d_ap - d_an + margin).relu(), reduction, "triplet_margin_loss")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: Any = None, reduce: Any = None,
                          reduction: str = "mean") -> Tensor:
    """``1 − cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) − margin)`` where
    ``y = −1`` (cosine over the last dim, with ``1e-12`` added to each squared norm)."""
    _check_reduction(reduction, "cosine_embedding_loss")
    y = _t(target, input1)
    prod = (input1 * input2).sum(-1)
    m1 = (input1 * input1).sum(-1) + 1e-12
    m2 = (input2 * input2).sum(-1) + 1e-12
    cos = prod / (m1 * m2).sqrt()
    loss = where(y == 1, 1 - cos, 0.0) + where(y == -1, (cos - margin).relu(), 0.0)
    return _reduce(loss, reduction, "cosine_embedding_loss")


# tensor arguments must be tensors (a TypeError naming the function and the argument)
for _name in __all__:
    if _name in globals() and _name != "one_hot":
        globals()[_name] = require_tensors(globals()[_name], Tensor)

from ..ops import attention as _attention  # noqa: E402
from ..ops import conv as _conv  # noqa: E402
from ..ops import dropout as _dropout_nd  # noqa: E402
from ..ops import pool as _pool  # noqa: E402
from ..ops import resample as _resample  # noqa: E402
from ..ops import rnn as _rnn  # noqa: E402
from ..ops.attention import *  # noqa: E402, F403
from ..ops.conv import *  # noqa: E402, F403
from ..ops.dropout import *  # noqa: E402, F403
from ..ops.pool import *  # noqa: E402, F403
from ..ops.resample import *  # noqa: E402, F403
from ..ops.rnn import *  # noqa: E402, F403

__all__ += (list(_conv.__all__) + list(_pool.__all__) + list(_dropout_nd.__all__)
            + list(_resample.__all__) + list(_attention.__all__) + list(_rnn.__all__))

from . import functional_extra as _extra  # noqa: E402
from .functional_extra import *  # noqa: E402, F403

__all__ += list(_extra.__all__)

from . import functional_grid as _grid  # noqa: E402
from .functional_grid import *  # noqa: E402, F403

__all__ += list(_grid.__all__)
