"""``functional_call``, ``grad``, ``grad_and_value``, ``vjp``, ``jacrev``, ``jacfwd`` —
``torch.func``'s function transforms, built on glassgrad's tape autograd
(:mod:`glassgrad.autograd.functional`).

How they work: a transform replaces the arguments it differentiates with fresh tensors
that require grad, calls the function with grad mode on (recording the graph), and runs a
backward pass from the output (``engine.run_backward`` with ``capture=`` the fresh
tensors, so no ``.grad`` is touched). Composition (``jacrev(grad(f))``, ``grad(grad(f))``):
when an argument already carries a graph (an outer transform is differentiating it), the
inner transform works on a differentiable copy of it and builds its backward with
``create_graph=True``, so the outer transform can differentiate the inner result.
"""

from __future__ import annotations

from typing import Any, Callable

from ..autograd.functional import grad as _ag_grad
from ..autograd.grad_mode import enable_grad
from ..backend import np
from ..tensor import Tensor, stack
from ._batched import ACTIVE, BatchedTensor, NoBatchRule
from ._pytree import flatten


# ----------------------------------------------------------------------------- functional_call
def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = (),
                    kwargs: dict | None = None,
                    *, tie_weights: bool = True, strict: bool = False) -> Any:
    """Call ``module(*args, **kwargs)`` with some parameters/buffers replaced by the given
    tensors (a dict ``{dotted name: Tensor}``, or a tuple of such dicts); the module is
    restored afterwards. Gradients flow to the given tensors, not to the module's own.

    With ``tie_weights`` (default, as PyTorch) a tensor shared under several names is
    replaced wherever it is used. ``strict=True`` requires a value for every parameter
    and buffer.
    """
    from ..nn import Module

    if not isinstance(module, Module):
        raise TypeError(f"functional_call: module must be an nn.Module, got {type(module).__name__}")
    pb = parameter_and_buffer_dicts
    dicts = pb if isinstance(pb, (tuple, list)) else (pb,)
    given: dict = {}
    for d in dicts:
        if not isinstance(d, dict):
            raise TypeError("functional_call: parameter_and_buffer_dicts must be a dict (or a tuple of "
                            f"dicts) of name -> Tensor, got {type(d).__name__}")
        for k, v in d.items():
            if k in given:
                raise ValueError(f"functional_call: {k!r} is given more than once")
            if not isinstance(v, Tensor):
                raise TypeError(f"functional_call: the value for {k!r} must be a Tensor, got "
                                f"{type(v).__name__}")
            given[k] = v
    known = dict(module.named_parameters(remove_duplicate=False))
    known.update(dict(module.named_buffers(remove_duplicate=False)))
    unknown = [k for k in given if k not in known]
    if unknown:
        raise ValueError(f"functional_call: {type(module).__name__} has no parameter or buffer "
                         f"named {unknown}")
    if strict:
        missing = [k for k in known if k not in given]
        if missing:
            raise ValueError(f"functional_call (strict=True): no value given for {missing}")
    # what to swap: (module, slot dict, local name) -> new tensor
    by_obj = {id(known[k]): v for k, v in given.items()} if tie_weights else {}
    swaps: list = []
    for mname, m in module.named_modules(remove_duplicate=False):
        for store in (m._parameters, m._buffers):
            for local, cur in store.items():
                full = f"{mname}.{local}" if mname else local
                if full in given:
                    swaps.append((store, local, cur, given[full]))
                elif cur is not None and id(cur) in by_obj:
                    swaps.append((store, local, cur, by_obj[id(cur)]))
    for store, local, _, new in swaps:
        store[local] = new
    try:
        if not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for store, local, old, _ in reversed(swaps):
            store[local] = old


