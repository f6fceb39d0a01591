"""The backward pass: walk the graph from the output to the leaves, newest node first.

Reverse-mode autodiff in three phases (read :func:`run_backward` top to bottom; the
walkthrough is ``docs/engine.md``):

1. **Seed.** The output's gradient (``1`` for a scalar loss) goes into its node's
   buffer, and the node onto a heap keyed by its creation number.
2. **Run nodes newest first.** An op's inputs always exist before the op, so popping
   the newest node from the heap visits each node only after all of its consumers — its
   buffer then holds the *sum* of the gradients of every use of its outputs. Hooks see
   that sum, ``Function.backward`` turns it into one gradient per input, the node's saved
   arrays are released, and each input gradient is added to the buffer of the node that
   made the input (pushed onto the heap when its first gradient arrives), or to the leaf.
   No graph walk beforehand, no recursion: a 10,000-op chain is fine.
3. **Leaves.** Gradients reaching leaf tensors are accumulated into ``leaf.grad`` as
   they arrive. Leaves with hooks, ``gg.grad`` captures and the glass-box modes collect
   the summed gradient first and hand it over at the end.

Ownership (:mod:`.ownership`): the engine adds in place only into arrays it owns — ones
it allocated, or fresh ones from an op declaring ``fresh_grads`` — and a leaf's first
gradient becomes ``.grad`` without a copy only when the engine owns it and has shown it
to nobody (no hook, capture or observer).

Unless ``retain_graph=True`` each node's saved arrays are freed once it has run.
With ``create_graph=True`` the gradients are Tensors and every backward runs with
grad mode on, so the backward pass itself is recorded and can be differentiated.
"""

from __future__ import annotations

import time
import weakref
from heapq import heappop, heappush
from itertools import repeat
from typing import Any, Iterable, Sequence

from ..backend import np, xp_of
from .function import Function, NonDifferentiableBackward, _freed_message, _new_node
from .grad_mode import STATE
from .ownership import check_fresh, fresh_flags, is_one_of, sum_into

_Tensor: Any = None


# leaf tensor -> hooks called with the tensor once its ``.grad`` holds this backward's
# complete gradient (``Tensor.register_post_accumulate_grad_hook``; used by
# DistributedDataParallel to start communicating while the backward goes on)
# (keyed by id, holding a weak reference: tensors compare elementwise, so they cannot be
# keys of a WeakKeyDictionary)
POST_ACCUMULATE: dict[int, tuple[Any, list]] = {}


def add_post_accumulate_hook(t: Any, hook: Any) -> Any:
    """Register ``hook`` for leaf ``t``; returns a function that removes it."""
    key = id(t)
    ent = POST_ACCUMULATE.get(key)
    if ent is None or ent[0]() is not t:
        ent = POST_ACCUMULATE[key] = (weakref.ref(t, lambda _r: _drop(key, _r)), [])
    lst = ent[1]
    lst.append(hook)

    def remove() -> None:
        if hook in lst:
            lst.remove(hook)
        cur = POST_ACCUMULATE.get(key)
        if cur is ent and not lst:
            del POST_ACCUMULATE[key]

    return remove


def _drop(key: int, ref: Any) -> None:
    cur = POST_ACCUMULATE.get(key)
    if cur is not None and cur[0] is ref:
        del POST_ACCUMULATE[key]


def _set_tensor_class(cls: Any) -> None:
    global _Tensor
    _Tensor = cls


def _as_array(g: Any) -> Any:
    return g.array if isinstance(g, _Tensor) else g


