"""``gg.capture``: record a function of tensors once, then replay its ops without the
per-op bookkeeping of eager autograd.

A training step runs the same ops on arrays of the same shapes every time. Eager autograd
pays, for every op of every step, for the things that let the graph change from one call
to the next: wrapping each result in a Tensor, building a node with its edges and shape
records, and walking the nodes in the backward. ``capture(fn)`` runs ``fn`` once eagerly
while it records every op it calls (the op's ``Function`` class, where each argument comes
from, which inputs need a gradient) into a :class:`Program`: a flat list of op calls that
``print`` shows. Later calls with arguments of the same shapes and dtypes *replay* it:

* forward: each op's own ``forward`` on the new arrays, in the recorded order;
* backward: each op's own ``backward``, newest first, gradients summed per array.

The same formulas run on the same arrays, so a replayed call gives the same numbers as an
eager call. The whole call is **one node** of the graph (``CapturedBackward``): its inputs
are ``fn``'s tensor arguments and the tensors ``fn`` used from outside (a model's
parameters), so ``loss.backward()`` and optimizers work unchanged::

    step = gg.capture(lambda x, y: F.cross_entropy(model(x), y))
    for x, y in loader:
        opt.zero_grad()
        loss = step(x, y)     # 1st call (and each new shape): eager + record; then replay
        loss.backward()       # runs the recorded backward formulas
        opt.step()
    print(step.program(x, y)) # the recorded program, op by op

What a replay reproduces, and what it cannot (as with ``torch.jit.trace``):

* Replayed: every glassgrad op (``Function``) ``fn`` calls, including random ones (dropout
  draws a new mask per call) and the running statistics of batch norm.
* Checked at every call, re-recording when they differ: the shapes, dtypes and
  ``requires_grad`` of the arguments and of the outside tensors, and the
  ``train()``/``eval()`` mode of every module ``fn`` called. Arguments that are not
  tensors are part of the signature (one program per value; they must be hashable).
* Refused while recording, with an error that names the problem (the value would be frozen
  at the first call): reading a tensor's value (``item()``, ``float()``, ``if t:``,
  ``numpy()``); using a tensor or a writeable array made inside ``fn`` by something other
  than a glassgrad op, or an outside tensor computed by ops that record a graph;
  in-place changes that bypass the graph; hooks on modules or on tensors made inside
  ``fn``; returning something other than tensors made by ops.
* Not seen at all: plain Python side effects (``print``, counters, changing ``.data``
  directly), which happen on the recording call only; and a name the function reads
  from outside being re-bound to another tensor: a replay reads the tensor object it
  recorded (parameters updated in place are fine). Pass tensors that change as arguments.
* Glass-box modes (``detect_anomaly``, traces and other backward observers) and
  ``no_grad`` run ``fn`` eagerly, so that every node stays visible.
* Not supported: ``create_graph=True`` through a replayed call (double backward); call
  ``fn`` itself for that.
"""

from __future__ import annotations

from typing import Any, Callable

from ..backend import is_array, np
from ..tensor import Tensor
from . import recording
from .engine import _check_grad, _fix_count
from .function import Function, _freed_message, _new_node, _resave_scalars
from .grad_mode import STATE
from .ownership import check_fresh, fresh_flags, is_one_of, sum_into


class CaptureError(RuntimeError):
    """``fn`` did something a replay could not reproduce (raised while recording)."""


class _Stale(Exception):
    """A program no longer matches the tensors it reads: record again."""


class _Op:
    """One recorded op call: ``outs = cls.forward(ctx, *args, **kwargs)``."""

    __slots__ = ("cls", "template", "tpos", "kwargs", "outs", "needs", "in_meta", "out_meta",
                 "multi", "in_slots", "back", "scope", "check_shape", "check_grads")

    def __init__(self, cls: type, template: list, tpos: tuple, kwargs: dict, outs: tuple,
                 needs: tuple, in_meta: tuple, out_meta: tuple, multi: bool, scope: Any) -> None:
        self.cls, self.template, self.tpos, self.kwargs = cls, template, tpos, kwargs
        self.outs, self.needs, self.in_meta, self.out_meta = outs, needs, in_meta, out_meta
        self.multi, self.scope = multi, scope
        slots = dict(tpos)
        # where each input's gradient goes (-1: no gradient needed)
        self.in_slots = tuple(slots[k] if k in slots and n else -1 for k, n in enumerate(needs))
        self.back = any(needs)
        # an integer or boolean tensor input (indices, a mask) may decide the output shape
        self.check_shape = any(m is not None and m[1].kind not in "fc" for m in in_meta)
        # glassgrad's own ops are tested to return gradients of their inputs' shapes; a
        # user's Function is checked on every replay, as the engine checks it
        self.check_grads = not cls.__module__.startswith("glassgrad.")


