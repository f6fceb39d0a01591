"""Functional autograd: ``grad``, ``jacobian``, ``hessian``, ``vjp``, ``jvp``.

These answer the questions people ask when they learn backprop, e.g. *what shape does
∂Z/∂W have?* — ``jacobian(lambda W: x @ W, W)`` for ``x: (1, n)``, ``W: (n, m)`` has shape
``(1, m, n, m)``: one ``n×m`` matrix per output element. Contracting it with the
upstream gradient δ gives the familiar ``xᵀ·δ``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..backend import np
from . import engine


def _T():
    from ..tensor import Tensor

    return Tensor


def _as_list(x: Any) -> tuple[list, bool]:
    if isinstance(x, (list, tuple)):
        return list(x), True
    return [x], False


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False,
         materialize_grads: bool = False) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not stored in ``.grad``).

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
    inputs : Tensor or sequence of Tensor
    grad_outputs : Tensor or sequence, optional
        ``dL/d(output)`` for each output; required for non-scalar outputs.
    retain_graph : bool, optional
        Default: ``create_graph``.
    create_graph : bool
        Record the backward (for higher derivatives: Hessian-vector products, penalties).
    allow_unused : bool
        Return ``None`` for an input that does not affect the outputs instead of raising.

    Returns
    -------
    tuple of Tensor
    """
    Tensor = _T()
    outs, _ = _as_list(outputs)
    ins, _ = _as_list(inputs)
    if grad_outputs is None:
        gos = [None] * len(outs)
    else:
        gos, _ = _as_list(grad_outputs)
    seeds = []
    for i, (o, go) in enumerate(zip(outs, gos)):
        if go is None:
            if o.array.size != 1:
                raise RuntimeError(
                    f"grad: output {i} has shape {tuple(o.shape)}; grad can be implicitly created "
                    "only for scalar outputs, pass grad_outputs"
                )
            go = np.ones(o.shape, dtype=o.dtype)
        elif isinstance(go, Tensor):
            go = go if create_graph else go.array
        else:
            go = np.asarray(go, dtype=o.dtype)
        if create_graph and not isinstance(go, Tensor):
            go = Tensor._make(go, False)
        seeds.append(go)
    if retain_graph is None:
        retain_graph = create_graph
    res = engine.run_backward(outs, seeds, retain_graph, create_graph, capture=ins,
                              accumulate=False)
    out = []
    for i, (t, g) in enumerate(zip(ins, res)):
        if g is None:
            if materialize_grads:
                out.append(Tensor._make(np.zeros(t.shape, t.dtype), False))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(t.shape)}) was not used in the graph of the "
                    "outputs; pass allow_unused=True to get None for it"
                )
            out.append(None)
        elif isinstance(g, Tensor):
            out.append(g)
        else:
            out.append(Tensor._make(g, False))
    return tuple(out)


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple:
    """``(func(inputs), vᵀ·J)``: the vector-Jacobian product (what backward computes)."""
    ins, multi = _as_list(inputs)
    ins = [_fresh(x) for x in ins]
    from .grad_mode import enable_grad

    with enable_grad():
        out = func(*ins)
    if not out.requires_grad:  # the output does not depend on the inputs: vᵀJ = 0
        Tensor = _T()
        if v is None and out.array.size != 1:
            raise RuntimeError(f"vjp: the output has shape {tuple(out.shape)}; pass v")
        g = tuple(Tensor._make(np.zeros(x.shape, x.dtype), False) for x in ins)
    else:
        g = grad(out, ins, v, create_graph=create_graph, allow_unused=True,
                 materialize_grads=True)
    return (out if create_graph else out.detach()), (g if multi else g[0])


