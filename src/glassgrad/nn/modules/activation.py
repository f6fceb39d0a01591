"""Activation modules; each calls the Tensor op of the same name (``glassgrad.ops``).
``MultiheadAttention`` (in :mod:`.attention`) is importable from here, as in PyTorch."""

from __future__ import annotations

from typing import Any, Callable

from ... import dtypes as _dt
from ...backend import np
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ..parameter import Parameter
from .attention import MultiheadAttention
from .utils import _table_class

__all__ = [
    "ReLU", "ReLU6", "PReLU", "LeakyReLU", "ELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
    "Hardtanh", "Softplus", "Softsign", "LogSigmoid", "Softmax", "LogSoftmax", "Softmin",
    "Hardsigmoid", "Hardswish", "GLU", "CELU", "Threshold", "Tanhshrink", "Softshrink",
    "Hardshrink", "MultiheadAttention",
]


class _InplaceFlag(Module):
    """Takes and stores PyTorch's ``inplace`` flag (glassgrad never writes into the input)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace


class _AlphaUnit(_InplaceFlag):
    """The options of ``ELU`` and ``CELU``: the scale ``alpha`` of the negative part and
    PyTorch's ``inplace`` flag."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class _DimModule(Module):
    """The option of ``Softmax``, ``LogSoftmax``, ``Softmin`` and ``GLU``: the axis ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state: Any) -> None:
        super().__setstate__(state)
        if "dim" not in self.__dict__:
            self.dim = None

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _Shrink(Module):
    """The option of ``Softshrink`` and ``Hardshrink``: the half-width ``lambd`` of the
    interval mapped to 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def extra_repr(self) -> str:
        return str(self.lambd)


def _calls(name: str, fn: Callable[..., Tensor], doc: str, base: type[Module] = Module,
           option: str | None = None) -> type[Module]:
    """The activation module class ``name`` (docstring ``doc``, constructor and options those
    of ``base``) whose ``forward(input)`` is ``fn(input)``, or ``fn(input, self.<option>)``:
    a row of the table below (see :func:`.utils._table_class`)."""
    if option is None:
        def forward(self: Module, input: Tensor) -> Tensor:
            return fn(input)
    else:
        def forward(self: Module, input: Tensor) -> Tensor:
            return fn(input, getattr(self, option))

    forward.__qualname__ = f"{name}.forward"
    return _table_class(name, base, doc, {"forward": forward}, depth=2)


# The activations that only call a function (options: the base's), one row each:
#   name = _calls(name, function, what it computes[, base, option passed to it])
Sigmoid = _calls("Sigmoid", Tensor.sigmoid, "``σ(x) = 1/(1 + e^{−x})``; backward ``δx = δy ⊙ σ(1 − σ)``.")
Tanh = _calls("Tanh", Tensor.tanh, "``tanh(x)``; backward ``δx = δy ⊙ (1 − tanh²x)``.")
Softsign = _calls("Softsign", F.softsign, "``x / (1 + |x|)``.")
LogSigmoid = _calls("LogSigmoid", F.logsigmoid, "``log σ(x)`` (stable).")
Tanhshrink = _calls("Tanhshrink", F.tanhshrink, "``x − tanh(x)``.")
SELU = _calls("SELU", F.selu, "``scale·elu(x, alpha)`` with the self-normalizing constants.", _InplaceFlag)
SiLU = _calls("SiLU", F.silu, "``x·σ(x)``.", _InplaceFlag)
Mish = _calls("Mish", F.mish, "``x·tanh(softplus(x))``.", _InplaceFlag)
Hardsigmoid = _calls("Hardsigmoid", F.hardsigmoid, "``relu6(x + 3)/6``.", _InplaceFlag)
Hardswish = _calls("Hardswish", F.hardswish, "``x·relu6(x + 3)/6``.", _InplaceFlag)
ELU = _calls("ELU", Tensor.elu, "``x`` if ``x > 0`` else ``alpha·(eˣ − 1)``.", _AlphaUnit, "alpha")
CELU = _calls("CELU", F.celu, "``max(0, x) + min(0, α(e^{x/α} − 1))``.", _AlphaUnit, "alpha")
Softmax = _calls("Softmax", F.softmax, "``exp(x)/Σ exp(x)`` along ``dim`` (max-shifted, no overflow).",
                 _DimModule, "dim")
LogSoftmax = _calls("LogSoftmax", F.log_softmax, "``x − logsumexp(x)`` along ``dim``.", _DimModule, "dim")
Softmin = _calls("Softmin", F.softmin, "``softmax(−x)`` along ``dim``.", _DimModule, "dim")
Softshrink = _calls("Softshrink", F.softshrink, "``x ∓ λ`` outside ``[−λ, λ]``, 0 inside.", _Shrink, "lambd")
Hardshrink = _calls("Hardshrink", F.hardshrink, "``x`` outside ``[−λ, λ]``, 0 inside.", _Shrink, "lambd")


class ReLU(_InplaceFlag):
    """``max(x, 0)``; backward ``δx = δy ⊙ [x > 0]``."""

    def forward(self, input: Tensor) -> Tensor:
        return input.relu()

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU6(ReLU):
    """``min(max(x, 0), 6)``."""

    def forward(self, input: Tensor) -> Tensor:
        return input.clamp(0.0, 6.0)


class PReLU(Module):
    """``x`` if ``x > 0`` else ``a·x`` with a learnable slope ``a`` (``num_parameters`` = 1 or
    the number of channels), initialized to ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(np.full(num_parameters, init, dtype=_dt.to_dtype(dtype)))

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class LeakyReLU(Module):
    """``x`` if ``x > 0`` else ``negative_slope·x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return input.leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """``x·Φ(x)``; ``approximate='tanh'`` uses ``0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))``."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return input.gelu(self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return input.clamp(self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softplus(Module):
    """``log(1 + e^{βx})/β``, linear where ``βx > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return input.softplus(self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GLU(_DimModule):
    """``a ⊙ σ(b)`` for the two halves ``a, b`` of ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim)

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)


class Threshold(Module):
    """``x`` where ``x > threshold``, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


from .activation_extra import RReLU, Softmax2d  # noqa: E402 - importable here as in PyTorch

__all__ += ["RReLU", "Softmax2d"]