class Program:
    """What :func:`capture` recorded for one signature of the arguments.

    Slots are numbered arrays: the function's tensor arguments, the outside tensors it read
    (``free``) and the outputs of its ops, in the order they appeared.
    """

    def __init__(self) -> None:
        self.ops: list[_Op] = []
        self.n_slots = 0
        self.arg_slots: list[int] = []      # slot of each tensor argument of fn
        self.free: list[Any] = []           # outside tensors read by fn (parameters, ...)
        self.free_slots: list[int] = []
        self.in_slots: list[int] = []      # arg_slots + free_slots: the node's inputs
        self.free_rec: list[list] = []     # per free tensor: [array, shape, dtype, requires_grad]
        self.free_edges: tuple = ()        # the node's edges to the free tensors (leaves)
        self.saved_in: list[int] = []      # inputs / outputs whose in-place changes matter
        self.saved_out: list[int] = []
        self.out_meta: tuple = ()
        self.any_grad = False
        self.out_slots: tuple = ()          # slots of fn's outputs
        self.out_grad: tuple = ()           # did each output require grad when recorded
        self.out_struct: Any = None         # "one", "tuple" or "list"
        self.modules: list[tuple] = []      # (module, training) of every module called
        self.in_meta: tuple = ()            # (shape, dtype) of args + free tensors
        self.needs: tuple = ()              # requires_grad of args + free tensors
        self.back_ops: list[_Op] = []
        self.slot_meta: dict[int, tuple] = {}
        self.slot_src: dict[int, str] = {}

    # ---- replay ----------------------------------------------------------------------------
    def run(self, tensors: list) -> Any:
        """Replay on ``tensors`` (fn's tensor arguments, whose shapes, dtypes and
        ``requires_grad`` the caller matched): check what else the program read, run its
        ops, and return the outputs attached to one ``Captured`` node."""
        for m, training in self.modules:
            if m.training is not training:
                raise _Stale
        datas = [t.array for t in tensors]
        edges = [((t, 0) if t.grad_fn is None else (t.grad_fn, t._out_idx)) if t.requires_grad
                 else None for t in tensors]
        for t, rec in zip(self.free, self.free_rec):
            d = t.array
            if d is not rec[0]:  # a new array (e.g. loaded weights): same shape and dtype?
                if d.shape != rec[1] or d.dtype != rec[2]:
                    raise _Stale
                rec[0] = d
            if t.requires_grad is not rec[3] or t.grad_fn is not None:
                raise _Stale  # (an outside tensor that is now the output of ops: refused)
            datas.append(d)
        if not self.any_grad:
            ctx = object.__new__(Captured)
            res = [Tensor._make(o, False) for o in Captured.forward(ctx, self, datas)]
        else:
            # the node (its inputs: arguments, then free), made before the replay: the ops
            # inside make no nodes, so its creation number still follows its inputs'
            ctx = _new_node(Captured, tuple(edges) + self.free_edges, self.in_meta,
                            self.out_meta)
            ctx.needs_input_grad = self.needs
            outs = Captured.forward(ctx, self, datas)
            res = []
            for j, o in enumerate(outs):
                diff = self.out_grad[j]
                t = Tensor._make(o, diff)
                if diff:
                    t.grad_fn = ctx
                    t._out_idx = j
                res.append(t)
            # versions of the inputs and outputs the ops saved: backward checks them, as
            # the eager ops' saved tensors are checked
            ins = tensors + self.free
            ctx.vers = [(c, c[0]) for c in [ins[k]._version for k in self.saved_in]
                        + [res[k]._version for k in self.saved_out]]
        if self.out_struct == "one":
            return res[0]
        return res if self.out_struct == "list" else tuple(res)

    # ---- reading it ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ops)

    def __str__(self) -> str:
        def meta(s: int) -> str:
            shape, dtype = self.slot_meta[s]
            return f"{dtype} {tuple(shape)}"

        lines = [f"captured program: {len(self.arg_slots)} tensor argument(s), "
                 f"{len(self.free)} outside tensor(s), {len(self.ops)} op(s), "
                 f"{len(self.back_ops)} with a backward"]
        for s in self.arg_slots:
            lines.append(f"  %{s:<3} = {self.slot_src[s]:<28} {meta(s)}")
        for s in self.free_slots:
            lines.append(f"  %{s:<3} = {self.slot_src[s]:<28} {meta(s)}")
        for op in self.ops:
            tslots = dict(op.tpos)
            args = ", ".join(f"%{tslots[k]}" if k in tslots else _const_str(v)
                             for k, v in enumerate(op.template))
            if op.kwargs:
                args += ", " + ", ".join(f"{k}={_const_str(v)}" for k, v in op.kwargs.items())
            outs = ", ".join(f"%{s}" for s in op.outs)
            grads = " ".join(f"d%{s}" for s in op.in_slots if s >= 0)
            where = f"  [{type(op.scope).__name__}]" if op.scope is not None else ""
            lines.append(f"  {outs:<5} = {op.cls.__name__}({args}) -> "
                         + ", ".join(meta(s) for s in op.outs)
                         + (f"   backward -> {grads}" if grads else "") + where)
        lines.append("  return " + ", ".join(f"%{s}" for s in self.out_slots))
        return "\n".join(lines)


