"""For small inputs LSTMLayer's forward computes the gate pre-activations already scaled
by −1 / −2 (so that σ and tanh need no per-step negation and doubling); scaling by a power
of two is exact, so its outputs (and those of the large-input path) must equal, bit for
bit, the step-by-step formula on unscaled pre-activations (``_lstm_gates_``). Values and
gradients against PyTorch are in test_lstm_layer.py."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.ops import _parallel as P
from glassgrad.ops import kernels as K
from glassgrad.ops import rnn as R


def _reference(xproj, h0, c0, w_hh, reverse):
    T = xproj.shape[0]
    H = w_hh.shape[1]
    w_t = np.ascontiguousarray(w_hh.T)
    h, c = h0, c0
    out = np.empty(xproj.shape[:2] + (H,), xproj.dtype)
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        a = h @ w_t
        a += xproj[t]
        c, _, h = R._lstm_gates_(a, c, H)
        out[t] = h
    return out, h, c


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("size", [(9, 4, 5), (3, 40, 600)])   # the small path; over 1 MiB
def test_prescaled_forward_is_bit_identical(dtype, reverse, size):
    T, B, H = size
    rng = np.random.default_rng(1)
    xproj = (rng.standard_normal((T, B, 4 * H)) * 4).astype(dtype)  # large |a|: exp overflows
    h0, c0 = (rng.standard_normal((B, H)).astype(dtype) for _ in range(2))
    w_hh = (rng.standard_normal((4 * H, H)) / np.sqrt(H)).astype(dtype)
    # the whole batch in one loop, as the reference; for large float32 inputs the compiled
    # step has its own exponential (to float32 rounding: tests/ops/test_kernels.py), so the
    # NumPy loop is the one held to the bit here
    large_f32 = dtype == np.float32 and xproj.nbytes > (1 << 20)
    with gg.no_grad(), P.max_blocks(1), K.using("numpy" if large_f32 else "auto"):
        got = R.LSTMLayer.apply(*(gg.tensor(v) for v in (xproj, h0, c0, w_hh)), reverse=reverse)
    for g, want in zip(got, _reference(xproj, h0, c0, w_hh, reverse)):
        assert g.dtype == dtype
        np.testing.assert_array_equal(g.numpy(), want)
