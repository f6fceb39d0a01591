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
    formulas = {"inputs": "A, B", "grads": ("dA = dZ @ Bᵀ", "dB = Aᵀ @ dZ")}
    derivation = "docs/derivations/linalg.md#the-2-d-case"
    fresh_grads = True

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
        sa, sb = ctx.input_shape(0), ctx.input_shape(1)
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
    formulas = {
        "inputs": "equation, X_i*",
        "grads": (
            None,
            "dX_i = einsum(out, other specs -> spec_i)(dZ, other X)",
        ),
    }
    derivation = "docs/derivations/linalg.md#einsum"

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
            shape = ctx.input_shape(i + 1)
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


# ---------------------------------------------------------------------------- inverse, det, solve
def _mT(x: Any) -> Any:
    """Transpose of the last two axes (arrays or Tensors)."""
    return x.swapaxes(-1, -2)


def _square(op: str, a: Any) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise op_error(op, f"expects square matrices (..., n, n), got shape {tuple(a.shape)}")


def _singular(op: str, a: Any) -> Exception:
    return op_error(op, f"the matrix of shape {tuple(a.shape)} (or one in the batch) is "
                    "singular: it has no inverse")


class Inv(Function):
    """``Z = A⁻¹`` for ``A: (..., n, n)``."""
    formulas = {"inputs": "A", "grads": ("dA = −Zᵀ @ dZ @ Zᵀ  (Z = A⁻¹)",)}
    derivation = "docs/derivations/linalg.md#inverse-determinant-and-solve"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a):
        _square("inv", a)
        try:
            z = xp_of(a).linalg.inv(a)
        except np.linalg.LinAlgError:
            raise _singular("inv", a) from None
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: differentiating ``A·Z = I`` gives ``dZ = −Z·dA·Z``, so
        ``⟨G, dZ⟩ = ⟨−Zᵀ·G·Zᵀ, dA⟩`` and ``dA = −Zᵀ·G·Zᵀ``. Shapes: all ``(..., n, n)``."""
        (z,) = ctx.saved_tensors
        zt = _mT(z)
        return -(zt @ g @ zt)


class SLogDet(Function):
    """``sign, log|det A|`` for ``A: (..., n, n)`` (no overflow for large matrices)."""
    formulas = {
        "inputs": "A",
        "grads": (
            "dA = d(logabsdet) · A⁻ᵀ  (sign: none)",
        ),
        "output": "sign, logabsdet",
    }
    derivation = "docs/derivations/linalg.md#inverse-determinant-and-solve"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a):
        _square("slogdet", a)
        sign, logabs = xp_of(a).linalg.slogdet(a)
        ctx.save_for_backward(a)
        return sign.astype(a.dtype), logabs.astype(a.dtype)

    @staticmethod
    def backward(ctx, _gsign, g):
        """VJP: ``d log|det A| = tr(A⁻¹·dA)`` (Jacobi's formula), so ``dA = g·A⁻ᵀ``
        (``g`` broadcast over each matrix); the sign is piecewise constant: no gradient.
        Shapes: ``g: (...)``, ``dA: (..., n, n)``."""
        (a,) = ctx.saved_tensors
        if g is None:
            return None
        ainv = a.inverse() if hasattr(a, "grad_fn") else xp_of(a).linalg.inv(a)
        return _mT(ainv) * g[..., None, None]


def _cofactor(a: Any) -> Any:
    """``cof(A) = ∂det A/∂A`` for any square ``A``, singular or not, from the SVD
    ``A = U·S·Vᵀ``: ``cof(A) = det(U)·det(V)·U·diag(Π_{j≠i} s_j)·Vᵀ`` (equal to
    ``det(A)·A⁻ᵀ`` when ``A`` is invertible)."""
    from .reduce import _others_prod

    xp = xp_of(a)
    u, s, vt = xp.linalg.svd(a)
    sgn = xp.linalg.det(u) * xp.linalg.det(vt)
    return (u * _others_prod(s)[..., None, :]) @ vt * sgn[..., None, None]


class Det(Function):
    """``z = det A`` for ``A: (..., n, n)``."""
    formulas = {"inputs": "A", "grads": ("dA = dz · adj(A)ᵀ = dz · z · A⁻ᵀ",), "output": "z"}
    derivation = "docs/derivations/linalg.md#inverse-determinant-and-solve"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a):
        _square("det", a)
        z = xp_of(a).linalg.det(a)
        ctx.save_for_backward(a, z)
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: Jacobi's formula ``d det A = tr(adj(A)·dA)`` gives ``dA = g·adj(A)ᵀ =
        g·det(A)·A⁻ᵀ``. The cofactor matrix ``adj(A)ᵀ`` is computed from the SVD, so a
        singular ``A`` (rank n−1) still gets its exact, nonzero gradient. Under
        ``create_graph`` the invertible form ``g·z·A⁻ᵀ`` is recorded.
        Shapes: ``g: (...)``, ``dA: (..., n, n)``."""
        a, z = ctx.saved_tensors
        if hasattr(a, "grad_fn"):
            return _mT(a.inverse()) * (g * z)[..., None, None]
        return _cofactor(a) * xp_of(a).asarray(g)[..., None, None]


class Solve(Function):
    """``X = A⁻¹·B``: the solution of ``A·X = B`` for ``A: (..., n, n)`` and ``B: (..., n,
    k)``, or vectors ``B: (n,)`` / ``A.shape[:-1]`` (as PyTorch); batch axes broadcast."""
    formulas = {
        "inputs": "A, B",
        "grads": (
            "dA = −(A⁻ᵀ @ dX) @ Xᵀ",
            "dB = A⁻ᵀ @ dX  (one solve with Aᵀ)",
        ),
        "output": "X",
    }
    derivation = "docs/derivations/linalg.md#inverse-determinant-and-solve"
    fresh_grads = True

    @staticmethod
    def forward(ctx, a, b):
        _square("solve", a)
        # a vector per matrix, as PyTorch: B is 1-D, or A's shape without its last axis
        vec = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
        bm = b[..., None] if vec else b
        if bm.shape[-2] != a.shape[-1]:
            raise op_error("solve", f"A of shape {tuple(a.shape)} and B of shape "
                           f"{tuple(b.shape)}: B must have {a.shape[-1]} rows")
        xp = xp_of(a)
        try:
            x = xp.linalg.solve(a, bm)
        except np.linalg.LinAlgError:
            raise _singular("solve", a) from None
        except ValueError as e:
            raise op_error("solve", f"A of shape {tuple(a.shape)} and B of shape "
                           f"{tuple(b.shape)}: {e}") from None
        ctx.save_for_backward(a, x)
        ctx.vec = vec
        return x[..., 0] if vec else x

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dX = A⁻¹·(dB − dA·X)``, so with ``G_B = A⁻ᵀ·G`` (one more solve, with the
        transposed matrix)::

            dB = A⁻ᵀ·G          dA = −G_B·Xᵀ

        (un-broadcast to the shapes of ``A`` and ``B``). Shapes: ``dA`` like ``A``, ``dB``
        like ``B``.
        """
        a, x = ctx.saved_tensors
        gm = g[..., None] if ctx.vec else g
        if hasattr(a, "grad_fn"):  # create_graph: record the solve
            gb = Solve.apply(_mT(a), gm)
        else:
            gb = xp_of(a).linalg.solve(_mT(a), gm)
        da = -(gb @ _mT(x))
        db = gb[..., 0] if ctx.vec else gb
        return (unbroadcast(da, ctx.input_shape(0)) if ctx.needs_input_grad[0] else None,
                unbroadcast(db, ctx.input_shape(1)) if ctx.needs_input_grad[1] else None)
