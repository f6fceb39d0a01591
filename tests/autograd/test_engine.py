"""The backward engine: deep chains, fan-out, accumulation, graph freeing, in-place checks,
non-scalar backward, hooks, retain_grad, no_grad, backward(inputs=...), several roots."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import glassgrad as gg

torch = pytest.importorskip("torch")


def test_10000_op_chain_backward_no_recursion_error():
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # a recursive engine would fail far below 10,000 nodes
    try:
        x = gg.tensor([0.5, -0.25], dtype=gg.float64, requires_grad=True)
        y = x
        for i in range(10_000):
            y = y * 1.0001 if i % 2 else y + 0.001
        y.sum().backward()
    finally:
        sys.setrecursionlimit(limit)
    np.testing.assert_allclose(x.grad.numpy(), np.full(2, 1.0001 ** 5000), rtol=1e-10)


def test_deep_chain_of_nonlinear_ops_matches_torch():
    a = np.array([0.3, -0.7, 1.1])

    def run(x):
        for _ in range(2000):
            x = (x * 0.9).tanh() + x * 0.1
        return x.sum()

    x = gg.tensor(a, requires_grad=True)
    run(x).backward()
    t = torch.tensor(a, requires_grad=True)
    run(t).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10)


def test_wide_fan_out_graph():
    a = np.linspace(-1, 1, 5)
    x = gg.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    outs_g = [(x * (i + 1)).sin() for i in range(500)]
    outs_t = [(t * (i + 1)).sin() for i in range(500)]
    sum(o.sum() for o in outs_g).backward()
    sum(o.sum() for o in outs_t).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_fan_out_then_fan_in_diamond():
    # x -> (a, b, c) -> d: each path's gradient must be summed once
    def f(x):
        a = x.exp()
        b = x * x
        c = x.sin()
        d = a * b + b * c + a * c
        return (d * d).sum()

    v = np.array([0.2, -0.4, 0.9])
    x = gg.tensor(v, requires_grad=True)
    f(x).backward()
    t = torch.tensor(v, requires_grad=True)
    f(t).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_reused_tensor_accumulates():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x * x + x  # x used four times
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([1.0, 4.0, 9.0]) + 1)
    # a non-leaf used twice
    x.grad = None
    h = x * 2
    (h * h + h).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * 2 * np.array([1.0, 2.0, 3.0]) + 1))
    # same tensor as both operands
    w = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (w @ w).sum().backward()
    tw = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (tw @ tw).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_second_backward_raises_unless_retain_graph():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*retain_graph=True"):
        y.backward()
    y2 = (x.exp() * x).sum()
    x.grad = None
    y2.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y2.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1)
    with pytest.raises(RuntimeError, match="second time"):
        y2.backward()


def test_second_backward_through_shared_subgraph_raises():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    (h.sum()).backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2).sum().backward()


def test_in_place_modification_of_saved_tensor_raises():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    w = gg.tensor([3.0, 4.0])
    y = x * w  # Mul saves w
    w += 1
    with pytest.raises(RuntimeError, match=r"MulBackward.*modified in place.*version 0 at save, 1 now"):
        y.sum().backward()
    # setitem, and in-place ops under no_grad on a tensor that requires grad
    w2 = gg.tensor([3.0, 4.0])
    y2 = x * w2
    w2[0] = 7.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y2.sum().backward()
    p = gg.tensor([1.0, 2.0], requires_grad=True)
    z = (p * p).sum()
    with gg.no_grad():
        p -= 0.1  # an optimizer step between forward and backward
    with pytest.raises(RuntimeError, match="modified in place"):
        z.backward()
    # a saved output: exp saves its result
    q = gg.tensor([1.0, 2.0], requires_grad=True)
    e = q.exp()
    with gg.no_grad():
        e.mul_(2)
    with pytest.raises(RuntimeError, match="ExpBackward.*modified in place"):
        e.sum().backward()


def test_in_place_through_view_is_detected():
    x = gg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w = gg.tensor([1.0, 2.0, 3.0, 4.0])
    v = w.reshape(2, 2)  # a view shares the version counter
    y = (x * w).sum()
    v.mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    # basic indexing and split also give views
    for make_view in [lambda t: t[1:3], lambda t: t[0], lambda t: t.split(2)[1], lambda t: t.T]:
        w = gg.tensor([1.0, 2.0, 3.0, 4.0])
        y = (x * w).sum()
        make_view(w).mul_(2)
        with pytest.raises(RuntimeError, match="modified in place"):
            y.backward()
    # an advanced-index result is a copy: changing it leaves w (and the graph) intact
    w = gg.tensor([1.0, 2.0, 3.0, 4.0])
    y = (x * w).sum()
    w[gg.tensor([0, 1])].mul_(2)
    x.grad = None
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0, 3.0, 4.0])


def test_in_place_on_leaf_requiring_grad_is_refused():
    p = gg.tensor([1.0, 2.0], requires_grad=True)
    for op in [lambda: p.add_(1), lambda: p.mul_(2), lambda: p.zero_(), lambda: p.copy_([1.0, 1.0])]:
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            op()


def test_in_place_on_graph_tensor_gives_correct_gradient():
    # on a non-leaf in a recorded graph glassgrad makes the op out of place, so gradients
    # stay right (PyTorch computes the same result)
    a = np.array([0.5, 1.5])
    x = gg.tensor(a, requires_grad=True)
    h = x * 2
    h.add_(1)
    h.mul_(3)
    h.exp().sum().backward()
    t = torch.tensor(a, requires_grad=True)
    th = t * 2
    th.add_(1)
    th.mul_(3)
    th.exp().sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


def test_non_scalar_backward_needs_gradient():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match=r"scalar outputs.*shape \(3,\).*gradient"):
        y.backward()
    y.backward(gg.tensor([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 12.0])
    with pytest.raises(RuntimeError, match=r"gradient has shape \(2,\).*\(3,\)"):
        (x * 2).backward(gg.tensor([1.0, 1.0]))
    # a one-element non-scalar can be implicitly seeded, like torch
    x.grad = None
    (x.sum().reshape(1, 1)).backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_backward_on_tensor_without_grad_raises():
    x = gg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()
    y = gg.tensor([1.0], requires_grad=True)
    with gg.no_grad():
        z = y * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        z.sum().backward()


def test_backward_on_leaf_itself():
    x = gg.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_backward_inputs_argument():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    w = gg.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])


def test_autograd_backward_several_roots():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    a = (x * x).sum()
    b = x * 3
    gg.autograd.backward([a, b], [None, gg.tensor([1.0, -1.0])])
    np.testing.assert_allclose(x.grad.numpy(), [2.0 + 3.0, 4.0 - 3.0])


def test_unused_branch_and_partially_used_multi_output():
    x = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    a, b, c = x.split(1, dim=1)
    _ = b.exp()  # never reaches the loss
    (a * 2 + c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 0.0, 1.0], [2.0, 0.0, 1.0]])


def test_no_grad_records_nothing_and_detach_cuts():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with gg.no_grad():
        y = x * 2
    assert y.grad_fn is None and not y.requires_grad
    z = x * x.detach()  # gradient flows only through the first factor
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


def test_hooks_on_leaf_and_intermediate_order_and_removal():
    calls = []
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: calls.append(("x", g.numpy().tolist())))
    h = x * 3
    h.register_hook(lambda g: calls.append(("h1", g.numpy().tolist())))
    h.register_hook(lambda g: g * 0 + 1)  # replaces h's gradient by ones
    h.register_hook(lambda g: calls.append(("h3", g.numpy().tolist())))
    (h * h).sum().backward()
    assert calls == [("h1", [6.0, 12.0]), ("h3", [1.0, 1.0]), ("x", [3.0, 3.0])]
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_leaf_hook_sees_total_gradient_once():
    calls = []
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: calls.append(g.numpy().copy()))
    (x * 2 + x * 3).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [5.0, 5.0])
    # a leaf with a hook takes the collected path, not the direct hand-over: same .grad
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_retain_grad_on_several_intermediates():
    x = gg.tensor([0.5, -0.5], requires_grad=True)
    a = x * 2
    b = a.tanh()
    a.retain_grad()
    b.retain_grad()
    b.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(a.grad.numpy(), 1 - np.tanh([1.0, -1.0]) ** 2, rtol=1e-6)


def test_grad_of_float32_graph_is_float32():
    x = gg.randn(3, 4, requires_grad=True)
    w = gg.randn(4, 2, requires_grad=True)
    loss = ((x @ w).relu() ** 2).mean()
    loss.backward()
    assert x.grad.dtype == gg.float32 and w.grad.dtype == gg.float32


def test_mixed_precision_graph_grads_take_each_inputs_dtype():
    x = gg.randn(3, requires_grad=True)  # float32
    y = gg.randn(3, dtype=gg.float64, requires_grad=True)
    z = (x * y).sum()  # promoted to float64, as torch
    assert z.dtype == gg.float64
    z.backward()
    assert x.grad.dtype == gg.float32 and y.grad.dtype == gg.float64


def test_custom_function_returning_wrong_shape_is_caught():
    class Bad(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum()

    x = gg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadBackward.*shape \(\).*shape \(3,\)"):
        Bad.apply(x).sum().backward()


def test_assigning_a_tensor_that_requires_grad_records_the_graph():
    # out = zeros(n); out[i] = f(w): the gradient must reach w (as in torch), not be dropped
    def run(T):
        w = T.tensor([1.0, 2.0], requires_grad=True)
        out = T.zeros(3)
        out[0] = w[0] * 3
        out[1:] = w * w
        out.add_(w.sum())
        out.mul_(w[1])
        y = T.zeros(2)
        y.copy_(w * 5)
        (out.sum() + y.sum()).backward()
        return w.grad.numpy(), out.requires_grad, out.is_leaf

    g, req, leaf = run(gg)
    tg, treq, tleaf = run(torch)
    np.testing.assert_allclose(g, tg)
    assert (req, leaf) == (treq, tleaf) == (True, False)
    # under no_grad the assignment stays a plain in-place write
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    out = gg.zeros(2)
    with gg.no_grad():
        out[0] = w[1]
    assert not out.requires_grad and out.numpy()[0] == 2.0


def test_several_roots_where_one_is_an_ancestor_of_another():
    for order in (0, 1):
        res = []
        for T, B in ((gg, gg.autograd.backward), (torch, torch.autograd.backward)):
            x = T.tensor([1.0, 2.0], requires_grad=True)
            a = x * x
            b = (a * 3).sum()
            roots, seeds = [b, a], [T.tensor(1.0), T.tensor([1.0, 10.0])]
            if order:
                roots, seeds = roots[::-1], seeds[::-1]
            B(roots, seeds)
            res.append(x.grad.numpy())
        np.testing.assert_allclose(res[0], res[1])
