"""The oracle helper: "same as PyTorch, values and gradients" in one line.

    check_op(lambda x, y: x @ y, shapes=[(3, 4), (4, 5)])

runs the same lambda on glassgrad tensors and on torch tensors (the lambda may only use
names both libraries share: operators and methods such as ``.sum(dim=...)``, ``.exp()``),
compares the outputs, backpropagates the same random upstream gradient through both and
compares every input's gradient — in float64 (to 1e-10) and float32 (to 1e-5 relative) —
and runs ``gg.gradcheck`` (central finite differences, float64). Pass ``torch_fn`` when
the two spellings differ.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pytest

import glassgrad as gg

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a test-only dependency
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (test oracle) is not installed")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def rand_inputs(shapes: Sequence[Any], seed: int = 0, low: float = -2.0, high: float = 2.0,
                positive: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        if isinstance(s, np.ndarray):
            out.append(s)
            continue
        a = rng.uniform(0.5 if positive else low, high if not positive else 2.5, size=s)
        out.append(np.asarray(a, dtype=np.float64))
    return out


def _to_np(x: Any) -> np.ndarray:
    if isinstance(x, gg.Tensor):
        return x.detach().numpy()
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _outs(y: Any) -> list:
    if isinstance(y, (list, tuple)):
        return [v for v in y if v is not None]
    return [y]


def check_op(fn: Callable, shapes: Sequence[Any] = (), torch_fn: Callable | None = None,
             inputs: Sequence[np.ndarray] | None = None, grad: Sequence[bool] | None = None,
             dtypes: Sequence[Any] = (np.float64, np.float32), gradcheck: bool = True,
             seed: int = 0, positive: bool = False, atol: float | None = None,
             rtol: float | None = None, gradcheck_atol: float = 1e-6,
             gradcheck_rtol: float = 1e-4) -> None:
    """Assert that ``fn`` gives PyTorch's values and gradients (and passes gradcheck).

    Parameters
    ----------
    fn : callable
        Applied to glassgrad tensors (and to torch tensors when ``torch_fn`` is None).
    shapes / inputs
        Shapes of random float inputs, or the arrays themselves (integer arrays are passed
        as non-differentiable tensors).
    grad
        Which inputs require grad (default: every floating input).
    """
    arrs = list(inputs) if inputs is not None else rand_inputs(shapes, seed, positive=positive)
    if grad is None:
        grad = [a.dtype.kind == "f" for a in arrs]
    tfn = torch_fn or fn
    for dt in dtypes:
        tol = dict(TOL[dt])
        if atol is not None:
            tol["atol"] = atol if dt == np.float64 else max(atol, tol["atol"])
        if rtol is not None:
            tol["rtol"] = rtol if dt == np.float64 else max(rtol, tol["rtol"])
        g_in = [gg.tensor(a.astype(dt) if a.dtype.kind == "f" else a, requires_grad=r)
                for a, r in zip(arrs, grad)]
        y = _outs(fn(*g_in))
        for v in y:
            if v.dtype.kind == "f":
                assert v.dtype == dt, f"output dtype {v.dtype} != input dtype {dt}"
        if torch is None:
            continue
        t_in = [torch.tensor(a.astype(dt) if a.dtype.kind == "f" else a, requires_grad=r)
                for a, r in zip(arrs, grad)]
        ty = _outs(tfn(*t_in))
        assert len(y) == len(ty), f"{len(y)} outputs vs torch's {len(ty)}"
        for a, b in zip(y, ty):
            assert tuple(a.shape) == tuple(b.shape), f"shape {a.shape} vs torch {tuple(b.shape)}"
            np.testing.assert_allclose(_to_np(a), _to_np(b), err_msg="forward differs", **tol)
        rng = np.random.default_rng(seed + 1)
        diff_pairs = [(a, b) for a, b in zip(y, ty) if a.requires_grad and b.requires_grad]
        if not diff_pairs or not any(grad):
            continue
        gs = [rng.standard_normal(a.shape).astype(dt) for a, _ in diff_pairs]
        gg.autograd.backward([a for a, _ in diff_pairs], [gg.tensor(g) for g in gs])
        torch.autograd.backward([b for _, b in diff_pairs], [torch.tensor(g) for g in gs])
        for i, (a, b, r) in enumerate(zip(g_in, t_in, grad)):
            if not r:
                continue
            if b.grad is None:
                assert a.grad is None or not np.any(_to_np(a.grad)), f"input {i}: grad mismatch"
                continue
            assert a.grad is not None, f"input {i}: glassgrad gave no gradient"
            assert a.grad.dtype == dt, f"input {i}: grad dtype {a.grad.dtype} != {dt}"
            np.testing.assert_allclose(_to_np(a.grad), _to_np(b.grad),
                                       err_msg=f"gradient of input {i} differs", **tol)
    if gradcheck:
        g_in = [gg.tensor(a, requires_grad=r) if a.dtype.kind == "f" else gg.tensor(a)
                for a, r in zip(arrs, grad)]
        if any(grad):
            gg.gradcheck(fn, g_in, atol=gradcheck_atol, rtol=gradcheck_rtol)


def check_double_backward(fn: Callable, shapes: Sequence[Any] = (),
                          torch_fn: Callable | None = None, seed: int = 0,
                          positive: bool = False, inputs: Sequence[np.ndarray] | None = None,
                          atol: float = 1e-9, rtol: float = 1e-9) -> None:
    """Second derivatives equal PyTorch's double backward (float64).

    Computes ``g = grad(fn(x), x, v, create_graph=True)`` then ``grad(Σ g ⊙ w, x)`` in
    both libraries, for fixed random ``v`` and ``w``.
    """
    arrs = list(inputs) if inputs is not None else rand_inputs(shapes, seed, positive=positive)
    tfn = torch_fn or fn
    rng = np.random.default_rng(seed + 7)
    g_in = [gg.tensor(a, requires_grad=True) for a in arrs]
    y = fn(*g_in)
    v = rng.standard_normal(y.shape)
    gs = gg.grad(y, g_in, gg.tensor(v), create_graph=True, allow_unused=True,
                 materialize_grads=True)
    ws = [rng.standard_normal(a.shape) for a in arrs]
    s = sum(((g * gg.tensor(w)).sum() for g, w in zip(gs, ws) if g.requires_grad),
            gg.tensor(0.0, dtype=np.float64))
    if not s.requires_grad:
        second = [np.zeros(a.shape) for a in arrs]
    else:
        second = [_to_np(h) if h is not None else np.zeros(a.shape)
                  for h, a in zip(gg.grad(s, g_in, allow_unused=True), arrs)]
    if torch is None:
        return
    t_in = [torch.tensor(a, requires_grad=True) for a in arrs]
    ty = tfn(*t_in)
    tgs = torch.autograd.grad(ty, t_in, torch.tensor(v), create_graph=True, allow_unused=True,
                              materialize_grads=True)
    for g, tg in zip(gs, tgs):
        np.testing.assert_allclose(_to_np(g), _to_np(tg), atol=atol, rtol=rtol,
                                   err_msg="first derivative differs")
    ts = sum((g * torch.tensor(w)).sum() for g, w in zip(tgs, ws))
    if ts.requires_grad:
        th = torch.autograd.grad(ts, t_in, allow_unused=True, materialize_grads=True)
    else:
        th = [torch.zeros(a.shape, dtype=torch.float64) for a in arrs]
    for i, (h, t) in enumerate(zip(second, th)):
        np.testing.assert_allclose(h, _to_np(t), atol=atol, rtol=rtol,
                                   err_msg=f"second derivative w.r.t. input {i} differs")
