"""Connectionist temporal classification (CTC) loss: one op, forward by the alpha
recursion, backward by the beta recursion (both in log space).

For log-probabilities ``lp: (T, C)`` of one sequence and a target ``l = (l_1 … l_S)``,
the extended target ``l' = (∅, l_1, ∅, l_2, …, l_S, ∅)`` (length ``L = 2S + 1``, ``∅`` the
blank) and::

    α_0(0) = lp[0, ∅],  α_0(1) = lp[0, l_1]
    α_t(s) = lse(α_{t−1}(s), α_{t−1}(s−1), [α_{t−1}(s−2) if l'_s ≠ ∅ and l'_s ≠ l'_{s−2}])
             + lp[t, l'_s]
    nll    = −lse(α_{T−1}(L−1), α_{T−1}(L−2))

``β`` runs the same recursion backwards from ``T−1``; ``α_t(s) + β_t(s) − lp[t, l'_s]`` is
the log-probability of all alignments through ``(t, s)``. The backward returns PyTorch's
gradient ``exp(lp) − exp(lse_{s: l'_s = c}(α_t(s) + β_t(s)) + nll − lp)``: the gradient
of the loss with respect to the *logits* when ``lp = log_softmax(logits)`` (it equals the
true gradient after the ``log_softmax`` backward; with respect to ``lp`` itself it is off
by ``exp(lp)``, exactly as PyTorch's). Frames at ``t ≥ input_length`` get zero gradient.

Derivation: ``docs/derivations/ctc.md#the-ctc-loss``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import np, xp_of

__all__ = ["CTCLoss"]

_NEG = -np.inf


def _lse(*xs: Any) -> Any:
    m = xs[0]
    for x in xs[1:]:
        m = np.maximum(m, x)
    safe = np.where(np.isfinite(m), m, 0.0)
    s = sum(np.exp(x - safe) for x in xs)
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(m), safe + np.log(s), m)


def _host(a: Any) -> np.ndarray:
    return np.asarray(a.get() if hasattr(a, "get") else a)


def _extended(target: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    L = 2 * len(target) + 1
    ext = np.full(L, blank, dtype=np.int64)
    ext[1::2] = target
    skip = np.zeros(L, dtype=bool)  # may α_t(s) come from α_{t−1}(s−2)?
    if L > 2:
        skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    return ext, skip


def _alpha(lp: np.ndarray, ext: np.ndarray, skip: np.ndarray, T: int) -> np.ndarray:
    L = len(ext)
    a = np.full((T, L), _NEG)
    a[0, 0] = lp[0, ext[0]]
    if L > 1:
        a[0, 1] = lp[0, ext[1]]
    for t in range(1, T):
        prev = a[t - 1]
        s1 = np.concatenate(([_NEG], prev[:-1]))
        s2 = np.where(skip, np.concatenate(([_NEG, _NEG], prev[:-2]))[:L], _NEG)
        a[t] = _lse(prev, s1, s2) + lp[t, ext]
    return a


def _beta(lp: np.ndarray, ext: np.ndarray, skip: np.ndarray, T: int) -> np.ndarray:
    L = len(ext)
    b = np.full((T, L), _NEG)
    b[T - 1, L - 1] = lp[T - 1, ext[L - 1]]
    if L > 1:
        b[T - 1, L - 2] = lp[T - 1, ext[L - 2]]
    skip_from = np.concatenate((skip[2:], [False, False]))  # may β_t(s) use β_{t+1}(s+2)?
    for t in range(T - 2, -1, -1):
        nxt = b[t + 1]
        s1 = np.concatenate((nxt[1:], [_NEG]))
        s2 = np.where(skip_from, np.concatenate((nxt[2:], [_NEG, _NEG])), _NEG)
        b[t] = _lse(nxt, s1, s2) + lp[t, ext]
    return b


class CTCLoss(Function):
    """Per-sequence CTC negative log-likelihood.

    Called as ``CTCLoss.apply(log_probs, targets, input_lengths, target_lengths, blank,
    zero_infinity)`` with ``log_probs: (T, N, C)``, ``targets`` a list of ``N`` integer
    arrays and the lengths as lists of ints; returns ``(N,)`` losses.
    """
    formulas = {
        "inputs": "lp, targets, input_lengths, target_lengths, blank, zero_infinity",
        "grads": (
            "dlp[t, n, c] = dL_n ⊙ (exp(lp) − exp(lse_{s: l'_s = c}(α_t(s) + β_t(s)) + L_n − lp))  (t < "
            "input_length; PyTorch's logits-gradient convention)",
            None, None, None, None, None,
        ),
        "output": "L",
    }
    derivation = "docs/derivations/ctc.md#the-ctc-loss"
    fresh_grads = True

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        lp_all = _host(log_probs).astype(np.float64)
        T, N, C = lp_all.shape
        nll = np.zeros(N)
        grad = np.zeros((T, N, C))
        for n in range(N):
            Tn = int(input_lengths[n])
            lp = lp_all[:Tn, n]
            if Tn == 0:
                nll[n] = 0.0 if len(targets[n]) == 0 else np.inf
                continue
            ext, skip = _extended(targets[n], blank)
            a = _alpha(lp, ext, skip, Tn)
            L = len(ext)
            nll[n] = -(_lse(a[-1, -1], a[-1, -2]) if L > 1 else a[-1, -1])
            if not any(ctx.needs_input_grad) or not np.isfinite(nll[n]):
                continue
            b = _beta(lp, ext, skip, Tn)
            ab = a + b                                           # (Tn, L)
            lcab = np.full((Tn, C), _NEG)
            for s in range(L):                                  # lse over s with l'_s = c
                lcab[:, ext[s]] = _lse(lcab[:, ext[s]], ab[:, s])
            grad[:Tn, n] = np.exp(lp) - np.exp(lcab + nll[n] - lp)
        inf = ~np.isfinite(nll)
        if zero_infinity:
            nll[inf] = 0.0
            grad[:, inf] = 0.0
        elif inf.any():
            grad[:, inf] = np.nan  # as PyTorch: an impossible alignment has no gradient
        xp = xp_of(log_probs)
        ctx.grad = xp.asarray(grad.astype(log_probs.dtype))
        return xp.asarray(nll.astype(log_probs.dtype))

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dlp[t, n, c] = g_n·(exp(lp) − exp(lse_{s: l'_s = c}(α_t(s) + β_t(s)) +
        nll_n − lp))`` for ``t < input_length_n``, else 0 (PyTorch's gradient)."""
        if hasattr(g, "grad_fn"):  # create_graph: a Tensor (the gradient is a constant)
            return g.reshape(1, -1, 1) * ctx.grad, None, None, None, None, None
        return ctx.grad * g[None, :, None], None, None, None, None, None