def _const_str(v: Any) -> str:
    if is_array(v):
        return f"array{tuple(v.shape)}"
    r = repr(v)
    return r if len(r) <= 24 else r[:21] + "..."


class Captured(Function):
    """The node of one replayed call: ``forward`` runs the program's ops, ``backward`` their
    backward formulas in reverse. Inputs: the program, then fn's tensor arguments and the
    outside tensors, in the order of ``Program.arg_slots + Program.free_slots``."""

    @staticmethod
    def forward(ctx, prog, arrays):
        """Run the recorded ops on ``arrays`` (the node's inputs): each op's own forward
        with a fresh ctx; returns the outputs' arrays."""
        vals: list = [None] * prog.n_slots
        for s, a in zip(prog.in_slots, arrays):
            vals[s] = a
        ctxs = []
        for op in prog.ops:
            args = op.template.copy()
            for k, s in op.tpos:
                args[k] = vals[s]
            cls = op.cls
            c = object.__new__(cls)
            c._saved = None
            c._saved_meta = None
            c._freed = False
            c.create_graph = False
            c.needs_input_grad = op.needs
            c._in_meta = op.in_meta
            out = cls.forward(c, *args, **op.kwargs) if op.kwargs else cls.forward(c, *args)
            if op.multi:
                outs = tuple(o if is_array(o) else np.asarray(o) for o in out)
                if c._saved and any(o is not r for o, r in zip(outs, out)):
                    _resave_scalars(c, out, outs)
                for s, o in zip(op.outs, outs):
                    vals[s] = o
            else:
                if not isinstance(out, np.ndarray) and not is_array(out):
                    raw, out = out, np.asarray(out)
                    if c._saved:
                        _resave_scalars(c, (raw,), (out,))
                vals[op.outs[0]] = outs = out
            if op.check_shape:  # indices or masks among the inputs: shape may follow data
                _check_shapes(op, (outs,) if not op.multi else outs)
            if op.back:
                ctxs.append(c)
        ctx.prog = prog
        ctx.ctxs = ctxs
        return [vals[s] for s in prog.out_slots]

    @staticmethod
    def backward(ctx, *gouts):
        """VJP of the whole program: each recorded op's own ``backward`` in reverse order,
        gradients summed per slot (like the engine's buffers); returns one gradient per
        tensor argument and outside tensor."""
        if ctx.create_graph:
            raise RuntimeError(
                "capture: double backward (create_graph=True) through a replayed call is not "
                "supported; call the function itself (not the captured one) for that")
        if ctx._freed:
            raise RuntimeError(_freed_message(ctx))
        for cell, v in ctx.vers:
            if cell[0] != v:
                raise RuntimeError(
                    f"capture: a tensor the replayed ops saved for backward (an argument, an "
                    f"outside tensor or an output) was modified in place after the call "
                    f"(version {v} then, {cell[0]} now); as in eager mode, use an out-of-place "
                    "op or .clone() before modifying it")
        prog = ctx.prog
        # per slot: the gradient summed so far, and whether it is an array this backward
        # owns (may add into in place, may hand to the engine as fresh) — the engine's rule
        gs: list = [None] * prog.n_slots
        owned = [False] * prog.n_slots
        for s, g in zip(prog.out_slots, gouts):
            if g is not None:
                if gs[s] is None:
                    gs[s] = g
                else:
                    gs[s] = gs[s] + g
                    owned[s] = True
        check = STATE.check_ownership
        for op, c in zip(reversed(prog.back_ops), reversed(ctx.ctxs)):
            if op.multi:
                grads = [gs[s] for s in op.outs]
                if all(g is None for g in grads):
                    continue
                grads = [np.zeros(m[0], m[1]) if g is None else g
                         for g, m in zip(grads, op.out_meta)]
                for s in op.outs:
                    gs[s] = None
            else:
                s = op.outs[0]
                g = gs[s]
                if g is None:
                    continue
                gs[s] = None
                grads = (g,)
            res = op.cls.backward(c, *grads)
            n = len(op.needs)
            if type(res) is not tuple or len(res) != n:
                res = _fix_count(op.cls, res, n)
            if check:
                check_fresh(c, grads, res)
            for s, r, meta, own in zip(op.in_slots, res, op.in_meta, fresh_flags(c.fresh_grads, n)):
                if s < 0 or r is None:
                    continue
                if own and is_one_of(r, grads):
                    own = False  # the upstream gradient passed through
                if op.check_grads and (r.shape != meta[0] or r.dtype != meta[1]):
                    checked = _check_grad(op.cls, r, meta, False)
                    if checked is not r:  # cast to the input's dtype: a new array
                        r, own = checked, True
                old = gs[s]
                if old is None:
                    gs[s] = r
                    owned[s] = own
                else:
                    gs[s] = sum_into(old, owned[s], r)
                    owned[s] = True
        # one gradient per tensor argument and outside tensor; the ones this backward owns
        # are declared fresh for this call (each slot's array at most once)
        res = []
        fresh = []
        for s in prog.in_slots:
            res.append(gs[s])
            fresh.append(owned[s])
            owned[s] = False
        ctx.fresh_grads = tuple(fresh)
        return tuple(res)


