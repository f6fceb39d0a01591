"""Fused loss ops: one graph node per loss, the backward derived by hand.

Each loss here could be written with primitive ops (``where(|d| < β, …)``, a gather and
sums, ``t·(log t − x)``), and the tests check the fused op against PyTorch and central
finite differences. Being one op each, every check of target *values* (class range,
probabilities in [0, 1]) runs inside the forward, so a ``gg.capture``-d function checks
them again on every replay, and masks built from values are drawn in the forward too.

=======================  ==========================================================
op                       forward → backward (δ = dL/d(output))
=======================  ==========================================================
``CrossEntropy``         ``L = −Σ log softmax(X)[y]`` → ``δX = (softmax(X) − onehot(y))·δL``
``Huber``                ``ℓ = ½d²·a`` if ``|d| < β`` else ``(|d| − ½β)·b``, ``d = x − t``
                         → ``δx = δℓ·(d·a`` or ``sign(d)·b)``, ``δt = −δx``
``NLLLoss``              ``ℓ_i = −w_{y_i}·x_{i,y_i}`` → ``δx_{i,y_i} = −w_{y_i}·δℓ_i``, else 0
``BinaryCrossEntropy``   ``ℓ = −(t log x + (1−t) log(1−x))`` → ``δx = δℓ·(x − t)/(x(1−x))``
``KLDiv``                ``ℓ = t·(log t − x)`` → ``δx = −δℓ·t``, ``δt = δℓ·(log t + 1 − x)``
=======================  ==========================================================

(``a, b = 1/β, 1`` for smooth L1 and ``1, β`` for Huber.) Under ``create_graph=True``
every backward runs its formula on Tensors, so double backward works.

Derivations: ``docs/derivations/nn.md#losses`` and (cross-entropy)
``docs/derivations/softmax_cross_entropy.md``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import np, xp_of
from . import _dual as D
from . import kernels
from ._util import cached_constant, cached_ones, is_tensor, op_error

__all__ = ["CrossEntropy", "Huber", "NLLLoss", "BinaryCrossEntropy", "KLDiv"]


_ARANGE: dict = {}
_EYE: dict = {}


def _perm(x: Any, perm: tuple) -> Any:
    return x.permute(perm) if is_tensor(x) else x.transpose(perm)


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
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, y, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        if (weight is None and not label_smoothing and reduction == "mean" and x.ndim == 2
                and y.ndim == 1 and (ignore_index is None or not 0 <= ignore_index < x.shape[1])):
            # the textbook case: one compiled call (every size), else NumPy's passes
            r = kernels.softmax_xent(x, y)
            if r is not None:
                ctx.save_for_backward(x)
                ctx.p, ctx.onehot, ctx.yi, ctx.plain = r[0], None, y, True
                return np.asarray(r[1] / x.shape[0], dtype=x.dtype)
            if (0 < x.shape[1] <= _ONEHOT_MAX_C and x.shape[0] and type(x) is np.ndarray
                    and int(_unsigned(y).max()) < x.shape[1]):
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
        scale = p.dtype.type(float(g) / p.shape[0])
        t = ctx.onehot
        if t is None:  # the compiled forward kept no one-hot rows
            G = kernels.softmax_xent_grad(p, ctx.yi, scale)
            if G is not None:
                return G, None
            t = _onehot(ctx.yi, p.shape[1], p.dtype)
            if t is None:  # many classes: p − 1 at each target (the same differences)
                G = p.copy()
                G[_arange(np, p.shape[0]), ctx.yi] -= 1
                G *= scale
                return G, None
        G = p - t
        G *= scale
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
        shape = ctx.input_shape(0)
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


# ---------------------------------------------------------------------------- smooth L1 / Huber
class Huber(Function):
    """Smooth L1 (``huber=False``) or Huber (``huber=True``) loss, elementwise, ``β > 0``.

    With ``d = x − t``::

        smooth L1:  ℓ = 0.5·d²/β      if |d| < β,  else |d| − 0.5·β
        Huber:      ℓ = 0.5·d²        if |d| < δ,  else δ·(|d| − 0.5·δ)

    (Huber with ``δ = β`` is ``β`` times smooth L1.) ``x`` and ``t`` have one shape and
    dtype; the output has it too (the reduction is a separate ``mean``/``sum``).
    """
    formulas = {
        "inputs": "X, T, β, huber",
        "grads": (
            "dX = dL ⊙ (D/β if |D| < β else sign(D))  (Huber: D, β·sign(D)), D = X − T",
            "dT = −dX",
            None, None,
        ),
        "output": "L",
    }
    derivation = "docs/derivations/nn.md#smooth-l1-and-huber"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, t, beta, huber=False):
        xp = xp_of(x)
        d = x - t
        ad = xp.abs(d)
        quad = ad < beta
        if huber:
            loss = xp.where(quad, 0.5 * d * d, beta * (ad - 0.5 * beta))
        else:
            loss = xp.where(quad, 0.5 * d * d / beta, ad - 0.5 * beta)
        ctx.save_for_backward(x, t)
        ctx.d, ctx.quad, ctx.beta, ctx.huber = d, quad, beta, huber
        return loss

    @staticmethod
    def backward(ctx, g):
        """VJP, elementwise (all shapes ``x``'s)::

            smooth L1:  ∂ℓ/∂d = d/β  inside (|d| < β),  sign(d)    outside
            Huber:      ∂ℓ/∂d = d    inside,             δ·sign(d) outside
            δx = δℓ·∂ℓ/∂d,   δt = −δx

        At ``|d| = β`` both pieces give ``sign(d)`` (smooth L1) or ``β·sign(d)`` (Huber):
        the loss is continuously differentiable, which is its point.
        """
        beta, huber, quad = ctx.beta, ctx.huber, ctx.quad
        if ctx.create_graph:
            x, t = ctx.saved_tensors
            d = x - t
        else:
            d = ctx.d
        inner = d if huber else d * (1.0 / beta)
        outer = D.sign(d) * beta if huber else D.sign(d)
        dd = g * D.where(quad, inner, outer)
        need = ctx.needs_input_grad
        return (dd if need[0] else None), (-dd if need[1] else None), None, None


# ---------------------------------------------------------------------------- NLL
class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities at integer class targets.

    ``x``: ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``; ``y``: class indices ``(N, d1,
    ...)`` (or ``()``); ``w``: class weights ``(C,)`` or None. Each position ``i`` is a
    row of ``C`` scores, ``valid_i = [y_i ≠ ignore_index]``::

        ℓ_i = −valid_i·w_{y_i}·x_{i,y_i}
        mean: L = Σ_i ℓ_i / Σ_i valid_i·w_{y_i}     sum: L = Σ_i ℓ_i     none: L_i = ℓ_i

    PyTorch's definition, including its weighted mean (every target ignored: ``nan``).
    Target values are checked here: each must be in ``[0, C)`` or equal ``ignore_index``.
    """
    formulas = {
        "inputs": "X, y, weight, ignore_index, reduction",
        "grads": (
            "dX = −onehot(y) ⊙ w_y ⊙ dL / Σ w_y  (mean)",
            None, None, None, None,
        ),
        "output": "L",
    }
    derivation = "docs/derivations/nn.md#negative-log-likelihood"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, y, weight=None, ignore_index=-100, reduction="mean"):
        shape = x.shape
        C = shape[1] if x.ndim >= 2 else shape[0]
        x2 = _to_rows(x, x.ndim, C)
        M = x2.shape[0]
        yi, valid = class_targets("nll_loss", y.reshape(-1), C, ignore_index, shape)
        rows = _arange(xp_of(x), M)
        picked = x2[rows, yi]
        if valid is not None:  # ignored rows count for nothing, even if they hold nan/inf
            picked = xp_of(x).where(valid, picked, 0)
        if weight is not None:
            coef = weight[yi] if valid is None else weight[yi] * valid
        else:
            coef = valid.astype(x.dtype) if valid is not None else None
        loss = -picked if coef is None else -(picked * coef)
        if reduction == "mean":
            denom = coef.sum() if coef is not None else M
            out = loss.sum() / denom if denom != 0 else np.nan
        elif reduction == "sum":
            out, denom = loss.sum(), 1
        else:
            out, denom = loss.reshape(y.shape), 1
        ctx.yi, ctx.coef, ctx.rows, ctx.C, ctx.denom = yi, coef, rows, C, denom
        ctx.reduction = reduction
        return xp_of(x).asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        """VJP: only the target's score of each row gets a gradient::

            δx_{i,c} = −[c = y_i]·valid_i·w_{y_i}·s_i
            s_i = g/Σ_i valid_i·w_{y_i} (mean), g (sum), g_i (none)

        ``δx`` has ``x``'s shape (rows folded back); no gradient for targets or weights.
        """
        shape = ctx.input_shape(0)
        yi, coef, C = ctx.yi, ctx.coef, ctx.C
        M = yi.shape[0]
        q = xp_of(ctx.rows).zeros((M, C), dtype=ctx.input_dtype(0))
        q[ctx.rows, yi] = -1 if coef is None else -coef
        if ctx.reduction == "none":
            scale = g.reshape((-1, 1))
        else:
            denom = ctx.denom
            scale = g / denom if denom not in (0, 1) else (g if denom else g * 0)
        if D._arr(scale):
            q *= scale
            G = q
        else:
            G = scale * q
        return _from_rows(G, shape), None


