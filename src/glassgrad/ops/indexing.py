"""Indexing ops: ``x[idx]`` in all its NumPy forms, gather/take_along_dim, the
embedding lookup and the out-of-place write ``x[idx] = v`` (``IndexPut``).

Reading ``z = x[idx]`` copies some elements of ``x`` (maybe several times, with integer
array indices). Its VJP therefore *scatters* ``g`` back into a zero array of ``x``'s
shape, **adding** where an element was read more than once: ``dx = zeros; dx[idx] += g``
(``np.add.at``, since plain ``dx[idx] += g`` would keep only one of the duplicates).
The scatter and the gather are each other's VJP, which is what makes double backward
through indexing work.

Derivations: ``docs/derivations/indexing.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import is_array, np, xp_of
from ._util import is_tensor, op_error, unbroadcast


def _has_advanced(idx: Any) -> bool:
    """True when ``idx`` (one index or a tuple of them) holds an integer array, the case in
    which an element may be read several times and the scatter must add (``np.add.at``)."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    return any(is_array(i) and i.dtype != bool for i in idx)


def _scatter_add(g: Any, idx: tuple, shape: tuple) -> Any:
    xp = xp_of(g)
    dx = xp.zeros(shape, dtype=g.dtype)
    if _has_advanced(idx):
        if xp is np:
            np.add.at(dx, idx, g)
        else:  # pragma: no cover - CuPy
            xp.add.at(dx, idx, g)
    else:
        dx[idx] = g
    return dx


INDEX_ARG = type("IndexArg", (), {"__repr__": lambda self: "<index tensor>"})()
"""Marker in a ``GetItem`` key for an index passed as an extra input (``gg.capture``)."""


class GetItem(Function):
    """``z = x[idx]`` (slices, ints, None, Ellipsis, integer arrays, boolean masks).

    ``apply(x, idx, *index_arrays)``: entries of ``idx`` equal to :data:`INDEX_ARG` are
    taken, in order, from ``index_arrays`` (how ``gg.capture`` records tensor indices)."""
    formulas = {"inputs": "X, idx", "grads": ("dX = zeros(X.shape); dX[idx] += dZ", None)}
    derivation = "docs/derivations/indexing.md#reading-z--xidx"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, idx, *index_arrays):
        if index_arrays:
            it = iter(index_arrays)
            if idx is INDEX_ARG:
                idx = next(it)
            else:
                idx = tuple(next(it) if i is INDEX_ARG else i for i in idx)
        ctx.idx = idx
        try:
            return x[idx]
        except IndexError as e:
            raise op_error("getitem", f"index {_idx_str(idx)} is invalid for a tensor of shape "
                           f"{tuple(x.shape)}: {e}", IndexError) from None

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = zeros(x.shape); dx[idx] += g`` (adds up repeated indices)."""
        shape = ctx.input_shape(0)
        if hasattr(g, "grad_fn"):
            return IndexScatter.apply(g, ctx.idx, shape), None
        return _scatter_add(g, ctx.idx, shape), None


class IndexScatter(Function):
    """``z = zeros(shape); z[idx] += g`` — the VJP of indexing, as an op of its own."""
    formulas = {"inputs": "G, idx, shape", "grads": ("dG = dZ[idx]", None, None)}
    derivation = "docs/derivations/indexing.md#reading-z--xidx"

    @staticmethod
    def forward(ctx, g, idx, shape):
        ctx.idx = idx
        return _scatter_add(g, idx, shape)

    @staticmethod
    def backward(ctx, gg):
        """VJP: ``dg = gg[idx]`` (gather is the transpose of scatter)."""
        if hasattr(gg, "grad_fn"):
            return GetItem.apply(gg, ctx.idx), None, None
        return gg[ctx.idx], None, None


def _idx_str(idx: Any) -> str:
    parts = []
    for i in idx if isinstance(idx, tuple) else (idx,):
        if is_array(i):
            parts.append(f"array{tuple(i.shape)} {i.dtype}")
        else:
            parts.append(repr(i))
    return "[" + ", ".join(parts) + "]"


def normalize_index(idx: Any, Tensor: type) -> tuple:
    """Turn a user index into a tuple of slices/ints/None/Ellipsis/arrays."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
        if isinstance(i, Tensor):
            i = i.array
            if i.dtype.kind == "f":
                raise op_error(
                    "getitem", f"tensors used as indices must be integer or bool, got {i.dtype}",
                    IndexError,
                )
        elif isinstance(i, list):
            i = np.asarray(i)
            if i.dtype.kind == "f":
                raise op_error("getitem", "a list index must hold integers or bools", IndexError)
            i.flags.writeable = False  # a constant of the Python code (read-only: a recorder keeps it)
        out.append(i)
    return tuple(out)


