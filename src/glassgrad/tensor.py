"""The user-facing :class:`Tensor`: an array plus what autograd needs.

A Tensor holds ``data`` (a NumPy array, or CuPy on a GPU), ``requires_grad``,
``grad`` and ``grad_fn`` (the node of the graph that made it). Every math method
dispatches to an op in :mod:`glassgrad.ops`, where its forward and backward are
written side by side.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections import namedtuple
from typing import Any, Callable, Iterator, Sequence

from . import dtypes as _dt
from ._tensor_extra import TensorExtras
from ._tensor_extra2 import TensorExtras2, TensorExtras2b
from ._tensor_extra3 import TensorExtras3
from ._tensor_sparse import SparseMethods
from .autograd import engine as _engine
from .autograd import function as _function
from .autograd.capture import _set_tensor_class as _capture_set_tensor_class
from .autograd.grad_mode import STATE
from .backend import (
    device_of,
    get_default_device,
    is_array,
    is_device_arg,
    normalize_device,
    np,
    to_device,
    to_numpy,
    xp_of,
)
from .ops import elementwise as E
from .ops import indexing as I
from .ops import linalg as L
from .ops import movement as M
from .ops import reduce as R
from .ops import trig as TG
from .ops._util import check_index, dim_int, norm_axis, norm_dim, op_error, pick, shape_tuple
from .ops.indexing import IndexPut
from .ops.movement import Cast, Clone, ToDevice
from .ops.rounding import Rounded

__all__ = ["Tensor", "tensor"]

MinMax = namedtuple("MinMax", ["values", "indices"])
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # sort, topk
SignLogAbsDet = namedtuple("SignLogAbsDet", ["sign", "logabsdet"])

_PyFloat, _PyInt, _PyBool = builtins.float, builtins.int, builtins.bool
_SCALARS = (_PyFloat, _PyInt, _PyBool)


_SIZES: Any = object()  # Tensor() called without data (PyTorch's legacy size form)


class Tensor(TensorExtras, TensorExtras2, TensorExtras2b, TensorExtras3, SparseMethods):
    """A multi-dimensional array that records how it was computed (reverse-mode autodiff).

    Parameters
    ----------
    data : array_like
        Values. A list or tuple becomes the default float dtype (float32), as with PyTorch's
        ``torch.Tensor``; a NumPy array keeps its dtype; a Python float becomes float32, an
        int int64 only through :func:`glassgrad.tensor` (see below). PyTorch's legacy size
        form is accepted too: ``Tensor(3, 4)`` is a float tensor of shape ``(3, 4)`` (zeros;
        PyTorch leaves it uninitialized), ``Tensor(5)`` one of shape ``(5,)``, ``Tensor()``
        an empty one. For data with an explicit dtype, prefer ``gg.tensor(data, dtype=...)``.
    dtype : dtype, optional
    requires_grad : bool
        Track operations on this tensor so that ``backward`` fills ``.grad``.
    device : str, optional
        ``'cpu'`` (default) or ``'cuda'`` (needs CuPy).
    """

    # ``_strided`` is set (and only then read, with getattr's default) on the outputs of
    # the view ops — permute/transpose, expand, basic indexing, split — whose memory layout
    # is PyTorch's too; ``view`` refuses to reshape those where it would need a copy.
    # Other ops may return arrays in another memory order for speed (the convolution's
    # batch-last output): those are contiguous as far as PyTorch programs can tell.
    __slots__ = ("array", "grad", "requires_grad", "grad_fn", "_out_idx", "_version", "_hooks",
                 "_name", "_strided", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to our reflected operators
    __array_priority__ = 1000
    __hash__ = object.__hash__

    def __init__(self, data: Any = _SIZES, dtype: Any = None, requires_grad: bool = False,
                 device: Any = None, *sizes: int) -> None:
        if data is _SIZES or (dtype is None and type(data) is _PyInt and not sizes
                              and requires_grad is False and device is None) or sizes \
                or (type(data) is _PyInt and type(dtype) is _PyInt):
            # PyTorch's legacy constructor: Tensor() is empty, Tensor(3, 4) is a float tensor
            # of that size (zeros here; PyTorch leaves it uninitialized)
            shape = tuple(a for a in (data, dtype, requires_grad, device) + sizes
                          if a is not _SIZES and a is not None and a is not False)
            if not builtins.all(type(n) is _PyInt and n >= 0 for n in shape):
                raise TypeError(f"Tensor: sizes must be non-negative ints, got {shape}; for data "
                                "use gg.tensor(data, dtype=...)")
            data, dtype, requires_grad, device = np.zeros(shape or (0,), _dt.get_default_dtype()), \
                None, False, None
        elif dtype is None and isinstance(data, (list, tuple)):
            dtype = _dt.get_default_dtype()  # Tensor([1, 2]) is float, as in PyTorch
        arr = _to_array(data, dtype)
        if device is not None:
            arr = to_device(arr, normalize_device(device))
        self.array = arr
        self.grad: Tensor | None = None
        self.grad_fn: Any = None
        self._out_idx = 0
        self._version = [0]
        self._hooks: list | None = None
        self._name: str | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, arr: Any, requires_grad: bool) -> Tensor:
        """Fast internal constructor: wrap an array as is."""
        t = object.__new__(cls)
        t.array = arr
        t.grad = None
        t.grad_fn = None
        t._out_idx = 0
        t._version = [0]
        t._hooks = None
        t._name = None
        t.requires_grad = requires_grad
        return t

    # ------------------------------------------------------------------ properties
    # ``array`` (a slot) is the array under this tensor — NumPy, or CuPy on a GPU — shared,
    # not copied: what library code reads and writes.

    @property
    def data(self) -> Tensor:
        """This tensor's values as a new tensor cut from the graph, sharing memory (as
        PyTorch's ``.data``): in-place writes through it (``p.data.add_(...)``,
        ``m.weight.data.normal_(0, 0.02)``) change this tensor, and autograd does not see
        them. The raw array is ``.array`` (or ``.numpy()``)."""
        return Tensor._make(self.array, False)

    @data.setter
    def data(self, value: Any) -> None:
        arr = value.array if isinstance(value, Tensor) else value
        if not hasattr(arr, "dtype") or not hasattr(arr, "shape"):
            raise TypeError(f"data: expected a Tensor (or an array), got {type(value).__name__}")
        self.array = arr

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> str:
        return device_of(self.array)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op that records a graph)."""
        return self.grad_fn is None

    @property
    def retains_grad(self) -> bool:
        gf = self.grad_fn
        return gf is not None and gf._retained is not None and self._out_idx in gf._retained

    @property
    def T(self) -> Tensor:
        """All axes reversed (for 2-D: the transpose)."""
        return self.permute(tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """Transpose of the last two axes (batched matrices)."""
        if self.ndim < 2:
            raise op_error("mT", f"needs at least 2 dimensions, got shape {tuple(self.shape)}")
        return self.swapaxes(-1, -2)

    @property
    def is_cuda(self) -> bool:
        return self.device != "cpu"

    @property
    def itemsize(self) -> int:
        return self.array.itemsize

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    def dim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None) -> Any:
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    # ------------------------------------------------------------------ autograd API
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (only on leaves, only for floating dtypes)."""
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating point tensors can require gradients, got dtype {self.dtype}"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor: use .detach() to get a tensor "
                "without history"
            )
        self.requires_grad = builtins.bool(requires_grad)
        return self

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Compute the gradient of this tensor w.r.t. the graph leaves (into ``.grad``).

        Parameters
        ----------
        gradient : Tensor, optional
            ``dL/d(self)``; needed when ``self`` is not a scalar.
        retain_graph : bool, optional
            Keep the graph for another backward (default: ``create_graph``).
        create_graph : bool
            Record the backward so that gradients can be differentiated again.
        inputs : sequence of Tensor, optional
            Accumulate only into these tensors' ``.grad``.
        """
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs, but "
                    f"this tensor has shape {tuple(self.shape)}; pass backward(gradient=...) "
                    "with dL/d(output) of the same shape"
                )
            d = self.array
            g = xp_of(d).array(1, dtype=d.dtype)  # dL/dL = 1
            if d.ndim:
                g = g.reshape(d.shape)
        else:
            g = gradient.array if isinstance(gradient, Tensor) else np.asarray(gradient,
                                                                              dtype=self.dtype)
            if g.shape != self.shape:
                raise RuntimeError(
                    f"backward: gradient has shape {tuple(g.shape)} but the tensor has shape "
                    f"{tuple(self.shape)}"
                )
        if create_graph:
            g = gradient if isinstance(gradient, Tensor) else Tensor._make(g, False)
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            caps = _engine.run_backward([self], [g], retain_graph, create_graph, capture=inputs,
                                        accumulate=False)
            for t, c in zip(inputs, caps):
                if c is not None:
                    _engine._accumulate(t, c, create_graph)
            return
        _engine.run_backward([self], [g], retain_graph, create_graph)

    def detach(self) -> Tensor:
        """A tensor sharing this data but cut from the graph (``requires_grad=False``)."""
        t = Tensor._make(self.array, False)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        gf = self.grad_fn
        if gf is None:
            return  # leaves always keep their grad
        import weakref

        if gf._retained is None:
            gf._retained = {}
        gf._retained[self._out_idx] = weakref.ref(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a function that removes the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        gf = self.grad_fn
        if gf is None:
            if self._hooks is None:
                self._hooks = []
            lst = self._hooks
        else:
            if gf._hooks is None:
                gf._hooks = {}
            lst = gf._hooks.setdefault(self._out_idx, [])
        lst.append(hook)

        def remove() -> None:
            if hook in lst:
                lst.remove(hook)

        return remove

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> Callable[[], None]:
        """Call ``hook(tensor)`` during ``backward`` as soon as this leaf's ``.grad`` holds the
        backward's complete gradient (before the rest of the backward runs, as PyTorch).
        Returns a function that removes the hook."""
        if not self.requires_grad or self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors that require "
                               "grad accumulate a gradient")
        from .autograd.engine import add_post_accumulate_hook

        return add_post_accumulate_hook(self, hook)

    @property
    def name(self) -> str | None:
        """Optional label shown by traces and graph drawings."""
        return self._name

    @name.setter
    def name(self, v: str | None) -> None:
        self._name = v

    # ------------------------------------------------------------------ conversion
    def numpy(self, force: bool = False) -> np.ndarray:
        """The data as a NumPy array (shared memory on the CPU)."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; "
                "use tensor.detach().numpy()"
            )
        return to_numpy(self.array)

    def item(self) -> Any:
        if self.array.size != 1:
            raise ValueError(
                f"item(): only a one-element tensor can be converted to a Python scalar, got "
                f"shape {tuple(self.shape)}"
            )
        return self.array.reshape(()).item()

    def tolist(self) -> Any:
        return to_numpy(self.array).tolist()

    def __float__(self) -> float:
        return _PyFloat(self.item())

    def __int__(self) -> int:
        return _PyInt(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be used as an index")
        return _PyInt(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.array.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return builtins.bool(self.array.reshape(()).item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = to_numpy(self.array)
        return a if dtype is None else a.astype(dtype)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("copy", None)
        kwargs.pop("non_blocking", None)
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif is_device_arg(a):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None:
            d = _dt.to_dtype(dtype)
            if d != self.dtype:
                out = Cast.apply(out, d)
        if device is not None:
            dev = normalize_device(device)
            if dev != out.device:
                out = ToDevice.apply(out, dev)
        return out

    def float(self) -> Tensor:
        return self.to(_dt.float32)

    def double(self) -> Tensor:
        return self.to(_dt.float64)

    def half(self) -> Tensor:
        return self.to(_dt.float16)

    def long(self) -> Tensor:
        return self.to(_dt.int64)

    def int(self) -> Tensor:
        return self.to(_dt.int32)

    def bool(self) -> Tensor:
        return self.to(_dt.bool)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Tensor:
        return self.to("cuda" if device is None else device if isinstance(device, str) else f"cuda:{device}")

    def clone(self) -> Tensor:
        """A copy that stays in the graph (its gradient flows back to ``self``)."""
        return Clone.apply(self)

    def contiguous(self, memory_format: Any = None) -> Tensor:
        if self.is_contiguous():
            return self
        return Clone.apply(self)

    def is_contiguous(self, memory_format: Any = None) -> builtins.bool:
        """False for a view (a transpose, an expand, a slice) whose elements are not in
        row-major order, as in PyTorch."""
        return not getattr(self, "_strided", False) or builtins.bool(
            self.array.flags["C_CONTIGUOUS"])

    # ------------------------------------------------------------------ new_* (torch's forms)
    def _new(self, op: str, fill: Any, size: tuple, dtype: Any, device: Any,
             requires_grad: builtins.bool, size_kw: Any = None) -> Tensor:
        """A new tensor of ``size`` (varargs or one tuple) filled with ``fill`` (None: left
        uninitialized), with this tensor's dtype and device unless given."""
        from ._sizes import size_arg

        shp = size_arg(op, size, size_kw)
        d = self.dtype if dtype is None else _dt.to_dtype(dtype)
        xp = xp_of(self.array)
        arr = xp.empty(shp, dtype=d) if fill is None else xp.full(shp, fill, dtype=d)
        if device is not None and normalize_device(device) != self.device:
            arr = to_device(arr, device)
        t = Tensor._make(arr, False)
        return t.requires_grad_(True) if requires_grad else t

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: builtins.bool = False, **kw: Any) -> Tensor:
        """Zeros of ``size`` (``new_zeros(2, 3)`` or ``new_zeros((2, 3))``), this tensor's
        dtype and device unless given."""
        return self._new("new_zeros", 0, size, dtype, device, requires_grad, kw.pop("size", None))

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: builtins.bool = False, **kw: Any) -> Tensor:
        """Ones of ``size``, this tensor's dtype and device unless given."""
        return self._new("new_ones", 1, size, dtype, device, requires_grad, kw.pop("size", None))

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: builtins.bool = False, **kw: Any) -> Tensor:
        """An uninitialized tensor of ``size``, this tensor's dtype and device unless given."""
        return self._new("new_empty", None, size, dtype, device, requires_grad,
                         kw.pop("size", None))

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
                 requires_grad: builtins.bool = False) -> Tensor:
        """``fill_value`` everywhere, this tensor's dtype and device unless given."""
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        return self._new("new_full", fill_value, (size,), dtype, device, requires_grad)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None,
                   requires_grad: builtins.bool = False) -> Tensor:
        """A copy of ``data`` with this tensor's dtype and device unless given."""
        return Tensor(data.detach() if isinstance(data, Tensor) else data,
                      dtype=self.dtype if dtype is None else dtype,
                      device=self.device if device is None else device,
                      requires_grad=requires_grad)

    # ------------------------------------------------------------------ device flags, type()
    @property
    def is_cpu(self) -> builtins.bool:
        return self.device == "cpu"

    @property
    def is_xpu(self) -> builtins.bool:
        """Always False: glassgrad has no Intel GPU backend."""
        return False

    @property
    def is_mps(self) -> builtins.bool:
        """Always False: glassgrad has no Apple GPU backend."""
        return False

    @property
    def is_meta(self) -> builtins.bool:
        """Always False: every glassgrad tensor holds data."""
        return False

    def type(self, dtype: Any = None, non_blocking: builtins.bool = False) -> Any:
        """Without argument: the type name as PyTorch spells it (``'torch.FloatTensor'``,
        ``'torch.cuda.LongTensor'``); with a dtype, a name such as ``'torch.LongTensor'`` or
        a legacy type such as ``gg.LongTensor``: this tensor converted to it."""
        if dtype is None:
            name = _dt.legacy_type_name(self.dtype)
            return name if self.device == "cpu" else name.replace("torch.", "torch.cuda.", 1)
        dev = None
        if isinstance(dtype, str) and dtype.startswith("torch.cuda."):
            dev, dtype = "cuda", dtype.replace("torch.cuda.", "torch.", 1)
        d = _dt.from_legacy_type(dtype)
        out = self if d == self.dtype else self.to(d)
        return out if dev is None else out.to(dev)

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        arr = to_numpy(self.array)
        from ._printopts import array2string_kwargs

        body = np.array2string(arr, separator=", ", prefix="tensor(", **array2string_kwargs())
        extras = []
        if arr.dtype != _dt.get_default_dtype() and arr.dtype != np.int64 and arr.dtype != bool:
            extras.append(f"dtype={arr.dtype}")
        elif arr.size == 0:
            extras.append(f"size={tuple(arr.shape)}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + ("".join(", " + e for e in extras)) + ")"

    def __str__(self) -> str:
        return self.__repr__()

    def __format__(self, spec: str) -> str:
        if self.array.size == 1 and spec:
            return format(self.item(), spec)
        return repr(self)

    def _repr_html_(self) -> str:
        from .viz.html import tensor_html

        return tensor_html(self)

    # ------------------------------------------------------------------ arithmetic
    def _other(self, o: Any) -> Any:
        """``o`` as a Tensor or a Python scalar (NumPy scalars become Python scalars, so
        that they promote like Python numbers: ``float32_tensor * np.float64(2)`` stays
        float32, as in PyTorch)."""
        if isinstance(o, Tensor):
            return o
        if isinstance(o, np.generic):  # before _SCALARS: np.float64 is a subclass of float
            return o.item()
        if isinstance(o, _SCALARS):
            return o
        if is_array(o):
            return Tensor._make(o, False)
        _check_operand(o)
        return _from_data(o, dtype=self.dtype if np.asarray(o).dtype.kind == "f" else None)

    def _operands(self, o: Any) -> tuple:
        """Both operands of a binary op, converted to PyTorch's result dtype.

        Rules (PyTorch's type promotion): categories bool < integer < floating; a Python
        number only raises the category (an int/bool tensor with a float number gives the
        default float dtype); a 0-d tensor counts only when it is of a higher category than
        the tensors with dimensions. So ``float32 * int64`` is float32, ``float32 * 0-d
        float64`` is float32, ``float32 * float64`` (both with dimensions) is float64.
        """
        o = self._other(o)
        a = self
        if isinstance(o, Tensor):
            if o.array.dtype == a.array.dtype:
                return a, o
            d = _dt.result_type(a.array.dtype, a.array.ndim, o.array.dtype, o.array.ndim)
            return (a if a.array.dtype == d else a.to(d)), (o if o.array.dtype == d else o.to(d))
        k = a.array.dtype.kind
        if k in "biu" and isinstance(o, _PyFloat):
            a = a.to(_dt.get_default_dtype())
        elif k == "b" and type(o) is _PyInt:
            a = a.to(_dt.int64)
        return a, o

    def __add__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        return E.Add.apply(a, o)

    def __radd__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        return E.Add.apply(a, o)

    def __sub__(self, o: Any) -> Tensor:
        _no_bool_sub(self, o)
        a, o = self._operands(o)
        return E.Sub.apply(a, o)

    def __rsub__(self, o: Any) -> Tensor:
        _no_bool_sub(self, o)
        a, o = self._operands(o)
        if isinstance(o, Tensor):
            return E.Sub.apply(o, a)
        return E.RSub.apply(a, o)

    def __mul__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        return E.Mul.apply(a, o)

    def __rmul__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        return E.Mul.apply(a, o)

    def __truediv__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        if a.array.dtype.kind in "biu":  # true division of integers gives the default float
            a = a.to(_dt.get_default_dtype())
            if isinstance(o, Tensor):
                o = o.to(a.dtype)
        return E.Div.apply(a, o)

    def __rtruediv__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        if isinstance(o, Tensor):
            return o.__truediv__(a)
        if a.array.dtype.kind in "biu":
            a = a.to(_dt.get_default_dtype())
        return E.RDiv.apply(a, o)

    def __floordiv__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        return Tensor._make(xp_of(a.array).asarray(a.array // (o.array if isinstance(o, Tensor) else o)),
                            False)

    def __mod__(self, o: Any) -> Tensor:
        return self.remainder(o)

    def __pow__(self, o: Any) -> Tensor:
        if isinstance(o, Tensor) and o.array.dtype.kind == "b":
            _no_dtype(self, "pow", "b", "bool ** bool")
        if type(o) is _PyBool and self.array.dtype.kind == "b":  # bool ** True/False: bool
            return Tensor._make(self.array.copy() if o else xp_of(self.array).ones_like(self.array),
                                False)
        if type(o) is _PyInt and o < 0:  # (also for an empty tensor, as PyTorch)
            _no_dtype(self, "pow", "biu", "integers to negative integer powers are not allowed")
        a, o = self._operands(o)
        return E.Pow.apply(a, o)

    def __rpow__(self, o: Any) -> Tensor:
        a, o = self._operands(o)
        if isinstance(o, Tensor):
            return E.Pow.apply(o, a)
        if a.array.dtype.kind in "iu" and isinstance(o, _PyInt):  # int ** int tensor stays integer
            return a._int_scalar_op("pow", o, lambda x, c: c**x)
        if a.array.dtype.kind in "biu":
            a = a.to(_dt.get_default_dtype())
        return E.RPow.apply(a, o)

    def __neg__(self) -> Tensor:
        _no_dtype(self, "neg", "b", "use ~ or logical_not() to invert a mask")
        return E.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    def __matmul__(self, o: Any) -> Tensor:
        return L.MatMul.apply(self, self._other(o))

    def __rmatmul__(self, o: Any) -> Tensor:
        return L.MatMul.apply(self._other(o), self)

    # comparisons: results carry no gradient
    def _cmp(self, o: Any, fn: Callable) -> Tensor:
        if not isinstance(o, (Tensor, np.generic) + _SCALARS) and not is_array(o):
            _check_operand(o)
        od = o.array if isinstance(o, Tensor) else o
        a = self.array
        if isinstance(o, Tensor) and od.dtype != a.dtype:  # compared in the promoted dtype
            d = _dt.result_type(a.dtype, a.ndim, od.dtype, od.ndim)
            a, od = a.astype(d, copy=False), od.astype(d, copy=False)
        try:
            return Tensor._make(xp_of(self.array).asarray(fn(a, od)), False)
        except ValueError as e:
            raise op_error("compare", f"shapes {tuple(self.shape)} and "
                           f"{tuple(np.shape(od))} do not broadcast: {e}") from None

    def __lt__(self, o: Any) -> Tensor:
        return self._cmp(o, lambda a, b: a < b)

    def __le__(self, o: Any) -> Tensor:
        return self._cmp(o, lambda a, b: a <= b)

    def __gt__(self, o: Any) -> Tensor:
        return self._cmp(o, lambda a, b: a > b)

    def __ge__(self, o: Any) -> Tensor:
        return self._cmp(o, lambda a, b: a >= b)

    def __eq__(self, o: Any) -> Tensor:  # type: ignore[override]
        if _not_operand(o):
            return NotImplemented  # x == "a" is False, x != None is True (as PyTorch)
        return self._cmp(o, lambda a, b: a == b)

    def __ne__(self, o: Any) -> Tensor:  # type: ignore[override]
        if _not_operand(o):
            return NotImplemented
        return self._cmp(o, lambda a, b: a != b)

    def __and__(self, o: Any) -> Tensor:
        return self._bitwise("bitwise_and", o, operator.and_)

    def __or__(self, o: Any) -> Tensor:
        return self._bitwise("bitwise_or", o, operator.or_)

    def __xor__(self, o: Any) -> Tensor:
        return self._bitwise("bitwise_xor", o, operator.xor)

    # ------------------------------------------------------------------ reflected integer ops
    def _bitwise(self, op: str, o: Any, fn: Callable) -> Tensor:
        """``&``, ``|``, ``^`` on bool/integer tensors with PyTorch's result dtype."""
        a, b = self._operands(o)
        if isinstance(b, _PyFloat) or builtins.any(
                isinstance(v, Tensor) and v.dtype.kind not in "biu" for v in (a, b)):
            other = b.dtype if isinstance(b, Tensor) else type(b).__name__
            raise op_error(op, f"needs bool or integer operands, got {a.dtype} and {other}", TypeError)
        bd = b.array if isinstance(b, Tensor) else b
        try:
            return Tensor._make(xp_of(a.array).asarray(fn(a.array, bd)), False)
        except ValueError as e:
            raise op_error(op, f"shapes {tuple(a.shape)} and {tuple(np.shape(bd))} do not "
                           f"broadcast: {e}") from None

    def __rand__(self, o: Any) -> Tensor:
        return self._bitwise("bitwise_and", o, operator.and_)

    def __ror__(self, o: Any) -> Tensor:
        return self._bitwise("bitwise_or", o, operator.or_)

    def __rxor__(self, o: Any) -> Tensor:
        return self._bitwise("bitwise_xor", o, operator.xor)

    def __rfloordiv__(self, o: Any) -> Tensor:
        """``number // tensor``, PyTorch's result dtype."""
        return self._other_t(o).__floordiv__(self)

    def __rmod__(self, o: Any) -> Tensor:
        """``number % tensor``: the remainder with the sign of the tensor (Python's ``%``)."""
        return self._other_t(o).remainder(self)

    def _int_scalar_op(self, op: str, c: Any, fn: Callable) -> Tensor:
        """``fn(integer array, Python int)`` as an integer tensor (no gradient)."""
        try:
            return Tensor._make(xp_of(self.array).asarray(fn(self.array, c)), False)
        except ValueError as e:  # e.g. integers to negative integer powers
            raise op_error(op, f"on integer tensor {self.dtype} with {c!r}: {e}") from None

    def __invert__(self) -> Tensor:
        return Tensor._make(~self.array, False)

    def eq(self, o: Any) -> Tensor:
        return self == o

    def ne(self, o: Any) -> Tensor:
        return self != o

    def lt(self, o: Any) -> Tensor:
        return self < o

    def le(self, o: Any) -> Tensor:
        return self <= o

    def gt(self, o: Any) -> Tensor:
        return self > o

    def ge(self, o: Any) -> Tensor:
        return self >= o

    def equal(self, o: Tensor) -> builtins.bool:
        """True when shapes and all values are equal."""
        return self.shape == o.shape and builtins.bool((self.array == o.array).all())

    def allclose(self, o: Any, rtol: float = 1e-5, atol: float = 1e-8) -> builtins.bool:
        od = o.array if isinstance(o, Tensor) else o
        return builtins.bool(xp_of(self.array).allclose(self.array, od, rtol=rtol, atol=atol))

    def isnan(self) -> Tensor:
        return Tensor._make(xp_of(self.array).isnan(self.array), False)

    def isinf(self) -> Tensor:
        return Tensor._make(xp_of(self.array).isinf(self.array), False)

    def isfinite(self) -> Tensor:
        return Tensor._make(xp_of(self.array).isfinite(self.array), False)

    def any(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None) -> Tensor:
        ax = pick(dim, axis)
        return Tensor._make(xp_of(self.array).asarray(self.array.any(
            axis=ax, keepdims=keepdim if keepdims is None else keepdims)), False)

    def all(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None) -> Tensor:
        ax = pick(dim, axis)
        return Tensor._make(xp_of(self.array).asarray(self.array.all(
            axis=ax, keepdims=keepdim if keepdims is None else keepdims)), False)

    # ------------------------------------------------------------------ in place
    def _inplace(self, op: str, fn: Callable[[Any], Any], out_of_place: Callable[[], Tensor],
                 other: Any = None) -> Tensor:
        """In-place update. On a tensor that is part of a recorded graph (or when ``other``
        requires grad) the op is done out of place and this tensor is re-pointed at the
        result (its old values stay intact for any backward that saved them)."""
        if STATE.grad_enabled and (self.requires_grad or (isinstance(other, Tensor)
                                                          and other.requires_grad)):
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad is being used in an in-place "
                    "operation; wrap the update in gg.no_grad() (as optimizers do)"
                )
            new = out_of_place()
            if new.shape != self.shape:
                raise op_error(op, f"the result has shape {tuple(new.shape)}, but an in-place "
                               f"op must keep the tensor's shape {tuple(self.shape)}")
            if new.dtype != self.dtype:  # in place keeps the dtype (as PyTorch)
                new = new.to(self.dtype)
            if STATE.recorder is not None:
                STATE.recorder.inplace(self, op, True)
            self.array, self.grad_fn, self._out_idx = new.array, new.grad_fn, new._out_idx
            self._version = new._version
            self.requires_grad = new.requires_grad
            return self
        if STATE.recorder is not None:
            STATE.recorder.inplace(self, op, False)
        try:
            fn(self.array)
        except (TypeError, ValueError) as e:  # dtype casting / broadcasting of the output
            raise op_error(op, f"cannot update a tensor of shape {tuple(self.shape)} "
                           f"{self.dtype} in place: {e}",
                           TypeError if isinstance(e, TypeError) else ValueError) from None
        self._version[0] += 1
        return self

    def _cast_in(self, o: Any) -> Any:
        od = o.array if isinstance(o, Tensor) else o
        return od

    def add_(self, o: Any, alpha: Any = 1) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            if alpha == 1:
                d += od
            else:
                d += alpha * od

        return self._inplace("add_", f, lambda: self + (o if alpha == 1 else o * alpha), o)

    def sub_(self, o: Any, alpha: Any = 1) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            if alpha == 1:
                d -= od
            else:
                d -= alpha * od

        return self._inplace("sub_", f, lambda: self - (o if alpha == 1 else o * alpha), o)

    def mul_(self, o: Any) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            d *= od

        return self._inplace("mul_", f, lambda: self * o, o)

    def div_(self, o: Any) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            d /= od

        return self._inplace("div_", f, lambda: self / o, o)

    def pow_(self, o: Any) -> Tensor:
        od = self._cast_in(o)

        def f(d: Any) -> None:
            d **= od

        return self._inplace("pow_", f, lambda: self**o, o)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace("clamp_", lambda d: xp_of(d).clip(d, min, max, out=d),
                             lambda: self.clamp(min, max))

    def zero_(self) -> Tensor:
        def f(d: Any) -> None:
            d[...] = 0

        return self._inplace("zero_", f, lambda: self * 0)

    def fill_(self, value: Any) -> Tensor:
        v = self._cast_in(value)

        def f(d: Any) -> None:
            d[...] = v

        return self._inplace("fill_", f, lambda: self * 0 + value, value)

    def copy_(self, src: Any) -> Tensor:
        """Copy values from ``src`` (broadcast to this shape, cast to this dtype)."""
        s = src.array if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.broadcast_shapes(s.shape, self.shape)
        except ValueError:
            raise op_error("copy_", f"cannot copy shape {tuple(s.shape)} into "
                           f"{tuple(self.shape)}") from None

        def f(d: Any) -> None:
            d[...] = s

        return self._inplace("copy_", f, lambda: self * 0 + src, src)

    def __iadd__(self, o: Any) -> Tensor:
        return self.add_(o)

    def __isub__(self, o: Any) -> Tensor:
        return self.sub_(o)

    def __imul__(self, o: Any) -> Tensor:
        return self.mul_(o)

    def __itruediv__(self, o: Any) -> Tensor:
        return self.div_(o)

    def __setitem__(self, idx: Any, value: Any) -> None:
        key = I.normalize_index(idx, Tensor)
        key = key[0] if len(key) == 1 else key
        v = value.array if isinstance(value, Tensor) else value
        if STATE.grad_enabled and (self.requires_grad or (isinstance(value, Tensor)
                                                          and value.requires_grad)):
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(
                    "setitem: a leaf tensor that requires grad is being used in an in-place "
                    "operation; wrap the assignment in gg.no_grad()"
                )
            val = value if isinstance(value, Tensor) else Tensor(v, dtype=self.dtype)
            new = IndexPut.apply(self, key, val.to(self.dtype))
            if STATE.recorder is not None:
                STATE.recorder.inplace(self, "setitem", True)
            self.array, self.grad_fn, self._out_idx = new.array, new.grad_fn, new._out_idx
            self._version = new._version
            self.requires_grad = new.requires_grad
            return
        if STATE.recorder is not None:
            STATE.recorder.inplace(self, "setitem", False)
        try:
            self.array[key] = v
        except (IndexError, ValueError) as e:
            raise op_error("setitem", f"cannot assign into shape {tuple(self.shape)} at "
                           f"{I._idx_str(key if isinstance(key, tuple) else (key,))}: {e}",
                           IndexError) from None
        self._version[0] += 1

    # ------------------------------------------------------------------ pointwise
    def exp(self) -> Tensor:
        return E.Exp.apply(self._f())

    def log(self) -> Tensor:
        return E.Log.apply(self._f())

    def log1p(self) -> Tensor:
        return E.Log1p.apply(self._f())

    def sqrt(self) -> Tensor:
        return E.Sqrt.apply(self._f())

    def rsqrt(self) -> Tensor:
        return self.sqrt().reciprocal()

    def abs(self) -> Tensor:
        _no_dtype(self, "abs", "b", "a bool has no sign")
        if self.dtype.kind != "f":
            return Tensor._make(abs(self.array), False)
        return E.Abs.apply(self)

    def sin(self) -> Tensor:
        return TG.Sin.apply(self._f())

    def cos(self) -> Tensor:
        return TG.Cos.apply(self._f())

    def tanh(self) -> Tensor:
        return TG.Tanh.apply(self._f())

    def sigmoid(self) -> Tensor:
        return E.Sigmoid.apply(self._f())

    def relu(self) -> Tensor:
        _no_dtype(self, "relu", "b", "use .to(dtype) first")
        return E.Relu.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return E.LeakyRelu.apply(self, negative_slope)

    def elu(self, alpha: float = 1.0) -> Tensor:
        return E.Elu.apply(self, alpha)

    def gelu(self, approximate: str = "none") -> Tensor:
        if approximate not in ("none", "tanh"):
            raise op_error("gelu", f"approximate must be 'none' or 'tanh', got {approximate!r}")
        return E.Gelu.apply(self, approximate)

    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        return E.Softplus.apply(self, beta, threshold)

    def erf(self) -> Tensor:
        return E.Erf.apply(self._f())

    def expm1(self) -> Tensor:
        return E.Expm1.apply(self._f())

    def exp2(self) -> Tensor:
        return E.Exp2.apply(self._f())

    def log2(self) -> Tensor:
        return E.LogBase.apply(self._f(), 2)

    def log10(self) -> Tensor:
        return E.LogBase.apply(self._f(), 10)

    def tan(self) -> Tensor:
        return TG.Tan.apply(self._f())

    def sinh(self) -> Tensor:
        return TG.Sinh.apply(self._f())

    def cosh(self) -> Tensor:
        return TG.Cosh.apply(self._f())

    def asin(self) -> Tensor:
        return TG.Asin.apply(self._f())

    def acos(self) -> Tensor:
        return TG.Acos.apply(self._f())

    def atan(self) -> Tensor:
        return TG.Atan.apply(self._f())

    arcsin, arccos, arctan = asin, acos, atan

    def atan2(self, other: Any) -> Tensor:
        """Angle of the point ``(other, self)``, i.e. ``atan2(y=self, x=other)``."""
        a, b = self._f()._operands(self._other_t(other))
        return TG.Atan2.apply(a, b)

    arctan2 = atan2

    def hypot(self, other: Any) -> Tensor:
        a, b = self._f()._operands(self._other_t(other))
        return TG.Hypot.apply(a, b)

    def logaddexp(self, other: Any) -> Tensor:
        a, b = self._f()._operands(self._other_t(other))
        return E.LogAddExp.apply(a, b)

    def fmod(self, other: Any) -> Tensor:
        """``a − b·trunc(a/b)``: the remainder with the sign of ``self`` (C's ``fmod``)."""
        a, b = self._operands(self._other_t(other))
        return E.Fmod.apply(a, b, False)

    def remainder(self, other: Any) -> Tensor:
        """``a − b·floor(a/b)``: the remainder with the sign of ``other`` (Python's ``%``)."""
        a, b = self._operands(self._other_t(other))
        return E.Fmod.apply(a, b, True)

    def _rounded(self, fn: str, *args: Any) -> Tensor:
        """Rounding is piecewise constant: derivative 0 almost everywhere (a zero gradient,
        as PyTorch)."""
        if fn != "sign":
            _no_dtype(self, fn, "b", "use .to(dtype) first")
        return Rounded.apply(self, fn, *args)

    def floor(self) -> Tensor:
        return self._rounded("floor")

    def ceil(self) -> Tensor:
        return self._rounded("ceil")

    def trunc(self) -> Tensor:
        return self._rounded("trunc")

    fix = trunc

    def round(self, decimals: int = 0) -> Tensor:
        """Round half to even (as PyTorch and NumPy), to ``decimals`` places."""
        return self._rounded("round", dim_int(decimals, "round", "decimals"))

    def frac(self) -> Tensor:
        """``x − trunc(x)`` (gradient 1)."""
        return self - self.trunc()

    def sign(self) -> Tensor:
        if self.dtype.kind == "b":  # sign of a bool is itself (as PyTorch)
            return Tensor._make(self.array.copy(), False)
        return self._rounded("sign")

    def square(self) -> Tensor:
        x = self.to(_dt.int64) if self.array.dtype.kind == "b" else self  # bool -> int64 (torch)
        return x * x

    def reciprocal(self) -> Tensor:
        return E.RDiv.apply(self._f(), 1.0)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        if min is None and max is None:
            raise op_error("clamp", "at least one of min and max must be given")
        lo = min.item() if isinstance(min, np.generic) else min
        hi = max.item() if isinstance(max, np.generic) else max
        if isinstance(lo, Tensor) or isinstance(hi, Tensor) or is_array(lo) or is_array(hi):
            # tensor bounds (broadcast, and differentiable): x below lo -> lo, then above hi -> hi
            out = self
            if lo is not None:
                lo_t = self._other_t(lo)
                out = E.where(self.array < lo_t.array, lo_t, out)
            if hi is not None:
                hi_t = self._other_t(hi)
                out = E.where(out.array > hi_t.array, hi_t, out)
            return out
        if self.array.dtype.kind in "biu" and (isinstance(lo, _PyFloat) or isinstance(hi, _PyFloat)):
            return E.Clamp.apply(self.to(_dt.get_default_dtype()), lo, hi)
        return E.Clamp.apply(self, lo, hi)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        a, b = self._operands(self._other_t(other))
        return E.Maximum.apply(a, b)

    def minimum(self, other: Any) -> Tensor:
        a, b = self._operands(self._other_t(other))
        return E.Minimum.apply(a, b)

    def pow(self, e: Any) -> Tensor:
        return self**e

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """Elements where ``mask`` is true replaced by ``value``."""
        m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
        if m.dtype.kind != "b":
            raise op_error("masked_fill", f"mask must be a bool tensor, got {m.dtype}", TypeError)
        try:
            v = np.asarray(value.array if isinstance(value, Tensor) else value, dtype=self.dtype)
        except (OverflowError, ValueError, TypeError) as e:
            raise op_error("masked_fill", f"value {value!r} cannot be converted to {self.dtype} "
                           f"without overflow ({e})", RuntimeError) from None
        return E.where(m, Tensor._make(v, False) if not isinstance(value, Tensor) else value, self)

    def where(self, condition: Any, other: Any) -> Tensor:
        return E.where(condition, self, other)

    def _f(self) -> Tensor:
        """Integer/bool tensors become float (default dtype) for float-valued functions."""
        return self.to(_dt.get_default_dtype()) if self.dtype.kind in "biu" else self

    def _other_t(self, o: Any) -> Tensor:
        if isinstance(o, Tensor):
            return o
        if isinstance(o, np.generic):
            o = o.item()
        if isinstance(o, _SCALARS):
            a, o = self._operands(o)  # the dtype a Python number would give
            return Tensor._make(np.asarray(o, dtype=a.dtype), False)
        _check_operand(o)
        return _from_data(np.asarray(o, dtype=self.dtype) if np.asarray(o).dtype.kind == "f" else o)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None, dtype: Any = None) -> Tensor:
        """Sum over ``dim`` (all axes by default); ``axis``/``keepdims`` are NumPy aliases."""
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind in "bu" or (x.dtype.kind == "i" and x.dtype != np.int64):
            x = x.to(_dt.int64)
        ax = norm_axis(pick(dim, axis), self.ndim, "sum")
        kd = keepdim if keepdims is None else keepdims
        return R.Sum.apply(x, ax, builtins.bool(kd))

    def mean(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
             keepdims: Any = None, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind != "f":
            raise op_error("mean", f"needs a floating tensor, got {x.dtype} (use .float())",
                           TypeError)
        ax = norm_axis(pick(dim, axis), self.ndim, "mean")
        kd = keepdim if keepdims is None else keepdims
        return R.Mean.apply(x, ax, builtins.bool(kd))

    def var(self, dim: Any = None, unbiased: Any = None, keepdim: builtins.bool = False, *,
            correction: Any = None, axis: Any = None, keepdims: Any = None,
            ddof: Any = None) -> Tensor:
        """Variance with ``correction`` (1 = unbiased, the default, as PyTorch)."""
        c = _correction(unbiased, correction, ddof)
        _no_dtype(self, "var", "biu", "needs a floating tensor: use .float()")
        ax = norm_axis(pick(dim, axis), self.ndim, "var")
        kd = keepdim if keepdims is None else keepdims
        return R.Var.apply(self._f(), ax, c, builtins.bool(kd))

    def std(self, dim: Any = None, unbiased: Any = None, keepdim: builtins.bool = False, *,
            correction: Any = None, axis: Any = None, keepdims: Any = None,
            ddof: Any = None) -> Tensor:
        """Standard deviation with ``correction`` (1 = unbiased, the default, as PyTorch)."""
        c = _correction(unbiased, correction, ddof)
        _no_dtype(self, "std", "biu", "needs a floating tensor: use .float()")
        ax = norm_axis(pick(dim, axis), self.ndim, "std")
        kd = keepdim if keepdims is None else keepdims
        return R.Std.apply(self._f(), ax, c, builtins.bool(kd))

    def amax(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
             keepdims: Any = None) -> Tensor:
        ax = norm_axis(pick(dim, axis), self.ndim, "amax")
        self._nonempty("amax", ax)
        return R.Amax.apply(self, ax, builtins.bool(keepdim if keepdims is None else keepdims))

    def amin(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
             keepdims: Any = None) -> Tensor:
        ax = norm_axis(pick(dim, axis), self.ndim, "amin")
        self._nonempty("amin", ax)
        return R.Amin.apply(self, ax, builtins.bool(keepdim if keepdims is None else keepdims))

    def max(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None) -> Any:
        """Without ``dim``: the maximum (ties share the gradient). With ``dim``: a
        ``(values, indices)`` pair; the gradient goes to the returned index. With a
        tensor argument: elementwise ``maximum``."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        d = pick(dim, axis)
        kd = builtins.bool(keepdim if keepdims is None else keepdims)
        if d is None:
            self._nonempty("max", None)
            return R.Amax.apply(self, None, kd, True)
        d = norm_dim(d, self.ndim, "max")
        if self.ndim == 0:  # PyTorch allows dim 0 of a 0-d tensor: the element, index 0
            return MinMax(Clone.apply(self), Tensor._make(np.zeros((), dtype=np.int64), False))
        self._nonempty("max", (d,))
        v, i = R.MaxDim.apply(self, d, kd, True)
        return MinMax(v, i)

    def min(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: Any = None) -> Any:
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        d = pick(dim, axis)
        kd = builtins.bool(keepdim if keepdims is None else keepdims)
        if d is None:
            self._nonempty("min", None)
            return R.Amin.apply(self, None, kd, True)
        d = norm_dim(d, self.ndim, "min")
        if self.ndim == 0:  # PyTorch allows dim 0 of a 0-d tensor: the element, index 0
            return MinMax(Clone.apply(self), Tensor._make(np.zeros((), dtype=np.int64), False))
        self._nonempty("min", (d,))
        v, i = R.MaxDim.apply(self, d, kd, False)
        return MinMax(v, i)

    def _nonempty(self, op: str, axes: Any) -> None:
        """Max/min/arg-max have no identity: reducing over an empty axis is an error
        (reducing a non-empty axis of a tensor that is empty elsewhere is fine)."""
        if self.array.size != 0:
            return
        shape = self.shape
        axes = range(len(shape)) if axes is None else axes
        if self.ndim == 0 or builtins.any(shape[a] == 0 for a in axes):
            raise op_error(op, f"cannot reduce an empty tensor of shape {tuple(self.shape)} "
                           "(the operation has no identity)", IndexError)

    def _arg(self, op: str, dim: Any, keepdim: Any, largest: builtins.bool) -> Tensor:
        _no_dtype(self, op, "b", "use .to(dtype) first")
        xp = xp_of(self.array)
        if dim is None:
            self._nonempty(op, None)
            r = self.array.argmax() if largest else self.array.argmin()
            r = xp.asarray(r, dtype=np.int64)
            if keepdim:
                r = r.reshape((1,) * self.ndim)
            return Tensor._make(r, False)
        d = norm_dim(dim, self.ndim, op)
        self._nonempty(op, (d,) if self.ndim else None)
        if self.ndim == 0:
            return Tensor._make(xp.zeros((), dtype=np.int64), False)
        r = (self.array.argmax if largest else self.array.argmin)(axis=d, keepdims=keepdim)
        return Tensor._make(r.astype(np.int64, copy=False), False)

    def argmax(self, dim: Any = None, keepdim: builtins.bool = False, *,
               axis: Any = None) -> Tensor:
        """Index of the largest element (first one on ties, as PyTorch); flat without ``dim``."""
        return self._arg("argmax", pick(dim, axis), keepdim, True)

    def argmin(self, dim: Any = None, keepdim: builtins.bool = False, *,
               axis: Any = None) -> Tensor:
        """Index of the smallest element (first one on ties, as PyTorch)."""
        return self._arg("argmin", pick(dim, axis), keepdim, False)

    # ---- scans, products, sorting -----------------------------------------------------
    def _scan_input(self, op: str, dim: Any, dtype: Any) -> tuple:
        """(tensor to scan, normalized dim): integers and bools accumulate in int64, as
        PyTorch; a 0-d tensor is scanned as one element."""
        if dim is None:
            raise op_error(op, f"needs a dim (e.g. x.{op}(dim=0))", TypeError)
        x = self if dtype is None else self.to(dtype)
        if dtype is None and x.dtype.kind in "biu":
            x = x.to(_dt.int64)
        return x, norm_dim(dim, builtins.max(self.ndim, 1), op)

    def cumsum(self, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
        """Cumulative sum along ``dim``: ``z_k = Σ_{j ≤ k} x_j``."""
        x, d = self._scan_input("cumsum", pick(dim, axis), dtype)
        if x.ndim == 0:
            return R.CumSum.apply(x.reshape(1), 0).reshape(())
        return R.CumSum.apply(x, d)

    def cumprod(self, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
        """Cumulative product along ``dim``: ``z_k = Π_{j ≤ k} x_j`` (gradient exact with
        zeros)."""
        x, d = self._scan_input("cumprod", pick(dim, axis), dtype)
        if x.ndim == 0:
            return R.CumProd.apply(x.reshape(1), 0).reshape(())
        return R.CumProd.apply(x, d)

    def prod(self, dim: Any = None, keepdim: builtins.bool = False, *, dtype: Any = None,
             axis: Any = None, keepdims: Any = None) -> Tensor:
        """Product of all elements, or along one ``dim`` (gradient exact with zeros)."""
        x = self if dtype is None else self.to(dtype)
        if dtype is None and x.dtype.kind in "biu":
            x = x.to(_dt.int64)
        kd = builtins.bool(keepdim if keepdims is None else keepdims)
        d = pick(dim, axis)
        if d is not None and not isinstance(d, _PyInt):
            raise op_error("prod", f"dim must be one int or None, got {d!r}", TypeError)
        if d is not None:
            d = norm_dim(d, builtins.max(self.ndim, 1), "prod")
            if x.ndim == 0:
                return R.Prod.apply(x, None, False)
        return R.Prod.apply(x, d, kd)

    def sort(self, dim: int = -1, descending: builtins.bool = False,
             stable: builtins.bool = False) -> Any:
        """``(values, indices)`` sorted along ``dim``. Always stable (ties keep their
        order); NaN sorts as the largest value, as PyTorch. The gradient of ``values``
        goes back to the positions the values came from."""
        d = norm_dim(dim, builtins.max(self.ndim, 1), "sort")
        if self.ndim == 0:
            return ValuesIndices(Clone.apply(self),
                                 Tensor._make(np.zeros((), dtype=np.int64), False))
        v, i = R.Sort.apply(self, d, builtins.bool(descending))
        return ValuesIndices(v, i)

    def argsort(self, dim: int = -1, descending: builtins.bool = False,
                stable: builtins.bool = False) -> Tensor:
        """Indices that sort ``dim`` (stable; NaN largest), as int64; no gradient."""
        d = norm_dim(dim, builtins.max(self.ndim, 1), "argsort")
        if self.ndim == 0:
            return Tensor._make(np.zeros((), dtype=np.int64), False)
        idx = R.sort_indices(self.array, d, builtins.bool(descending))
        return Tensor._make(idx.astype(np.int64, copy=False), False)

    def topk(self, k: int, dim: int = -1, largest: builtins.bool = True,
             sorted: builtins.bool = True) -> Any:
        """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) entries
        along ``dim``, in sorted order (also when ``sorted=False``); ties by position."""
        d = norm_dim(dim, builtins.max(self.ndim, 1), "topk")
        n = self.shape[d] if self.ndim else 1
        try:
            k = operator.index(k)
        except TypeError:
            raise op_error("topk", f"k must be an int, got {type(k).__name__}",
                           TypeError) from None
        if not 0 <= k <= n:
            raise op_error("topk", f"k={k} is out of range for dim {d} of size {n} of a tensor "
                           f"of shape {tuple(self.shape)} (expected 0 <= k <= {n})", IndexError)
        if self.ndim == 0:
            v, i = self.reshape(1).topk(k, 0, largest)
            return ValuesIndices(v.reshape(()), i.reshape(())) if k else ValuesIndices(v, i)
        v, i = R.TopK.apply(self, k, d, builtins.bool(largest))
        return ValuesIndices(v, i)

    def tril(self, diagonal: int = 0) -> Tensor:
        """Lower triangle of the last two dims: ``z_ij = x_ij`` if ``j − i ≤ diagonal``."""
        return I.Tri.apply(self._tri_input("tril"), int(diagonal), False)

    def triu(self, diagonal: int = 0) -> Tensor:
        """Upper triangle of the last two dims: ``z_ij = x_ij`` if ``j − i ≥ diagonal``."""
        return I.Tri.apply(self._tri_input("triu"), int(diagonal), True)

    def _tri_input(self, op: str) -> Tensor:
        if self.ndim < 2:
            raise op_error(op, f"expected a tensor of at least 2 dimensions (a matrix or a "
                           f"batch of them), got shape {tuple(self.shape)}")
        return self

    def logsumexp(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
                  keepdims: Any = None) -> Tensor:
        ax = norm_axis(pick(dim, axis), self.ndim, "logsumexp")
        return R.LogSumExp.apply(self._f(), ax,
                                 builtins.bool(keepdim if keepdims is None else keepdims))

    def softmax(self, dim: Any = None, *, axis: Any = None) -> Tensor:
        d = pick(dim, axis, -1)
        if self.array.size:
            _no_dtype(self, "softmax", "biu", "needs a floating tensor: use .float()")
        return R.Softmax.apply(self, norm_dim(d, self.ndim, "softmax"))

    def log_softmax(self, dim: Any = None, *, axis: Any = None) -> Tensor:
        d = pick(dim, axis, -1)
        if self.array.size:
            _no_dtype(self, "log_softmax", "biu", "needs a floating tensor: use .float()")
        return R.LogSoftmax.apply(self, norm_dim(d, self.ndim, "log_softmax"))

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        """Vector p-norm over ``dim`` (all elements by default); its gradient is 0 where the
        norm is 0, as in PyTorch."""
        _no_dtype(self, "norm", "biu", "needs a floating tensor: use .float()")
        if p == "fro":
            if isinstance(dim, (list, tuple)) and len(dim) > 2:
                raise op_error("norm", f"the Frobenius norm (the default p) takes at most 2 dims, "
                               f"got dim={tuple(dim)}; pass p=2 for the 2-norm over more",
                               RuntimeError)
            p = 2
        if p == math.inf or p == "inf":
            return self.abs().amax(dim, keepdim)
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if p == 0:
            # the count of non-zeros: piecewise constant, so its gradient is 0 (as torch)
            x = self._f()
            return (x * 0).sum(dim, keepdim) + (x != 0).sum(dim, keepdim).to(x.dtype)
        if not p > 1:
            raise op_error("norm", f"p must be 0, 1, inf or greater than 1, got {p}")
        ax = norm_axis(dim, self.ndim, "norm")
        return R.PNorm.apply(self._f(), float(p), ax, builtins.bool(keepdim))

    # ------------------------------------------------------------------ movement
    def reshape(self, *shape: Any) -> Tensor:
        if not shape:
            raise op_error("reshape", "missing the argument 'shape'", TypeError)
        shp = shape_tuple(shape, "reshape", "shape")
        if builtins.any(s < -1 for s in shp):
            raise op_error("reshape", f"invalid shape dimension {builtins.min(shp)} in {shp}",
                           RuntimeError)
        if shp == self.shape:
            return self
        out = M.Reshape.apply(self, shp)
        if getattr(self, "_strided", False) and not out.array.flags["C_CONTIGUOUS"]:
            out._strided = True  # still a strided view of the same memory
        return out

    def view(self, *shape: Any) -> Tensor:
        """``view(shape)``: a reshape; ``view(dtype)``: the same bytes read as another dtype
        (as PyTorch; not differentiable — use ``.to(dtype)`` to convert values)."""
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, _PyInt)):
            try:
                d = _dt.to_dtype(shape[0])
            except (TypeError, ValueError) as e:
                raise op_error("view", f"expects a shape (ints) or a dtype, got "
                               f"{type(shape[0]).__name__} {shape[0]!r} ({e})", TypeError) from None
            if d == self.dtype:
                return self
            if self.requires_grad:
                raise RuntimeError(f"view(dtype): reinterpreting the bits of a tensor that requires "
                                   f"grad as {d} is not differentiable; use .to({d}) to convert "
                                   "the values")
            try:
                t = Tensor._make(self.array.view(d), False)
            except ValueError as e:
                raise op_error("view", f"cannot view a tensor of shape {tuple(self.shape)} "
                               f"{self.dtype} as {d}: {e}") from None
            t._version = self._version
            return t
        shp = shape_tuple(shape)
        arr = self.array
        if not self.is_contiguous() and _needs_copy(arr, shp):
            raise RuntimeError(
                f"view: size {shp} is not compatible with the input tensor's shape "
                f"{tuple(self.shape)} and strides {tuple(s // arr.itemsize for s in arr.strides)} "
                "(at least one dimension spans across two contiguous subspaces); use "
                ".reshape(...) instead, which copies when it must")
        return self.reshape(*shape)

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        s = norm_dim(start_dim, self.ndim, "flatten", "start_dim")
        e = norm_dim(end_dim, self.ndim, "flatten", "end_dim")
        if self.ndim == 0:
            return self.reshape(1)
        if s > e:
            raise op_error("flatten", f"start_dim {start_dim} comes after end_dim {end_dim} "
                           f"(shape {tuple(self.shape)})")
        shp = self.shape[:s] + (-1,) + self.shape[e + 1 :]
        if self.array.size == 0:
            n = 1
            for k in self.shape[s : e + 1]:
                n *= k
            shp = self.shape[:s] + (n,) + self.shape[e + 1 :]
        return self.reshape(shp)

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        d = norm_dim(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def permute(self, *dims: Any) -> Tensor:
        if not dims:
            raise op_error("permute", "missing the argument 'dims'", TypeError)
        dims = shape_tuple(dims, "permute", "dims")
        if len(dims) != self.ndim:
            raise op_error("permute", f"dims {dims} are not a permutation of 0..{self.ndim - 1} "
                           f"for a tensor of shape {tuple(self.shape)}")
        perm = tuple(norm_dim(d, self.ndim, "permute", "dims") for d in dims)
        if perm == tuple(range(self.ndim)):
            return self
        out = M.Permute.apply(self, perm)
        out._strided = True
        return out

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        nd = self.ndim
        a = norm_dim(dim0, nd, "transpose")
        b = norm_dim(dim1, nd, "transpose")
        if nd == 0:
            return self
        perm = list(range(nd))
        perm[a], perm[b] = perm[b], perm[a]
        return self.permute(tuple(perm))

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise op_error("t", f"expects a tensor with <= 2 dimensions, got {tuple(self.shape)}")
        return self.T

    def expand(self, *shape: Any) -> Tensor:
        if not shape:
            raise op_error("expand", "missing the argument 'size'", TypeError)
        shp = shape_tuple(shape, "expand")
        nd = len(shp)
        if nd < self.ndim:
            raise op_error("expand", f"cannot expand shape {tuple(self.shape)} to {shp}: the "
                           "target has fewer dimensions")
        if builtins.any(s == -1 for s in shp[: nd - self.ndim]):
            raise op_error("expand", f"cannot expand shape {tuple(self.shape)} to {shp}: -1 is "
                           "not allowed in a new leading dimension")
        full = tuple(
            self.shape[i - (nd - self.ndim)] if s == -1 else s for i, s in enumerate(shp)
        )
        if full == self.shape:
            return self
        out = M.Expand.apply(self, full)
        out._strided = True
        return out

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    broadcast_to = expand

    def squeeze(self, dim: Any = None, *, axis: Any = None) -> Tensor:
        d = pick(dim, axis)
        if d is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = norm_axis(d, self.ndim, "squeeze") or ()
        return self.reshape(tuple(s for i, s in enumerate(self.shape)
                                  if not (i in dims and s == 1)))

    def unsqueeze(self, dim: int) -> Tensor:
        d = norm_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile the tensor (PyTorch's ``repeat``; NumPy calls it ``tile``)."""
        reps = shape_tuple(sizes, "repeat", "repeats")
        if len(reps) < self.ndim:
            raise op_error("repeat", f"number of repeat dims ({len(reps)}) can not be smaller "
                           f"than the number of tensor dims ({self.ndim})")
        x = self.reshape((1,) * (len(reps) - self.ndim) + self.shape)
        return M.Tile.apply(x, reps)

    def tile(self, *reps: Any) -> Tensor:
        r = shape_tuple(reps, "tile", "dims")
        r = (1,) * (self.ndim - len(r)) + r
        return self.repeat(*r)

    def repeat_interleave(self, repeats: int, dim: Any = None) -> Tensor:
        """Repeat each element ``repeats`` times along ``dim`` (flattened when ``dim`` is None)."""
        if isinstance(repeats, Tensor):
            if repeats.array.size != 1:
                raise op_error("repeat_interleave", "a different repeat count per element "
                               f"(repeats of shape {tuple(repeats.shape)}) is not supported; "
                               "pass one int", NotImplementedError)
            repeats = int(repeats.item())
        elif not isinstance(repeats, (_PyInt, np.integer)):
            raise op_error("repeat_interleave", f"repeats must be one int, got {repeats!r}",
                           NotImplementedError if isinstance(repeats, (list, tuple)) else TypeError)
        if repeats < 0:
            raise op_error("repeat_interleave", f"repeats must be non-negative, got {repeats}")
        if dim is None:
            return M.RepeatInterleave.apply(self.flatten(), int(repeats), 0)
        return M.RepeatInterleave.apply(self, int(repeats), norm_dim(dim, self.ndim,
                                                                     "repeat_interleave"))

    def flip(self, *dims: Any) -> Tensor:
        ax = norm_axis(shape_tuple(dims, "flip", "dims"), self.ndim, "flip", "dims")
        return M.Flip.apply(self, ax)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple:
        if self.ndim == 0:
            raise op_error("split", "expects at least a 1-dimensional tensor", RuntimeError)
        d = norm_dim(dim, self.ndim, "split")
        n = self.shape[d]
        if not isinstance(split_size_or_sections, (list, tuple)):
            s = dim_int(split_size_or_sections, "split", "split_size_or_sections")
            if s < 0 or (s == 0 and n):
                raise op_error("split", f"split_size must be positive, got {s}")
            sizes = [s] * (n // s) + ([n % s] if n % s else []) if s else [0]
        else:
            sizes = [dim_int(v, "split", "split_size_or_sections") for v in split_size_or_sections]
            if builtins.any(v < 0 for v in sizes):
                raise op_error("split", f"sizes {sizes} must not be negative")
            if not sizes and n == 0:
                return ()  # no sections of an empty dim: no pieces (as PyTorch)
            if builtins.sum(sizes) != n:
                raise op_error("split", f"sizes {sizes} do not add up to {n} (dim {d} of shape "
                               f"{tuple(self.shape)})")
        if not sizes:
            sizes = [0]
        out = M.Split.apply(self, tuple(sizes), d)
        out = out if isinstance(out, tuple) else (out,)
        for o in out:
            o._version = self._version  # the pieces are views of self's memory
            o._strided = True
        return out

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        if self.ndim == 0:
            raise op_error("chunk", "expects at least a 1-dimensional tensor", RuntimeError)
        d = norm_dim(dim, self.ndim, "chunk")
        chunks = dim_int(chunks, "chunk", "chunks")
        if chunks <= 0:
            raise op_error("chunk", f"number of chunks must be positive, got {chunks}")
        n = self.shape[d]
        if n == 0:  # an empty dim: `chunks` empty pieces (as PyTorch)
            return self.split([0] * chunks, d)
        s = max(-(-n // chunks), 1)
        return self.split(s, d)

    def unbind(self, dim: int = 0) -> tuple:
        if self.ndim == 0:
            raise op_error("unbind", "dimension specified as 0 but tensor has no dimensions",
                           IndexError)
        d = norm_dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def pad_nd(self, pad_width: Sequence[tuple], value: float = 0.0) -> Tensor:
        """NumPy-style constant padding: ``((before, after), ...)`` per axis."""
        pw = tuple((int(a), int(b)) for a, b in pad_width)
        if builtins.all(a == 0 and b == 0 for a, b in pw):
            return self
        if builtins.any(a < 0 or b < 0 for a, b in pw):
            raise op_error("pad", f"negative padding {pw} is not supported")
        return M.Pad.apply(self, pw, value)

    def unfold_windows(self, window: Sequence[int], stride: Sequence[int] | None = None,
                       dilation: Sequence[int] | None = None) -> Tensor:
        """Sliding windows over the last ``len(window)`` axes, as a view:
        ``(..., H, W) -> (..., OH, OW, kh, kw)``."""
        k = len(window)
        if self.ndim < k:
            raise op_error("sliding_window", f"window {tuple(window)} needs at least {k} "
                           f"dimensions, got shape {tuple(self.shape)}")
        stride = tuple(stride) if stride is not None else (1,) * k
        dilation = tuple(dilation) if dilation is not None else (1,) * k
        if len(stride) != k or len(dilation) != k or builtins.any(
                int(v) <= 0 for v in tuple(window) + stride + dilation):
            raise op_error("sliding_window", f"window {tuple(window)}, stride {stride} and "
                           f"dilation {dilation} must be {k} positive integers each")
        return M.SlidingWindow.apply(self, tuple(window), stride, dilation)

    def gather(self, dim: int, index: Any) -> Tensor:
        """``out[i][j] = self[index[i][j]][j]`` for ``dim=0`` (as ``torch.gather``)."""
        idx = index.array if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype.kind not in "iu":
            raise op_error("gather", f"index must be an integer tensor, got {idx.dtype}",
                           TypeError)
        if idx.ndim <= 1 and self.ndim <= 1 and idx.ndim != self.ndim:
            # PyTorch treats 0-d and 1-element 1-d alike here: gather as 1-d, keep index's shape
            return self.reshape(-1).gather(dim, index.reshape(-1) if isinstance(index, Tensor)
                                           else idx.reshape(-1)).reshape(idx.shape)
        if idx.ndim != self.ndim and idx.size:
            raise op_error("gather", f"index has {idx.ndim} dims but input has {self.ndim} "
                           f"(shapes {tuple(idx.shape)} and {tuple(self.shape)})")
        d = norm_dim(dim, self.ndim, "gather")
        check_index(idx, self.shape[d] if self.ndim else 1, "gather", d)
        if idx.ndim != self.ndim or not idx.size:  # an empty index: an empty result (as torch)
            return self.reshape(-1)[:0].reshape(idx.shape)
        if self.ndim == 0:  # (index 0 checked above)
            return self.reshape(1)[Tensor._make(idx.reshape(1), False)].reshape(())
        x = self
        if idx.shape != self.shape and builtins.any(
                i != d and idx.shape[i] != self.shape[i] for i in range(self.ndim)):
            # PyTorch allows an index smaller than the input in the other dims: use the
            # leading part of the input there
            if builtins.any(i != d and idx.shape[i] > self.shape[i] for i in range(self.ndim)):
                raise op_error("gather", f"index of shape {tuple(idx.shape)} is larger than the "
                               f"input {tuple(self.shape)} outside dim {d}", IndexError)
            x = self[tuple(slice(None) if i == d else slice(0, idx.shape[i])
                           for i in range(self.ndim))]
        # the index tensor itself (not its array), so that gg.capture reads it on every call
        return I.TakeAlong.apply(x, index if isinstance(index, Tensor) else idx, d)

    # ---- selections written with the ops above (their gradients come from those ops) ----
    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """``length`` elements of ``dim`` from ``start`` (a view-like slice)."""
        d = norm_dim(dim, self.ndim, "narrow")
        n = self.shape[d]
        start = start + n if start < 0 else start
        if not (0 <= start <= n and 0 <= length <= n - start):
            raise op_error("narrow", f"start {start} and length {length} do not fit dim {d} "
                           f"of size {n} (shape {tuple(self.shape)})", IndexError)
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The entries ``index`` (1-D integers) of ``dim``; repeated indices add up their
        gradients (``x[..., index, ...]``)."""
        d = norm_dim(dim, builtins.max(self.ndim, 1), "index_select")
        idx = index.array if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype.kind not in "iu" or idx.ndim > 1:
            raise op_error("index_select", f"index must be a 1-D integer tensor, got "
                           f"{idx.dtype} of shape {tuple(idx.shape)}", TypeError)
        check_index(idx, self.shape[d] if self.ndim else 1, "index_select", d)
        if self.ndim == 0 and idx.size != 1:
            raise op_error("index_select", f"the index into a 0-d tensor must hold one value, "
                           f"got {idx.size}", IndexError)
        # the index as a tensor: gg.capture then reads it anew on every replay
        it = (index if isinstance(index, Tensor) else Tensor._make(idx, False)).reshape(-1)
        if self.ndim == 0:  # a 0-d result, as PyTorch
            return self.reshape(1)[it].reshape(())
        return self[(slice(None),) * d + (it,)]

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        """Shift elements along ``dims`` by ``shifts``, wrapping around (``np.roll``);
        without ``dims`` the flattened tensor is rolled and reshaped back."""
        if dims is None:
            if not isinstance(shifts, _PyInt):
                raise op_error("roll", "without dims, shifts must be one int", TypeError)
            return self.reshape(-1).roll(shifts, 0).reshape(self.shape)
        sh = (shifts,) if isinstance(shifts, _PyInt) else tuple(shifts)
        ds = (dims,) if isinstance(dims, _PyInt) else tuple(dims)
        if len(sh) != len(ds):
            raise op_error("roll", f"shifts {sh} and dims {ds} must have the same length")
        out = self
        for k, d in zip(sh, ds):
            d = norm_dim(d, self.ndim, "roll")
            n = self.shape[d]
            k = k % n if n else 0
            if k:
                pre = (slice(None),) * d
                out = cat([out[pre + (slice(n - k, n),)], out[pre + (slice(0, n - k),)]], d)
        return out

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The diagonal ``x[..., i, i + offset]`` of dims ``dim1``/``dim2``, as the last
        dim (as PyTorch)."""
        d1, d2 = norm_dim(dim1, self.ndim, "diagonal"), norm_dim(dim2, self.ndim, "diagonal")
        if d1 == d2:
            raise op_error("diagonal", f"dim1 and dim2 must differ, got {dim1} and {dim2}")
        rest = [i for i in range(self.ndim) if i not in (d1, d2)]
        x = self.permute(rest + [d1, d2])
        n1, n2 = x.shape[-2], x.shape[-1]
        i = np.arange(builtins.max(0, builtins.min(n1 + builtins.min(offset, 0),
                                                  n2 - builtins.max(offset, 0))))
        r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
        r.flags.writeable = c.flags.writeable = False  # shape constants (gg.capture keeps them)
        return x[(Ellipsis, r, c)]

    def trace(self) -> Tensor:
        """Sum of the main diagonal of a matrix."""
        if self.ndim != 2:
            raise op_error("trace", f"expects a matrix, got shape {tuple(self.shape)}")
        return self.diagonal().sum()

    def diag(self, diagonal: int = 0) -> Tensor:
        """1-D: the square matrix with this vector on diagonal ``diagonal``; 2-D: that
        diagonal of the matrix."""
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise op_error("diag", f"expects a vector or a matrix, got shape {tuple(self.shape)}")
        m, k = self.shape[0], builtins.abs(diagonal)
        eye = np.eye(m, dtype=self.dtype)
        eye.flags.writeable = False  # a shape constant (gg.capture keeps it)
        square = self.unsqueeze(1) * eye  # gradient: the diagonal of g
        return square.pad_nd(((0, k), (k, 0)) if diagonal >= 0 else ((k, 0), (0, k)))

    def scatter_add(self, dim: int, index: Any, src: Tensor) -> Tensor:
        """``out = self`` plus ``src`` added at ``index`` along ``dim`` (out of place;
        repeated indices add up). Gradients: ``self`` gets ``g``, ``src`` gets
        ``gather(g, dim, index)``."""
        d = norm_dim(dim, self.ndim, "scatter_add")
        idx = index.array if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype.kind not in "iu" or idx.shape != tuple(src.shape):
            raise op_error("scatter_add", f"index must be an integer tensor of src's shape "
                           f"{tuple(src.shape)}, got {idx.dtype} {tuple(idx.shape)}", TypeError)
        check_index(idx, self.shape[d] if self.ndim else 1, "scatter_add", d)
        it = index if isinstance(index, Tensor) else Tensor._make(idx, False)
        return self + I.ScatterAlong.apply(self._other_t(src), it, d, tuple(self.shape))

    def index_add(self, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
        """``out = self`` with ``alpha·source`` slices added at ``index`` along ``dim``."""
        d = norm_dim(dim, self.ndim, "index_add")
        it = index if isinstance(index, Tensor) else Tensor(np.asarray(index))
        if it.dtype.kind not in "iu" or it.ndim != 1:
            raise op_error("index_add", f"index must be a 1-D integer tensor, got {it.dtype} "
                           f"of shape {tuple(it.shape)}", TypeError)
        check_index(it.array, self.shape[d] if self.ndim else 1, "index_add", d)
        src = self._other_t(source) * alpha if alpha != 1 else self._other_t(source)
        shape = [1] * src.ndim
        shape[d] = -1
        return self.scatter_add(d, it.reshape(tuple(shape)).expand(tuple(src.shape)), src)

    def take_along_dim(self, indices: Any, dim: int) -> Tensor:
        return self.gather(dim, indices)

    def __getitem__(self, idx: Any) -> Tensor:
        key = I.normalize_index(idx, Tensor)
        if STATE.recorder is not None and builtins.any(
                isinstance(i, Tensor) for i in (idx if isinstance(idx, tuple) else (idx,))):
            # gg.capture is recording: the index tensors go in as inputs of the op, so that
            # a replay indexes with the new ones (the key keeps a marker in their place)
            ts = idx if isinstance(idx, tuple) else (idx,)
            marked = tuple(I.INDEX_ARG if isinstance(i, Tensor) else k for i, k in zip(ts, key))
            out = I.GetItem.apply(self, marked[0] if len(marked) == 1 else marked,
                                  *[i for i in ts if isinstance(i, Tensor)])
        else:
            out = I.GetItem.apply(self, key[0] if len(key) == 1 else key)
        if not builtins.any(is_array(k) for k in key):
            out._version = self._version  # basic indexing gives a view of self's memory
            out._strided = True
        return out

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.shape[0]):
            yield self[i]

    # ------------------------------------------------------------------ linear algebra
    def inverse(self) -> Tensor:
        """``A⁻¹`` of a matrix or a batch ``(..., n, n)``; ``dA = −A⁻ᵀ·G·A⁻ᵀ``."""
        return L.Inv.apply(self._f())

    def det(self) -> Tensor:
        """Determinant of ``(..., n, n)``; gradient ``g·adj(A)ᵀ`` (exact also when singular)."""
        return L.Det.apply(self._f())

    def slogdet(self) -> Any:
        """``(sign, logabsdet)`` of ``(..., n, n)``: ``log|det A|`` without overflow."""
        sign, logabs = L.SLogDet.apply(self._f())
        return SignLogAbsDet(sign.detach(), logabs)

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def mm(self, other: Tensor) -> Tensor:
        if self.ndim != 2 or other.ndim != 2:
            raise op_error("mm", f"expects 2-D tensors, got {tuple(self.shape)} and "
                           f"{tuple(other.shape)}")
        return self @ other

    def bmm(self, other: Tensor) -> Tensor:
        if self.ndim != 3 or other.ndim != 3:
            raise op_error("bmm", f"expects 3-D tensors, got {tuple(self.shape)} and "
                           f"{tuple(other.shape)}")
        return self @ other

    def dot(self, other: Tensor) -> Tensor:
        if self.ndim != 1 or other.ndim != 1:
            raise op_error("dot", f"expects 1-D tensors, got {tuple(self.shape)} and "
                           f"{tuple(other.shape)}")
        return self @ other

    def outer(self, other: Tensor) -> Tensor:
        return self.reshape(-1, 1) * other.reshape(1, -1)


_OPERAND_HELPERS = frozenset({"_other", "_operands", "_other_t", "_cast_in", "_cmp", "_check_operand"})


def _not_operand(o: Any) -> builtins.bool:
    """True for what cannot be an operand of a tensor op (str, None, containers, objects)."""
    if isinstance(o, (Tensor, np.generic) + _SCALARS) or is_array(o):
        return False
    if o is None or isinstance(o, (str, bytes, list, tuple, dict, set)):
        return True
    try:
        return np.asarray(o).dtype.kind not in "biufc"
    except Exception:
        return True


def _no_bool_sub(a: Tensor, o: Any) -> None:
    """PyTorch refuses ``-`` when either side is bool (a tensor or a Python bool)."""
    if a.array.dtype.kind == "b" or isinstance(o, (_PyBool, np.bool_)) or (
            isinstance(o, Tensor) and o.array.dtype.kind == "b"):
        raise op_error("sub", "subtraction with a bool tensor is not supported; use ^ "
                       "(logical_xor) instead, or ~ (logical_not) to invert a mask", RuntimeError)


def _no_dtype(t: Tensor, op: str, kinds: str, what: str) -> None:
    """PyTorch refuses some dtypes in some ops (``floor`` of bool, ``softmax`` of int64,
    ``var`` of int64...): a TypeError naming the op and the dtype."""
    if t.array.dtype.kind in kinds:
        raise op_error(op, f"not supported for {t.dtype} tensors ({what})", TypeError)


def _check_operand(o: Any) -> None:
    """Refuse an operand that is not a Tensor, a number or an array (a str, None, a list:
    PyTorch's operators refuse them too) with a TypeError naming the op (the method that
    called the operand helpers, e.g. ``add`` for ``__add__``)."""
    if not _not_operand(o):
        return
    import sys

    f = sys._getframe(1)
    while f is not None and f.f_code.co_name in _OPERAND_HELPERS:
        f = f.f_back
    op = f.f_code.co_name.strip("_") if f is not None else "operator"
    raise op_error(op, f"unsupported operand of type {type(o).__name__} ({o!r:.40}); expected a "
                   "Tensor, a Python number or a NumPy array", TypeError)


def _correction(unbiased: Any, correction: Any, ddof: Any) -> Any:
    if correction is not None:
        return correction
    if ddof is not None:
        return ddof
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


for _cls in (M.Reshape, M.Permute, M.Expand, M.SlidingWindow):
    _cls._is_view = True


# ---------------------------------------------------------------------- construction
def _needs_copy(arr: Any, shape: tuple) -> builtins.bool:
    """Whether ``arr`` can only take ``shape`` by copying (PyTorch's ``view`` refuses then)."""
    try:
        xp_of(arr).reshape(arr, shape, copy=False)
    except ValueError as e:
        if "copy" in str(e) or "Incompatible" in str(e):
            return True
        return False  # a wrong size: reshape gives the error message
    except TypeError:  # NumPy < 2.1 has no copy= in reshape
        v = arr.view()
        try:
            v.shape = shape
        except AttributeError:
            return True
        except ValueError:
            return False
    return False


def _to_array(data: Any, dtype: Any) -> Any:
    """Convert ``data`` to an array: Python floats -> default float, ints -> int64."""
    if isinstance(data, Tensor):
        arr = data.array.copy()
        return arr if dtype is None else arr.astype(_dt.to_dtype(dtype))
    if is_array(data):
        return data.astype(_dt.to_dtype(dtype)) if dtype is not None else data
    if dtype is not None:
        d = _dt.to_dtype(dtype)
        if isinstance(data, (list, tuple)) and builtins.any(isinstance(x, Tensor)
                                                            for x in _flat(data)):
            data = [x.array if isinstance(x, Tensor) else x for x in data]
        return _np_array(data, d)
    if isinstance(data, (list, tuple)):
        data = [x.array if isinstance(x, Tensor) else x for x in data] if builtins.any(
            isinstance(x, Tensor) for x in data) else data
    arr = _np_array(data, None)
    if isinstance(data, np.generic):
        return arr
    k = arr.dtype.kind
    if k == "f":
        return arr.astype(_dt.get_default_dtype(), copy=False)
    if k in "iu":
        return arr.astype(np.int64, copy=False)
    if k == "O":
        raise TypeError(f"tensor: could not convert data of type {type(data).__name__} "
                        "(ragged nested lists?) to a numeric array")
    return arr


def _np_array(data: Any, dtype: Any) -> np.ndarray:
    try:
        return np.array(data, dtype=dtype)
    except ValueError as e:
        if "inhomogeneous" in str(e) or "sequence" in str(e):
            raise ValueError("tensor: could not convert data to an array: nested sequences "
                             f"have different lengths (ragged): {e}") from None
        raise


def _flat(x: Any) -> Iterator[Any]:
    for v in x:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def tensor(data: Any, dtype: Any = None, device: Any = None,
           requires_grad: builtins.bool = False) -> Tensor:
    """Make a tensor from data (copied): lists, scalars, NumPy arrays or tensors.

    Python floats become float32 (the default dtype), Python ints int64; NumPy arrays
    keep their dtype.
    """
    if is_array(data):
        data = data.copy()
    if device is None and get_default_device() != "cpu":
        device = get_default_device()
    return _from_data(data, dtype, requires_grad, device)


def _from_data(data: Any, dtype: Any = None, requires_grad: builtins.bool = False,
               device: Any = None) -> Tensor:
    """A tensor from data, never PyTorch's legacy size form (``_from_data(3)`` is the 0-d 3)."""
    arr = _to_array(data, dtype)
    if device is not None:
        arr = to_device(arr, normalize_device(device))
    t = Tensor._make(arr, False)
    return t.requires_grad_(True) if requires_grad else t


def as_tensor_like(x: Any, ref: Tensor) -> Tensor:
    """``x`` as a Tensor; Python scalars and float lists take ``ref``'s dtype."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind in "fiub" and not is_array(x):
        arr = arr.astype(ref.dtype)
    return Tensor._make(arr, False)


def cat(tensors: Sequence[Tensor], dim: int = 0, *, axis: Any = None) -> Tensor:
    """Concatenate along an existing axis."""
    ts = _tensor_list(tensors, "cat")
    if dim is None and axis is None:
        raise op_error("cat", "argument 'dim' must be int, not NoneType", TypeError)
    d = pick(dim if dim != 0 or axis is None else None, axis, 0)
    nd = ts[0].ndim
    if nd == 0:
        raise op_error("cat", "zero-dimensional tensors cannot be concatenated")
    d = norm_dim(d, nd, "cat")
    for i, t in enumerate(ts):
        if t.ndim != nd or t.shape[:d] + t.shape[d + 1 :] != ts[0].shape[:d] + ts[0].shape[d + 1 :]:
            raise op_error("cat", f"tensor {i} has shape {tuple(t.shape)}, which does not match "
                           f"{tuple(ts[0].shape)} except in dim {d}")
    return M.Cat.apply(d, *_same_dtype(ts))


def stack(tensors: Sequence[Tensor], dim: int = 0, *, axis: Any = None) -> Tensor:
    """Stack along a new axis."""
    ts = _tensor_list(tensors, "stack")
    if dim is None and axis is None:
        raise op_error("stack", "argument 'dim' must be int, not NoneType", TypeError)
    d = pick(dim if dim != 0 or axis is None else None, axis, 0)
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise op_error("stack", f"all tensors must have the same shape; tensor 0 has "
                           f"{tuple(ts[0].shape)}, tensor {i} has {tuple(t.shape)}")
    d = norm_dim(d, ts[0].ndim + 1, "stack")
    return M.Stack.apply(d, *_same_dtype(ts))


def _tensor_list(tensors: Any, op: str) -> list:
    """The ``tensors`` argument of cat/stack as a non-empty list of Tensors (a TypeError
    naming the op and the first element that is not one)."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise op_error(op, "argument 'tensors' must be a tuple or list of Tensors, not "
                       f"{type(tensors).__name__}", TypeError)
    ts = list(tensors)
    if not ts:
        raise op_error(op, "expected a non-empty list of tensors")
    for i, t in enumerate(ts):
        if not isinstance(t, Tensor):
            raise op_error(op, f"expected a Tensor as element {i} of 'tensors', got "
                           f"{type(t).__name__}", TypeError)
    return ts


def _same_dtype(ts: list) -> list:
    """Tensors to concatenate, cast to their common dtype (PyTorch's promotion)."""
    d0 = ts[0].dtype
    if builtins.all(t.dtype == d0 for t in ts):
        return ts
    d = d0
    for t in ts[1:]:
        d = _dt.promote_types(d, t.dtype)
    return [t if t.dtype == d else t.to(d) for t in ts]


_function._set_tensor_class(Tensor)
_engine._set_tensor_class(Tensor)
_capture_set_tensor_class(Tensor)
