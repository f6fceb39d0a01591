"""``Parameter``: a Tensor that a :class:`~glassgrad.nn.Module` registers as learnable."""

from __future__ import annotations

from typing import Any

from ..backend import is_array, np
from ..tensor import Tensor, _from_data

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


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
            arr = _from_data(data).array
        self._init_leaf(arr, requires_grad)

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
        self._init_leaf(data.array if isinstance(data, Tensor) else Tensor(data).array, False)
        self.persistent = persistent


class UninitializedTensorMixin:
    """A parameter or buffer whose shape is not known yet (the lazy modules'): it has no
    shape until :meth:`materialize`, which gives it one and turns it into
    ``cls_to_become`` in place (so references held elsewhere, e.g. by an optimizer, see
    the materialized tensor)."""

    __slots__ = ()
    cls_to_become: type = Tensor

    def materialize(self, shape: Any, device: Any = None, dtype: Any = None) -> None:
        """Allocate (uninitialized) storage of ``shape`` and become ``cls_to_become``."""
        from ..creation import empty

        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        t = empty(shape, dtype=dtype if dtype is not None else self.array.dtype, device=device)
        self.array = t.array
        self.__class__ = self.cls_to_become

    @property
    def shape(self) -> tuple:
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. "
                           "This error usually happens in `load_state_dict` when trying to "
                           "load an uninitialized parameter into an initialized one. Call "
                           "`forward` to initialize the parameters before accessing their "
                           "attributes.")

    def numel(self) -> int:
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer; "
                           "run a forward pass first (a lazy module infers it from its input)")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A :class:`Parameter` without a shape yet; see :class:`UninitializedTensorMixin`."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        from ..dtypes import get_default_dtype, to_dtype

        super().__init__(np.empty((0,), dtype=to_dtype(dtype) if dtype is not None
                                  else get_default_dtype()), requires_grad)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer (plain Tensor) without a shape yet; see :class:`UninitializedTensorMixin`."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device: Any = None, dtype: Any = None) -> None:
        from ..dtypes import get_default_dtype, to_dtype

        t = Tensor._make(np.empty((0,), dtype=to_dtype(dtype) if dtype is not None
                                  else get_default_dtype()), False)
        for k in ("array", "grad", "grad_fn", "_out_idx", "_version", "_hooks", "_name",
                  "requires_grad"):
            object.__setattr__(self, k, getattr(t, k))
