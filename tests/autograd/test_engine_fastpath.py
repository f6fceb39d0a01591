"""The engine's fast path: leaf gradients taken without a copy when nobody else holds
them, and never when somebody does (speed work must not change any value)."""

import numpy as np

import glassgrad as gg
from glassgrad import nn
from glassgrad.ops import linear as ops_linear


def test_weight_gradient_is_the_array_backward_returned():
    # The fused Linear's backward makes dW with one GEMM; .grad must be that very array
    # (a copy of a 784x256 gradient per step was the main framework cost at batch 32).
    made = []
    orig = ops_linear.Linear.backward

    def spy(ctx, g):
        res = orig(ctx, g)
        made.append(id(res[1]))  # an id only: holding the array would (rightly) prevent taking it
        return res

    ops_linear.Linear.backward = staticmethod(spy)
    try:
        lin = nn.Linear(5, 3)
        lin(gg.randn(4, 5)).sum().backward()
    finally:
        ops_linear.Linear.backward = staticmethod(orig)
    assert id(lin.weight.grad.array) == made[0]  # the copy would be made while dW is alive


def test_shared_gradient_is_copied_not_taken():
    # x + x: Add hands the same array to both inputs; taking it for x.grad and then adding
    # the second contribution in place would double count.
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    w = gg.tensor([3.0, 4.0], requires_grad=True)
    y = w * 1.0
    (y + w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0])


def test_user_gradient_array_is_not_modified():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0], dtype=np.float32)
    y = x * 2.0
    y.backward(gg.from_numpy(g))
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(g, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_zero_dim_leaf_accumulates_across_uses_and_backwards():
    # NumPy returns immutable scalars from 0-d arithmetic; .grad must stay an array so
    # that later contributions add in place instead of being lost.
    a = gg.tensor(1.5, requires_grad=True)
    b = gg.tensor(2.0, requires_grad=True)
    (a * b + a * a).backward()
    assert isinstance(a.grad.array, np.ndarray)
    np.testing.assert_allclose(a.grad.item(), 2.0 + 3.0)
    (a * b).backward()
    np.testing.assert_allclose(a.grad.item(), 5.0 + 2.0)
    np.testing.assert_allclose(b.grad.item(), 1.5 + 1.5)


def test_gradients_same_as_before_for_a_small_training_run():
    # one model, 20 SGD steps: the same weights as a reference computed in float64 with
    # NumPy by hand (forward, softmax-CE gradient, backward)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    W1, b1, W2, b2 = (p.detach().numpy().astype(np.float64) for p in model.parameters())
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    for i in range(20):
        xb, yb = X[i % 4 * 16:(i % 4 + 1) * 16], y[i % 4 * 16:(i % 4 + 1) * 16]
        opt.zero_grad()
        nn.functional.cross_entropy(model(gg.from_numpy(xb)), gg.from_numpy(yb)).backward()
        opt.step()
        h = np.maximum(xb @ W1.T + b1, 0)
        z = h @ W2.T + b2
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(16), yb] -= 1
        p /= 16
        gW2, gb2 = p.T @ h, p.sum(0)
        gh = (p @ W2) * (h > 0)
        gW1, gb1 = gh.T @ xb, gh.sum(0)
        W1, b1, W2, b2 = W1 - 0.1 * gW1, b1 - 0.1 * gb1, W2 - 0.1 * gW2, b2 - 0.1 * gb2
    for p, ref in zip(model.parameters(), (W1, b1, W2, b2)):
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-4, atol=1e-5)


def test_needs_input_grad_follows_the_edges():
    import glassgrad as gg

    seen = []

    class Probe(gg.Function):
        @staticmethod
        def forward(ctx, *xs):
            seen.append(ctx.needs_input_grad)
            return xs[0] * 1

        @staticmethod
        def backward(ctx, g):
            return (g,) + (None,) * (len(ctx.needs_input_grad) - 1)

    a = gg.tensor([1.0, 2.0], requires_grad=True)
    b = gg.tensor([3.0, 4.0])
    Probe.apply(a, b, 3.0)
    Probe.apply(b, a)
    with gg.no_grad():
        Probe.apply(a, b)
    # many input patterns (more than the cache keeps) stay right
    for n in range(1, 12):
        args = [a if k % 2 == 0 else b for k in range(n)]
        Probe.apply(*args)
        assert seen[-1] == tuple(k % 2 == 0 for k in range(n))
    for n in range(300):
        pattern = [(n >> k) & 1 == 1 for k in range(9)]
        Probe.apply(*[a if p else b for p in pattern])
        assert seen[-1] == tuple(pattern)
    assert seen[:3] == [(True, False, False), (False, True), (False, False)]


def test_saved_intermediate_does_not_keep_the_output_alive():
    import gc
    import weakref

    import numpy as np

    import glassgrad as gg

    class SavesIntermediate(gg.Function):
        @staticmethod
        def forward(ctx, x):
            mid = x * 2
            ctx.save_for_backward(mid)  # neither an input nor an output
            return mid + 1

        @staticmethod
        def backward(ctx, g):
            (mid,) = ctx.saved_tensors
            return g * 2

    x = gg.tensor(np.ones(3), requires_grad=True)
    y = SavesIntermediate.apply(x)
    out_ref = weakref.ref(y.array)
    node = y.grad_fn
    del y
    gc.collect()
    assert out_ref() is None  # only the node's saved intermediate stays, not the output
    assert not hasattr(node, "_saved_outputs")