# ---------------------------------------------------------------------------- binary CE
class BinaryCrossEntropy(Function):
    """``ℓ = −(t·max(log x, −100) + (1−t)·max(log(1−x), −100))`` elementwise, for
    probabilities ``x`` in [0, 1] (checked here) and targets ``t`` of ``x``'s shape.

    The logs are clamped at −100 (as PyTorch), so ``x = 0`` or ``1`` gives a finite loss.
    """
    formulas = {
        "inputs": "X, T",
        "grads": (
            "dX = dL ⊙ (X − T) / max(X(1 − X), 1e-12)",
            "dT = dL ⊙ (log(1 − X) − log X)",
        ),
        "output": "L",
    }
    derivation = "docs/derivations/nn.md#binary-cross-entropy"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, t):
        xp = xp_of(x)
        if x.size and (x.min() < 0 or x.max() > 1):
            raise op_error("binary_cross_entropy",
                           "all elements of input should be between 0 and 1 (got values in "
                           f"[{float(x.min()):.4g}, {float(x.max()):.4g}]); for logits use "
                           "binary_cross_entropy_with_logits")
        with np.errstate(divide="ignore"):
            lx = xp.maximum(xp.log(x), -100)
            l1x = xp.maximum(xp.log(1 - x), -100)
        ctx.save_for_backward(x, t)
        ctx.lx, ctx.l1x = lx, l1x
        return -(t * lx + (1 - t) * l1x)

    @staticmethod
    def backward(ctx, g):
        """VJP: ``δx = g·(x − t)/max(x(1−x), 1e-12)`` (PyTorch's clamped form),
        ``δt = g·(log(1−x) − log x)`` (both logs clamped at −100)."""
        x, t = ctx.saved_tensors
        dx = dt = None
        if ctx.needs_input_grad[0]:
            den = x * (1 - x)
            den = den.clamp(min=1e-12) if hasattr(den, "grad_fn") else xp_of(den).maximum(den, 1e-12)
            dx = g * (x - t) / den
        if ctx.needs_input_grad[1]:
            if ctx.create_graph:
                lx = x.log().clamp(min=-100)
                l1x = (1 - x).log().clamp(min=-100)
            else:
                lx, l1x = ctx.lx, ctx.l1x
            dt = g * (l1x - lx)
        return dx, dt


