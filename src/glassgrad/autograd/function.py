"""``Function``: one differentiable op = a forward and its hand-written backward.

Every built-in op of glassgrad is a subclass of :class:`Function`, and so is every op
a user writes. The pattern is PyTorch's ``torch.autograd.Function``::

    class Cube(gg.Function):
        @staticmethod
        def forward(ctx, x):            # x is the raw array (NumPy) of the input tensor
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):        # grad: dL/d(output), same shape as the output
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2    # dL/dx = grad * 3x^2  (the vector-Jacobian product)

    y = Cube.apply(t)

Differences from PyTorch, chosen so that the forward is plain NumPy you can read:

* ``forward`` receives the *arrays* of its tensor arguments (other arguments as given)
  and returns an array or a tuple of arrays. ``apply`` wraps them into Tensors.
* ``backward`` receives one gradient per output and returns one gradient per
  positional argument of ``forward`` (``None`` for non-tensors or when not needed).
  In ordinary backward these are arrays. Under ``create_graph=True`` (double backward)
  they are Tensors, and so are ``ctx.saved_tensors``: a backward written with
  operators and the helpers of :mod:`glassgrad.ops._dual` is itself differentiable.
  Arrays kept as plain ``ctx`` attributes are treated as constants.

* An op whose backward returns newly allocated arrays says so with the class attribute
  ``fresh_grads = True`` (see :attr:`Function.fresh_grads`): the engine may then keep
  those arrays as its own gradient buffers instead of copying them.

The node object that ends up as ``tensor.grad_fn`` *is* the ``ctx``: one object per
call, holding what the backward needs and the edges to the inputs' nodes.
:meth:`Function.apply` reads top to bottom: gather the arguments, run ``forward``, and
(when recording) fill in the node (:func:`_init_node`), attach the outputs to it
(:func:`_attach_outputs`) and note the saved arrays' versions.
Walkthrough: ``docs/engine.md``.
"""

from __future__ import annotations

import traceback
from typing import Any

from .. import backend
from ..backend import is_array, np
from .grad_mode import STATE

_Tensor: Any = None  # set by glassgrad.tensor to avoid an import cycle


def _set_tensor_class(cls: Any) -> None:
    global _Tensor
    _Tensor = cls


