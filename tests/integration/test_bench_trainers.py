"""The MLP trainers of bench/bench_mnist_mlp.py do the same arithmetic.

The speed ratios the bench prints only mean something if every trainer trains the same
network the same way: the minimal tape must end bit-identical to the hand-written NumPy
loop, glassgrad within the last bits (its bias sums are BLAS products), the captured
glassgrad step bit-identical to eager glassgrad, PyTorch within float32 rounding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def B():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_mnist_mlp
    finally:
        sys.path.remove(str(BENCH))
    return bench_mnist_mlp


@pytest.mark.parametrize("sizes", [[784, 32, 10], [784, 24, 16, 10]])
def test_trainers_agree(B, sizes):
    rng = np.random.default_rng(0)
    X = rng.random((200, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], 200)
    w0 = B.init_weights(sizes, 0)
    order = B.batch_order(len(X), 32, 0)  # the last batch is short (8 rows)
    names = ["numpy", "tape", "glassgrad", "capture"]
    try:
        import torch  # noqa: F401
        names.append("torch")
    except ImportError:
        pass
    final = {}
    for n in names:
        tr = B.TRAINERS[n](w0)
        tr.run(X, y, order[:3], 0.1)   # in two turns, as the bench runs them
        tr.run(X, y, order[3:], 0.1)
        final[n] = tr.weights()
    for n in names[1:]:
        for (W, b), (Wn, bn) in zip(final[n], final["numpy"]):
            assert W.dtype == Wn.dtype == np.float32
            if n == "torch":
                np.testing.assert_allclose(W, Wn, atol=1e-5)
                np.testing.assert_allclose(b, bn, atol=1e-5)
            elif n == "glassgrad":
                # same operations in float32; glassgrad sums the bias gradient over the batch
                # with a BLAS matrix-vector product (ops/_util.sum_rows), the NumPy loop with
                # g.sum(0): the rounding differs in the last bits
                np.testing.assert_allclose(W, Wn, rtol=0, atol=2e-7)
                np.testing.assert_allclose(b, bn, rtol=0, atol=2e-7)
            elif n == "tape":
                assert np.array_equal(W, Wn) and np.array_equal(b, bn), n
    # the captured glassgrad step replays the same ops: bit-identical to eager glassgrad
    for (W, b), (Wg, bg) in zip(final["capture"], final["glassgrad"]):
        assert np.array_equal(W, Wg) and np.array_equal(b, bg)
    # and training moved the weights
    assert not np.array_equal(final["numpy"][0][0], w0[0][0])
