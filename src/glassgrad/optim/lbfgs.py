"""L-BFGS (Nocedal, 1980; Liu & Nocedal, 1989), as ``torch.optim.LBFGS``.

A quasi-Newton method: it steps along ``d = −H·g``, where ``H`` approximates the inverse
Hessian from the last ``m`` (``history_size``) pairs of parameter and gradient changes
``s_i = x_{i+1} − x_i``, ``y_i = g_{i+1} − g_i``. ``H`` is never formed: the *two-loop
recursion* applies it to ``g`` in ``O(m·n)``::

    q = −g
    for i = newest … oldest:   α_i = ρ_i·s_iᵀq;   q = q − α_i·y_i          (ρ_i = 1/(y_iᵀs_i))
    r = γ·q                                       (γ = y·s / y·y of the newest pair)
    for i = oldest … newest:   β = ρ_i·y_iᵀr;     r = r + (α_i − β)·s_i
    d = r

(the BFGS update ``H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ`` unrolled ``m`` times from
``H₀ = γ·I``). A pair is kept only if ``yᵀs > 1e-10`` (curvature condition), so ``H``
stays positive definite. The step length is ``lr`` (the first one scaled by
``min(1, 1/‖g‖₁)``), or found by a line search satisfying the strong Wolfe conditions
(``line_search_fn="strong_wolfe"``: sufficient decrease ``f(x + t·d) ≤ f + c₁·t·gᵀd`` and
curvature ``|g(x + t·d)ᵀd| ≤ c₂·|gᵀd|``, by bracketing and cubic interpolation).

One :meth:`LBFGS.step` runs up to ``max_iter`` iterations and needs a ``closure`` that
re-evaluates the loss (zeroing the gradients and calling ``backward`` itself). All
parameters form one flat vector, so there is a single parameter group.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..autograd.grad_mode import enable_grad
from ..backend import np, xp_of
from .optimizer import Optimizer, ParamsT

__all__ = ["LBFGS"]


def _cubic_min(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
               bounds: tuple | None = None) -> float:
    """Minimizer of the cubic with values ``f1, f2`` and slopes ``g1, g2`` at ``x1, x2``,
    clipped to ``bounds`` (default: between the two points); the midpoint if the cubic has
    no minimizer (Nocedal & Wright, eq. 3.59)."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def _strong_wolfe(phi: Callable, f: float, g: Any, gtd: float, t: float, d_norm: float,
                  tol_change: float, c1: float = 1e-4, c2: float = 0.9,
                  max_ls: int = 25) -> tuple:
    """Step ``t`` along ``d`` meeting the strong Wolfe conditions; ``phi(t)`` returns the
    loss and flat gradient at ``x + t·d`` and their slope along ``d``. Returns ``(f, g, t,
    evaluations)``. Phase 1 grows ``t`` until an interval must contain such a point; phase
    2 ("zoom") shrinks the interval by cubic interpolation, moving a trial point that lands
    too close to an end (twice in a row, or outside) to 10 % of the interval from it."""
    f_new, g_new, gtd_new = phi(t)
    evals, it = 1, 0
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    br = None
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):  # overshot: bracket
            br = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:  # both conditions hold at t
            br, done = [[t, f_new, g_new, gtd_new]], True
            break
        if gtd_new >= 0:  # the slope turned: a minimum lies between
            br = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                            bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new, gtd_new = phi(t)
        evals += 1
        it += 1
    if it == max_ls:
        br = [[0.0, f, g, gtd], [t, f_new, g_new, gtd_new]]
    assert br is not None
    lo, hi = (0, 1) if len(br) == 1 or br[0][1] <= br[-1][1] else (1, 0)
    stalled = False
    while not done and it < max_ls:
        a, b = br[0][0], br[1][0]
        if abs(b - a) * d_norm < tol_change:
            break
        t = _cubic_min(a, br[0][1], br[0][3], b, br[1][1], br[1][3])
        top, bot = max(a, b), min(a, b)
        eps = 0.1 * (top - bot)
        if min(top - t, t - bot) < eps:  # too close to an end of the interval
            if stalled or t >= top or t <= bot:
                t = top - eps if abs(t - top) < abs(t - bot) else bot + eps
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new, gtd_new = phi(t)
        evals += 1
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= br[lo][1]:
            br[hi] = [t, f_new, g_new, gtd_new]  # not low enough: the new high end
            lo, hi = (0, 1) if br[0][1] <= br[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[hi][0] - br[lo][0]) >= 0:
                br[hi] = br[lo]
            br[lo] = [t, f_new, g_new, gtd_new]
    t, f_new, g_new, _ = br[lo]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """Limited-memory BFGS over all parameters as one vector (needs a ``closure``).

    Parameters
    ----------
    params : iterable of Tensor
        Parameters to optimize (one group).
    lr : float
        Step length (default 1); with ``line_search_fn`` the line search's first trial.
    max_iter : int
        Iterations per :meth:`step` (default 20).
    max_eval : int, optional
        Closure evaluations per step (default ``max_iter * 5 // 4``).
    tolerance_grad : float
        Stop when ``max |g| ≤ tolerance_grad`` (default 1e-7).
    tolerance_change : float
        Stop when the step or the loss change is below this (default 1e-9).
    history_size : int
        Number of ``(s, y)`` pairs kept (default 100).
    line_search_fn : str, optional
        ``"strong_wolfe"`` or None (fixed step ``lr``).
    """

    _scalar_state = ("func_evals", "n_iter", "t", "H_diag", "prev_loss")
    _flat_state = ("d", "prev_flat_grad")  # vectors over all parameters

    def __init__(self, params: ParamsT, lr: float = 1.0, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search_fn!r}")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector
    def _flat_grad(self) -> Any:
        parts = []
        for p in self._params:
            g = self._grad(p)
            parts.append(xp_of(p.array).zeros(p.array.size, p.array.dtype) if g is None
                         else g.reshape(-1))
        return xp_of(parts[0]).concatenate(parts) if parts else np.zeros(0)

    def _add(self, t: float, d: Any) -> None:
        """``x ← x + t·d``, parameter by parameter."""
        k = 0
        for p in self._params:
            n = p.array.size
            p.array += (t * d[k:k + n]).reshape(p.array.shape).astype(p.array.dtype, copy=False)
            p._version[0] += 1
            k += n

    def _eval(self, closure: Callable) -> float:
        with enable_grad():
            return float(closure())

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the first ``closure()`` loss."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the loss "
                               "(zero the grads, compute the loss, call backward, return it)")
        for hook in list(self._pre_hooks.values()):
            hook(self, (), {})
        grp = self.param_groups[0]
        lr, max_iter, max_eval = float(grp["lr"]), int(grp["max_iter"]), int(grp["max_eval"])
        tol_grad, tol_change = float(grp["tolerance_grad"]), float(grp["tolerance_change"])
        m, ls = int(grp["history_size"]), grp["line_search_fn"]
        st = self.state[self._params[0]]
        st.setdefault("func_evals", 0)
        st.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        st["func_evals"] += 1
        g = self._flat_grad()
        done = float(abs(g).max()) <= tol_grad if g.size else True
        if not done:
            d, t = st.get("d"), st.get("t")
            old_y, old_s, ro = st.get("old_dirs"), st.get("old_stps"), st.get("ro")
            h_diag, g_prev = st.get("H_diag"), st.get("prev_flat_grad")
            loss_prev = st.get("prev_loss")
            n = 0
            while n < max_iter:
                n += 1
                st["n_iter"] += 1
                if st["n_iter"] == 1:  # first direction: steepest descent
                    d = -g
                    old_y, old_s, ro, h_diag = [], [], [], 1.0
                else:
                    y = g - g_prev
                    s = d * t
                    ys = float(y @ s)
                    if ys > 1e-10:  # curvature condition: keep the pair
                        if len(old_y) == m:
                            old_y.pop(0), old_s.pop(0), ro.pop(0)
                        old_y.append(y), old_s.append(s), ro.append(1.0 / ys)
                        h_diag = ys / float(y @ y)
                    # two-loop recursion: d = −H·g
                    q = -g
                    al = [0.0] * len(old_y)
                    for i in range(len(old_y) - 1, -1, -1):
                        al[i] = float(old_s[i] @ q) * ro[i]
                        q = q - al[i] * old_y[i]
                    d = q * h_diag
                    for i in range(len(old_y)):
                        be = float(old_y[i] @ d) * ro[i]
                        d = d + (al[i] - be) * old_s[i]
                g_prev = g.copy()
                loss_prev = loss
                t = min(1.0, 1.0 / float(abs(g).sum())) * lr if st["n_iter"] == 1 else lr
                gtd = float(g @ d)
                if gtd > -tol_change:  # not a descent direction any more
                    break
                ls_evals = 0
                if ls == "strong_wolfe":
                    x0 = [p.array.copy() for p in self._params]

                    def phi(step: float, x0: list = x0, d: Any = d) -> tuple:
                        for p, x in zip(self._params, x0):
                            p.array[...] = x
                        self._add(step, d)
                        f_t = self._eval(closure)
                        g_t = self._flat_grad()
                        for p, x in zip(self._params, x0):
                            p.array[...] = x
                        return f_t, g_t, float(g_t @ d)

                    loss, g, t, ls_evals = _strong_wolfe(
                        phi, loss, g, gtd, t, float(abs(d).max()), tol_change)
                    self._add(t, d)
                    done = float(abs(g).max()) <= tol_grad
                else:
                    self._add(t, d)
                    if n != max_iter:  # re-evaluate at the new point
                        loss = self._eval(closure)
                        g = self._flat_grad()
                        done = float(abs(g).max()) <= tol_grad
                        ls_evals = 1
                evals += ls_evals
                st["func_evals"] += ls_evals
                if (n == max_iter or evals >= max_eval or done
                        or float(abs(d * t).max()) <= tol_change
                        or abs(loss - loss_prev) < tol_change):
                    break
            st.update(d=d, t=t, old_dirs=old_y, old_stps=old_s, ro=ro, H_diag=h_diag,
                      prev_flat_grad=g_prev, prev_loss=loss_prev)
        self._step_count += 1
        for hook in list(self._post_hooks.values()):
            hook(self, (), {})
        return orig_loss
