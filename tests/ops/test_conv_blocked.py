"""Convolutions whose im2col matrix is short and wide (few input channels, many output
positions × batch) take the blocked GEMM path of ``ops/conv.py`` (``_gemm_wide``,
``_gemm_nt``): values and gradients against PyTorch, float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.ops import conv as C
from oracle import check_op, needs_torch

pytestmark = needs_torch
# float64 to the oracle's default 1e-10; float32 sums of ~12,000 products to 1e-4
F64 = dict(dtypes=(np.float64,))
F32 = dict(dtypes=(np.float32,), atol=1e-4, rtol=1e-4)


def test_lenet_first_layer_shape_is_blocked():
    cols = np.zeros((1, 25, 28 * 28 * 16), np.float32)
    assert C._chunk(cols) == 4096
    assert C._chunk(np.zeros((1, 150, 6400), np.float32)) == 0  # a second layer: one GEMM
    assert C._chunk(np.zeros((1, 25, 28 * 28 * 16), np.float64)) == 2048


@pytest.mark.parametrize("groups", [1, 2])
def test_blocked_conv2d_matches_torch(groups):
    # 28·28·16 = 12,544 columns, C/G·kh·kw = 25 rows: blocks of 4,096 (float32) / 2,048
    # (float64) columns, the last one partial
    import torch

    check_op(lambda x, w, b: gg.nn.functional.conv2d(x, w, b, padding=2, groups=groups),
             torch_fn=lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=2,
                                                                 groups=groups),
             shapes=[(16, groups, 28, 28), (6, 1, 5, 5), (6,)], gradcheck=False, **F64)
    check_op(lambda x, w, b: gg.nn.functional.conv2d(x, w, b, padding=2, groups=groups),
             torch_fn=lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=2,
                                                                 groups=groups),
             shapes=[(16, groups, 28, 28), (6, 1, 5, 5), (6,)], gradcheck=False, **F32)


def test_blocked_gemms_equal_plain_products():
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        a = rng.standard_normal((2, 6, 9)).astype(dt)
        b = rng.standard_normal((2, 9, 10_000)).astype(dt)
        d = rng.standard_normal((2, 6, 10_000)).astype(dt)
        assert C._chunk(b)
        tol = 1e-4 if dt == np.float32 else 1e-11
        np.testing.assert_allclose(C._gemm_wide(a, b), a @ b, rtol=tol, atol=tol)
        np.testing.assert_allclose(C._gemm_nt(d, b), d @ b.swapaxes(1, 2), rtol=tol, atol=tol)
        assert C._gemm_wide(a, b).dtype == dt and C._gemm_nt(d, b).dtype == dt


def test_conv_transpose_backward_through_blocked_path():
    # the transposed convolution's backward is a forward convolution (+ weight gradient)
    import torch

    check_op(lambda x, w: gg.nn.functional.conv_transpose2d(x, w, padding=2),
             torch_fn=lambda x, w: torch.nn.functional.conv_transpose2d(x, w, padding=2),
             shapes=[(16, 6, 28, 28), (6, 1, 5, 5)], gradcheck=False, **F64)
    check_op(lambda x, w: gg.nn.functional.conv_transpose2d(x, w, padding=2),
             torch_fn=lambda x, w: torch.nn.functional.conv_transpose2d(x, w, padding=2),
             shapes=[(16, 6, 28, 28), (6, 1, 5, 5)], gradcheck=False, **F32)
