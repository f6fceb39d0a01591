"""Weight initialization (PyTorch's ``torch.nn.init``): all functions fill a tensor in
place, without recording a graph, and return it.

Random draws come from glassgrad's default generator (``gg.manual_seed(0)`` makes them
reproducible) unless ``generator=`` is given. The scales follow the usual derivations:
keeping the variance of activations (Xavier/Glorot: ``Var(W) = 2/(fan_in + fan_out)``)
or of pre-activations under ReLU (Kaiming/He: ``Var(W) = gain²/fan``).
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import np, to_device
from ..random import Generator, _rng
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_", "sparse_",
]


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` into ``tensor`` in place (no graph), keeping its dtype/device."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init: expected a glassgrad Tensor, got {type(tensor).__name__}")
    arr = np.asarray(values)
    if tensor.device != "cpu":
        arr = to_device(arr, tensor.device)
    tensor.array[...] = arr
    tensor._version[0] += 1
    return tensor


def _draw_dtype(tensor: Tensor) -> Any:
    d = tensor.dtype
    return d if d in (np.float32, np.float64) else np.float64


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for an activation: linear/conv/sigmoid 1, tanh 5/3, relu √2,
    leaky_relu √(2/(1+slope²)) (slope ``param``, default 0.01), selu 3/4."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``fan_in = shape[1]·receptive field``, ``fan_out = shape[0]·receptive field``
    (weights are ``(out, in, *kernel)``)."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    rf = 1
    for s in tensor.shape[2:]:
        rf *= s
    return tensor.shape[1] * rf, tensor.shape[0] * rf


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    return fi if mode == "fan_in" else fo


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    """Fill with draws from ``U(a, b)``."""
    rng = _rng(generator)
    v = rng.random(tensor.shape, dtype=_draw_dtype(tensor))
    return _fill(tensor, v * (b - a) + a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    """Fill with draws from ``N(mean, std²)``."""
    rng = _rng(generator)
    v = rng.standard_normal(tensor.shape, dtype=_draw_dtype(tensor))
    return _fill(tensor, v * std + mean)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Generator | None = None) -> Tensor:
    """``N(mean, std²)`` truncated to ``[a, b]`` (redrawing values outside)."""
    rng = _rng(generator)
    out = rng.standard_normal(tensor.shape) * std + mean
    bad = (out < a) | (out > b)
    for _ in range(1000):
        if not bad.any():
            break
        out[bad] = rng.standard_normal(int(bad.sum())) * std + mean
        bad = (out < a) | (out > b)
    return _fill(tensor, np.clip(out, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the constant ``val``."""
    return _fill(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (preserves inputs in a Linear layer)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3/4/5-D conv weight with the Dirac delta (identity convolution)."""
    nd = tensor.ndim
    if nd not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3, 4, 5-D tensors are supported, got {tuple(tensor.shape)}")
    out_per = tensor.shape[0] // groups
    mn = min(out_per, tensor.shape[1])
    w = np.zeros(tensor.shape)
    for g in range(groups):
        for d in range(mn):
            idx = (g * out_per + d, d) + tuple(s // 2 for s in tensor.shape[2:])
            w[idx] = 1
    return _fill(tensor, w)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: Generator | None = None) -> Tensor:
    """``U(−a, a)`` with ``a = gain·√(6/(fan_in + fan_out))`` (Glorot & Bengio, 2010)."""
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fi + fo))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: Generator | None = None) -> Tensor:
    """``N(0, std²)`` with ``std = gain·√(2/(fan_in + fan_out))``."""
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fi + fo))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """``U(−bound, bound)`` with ``bound = gain·√(3/fan)``, ``gain =
    calculate_gain(nonlinearity, a)`` (He et al., 2015)."""
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan) if fan else 0.0
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """``N(0, std²)`` with ``std = gain/√fan``."""
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan) if fan else 0.0
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0,
                generator: Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix
    (Saxe et al., 2013); tensors of more than 2 dims are flattened to ``(shape[0], -1)``."""
    if tensor.ndim < 2:
        raise ValueError("orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    d = np.sign(np.diag(r))
    d[d == 0] = 1
    q = q * d
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01,
            generator: Generator | None = None) -> Tensor:
    """2-D tensor: ``N(0, std²)`` with a fraction ``sparsity`` of each column set to zero."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only 2-D tensors are supported, got {tuple(tensor.shape)}")
    rng = _rng(generator)
    rows, cols = tensor.shape
    nz = int(math.ceil(sparsity * rows))
    w = rng.standard_normal((rows, cols)) * std
    for c in range(cols):
        w[rng.permutation(rows)[:nz], c] = 0
    return _fill(tensor, w)

