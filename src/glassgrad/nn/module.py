"""``Module``: the base class of every layer and model (PyTorch's ``nn.Module`` API).

A module owns *parameters* (learnable :class:`~glassgrad.nn.Parameter` tensors),
*buffers* (state that is not learned, e.g. BatchNorm's running mean) and *child
modules*, all registered automatically by attribute assignment::

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 256)     # a child module
            self.fc2 = nn.Linear(256, 10)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))

Calling the module (``model(x)``) runs ``forward`` and, while it runs, tells autograd
which module is active (``STATE.scope``), so that every graph node knows the layer that
made it (``node.scope``; used by ``gg.trace``). Hooks see every layer's inputs, outputs
and, with :meth:`Module.register_full_backward_hook`, the gradients flowing through it:
the per-layer ``δ`` of manual backprop.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

from .. import dtypes as _dt
from ..autograd import recording
from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from ..backend import normalize_device, np, to_device
from ..tensor import Tensor, parse_to_args
from .parameter import Buffer, Parameter

__all__ = ["Module", "RemovableHandle"]

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    """Returned by ``register_*_hook``: call :meth:`remove` to unregister the hook."""

    _next_id = itertools.count()

    def __init__(self, *hook_dicts: dict) -> None:
        self.id = next(RemovableHandle._next_id)
        self._dicts = hook_dicts

    def remove(self) -> None:
        for d in self._dicts:
            d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + ln for ln in lines[1:])


class Module:
    """Base class for all neural-network modules (layers, losses, whole models).

    Subclasses call ``super().__init__()`` first, assign parameters / sub-modules as
    attributes, and implement :meth:`forward`. Call the module, not ``forward``: the
    call runs hooks and records the module scope for traces.
    """

    training: bool
    _is_full_backward_hook: bool | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments; "
                            "Module.__init__ takes none")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_has_hooks"] = False

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._has_hooks:
            return self._call_with_hooks(args, kwargs)
        st = STATE
        recording.module(self)  # a recorded replay checks the train/eval mode
        prev = st.scope
        st.scope = self
        try:
            return self.forward(*args, **kwargs)
        finally:
            st.scope = prev

    def _update_has_hooks(self) -> None:
        self.__dict__["_has_hooks"] = bool(self._forward_pre_hooks or self._forward_hooks
                                           or self._backward_hooks or self._backward_pre_hooks)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        recording.module_hooks(self)  # a recorder refuses what it cannot replay
        for hook in list(self._forward_pre_hooks.values()):
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        bw = bool(self._backward_hooks or self._backward_pre_hooks) and STATE.grad_enabled
        state = None
        if bw:
            state = _BackwardHookState(self)
            args = _wrap_inputs(args, state)
        st = STATE
        prev = st.scope
        st.scope = self
        try:
            out = self.forward(*args, **kwargs)
        finally:
            st.scope = prev
        for hook in list(self._forward_hooks.values()):
            r = hook(self, args, out)
            if r is not None:
                out = r
        if bw:
            out = _wrap_outputs(out, state)
        return out

    # ------------------------------------------------------------------ registration
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``, a declared-but-absent parameter such as a
        disabled bias) under ``name``."""
        _check_entry(self, name, "parameter", param, Parameter, "glassgrad.nn.Parameter")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"cannot assign non-leaf Tensor to parameter '{name}'; make it a "
                             "leaf with .detach() first")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: module state that is not a parameter (running statistics, ...).

        Parameters
        ----------
        name : str
        tensor : Tensor or None
        persistent : bool
            Whether the buffer is part of ``state_dict()``.
        """
        _check_entry(self, name, "buffer", tensor, Tensor, "Tensor")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (also what ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name(self, name, "module")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _remove_from(self, name, "_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(glassgrad.nn.Parameter or None expected)")
            params[name] = None
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            _remove_from(self, name, "_modules")
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (glassgrad.nn.Module or None expected)")
            modules[name] = None
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer):
            _remove_from(self, name, "_buffers")
            self.register_buffer(name, value, value.persistent)
            return
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            s = self.__dict__.get(store)
            if s is not None and name in s:
                del s[name]
                if store == "_buffers":
                    self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list:
        keys = list(object.__dir__(self))
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    # ------------------------------------------------------------------ iteration
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(qualified_name, module)`` for this module and all descendants (pre-order)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        seen: set = set()
        for mp, m in mods:
            for k, v in m.__dict__[store].items():
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in seen:
                        continue
                    seen.add(id(v))
                yield mp + ("." if mp else "") + k, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(qualified_name, parameter)`` pairs, e.g. ``('fc1.weight', Parameter)``;
        a parameter shared by several modules is listed once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All parameters (of this module and, with ``recurse``, of its descendants), each
        once, in the order of :meth:`named_parameters`."""
        seen: set = set()
        for m in (self._iter_modules() if recurse else (self,)):
            for p in m.__dict__["_parameters"].values():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield p

    def _iter_modules(self) -> list:
        """This module and its descendants, pre-order, each once (no names: fast)."""
        out = []
        seen: set = set()
        stack = [self]
        while stack:
            m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            out.append(m)
            stack.extend(c for c in reversed(m.__dict__["_modules"].values()) if c is not None)
        return out

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant at dotted path ``target`` (``''`` is this module)."""
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            sub = mod._modules.get(item)
            if sub is None:
                raise AttributeError(f"{mod._get_name()} has no submodule `{item}` "
                                     f"(looking up {target!r})")
            mod = sub
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (e.g. ``'fc1.weight'``)."""
        return self._get_entry(target, "parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target`` (e.g. ``'bn.running_mean'``)."""
        return self._get_entry(target, "buffer")

    def _get_entry(self, target: str, what: str) -> Any:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        entry = mod.__dict__["_" + what + "s"].get(name)
        if entry is None:
            raise AttributeError(f"{mod._get_name()} has no {what} `{name}`")
        return entry

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout drops, BatchNorm uses batch statistics) when ``mode``."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.__dict__["training"] = mode
        for m in self.children():
            m.train(mode)  # through the method, so that subclasses may override it
        return self

    def eval(self) -> Module:
        """Evaluation mode: same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (freeze with ``False``)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to ``None`` by default, as PyTorch)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad = p.grad.detach()
                p.grad.array[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(m)`` on every descendant (children first) and on ``self``; e.g.
        ``model.apply(init_weights)``."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype / device
    def _apply(self, fn: Callable[[Any], Any], floating_only: bool = True) -> Module:
        """Replace the array of every parameter, gradient and buffer by ``fn(array)``,
        keeping the Parameter / Tensor objects (optimizers hold references to them)."""
        for m in self.modules():
            for t in itertools.chain(m._parameters.values(), m._buffers.values()):
                if t is None or (floating_only and t.array.dtype.kind != "f"):
                    continue
                new = fn(t.array)
                if new is not t.array:
                    t.array = new
                    t._version[0] += 1
                if t.grad is not None:
                    t.grad.array = fn(t.grad.array)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(tensor)``: cast the
        floating parameters and buffers / move everything, in place; returns ``self``."""
        dtype, device = parse_to_args(args, kwargs)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        if dtype is not None:
            d = _dt.to_dtype(dtype)
            if d.kind != "f":
                raise TypeError(f"Module.to only accepts floating point dtypes, got {d}")
            self._apply(lambda a: a if a.dtype == d else a.astype(d))
        if device is not None:
            dev = normalize_device(device)
            self._apply(lambda a: to_device(a, dev), floating_only=False)
        return self

    def float(self) -> Module:
        return self.to(_dt.float32)

    def double(self) -> Module:
        return self.to(_dt.float64)

    def half(self) -> Module:
        return self.to(_dt.float16)

    def type(self, dst_type: Any) -> Module:
        return self.to(dst_type)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        return self.to("cuda" if device is None else device if isinstance(device, str) else f"cuda:{device}")

    # ------------------------------------------------------------------ state dict
    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by qualified name (``'fc1.weight'``, ...).

        Values are Tensors that *share* memory with the module (detached, like
        PyTorch; ``keep_vars=True`` returns the Parameters themselves). Copy them
        (``{k: v.clone() ...}``) to keep a snapshot while training goes on.
        """
        if destination is None:
            destination = OrderedDict()
        for k, p in self._parameters.items():
            if p is not None:
                destination[prefix + k] = p if keep_vars else p.detach()
        for k, b in self._buffers.items():
            if b is not None and k not in self._non_persistent_buffers_set:
                destination[prefix + k] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict: dict, strict: bool = True,
                        assign: bool = False) -> Any:
        """Copy values from ``state_dict`` into this module's parameters and buffers
        (in place, cast to each tensor's dtype).

        Values may be glassgrad Tensors, NumPy arrays or anything ``np.asarray`` accepts
        (e.g. the tensors of a PyTorch ``state_dict``).

        Parameters
        ----------
        state_dict : dict
        strict : bool
            Raise when keys are missing or unexpected (shape mismatches always raise).
        assign : bool
            Use the given arrays themselves instead of copying into the existing ones.

        Returns
        -------
        IncompatibleKeys
            Named tuple ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"expected a dict-like state_dict, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.array if isinstance(v, Tensor) else _as_numpy(v)
            if tuple(arr.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape "
                              f"{tuple(arr.shape)} from checkpoint, the shape in current model "
                              f"is {tuple(target.shape)}.")
                continue
            if assign:
                target.array = arr.astype(target.dtype, copy=False)
            else:
                if target.device != "cpu":
                    arr = to_device(np.asarray(arr), target.device)
                target.array[...] = arr
            target._version[0] += 1
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                               + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, args) -> None or new args`` runs before ``forward``."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, args, output) -> None or new output`` runs after ``forward``."""
        return self._add_hook(self._forward_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output) -> None or new grad_input``.

        Runs when the gradients w.r.t. the module's tensor inputs have been computed.
        ``grad_output`` holds ``dL/d(output)`` (the layer's ``δ``), ``grad_input``
        ``dL/d(input)`` for each positional tensor input (``None`` for inputs that do
        not require grad). Tuples of Tensors.
        """
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable,
                                        prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output) -> None or new grad_output`` runs when the
        gradient w.r.t. the module's output arrives, before the module's backward."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Alias of :meth:`register_full_backward_hook` (PyTorch's deprecated name)."""
        return self.register_full_backward_hook(hook)

    def _add_hook(self, store: OrderedDict, hook: Callable, prepend: bool) -> RemovableHandle:
        h = RemovableHandle(store)
        store[h.id] = hook
        if prepend:
            store.move_to_end(h.id, last=False)
        self._update_has_hooks()
        mod = self
        orig_remove = h.remove

        def remove() -> None:
            orig_remove()
            mod._update_has_hooks()

        h.remove = remove  # type: ignore[method-assign]
        return h

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (its settings)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for key, m in self._modules.items():
            child_lines.append("(" + key + "): " + _addindent(repr(m), 2))
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"

    def _repr_html_(self) -> str:
        """Jupyter view: the module tree with parameter shapes and counts."""
        from .._html import module_html

        return module_html(self)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


# ---------------------------------------------------------------------- helpers
def _check_name(mod: Module, name: str, what: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
    if "." in name or name == "":
        raise KeyError(f"{what} name can't contain \".\" and can't be empty, got {name!r}")
    if hasattr(mod, name) and name not in mod.__dict__["_" + what + "s"]:
        raise KeyError(f"attribute '{name}' already exists")


def _check_entry(mod: Module, name: str, what: str, value: Any, cls: type, cls_name: str) -> None:
    """The checks of ``register_parameter``/``register_buffer``: ``Module.__init__`` has run,
    ``name`` is valid (:func:`_check_name`) and ``value`` is None or a ``cls``."""
    if "_" + what + "s" not in mod.__dict__:
        raise AttributeError(f"cannot assign {what} before Module.__init__() call")
    _check_name(mod, name, what)
    if value is not None and not isinstance(value, cls):
        raise TypeError(f"cannot assign '{type(value).__name__}' object to {what} '{name}' "
                        f"({cls_name} or None required)")


def _remove_from(mod: Module, name: str, keep: str) -> None:
    d = mod.__dict__
    d.pop(name, None)
    for store in ("_parameters", "_buffers", "_modules"):
        if store != keep:
            s = d.get(store)
            if s is not None:
                s.pop(name, None)
    if keep != "_buffers" and "_non_persistent_buffers_set" in d:
        d["_non_persistent_buffers_set"].discard(name)


def _as_numpy(v: Any) -> Any:
    if hasattr(v, "detach") and hasattr(v, "cpu") and hasattr(v, "numpy"):  # a torch tensor
        return v.detach().cpu().numpy()
    return np.asarray(v)


# ---------------------------------------------------------------------- backward hooks
class _BackwardHookState:
    """What the two identity nodes around a hooked module share during one backward."""

    __slots__ = ("module", "n_in", "grad_output", "in_mask")

    def __init__(self, module: Module) -> None:
        self.module = module
        self.n_in = 0
        self.grad_output: tuple | None = None
        self.in_mask: tuple = ()


def _as_t(g: Any) -> Any:
    if g is None or isinstance(g, Tensor):
        return g
    return Tensor._make(g, False)


def _unwrap(g: Any, create_graph: bool) -> Any:
    if g is None or create_graph:
        return g
    return g.array if isinstance(g, Tensor) else g


def _identity_node(x: str, note: str) -> tuple[dict, str]:
    """``formulas`` and ``derivation`` of an identity node on a hooked module's tensors
    ``x_i`` (its backward runs the hooks: ``note``)."""
    return ({"inputs": f"state, {x}_i*", "grads": (None, f"d{x}_i = dZ_i (identity; {note})"),
             "output": "Z_i"},
            "docs/derivations/elementwise.md#the-vector-jacobian-product-vjp")


class _HookIdentity:
    """Mixin of the two identity nodes around a hooked module (a ``Function`` with it first
    in its bases): ``forward`` passes the tensors on and keeps the
    :class:`_BackwardHookState`; the node's own ``backward`` runs the hooks."""

    @staticmethod
    def forward(ctx, state, *xs):
        ctx.state = state
        return tuple(xs)


class _ModuleInputsHook(_HookIdentity, Function):
    """Identity on a hooked module's inputs; its backward sees ``dL/d(inputs)`` and runs
    the module's full backward hooks."""
    formulas, derivation = _identity_node("X", "runs the module's backward hooks")

    @staticmethod
    def backward(ctx, *grads):
        gin = _call_full_hooks(ctx.state, grads, ctx.create_graph)
        return (None,) + tuple(gin)


class _ModuleOutputsHook(_HookIdentity, Function):
    """Identity on a hooked module's outputs; its backward sees ``dL/d(outputs)``."""
    formulas, derivation = _identity_node("Y", "records dL/d(outputs) for the hooks")

    @staticmethod
    def backward(ctx, *grads):
        st: _BackwardHookState = ctx.state
        m = st.module
        gout = tuple(_as_t(g) for g in grads)
        for hook in list(m._backward_pre_hooks.values()):
            r = hook(m, gout)
            if r is not None:
                gout = tuple(r) if isinstance(r, (tuple, list)) else (r,)
        st.grad_output = gout
        if st.n_in == 0 and m._backward_hooks:
            _call_full_hooks(st, (), ctx.create_graph)
        return (None,) + tuple(_unwrap(g, ctx.create_graph) for g in gout)


def _call_full_hooks(st: _BackwardHookState, grads: tuple, create_graph: bool) -> tuple:
    m = st.module
    it = iter(grads)
    gin = tuple(_as_t(next(it)) if need else None for need in st.in_mask)
    for hook in list(m._backward_hooks.values()):
        r = hook(m, gin, st.grad_output)
        if r is not None:
            gin = tuple(r) if isinstance(r, (tuple, list)) else (r,)
    return tuple(_unwrap(g, create_graph) for g, need in zip(gin, st.in_mask) if need)


def _through_node(node: type, state: _BackwardHookState, items: Any) -> list | None:
    """``items`` as a list, its Tensors that require grad replaced by the outputs of the
    identity node ``node`` applied to them; None when there are none."""
    idx = [i for i, a in enumerate(items) if isinstance(a, Tensor) and a.requires_grad]
    if not idx:
        return None
    res = list(items)
    for i, w in zip(idx, node.apply(state, *[items[i] for i in idx])):
        res[i] = w
    return res


def _wrap_inputs(args: tuple, state: _BackwardHookState) -> tuple:
    state.in_mask = tuple(a.requires_grad for a in args if isinstance(a, Tensor))
    state.n_in = sum(state.in_mask)
    wrapped = _through_node(_ModuleInputsHook, state, args)
    return args if wrapped is None else tuple(wrapped)


def _wrap_outputs(out: Any, state: _BackwardHookState) -> Any:
    if isinstance(out, Tensor):
        return _ModuleOutputsHook.apply(state, out)[0] if out.requires_grad else out
    if isinstance(out, (tuple, list)):
        res = _through_node(_ModuleOutputsHook, state, out)
        if res is None:
            return out
        return type(out)(res) if not hasattr(out, "_fields") else type(out)(*res)
    return out
