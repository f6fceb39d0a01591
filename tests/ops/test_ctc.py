"""ctc_loss / nn.CTCLoss: losses equal PyTorch's and a brute-force sum over all alignments;
gradients equal PyTorch's (its logits-gradient convention, docs/derivations/ctc.md) and pass
gradcheck through log_softmax; target layouts, reductions, zero_infinity, errors."""

import itertools

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from glassgrad import nn
from oracle import check_op, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch (test oracle) is not installed")


def _brute_force_nll(lp, target, blank=0):
    """−log Σ over all paths that collapse to target of Π exp(lp[t, π_t])."""
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c)]
        if collapsed == list(target):
            total += np.exp(sum(lp[t, c] for t, c in enumerate(path)))
    return -np.log(total)


def test_ctc_equals_the_sum_over_all_alignments():
    rng = np.random.default_rng(0)
    for target in ([1, 2], [1, 1], [2], [], [1, 2, 1]):
        z = rng.standard_normal((5, 3))
        lp = z - np.log(np.exp(z).sum(1, keepdims=True))
        got = F.ctc_loss(gg.tensor(lp), gg.tensor(np.array(target, dtype=np.int64)), 5,
                         len(target), reduction="sum")
        np.testing.assert_allclose(float(got), _brute_force_nll(lp, target), rtol=1e-10)


TG = np.array([[1, 2, 2, 3], [3, 1, 0, 0], [4, 4, 4, 1]])
IL, TLEN = [9, 7, 8], [4, 2, 3]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_padded_targets_match_torch(reduction):
    def g(z):
        return F.ctc_loss(z.log_softmax(2), gg.tensor(TG), gg.tensor(IL), gg.tensor(TLEN),
                          reduction=reduction)

    def t(z):
        return torch.nn.functional.ctc_loss(z.log_softmax(2), torch.tensor(TG), torch.tensor(IL),
                                            torch.tensor(TLEN), reduction=reduction)

    check_op(g, [(9, 3, 5)], torch_fn=t)


def test_ctc_gradient_wrt_log_probs_is_torchs():
    lp = np.log(np.random.default_rng(1).dirichlet(np.ones(5), size=(9, 3)))
    check_op(lambda x: F.ctc_loss(x, gg.tensor(TG), IL, TLEN, blank=0),
             inputs=[lp], gradcheck=False,
             torch_fn=lambda x: torch.nn.functional.ctc_loss(x, torch.tensor(TG), IL, TLEN))


def test_ctc_concatenated_targets_blank_and_unbatched():
    flat = np.concatenate([TG[n, :TLEN[n]] for n in range(3)])
    # blank = 2: relabel so that 2 never appears in a target
    flat_b = np.where(flat == 2, 0, flat)
    check_op(lambda z: F.ctc_loss(z.log_softmax(-1), gg.tensor(flat_b), tuple(IL), tuple(TLEN),
                                  blank=2),
             [(9, 3, 5)],
             torch_fn=lambda z: torch.nn.functional.ctc_loss(
                 z.log_softmax(-1), torch.tensor(flat_b), tuple(IL), tuple(TLEN), blank=2))
    check_op(lambda z: F.ctc_loss(z.log_softmax(-1), gg.tensor(TG[0]), gg.tensor(9),
                                  gg.tensor(4)),
             [(9, 5)],
             torch_fn=lambda z: torch.nn.functional.ctc_loss(
                 z.log_softmax(-1), torch.tensor(TG[0]), torch.tensor(9), torch.tensor(4)))


def test_ctc_impossible_alignment_and_zero_infinity():
    a = np.random.default_rng(2).standard_normal((3, 1, 4))
    tg = np.array([[1, 1, 1]])  # needs at least 5 frames
    for zi in (False, True):
        x = gg.tensor(a, requires_grad=True)
        y = F.ctc_loss(x.log_softmax(2), gg.tensor(tg), [3], [3], reduction="none",
                       zero_infinity=zi)
        tx = torch.tensor(a, requires_grad=True)
        ty = torch.nn.functional.ctc_loss(tx.log_softmax(2), torch.tensor(tg), [3], [3],
                                          reduction="none", zero_infinity=zi)
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_ctc_module_and_float32():
    m = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    tm = torch.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert repr(m) == repr(tm)
    z = np.random.default_rng(3).standard_normal((9, 3, 5)).astype(np.float32)
    x = gg.tensor(z, requires_grad=True)
    tx = torch.tensor(z, requires_grad=True)
    y = m(x.log_softmax(2), gg.tensor(TG), IL, TLEN)
    ty = tm(tx.log_softmax(2), torch.tensor(TG), torch.tensor(IL), torch.tensor(TLEN))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-5)
    y.backward()
    ty.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_ctc_errors():
    lp = gg.zeros(4, 2, 3)
    with pytest.raises(IndexError, match="blank"):
        F.ctc_loss(lp, gg.tensor([[0, 1], [1, 2]]), [4, 4], [2, 2])
    with pytest.raises(ValueError, match="input_lengths"):
        F.ctc_loss(lp, gg.tensor([[1, 1], [1, 2]]), [5, 4], [2, 2])
    with pytest.raises(ValueError, match="target_lengths"):
        F.ctc_loss(lp, gg.tensor([[1, 1], [1, 2]]), [4, 4], [2])
    with pytest.raises(TypeError, match="targets"):
        F.ctc_loss(lp, gg.tensor([[1.0, 1.0], [1.0, 2.0]]), [4, 4], [2, 2])
    with pytest.raises(ValueError, match="reduction"):
        F.ctc_loss(lp, gg.tensor([[1, 1], [1, 2]]), [4, 4], [2, 2], reduction="avg")