def run_backward(
    roots: Sequence[Any],
    grad_roots: Sequence[Any],
    retain_graph: bool = False,
    create_graph: bool = False,
    capture: Sequence[Any] | None = None,
    accumulate: bool = True,
) -> list | None:
    """Backpropagate ``grad_roots`` from ``roots`` (Tensors) through their graph.

    Parameters
    ----------
    roots, grad_roots
        Output tensors and the gradients of the final quantity with respect to them.
    retain_graph
        Keep saved arrays so that the graph can be walked again.
    create_graph
        Record the backward itself (gradients become differentiable Tensors).
    capture
        Tensors whose gradients are returned (``gg.grad``) instead of accumulated.
    accumulate
        Whether leaves accumulate into ``.grad`` (``Tensor.backward``) or not (``gg.grad``).
    """
    Tensor = _Tensor
    want, captured = _capture_targets(capture)

    # ---- 1. seed the output nodes --------------------------------------------------------
    # A node's inputs are always created before it, so running nodes from the newest to
    # the oldest (largest creation number ``_seq`` first, from a heap) visits a node only
    # after all of its consumers: its gradient buffer is then complete. A node enters the
    # heap when its first gradient arrives, so nodes no gradient reaches are never visited.
    # No graph walk beforehand, no dependency counting, no recursion.
    # A node's buffer ``_buf`` holds one gradient per output; ``_owned`` says per output
    # whether the engine owns that array (may add into it in place).
    leaves: dict[int, list] = {}  # id(leaf) -> [leaf, summed gradient, owned by the engine]
    heap: list = []
    for t, g in zip(roots, grad_roots):
        if not t.requires_grad:
            raise RuntimeError(
                f"backward: tensor of shape {tuple(t.shape)} does not require grad and has no "
                "grad_fn (did you create it under no_grad, or forget requires_grad=True?)"
            )
        gf = t.grad_fn
        if gf is None:
            _leaf_add(leaves, t, g, False)  # the caller's array: never written to
        else:
            _node_add(heap, gf, t._out_idx, g, False)

    # leaves with post-accumulate hooks: how many graph edges still have to deliver to
    # each (a walk of the graph, only when such hooks exist)
    post = _post_counts(heap) if POST_ACCUMULATE and accumulate and capture is None else None

    # ---- 2. run the nodes newest first, delivering gradients to their inputs ------------
    observers = STATE.observers
    # the common, fast path: arrays, no per-node checks (else _call_backward does them)
    plain = not (create_graph or observers or STATE.anomaly or STATE.check_ownership)
    # leaves without hooks get their gradient as soon as it arrives (no collecting first)
    direct = plain and accumulate and capture is None
    # the engine owns nothing under create_graph (Tensors) or when observers see gradients
    may_own = not (create_graph or observers)
    prev_mode = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        while heap:
            node = heappop(heap)[1]
            grads = node._buf  # complete: every consumer of the node's outputs has run
            node._buf = node._owned = None
            # -- hooks on the node's outputs and retain_grad see the summed gradient;
            #    gg.grad takes it as the result for a captured output
            if node._hooks is not None or node._retained is not None:
                _node_output_hooks(node, grads, create_graph)
            if want:
                nid = id(node)
                for i, g in enumerate(grads):
                    key = (nid, i)
                    if key in want and g is not None:
                        captured[want[key]] = g
            if node._freed:
                raise RuntimeError(_freed_message(node))
            # -- the op's backward: one gradient per input (None where not needed)
            edges = node._edges
            if len(grads) > 1:
                grads = _materialize(node, grads, create_graph)
            if plain:
                in_grads = type(node).backward(node, *grads)
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,) if len(edges) == 1 else _fix_count(node, in_grads)
                elif len(in_grads) != len(edges):
                    in_grads = _fix_count(node, in_grads)
            else:
                in_grads = _call_backward(node, grads, create_graph, observers)
            # which of them are fresh arrays the engine may own (read before the release:
            # a backward may have set ctx.fresh_grads, one flag per input, for this call)
            fresh = node.fresh_grads if may_own else False
            owns = repeat(fresh is True) if type(fresh) is not tuple else fresh_flags(fresh, len(edges))
            # -- release what the node saved for backward (unless the graph is retained)
            if not retain_graph and (node._saved is not None or node.__dict__):
                node._saved = None
                node._out_cache = None
                node.__dict__.clear()
                node._freed = True
            # -- deliver each input's gradient: into the leaf's .grad (or its collected
            #    sum), or into the buffer of the node that made the input
            for e, g, meta, own in zip(edges, in_grads, node._in_meta, owns):
                if e is None or g is None:
                    continue
                if own and (g is grads[0] or (len(grads) > 1 and is_one_of(g, grads))):
                    own = False  # the upstream gradient passed through: not the engine's
                if g.shape != meta[0] or (g.dtype is not meta[1] and g.dtype != meta[1]):
                    checked = _check_grad(node, g, meta, create_graph)
                    if checked is not g:  # cast to the input's dtype: a new array
                        g, own = checked, may_own
                u = e[0]
                if isinstance(u, Tensor):  # a leaf: straight into .grad, or collected
                    if direct and u._hooks is None:
                        _accumulate(u, g, False, own)
                    else:
                        _leaf_add(leaves, u, g, own)
                else:
                    _node_add(heap, u, e[1], g, own)  # a node: into its gradient buffer
            if post:
                _post_step(post, edges, in_grads, leaves, create_graph)

        # ---- 3. leaves: hooks, then capture or accumulate into .grad --------------------
        for key_id in list(leaves):
            leaf, g, own = leaves.pop(key_id)
            if leaf._hooks:
                g = _run_tensor_hooks(leaf._hooks, g, create_graph)
                own = False  # a hook saw it (and may keep it) or returned its own array
            key = (id(leaf), 0)
            if key in want:
                captured[want[key]] = g
                own = False  # handed to the caller of gg.grad
            if not accumulate or (capture is not None and key not in want):
                continue
            _accumulate(leaf, g, create_graph, own)
            if post is not None and id(leaf) in POST_ACCUMULATE:
                post.pop(key_id, None)
                _post_fire(leaf)
        if post:  # leaves some edge never delivered to (a branch no gradient reached)
            for leaf, _, got in list(post.values()):
                if got:
                    _post_fire(leaf)
    finally:
        STATE.grad_enabled = prev_mode
        for _, node in heap:  # only after an error: drop the partial buffers
            node._buf = node._owned = None
    if capture is not None:
        return captured
    return None


