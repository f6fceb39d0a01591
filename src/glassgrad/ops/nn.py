"""Fused neural-network ops: one graph node per layer, with the backward derived by hand.

Each layer below could be written with primitive ops (``x @ W.T + b``,
``log_softmax`` then gather, ``(x - mean) / sqrt(var + eps)``...), and the tests check
that the fused op gives the same values and gradients as that composition and as
PyTorch. Fusing saves memory and time: one node instead of five to twenty, and the
backward uses the closed-form result instead of chaining the pieces.

==================  ============================================================
op                  forward → backward (δ = dL/d(output))
==================  ============================================================
``Linear``          ``Z = X·Wᵀ + b`` → ``δX = δZ·W``, ``δW = δZᵀ·X``, ``δb = Σ_rows δZ``
``CrossEntropy``    ``L = -Σ log softmax(X)[y]`` → ``δX = (softmax(X) − onehot(y))·δL``
``BatchNorm``       ``y = γ x̂ + β``, ``x̂ = (x − μ_B)/σ_B`` → ``δx = γ/(Nσ)(Nδy − Σδy − x̂Σδy x̂)``
``LayerNorm``       same as BatchNorm over the last dims of each sample
``Embedding``       ``Z = W[idx]`` → ``δW[i] = Σ_{idx = i} δZ`` (padding row: 0)
``LogSigmoid``      ``z = −softplus(−x)`` → ``δx = δz·σ(−x)``
==================  ============================================================

Under ``create_graph=True`` every backward here runs its formula on Tensors (it
recomputes ``softmax`` / ``x̂`` from the input Tensor), so double backward works.

Derivations: ``docs/derivations/nn.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import np, xp_of
from . import _dual as D
from ._util import cached_constant, cached_ones, op_error, scaled_sum_sq, sum_rows

__all__ = ["Linear", "CrossEntropy", "BatchNorm", "LayerNorm", "Embedding", "LogSigmoid"]


def _is_t(x: Any) -> bool:
    return hasattr(x, "grad_fn")


def _perm(x: Any, perm: tuple) -> Any:
    return x.permute(perm) if _is_t(x) else x.transpose(perm)


# ---------------------------------------------------------------------------- linear
def _lead(shape: tuple) -> int:
    """The number of rows when the leading dims are folded (``-1`` is ambiguous when a
    dim is 0)."""
    n = 1
    for s in shape[:-1]:
        n *= s
    return n


class Linear(Function):
    """``Z = X·Wᵀ + b`` with ``X: (..., in)``, ``W: (out, in)``, ``b: (out,)``, ``Z: (..., out)``.

    Leading dimensions of ``X`` are folded into the rows of one matrix ``X₂: (N, in)``
    (a view, no copy), so the forward is a single GEMM plus an in-place bias add.
    """
    formulas = {
        "inputs": "X, W, b",
        "grads": (
            "dX = dY @ W",
            "dW = dYᵀ @ X",
            "db = sum_rows(dY)",
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/nn.md#linear"

    @staticmethod
    def forward(ctx, x, w, b=None):
        if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
            raise op_error("linear", f"input dtype {x.dtype}, weight dtype {w.dtype}"
                           + (f" and bias dtype {b.dtype}" if b is not None else "")
                           + " must be the same (cast with .to(dtype) / model.double())",
                           TypeError)
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise op_error("linear", f"input of shape {tuple(x.shape)} does not match weight of "
                           f"shape {tuple(w.shape)}: expected input (..., {w.shape[-1]}) and "
                           "weight (out_features, in_features)")
        if b is not None and b.shape != (w.shape[0],):
            raise op_error("linear", f"bias of shape {tuple(b.shape)} does not match weight "
                           f"{tuple(w.shape)}: expected ({w.shape[0]},)")
        ctx.save_for_backward(x, w)
        if x.ndim == 2:
            z = x @ w.T
        else:
            z = (x.reshape(_lead(x.shape), x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
        if b is not None:
            z += b
        return z

    @staticmethod
    def backward(ctx, g):
        """VJP, with ``X₂: (N, in)`` and ``G₂ = δZ: (N, out)`` (leading dims folded)::

            Z_nj = Σ_i X_ni W_ji + b_j
            δX = δZ·W      (N, out)·(out, in) -> (N, in)
            δW = δZᵀ·X     (out, N)·(N, in)   -> (out, in)
            δb = Σ_n δZ_n  (out,)

        Three BLAS calls; written with ``@``/``.T``/``.sum`` so that it also runs on
        Tensors (double backward).
        """
        x, w = ctx.saved_tensors
        k, o = w.shape[1], w.shape[0]
        need = ctx.needs_input_grad
        x2 = x if x.ndim == 2 else x.reshape((_lead(x.shape), k))
        g2 = g if g.ndim == 2 else g.reshape((_lead(g.shape), o))
        dx = dw = db = None
        if need[0]:
            dx = g2 @ w
            if x.ndim != 2:
                dx = dx.reshape(ctx._in_meta[0][0])
        if need[1]:
            dw = g2.T @ x2
        if len(need) > 2 and need[2]:
            db = sum_rows(g2)  # ones(N)·δZ: one BLAS GEMV
        return dx, dw, db


# ---------------------------------------------------------------------------- cross-entropy
def _rows_perm(ndim: int) -> tuple:
    """Permutation moving the class axis (1) last: (N, C, d1..) -> (N, d1.., C)."""
    return (0,) + tuple(range(2, ndim)) + (1,)


def _to_rows(x: Any, ndim: int, C: int) -> Any:
    """(C,) -> (1, C); (N, C) as is; (N, C, d1, ...) -> (N·d1·..., C)."""
    if ndim == 2:
        return x
    if ndim == 1:
        return x.reshape((1, C))
    return _perm(x, _rows_perm(ndim)).reshape((-1, C))


def _from_rows(g2: Any, shape: tuple) -> Any:
    nd = len(shape)
    if nd == 2:
        return g2
    if nd == 1:
        return g2.reshape(shape)
    perm = _rows_perm(nd)
    inv = tuple(int(i) for i in np.argsort(perm))
    return _perm(g2.reshape((shape[0],) + shape[2:] + (shape[1],)), inv)


_UNSIGNED = {np.dtype(t): np.dtype(t.replace("int", "uint"))
             for t in ("int8", "int16", "int32", "int64")}


def _unsigned(y: Any) -> Any:
    """Signed integer targets viewed (no copy) as unsigned integers of the same width."""
    u = _UNSIGNED.get(y.dtype)
    return y if u is None else y.view(u)


_ARANGE: dict = {}
_EYE: dict = {}
_ONEHOT_MAX_C = 256  # one-hot rows come from a cached identity matrix up to this many classes


def _arange(xp: Any, n: int) -> Any:
    """``arange(n)`` (the row indices of a batch), cached read-only for NumPy."""
    if xp is not np:
        return xp.arange(n)
    return cached_constant(_ARANGE, n, np.arange, n)


def _onehot(yi: Any, C: int, dtype: Any) -> Any | None:
    """``onehot(yi)``, ``(M, C)``, as rows taken from a cached identity matrix (one fast
    ``take`` instead of a scattered ``G[rows, y] -= 1``); None for NumPy-foreign arrays or
    many classes (C > 256), where the identity matrix would be large."""
    if C > _ONEHOT_MAX_C or type(yi) is not np.ndarray:
        return None
    return cached_constant(_EYE, (C, dtype), np.eye, C, dtype=dtype).take(yi, axis=0)


def class_targets(op: str, yr: Any, C: int, ignore_index: int | None,
                  shape: tuple) -> tuple[Any, Any]:
    """Check flat class-index targets ``yr`` against ``C`` classes; return ``(yi, valid)``.

    ``valid`` is None when no target equals ``ignore_index``, else the bool mask of the
    others, and ``yi`` has the ignored targets replaced by 0 (any class: their loss is
    masked). Any other target outside ``[0, C)`` raises an ``IndexError`` naming ``op``
    and the input ``shape``.
    """
    if yr.shape[0] and (ignore_index is None or not 0 <= ignore_index < C) and int(
            _unsigned(yr).max()) < C:
        # Fast path: one pass checks 0 <= y < C (the targets viewed as unsigned integers:
        # a negative target, such as the default ignore_index -100, becomes huge)
        return yr, None
    valid = None
    yi = yr
    if ignore_index is not None:
        vm = yr != ignore_index
        if not vm.all():
            valid = vm
            yi = xp_of(yr).where(vm, yr, 0)
    bad = (yi < 0) | (yi >= C)
    if bad.any():
        raise op_error(op, f"target {int(yr[bad][0])} is out of bounds: class indices must be "
                       f"in [0, {C}) for input of shape {tuple(shape)}"
                       + (f" (or equal ignore_index={ignore_index})"
                          if ignore_index is not None else ""), IndexError)
    return yi, valid


class CrossEntropy(Function):
    """Softmax cross-entropy with class-index targets, in one node.

    ``x: (N, C)``, ``(N, C, d1, ...)`` or ``(C,)`` logits; ``y``: integer class indices of
    shape ``(N, d1, ...)`` (or ``()``). Every position ``i`` (a sample, or a sample and
    spatial location) is one row of ``C`` logits. With ``logp = log_softmax(x)``, class
    weights ``w`` (all 1 by default), label smoothing ``ε`` and ``valid_i = [y_i ≠
    ignore_index]``::

        ℓ_i = valid_i · [ (1−ε)·w_{y_i}·(−logp_{i,y_i}) + (ε/C)·Σ_c w_c·(−logp_ic) ]
        mean: L = Σ_i ℓ_i / Σ_i valid_i·w_{y_i}     sum: L = Σ_i ℓ_i     none: L_i = ℓ_i

    which is PyTorch's definition, including its weighted mean. The forward computes the
    softmax once (max-shifted, so logits of size 1e4 are fine) and keeps it for backward.
    """
    formulas = {
        "inputs": "X, y, weight, ignore_index, label_smoothing, reduction",
        "grads": (
            "dX = dL ⊙ (softmax(X) − onehot(y)) / N",
            None, None, None, None, None,
        ),
        "output": "L",
    }
    derivation = "docs/derivations/softmax_cross_entropy.md#why-softmax--cross-entropy-collapses-to-p--y"

    @staticmethod
    def forward(ctx, x, y, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        if (weight is None and not label_smoothing and reduction == "mean" and x.ndim == 2
                and 0 < x.shape[1] <= _ONEHOT_MAX_C and x.shape[0] and type(x) is np.ndarray
                and (ignore_index is None or not 0 <= ignore_index < x.shape[1])
                and y.ndim == 1 and int(_unsigned(y).max()) < x.shape[1]):
            return CrossEntropy._plain_forward(ctx, x, y)
        xp = xp_of(x)
        shape = x.shape
        C = shape[1] if x.ndim >= 2 else shape[0]
        x2 = _to_rows(x, x.ndim, C)
        M = x2.shape[0]
        yr = y.reshape(-1)
        eps = float(label_smoothing)
        m = x2.max(axis=1, keepdims=True) if M else xp.zeros((0, 1), x.dtype)
        s = x2 - m  # shifted logits, (M, C): the only (M, C) array allocated
        rows = _arange(xp, M)
        yi, valid = class_targets("cross_entropy", yr, C, ignore_index, shape)
        s_y = s[rows, yi]  # shifted logit of the target
        if eps:  # Σ_c w_c·s_ic, needed before s turns into the softmax below
            s_w = s @ weight if weight is not None else s.sum(axis=1)
        p = xp.exp(s, out=s)
        se = p.sum(axis=1, keepdims=True)
        lse = xp.log(se)  # log Σ exp(s)
        p /= se  # softmax, computed once (in place), kept for backward
        nll = lse[:, 0] - s_y  # −logp at the target, (M,)
        if valid is not None:  # ignored rows count for nothing, even if they hold nan/inf
            nll = xp.where(valid, nll, 0)
        # coefficient of the one-hot part per row, and of the softmax part
        if weight is not None:
            wy = weight[yi]
            if valid is not None:
                wy = wy * valid
        else:
            wy = valid.astype(x.dtype) if valid is not None else None
        if wy is None:
            loss = nll * (1 - eps) if eps else nll
        else:
            loss = nll * ((1 - eps) * wy)
        if eps:
            # −Σ_c w_c logp_ic = lse·Σ_c w_c − Σ_c w_c s_ic
            sm = lse[:, 0] * (weight.sum() if weight is not None else C) - s_w
            if valid is not None:
                sm = xp.where(valid, sm, 0)
            loss = loss + (eps / C) * sm
        if reduction == "mean":
            denom = (wy.sum() if wy is not None else M)
            # every target ignored: 0/0 = nan, as PyTorch
            out = loss.sum() / denom if denom != 0 else np.nan
        elif reduction == "sum":
            out = loss.sum()
            denom = 1
        else:
            out = loss.reshape(y.shape)
            denom = 1
        ctx.save_for_backward(x)
        ctx.p, ctx.yi, ctx.valid, ctx.wy, ctx.eps, ctx.rows = p, yi, valid, wy, eps, rows
        ctx.weight, ctx.reduction, ctx.denom, ctx.C = weight, reduction, denom, C
        return xp.asarray(out, dtype=x.dtype)

    @staticmethod
    def _plain_forward(ctx, x, y):
        """The textbook case: ``x: (N, C)`` NumPy logits, every target in ``[0, C)``, mean::

            s = x − max_c x          (shifted logits: exp cannot overflow)
            p = exp(s) / Σ_c exp(s)  (softmax, kept for backward)
            L = (1/N) Σ_i [log Σ_c exp(s_ic) − s_{i,y_i}]

        ``t = onehot(y)`` (rows of a cached identity, kept for backward) gives
        ``Σ_i s_{i,y_i} = ⟨s, t⟩`` as one dot product, and the row sums are one GEMV with a
        column of ones: on small rows both cost less than the gather and the ``keepdims``
        reduction they replace. ``_plain_backward`` is its VJP.
        """
        n, C = x.shape
        t = _onehot(y, C, x.dtype)
        s = x - x.max(axis=1, keepdims=True)
        s_y = float(np.vdot(s, t))  # Σ_i s_{i,y_i}
        if s_y != s_y:  # nan: some logit is -inf, and -inf·0 is nan in the dot product
            s_y = float(s[_arange(np, n), y].sum())
        p = np.exp(s, out=s)
        se = p @ cached_ones((C, 1), x.dtype)
        p /= se
        # both sums are of non-negative terms (log Σ exp(s) ≥ 0, −s ≥ 0): no cancellation
        loss = (float(np.log(se).sum()) - s_y) / n
        ctx.save_for_backward(x)
        ctx.p, ctx.onehot, ctx.yi, ctx.plain = p, t, y, True
        return np.asarray(loss, dtype=x.dtype)

    @staticmethod
    def _plain_backward(ctx, g):
        """VJP of ``_plain_forward``: ``δx = (p − onehot(y))·g/N`` — ``(N, C)``."""
        p = ctx.p
        G = p - ctx.onehot
        G *= p.dtype.type(float(g) / p.shape[0])
        return G, None

    @staticmethod
    def backward(ctx, g):
        """VJP. Per row, ``∂ℓ_i/∂x_ik = a_i·p_ik − q_ik`` with ``p = softmax(x_i)``::

            a_i  = valid_i·[(1−ε)·w_{y_i} + (ε/C)·Σ_c w_c]
            q_ik = valid_i·[(1−ε)·w_{y_i}·[k = y_i] + (ε/C)·w_k]

        (for ``−logp_iy``: ``∂/∂x_k = p_k − [k = y]``; for ``−Σ_c w_c logp_c``:
        ``(Σ_c w_c)·p_k − w_k``). Plain case: ``δx = (p − onehot(y))·g/N``.
        The result is scaled by ``g/denominator`` (mean), ``g`` (sum) or ``g_i`` (none).
        Shapes: ``δx`` like ``x``; no gradient for the targets or weights.
        """
        if "plain" in ctx.__dict__:
            if not ctx.create_graph:
                return CrossEntropy._plain_backward(ctx, g)
            ctx.C, ctx.eps, ctx.wy, ctx.valid, ctx.weight = ctx.p.shape[1], 0.0, None, None, None
            ctx.reduction, ctx.denom, ctx.rows = "mean", ctx.p.shape[0], _arange(np, ctx.p.shape[0])
        shape = ctx._in_meta[0][0]
        C, eps, wy, valid, yi = ctx.C, ctx.eps, ctx.wy, ctx.valid, ctx.yi
        M = yi.shape[0]
        w = ctx.weight
        if ctx.reduction == "none":
            scale = g.reshape((-1, 1))
        else:
            # all targets ignored (denominator 0): every row is masked, the gradient is 0
            denom = ctx.denom
            if type(denom) is int and denom > 1 and type(g) is np.ndarray and not g.ndim:
                scale = g.dtype.type(float(g) / denom)  # a scalar: no 0-d array arithmetic
            else:
                scale = g / denom if denom not in (0, 1) else (g if denom else g * 0)
        coef_y = (1 - eps) if wy is None else (1 - eps) * wy
        if eps:
            wsum = float(w.sum()) if w is not None else float(C)
            vm = 1.0 if valid is None else valid.astype(ctx.p.dtype)
            a = coef_y + (eps / C) * wsum * vm
        else:
            a = coef_y
        if ctx.create_graph:
            (x,) = ctx.saved_tensors
            p = _to_rows(x, len(shape), C).softmax(-1)
            xp = xp_of(ctx.p)
            q = xp.zeros((M, C), dtype=ctx.p.dtype)
            q[ctx.rows, yi] = coef_y
            if eps:
                wv = w if w is not None else 1.0
                q += (eps / C) * (xp.ones((M, 1), dtype=q.dtype) if valid is None
                                  else valid[:, None]) * wv
            a_col = a[:, None] if not isinstance(a, float) else a
            G = (p * a_col - q) * scale
            if valid is not None:  # ignored rows: 0, also where they hold nan
                G = D.where(valid[:, None], G, D.zeros_like(G))
            return _from_rows(G, shape), None
        xp = xp_of(ctx.p)
        p = ctx.p
        oh = _onehot(yi, C, p.dtype) if wy is None and not eps else None
        if oh is not None:  # the plain case: δx = (p − onehot(y))·scale
            G = p - oh
        else:
            G = p.copy() if isinstance(a, float) and a == 1.0 else p * (
                a if isinstance(a, float) else a[:, None])
            G[ctx.rows, yi] -= coef_y
        if eps:
            wv = w if w is not None else 1.0
            if valid is None:
                G -= (eps / C) * wv
            else:
                G -= (eps / C) * valid[:, None] * wv
        if valid is not None:
            G[~valid] = 0  # ignored rows do not depend on x (and may hold nan)
        G *= scale
        return _from_rows(G, shape), None


# ---------------------------------------------------------------------------- normalization
def _stats(x: Any, axes: tuple, eps: float, full: bool = False) -> tuple:
    """``(x̂, σ⁻¹)`` over ``axes`` (biased variance, as the normalization layers use);
    works on arrays and on Tensors. ``full`` adds the mean and the variance."""
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    t, s = scaled_sum_sq(xc, axes)  # Σ(x − μ)² = t·s², scaled where it would overflow
    n = 1
    for a in axes:
        n *= xc.shape[a]
    if isinstance(s, float):
        var = t * (1.0 / n) if n else t  # (no elements: an empty result)
        inv = (var + eps) ** -0.5
    else:  # var = s²·t/n overflows (near 1e30 in float32) but x̂ = (x − μ)/s · (t/n + eps/s²)^-½
        with np.errstate(over="ignore", under="ignore"):
            v = t * (1.0 / n)
            inv = (v + eps / s / s) ** -0.5 / s
            var = v * s * s
    if full:
        return xc * inv, inv, mean, var
    return xc * inv, inv


def _same_dtype(op: str, x: Any, weight: Any, bias: Any) -> None:
    for nm, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise op_error(op, f"input dtype {x.dtype} and {nm} dtype {t.dtype} must be the same "
                           "(cast the module with .to(dtype) / .double(), or the input)", TypeError)


def _norm_backward(dxh: Any, xh: Any, inv: Any, axes: tuple, n: int) -> Any:
    """``δx = σ⁻¹/n · (n·δx̂ − Σ δx̂ − x̂·Σ(δx̂ ⊙ x̂))`` (sums over the normalized axes).

    Derivation: ``x̂ = (x − μ)σ⁻¹``; the three paths from ``x`` to ``x̂`` (direct,
    through ``μ``, through ``σ``) give ``∂x̂_j/∂x_i = σ⁻¹(δ_ij − 1/n − x̂_i x̂_j / n)``.
    """
    s1 = dxh.sum(axis=axes, keepdims=True)
    s2 = (dxh * xh).sum(axis=axes, keepdims=True)
    return (dxh * n - s1 - xh * s2) * (inv * (1.0 / max(n, 1)))


class BatchNorm(Function):
    """Batch normalization over ``x: (N, C, *)`` per channel ``C``.

    Training (batch statistics over ``N`` and the spatial axes, ``n`` values per channel)::

        μ = mean(x), σ² = mean((x − μ)²)  (biased), x̂ = (x − μ)/√(σ² + eps)
        y = γ·x̂ + β            γ, β: (C,)

    and the running statistics are updated in place: ``r_μ ← (1−m)·r_μ + m·μ``,
    ``r_σ² ← (1−m)·r_σ² + m·σ²·n/(n−1)`` (unbiased, as PyTorch). Evaluation uses
    ``r_μ``, ``r_σ²`` (constants) instead of the batch statistics.
    """
    formulas = {
        "inputs": "X, γ, β, running_mean, running_var, use_batch_stats, momentum, eps, num_batches",
        "grads": (
            "dX = γ/(Nσ) ⊙ (N·dY − sum(dY) − X̂ ⊙ sum(dY ⊙ X̂))",
            "dγ = sum(dY ⊙ X̂)",
            "dβ = sum(dY)",
            None, None, None, None, None, None,
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/nn.md#batch-normalization-training-mode"

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, use_batch_stats, momentum, eps,
                num_batches=None):
        # num_batches: the module's 0-d counter of training batches, counted here (in the
        # op, so that a captured function counts on every replay); momentum None = the
        # cumulative average, r ← r + (batch_stat − r)/num_batches
        if use_batch_stats and num_batches is not None:
            num_batches += 1
            if momentum is None:
                momentum = 1.0 / float(num_batches)
        if momentum is None:
            momentum = 0.0
        if x.ndim < 2:
            raise op_error("batch_norm", f"expected input of shape (N, C, ...), got {tuple(x.shape)}")
        C = x.shape[1]
        for nm, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                      ("running_var", running_var)):
            if t is not None and t.shape != (C,):
                raise op_error("batch_norm", f"{nm} of shape {tuple(t.shape)} does not match "
                               f"input {tuple(x.shape)}: expected ({C},) (one per channel)")
        _same_dtype("batch_norm", x, weight, bias)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, C) + (1,) * (x.ndim - 2)
        n = 1
        for a in axes:
            n *= x.shape[a]
        if use_batch_stats:
            if n == 1:
                raise op_error("batch_norm", "expected more than 1 value per channel when "
                               f"training, got input of shape {tuple(x.shape)}")
            xh, inv, mean, var = _stats(x, axes, eps, full=True)
            if running_mean is not None:
                var_u = var.reshape(C) * (n / (n - 1))  # unbiased, as PyTorch's running_var
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(C).astype(running_mean.dtype, copy=False)
                running_var *= 1 - momentum
                running_var += momentum * var_u.astype(running_var.dtype, copy=False)
        else:
            inv = ((running_var + eps) ** -0.5).astype(x.dtype, copy=False).reshape(bshape)
            xh = (x - running_mean.reshape(bshape).astype(x.dtype, copy=False)) * inv
        ctx.axes, ctx.bshape, ctx.n, ctx.eps = axes, bshape, n, eps
        ctx.batch = use_batch_stats
        ctx.xh, ctx.inv = xh, inv
        if not use_batch_stats:
            ctx.rm = running_mean.reshape(bshape).astype(x.dtype)
        ctx.save_for_backward(x, weight)
        y = xh * weight.reshape(bshape) if weight is not None else xh.copy()
        if bias is not None:
            y += bias.reshape(bshape)
        return y

    @staticmethod
    def backward(ctx, g):
        """VJP (sums over ``N`` and spatial axes, ``n`` elements per channel)::

            δβ = Σ δy             δγ = Σ δy ⊙ x̂
            training: δx = γσ⁻¹/n · (n·δy − Σδy − x̂·Σ(δy ⊙ x̂))
            eval:     δx = γσ⁻¹ · δy            (running statistics are constants)
        """
        x, w = ctx.saved_tensors
        axes, bshape = ctx.axes, ctx.bshape
        if ctx.create_graph:
            if ctx.batch:
                xh, inv = _stats(x, axes, ctx.eps)
            else:
                inv = ctx.inv
                xh = (x - ctx.rm) * inv
        else:
            xh, inv = ctx.xh, ctx.inv
        need = ctx.needs_input_grad
        dx = dw = db = None
        if need[0]:
            dxh = g * w.reshape(bshape) if w is not None else g
            dx = _norm_backward(dxh, xh, inv, axes, ctx.n) if ctx.batch else dxh * inv
        if need[1]:
            dw = (g * xh).sum(axis=axes)
        if need[2]:
            db = g.sum(axis=axes)
        return dx, dw, db, None, None, None, None, None


class LayerNorm(Function):
    """Layer normalization over the last ``k`` axes of ``x`` (per sample)::

        x̂ = (x − μ)/√(σ² + eps)   (μ, σ² over the last k axes; biased variance)
        y = γ ⊙ x̂ + β            γ, β: x.shape[-k:]
    """
    formulas = {
        "inputs": "X, γ, β, k, eps",
        "grads": (
            "dX = 1/(nσ) ⊙ (n·dX̂ − sum(dX̂) − X̂ ⊙ sum(dX̂ ⊙ X̂)), dX̂ = dY ⊙ γ",
            "dγ = sum_rows(dY ⊙ X̂)",
            "dβ = sum_rows(dY)",
            None, None,
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/nn.md#layer-normalization"

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        nshape = x.shape[x.ndim - k:]
        if x.ndim < k or (weight is not None and weight.shape != nshape) or (
                bias is not None and bias.shape != nshape):
            raise op_error("layer_norm", f"input of shape {tuple(x.shape)} with weight "
                           f"{None if weight is None else tuple(weight.shape)}: the last {k} "
                           "dims of the input must equal normalized_shape = weight.shape")
        _same_dtype("layer_norm", x, weight, bias)
        axes = tuple(range(x.ndim - k, x.ndim))
        xh, inv = _stats(x, axes, eps)
        n = 1
        for s in nshape:
            n *= s
        ctx.axes, ctx.n, ctx.eps, ctx.xh, ctx.inv = axes, n, eps, xh, inv
        ctx.save_for_backward(x, weight)
        y = xh * weight if weight is not None else xh.copy()
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, g):
        """VJP (``n`` = number of normalized elements per sample, sums over them)::

            δx̂ = δy ⊙ γ
            δx = σ⁻¹/n · (n·δx̂ − Σδx̂ − x̂·Σ(δx̂ ⊙ x̂))
            δγ = Σ_samples δy ⊙ x̂     δβ = Σ_samples δy
        """
        x, w = ctx.saved_tensors
        axes = ctx.axes
        if ctx.create_graph:
            xh, inv = _stats(x, axes, ctx.eps)
        else:
            xh, inv = ctx.xh, ctx.inv
        need = ctx.needs_input_grad
        lead = tuple(range(len(ctx._in_meta[0][0]) - len(axes)))
        dx = dw = db = None
        if need[0]:
            dxh = g * w if w is not None else g
            dx = _norm_backward(dxh, xh, inv, axes, ctx.n)
        if need[1]:
            dw = (g * xh).sum(axis=lead) if lead else g * xh
        if need[2]:
            db = g.sum(axis=lead) if lead else g
        return dx, dw, db, None, None


# ---------------------------------------------------------------------------- embedding
class Embedding(Function):
    """``Z = W[idx]``: row lookup, ``W: (num_embeddings, dim)``, ``idx`` integers of any
    shape, ``Z: idx.shape + (dim,)``."""
    formulas = {"inputs": "W, idx, padding_idx", "grads": ("dW = zeros(W.shape); dW[idx] += dZ", None, None)}
    derivation = "docs/derivations/indexing.md#embedding"

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
        shape = ctx._in_meta[0][0]
        idx, pad = ctx.idx, ctx.padding_idx
        if _is_t(g):
            from .indexing import IndexScatter

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


# ---------------------------------------------------------------------------- dropout
def dropout_mask(x: Any, p: float, mask_shape: tuple | None, generator: Any) -> Any:
    """The multiplier ``m = [u ≥ p]/(1−p)`` of (inverted) dropout on ``x``, on ``x``'s
    device and in its dtype: one ``u ~ U(0, 1)`` per element (``mask_shape=None``, drawn in
    ``x``'s float dtype) or per entry of ``mask_shape`` (channel dropout: ``(N, C, 1, …)``,
    drawn in float64); zeros when ``p = 1`` (nothing drawn)."""
    from ..random import _rng

    dt = x.dtype
    if mask_shape is None:
        if p == 1.0:
            m = np.zeros(x.shape, dtype=dt)
        else:
            draw = dt if dt in (np.float32, np.float64) else np.float32
            m = (_rng(generator).random(x.shape, dtype=draw) >= p).astype(dt)
            m *= 1.0 / (1.0 - p)
    elif p == 1.0:
        m = np.zeros(mask_shape, dtype=dt)
    else:
        m = ((_rng(generator).random(mask_shape) >= p) / (1.0 - p)).astype(dt)
    return m if xp_of(x) is np else xp_of(x).asarray(m)


class Dropout(Function):
    """Inverted dropout ``y = x ⊙ m``, the mask drawn in the forward (one op, so that a
    captured function draws a new mask on every replay).

    Element dropout (``mask_shape=None``): ``m_i = [u_i ≥ p]/(1−p)``, ``u ~ U(0, 1)`` of
    ``x``'s shape (drawn in ``x``'s float dtype). Channel dropout: ``mask_shape`` is
    ``(N, C, 1, …)`` and one ``u`` per channel, broadcast over the spatial axes.
    ``p = 1`` gives a zero mask (nothing drawn). ``generator`` is a ``gg.Generator`` or
    None (the default one), looked up on every call.
    """
    formulas = {
        "inputs": "X, p, mask_shape, generator",
        "grads": (
            "dX = dY ⊙ m  (m = [u ≥ p]/(1−p), the mask the forward drew)",
            None, None, None,
        ),
        "output": "Y",
    }
    derivation = "docs/derivations/nn.md#dropout"

    @staticmethod
    def forward(ctx, x, p, mask_shape=None, generator=None):
        m = dropout_mask(x, p, mask_shape, generator)
        ctx.mask = m
        return x * m

    @staticmethod
    def backward(ctx, g):
        """VJP: ``δx = δy ⊙ m`` (the same mask, broadcast like the forward)."""
        return g * ctx.mask


# ---------------------------------------------------------------------------- log-sigmoid
class LogSigmoid(Function):
    """``z = log σ(x) = −softplus(−x) = −(max(−x, 0) + log1p(e^{−|x|}))`` (no overflow)."""
    formulas = {"inputs": "X", "grads": ("dX = dZ ⊙ σ(−X)",)}
    derivation = "docs/derivations/elementwise.md#pointwise-functions"

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        return -(xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x))))

    @staticmethod
    def backward(ctx, g):
        """VJP: ``δx = δz ⊙ (1 − σ(x)) = δz ⊙ σ(−x)``."""
        (x,) = ctx.saved_tensors
        return g * D.sigmoid(-x)
