"""Pooling (glassgrad.ops.pool: max, average, adaptive) against PyTorch: values, gradients,
indices, gradcheck, double backward and errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from oracle import check_double_backward, check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional

MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, dilation=2),
    dict(kernel_size=(2, 3), stride=3, padding=1, dilation=(2, 1), ceil_mode=True),
]


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool2d_matches_torch(kw):
    check_op(lambda x: F.max_pool2d(x, **kw), [(2, 3, 7, 8)],
             torch_fn=lambda x: TF.max_pool2d(x, **kw))


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool2d_indices_match_torch(kw):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 8))
    y, i = F.max_pool2d(gg.tensor(x), return_indices=True, **kw)
    ty, ti = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert i.dtype == gg.int64
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_max_pool2d_ties_route_to_first_max():
    """Ties (e.g. after ReLU zeros) send the gradient to the first max of each window,
    as PyTorch's CPU kernel."""
    xa = np.array([[[[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0],
                     [2.0, 0.0, 3.0, 3.0], [0.0, 2.0, 3.0, 3.0]]]])
    for kw in (dict(kernel_size=2), dict(kernel_size=2, stride=1), dict(kernel_size=3,
                                                                       padding=1, stride=1)):
        x, tx = gg.tensor(xa, requires_grad=True), torch.tensor(xa, requires_grad=True)
        F.max_pool2d(x, **kw).sum().backward()
        TF.max_pool2d(tx, **kw).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("x_last,g_last", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_pool2d_backward_with_input_and_gradient_in_different_memory_orders(x_last, g_last, kw):
    """Activations batch-last in memory (as convolutions leave them) meeting a batch-first
    gradient (as a flatten sends back), and the reverse: same gradients as PyTorch,
    ties (ReLU zeros) included."""
    rng = np.random.default_rng(3)
    xa = np.maximum(rng.standard_normal((5, 3, 8, 8)), 0)
    x_mem = np.ascontiguousarray(np.moveaxis(xa, 0, -1)) if x_last else xa.copy()
    x = gg.Tensor._make(np.moveaxis(x_mem, -1, 0) if x_last else x_mem, True)
    y = F.max_pool2d(x, **kw)
    ga = rng.standard_normal(tuple(y.shape))
    g_arr = np.moveaxis(np.ascontiguousarray(np.moveaxis(ga, 0, -1)), -1, 0) if g_last else ga.copy()
    y.backward(gg.Tensor._make(g_arr, False))
    tx = torch.tensor(xa, requires_grad=True)
    TF.max_pool2d(tx, **kw).backward(torch.tensor(ga))
    # (overlapping windows add in another order than PyTorch: equal to rounding)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_max_pool2d_nan_propagates():
    xa = np.zeros((1, 1, 2, 2))
    xa[0, 0, 1, 0] = np.nan
    y = F.max_pool2d(gg.tensor(xa), 2)
    assert np.isnan(y.numpy()).all()


def test_max_pool1d_3d_and_unbatched():
    check_op(lambda x: F.max_pool1d(x, 3, 2, 1), [(2, 3, 9)],
             torch_fn=lambda x: TF.max_pool1d(x, 3, 2, 1))
    check_op(lambda x: F.max_pool3d(x, 2, (1, 2, 2)), [(1, 2, 3, 4, 5)],
             torch_fn=lambda x: TF.max_pool3d(x, 2, (1, 2, 2)))
    check_op(lambda x: F.max_pool2d(x, 2), [(3, 4, 6)], torch_fn=lambda x: TF.max_pool2d(x, 2))


def test_max_pool2d_double_backward():
    kw = dict(kernel_size=3, stride=2, padding=1)
    check_double_backward(lambda x: F.max_pool2d(x, **kw).tanh(), [(2, 2, 6, 5)],
                          torch_fn=lambda x: TF.max_pool2d(x, **kw).tanh())


AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1)),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=3, ceil_mode=True),
    dict(kernel_size=3, padding=1, divisor_override=5),
]


@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool2d_matches_torch(kw):
    check_op(lambda x: F.avg_pool2d(x, **kw), [(2, 3, 7, 8)],
             torch_fn=lambda x: TF.avg_pool2d(x, **kw))


def test_avg_pool1d_3d():
    check_op(lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False), [(2, 3, 10)],
             torch_fn=lambda x: TF.avg_pool1d(x, 3, 2, 1, count_include_pad=False))
    check_op(lambda x: F.avg_pool3d(x, 2, ceil_mode=True), [(1, 2, 3, 5, 4)],
             torch_fn=lambda x: TF.avg_pool3d(x, 2, ceil_mode=True))


def test_avg_pool2d_double_backward():
    kw = dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)
    check_double_backward(lambda x: F.avg_pool2d(x, **kw).tanh(), [(2, 2, 6, 5)],
                          torch_fn=lambda x: TF.avg_pool2d(x, **kw).tanh())


@pytest.mark.parametrize("shape,out", [((2, 3, 8, 6), (4, 3)), ((2, 3, 7, 9), (3, 4)),
                                       ((2, 3, 5, 5), 1), ((2, 3, 5, 7), (None, 3)),
                                       ((3, 10, 6), (4, 5)), ((2, 3, 3, 2), (5, 4))])
