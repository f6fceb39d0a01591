"""``gg.multinomial`` / ``Tensor.multinomial`` against ``torch.multinomial``: shapes, dtype,
the distribution of the draws (with and without replacement) and the inputs both reject."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import needs_torch, torch

W = [1.0, 2.0, 3.0, 4.0]
P = np.array(W) / sum(W)


def second_draw_probs(p: np.ndarray) -> np.ndarray:
    """P(second draw = j) when drawing without replacement: sum_i p_i p_j / (1 - p_i)."""
    return np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(len(p)) if i != j)
                     for j in range(len(p))])


@needs_torch
@pytest.mark.parametrize("shape_w", [W, [W, W[::-1], [0.0, 1.0, 1.0, 0.0]]])
@pytest.mark.parametrize("replacement", [False, True])
def test_shape_and_dtype_like_torch(shape_w, replacement):
    k = 2
    g = gg.multinomial(gg.tensor(shape_w), k, replacement)
    t = torch.multinomial(torch.tensor(shape_w), k, replacement)
    assert tuple(g.shape) == tuple(t.shape) and g.dtype == gg.int64 and t.dtype == torch.int64
    m = gg.tensor(shape_w).multinomial(k, replacement=replacement)
    assert tuple(m.shape) == tuple(t.shape)


@needs_torch
def test_with_replacement_frequencies():
    n = 40000
    g = gg.multinomial(gg.tensor(W), n, replacement=True, generator=gg.Generator(0)).numpy()
    t = torch.multinomial(torch.tensor(W), n, replacement=True,
                          generator=torch.Generator().manual_seed(0)).numpy()
    for draws in (g, t):
        np.testing.assert_allclose(np.bincount(draws, minlength=4) / n, P, atol=0.01)


@needs_torch
def test_without_replacement_distinct_and_sequential():
    """Each row's draws are distinct, zero weights are never drawn, and the second draw has
    the distribution of successive sampling without replacement (as PyTorch's)."""
    rows = 20000
    w = [W + [0.0]] * rows
    g = gg.multinomial(gg.tensor(w), 4, generator=gg.Generator(1)).numpy()
    t = torch.multinomial(torch.tensor(w), 4, generator=torch.Generator().manual_seed(1)).numpy()
    for draws in (g, t):
        assert all(len(set(r)) == 4 for r in draws[:200]) and not (draws == 4).any()
        np.testing.assert_allclose(np.bincount(draws[:, 0], minlength=4) / rows, P, atol=0.012)
        np.testing.assert_allclose(np.bincount(draws[:, 1], minlength=4) / rows, second_draw_probs(P),
                                   atol=0.012)


def test_generator_reproducible():
    a = gg.multinomial(gg.tensor(W), 8, True, generator=gg.Generator(5))
    b = gg.multinomial(gg.tensor(W), 8, True, generator=gg.Generator(5))
    assert a.tolist() == b.tolist()


@needs_torch
@pytest.mark.parametrize("w, k, replacement", [
    ([1.0, -1.0, 2.0], 1, True),               # negative weight
    ([1.0, float("nan")], 1, True),            # nan
    ([1.0, float("inf")], 1, True),            # inf
    ([0.0, 0.0], 1, True),                     # zero sum
    ([[[1.0, 2.0]]], 1, True),                 # 3-D
    ([1.0, 2.0], 0, True),                     # no samples
    ([1.0, 0.0, 2.0], 4, False),               # more draws than categories
])
def test_rejects_what_torch_rejects(w, k, replacement):
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor(w), k, replacement)
    with pytest.raises(ValueError, match="multinomial"):
        gg.multinomial(gg.tensor(w), k, replacement)


@needs_torch
def test_zero_weights_come_last_without_replacement():
    """More draws than positive weights: PyTorch (against its docs' wording) returns the
    positive categories first, then zero-weight ones; glassgrad does the same."""
    w = [1.0, 0.0, 2.0, 0.0]
    t = torch.multinomial(torch.tensor([w] * 50), 4).numpy()
    g = gg.multinomial(gg.tensor([w] * 50), 4).numpy()
    for draws in (t, g):
        assert (np.sort(draws[:, :2], axis=1) == [0, 2]).all()
        assert (np.sort(draws[:, 2:], axis=1) == [1, 3]).all()


@needs_torch
def test_rejects_integer_weights_like_torch():
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor([1, 2]), 1)
    with pytest.raises(TypeError, match="multinomial: only supports floating-point"):
        gg.multinomial(gg.tensor([1, 2]), 1)
    with pytest.raises(TypeError, match="num_samples must be an int"):
        gg.multinomial(gg.tensor([1.0, 2.0]), 1.5)
