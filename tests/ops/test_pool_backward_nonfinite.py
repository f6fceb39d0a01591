"""Max-pool backward with non-overlapping windows routes the gradient by multiplying it
with the arg-max masks, unless the upstream gradient holds an inf or a NaN (0·inf = NaN):
both branches against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import needs_torch

pytestmark = needs_torch


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [None, np.inf, -np.inf, np.nan])
def test_max_pool_backward_with_nonfinite_upstream(dtype, bad):
    import torch

    rng = np.random.default_rng(0)
    # ReLU-like input: many windows of equal zeros (ties go to the first position)
    x = np.maximum(rng.standard_normal((3, 2, 6, 8)), 0).astype(dtype)
    g = rng.standard_normal((3, 2, 3, 4)).astype(dtype)
    if bad is not None:
        g[0, 1, 2, 3] = bad
        g[2, 0, 0, 0] = bad
    gx = gg.tensor(x, requires_grad=True)
    gg.nn.functional.max_pool2d(gx, 2).backward(gg.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, 2).backward(torch.tensor(g))
    np.testing.assert_array_equal(gx.grad.numpy(), tx.grad.numpy())