# ---------------------------------------------------------------------------- KL divergence
class KLDiv(Function):
    """Pointwise KL divergence for log-probabilities ``x`` and targets ``t`` (one shape)::

        log_target=False:  ℓ = t·(log t − x)    (0 where t = 0, as xlogy; nan where t < 0)
        log_target=True:   ℓ = e^t·(t − x)      (t holds log-probabilities)

    The reduction (``mean``/``sum``/``batchmean``) is a separate op.
    """
    formulas = {
        "inputs": "X, T, log_target",
        "grads": (
            "dX = −dL ⊙ T  (log_target: −dL ⊙ eᵀ)",
            "dT = dL ⊙ (log T + 1 − X)  (log_target: dL ⊙ eᵀ(T − X + 1))",
            None,
        ),
        "output": "L",
    }
    derivation = "docs/derivations/nn.md#kl-divergence"
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, t, log_target=False):
        xp = xp_of(x)
        if log_target:
            et = xp.exp(t)
            loss = et * (t - x)
            ctx.et = et
        else:
            nz = t != 0
            with np.errstate(divide="ignore", invalid="ignore"):
                tlogt = xp.where(nz, t * xp.log(xp.where(nz, t, 1)), 0)
            loss = tlogt - t * x
            ctx.nz = nz
        ctx.save_for_backward(x, t)
        ctx.log_target = log_target
        return loss

    @staticmethod
    def backward(ctx, g):
        """VJP, elementwise::

            log_target=False:  δx = −g·t,      δt = g·(log t + 1 − x)   (0 where t = 0)
            log_target=True:   δx = −g·e^t,    δt = g·e^t·(t − x + 1)

        At ``t = 0`` the derivative of ``t log t`` is unbounded (→ −∞); glassgrad gives 0
        there, the value of the masked form ``where(t > 0, t·(log t − x), 0)``.
        """
        x, t = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx = dt = None
        if ctx.log_target:
            et = D.exp(t) if ctx.create_graph else ctx.et
            if need[0]:
                dx = -(g * et)
            if need[1]:
                dt = g * et * (t - x + 1)
        else:
            if need[0]:
                dx = -(g * t)
            if need[1]:
                nz = ctx.nz
                with np.errstate(invalid="ignore"):  # t < 0: nan, as the forward
                    dt = D.where(nz, g * (D.log(D.where(nz, t, 1.0)) + 1 - x), 0.0)
        return dx, dt, None
