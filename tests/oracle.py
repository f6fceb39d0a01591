"""The oracle helper: "same as PyTorch, values and gradients" in one line.

    check_op(lambda x, y: x @ y, shapes=[(3, 4), (4, 5)])

runs the same lambda on glassgrad tensors and on torch tensors (the lambda may only use
names both libraries share: operators and methods such as ``.sum(dim=...)``, ``.exp()``),
compares the outputs, backpropagates the same random upstream gradient through both and
compares every input's gradient — in float64 (to 1e-10) and float32 (to 1e-5 relative) —
and runs ``gg.gradcheck`` (central finite differences, float64). Pass ``torch_fn`` when
the two spellings differ.

    check_module(lambda nn: nn.Conv2d(3, 4, 3, padding=1), shapes=[(2, 3, 8, 8)])

does the same for a module: it builds the layer from ``glassgrad.nn`` and from ``torch.nn``,
copies glassgrad's parameters and buffers into torch (same state_dict names), and compares
outputs, input gradients, every parameter's gradient (by name) and the buffers after each
step, in float64 and float32, in the modes asked (``modes=("train", "eval")``).
``check_same(fused, composed, inputs)`` compares a fused op with its composition from
primitive glassgrad ops; ``check_double_backward`` compares second derivatives.
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


def _flat(y: Any) -> list:
    """The tensors of a (nested) tuple of outputs, in order, Nones dropped."""
    if isinstance(y, (list, tuple)):
        return [v for item in y for v in _flat(item)]
    return [] if y is None else [y]


def _torch_dtype(dt: Any) -> Any:
    return {np.float64: torch.float64, np.float32: torch.float32}[dt]


def check_module(make: Callable, shapes: Sequence[Any] = (), torch_make: Callable | None = None,
                 inputs: Sequence[np.ndarray] | None = None, grad: Sequence[bool] | None = None,
                 call: Callable | None = None, modes: Sequence[str] = ("train",), steps: int = 1,
                 dtypes: Sequence[Any] = (np.float64, np.float32), seed: int = 0,
                 positive: bool = False, atol: float | None = None, rtol: float | None = None,
                 same_repr: bool = False) -> tuple:
    """Assert that a glassgrad module computes what the same torch module computes.

    ``make(nn)`` builds the module from a library's ``nn`` namespace (``glassgrad.nn``, then
    ``torch.nn``); pass ``torch_make`` when the two spellings differ. Per dtype (float64 to
    1e-10, float32 to 1e-5) the glassgrad module is built (seeded with ``seed``) and cast;
    parameters that its initialisation leaves constant (norm weights of ones, biases of
    zeros) are redrawn from U(0.5, 1.5) so that they matter; its state_dict is loaded into the
    torch module (strict: the names must agree). Then, for each mode in ``modes`` and
    ``steps`` times: fresh random inputs, the same forward (``call(module, *inputs)``,
    default ``module(*inputs)``), outputs compared (nested tuples such as an LSTM's
    ``(out, (h, c))`` are flattened), the same random upstream gradient backpropagated through
    every differentiable output, and the input gradients, every parameter's gradient by name
    and every buffer (running statistics) compared.

    Parameters
    ----------
    shapes / inputs
        Shapes of random float inputs, or the arrays themselves (integer and bool arrays
        are passed as tensors without grad: indices, masks).
    grad
        Which inputs require grad (default: every floating input).
    modes
        ``"train"`` and/or ``"eval"``, run in this order on the same pair of modules.
    same_repr
        Also require ``repr`` to equal torch's.

    Returns
    -------
    (glassgrad module, torch module)
        Of the last dtype, after the steps (for further asserts).
    """
    tmake = torch_make or make
    call = call or (lambda m, *xs: m(*xs))
    rng = np.random.default_rng(seed + 11)
    gm = tm = None
    for dt in dtypes:
        tol = dict(TOL[dt])
        if atol is not None:
            tol["atol"] = atol if dt == np.float64 else max(atol, tol["atol"])
        if rtol is not None:
            tol["rtol"] = rtol if dt == np.float64 else max(rtol, tol["rtol"])
        gg.manual_seed(seed)
        gm = make(gg.nn).to(dt)
        for p in gm.parameters():
            a = p.array
            if a.size > 1 and np.all(a == a.flat[0]):
                a[...] = rng.uniform(0.5, 1.5, a.shape).astype(a.dtype)
        if same_repr and torch is not None:
            ours, theirs = repr(gm), repr(tmake(torch.nn))
            assert ours == theirs, f"repr {ours!r} differs from torch's {theirs!r}"
        if torch is None:
            continue
        tm = tmake(torch.nn).to(_torch_dtype(dt))
        gsd = gm.state_dict()
        tkeys = set(tm.state_dict())
        assert set(gsd) == tkeys, f"state_dict names differ: {sorted(set(gsd) ^ tkeys)}"
        tm.load_state_dict({k: torch.tensor(_to_np(v).copy()) for k, v in gsd.items()})
        tparams = dict(tm.named_parameters())
        for mode in modes:
            assert mode in ("train", "eval"), f"mode must be 'train' or 'eval', got {mode!r}"
            gm.train(mode == "train")
            tm.train(mode == "train")
            for step in range(steps):
                arrs = (list(inputs) if inputs is not None
                        else rand_inputs(shapes, int(rng.integers(1 << 30)), positive=positive))
                req = list(grad) if grad is not None else [a.dtype.kind == "f" for a in arrs]
                g_in = [gg.tensor(a.astype(dt) if a.dtype.kind == "f" else a, requires_grad=r)
                        for a, r in zip(arrs, req)]
                t_in = [torch.tensor(a.astype(dt) if a.dtype.kind == "f" else a, requires_grad=r)
                        for a, r in zip(arrs, req)]
                where = f"{dt.__name__}, {mode} mode, step {step}"
                y, ty = _flat(call(gm, *g_in)), _flat(call(tm, *t_in))
                assert len(y) == len(ty), f"{len(y)} outputs vs torch's {len(ty)} ({where})"
                for i, (a, b) in enumerate(zip(y, ty)):
                    assert tuple(a.shape) == tuple(b.shape), \
                        f"output {i}: shape {tuple(a.shape)} vs torch {tuple(b.shape)} ({where})"
                    if a.dtype.kind == "f":
                        assert a.dtype == dt, f"output {i}: dtype {a.dtype} != {dt} ({where})"
                    np.testing.assert_allclose(_to_np(a), _to_np(b), **tol,
                                               err_msg=f"output {i} differs ({where})")
                gm.zero_grad()
                tm.zero_grad()
                pairs = [(a, b) for a, b in zip(y, ty) if a.requires_grad and b.requires_grad]
                if pairs:
                    gs = [rng.standard_normal(a.shape).astype(dt) for a, _ in pairs]
                    gg.autograd.backward([a for a, _ in pairs], [gg.tensor(g) for g in gs])
                    torch.autograd.backward([b for _, b in pairs], [torch.tensor(g) for g in gs])
                for i, (a, b) in enumerate(zip(g_in, t_in)):
                    if not b.requires_grad or b.grad is None:
                        continue
                    assert a.grad is not None, f"input {i}: glassgrad gave no gradient ({where})"
                    np.testing.assert_allclose(_to_np(a.grad), _to_np(b.grad), **tol,
                                               err_msg=f"gradient of input {i} differs ({where})")
                for name, p in gm.named_parameters():
                    tg = tparams[name].grad
                    if tg is None:
                        assert p.grad is None or not np.any(_to_np(p.grad)), \
                            f"{name}: gradient where torch has none ({where})"
                        continue
                    assert p.grad is not None, f"{name}: no gradient ({where})"
                    assert p.grad.dtype == dt, f"{name}: grad dtype {p.grad.dtype} != {dt}"
                    np.testing.assert_allclose(_to_np(p.grad), _to_np(tg), **tol,
                                               err_msg=f"gradient of {name} differs ({where})")
                for name, b in tm.named_buffers():
                    np.testing.assert_allclose(_to_np(gm.get_buffer(name)), _to_np(b), **tol,
                                               err_msg=f"buffer {name} differs ({where})")
    return gm, tm


def _values_and_grads(fn: Callable, arrs: Sequence[np.ndarray], dtype: Any, seed: int) -> tuple:
    ts = [gg.tensor(a.astype(dtype), requires_grad=True) if a.dtype.kind == "f" else gg.tensor(a)
          for a in arrs]
    y = fn(*ts)
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    y.backward(gg.tensor(g))
    return y.detach().numpy(), [t.grad.numpy() for t in ts if t.requires_grad]


def check_same(fused: Callable, composed: Callable, inputs: Sequence[np.ndarray],
               dtype: Any = np.float64, seed: int = 3) -> None:
    """A fused glassgrad op gives the values and input gradients of its composition from
    primitive glassgrad ops (float64 to 1e-10, float32 to 1e-5)."""
    y1, g1 = _values_and_grads(fused, inputs, dtype, seed)
    y2, g2 = _values_and_grads(composed, inputs, dtype, seed)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y1, y2, rtol=tol, atol=tol, err_msg="values differ")
    for i, (a, b) in enumerate(zip(g1, g2)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"gradient of input {i} differs")


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
