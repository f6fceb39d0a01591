"""Matrix multiplication in all its cases: 1-D·1-D, 1-D·2-D, 2-D·2-D, batched, and
broadcast batch dimensions.

For ``Z = A @ B`` with ``A: (..., n, k)``, ``B: (..., k, m)``, ``Z: (..., n, m)``:
``Z_ij = Σ_p A_ip B_pj``, so ``∂L/∂A_ip = Σ_j G_ij B_pj`` and ``∂L/∂B_pj = Σ_i A_ip G_ij``::

    dA = G @ Bᵀ     (n, m) @ (m, k) -> (n, k)
    dB = Aᵀ @ G     (k, n) @ (n, m) -> (k, m)

A 1-D operand is treated as a row (left) or column (right) vector and the added axis is
removed again; broadcast batch axes are summed back (un-broadcast).

Derivations: ``docs/derivations/linalg.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import np, xp_of
from . import _dual as D
from ._util import op_error, unbroadcast


class MatMul(Function):
    """``Z = A @ B``."""

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise op_error("matmul", f"both operands must have at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
        if a.dtype != b.dtype:
            raise op_error("matmul", f"{tuple(a.shape)} {a.dtype} @ {tuple(b.shape)} {b.dtype}: "
                           "expected both operands to have the same dtype (convert "
                           "one with .to(dtype))", TypeError)
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise op_error(
                "matmul",
                f"{tuple(a.shape)} @ {tuple(b.shape)}: inner dimensions {ka} and {kb} differ",
            )
        ctx.save_for_backward(a, b)
        try:
            return xp_of(a).matmul(a, b)
        except ValueError:
            raise op_error("matmul", f"{tuple(a.shape)} @ {tuple(b.shape)}: batch dimensions "
                           f"{tuple(a.shape[:-2])} and {tuple(b.shape[:-2])} do not "
                           "broadcast") from None

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dA = G @ Bᵀ`` (shape of A), ``dB = Aᵀ @ G`` (shape of B), with 1-D
        operands promoted to matrices and broadcast batch axes summed back."""
        a, b = ctx.saved_tensors
        sa, sb = ctx._in_meta[0][0], ctx._in_meta[1][0]
        a1, b1 = len(sa) == 1, len(sb) == 1
        if a1:
            a = a.reshape((1,) + sa)
        if b1:
            b = b.reshape(sb + (1,))
        if a1 and b1:
            g = g.reshape((1, 1))
        elif a1:
            g = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        elif b1:
            g = g.reshape(g.shape + (1,))
        da = db = None
        if ctx.needs_input_grad[0]:
            da = g @ b.swapaxes(-1, -2)
            if a1:
                da = da.reshape(da.shape[:-2] + (da.shape[-1],))
            da = unbroadcast(da, sa)
        if ctx.needs_input_grad[1]:
            if len(sb) == 2 and len(g.shape) > 2 and not b1:
                # weight shared across a batch: fold the batch into the rows (one GEMM)
                k = a.shape[-1]
                a2 = a.reshape((-1, k)) if a.shape[:-2] == g.shape[:-2] else None
                if a2 is not None:
                    db = a2.swapaxes(-1, -2) @ g.reshape((-1, g.shape[-1]))
            if db is None:
                db = a.swapaxes(-1, -2) @ g
            if b1:
                db = db.reshape(db.shape[:-1])
            db = unbroadcast(db, sb)
        return da, db


# ---------------------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PATHS: dict = {}


