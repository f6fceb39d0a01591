"""nn.utils.rnn: pad_sequence (vs PyTorch), lengths ↔ masks, last valid step, masked mean."""

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.nn.utils.rnn import (
    last_valid_step,
    lengths_to_mask,
    mask_to_lengths,
    masked_mean,
    pad_sequence,
)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch_and_backprops(batch_first, side):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (4, 1, 3)]
    gs = [gg.tensor(a, requires_grad=True) for a in arrs]
    out = pad_sequence(gs, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    ref = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrs], batch_first=batch_first,
                                          padding_value=-1.5, padding_side=side)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.detach().numpy(), ref.numpy())
    w = rng.standard_normal(out.shape).astype(np.float32)
    (out * gg.tensor(w)).sum().backward()
    wb = w if batch_first else w.transpose(1, 0, 2)
    for b, (g, a) in enumerate(zip(gs, arrs)):
        n = a.shape[0]
        expect = wb[b, :n] if side == "right" else wb[b, wb.shape[1] - n:]
        np.testing.assert_array_equal(g.grad.numpy(), expect)


def test_pad_sequence_errors():
    with pytest.raises(ValueError, match="pad_sequence: sequence 1 has shape"):
        pad_sequence([gg.zeros(3, 2), gg.zeros(2, 4)])
    with pytest.raises(ValueError, match="non-empty"):
        pad_sequence([])
    with pytest.raises(TypeError, match="expected a Tensor"):
        pad_sequence([gg.zeros(3), [1.0, 2.0]])


def test_lengths_to_mask_and_back():
    m = lengths_to_mask([3, 1, 0, 2])
    assert m.dtype == np.bool_ and m.shape == (4, 3)
    np.testing.assert_array_equal(m.numpy(), [[1, 1, 1], [1, 0, 0], [0, 0, 0], [1, 1, 0]])
    assert lengths_to_mask(gg.tensor([2, 1]), max_len=4, batch_first=False).shape == (4, 2)
    np.testing.assert_array_equal(mask_to_lengths(m).numpy(), [3, 1, 0, 2])
    np.testing.assert_array_equal(mask_to_lengths(m.numpy().T, batch_first=False).numpy(), [3, 1, 0, 2])
    with pytest.raises(ValueError, match="max_len=2 is smaller"):
        lengths_to_mask([3, 1], max_len=2)
    with pytest.raises(ValueError, match=">= 0"):
        lengths_to_mask([3, -1])
    with pytest.raises(TypeError, match="1-D sequence of integers"):
        lengths_to_mask([[1, 2]])


def test_last_valid_step_equals_h_n_of_masked_rnn():
    gg.manual_seed(0)
    lstm = nn.LSTM(3, 5, batch_first=True)
    x = gg.randn(4, 6, 3)
    lengths = [6, 2, 5, 1]
    out, (h, _) = lstm(x, lengths=lengths)
    last = last_valid_step(out, lengths, batch_first=True)
    np.testing.assert_allclose(last.detach().numpy(), h[0].detach().numpy(), rtol=1e-6)
    out_t = out.transpose(0, 1)
    np.testing.assert_array_equal(last_valid_step(out_t, lengths).detach().numpy(),
                                  last.detach().numpy())
    z = last_valid_step(out, [6, 0, 5, 1], batch_first=True)
    assert not z.detach().numpy()[1].any()
    with pytest.raises(ValueError, match="3 lengths for a batch of 4"):
        last_valid_step(out, [1, 2, 3], batch_first=True)


def test_masked_mean_ignores_padding():
    x = gg.tensor(np.arange(12.0).reshape(3, 2, 2), requires_grad=True)   # (T, B, F)
    mask = lengths_to_mask([3, 1], batch_first=False)                      # (T, B)
    m = masked_mean(x, mask, dim=0)
    np.testing.assert_allclose(m.detach().numpy(), [[4.0, 5.0], [2.0, 3.0]])
    m.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:, 1, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(x.grad.numpy()[:, 0, 0], [1 / 3] * 3)
