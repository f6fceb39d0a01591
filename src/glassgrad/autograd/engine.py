"""The backward pass: walk the graph from the output to the leaves, newest node first.

Reverse-mode autodiff in four steps (read :func:`run_backward` top to bottom):

1. **Count dependencies.** An iterative depth-first walk from the output's node counts,
   for every node and leaf, how many edges lead into it (no recursion: a 10,000-op
   chain is fine).
2. **Seed.** The output's gradient (``1`` for a scalar loss) goes into its node's buffer.
3. **Run nodes when all their gradient has arrived.** A node whose dependency count
   drops to zero is ready; among ready nodes the most recently created runs first.
   Its buffered gradients (summed over every use of its outputs) go through
   ``Function.backward``, which returns one gradient per input.
4. **Deliver.** Each input gradient is added to the buffer of the node that made that
   input, or, for a leaf tensor, accumulated into ``leaf.grad``.

Unless ``retain_graph=True`` each node's saved arrays are freed once it has run.
With ``create_graph=True`` the gradients are Tensors and every backward runs with
grad mode on, so the backward pass itself is recorded and can be differentiated.
"""

from __future__ import annotations

import heapq
import time
from typing import Any, Sequence

from ..backend import np
from .function import Function, NonDifferentiableBackward, _freed_message
from .grad_mode import STATE

_Tensor: Any = None


def _set_tensor_class(cls: Any) -> None:
    global _Tensor
    _Tensor = cls


def _as_array(g: Any) -> Any:
    return g.data if isinstance(g, _Tensor) else g


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
    # ---- capture targets: (vertex id, output index) -> position in the result ---------
    want: dict[tuple[int, int], int] = {}
    captured: list = []
    if capture is not None:
        for k, t in enumerate(capture):
            if not t.requires_grad:
                raise RuntimeError(
                    f"grad: input {k} (shape {tuple(t.shape)}) does not require grad; "
                    "call .requires_grad_() on it before building the graph"
                )
            key = (id(t.grad_fn), t._out_idx) if t.grad_fn is not None else (id(t), 0)
            want[key] = k
        captured = [None] * len(capture)

    # ---- 1. dependency counts (iterative DFS over nodes and leaves) --------------------
    deps: dict[int, int] = {}
    buffers: dict[int, list] = {}
    start: list = []
    for t in roots:
        if not t.requires_grad:
            raise RuntimeError(
                f"backward: tensor of shape {tuple(t.shape)} does not require grad and has no "
                "grad_fn (did you create it under no_grad, or forget requires_grad=True?)"
            )
        v = t.grad_fn if t.grad_fn is not None else t
        if id(v) not in deps:
            deps[id(v)] = 0
            start.append(v)
    stack = list(start)
    seen = {id(v) for v in start}
    while stack:
        v = stack.pop()
        if isinstance(v, Tensor):
            continue
        for e in v._edges:
            if e is None:
                continue
            u = e[0]
            k = id(u)
            deps[k] = deps.get(k, 0) + 1
            if k not in seen:
                seen.add(k)
                stack.append(u)

    # ---- 2. seed ------------------------------------------------------------------------
    for t, g in zip(roots, grad_roots):
        v = t.grad_fn if t.grad_fn is not None else t
        idx = t._out_idx if t.grad_fn is not None else 0
        buf = buffers.get(id(v))
        if buf is None:
            n = len(v._out_meta) if not isinstance(v, Tensor) else 1
            buf = buffers[id(v)] = [None] * n
        buf[idx] = g if buf[idx] is None else buf[idx] + g

    # ---- 3./4. run ready nodes, newest first --------------------------------------------
    heap: list = []
    for v in start:
        if deps[id(v)] == 0:
            heapq.heappush(heap, (-_seq(v), id(v), v))
    observers = STATE.observers
    prev_mode = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        while heap:
            _, vid, v = heapq.heappop(heap)
            grads = buffers.pop(vid, None)
            if isinstance(v, Tensor):
                g = grads[0] if grads else None
                if g is None:
                    continue
                g = _run_tensor_hooks(v._hooks, g, create_graph)
                key = (vid, 0)
                if key in want:
                    captured[want[key]] = g
                if accumulate and (capture is None or key in want):
                    _accumulate(v, g, create_graph)
                continue
            node: Function = v
            if grads is None:
                grads = [None] * len(node._out_meta)
            if node._hooks is not None or node._retained is not None:
                _node_output_hooks(node, grads, create_graph)
            if want:
                for i, g in enumerate(grads):
                    key = (vid, i)
                    if key in want and g is not None:
                        captured[want[key]] = g
            edges = node._edges
            if all(g is None for g in grads):
                in_grads: tuple = (None,) * len(edges)
            else:
                if node._freed:
                    raise RuntimeError(_freed_message(node))
                grads = _materialize(node, grads, create_graph)
                in_grads = _call_backward(node, grads, create_graph, observers)
                if not retain_graph:
                    _free(node)
            for e, g, meta in zip(edges, in_grads, node._in_meta):
                if e is None:
                    continue
                u, idx = e
                uid = id(u)
                if g is not None:
                    g = _check_grad(node, g, meta, create_graph)
                    buf = buffers.get(uid)
                    if buf is None:
                        n = 1 if isinstance(u, Tensor) else len(u._out_meta)
                        buf = buffers[uid] = [None] * n
                    old = buf[idx]
                    buf[idx] = g if old is None else old + g
                d = deps[uid] - 1
                deps[uid] = d
                if d == 0:
                    heapq.heappush(heap, (-_seq(u), uid, u))
    finally:
        STATE.grad_enabled = prev_mode
    if capture is not None:
        return captured
    return None