def parse_einsum(equation: str, shapes: list) -> tuple[list, str, dict]:
    """``(input specs, output spec, letter sizes)`` of an einsum equation for operands of
    ``shapes``, with ``...`` replaced by unused letters (right-aligned, broadcasting like
    NumPy) and the implicit output (no ``->``: the letters used once, sorted, after the
    ellipsis) made explicit. Raises a ValueError naming what does not fit."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise op_error("einsum", f"equation {equation!r} has {len(ins)} operand(s), got "
                       f"{len(shapes)} tensor(s)")
    pool = [c for c in _LETTERS if c not in eq]
    n_ell = []
    for k, (s, shp) in enumerate(zip(ins, shapes)):
        n = len(shp) - (len(s) - 3) if "..." in s else 0
        if n < 0 or ("..." not in s and len(s) != len(shp)):
            raise op_error("einsum", f"operand {k} has shape {tuple(shp)} but its subscripts "
                           f"{s!r} in {equation!r} name {len(s.replace('...', ''))} dims")
        n_ell.append(n)
    ell = "".join(pool[:max(n_ell, default=0)])
    specs = [s.replace("...", ell[len(ell) - n:] if n else "") for s, n in zip(ins, n_ell)]
    for s in specs:
        if not all(c in _LETTERS for c in s):
            raise op_error("einsum", f"invalid subscripts {s!r} in {equation!r} (letters a-z, "
                           "A-Z and one '...' per operand)")
    if arrow:
        out = out.replace("...", ell)
        bad = [c for c in out if c not in "".join(specs)]
        if bad or len(set(out)) != len(out) or not all(c in _LETTERS for c in out):
            raise op_error("einsum", f"output subscripts {out!r} of {equation!r} must be "
                           "distinct letters that appear in the inputs")
    else:
        joined = "".join(specs)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                   and c not in ell))
    sizes: dict = {}
    for k, (s, shp) in enumerate(zip(specs, shapes)):
        for c, n in zip(s, shp):
            m = sizes.get(c, 1)
            if n != m and 1 not in (n, m):
                raise op_error("einsum", f"size {n} of '{c}' in operand {k} (shape "
                               f"{tuple(shp)}) does not match size {m} elsewhere in "
                               f"{equation!r}")
            sizes[c] = max(n, m)
    return specs, out, sizes


def _einsum(eq: str, *ops: Any) -> Any:
    """einsum of arrays (BLAS-backed contraction path, cached per equation and shapes) or,
    if any operand is a Tensor, the recorded op (so backward formulas can be differentiated)."""
    if any(hasattr(o, "grad_fn") for o in ops):
        return Einsum.apply(eq, *ops)
    xp = xp_of(ops[0])
    if xp is not np or len(ops) < 2:
        return xp.einsum(eq, *ops)
    key = (eq,) + tuple(o.shape for o in ops)
    path = _PATHS.get(key)
    if path is None:
        if len(_PATHS) > 256:
            _PATHS.clear()
        path = _PATHS[key] = np.einsum_path(eq, *ops, optimize="greedy")[0]
    return np.einsum(eq, *ops, optimize=path)


class Einsum(Function):
    """``z = einsum(equation, x_1, …, x_n)``: multiply the operands elementwise along equal
    letters and sum over the letters missing from the output; called as
    ``Einsum.apply(equation, *xs)``."""

    @staticmethod
    def forward(ctx, equation, *xs):
        specs, out, sizes = parse_einsum(equation, [x.shape for x in xs])
        eq = ",".join(specs) + "->" + out
        ctx.specs, ctx.out, ctx.sizes = specs, out, sizes
        ctx.save_for_backward(*xs)
        return _einsum(eq, *xs)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``z`` is linear in each operand, and the gradient of operand ``i`` is the
        same einsum with ``x_i`` and ``z`` swapping roles::

            dX_i = einsum(out, spec_1, …(without i)… -> spec_i)(g, x_1, …)

        e.g. ``ij,jk->ik``: ``dA = einsum('ik,jk->ij', g, B) = g·Bᵀ``. Three corrections:
        letters only ``x_i`` has (summed inside it) get ``g`` broadcast along them; a
        letter repeated in ``spec_i`` (``ii->i``, a diagonal) puts the gradient back on
        that diagonal (times an identity); a size-1 axis that was broadcast is summed.
        Shapes: ``dX_i`` like ``x_i``.
        """
        specs, out, sizes = ctx.specs, ctx.out, ctx.sizes
        xs = ctx.saved_tensors
        grads: list = [None]
        used = set("".join(specs) + out)
        pool = [c for c in _LETTERS if c not in used]
        for i, s in enumerate(specs):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            shape = ctx._in_meta[i + 1][0]
            others = [(specs[j], xs[j]) for j in range(len(specs)) if j != i]
            uniq = "".join(dict.fromkeys(s))
            elsewhere = out + "".join(t for t, _ in others)
            avail = "".join(c for c in uniq if c in elsewhere)
            G = _einsum(",".join([out] + [t for t, _ in others]) + "->" + avail, g,
                        *(x for _, x in others))
            own = {c: shape[s.index(c)] for c in uniq}
            if len(avail) < len(uniq):  # letters summed inside x_i alone: broadcast g
                G = D.expand(G.reshape(tuple(sizes[c] if c in avail else 1 for c in uniq)),
                             tuple(sizes[c] if c in avail else own[c] for c in uniq))
            shrink = tuple(k for k, c in enumerate(uniq) if own[c] == 1 and sizes[c] != 1)
            if shrink:  # x_i was broadcast along these letters: sum the copies
                G = G.sum(axis=shrink, keepdims=True)
            if len(uniq) < len(s):  # repeated letters: back onto the diagonal
                xp = xp_of(D.data(G))
                seen: set = set()
                full, deltas, eyes = [], [], []
                for c in s:
                    if c in seen:
                        f = pool.pop()
                        full.append(f)
                        deltas.append(c + f)
                        eyes.append(xp.eye(own[c], dtype=D.data(G).dtype))
                    else:
                        seen.add(c)
                        full.append(c)
                G = _einsum(",".join([uniq] + deltas) + "->" + "".join(full), G, *eyes)
            grads.append(G)
        return tuple(grads)
