"""``Parameter``: a Tensor that a :class:`~glassgrad.nn.Module` registers as learnable."""

from __future__ import annotations

from typing import Any

from ..backend import is_array, np
from ..tensor import Tensor

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A leaf Tensor with ``requires_grad=True`` that modules register automatically.

    Assigning a ``Parameter`` to a module attribute (``self.weight = Parameter(...)``)
    adds it to ``module.parameters()``, which optimizers update. Operations on a
    Parameter return ordinary Tensors.

    Parameters
    ----------
    data : Tensor or array_like, optional
        Initial values. A Tensor or a NumPy array is *shared*, not copied (as
        ``torch.nn.Parameter``); an empty float tensor of the default dtype when omitted.
    requires_grad : bool
        Default True.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            from ..dtypes import get_default_dtype

            arr = np.empty((0,), dtype=get_default_dtype())
        elif isinstance(data, Tensor):
            arr = data.array
        elif is_array(data):
            arr = data
        else:
            arr = Tensor(data).array
        self.array = arr
        self.grad = None
        self.grad_fn = None
        self._out_idx = 0
        self._version = [0]
        self._hooks = None
        self._name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        t = Tensor._make(self.array, False)
        return "Parameter containing:\n" + repr(t)[:-1] + (
            ", requires_grad=True)" if self.requires_grad else ")")

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(self.array.copy(), self.requires_grad)
        if self.grad is not None:
            p.grad = Tensor._make(self.grad.array.copy(), False)
        memo[id(self)] = p
        return p

    def __reduce_ex__(self, proto: Any) -> Any:
        return (Parameter, (self.array, self.requires_grad))


class Buffer(Tensor):
    """Marks a tensor to register as a buffer when assigned to a module attribute
    (``self.stats = nn.Buffer(t)``, like ``torch.nn.Buffer``); the data is shared.

    Parameters
    ----------
    data : Tensor or array_like
    persistent : bool
        Whether the buffer goes into ``state_dict()``.
    """

    __slots__ = ("persistent",)

    def __init__(self, data: Any, persistent: bool = True) -> None:
        arr = data.array if isinstance(data, Tensor) else Tensor(data).array
        self.array = arr
        self.grad = None
        self.grad_fn = None
        self._out_idx = 0
        self._version = [0]
        self._hooks = None
        self._name = None
        self.requires_grad = False
        self.persistent = persistent