# ----------------------------------------------------------------------------- helpers
def _check_differentiable(x: Any, what: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{what}: expected Tensors to differentiate, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{what}: can only differentiate floating-point tensors, got {x.dtype}")


def _new_leaf(x: Tensor) -> tuple:
    """``(a leaf with x's values, whether an outer transform tracks x)``."""
    if x.requires_grad:
        with enable_grad():
            return x.clone(), True      # a new node: the inner gradient stays differentiable
    return Tensor._make(x.array, True), False


def _track(x: Any, what: str) -> tuple:
    """``(tensor the function sees, whether an outer transform tracks x)``."""
    if type(x) is BatchedTensor:
        raise NoBatchRule(f"{what} of a batched tensor")
    _check_differentiable(x, what)
    return _new_leaf(x)


def _track_batched(level: int, size: int) -> Callable:
    """:func:`_track` inside a batched ``vmap`` run at ``level`` over ``size`` samples (see
    :func:`_batched_grad_and_value`)."""

    def track(x: Any, what: str) -> tuple:
        _check_differentiable(x, what)
        if type(x) is BatchedTensor:
            if x._level != level:
                raise NoBatchRule(f"{what} of a tensor batched by another vmap")
            p = x._phys
        else:
            p = x.unsqueeze(0).expand((size,) + tuple(x.shape))
        leaf, tracked = _new_leaf(p)
        return BatchedTensor.wrap(leaf, level), tracked

    return track


def _argnums(argnums: Any, n: int, what: str) -> tuple:
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    for a in nums:
        if not isinstance(a, int) or not -n <= a < n:
            raise ValueError(f"{what}: argnums {argnums!r} out of range for {n} positional arguments")
    return tuple(a % n for a in nums)


def _prepare(args: tuple, argnums: Any, what: str, track: Callable = _track) -> tuple:
    """Replace the differentiated args by tracked copies (``track`` makes each leaf's):
    (new args, [(leaves, rebuild)], tracked)."""
    nums = _argnums(argnums, len(args), what)
    args = list(args)
    groups = []
    tracked = False
    for a in nums:
        leaves, rebuild = flatten(args[a])
        new = []
        for x in leaves:
            t, tr = track(x, what)
            tracked |= tr
            new.append(t)
        args[a] = rebuild(new)
        groups.append((new, rebuild))
    return tuple(args), groups, tracked


def _leaves(groups: list) -> list:
    """The tracked leaves of all differentiated arguments, in order."""
    return [x for g in groups for x in g[0]]


def _regroup(groups: list, flat: list) -> list:
    """Split ``flat`` (one entry per leaf, in :func:`_leaves` order) back into one pytree per
    differentiated argument."""
    res, k = [], 0
    for new, rebuild in groups:
        res.append(rebuild(flat[k:k + len(new)]))
        k += len(new)
    return res


def _zero_grads(leaves: list) -> list:
    """The gradients when the output does not depend on the inputs at all: zeros."""
    return [Tensor._make(np.zeros(x.shape, x.dtype), False) for x in leaves]


def _split_aux(out: Any, has_aux: bool, what: str, tracked: bool = False) -> tuple:
    """``(output, aux)``; aux is returned as data (detached) unless an outer transform
    differentiates through this one."""
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise ValueError(f"{what}(has_aux=True): the function must return (output, aux)")
    return out[0], (out[1] if tracked else _detach_tree(out[1]))


def _grads(out: Tensor, groups: list, argnums: Any, tracked: bool, seed: Any = None) -> Any:
    leaves = _leaves(groups)
    if out.requires_grad:
        gs = _ag_grad(out, leaves, seed, retain_graph=True, create_graph=tracked,
                      allow_unused=True, materialize_grads=True)
    else:
        gs = _zero_grads(leaves)
    res = _regroup(groups, gs)
    return tuple(res) if isinstance(argnums, tuple) else res[0]


# ----------------------------------------------------------------------------- grad
def grad_and_value(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """A function returning ``(∂func/∂args[argnums], func(*args))`` (with ``has_aux``:
    ``(grad, (value, aux))``). ``func`` must return a scalar Tensor; the differentiated
    argument may be a Tensor or a dict/tuple/list of Tensors (the gradient has its shape)."""
    def wrapper(*args: Any, **kwargs: Any) -> tuple:
        if ACTIVE:  # inside a batched vmap run: per-sample gradients
            return _batched_grad_and_value(func, args, kwargs, argnums, has_aux)
        args, groups, tracked = _prepare(args, argnums, "grad")
        with enable_grad():
            out = func(*args, **kwargs)
        out, aux = _split_aux(out, has_aux, "grad", tracked)
        if not isinstance(out, Tensor) or out.array.size != 1:
            raise RuntimeError("grad: the function must return a scalar Tensor, got "
                               f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
        g = _grads(out, groups, argnums, tracked)
        value = out if tracked else out.detach()
        return (g, (value, aux)) if has_aux else (g, value)

    wrapper.__wrapped__ = func
    return wrapper


def grad(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """The gradient of scalar ``func`` with respect to ``args[argnums]`` as a function
    (``torch.func.grad``); with ``has_aux`` it returns ``(grad, aux)``."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, v = gv(*args, **kwargs)
        return (g, v[1]) if has_aux else g

    wrapper.__wrapped__ = func
    return wrapper


def _batched_grad_and_value(func: Callable, args: tuple, kwargs: dict, argnums: Any,
                            has_aux: bool) -> tuple:
    """``grad_and_value`` inside a batched ``vmap`` run. Each differentiated argument becomes
    a batched leaf of its own (an unbatched one is broadcast over the batch, without a
    copy), so that the backward of the physical graph from the per-sample losses gives
    each sample's gradient in its own slice — never a sum over the batch."""
    level, size = ACTIVE[-1]
    args, groups, tracked = _prepare(args, argnums, "grad", _track_batched(level, size))
    with enable_grad():
        out = func(*args, **kwargs)
    out, aux = _split_aux(out, has_aux, "grad", tracked)
    if not isinstance(out, Tensor) or out.numel() != 1:
        raise RuntimeError("grad: the function must return a scalar Tensor, got "
                           f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
    leaves = _leaves(groups)
    if type(out) is BatchedTensor and out._level == level and out._phys.requires_grad:
        po = out._phys
        seed = Tensor._make(np.ones(po.shape, po.dtype), False)
        gs = _ag_grad(po, [x._phys for x in leaves], seed, retain_graph=True, create_graph=tracked,
                      allow_unused=True, materialize_grads=True)
        gs = [BatchedTensor.wrap(g, level) for g in gs]
        value = out if tracked else out.detach()
    elif type(out) is BatchedTensor and out._level != level:
        raise NoBatchRule("grad of an output batched by another vmap")
    else:  # the output depends on no differentiated argument
        gs = [BatchedTensor.wrap(Tensor._make(np.zeros(x._phys.shape, x.dtype), False), level)
              for x in leaves]
        value = out if tracked else out.detach()
    res = _regroup(groups, gs)
    g = tuple(res) if isinstance(argnums, tuple) else res[0]
    return (g, (value, aux)) if has_aux else (g, value)


# ----------------------------------------------------------------------------- vjp
def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(func(*primals), vjp_fn)``; ``vjp_fn(cotangents)`` returns one vector-Jacobian
    product per primal (a tuple). With ``has_aux``: ``(output, vjp_fn, aux)``. The output
    may be a Tensor or a tuple/list/dict of Tensors; cotangents have its structure."""
    args, groups, tracked = _prepare(primals, tuple(range(len(primals))), "vjp")
    with enable_grad():
        out = func(*args)
    out, aux = _split_aux(out, has_aux, "vjp", tracked)
    outs, _ = flatten(out)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"vjp: the function must return Tensors, got {type(o).__name__}")

    def vjp_fn(cotangents: Any) -> tuple:
        cts, _ = flatten(cotangents)
        if len(cts) != len(outs):
            raise ValueError(f"vjp: expected {len(outs)} cotangents (the output's structure), "
                             f"got {len(cts)}")
        leaves = _leaves(groups)
        live = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
        for o, c in zip(outs, cts):
            if tuple(c.shape) != tuple(o.shape):
                raise ValueError(f"vjp: cotangent of shape {tuple(c.shape)} for an output of "
                                 f"shape {tuple(o.shape)}")
        if live:
            gs = _ag_grad([o for o, _ in live], leaves, [c for _, c in live], retain_graph=True,
                          create_graph=tracked or any(c.requires_grad for _, c in live),
                          allow_unused=True, materialize_grads=True)
        else:
            gs = _zero_grads(leaves)
        return tuple(_regroup(groups, gs))

    shown = out if tracked else _detach_tree(out)
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def _detach_tree(t: Any) -> Any:
    leaves, rebuild = flatten(t)
    return rebuild([x.detach() if isinstance(x, Tensor) else x for x in leaves])


# ----------------------------------------------------------------------------- Jacobians
def jacrev(func: Callable, argnums: int | tuple = 0, *, has_aux: bool = False,
           chunk_size: int | None = None) -> Callable:
    """The Jacobian ``∂func/∂args[argnums]`` (shape ``output.shape + arg.shape``) by reverse
    mode: one vector-Jacobian product (backward pass) per output element, on one recorded
    graph. ``func`` returns one Tensor. ``chunk_size`` is accepted for compatibility (the
    rows are always computed one at a time)."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args, groups, tracked = _prepare(args, argnums, "jacrev")
        with enable_grad():
            out = func(*args, **kwargs)
        out, aux = _split_aux(out, has_aux, "jacrev", tracked)
        if not isinstance(out, Tensor):
            raise TypeError(f"jacrev: the function must return one Tensor, got {type(out).__name__}")
        leaves = _leaves(groups)
        n_out = out.array.size
        rows: list = [[] for _ in leaves]
        for k in range(n_out):
            if out.requires_grad:
                seed = np.zeros(out.shape, out.dtype)
                seed.reshape(-1)[k] = 1
                gs = _ag_grad(out, leaves, Tensor._make(seed, False), retain_graph=True,
                              create_graph=tracked, allow_unused=True, materialize_grads=True)
            else:
                gs = _zero_grads(leaves)
            for i, g in enumerate(gs):
                rows[i].append(g)
        jacs = []
        for i, x in enumerate(leaves):
            if n_out == 0:
                jacs.append(Tensor._make(np.zeros(tuple(out.shape) + tuple(x.shape), x.dtype), False))
            else:
                jacs.append(stack(rows[i], 0).reshape(tuple(out.shape) + tuple(x.shape)))
        res = _regroup(groups, jacs)
        j = tuple(res) if isinstance(argnums, tuple) else res[0]
        return (j, aux) if has_aux else j

    wrapper.__wrapped__ = func
    return wrapper


def jacfwd(func: Callable, argnums: int | tuple = 0, has_aux: bool = False,
           randomness: str = "error") -> Callable:
    """The Jacobian like ``torch.func.jacfwd``. glassgrad has no forward-mode autodiff: it
    is computed by :func:`jacrev` (reverse mode; the same values — only the cost differs:
    one backward per *output* element instead of one forward per input element)."""
    if randomness not in ("error", "different", "same"):
        raise ValueError(f"jacfwd: randomness must be 'error', 'different' or 'same', got {randomness!r}")
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func: Callable, argnums: int | tuple = 0) -> Callable:
    """``jacfwd(jacrev(func))``: the Hessian of a scalar function (double backward)."""
    return jacfwd(jacrev(func, argnums), argnums)


def jvp(func: Callable, primals: tuple, tangents: tuple, *, strict: bool = False,
        has_aux: bool = False) -> tuple:
    """``(func(*primals), J·tangents)``: the Jacobian-vector product (``torch.func.jvp``).

    glassgrad has no forward mode; this is the double-vjp trick: with ``u`` a dummy
    cotangent, ``g(u) = uᵀJ`` is linear in ``u``, and ``∂(g(u)·t)/∂u = J·t`` — two
    backward passes, the first recorded (``create_graph``). ``func`` returns one Tensor.
    ``strict`` is accepted for compatibility (an output independent of the primals gives a
    zero product).
    """
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple) or \
            len(primals) != len(tangents):
        raise ValueError("jvp: primals and tangents must be tuples of the same length")
    for p, t in zip(primals, tangents):
        if not isinstance(t, Tensor) or tuple(t.shape) != tuple(p.shape):
            raise ValueError(f"jvp: each tangent must be a Tensor of its primal's shape "
                             f"{tuple(p.shape)}")
    args, groups, tracked = _prepare(primals, tuple(range(len(primals))), "jvp")
    with enable_grad():
        out = func(*args)
        out, aux = _split_aux(out, has_aux, "jvp", tracked)
        if not isinstance(out, Tensor):
            raise TypeError(f"jvp: the function must return one Tensor, got {type(out).__name__}")
        leaves = _leaves(groups)
        zero = Tensor._make(np.zeros(out.shape, out.dtype), False)
        jv = None
        if out.requires_grad:
            u = Tensor._make(np.zeros(out.shape, out.dtype), True)
            gs = _ag_grad(out, leaves, u, retain_graph=True, create_graph=True,
                          allow_unused=True, materialize_grads=True)
            s = None
            for g, t in zip(gs, tangents):
                if g.requires_grad:
                    term = (g * t).sum()
                    s = term if s is None else s + term
            if s is not None:
                (jv,) = _ag_grad(s, [u], create_graph=tracked, allow_unused=True,
                                 materialize_grads=True)
    jv = zero if jv is None else jv
    shown = out if tracked else out.detach()
    return (shown, jv, aux) if has_aux else (shown, jv)


def stack_module_state(models: Any) -> tuple:
    """``(params, buffers)``: each parameter/buffer of the same-shaped ``models`` stacked
    along a new axis 0 (for ``vmap`` over an ensemble with :func:`functional_call`)."""
    models = list(models)
    if not models:
        raise ValueError("stack_module_state: expected at least one model")
    names = [k for k, _ in models[0].named_parameters()]
    for m in models[1:]:
        if [k for k, _ in m.named_parameters()] != names:
            raise ValueError("stack_module_state: the models must have the same parameters")
    params = {k: stack([dict(m.named_parameters())[k].detach() for m in models], 0)
              .requires_grad_(True) for k in names}
    bnames = [k for k, _ in models[0].named_buffers()]
    buffers = {k: stack([dict(m.named_buffers())[k] for m in models], 0) for k in bnames}
    return params, buffers