def _capture_targets(capture: Sequence[Any] | None) -> tuple[dict, list]:
    """For ``gg.grad``: (vertex id, output index) -> position in the result, and the
    result list to fill."""
    want: dict[tuple[int, int], int] = {}
    if capture is None:
        return want, []
    for k, t in enumerate(capture):
        if not t.requires_grad:
            raise RuntimeError(
                f"grad: input {k} (shape {tuple(t.shape)}) does not require grad; "
                "call .requires_grad_() on it before building the graph"
            )
        key = (id(t.grad_fn), t._out_idx) if t.grad_fn is not None else (id(t), 0)
        want[key] = k
    return want, [None] * len(capture)


def _node_add(heap: list, node: Any, idx: int, g: Any, own: bool) -> None:
    """Add ``g`` to output ``idx`` of ``node``'s buffer (made, and the node pushed onto the
    heap, when its first gradient arrives): in place when the engine owns the buffer's
    array, else into a new array, which the engine then owns."""
    buf = node._buf
    if buf is None:
        n = len(node._out_meta)
        buf = node._buf = [None] * n
        node._owned = [False] * n
        heappush(heap, (-node._seq, node))
    old = buf[idx]
    if old is None:
        buf[idx] = g
        node._owned[idx] = own
    else:
        buf[idx] = sum_into(old, node._owned[idx], g)
        node._owned[idx] = True


def leaf_edges(nodes: Iterable[Any]) -> list:
    """The leaf tensors at the ends of the edges of the graph below ``nodes`` (graph nodes),
    one entry per edge (a leaf used twice is listed twice); each node is visited once, depth
    first, without recursion."""
    leaves: list = []
    seen: set[int] = set()
    stack = list(nodes)
    Tensor = _Tensor
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for e in node._edges:
            if e is None:
                continue
            u = e[0]
            if isinstance(u, Tensor):
                leaves.append(u)
            elif id(u) not in seen:
                stack.append(u)
    return leaves


def _post_counts(heap: list) -> dict:
    """id(leaf) -> [leaf, edges still to run, received a gradient] for the leaves with
    post-accumulate hooks reachable from the seeded nodes."""
    counts: dict[int, list] = {}
    for u in leaf_edges(node for _, node in heap):
        pe = POST_ACCUMULATE.get(id(u))
        if pe is not None and pe[0]() is u:
            ent = counts.get(id(u))
            if ent is None:
                counts[id(u)] = [u, 1, False]
            else:
                ent[1] += 1
    return counts


def _post_step(post: dict, edges: Any, in_grads: Any, leaves: dict, create_graph: bool) -> None:
    """After a node ran: count down its edges into hooked leaves; a leaf whose last edge
    ran has its complete gradient, which is accumulated now and its hooks called."""
    for e, g in zip(edges, in_grads):
        if e is None:
            continue
        ent = post.get(id(e[0]))
        if ent is None:
            continue
        if g is not None:
            ent[2] = True
        ent[1] -= 1
        if ent[1] == 0:
            leaf = ent[0]
            del post[id(leaf)]
            pend = leaves.pop(id(leaf), None)
            if pend is not None:
                _, gl, own = pend
                if leaf._hooks:
                    gl = _run_tensor_hooks(leaf._hooks, gl, create_graph)
                    own = False
                _accumulate(leaf, gl, create_graph, own)
            if ent[2]:
                _post_fire(leaf)


def _post_fire(leaf: Any) -> None:
    ent = POST_ACCUMULATE.get(id(leaf))
    if ent is not None and ent[0]() is leaf:
        for h in list(ent[1]):
            h(leaf)


def _leaf_add(leaves: dict, leaf: Any, g: Any, own: bool) -> None:
    """Collect ``g`` into the leaf's summed gradient (handed over in phase 3)."""
    ent = leaves.get(id(leaf))
    if ent is None:
        leaves[id(leaf)] = [leaf, g, own]
    else:
        ent[1] = sum_into(ent[1], ent[2], g)
        ent[2] = True


def _materialize(node: Function, grads: list, create_graph: bool) -> list:
    """Outputs that received no gradient get zeros (only multi-output nodes have these)."""
    if len(grads) == 1:
        return grads
    out = []
    for g, (shape, dtype) in zip(grads, node._out_meta):
        if g is None:
            g = np.zeros(shape, dtype=dtype)
            if create_graph:
                g = _Tensor._make(g, False)
        out.append(g)
    return out


