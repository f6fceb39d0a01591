"""Who owns a gradient array: the engine writes (adds in place, takes as ``.grad``) only
into arrays it allocated or that an op declaring ``fresh_grads`` returned, never into one
somebody else holds; the checking mode verifies every declaration."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import autograd
from glassgrad.autograd.grad_mode import STATE


@pytest.fixture
def checking():
    prev = STATE.check_ownership
    autograd.set_debug_ownership(True)
    yield
    autograd.set_debug_ownership(prev)


def _op(backward, fresh=True, save=False):
    """A one-input op ``z = 2x`` with the given backward and declaration."""

    class Bad(gg.Function):
        fresh_grads = fresh

        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            ctx.buf = np.ones_like(x)
            if save:
                ctx.save_for_backward(x)
            return 2 * x

    Bad.backward = staticmethod(backward)
    return Bad


def _leaf():
    return gg.tensor([1.0, 2.0, 3.0], requires_grad=True)


@pytest.mark.parametrize("backward, save, what", [
    (lambda ctx, g: g[::-1], False, "an upstream gradient"),
    (lambda ctx, g: g.reshape(-1), False, "an upstream gradient"),
    (lambda ctx, g: ctx.x, False, "an input of the op"),
    (lambda ctx, g: ctx.buf, False, "ctx.buf"),
    (lambda ctx, g: ctx.saved_tensors[0][:], True, "an array the op saved for backward"),
    (lambda ctx, g: np.broadcast_to(np.float32(2), g.shape), False, "read-only"),
])
def test_a_wrong_fresh_declaration_is_caught_naming_the_op(checking, backward, save, what):
    Bad = _op(backward, save=save)
    with pytest.raises(RuntimeError, match=f"BadBackward declares fresh_grads.*{what}"):
        (Bad.apply(_leaf()) * 2.0).sum().backward()


def test_two_gradients_sharing_memory_are_caught(checking):
    class Twice(gg.Function):
        fresh_grads = True

        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            d = g * 1.0
            return d, d

    with pytest.raises(RuntimeError, match="TwiceBackward.*input 1 shares memory with the gradient"):
        Twice.apply(_leaf(), _leaf()).sum().backward()


def test_right_declarations_pass_the_check(checking):
    ok_new = _op(lambda ctx, g: g * 2.0)
    ok_through = _op(lambda ctx, g: g)  # the upstream gradient itself: allowed, not owned
    x = _leaf()
    (ok_new.apply(x) + ok_through.apply(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_the_check_covers_replayed_captured_calls(checking):
    Bad = _op(lambda ctx, g: g[:], fresh=True)
    f = gg.capture(lambda x: (Bad.apply(x * 1.0) * 2.0).sum())
    x = _leaf()
    autograd.set_debug_ownership(False)
    f(x).backward()  # recorded (eager ops), unchecked
    autograd.set_debug_ownership(True)
    with pytest.raises(RuntimeError, match="BadBackward declares fresh_grads"):
        f(x).backward()  # replayed: the ops' backwards run inside the Captured node


def test_not_fresh_by_default_so_a_returned_array_is_never_taken():
    # an op that is not declared fresh returns an array it keeps: .grad must be a copy,
    # or the next backward's in-place accumulation would change the op's array
    Keep = _op(lambda ctx, g: ctx.buf, fresh=False)
    assert gg.Function.fresh_grads is False
    x = _leaf()
    y = Keep.apply(x)
    buf = y.grad_fn.buf
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_array_equal(buf, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_a_fresh_array_becomes_grad_without_a_copy():
    made = []

    class Fresh(gg.Function):
        fresh_grads = True

        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            d = g * 2.0
            made.append(id(d))
            return d

    x = _leaf()
    Fresh.apply(x).sum().backward()
    assert id(x.grad.array) == made[0]


def test_a_hook_that_keeps_the_gradient_sees_it_unchanged_later():
    x = _leaf()
    kept = []
    x.register_hook(lambda g: kept.append(g))
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(kept[0].numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(kept[1].numpy(), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0, 5.0])


def test_gg_grad_results_are_not_written_to_by_a_later_backward():
    x = _leaf()
    h = x * 1.0
    y = (h * 2.0).sum() + (h * 3.0).sum()
    (gh, gx) = gg.autograd.grad(y, [h, x], retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(gh.numpy(), [5.0, 5.0, 5.0])
    np.testing.assert_array_equal(gx.numpy(), [5.0, 5.0, 5.0])
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0, 5.0])


def test_a_node_used_many_times_sums_in_place_into_its_own_buffer():
    # h feeds four fresh ops: the first gradient is taken as h's buffer, the rest added
    # into it in place; the upstream seed and retain_grad's copy stay untouched
    x = _leaf()
    h = x * 1.0
    h.retain_grad()
    y = h * 2.0 + h * 3.0 + h.exp() + h.sin()
    seed = np.ones(3, np.float32)
    y.backward(gg.from_numpy(seed))
    xs = np.array([1.0, 2.0, 3.0], np.float32)
    want = 5.0 + np.exp(xs) + np.cos(xs)
    np.testing.assert_allclose(h.grad.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)
    np.testing.assert_array_equal(seed, [1.0, 1.0, 1.0])


def test_ownership_check_mode_switches():
    prev = autograd.is_debug_ownership_enabled()
    try:
        autograd.set_debug_ownership(True)
        assert autograd.is_debug_ownership_enabled()
        autograd.set_debug_ownership(False)
        assert not autograd.is_debug_ownership_enabled()
    finally:
        autograd.set_debug_ownership(prev)


# The op tests (oracle comparisons with PyTorch, gradient checks: everything under tests/ops/),
# the capture tests and the fuzz comparison run once more with the check on, so that every
# fresh_grads declaration they reach is verified.
TESTS = pathlib.Path(__file__).resolve().parents[1]


def test_op_tests_pass_with_every_fresh_declaration_checked():
    files = sorted(str(p) for p in (TESTS / "ops").glob("test_*.py"))
    files += [str(TESTS / "autograd" / "test_capture.py"), str(TESTS / "test_fuzz_ops.py")]
    assert len(files) > 20 and all(os.path.isfile(f) for f in files), files
    env = dict(os.environ, GLASSGRAD_CHECK_OWNERSHIP="1")
    probe = subprocess.run(
        [sys.executable, "-c", "import glassgrad.autograd as a; print(a.is_debug_ownership_enabled())"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert probe.stdout.strip() == "True", probe.stderr
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *files],
        env=env, capture_output=True, text=True, timeout=900, cwd=TESTS.parent,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