def _check_shapes(op: _Op, outs: tuple) -> None:
    for o, (shape, _dt) in zip(outs, op.out_meta):
        if o.shape != shape:
            raise CaptureError(
                f"capture: {op.cls.__name__} returned shape {tuple(o.shape)} on replay but "
                f"{tuple(shape)} when recorded: its output shape depends on the values of its "
                "inputs (an index or a mask), which a replay cannot follow. Call the function "
                "without capture.")


# ---------------------------------------------------------------------------- recording
_READERS = ("item", "tolist", "numpy", "__float__", "__int__", "__index__", "__bool__",
            "__array__")


class _Recorder:
    """Active while ``fn`` runs eagerly for the first time; ``Function.apply`` hands every
    op call to :meth:`apply`, which runs it and records it."""

    def __init__(self, args: tuple) -> None:
        self.busy = False
        self.prog = Program()
        self.slot: dict[int, int] = {}       # id(array) -> slot
        self.keep: list = []                 # arrays and tensors kept alive (stable ids)
        self.made: set[int] = set()          # ids of tensors created while recording
        self.results: list = []              # the op results (for the hook check)
        self.modules: dict[int, tuple] = {}
        self.saved: set = set()              # slots of arrays the ops saved for backward
        self.args = [a for a in args if isinstance(a, Tensor)]  # fn's tensor arguments
        for k, a in enumerate(args):
            if isinstance(a, Tensor):
                self.prog.arg_slots.append(self._new_slot(a.array, f"argument {k}"))

    def _new_slot(self, arr: Any, src: str) -> int:
        p = self.prog
        s = p.n_slots
        p.n_slots += 1
        self.slot[id(arr)] = s
        self.keep.append(arr)
        p.slot_meta[s] = (arr.shape, arr.dtype)
        p.slot_src[s] = src
        return s

    def constant(self, t: Any) -> None:
        """``t`` was made inside the function from no tensor data (``gg.zeros``, ``arange``,
        ``gg.tensor(2.0)``, ...): the same values on every call, so ops may use it."""
        self.made.discard(id(t))

    def module(self, m: Any) -> None:
        self.modules.setdefault(id(m), (m, m.training))

    def module_hooks(self, m: Any) -> None:
        raise CaptureError(
            f"capture: {type(m).__name__} has forward or backward hooks, which a replay "
            "would not run; remove them or call the function without capture")

    def inplace(self, t: Any, op: str, graph: bool) -> None:
        """An in-place op on ``t`` while recording. Done through the graph (out of place,
        ``t`` re-pointed at the result) on a tensor made by an op: recorded like any op.
        Anything else would not happen on a replay: refused."""
        s = self.slot.get(id(t.array))
        outside = s is None or s in self.prog.arg_slots or s in self.prog.free_slots
        if graph and not outside:
            return
        what = "an argument or a tensor from outside the function" if outside else "this tensor"
        raise CaptureError(
            f"capture: in-place {op} on a tensor of shape {tuple(t.shape)} while recording "
            f"changes {what} without an op a replay could repeat (in-place ops on tensors "
            "that do not require grad write into the array directly). Use the out-of-place "
            "form (y = x + 1 instead of x += 1) inside a captured function.")

    def _slot_of(self, t: Any, cls: type, k: int) -> int:
        s = self.slot.get(id(t.array))
        if s is not None:
            return s
        if id(t) in self.made:
            raise CaptureError(
                f"capture: input {k} of {cls.__name__} (shape {tuple(t.shape)} {t.dtype}) was "
                "made inside the captured function by something other than a glassgrad op "
                "(gg.tensor(...), a comparison such as x > 0, a conversion from NumPy): a "
                "replay would reuse its first value. Make it outside and pass it as an "
                "argument, or compute it with ops that record (e.g. gg.where, relu).")
        if t.grad_fn is not None:
            raise CaptureError(
                f"capture: input {k} of {cls.__name__} (shape {tuple(t.shape)}) was computed "
                "outside the captured function by ops that record a graph; a replay would keep "
                "reading that tensor and backpropagating into its old graph. Pass it as an "
                "argument of the function.")
        self.prog.free.append(t)
        name = getattr(t, "_name", None)
        s = self._new_slot(t.array, f"outside tensor{' ' + name if name else ''}"
                                   f"{' (requires grad)' if t.requires_grad else ''}")
        self.prog.free_slots.append(s)
        self.keep.append(t)
        return s

    def apply(self, cls: type, args: tuple, kwargs: dict) -> Any:
        template = list(args)
        tpos = []
        in_meta = []
        for k, a in enumerate(args):
            if isinstance(a, Tensor):
                tpos.append((k, self._slot_of(a, cls, k)))
                template[k] = None
                in_meta.append((a.array.shape, a.array.dtype))
            else:
                _check_const(cls, k, a)
                in_meta.append(None)
        for name, v in kwargs.items():
            _check_const(cls, name, v)
        self.busy = True
        try:
            res = cls.apply(*args, **kwargs)
        finally:
            self.busy = False
        multi = type(res) is tuple
        outs = res if multi else (res,)
        node = next((t.grad_fn for t in outs if t.grad_fn is not None), None)
        needs = node.needs_input_grad if node is not None else (False,) * len(args)
        out_slots = tuple(self._new_slot(t.array, "") for t in outs)
        for m in (node._saved_meta or ()) if node is not None else ():
            # what the op saved for backward: its in-place check must survive the replay
            if m is not None:
                self.saved.add(self.slot.get(id(m[3].array)) if m[0] == "in" else out_slots[m[3]])
        self.results.extend(outs)
        op = _Op(cls, template, tuple(tpos), dict(kwargs), out_slots, tuple(needs),
                 tuple(in_meta), tuple((t.array.shape, t.array.dtype) for t in outs), multi,
                 STATE.scope)
        self.prog.ops.append(op)
        return res

    def finish(self, out: Any) -> Program:
        p = self.prog
        if isinstance(out, Tensor):
            outs, p.out_struct = [out], "one"
        elif isinstance(out, (tuple, list)) and out and all(isinstance(t, Tensor) for t in out):
            outs, p.out_struct = list(out), "list" if isinstance(out, list) else "tuple"
        else:
            raise CaptureError(
                f"capture: the function returned {type(out).__name__}; a captured function "
                "must return a Tensor or a tuple/list of Tensors (compute Python values from "
                "them outside)")
        op_slots = {s for op in p.ops for s in op.outs}
        slots = []
        for k, t in enumerate(outs):
            s = self.slot.get(id(t.array))
            if s not in op_slots:
                raise CaptureError(
                    f"capture: output {k} (shape {tuple(t.shape)}) is not the result of a "
                    "glassgrad op inside the function (an argument or an outside tensor "
                    "returned as is, or an array wrapped inside); return op results only")
            slots.append(s)
        for t in self.results:
            gf = t.grad_fn
            if gf is not None and (gf._hooks or gf._retained):
                raise CaptureError(
                    f"capture: a hook or retain_grad() was set on a tensor made inside the "
                    f"function (output of {type(gf).__name__}); a replay does not run it. Set "
                    "hooks on the arguments, the parameters or the returned tensors instead")
        p.out_slots = tuple(slots)
        p.out_grad = tuple(bool(t.requires_grad) for t in outs)
        p.modules = list(self.modules.values())
        p.back_ops = [op for op in p.ops if op.back]
        p.in_slots = p.arg_slots + p.free_slots
        p.in_meta = tuple(p.slot_meta[s] for s in p.in_slots)
        p.needs = tuple(bool(t.requires_grad) for t in self.args + p.free)
        p.any_grad = any(p.needs)
        p.out_meta = tuple(p.slot_meta[s] for s in p.out_slots)
        p.free_rec = [[t.array, t.array.shape, t.array.dtype, t.requires_grad] for t in p.free]
        p.free_edges = tuple((t, 0) if t.requires_grad else None for t in p.free)
        p.saved_in = [k for k, s in enumerate(p.in_slots) if s in self.saved]
        p.saved_out = [k for k, s in enumerate(p.out_slots) if s in self.saved]
        return p