def jvp(func: Callable, inputs: Any, v: Any, create_graph: bool = False) -> tuple:
    """``(func(inputs), J·v)``: the Jacobian-vector product (forward-mode derivative),
    computed with the double-vjp trick ``J·v = ∂(uᵀJ)/∂u · v``."""
    Tensor = _T()
    ins, multi = _as_list(inputs)
    vs, _ = _as_list(v)
    ins = [_fresh(x) for x in ins]
    from .grad_mode import enable_grad

    with enable_grad():
        out = func(*ins)
        if not out.requires_grad:  # the output does not depend on the inputs: Jv = 0
            return out.detach(), Tensor._make(np.zeros(out.shape, out.dtype), False)
        u = Tensor._make(np.zeros(out.shape, dtype=out.dtype), True)
        g = grad(out, ins, u, create_graph=True, allow_unused=True, materialize_grads=True)
        s = None
        for gi, vi in zip(g, vs):
            if not gi.requires_grad:
                continue
            vt = vi if isinstance(vi, Tensor) else Tensor(vi, dtype=gi.dtype)
            term = (gi * vt).sum()
            s = term if s is None else s + term
        if s is None:
            jv = Tensor._make(np.zeros(out.shape, out.dtype), False)
        else:
            (jv,) = grad(s, [u], create_graph=create_graph, allow_unused=True,
                         materialize_grads=True)
    return out.detach(), jv


def jacobian(func: Callable, inputs: Any, create_graph: bool = False,
             vectorize: bool = False) -> Any:
    """Full Jacobian ``∂func(x)/∂x`` of shape ``output.shape + input.shape``.

    For several inputs, a tuple of Jacobians (one per input). Built one output element
    at a time with backward passes, so meant for small problems.
    """
    Tensor = _T()
    ins, multi = _as_list(inputs)
    ins = [_fresh(x) for x in ins]
    from .grad_mode import enable_grad

    with enable_grad():
        out = func(*ins)
    if not isinstance(out, Tensor):
        raise TypeError("jacobian: func must return a single Tensor")
    n_out = out.array.size
    rows: list[list] = [[] for _ in ins]
    flat = out.reshape(-1) if out.ndim != 1 else out
    for k in range(n_out):
        if out.requires_grad:
            gs = grad(flat[k], ins, retain_graph=True, create_graph=create_graph,
                      allow_unused=True, materialize_grads=True)
        else:
            gs = [Tensor._make(np.zeros(x.shape, x.dtype), False) for x in ins]
        for i, g in enumerate(gs):
            rows[i].append(g)
    from ..tensor import stack

    jacs = []
    for i, x in enumerate(ins):
        if n_out == 0:
            j = Tensor._make(np.zeros(out.shape + x.shape, dtype=x.dtype), False)
        else:
            j = stack(rows[i], 0).reshape(out.shape + x.shape)
        jacs.append(j)
    return tuple(jacs) if multi else jacs[0]


def hessian(func: Callable, inputs: Any) -> Any:
    """Hessian of a scalar ``func``: shape ``x.shape + x.shape`` for one input tensor.

    For a tuple of inputs, a tuple of tuples ``H[i][j]`` of shape
    ``inputs[i].shape + inputs[j].shape`` (as ``torch.autograd.functional.hessian``).
    Built as the Jacobian of the gradient (double backward), so meant for small problems.
    """
    ins, multi = _as_list(inputs)

    def grads(*xs: Any) -> tuple:
        out = func(*xs)
        if out.array.size != 1:
            raise RuntimeError(f"hessian: func must return a scalar, got shape {tuple(out.shape)}")
        return grad(out, list(xs), create_graph=True, allow_unused=True, materialize_grads=True)

    if not multi:
        return jacobian(lambda x: grads(x)[0], ins[0])
    return tuple(jacobian(lambda *xs, i=i: grads(*xs)[i], tuple(ins)) for i in range(len(ins)))


def _fresh(x: Any) -> Any:
    """A leaf copy of ``x`` that requires grad (so the user's tensor is left alone)."""
    Tensor = _T()
    if not isinstance(x, Tensor):
        from ..tensor import _from_data

        x = _from_data(x)
    t = Tensor._make(x.array, False)
    if t.dtype.kind == "f":
        t.requires_grad_(True)
    return t


def _seq(x: Any) -> Sequence:
    return x if isinstance(x, (list, tuple)) else [x]
