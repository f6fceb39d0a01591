"""Convolutions by direct loops (``kernels.conv2d_direct``, taken by ``ops.conv`` when no
weight gradient is wanted, the im2col matrix would be large and the output channels few):
the same values as im2col + GEMM, NaNs where that path makes them, and only where no
weight gradient needs the im2col matrix."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from glassgrad.ops import conv as C
from glassgrad.ops import kernels as K

pytest.importorskip("numba")
torch = pytest.importorskip("torch")


@pytest.fixture
def direct_always(monkeypatch):
    """Every float32 2-D convolution without a weight gradient, whatever its size, takes
    the direct loops (and the calls are counted)."""
    monkeypatch.setattr(K, "_DIRECT_MIN_COLS_BYTES", 0)
    calls = []
    real = K.conv2d_direct
    monkeypatch.setattr(K, "conv2d_direct", lambda *a: calls.append(real(*a)) or calls[-1])
    return calls


# (x_shape, w_shape, kwargs): padding symmetric / asymmetric ("same" with an even kernel),
# stride, dilation, several input channels, one sample
CASES = [
    ((5, 1, 12, 11), (6, 1, 5, 5), dict(padding=2)),
    ((5, 3, 9, 8), (4, 3, 3, 2), dict(stride=2)),
    ((5, 3, 9, 8), (4, 3, 4, 3), dict(padding="same")),
    ((5, 2, 9, 10), (3, 2, 2, 3), dict(padding=(1, 2), stride=(2, 1), dilation=(2, 1))),
    ((1, 2, 7, 7), (8, 2, 3, 3), dict(padding=1)),
]


@pytest.mark.parametrize("x_shape,w_shape,kw", CASES)
def test_direct_equals_im2col_gemm(direct_always, x_shape, w_shape, kw):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    want = F.conv2d(gg.tensor(x), gg.tensor(w, requires_grad=True), gg.tensor(b), **kw)
    assert not direct_always                          # a weight gradient: im2col + GEMM
    with gg.no_grad():
        got = F.conv2d(gg.tensor(x), gg.tensor(w), gg.tensor(b), **kw)
    assert len(direct_always) == 1 and direct_always[0] is not None
    assert got.shape == want.shape and got.dtype == gg.float32
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                   torch.from_numpy(b), **kw)
    np.testing.assert_allclose(got.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)


def test_input_gradient_without_weight_gradient(direct_always):
    """A gradient for the input only (a saliency map, an adversarial step): the forward by
    direct loops (no im2col matrix to keep), the input gradient as before."""
    rng = np.random.default_rng(1)
    x = gg.tensor(rng.standard_normal((4, 2, 8, 8)).astype(np.float32), requires_grad=True)
    w = gg.tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    y = F.conv2d(x, w, padding=1)
    assert len(direct_always) == 1
    (y * y).sum().backward()
    tx = torch.from_numpy(x.detach().numpy()).requires_grad_()
    ty = torch.nn.functional.conv2d(tx, torch.from_numpy(w.numpy()), padding=1)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_nonfinite_weight_gives_the_nans_of_the_gemm(direct_always, bad):
    # the padding is read as zeros and multiplied like any input: 0·inf is NaN there too
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 1, 6, 6)).astype(np.float32)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    w[1, 0, 0, 0] = bad
    want = F.conv2d(gg.tensor(x), gg.tensor(w, requires_grad=True), padding=1).detach().numpy()
    with gg.no_grad():
        got = F.conv2d(gg.tensor(x), gg.tensor(w), padding=1).numpy()
    assert len(direct_always) == 1
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-5, atol=1e-6)


def test_which_convolutions_take_the_direct_loops():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)
    geom = ((1, 1), ((2, 2), (2, 2)), (1, 1))
    small = rng.standard_normal((4, 1, 28, 28)).astype(np.float32)   # a 0.3 MB matrix
    assert K.conv2d_direct(small, w, *geom, (28, 28)) is None
    big = rng.standard_normal((256, 1, 28, 28)).astype(np.float32)   # a 20 MB matrix
    y = K.conv2d_direct(big, w, *geom, (28, 28))
    assert y is not None and y.shape == (6, 28, 28, 256)
    want = C._conv_fwd(big, w, geom[0], geom[1], geom[2], 1, (28, 28))[0]
    np.testing.assert_allclose(np.moveaxis(y, -1, 0), want, rtol=1e-5, atol=1e-6)
    many = rng.standard_normal((16, 1, 5, 5)).astype(np.float32)     # 16 output channels
    assert K.conv2d_direct(big, many, *geom, (28, 28)) is None
    assert K.conv2d_direct(big.astype(np.float64), w.astype(np.float64), *geom, (28, 28)) is None
    with K.using("numpy"):
        assert K.conv2d_direct(big, w, *geom, (28, 28)) is None