def _check_const(cls: type, k: Any, v: Any) -> None:
    """Arguments that are not tensors are recorded as constants: refuse those that can
    change (writeable arrays, also inside tuples such as an index key: their values would
    be frozen) or hide tensors."""
    if isinstance(v, (list, tuple)):
        if any(isinstance(e, Tensor) for e in v):
            raise CaptureError(f"capture: argument {k} of {cls.__name__} is a "
                               f"{type(v).__name__} holding tensors; capture records tensors "
                               "passed directly")
        for e in v:
            _check_const(cls, k, e)
        return
    if isinstance(v, np.ndarray) and v.flags.writeable and v.ndim:
        raise CaptureError(
            f"capture: argument {k} of {cls.__name__} is a writeable array "
            f"{tuple(v.shape)} {v.dtype} (or holds one, e.g. a tensor index converted to an "
            "array): a replay would reuse the values it has now. Pass it as a tensor "
            "argument of the op, or call the function without capture.")
    if isinstance(v, Tensor):
        raise CaptureError(f"capture: keyword argument {k} of {cls.__name__} is a tensor; "
                           "capture records tensors passed as positional arguments")


def _refuse_reader(name: str, orig: Callable) -> Callable:
    def reader(self: Any, *a: Any, **kw: Any) -> Any:
        rec = recording.active()
        if rec is not None and not rec.busy:
            raise CaptureError(
                f"capture: Tensor.{name}() read a tensor's value (shape {tuple(self.shape)}) "
                "while recording; the value (and any branch taken on it) would be frozen at "
                "the first call. Read values outside the captured function (e.g. from what it "
                "returns).")
        return orig(self, *a, **kw)

    return reader


