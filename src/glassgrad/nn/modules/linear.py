"""``Linear`` (and ``Bilinear``): ``y = x·Wᵀ + b`` (fused op :class:`glassgrad.ops.linear.Linear`).
``Identity`` (in :mod:`.flatten`) is importable from here, as in PyTorch."""

from __future__ import annotations

import math
from typing import Any

from ... import dtypes as _dt
from ...backend import np
from ...ops.linear import Linear as _LinearFn
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from .flatten import Identity

__all__ = ["Linear", "Bilinear", "LazyLinear", "Identity", "NonDynamicallyQuantizableLinear"]


def _empty(shape: tuple, dtype: Any, device: Any = None) -> Parameter:
    p = Parameter(np.empty(shape, dtype=_dt.to_dtype(dtype)))
    if device is not None:
        p.array = Tensor(p.array, device=device).array
    return p


class Linear(Module):
    """Fully connected layer ``y = x·Wᵀ + b``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : dtype, optional
        Default: ``gg.get_default_dtype()`` (float32).

    Attributes
    ----------
    weight : Parameter of shape ``(out_features, in_features)``, initialized
        ``kaiming_uniform_(a=√5)`` = ``U(−1/√in, 1/√in)`` as PyTorch.
    bias : Parameter of shape ``(out_features,)``, ``U(−1/√in, 1/√in)``.

    Inputs ``(..., in_features)`` give outputs ``(..., out_features)``; forward and
    backward are one fused node: ``δX = δY·W``, ``δW = δYᵀ·X``, ``δb = Σ_rows δY``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = _empty((self.out_features, self.in_features), dtype, device)
        if bias:
            self.bias = _empty((self.out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default init: weight ``kaiming_uniform_(a=√5)``, bias ``U(±1/√fan_in)``."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        p = self._parameters
        return _LinearFn.apply(input, p["weight"], p["bias"])

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class LazyLinear(Linear):
    """A Linear whose ``in_features`` is taken from the first input."""

    def __init__(self, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        Module.__init__(self)
        self.in_features = 0
        self.out_features = int(out_features)
        self._lazy = (bias, device, dtype)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        if self.weight is None:
            bias, device, dtype = self._lazy
            self.in_features = input.shape[-1]
            self.weight = _empty((self.out_features, self.in_features), dtype or input.dtype,
                                 device)
            if bias:
                self.bias = _empty((self.out_features,), dtype or input.dtype, device)
            self.reset_parameters()
        return _LinearFn.apply(input, self.weight, self.bias)


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear`` under PyTorch's other name (the type of ``MultiheadAttention.out_proj``,
    which PyTorch's quantization tools skip); glassgrad has no quantization, so it is
    exactly a ``Linear``."""


class Bilinear(Module):
    """``y_k = x1ᵀ·W_k·x2 + b_k`` with weight ``(out, in1, in2)``; init ``U(±1/√in1)``."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = _empty((out_features, in1_features, in2_features), dtype, device)
        if bias:
            self.bias = _empty((out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        bound = 1 / math.sqrt(in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
