"""Gradient checking by central finite differences, in float64.

``gradcheck(f, inputs)`` builds, for every input, the Jacobian twice — once from
backward passes (the analytic VJPs of the ops) and once numerically,
``(f(x + ε e_k) - f(x - ε e_k)) / 2ε`` for each element ``k`` — and compares them. The
report says, per input, the largest absolute and relative error and where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..backend import np
from .functional import grad


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when analytic and numerical gradients disagree."""


@dataclass
class InputReport:
    """Comparison of the two Jacobians for one input."""

    index: int
    shape: tuple
    max_abs_err: float
    max_rel_err: float
    where: tuple | None  # (output index, input index) of the worst element
    analytic: float | None = None
    numeric: float | None = None
    ok: bool = True

    def __str__(self) -> str:
        loc = ""
        if self.where is not None:
            pos = ""
            if len(self.shape) > 1:  # the element as an index into the input, e.g. [1, 0]
                pos = " " + str(list(int(i) for i in np.unravel_index(self.where[1], self.shape)))
            loc = (f" at output {self.where[0]}, input element {self.where[1]}{pos} "
                   f"(analytic {self.analytic:.10g}, numeric {self.numeric:.10g})")
        return (f"input {self.index} {self.shape}: max abs err {self.max_abs_err:.3g}, "
                f"max rel err {self.max_rel_err:.3g}{loc} -> {'ok' if self.ok else 'FAIL'}")


@dataclass
class GradcheckResult:
    """Truthy when every input passed; ``str()`` gives the per-input report."""

    passed: bool
    inputs: list[InputReport] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return "\n".join(str(r) for r in self.inputs)


def _T():
    from ..tensor import Tensor

    return Tensor


def _prepare(inputs: Any) -> list:
    Tensor = _T()
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    out = []
    for x in ins:
        if isinstance(x, Tensor):
            if x.dtype.kind == "f":
                t = Tensor._make(np.array(x.array, dtype=np.float64), False)
                t.requires_grad_(x.requires_grad)
            else:
                t = Tensor._make(x.array, False)
            out.append(t)
        else:
            out.append(x)
    return out


def _eval(f: Callable, ins: list) -> np.ndarray:
    from .grad_mode import no_grad

    with no_grad():
        y = f(*ins)
    Tensor = _T()
    ys = y if isinstance(y, (list, tuple)) else [y]
    return np.concatenate([np.asarray(v.array if isinstance(v, Tensor) else v,
                                      dtype=np.float64).reshape(-1) for v in ys])


def numerical_jacobian(f: Callable, ins: list, i: int, eps: float) -> np.ndarray:
    """``J[k_out, k_in]`` of input ``i`` by central differences."""
    x = ins[i]
    flat = x.array.reshape(-1)
    base = _eval(f, ins)
    J = np.zeros((base.size, flat.size))
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        x._version[0] += 1
        plus = _eval(f, ins)
        flat[k] = orig - eps
        minus = _eval(f, ins)
        flat[k] = orig
        J[:, k] = (plus - minus) / (2 * eps)
    return J


def analytical_jacobian(f: Callable, ins: list, idx: Sequence[int]) -> list[np.ndarray]:
    """Jacobians of the inputs ``idx`` from backward passes (one per output element)."""
    Tensor = _T()
    from .grad_mode import enable_grad

    with enable_grad():
        y = f(*ins)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    sizes = [v.array.size for v in ys]
    total = sum(sizes)
    Js = [np.zeros((total, ins[i].array.size)) for i in idx]
    row = 0
    for v in ys:
        if not (isinstance(v, Tensor) and v.requires_grad):
            row += v.array.size
            continue
        for k in range(v.array.size):
            go = np.zeros(v.shape, dtype=v.dtype)
            go.reshape(-1)[k] = 1
            gs = grad(v, [ins[i] for i in idx], go, retain_graph=True, allow_unused=True)
            for j, g in enumerate(gs):
                if g is not None:
                    Js[j][row, :] = np.asarray(g.array, dtype=np.float64).reshape(-1)
            row += 1
    return Js


def gradcheck(func: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> GradcheckResult:
    """Compare backward-pass gradients of ``func`` with central finite differences.

    Parameters
    ----------
    func : callable
        Takes the inputs (Tensors, in float64 copies) and returns a Tensor or a tuple.
    inputs : Tensor or sequence
        Tensors with ``requires_grad=True`` are checked; others are passed through.
    eps, atol, rtol : float
        Step, and the test ``|analytic - numeric| <= atol + rtol·|numeric|``. The report's
        ``max rel err`` is ``|analytic - numeric| / max(|analytic|, |numeric|, atol)``
        over every entry, also those that pass.
    raise_exception : bool
        Raise :class:`GradcheckError` with the report on failure (default), else return it.

    Returns
    -------
    GradcheckResult
        Truthy when all inputs pass; ``print(result)`` shows the per-input errors.
    """
    Tensor = _T()
    ins = _prepare(inputs)
    idx = [i for i, x in enumerate(ins) if isinstance(x, Tensor) and x.requires_grad]
    if not idx:
        raise ValueError("gradcheck: no input has requires_grad=True")
    Ja = analytical_jacobian(func, ins, idx)
    reports = []
    passed = True
    for j, i in enumerate(idx):
        Jn = numerical_jacobian(func, ins, i, eps)
        A = Ja[j]
        diff = np.abs(A - Jn)
        ok_mask = diff <= atol + rtol * np.abs(Jn)
        ok = bool(ok_mask.all())
        # reported relative error: against the larger magnitude, with atol as the floor so
        # that entries whose true value is 0 count by their absolute difference
        rel = diff / np.maximum(np.maximum(np.abs(A), np.abs(Jn)), atol)
        if diff.size:
            # the worst entry: the one furthest past the tolerance, or when all pass, the one
            # with the largest relative error
            worst = rel if ok else diff - (atol + rtol * np.abs(Jn))
            w = np.unravel_index(int(np.argmax(worst)), diff.shape)
            rep = InputReport(i, tuple(ins[i].shape), float(diff.max()), float(rel.max()),
                              (int(w[0]), int(w[1])), float(A[w]), float(Jn[w]), ok)
        else:
            rep = InputReport(i, tuple(ins[i].shape), 0.0, 0.0, None, None, None, True)
        reports.append(rep)
        passed &= ok
    res = GradcheckResult(passed, reports)
    if not passed and raise_exception:
        raise GradcheckError("gradcheck failed: backward disagrees with finite differences\n"
                             + str(res))
    return res


def gradgradcheck(func: Callable, inputs: Any, grad_outputs: Any = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True) -> GradcheckResult:
    """Check second derivatives: gradcheck of ``x -> grad(func(x), x, v, create_graph=True)``
    for a fixed random ``v`` (the double backward of every op on the way)."""
    Tensor = _T()
    ins = _prepare(inputs)
    idx = [i for i, x in enumerate(ins) if isinstance(x, Tensor) and x.requires_grad]
    from .grad_mode import no_grad

    with no_grad():
        y = func(*ins)
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        v = Tensor._make(rng.standard_normal(y.shape), False)
    else:
        v = Tensor._make(np.asarray(getattr(grad_outputs, "data", grad_outputs),
                                    dtype=np.float64), False)

    from .grad_mode import enable_grad

    def first(*xs: Any) -> Any:
        with enable_grad():  # gradcheck evaluates under no_grad; the inner grad needs a graph
            out = func(*xs)
            gs = grad(out, [xs[i] for i in idx], v, create_graph=True, allow_unused=True,
                      materialize_grads=True)
        return tuple(gs)

    return gradcheck(first, ins, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