def _trace(fn: Callable, args: tuple) -> tuple:
    """Run ``fn(*args)`` eagerly while recording it: ``(result, program)``."""
    rec = _Recorder(args)
    made = rec.made
    keep = rec.keep
    orig_make = Tensor.__dict__["_make"]
    orig_init = Tensor.__init__
    orig_readers = {n: Tensor.__dict__[n] for n in _READERS}

    def make(cls: Any, arr: Any, requires_grad: bool) -> Any:
        t = orig_make.__func__(cls, arr, requires_grad)
        made.add(id(t))
        keep.append(t)
        return t

    def init(self: Any, *a: Any, **kw: Any) -> None:
        orig_init(self, *a, **kw)
        data = a[0] if a else kw.get("data")
        if isinstance(data, Tensor) or is_array(data):  # from Python numbers: a constant
            made.add(id(self))
        keep.append(self)

    recording.install(rec)
    Tensor._make = classmethod(make)
    Tensor.__init__ = init
    for n, f in orig_readers.items():
        setattr(Tensor, n, _refuse_reader(n, f))
    try:
        out = fn(*args)
    finally:
        recording.uninstall()
        Tensor._make = orig_make
        Tensor.__init__ = orig_init
        for n, f in orig_readers.items():
            setattr(Tensor, n, f)
    return out, rec.finish(out)