class TakeAlong(Function):
    """``z = take_along_axis(x, index, dim)`` (``torch.gather``)."""
    formulas = {"inputs": "X, index, dim", "grads": ("dX = scatter_add(dZ at index along dim)", None, None)}
    derivation = "docs/derivations/indexing.md#gather-take_along_dim-and-its-scatter"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, index, dim):
        ctx.index, ctx.dim = index, dim
        try:
            return xp_of(x).take_along_axis(x, index, axis=dim)
        except (IndexError, ValueError) as e:
            raise op_error(
                "gather", f"index of shape {tuple(index.shape)} and input of shape "
                f"{tuple(x.shape)} along dim {dim}: {e}", IndexError,
            ) from None

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = zeros(x.shape)``, then ``dx[..index..] += g`` along ``dim``."""
        return scatter_along(g, ctx.index, ctx.dim, ctx.input_shape(0)), None, None


class ScatterAlong(Function):
    """``z = zeros(shape)`` with ``g`` added at ``index`` along ``dim`` (VJP of gather)."""
    formulas = {"inputs": "G, index, dim, shape", "grads": ("dG = gather(dZ, index, dim)", None, None, None)}
    derivation = "docs/derivations/indexing.md#gather-take_along_dim-and-its-scatter"
    fresh_grads = True

    @staticmethod
    def forward(ctx, g, index, dim, shape):
        ctx.index, ctx.dim = index, dim
        xp = xp_of(g)
        z = xp.zeros(shape, dtype=g.dtype)
        full = _along_index(index, dim)
        if xp is np:
            np.add.at(z, full, g)
        else:  # pragma: no cover
            xp.add.at(z, full, g)
        return z

    @staticmethod
    def backward(ctx, gg):
        """VJP: ``dg = take_along_axis(gg, index, dim)`` (``gg`` cut to the index's extent
        outside ``dim``: PyTorch lets the index be smaller than the output there)."""
        index, dim = ctx.index, ctx.dim
        if any(a != dim and s != gg.shape[a] for a, s in enumerate(index.shape)):
            gg = gg[tuple(slice(None) if a == dim else slice(0, s)
                          for a, s in enumerate(index.shape))]
        if hasattr(gg, "grad_fn"):
            return TakeAlong.apply(gg, ctx.index, ctx.dim), None, None, None
        return xp_of(gg).take_along_axis(gg, ctx.index, axis=ctx.dim), None, None, None


def _along_index(index: Any, dim: int) -> tuple:
    """Full fancy index equivalent to ``take_along_axis(..., index, dim)``."""
    xp = xp_of(index)
    nd = index.ndim
    grids = []
    for ax in range(nd):
        if ax == dim:
            grids.append(index)
        else:
            shp = [1] * nd
            shp[ax] = index.shape[ax]
            grids.append(xp.arange(index.shape[ax]).reshape(shp))
    return tuple(xp.broadcast_arrays(*grids))


def scatter_along(g: Any, index: Any, dim: int, shape: tuple) -> Any:
    """Add ``g`` into zeros of ``shape`` at ``index`` along ``dim`` (arrays or Tensors)."""
    if hasattr(g, "grad_fn"):
        return ScatterAlong.apply(g, index, dim, shape)
    xp = xp_of(g)
    z = xp.zeros(shape, dtype=g.dtype)
    if index.shape[dim] == 1 and index.shape == g.shape:
        # one index per row (max/min, cross-entropy): no duplicates, plain assignment
        xp.put_along_axis(z, index, g, axis=dim)
        return z
    np.add.at(z, _along_index(index, dim), g)
    return z


class Tri(Function):
    """``z = tril(x, k)`` (``upper=False``: keep ``j − i ≤ k``) or ``triu(x, k)`` (keep
    ``j − i ≥ k``) over the last two axes; the other elements become 0."""
    formulas = {"inputs": "X, k, upper", "grads": ("dX = tril(dZ, k)  (triu: triu(dZ, k))", None, None)}
    derivation = "docs/derivations/indexing.md#tril-and-triu"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, k, upper):
        ctx.k, ctx.upper = k, upper
        xp = xp_of(x)
        return xp.triu(x, k) if upper else xp.tril(x, k)

    @staticmethod
    def backward(ctx, g):
        """VJP: the Jacobian is diagonal, 1 on the kept positions and 0 elsewhere, so
        ``dx = tril(g, k)`` (or ``triu``): the same mask. Shapes: all like ``x``."""
        if hasattr(g, "grad_fn"):
            return Tri.apply(g, ctx.k, ctx.upper), None, None
        xp = xp_of(g)
        return (xp.triu(g, ctx.k) if ctx.upper else xp.tril(g, ctx.k)), None, None


# ---------------------------------------------------------------------------- embedding
class Embedding(Function):
    """``Z = W[idx]``: row lookup, ``W: (num_embeddings, dim)``, ``idx`` integers of any
    shape, ``Z: idx.shape + (dim,)``."""
    formulas = {"inputs": "W, idx, padding_idx", "grads": ("dW = zeros(W.shape); dW[idx] += dZ", None, None)}
    derivation = "docs/derivations/indexing.md#embedding"
    fresh_grads = True

    @staticmethod
    def forward(ctx, w, idx, padding_idx):
        if idx.dtype.kind not in "iu":
            raise op_error("embedding", f"indices must be an integer tensor, got {idx.dtype}",
                           TypeError)
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= w.shape[0]):
            raise op_error("embedding", f"index out of range: indices in [{int(idx.min())}, "
                           f"{int(idx.max())}] for num_embeddings={w.shape[0]}", IndexError)
        ctx.idx, ctx.padding_idx = idx, padding_idx
        return w[idx]

    @staticmethod
    def backward(ctx, g):
        """VJP: ``δW = zeros; δW[idx] += δZ`` (rows read several times add up); the
        ``padding_idx`` row gets no gradient (it stays fixed, as in PyTorch)."""
        shape = ctx.input_shape(0)
        idx, pad = ctx.idx, ctx.padding_idx
        if is_tensor(g):

            dw = IndexScatter.apply(g.reshape((-1, shape[1])), idx.reshape(-1), shape)
            if pad is not None:
                mask = np.ones((shape[0], 1), dtype=g.dtype)
                mask[pad] = 0
                dw = dw * mask
            return dw, None, None
        xp = xp_of(g)
        dw = xp.zeros(shape, dtype=g.dtype)
        xp.add.at(dw, idx.reshape(-1), g.reshape(-1, shape[1]))  # repeated rows add up
        if pad is not None:
            dw[pad] = 0
        return dw, None, None


class IndexPut(Function):
    """``z = x`` with ``z[idx] = v`` (the out-of-place form of ``x[idx] = v``)."""
    formulas = {
        "inputs": "X, idx, V",
        "grads": (
            "dX = dZ with zeros at idx",
            None,
            "dV = unbroadcast(dZ[idx], V.shape)",
        ),
    }
    derivation = "docs/derivations/indexing.md#writing-xidx--v-out-of-place"
    # dX is a new array; dV may be a view of dZ (dZ[idx] with a basic index)
    fresh_grads = (True, False, False)

    @staticmethod
    def forward(ctx, x, idx, v):
        z = x.copy()
        z[idx] = v
        ctx.idx = idx
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g`` with zeros at ``idx``; ``dv = unbroadcast(g[idx], v.shape)``."""
        dx = dv = None
        if ctx.needs_input_grad[0]:
            if hasattr(g, "grad_fn"):
                mask = np.ones(g.shape, dtype=bool)
                mask[ctx.idx] = False
                dx = g * mask
            else:
                dx = g.copy()
                dx[ctx.idx] = 0
        if ctx.needs_input_grad[2]:
            dv = unbroadcast(g[ctx.idx], ctx.input_shape(2))
        return dx, None, dv
