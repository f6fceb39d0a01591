"""The user-facing :class:`Tensor`: an array plus what autograd needs.

A Tensor holds ``data`` (a NumPy array, or CuPy on a GPU), ``requires_grad``,
``grad`` and ``grad_fn`` (the node of the graph that made it). Every math method
dispatches to an op in :mod:`glassgrad.ops`, where its forward and backward are
written side by side.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable, Sequence

from . import dtypes as _dt
from .autograd import engine as _engine
from .autograd import function as _function
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
from .ops import movement as M
from .ops._util import norm_dim, op_error, pick, shape_tuple
from .ops.movement import Cast, Clone, ToDevice
from .tensor_methods._common import (
    _SCALARS,
    _cast_method,
    _check_operand,
    _needs_copy,
    _PyFloat,
    _PyInt,
    _to_array,
)
from .tensor_methods.arithmetic import ArithmeticMethods
from .tensor_methods.extra import TensorExtras
from .tensor_methods.extra2 import TensorExtras2, TensorExtras2b
from .tensor_methods.extra3 import TensorExtras3
from .tensor_methods.indexing import IndexingMethods
from .tensor_methods.linalg import LinalgMethods
from .tensor_methods.movement import MovementMethods
from .tensor_methods.pointwise import PointwiseMethods
from .tensor_methods.reductions import ReductionMethods
from .tensor_methods.sparse import SparseMethods

__all__ = ["Tensor", "tensor"]



_SIZES: Any = object()  # Tensor() called without data (PyTorch's legacy size form)


class Tensor(ArithmeticMethods, PointwiseMethods, ReductionMethods, MovementMethods, IndexingMethods,
             LinalgMethods, TensorExtras, TensorExtras2, TensorExtras2b, TensorExtras3, SparseMethods):
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
        self._init_leaf(arr, requires_grad)

    def _init_leaf(self, arr: Any, requires_grad: bool) -> None:
        """Make this new tensor a leaf over ``arr`` (also for ``nn.Parameter``, ``nn.Buffer``)."""
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
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``;
        keywords ``dtype``, ``device``, ``non_blocking`` (no effect), ``copy`` (a new tensor
        even when nothing changes) and ``memory_format`` (accepted; layouts are NumPy's)."""
        copy = kwargs.pop("copy", False)
        dtype, device = parse_to_args(args, kwargs)
        if kwargs:
            raise TypeError(f"Tensor.to: unexpected keyword argument(s) {sorted(kwargs)}; expected "
                            f"dtype, device, non_blocking, copy or memory_format")
        out = self
        if dtype is not None:
            d = _dt.to_dtype(dtype)
            if d != self.dtype:
                out = Cast.apply(out, d)
        if device is not None:
            dev = normalize_device(device)
            if dev != out.device:
                out = ToDevice.apply(out, dev)
        return self.clone() if copy and out is self else out

    float = _cast_method("float", _dt.float32, "Tensor")
    double = _cast_method("double", _dt.float64, "Tensor")
    half = _cast_method("half", _dt.float16, "Tensor")
    long = _cast_method("long", _dt.int64, "Tensor")
    int = _cast_method("int", _dt.int32, "Tensor")
    bool = _cast_method("bool", _dt.bool, "Tensor")

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Tensor:
        return self.to("cuda" if device is None else device if isinstance(device, str) else f"cuda:{device}")

    def clone(self) -> Tensor:
        """A copy that stays in the graph (its gradient flows back to ``self``)."""
        return Clone.apply(self)

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
        from ._html import tensor_html

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














for _cls in (M.Reshape, M.Permute, M.Expand, M.SlidingWindow):
    _cls._is_view = True










def parse_to_args(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """The ``(dtype, device)`` that ``to(*args, **kwargs)`` asks for (None where not given), for
    ``Tensor.to`` and ``Module.to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
    ``to(other_tensor)`` (its dtype and device), keywords ``dtype=``/``device=``. Pops those
    keywords, ``non_blocking`` and ``memory_format`` (checked, no effect: see
    :class:`glassgrad.memory_format`) from ``kwargs``; what is left there is the caller's to
    check."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    _dt.check_memory_format("to", kwargs.pop("memory_format", None))
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif is_device_arg(a):
            device = a
        else:
            dtype = a
    return dtype, device


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
