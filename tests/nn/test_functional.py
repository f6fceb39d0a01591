"""glassgrad.nn.functional against torch.nn.functional: activations, logsigmoid, padding,
normalization functions and losses (values and gradients, float64 and float32, finite
differences); clear errors. (The fused ops behind them: tests/ops/.)"""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.nn import functional as F
from oracle import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def test_logsigmoid_vs_torch():
    check_op(F.logsigmoid, shapes=[(4, 3)], torch_fn=TF.logsigmoid)
    x = gg.tensor([-1e4, 0.0, 1e4], requires_grad=True)
    y = F.logsigmoid(x)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), [-1e4, -np.log(2), 0.0], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.5, 0.0], atol=1e-7)