def _key(args: tuple) -> tuple:
    key = []
    for k, a in enumerate(args):
        if isinstance(a, Tensor):
            d = a.array
            key.append((d.shape, d.dtype, a.requires_grad))
        elif isinstance(a, (list, tuple)) and any(isinstance(e, Tensor) for e in a):
            raise CaptureError(f"capture: argument {k} is a {type(a).__name__} holding tensors; "
                               "pass tensors as separate arguments")
        else:
            try:
                hash(a)
            except TypeError:
                raise CaptureError(
                    f"capture: argument {k} ({type(a).__name__}) is neither a tensor nor "
                    "hashable; arguments that are not tensors select a program by value") from None
            key.append((type(a), a))
    return tuple(key)


class CapturedFunction:
    """``fn`` with record-once, replay-after calls (see the module docstring).

    Parameters
    ----------
    fn : callable
        A function of tensors (and hashable constants) returning a Tensor or a tuple/list
        of Tensors.
    max_programs : int
        How many argument signatures to keep a program for (the oldest is dropped).
    """

    def __init__(self, fn: Callable, max_programs: int = 8) -> None:
        self.fn = fn
        self.max_programs = max_programs
        self._programs: dict[tuple, Program] = {}
        self.records = 0  # how many times fn was recorded (for tests and curiosity)

    def __call__(self, *args: Any) -> Any:
        st = STATE
        if not st.grad_enabled or st.observers or st.anomaly or recording.active() is not None:
            return self.fn(*args)
        key = _key(args)
        prog = self._programs.get(key)
        if prog is not None:
            try:
                return prog.run([a for a in args if isinstance(a, Tensor)])
            except _Stale:
                pass
        out, prog = _trace(self.fn, args)
        self.records += 1
        self._programs.pop(key, None)
        if len(self._programs) >= self.max_programs:
            self._programs.pop(next(iter(self._programs)))
        self._programs[key] = prog
        return out

    def program(self, *args: Any) -> Program | None:
        """The program recorded for arguments like ``args`` (None if not recorded yet)."""
        return self._programs.get(_key(args))

    def reset(self) -> None:
        """Forget every program (e.g. after replacing a module's parameters)."""
        self._programs.clear()

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return f"<captured {name}: {len(self._programs)} program(s)>"


def capture(fn: Callable | None = None, *, max_programs: int = 8) -> Any:
    """Record ``fn`` once per argument signature and replay it after (``gg.capture``).

    Usable as ``gg.capture(fn)`` or as a decorator (``@gg.capture``). See
    :mod:`glassgrad.autograd.capture` for what a replay reproduces and what it refuses.

    Returns
    -------
    CapturedFunction
    """
    if fn is None:
        return lambda f: CapturedFunction(f, max_programs)
    return CapturedFunction(fn, max_programs)
