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


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_sequence_pipeline_matches_torch(enforce_sorted, batch_first):
    torch = pytest.importorskip("torch")
    from glassgrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    lengths = [5, 4, 2] if enforce_sorted else [2, 5, 4]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, 2) if batch_first else (6, 3, 2))
    tm = torch.nn.GRU(2, 3, num_layers=2, bidirectional=True, batch_first=batch_first).double()
    gm = nn.GRU(2, 3, num_layers=2, bidirectional=True, batch_first=batch_first, dtype=np.float64)
    gm.load_state_dict({k: gg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    tx, gx = torch.tensor(x, requires_grad=True), gg.tensor(x, requires_grad=True)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first,
                                                 enforce_sorted=enforce_sorted)
    gp = pack_padded_sequence(gx, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(gp.batch_sizes.numpy(), tp.batch_sizes.numpy())
    np.testing.assert_array_equal(gp.data.detach().numpy(), tp.data.detach().numpy())
    if not enforce_sorted:
        np.testing.assert_array_equal(gp.sorted_indices.numpy(), tp.sorted_indices.numpy())
        np.testing.assert_array_equal(gp.unsorted_indices.numpy(), tp.unsorted_indices.numpy())
    to, th = tm(tp)
    go, gh = gm(gp)
    assert isinstance(go, type(gp))
    np.testing.assert_allclose(go.data.detach().numpy(), to.data.detach().numpy(), rtol=1e-10, atol=1e-12)
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(to, batch_first=batch_first, padding_value=-1.0,
                                                        total_length=7)
    gpad, glen = pad_packed_sequence(go, batch_first=batch_first, padding_value=-1.0, total_length=7)
    np.testing.assert_array_equal(glen.numpy(), tlen.numpy())
    np.testing.assert_allclose(gpad.detach().numpy(), tpad.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gh.detach().numpy(), th.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = rng.standard_normal(tuple(tpad.shape))
    ((tpad * torch.tensor(w)).sum() + th.sum()).backward()
    ((gpad * gg.tensor(w)).sum() + gh.sum()).backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_pack_sequence_unpack_and_errors():
    from glassgrad.nn.utils.rnn import pack_padded_sequence, pack_sequence, unpack_sequence

    seqs = [gg.tensor(np.arange(n * 2.0).reshape(n, 2)) for n in (3, 2, 1)]
    p = pack_sequence(seqs)
    assert p.padded.shape == (3, 3, 2) and p.data.shape == (6, 2)
    for a, b in zip(unpack_sequence(p), seqs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="not sorted in decreasing order"):
        pack_padded_sequence(gg.zeros(4, 2, 1), [2, 3])
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 4\]"):
        pack_padded_sequence(gg.zeros(4, 2, 1), [5, 3])
    with pytest.raises(ValueError, match="expected 2 lengths"):
        pack_padded_sequence(gg.zeros(4, 2, 1), [3])
    with pytest.raises(ValueError, match="either a PackedSequence or lengths"):
        nn.LSTM(1, 2)(pack_padded_sequence(gg.zeros(4, 2, 1), [3, 2]), lengths=[3, 2])