def _fix_count(node: Any, res: Any, n: int | None = None) -> tuple:
    """One gradient per positional input (``n``, by default the node's edges): wrap a
    single result, pad missing ones with None, and reject too many. ``node`` names the
    op in the error (a node or its Function class)."""
    if not isinstance(res, tuple):
        res = (res,)
    if n is None:
        n = len(node._edges)
    if len(res) < n:
        res = res + (None,) * (n - len(res))
    elif len(res) > n:
        raise RuntimeError(
            f"{node.name()}: backward returned {len(res)} gradients, expected {n} "
            "(one per positional input of forward)"
        )
    return res


def _call_backward(node: Function, grads: list, create_graph: bool, observers: list) -> tuple:
    node.create_graph = create_graph
    t0 = time.perf_counter() if observers else 0.0
    try:
        res = type(node).backward(node, *grads)
    finally:
        node.create_graph = False  # the plain path relies on it (saved_tensors as arrays)
    if type(res) is not tuple or len(res) != len(node._edges):
        res = _fix_count(node, res)
    if STATE.check_ownership and not create_graph:
        check_fresh(node, grads, res)
    if create_graph:
        res = tuple(_wrap_graph_grad(node, g) for g in res)
    if STATE.anomaly:
        from .anomaly import check_backward

        check_backward(node, res)
    if observers:
        dt = time.perf_counter() - t0
        for ob in observers:
            ob(node, grads, res, dt)
    return res


def _wrap_graph_grad(node: Function, g: Any) -> Any:
    if g is None or isinstance(g, _Tensor):
        return g
    t = _Tensor._make(np.asarray(g), True)
    nd = _new_node(NonDifferentiableBackward, (), (), ((t.array.shape, t.array.dtype),))
    nd.origin = node.name()
    t.grad_fn = nd
    t._out_idx = 0
    return t


def _check_grad(node: Any, g: Any, meta: Any, create_graph: bool) -> Any:
    """A gradient must have its input's shape; its dtype is cast to the input's. ``node``
    names the op in the error (a node or its Function class)."""
    shape, dtype = meta
    if g.shape != shape:
        raise RuntimeError(
            f"{node.name()}: backward returned a gradient of shape {tuple(g.shape)} for an "
            f"input of shape {tuple(shape)}; a gradient must have its input's shape"
        )
    if g.dtype != dtype and dtype.kind == "f":
        g = g.to(dtype) if isinstance(g, _Tensor) else g.astype(dtype)
    return g


def _run_tensor_hooks(hooks: Any, g: Any, create_graph: bool) -> Any:
    if not hooks:
        return g
    for h in hooks:
        gt = g if isinstance(g, _Tensor) else _Tensor._make(g, False)
        r = h(gt)
        if r is not None:
            g = r if create_graph else _as_array(r)
    return g


def _node_output_hooks(node: Function, grads: list, create_graph: bool) -> None:
    if node._hooks:
        for i, hooks in node._hooks.items():
            if grads[i] is not None:
                grads[i] = _run_tensor_hooks(hooks, grads[i], create_graph)
    if node._retained:
        for i, ref in node._retained.items():
            t = ref()
            g = grads[i]
            if t is None or g is None:
                continue
            gt = g if create_graph else _Tensor._make(g.copy(), False)
            t.grad = gt if t.grad is None else t.grad + gt


def _accumulate(leaf: Any, g: Any, create_graph: bool, owned: bool = False) -> None:
    """Add gradient ``g`` into ``leaf.grad``: the first time a copy — or ``g`` itself when
    the engine owns it and it is a whole writeable array of the leaf's dtype — then in
    place (``.grad`` belongs to the leaf, as in PyTorch)."""
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if leaf.grad is None:
        # a fresh array nobody else was shown becomes .grad as is, without a copy (not a
        # view: base None, so that .grad holds no more memory than its own)
        if owned and g.base is None and g.dtype == leaf.array.dtype and g.flags.writeable:
            leaf.grad = _Tensor._make(g, False)
        else:
            # (an array, also for 0-d: NumPy scalars are immutable, later backwards add in place)
            leaf.grad = _Tensor._make(xp_of(g).array(g, dtype=leaf.array.dtype, copy=True), False)
    else:
        gd = leaf.grad.array
        if gd.shape != g.shape:
            raise RuntimeError(
                f"cannot accumulate a gradient of shape {tuple(g.shape)} into .grad of shape "
                f"{tuple(gd.shape)}"
            )
        if leaf.grad.grad_fn is not None or leaf.grad.requires_grad:
            leaf.grad = _Tensor._make(gd + g, False)
        else:
            gd += g