def _seq(v: Any) -> int:
    s = getattr(v, "_seq", None)
    return -1 if s is None or isinstance(v, _Tensor) else s


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


def _call_backward(node: Function, grads: list, create_graph: bool, observers: list) -> tuple:
    node.create_graph = create_graph
    t0 = time.perf_counter() if observers else 0.0
    res = type(node).backward(node, *grads)
    if not isinstance(res, tuple):
        res = (res,)
    n = len(node._edges)
    if len(res) != n:
        if len(res) < n:
            res = res + (None,) * (n - len(res))
        else:
            raise RuntimeError(
                f"{node.name()}: backward returned {len(res)} gradients, expected {n} "
                "(one per positional input of forward)"
            )
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
    nd = NonDifferentiableBackward.__new__(NonDifferentiableBackward)
    nd.origin = node.name()
    nd._edges = ()
    nd._in_meta = ()
    nd._out_meta = ((t.data.shape, t.data.dtype),)
    nd._saved = None
    nd._saved_meta = None
    nd._hooks = None
    nd._retained = None
    nd._freed = False
    nd._seq = node._seq
    nd._scope = None
    nd._stack = None
    nd._out_cache = None
    t.grad_fn = nd
    t._out_idx = 0
    return t


def _check_grad(node: Function, g: Any, meta: Any, create_graph: bool) -> Any:
    shape, dtype = meta
    if g.shape != shape:
        raise RuntimeError(
            f"{node.name()}: backward returned a gradient of shape {tuple(g.shape)} for an "
            f"input of shape {tuple(shape)}; a gradient must have its input's shape"
        )
    if g.dtype != dtype and dtype.kind == "f":
        g = g.to(dtype) if isinstance(g, _Tensor) else g.astype(dtype)
    return g


def _free(node: Function) -> None:
    if node._saved is not None or node.__dict__:
        node._saved = None
        node._out_cache = None
        node.__dict__.clear()
        node._freed = True


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


def _accumulate(leaf: Any, g: Any, create_graph: bool) -> None:
    """Add gradient ``g`` into ``leaf.grad`` (a copy the first time, then in place)."""
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if leaf.grad is None:
        leaf.grad = _Tensor._make(g.astype(leaf.data.dtype, copy=True), False)
    else:
        gd = leaf.grad.data
        if gd.shape != g.shape:
            raise RuntimeError(
                f"cannot accumulate a gradient of shape {tuple(g.shape)} into .grad of shape "
                f"{tuple(gd.shape)}"
            )
        if leaf.grad.grad_fn is not None or leaf.grad.requires_grad:
            leaf.grad = _Tensor._make(gd + g, False)
        else:
            gd += g