class Function:
    """Base class for differentiable operations (see the module docstring)."""

    __slots__ = (
        "_edges",
        "_in_meta",
        "_saved",
        "_saved_meta",
        "_out_meta",
        "_out_cache",
        "needs_input_grad",
        "create_graph",
        "_hooks",
        "_retained",
        "_freed",
        "_seq",
        "_scope",
        "_stack",
        "_buf",
        "_owned",
        "__dict__",
        "__weakref__",
    )

    _is_view = False  # outputs share the input's version counter (reshape, permute, ...)

    #: Whether the gradient arrays ``backward`` returns are *fresh*: each one either newly
    #: allocated by this backward (sharing no memory with the upstream gradients, the
    #: op's inputs, outputs or saved arrays, or another gradient it returns) or one of the
    #: upstream gradient objects passed through unchanged (``return g``). The engine then
    #: owns the new arrays: it adds into them in place and makes one a leaf's ``.grad``
    #: without a copy. ``False`` (the default) is always correct and costs a copy where a
    #: gradient becomes ``.grad``; a wrong ``True`` silently corrupts gradients, so every
    #: declaration is verified by ``glassgrad.autograd.set_debug_ownership(True)``. A
    #: backward may also set ``ctx.fresh_grads`` to a tuple of bools, one per input.
    fresh_grads: bool | tuple = False

    # ---- the two methods a subclass writes -------------------------------------------
    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement backward(ctx, *grads)")

    # ---- what forward may call on ctx -----------------------------------------------------
    def save_for_backward(self, *arrays: Any) -> None:
        """Keep input or output arrays for the backward (checked for in-place changes)."""
        self._saved = arrays

    def mark_non_differentiable(self, *arrays: Any) -> None:  # pragma: no cover - API parity
        """Accepted for PyTorch parity; integer/bool outputs never require grad anyway."""

    @property
    def saved_tensors(self) -> tuple:
        """What ``save_for_backward`` kept: arrays, or Tensors under ``create_graph``."""
        if self._freed:
            raise RuntimeError(_freed_message(self))
        meta = self._saved_meta
        if meta is None:
            return self._saved or ()
        for m in meta:
            if m is not None and m[1][0] != m[2]:
                raise RuntimeError(
                    f"{self.name()}: one of the tensors saved for backward (shape "
                    f"{tuple(self._saved[meta.index(m)].shape)}) was modified in place after "
                    f"it was used (version {m[2]} at save, {m[1][0]} now). Use an out-of-place "
                    "op (x = x + 1 instead of x += 1) or .clone() before modifying it."
                )
        if not self.create_graph:
            return self._saved
        out = []
        for arr, m in zip(self._saved, meta):
            if m is None:
                out.append(arr)
            elif m[0] == "in":
                out.append(m[3])
            else:
                out.append(self._output_tensor(m[3]))
        return tuple(out)

    def _output_tensor(self, j: int) -> Any:
        """The j-th output as a Tensor attached to this node (for double backward)."""
        if self._out_cache is None:
            self._out_cache = {}
        t = self._out_cache.get(j)
        if t is None:
            arr = self._saved_outputs[j]
            t = _Tensor._make(arr, True)
            t.grad_fn = self
            t._out_idx = j
            self._out_cache[j] = t
        return t

    # ---- introspection ---------------------------------------------------------------------
    @classmethod
    def name(cls) -> str:
        """Readable node name, e.g. ``MatMulBackward``."""
        return cls.__name__ + "Backward"

    @property
    def next_functions(self) -> tuple:
        """``((node_or_leaf_tensor, output_index) | None, ...)``, one per positional input."""
        return self._edges

    @property
    def input_shapes(self) -> tuple:
        return tuple(m[0] if m is not None else None for m in self._in_meta)

    def input_shape(self, i: int) -> tuple:
        """The shape of tensor input ``i`` at the forward (``input_shapes[i]``, without
        building the tuple: backward formulas call it on every step)."""
        return self._in_meta[i][0]

    def input_dtype(self, i: int) -> Any:
        """The dtype of tensor input ``i`` at the forward."""
        return self._in_meta[i][1]

    @property
    def output_shapes(self) -> tuple:
        return tuple(m[0] for m in self._out_meta)

    @property
    def scope(self) -> Any:
        """Name of the nn.Module whose forward created this node (or None)."""
        return self._scope

    def register_hook(self, fn: Any) -> None:  # pragma: no cover - API parity helper
        raise NotImplementedError("register hooks on tensors: tensor.register_hook(fn)")

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    # ---- the machinery -----------------------------------------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on the arrays of ``args`` and, when any tensor input requires
        grad (and grad mode is on), record this call as a node of the graph."""
        st = STATE
        if st.batching is not None:  # inside vmap: batched arguments go to a batching rule
            res = st.batching(cls, args, kwargs)
            if res is not NotImplemented:
                return res
        if st.recorder is not None and not st.recorder.busy:  # gg.capture is tracing
            return st.recorder.apply(cls, args, kwargs)
        Tensor = _Tensor
        # 1. One pass over the arguments: the arrays for forward and, per argument, what
        #    the node needs if it is recorded: the edge to the node (or leaf tensor) that
        #    made the input and the input's (shape, dtype). An input needs a gradient
        #    exactly when it has an edge.
        arrays = []
        edges = []
        in_meta = []
        needs = []
        record = False
        for a in args:
            if isinstance(a, Tensor):
                d = a.array
                arrays.append(d)
                in_meta.append((d.shape, d.dtype))
                if a.requires_grad:
                    gf = a.grad_fn
                    edges.append((a, 0) if gf is None else (gf, a._out_idx))
                    needs.append(True)
                    record = True
                    continue
            else:
                arrays.append(a)
                in_meta.append(None)
            edges.append(None)
            needs.append(False)
        record = record and st.grad_enabled
        if backend._cupy is not None:  # pragma: no cover - only when CuPy was loaded
            _check_devices(cls, args, arrays)
        # 2. forward, on arrays; ``ctx`` is this call's node if it is recorded
        ctx = object.__new__(cls)
        ctx._saved = None
        ctx._freed = False
        ctx.create_graph = False
        ctx.needs_input_grad = tuple(needs) if record else _no_grad_flags(len(args))
        out = _run_forward(cls, ctx, args, arrays, kwargs)
        multi = type(out) is tuple
        outs = out if multi else (out,)
        if st.anomaly:
            from .anomaly import check_forward

            check_forward(cls, args, outs)
        # 3. the outputs as Tensors: untracked, or attached to the node (its fields filled
        #    in, the saved arrays' versions noted for the in-place check)
        if not record:
            results = [Tensor._make(o, False) for o in outs] if multi else [Tensor._make(out, False)]
        else:
            out_meta = tuple([(o.shape, o.dtype) for o in outs]) if multi else ((out.shape, out.dtype),)
            _init_node(ctx, tuple(edges), tuple(in_meta), out_meta)
            results = _attach_outputs(ctx, outs)
            if ctx._saved:
                _note_saved_versions(ctx, args, arrays, outs, results)
            else:
                ctx._saved_meta = None
            if st.check_ownership:  # what the ownership check compares gradients against
                ctx._checked_arrays = (arrays, outs)
        if cls._is_view and isinstance(args[0], Tensor):
            results[0]._version = args[0]._version  # a view: in-place changes show in the base
        return tuple(results) if multi else results[0]

    @classmethod
    def forward_arrays(cls, *arrays: Any, **kwargs: Any) -> Any:
        """``forward`` on arrays, recording nothing: the array (or tuple of arrays) that
        :meth:`apply` wraps in untracked Tensors when no input requires grad. For code that
        works on arrays throughout where no graph can be wanted (a layer's inference path
        under ``no_grad``); the same checks and errors as :meth:`apply`."""
        ctx = object.__new__(cls)
        ctx._saved = None
        ctx._freed = False
        ctx.create_graph = False
        ctx.needs_input_grad = _no_grad_flags(len(arrays))
        return _run_forward(cls, ctx, arrays, arrays, kwargs)


def _run_forward(cls: type, ctx: Any, args: tuple, arrays: list, kwargs: dict) -> Any:
    """``cls.forward`` on the arrays: an array, or a tuple of arrays (NumPy scalars made
    0-d arrays); invalid inputs are reported naming the op."""
    try:
        out = cls.forward(ctx, *arrays, **kwargs)
    except (ValueError, TypeError, IndexError) as e:
        if getattr(e, "_glassgrad", False):
            raise
        raise _op_error(cls, args, e) from None
    if type(out) is tuple:
        outs = tuple(o if is_array(o) else np.asarray(o) for o in out)
        if ctx._saved and any(o is not r for o, r in zip(outs, out)):
            _resave_scalars(ctx, out, outs)
        return outs
    if not isinstance(out, np.ndarray) and not is_array(out):
        raw, out = out, np.asarray(out)
        if ctx._saved:
            _resave_scalars(ctx, (raw,), (out,))
    return out


def _init_node(nd: Any, edges: tuple, in_meta: tuple, out_meta: tuple) -> None:
    """Fill in the fields of a graph node that the engine reads: its edges and the
    (shape, dtype) of its inputs and outputs, no hooks yet, an empty gradient buffer,
    the next creation number (the engine runs nodes newest first), the nn.Module being
    called and, in anomaly mode, where it was created. Used by :meth:`Function.apply`
    and :func:`_new_node`."""
    st = STATE
    nd._edges = edges
    nd._in_meta = in_meta
    nd._out_meta = out_meta
    nd._hooks = nd._retained = nd._out_cache = nd._buf = nd._owned = None
    st.seq += 1
    nd._seq = st.seq
    nd._scope = st.scope
    nd._stack = traceback.extract_stack()[:-3] if st.anomaly else None


def _attach_outputs(ctx: Any, outs: tuple) -> list:
    """The outputs as Tensors whose ``grad_fn`` is ``ctx`` (integer and bool outputs get
    no gradient, so they stay untracked)."""
    make = _Tensor._make
    results = []
    j = 0
    for o in outs:
        diff = o.dtype.kind in "fc"
        t = make(o, diff)
        if diff:
            t.grad_fn = ctx
            t._out_idx = j
        results.append(t)
        j += 1
    return results


def _note_saved_versions(ctx: Any, args: tuple, arrays: list, outs: tuple, results: list) -> None:
    """For the in-place check of ``saved_tensors``, per saved array: (kind, version cell,
    version at save, the input tensor or the output index). Most saved arrays are inputs;
    an intermediate array gets None (not checked)."""
    Tensor = _Tensor
    meta = []
    need_outs = False
    for s in ctx._saved:
        k = 0
        for arr in arrays:
            if arr is s and isinstance(args[k], Tensor):
                v = args[k]._version
                meta.append(("in", v, v[0], args[k]))
                break
            k += 1
        else:
            m = _saved_output_meta(s, outs, results)
            meta.append(m)
            if m is not None:
                need_outs = True
    if need_outs:
        ctx._saved_outputs = outs
    ctx._saved_meta = tuple(meta)


_NO_GRAD_FLAGS: dict[int, tuple] = {}


def _no_grad_flags(n: int) -> tuple:
    f = _NO_GRAD_FLAGS.get(n)
    if f is None:
        f = _NO_GRAD_FLAGS[n] = (False,) * n
    return f


def _new_node(cls: type, edges: tuple, in_meta: tuple, out_meta: tuple) -> Any:
    """A graph node of ``cls`` made outside :meth:`Function.apply`, with nothing saved:
    the engine's non-differentiable gradients and gg.capture's replay node."""
    nd = object.__new__(cls)
    nd._saved = nd._saved_meta = None
    nd._freed = False
    nd.create_graph = False
    _init_node(nd, edges, in_meta, out_meta)
    return nd


def _resave_scalars(ctx: Any, raw: tuple, outs: tuple) -> None:
    """NumPy returns scalars, not 0-d arrays, from ufuncs on 0-d inputs; a forward that
    saved such an output must see it as the output array (so that double backward and
    the in-place check know it is the output)."""
    ctx._saved = tuple(
        next((o for r, o in zip(raw, outs) if r is s and o is not r), s) for s in ctx._saved
    )


def _saved_output_meta(s: Any, outs: tuple, results: Any) -> Any:
    """In-place-check entry of a saved array that is not an input: an output (kind
    ``"out"``, with the output's version cell) or an intermediate (None, not checked)."""
    for j, o in enumerate(outs):
        if o is s:
            v = results[j]._version
            return ("out", v, v[0], j)
    return None


def _freed_message(node: Function) -> str:
    return (
        f"{node.name()}: trying to backward through the graph a second time (or to read its "
        "saved tensors after they were freed). Pass retain_graph=True to the first "
        ".backward() or autograd.grad() if you need to backward twice."
    )


def _shape_str(a: Any) -> str:
    if isinstance(a, _Tensor):
        return f"{tuple(a.shape)} {a.dtype}"
    if is_array(a):
        return f"array{tuple(a.shape)} {a.dtype}"
    return repr(a) if not isinstance(a, (list, tuple)) or len(a) < 8 else f"{type(a).__name__}"


def _op_error(cls: type, args: tuple, e: Exception) -> Exception:
    op = cls.__name__.lower()
    shapes = ", ".join(_shape_str(a) for a in args)
    # the builtin class (a NumPy subclass such as AxisError may need other arguments)
    kind = next(k for k in (IndexError, TypeError, ValueError) if isinstance(e, k))
    err = kind(f"{op}: invalid inputs ({shapes}): {e}")
    err._glassgrad = True  # type: ignore[attr-defined]
    return err


def _check_devices(cls: type, args: tuple, arrays: list) -> None:
    kinds = {type(arr) for a, arr in zip(args, arrays) if isinstance(a, _Tensor)}
    if len(kinds) > 1:
        devs = ", ".join(f"{tuple(a.shape)} on {a.device}" for a in args if isinstance(a, _Tensor))
        raise RuntimeError(
            f"{cls.__name__.lower()}: expected all tensors on the same device, got {devs}. "
            "Move them with .to(device)."
        )


class NonDifferentiableBackward(Function):
    """Stands for the gradient of a backward that cannot be differentiated again."""

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise RuntimeError(
            f"double backward through {ctx.origin} is not supported: its backward returned "
            "arrays while create_graph=True. Write its backward with glassgrad ops (operators "
            "and glassgrad.ops._dual helpers) to make it twice differentiable."
        )


def once_differentiable(fn: Any) -> Any:
    """Decorator for a ``backward`` that works on arrays only (like PyTorch's): under
    ``create_graph=True`` it still runs, but differentiating its result raises."""
    import functools

    @functools.wraps(fn)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        if not ctx.create_graph:
            return fn(ctx, *grads)
        arr_grads = tuple(g.array if isinstance(g, _Tensor) else g for g in grads)
        was = ctx.create_graph
        ctx.create_graph = False
        try:
            res = fn(ctx, *arr_grads)
        finally:
            ctx.create_graph = was
        return res

    return wrapper