def test_adaptive_avg_pool2d_matches_torch(shape, out):
    check_op(lambda x: F.adaptive_avg_pool2d(x, out), [shape],
             torch_fn=lambda x: TF.adaptive_avg_pool2d(x, out))


def test_adaptive_avg_pool1d_3d_and_double_backward():
    check_op(lambda x: F.adaptive_avg_pool1d(x, 4), [(2, 3, 11)],
             torch_fn=lambda x: TF.adaptive_avg_pool1d(x, 4))
    check_op(lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2)), [(1, 2, 5, 7, 4)],
             torch_fn=lambda x: TF.adaptive_avg_pool3d(x, (2, 3, 2)))
    check_double_backward(lambda x: F.adaptive_avg_pool2d(x, (2, 3)).tanh(), [(1, 2, 5, 7)],
                          torch_fn=lambda x: TF.adaptive_avg_pool2d(x, (2, 3)).tanh())


def _raises(match, fn, exc=(ValueError, TypeError, NotImplementedError)):
    with pytest.raises(exc, match=match):
        fn()


def test_pool_errors():
    x = gg.randn(2, 3, 5, 5)
    _raises(r"max_pool2d: padding \(2, 2\) should be at most half of the kernel size",
            lambda: F.max_pool2d(x, 2, padding=2))
    _raises(r"max_pool2d: input \(2, 3, 5, 5\) is too small for kernel \(6, 6\)",
            lambda: F.max_pool2d(x, 6))
    _raises(r"max_pool2d: expected a 4-D input", lambda: F.max_pool2d(gg.randn(5, 5), 2))
    _raises(r"avg_pool2d: kernel_size must be >= 1", lambda: F.avg_pool2d(x, 0))
    _raises(r"adaptive_avg_pool2d: output_size must be an int or a tuple of 2",
            lambda: F.adaptive_avg_pool2d(x, (1, 2, 3)))
    _raises(r"interpolate: give exactly one of size and scale_factor",
            lambda: F.interpolate(x))
    _raises(r"interpolate: mode 'bicubic' is not supported", lambda: F.interpolate(
        x, scale_factor=2, mode="bicubic"))
    _raises(r"interpolate: mode 'bilinear' needs a 4-D input",
            lambda: F.interpolate(gg.randn(2, 3, 4), scale_factor=2, mode="bilinear"))
    _raises(r"dropout2d: dropout probability has to be between 0 and 1",
            lambda: F.dropout2d(x, 1.5))


def test_max_pool_backward_survives_inplace_change_of_output():
    xa = np.random.default_rng(4).standard_normal((2, 3, 6, 6))
    x, tx = gg.tensor(xa, requires_grad=True), torch.tensor(xa, requires_grad=True)
    y, ty = F.max_pool2d(x, 2), TF.max_pool2d(tx, 2)
    z = y.clone()
    y.array[...] = 0.0  # overwrite the output's memory behind autograd's back
    (z * 2).sum().backward()
    (ty.clone() * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("shape,out", [((2, 3, 7, 9), (3, 4)), ((2, 3, 8, 6), 2),
                                       ((3, 5, 7), (2, None)), ((1, 2, 3, 2), (5, 4))])
def test_adaptive_max_pool2d_matches_torch(shape, out):
    check_op(lambda x: F.adaptive_max_pool2d(x, out), [shape],
             torch_fn=lambda x: TF.adaptive_max_pool2d(x, out))
    xa = np.round(np.random.default_rng(2).standard_normal(shape))  # many ties
    y, i = F.adaptive_max_pool2d(gg.tensor(xa), out, return_indices=True)
    ty, ti = TF.adaptive_max_pool2d(torch.tensor(xa), out, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_adaptive_max_pool1d_and_double_backward():
    check_op(lambda x: F.adaptive_max_pool1d(x, 4), [(2, 3, 10)],
             torch_fn=lambda x: TF.adaptive_max_pool1d(x, 4))
    check_double_backward(lambda x: F.adaptive_max_pool2d(x, (2, 3)).tanh(), [(1, 2, 5, 7)],
                          torch_fn=lambda x: TF.adaptive_max_pool2d(x, (2, 3)).tanh())


def test_gradgradcheck_pooling():
    x = gg.randn(1, 2, 5, 4, dtype=gg.float64, requires_grad=True)
    assert gg.gradgradcheck(lambda x: F.max_pool2d(x, 2, 1).tanh(), [x])
    assert gg.gradgradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True).tanh(), [x])


def test_the_adaptive_pools_document_their_shared_parameters():
    for fn in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        assert "{" not in fn.__doc__
        assert ("    input : Tensor\n        ``(N, C, H, W)`` or ``(C, H, W)``.\n"
                "    output_size : int or tuple\n        ``None`` in a tuple keeps that input size.\n"
                in fn.__doc__)
    assert "    return_indices : bool\n" in F.adaptive_max_pool2d.__doc__
