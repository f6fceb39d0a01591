"""nn.functional additions (functional_extra): values, dtypes and gradients equal PyTorch's;
keyword forms; the random ones (rrelu, alpha dropouts, gumbel_softmax) by their structure;
clear errors for bad input."""

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from oracle import check_op, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch (test oracle) is not installed")
if torch is not None:
    import torch.nn.functional as TF


def _np(t):
    return t.detach().numpy() if isinstance(t, gg.Tensor) else t.detach().cpu().numpy()


# ------------------------------------------------------------------ in place
@pytest.mark.parametrize("name,args", [
    ("relu_", ()), ("elu_", (0.7,)), ("selu_", ()), ("celu_", (1.3,)), ("leaky_relu_", (0.2,)),
    ("hardtanh_", (-0.5, 0.8)), ("threshold_", (0.1, -3.0)), ("rrelu_", (0.1, 0.3, False)),
])
def test_inplace_activations_match_torch_and_return_input(name, args):
    a = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    x = gg.tensor(a.copy())
    r = getattr(F, name)(x, *args)
    assert r is x
    t = torch.tensor(a.copy())
    getattr(TF, name)(t, *args)
    np.testing.assert_allclose(_np(x), _np(t), rtol=1e-6, atol=1e-6)
    assert x.dtype == np.float32


def test_inplace_activation_in_graph_gives_torch_gradient():
    def g(x):
        y = x * 1.0
        F.leaky_relu_(y, 0.3)
        return y * 2

    def t(x):
        y = x * 1.0
        TF.leaky_relu_(y, 0.3)
        return y * 2

    check_op(g, [(4, 3)], torch_fn=t)


def test_inplace_on_leaf_requiring_grad_is_an_error():
    with pytest.raises(RuntimeError, match="relu_"):
        F.relu_(gg.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match="relu_"):
        F.relu_(np.ones(3))


# ------------------------------------------------------------------ rrelu / dropouts / gumbel
def test_rrelu_eval_matches_torch():
    check_op(lambda x: F.rrelu(x, 0.1, 0.4), [(3, 4)], torch_fn=lambda x: TF.rrelu(x, 0.1, 0.4))
    check_op(lambda x: F.rrelu(x, lower=0.2, upper=0.2, training=True), [(3, 4)],
             torch_fn=lambda x: TF.rrelu(x, lower=0.2, upper=0.2, training=True))


def test_rrelu_training_slopes_in_range_and_gradient_is_the_slope():
    gg.manual_seed(0)
    x = gg.tensor(-np.ones((200,)), requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    s = -_np(y)
    assert s.min() >= 0.1 and s.max() <= 0.3 and s.std() > 0.02
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad), s)
    with pytest.raises(ValueError, match="rrelu"):
        F.rrelu(x, 0.5, 0.1)


@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_structure_and_statistics(feature):
    fn = F.feature_alpha_dropout if feature else F.alpha_dropout
    tfn = TF.feature_alpha_dropout if feature else TF.alpha_dropout
    x = gg.tensor(np.random.default_rng(0).standard_normal((4, 8, 3, 3)).astype(np.float32))
    assert fn(x, 0.3) is x and fn(x, 0.3, training=False) is x  # eval default, as PyTorch
    assert _np(fn(x, 1.0, True)).sum() == 0 and tfn(torch.tensor(_np(x)), 1.0, True).sum() == 0
    gg.manual_seed(1)
    p = 0.25
    y = _np(fn(x, p, True))
    assert y.dtype == np.float32
    al = 1.7580993408473766
    a = 1 / np.sqrt((al * al * p + 1) * (1 - p))
    kept = np.isclose(y, a * _np(x) + al * a * p, atol=1e-5)
    dropped = np.isclose(y, -al * a + al * a * p, atol=1e-5)
    assert np.all(kept | dropped) and dropped.any() and kept.any()
    if feature:  # one decision per (sample, channel)
        k = kept.reshape(4, 8, -1)
        assert np.all(k.all(-1) | (~k).all(-1) | dropped.reshape(4, 8, -1).all(-1))
    big = gg.tensor(np.random.default_rng(2).standard_normal((400, 400)))
    z = _np(F.alpha_dropout(big, 0.5, True))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02  # self-normalizing
    with pytest.raises(ValueError, match="alpha_dropout"):
        F.alpha_dropout(x, 1.5, True)


def test_gumbel_softmax_soft_and_hard():
    gg.manual_seed(0)
    logits = gg.tensor(np.random.default_rng(0).standard_normal((5, 4)), requires_grad=True)
    y = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(_np(y).sum(-1), 1)
    h = F.gumbel_softmax(logits, tau=0.5, hard=True, dim=1)
    hv = _np(h)
    assert set(np.unique(hv)) <= {0.0, 1.0} and np.all(hv.sum(-1) == 1)
    (h * gg.tensor(np.arange(4.0))).sum().backward()
    assert logits.grad is not None and np.abs(_np(logits.grad)).sum() > 0
    # the sample follows softmax(logits): frequencies of the arg-max
    gg.manual_seed(3)
    lg = gg.tensor(np.log(np.array([[0.1, 0.2, 0.7]] * 4000)))
    freq = _np(F.gumbel_softmax(lg, hard=True)).mean(0)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.03)


# ------------------------------------------------------------------ normalization / pooling
@pytest.mark.parametrize("shape", [(2, 7, 5), (2, 6, 3, 4), (1, 5, 2, 3, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm(shape, size):
    check_op(lambda x: F.local_response_norm(x, size, alpha=0.1, beta=0.6, k=2.0), [shape],
             torch_fn=lambda x: TF.local_response_norm(x, size, alpha=0.1, beta=0.6, k=2.0))


def test_local_response_norm_errors():
    with pytest.raises(ValueError, match="local_response_norm"):
        F.local_response_norm(gg.ones(3, 4), 2)


@pytest.mark.parametrize("k,shape,ks,stride,p", [
    (1, (2, 3, 9), 3, 2, 2.0), (1, (2, 3, 8), 2, None, 3.0),
    (2, (2, 3, 6, 7), 2, None, 2.0), (2, (1, 2, 7, 7), (3, 2), (2, 1), 1.5),
    (3, (1, 2, 4, 4, 5), 2, None, 2.0),
])
def test_lp_pool(k, shape, ks, stride, p):
    g = getattr(F, f"lp_pool{k}d")
    t = getattr(TF, f"lp_pool{k}d")
    check_op(lambda x: g(x, p, ks, stride), [shape], torch_fn=lambda x: t(x, p, ks, stride),
             positive=True)
    check_op(lambda x: g(x, norm_type=p, kernel_size=ks, stride=stride, ceil_mode=True), [shape],
             torch_fn=lambda x: t(x, norm_type=p, kernel_size=ks, stride=stride, ceil_mode=True),
             positive=True, gradcheck=False)


@pytest.mark.parametrize("k,shape,ks,stride,pad", [
    (1, (2, 3, 9), 2, 2, 0), (1, (2, 3, 9), 3, 2, 1),
    (2, (2, 3, 6, 8), 2, None, 0), (2, (2, 3, 7, 7), 3, 2, 1),
    (3, (1, 2, 4, 4, 6), 2, None, 0),
])
def test_max_pool_with_indices_and_unpool(k, shape, ks, stride, pad):
    gp = getattr(F, f"max_pool{k}d_with_indices")
    tp = getattr(TF, f"max_pool{k}d_with_indices")
    gu = getattr(F, f"max_unpool{k}d")
    tu = getattr(TF, f"max_unpool{k}d")
    a = np.random.default_rng(0).standard_normal(shape)
    y, i = gp(gg.tensor(a), ks, stride, pad)
    ty, ti = tp(torch.tensor(a), ks, stride, pad)
    np.testing.assert_array_equal(_np(i), _np(ti))
    idx = _np(ti)

    def g(x):
        return gu(x, gg.tensor(idx), ks, stride, pad)

    def t(x):
        return tu(x, torch.tensor(idx), ks, stride, pad)

    # overlapping windows may share an arg-max: duplicate indices (both libraries write the
    # same value there and send the gradient to each), which finite differences cannot see
    dup = (stride or ks) < ks
    check_op(g, [tuple(y.shape)], torch_fn=t, gradcheck=not dup)
    # output_size (with leading dims, as PyTorch accepts) bigger than the default
    default = [(n - 1) * (stride or ks) - 2 * pad + ks for n in y.shape[2:]]
    osz = tuple(y.shape[:2]) + tuple(d + 1 for d in default)
    check_op(lambda x: gu(x, gg.tensor(idx), ks, stride=stride, padding=pad, output_size=osz),
             [tuple(y.shape)],
             torch_fn=lambda x: tu(x, torch.tensor(idx), ks, stride=stride, padding=pad,
                                   output_size=osz), gradcheck=not dup)


def test_max_unpool_errors():
    x = gg.ones(1, 1, 2, 2)
    with pytest.raises(TypeError, match="max_unpool2d"):
        F.max_unpool2d(x, gg.ones(1, 1, 2, 2), 2)
    with pytest.raises(IndexError, match="max_unpool2d"):
        F.max_unpool2d(x, gg.tensor(np.full((1, 1, 2, 2), 99)), 2)
    with pytest.raises(ValueError, match="output_size"):
        F.max_unpool2d(x, gg.tensor(np.zeros((1, 1, 2, 2), dtype=np.int64)), 2,
                       output_size=(9, 9))


@pytest.mark.parametrize("k,shape,out", [(1, (2, 3, 9), 4), (2, (2, 3, 7, 5), (3, 2)),
                                         (3, (1, 2, 5, 4, 6), (2, 3, None))])
def test_adaptive_max_pool_with_indices(k, shape, out):
    a = np.random.default_rng(0).standard_normal(shape)
    y, i = getattr(F, f"adaptive_max_pool{k}d_with_indices")(gg.tensor(a), out)
    ty, ti = getattr(TF, f"adaptive_max_pool{k}d_with_indices")(torch.tensor(a), out)
    np.testing.assert_array_equal(_np(i), _np(ti))
    np.testing.assert_allclose(_np(y), _np(ty))
    check_op(lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)), [(1, 2, 5, 4, 6)],
             torch_fn=lambda x: TF.adaptive_max_pool3d(x, (2, 3, 2)))


# ------------------------------------------------------------------ losses
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss(p, reduction, weighted):
    y = np.array([0, 3, 1, 3, 2])
    w = np.array([0.5, 1.0, 2.0, 1.5])
    if weighted:
        check_op(lambda x, w: F.multi_margin_loss(x, gg.tensor(y), p=p, margin=0.7, weight=w,
                                                  reduction=reduction),
                 inputs=[np.random.default_rng(0).standard_normal((5, 4)) * 0.5, w],
                 grad=[True, False],
                 torch_fn=lambda x, w: TF.multi_margin_loss(x, torch.tensor(y), p=p, margin=0.7,
                                                            weight=w, reduction=reduction))
    else:
        check_op(lambda x: F.multi_margin_loss(x, gg.tensor(y), p, reduction=reduction),
                 [(5, 4)],
                 torch_fn=lambda x: TF.multi_margin_loss(x, torch.tensor(y), p,
                                                         reduction=reduction))
    check_op(lambda x: F.multi_margin_loss(x, gg.tensor(np.array(2))), [(4,)],
             torch_fn=lambda x: TF.multi_margin_loss(x, torch.tensor(2)))


def test_multi_margin_loss_errors():
    x = gg.ones(2, 3)
    with pytest.raises(IndexError, match="multi_margin_loss"):
        F.multi_margin_loss(x, gg.tensor([0, 3]))
    with pytest.raises(ValueError, match="p == 1"):
        F.multi_margin_loss(x, gg.tensor([0, 1]), p=3)
    with pytest.raises(TypeError, match="integer"):
        F.multi_margin_loss(x, gg.tensor([0.0, 1.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss(reduction):
    y = np.array([[3, 0, -1, 1], [1, 2, 3, 0], [2, -1, 0, 0], [-1, 1, 2, 3]])
    check_op(lambda x: F.multilabel_margin_loss(x, gg.tensor(y), reduction=reduction), [(4, 4)],
             torch_fn=lambda x: TF.multilabel_margin_loss(x, torch.tensor(y),
                                                          reduction=reduction))
    y1 = np.array([2, 0, -1, 1])
    check_op(lambda x: F.multilabel_margin_loss(x, gg.tensor(y1)), [(4,)],
             torch_fn=lambda x: TF.multilabel_margin_loss(x, torch.tensor(y1)))
    with pytest.raises(ValueError, match="multilabel_margin_loss"):
        F.multilabel_margin_loss(gg.ones(2, 3), gg.tensor(np.zeros((2, 2), dtype=np.int64)))


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_triplet_margin_with_distance_loss(swap, reduction):
    check_op(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, swap=swap,
                                                                 reduction=reduction),
             [(5, 3)] * 3,
             torch_fn=lambda a, p, n: TF.triplet_margin_with_distance_loss(
                 a, p, n, swap=swap, reduction=reduction))

    def cos_d(x, y):
        return 1.0 - F.cosine_similarity(x, y)

    def tcos_d(x, y):
        return 1.0 - TF.cosine_similarity(x, y)

    check_op(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, distance_function=cos_d,
                                                                 margin=0.5),
             [(5, 3)] * 3,
             torch_fn=lambda a, p, n: TF.triplet_margin_with_distance_loss(
                 a, p, n, distance_function=tcos_d, margin=0.5))
    with pytest.raises(ValueError, match="margin"):
        F.triplet_margin_with_distance_loss(gg.ones(2), gg.ones(2), gg.ones(2), margin=0)


# ------------------------------------------------------------------ embedding_bag
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_offsets_and_2d(mode):
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0])
    off = np.array([0, 4, 4, 6])  # bag 1 empty
    check_op(lambda w: F.embedding_bag(gg.tensor(idx), w, gg.tensor(off), mode=mode), [(10, 3)],
             torch_fn=lambda w: TF.embedding_bag(torch.tensor(idx), w, torch.tensor(off),
                                                 mode=mode))
    check_op(lambda w: F.embedding_bag(gg.tensor(idx), w, gg.tensor(np.array([0, 4, 6, 9])),
                                       mode=mode, include_last_offset=True), [(10, 3)],
             torch_fn=lambda w: TF.embedding_bag(torch.tensor(idx), w,
                                                 torch.tensor([0, 4, 6, 9]), mode=mode,
                                                 include_last_offset=True))
    idx2 = np.array([[1, 2, 4], [4, 3, 2], [0, 0, 5]])
    check_op(lambda w: F.embedding_bag(gg.tensor(idx2), w, mode=mode, padding_idx=4), [(10, 3)],
             torch_fn=lambda w: TF.embedding_bag(torch.tensor(idx2), w, mode=mode,
                                                 padding_idx=4))


def test_embedding_bag_per_sample_weights_and_max_norm():
    idx = np.array([1, 2, 4, 5, 4, 3])
    off = np.array([0, 2])
    check_op(lambda w, s: F.embedding_bag(gg.tensor(idx), w, gg.tensor(off), mode="sum",
                                          per_sample_weights=s), [(10, 3), (6,)],
             torch_fn=lambda w, s: TF.embedding_bag(torch.tensor(idx), w, torch.tensor(off),
                                                    mode="sum", per_sample_weights=s))
    a = np.random.default_rng(0).standard_normal((10, 3)) * 3
    gw, tw = gg.tensor(a.copy()), torch.tensor(a.copy())
    y = F.embedding_bag(gg.tensor(idx), gw, gg.tensor(off), max_norm=1.0)
    ty = TF.embedding_bag(torch.tensor(idx), tw, torch.tensor(off), max_norm=1.0)
    np.testing.assert_allclose(_np(y), _np(ty), rtol=1e-6)
    np.testing.assert_allclose(_np(gw), _np(tw), rtol=1e-6)


def test_embedding_bag_errors():
    w = gg.ones(5, 2)
    with pytest.raises(ValueError, match="offsets"):
        F.embedding_bag(gg.tensor([1, 2]), w)
    with pytest.raises(ValueError, match="mode"):
        F.embedding_bag(gg.tensor([[1, 2]]), w, mode="min")
    with pytest.raises(IndexError, match="embedding_bag"):
        F.embedding_bag(gg.tensor([[1, 7]]), w)
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(gg.tensor([[1, 2]]), w, per_sample_weights=gg.ones(1, 2))


# ------------------------------------------------------------------ misc
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, float("inf")])
def test_pdist(p):
    check_op(lambda x: F.pdist(x, p), [(5, 3)], torch_fn=lambda x: TF.pdist(x, p))


def test_channel_shuffle_and_conv_tbc():
    check_op(lambda x: F.channel_shuffle(x, 3), [(2, 6, 2, 3)],
             torch_fn=lambda x: TF.channel_shuffle(x, 3))
    check_op(lambda x: F.channel_shuffle(x, groups=2), [(2, 4, 5)],
             torch_fn=lambda x: TF.channel_shuffle(x, groups=2))
    with pytest.raises(ValueError, match="channel_shuffle"):
        F.channel_shuffle(gg.ones(1, 5, 2), 2)
    check_op(lambda x, w, b: F.conv_tbc(x, w, b, 1), [(7, 2, 3), (3, 3, 4), (4,)],
             torch_fn=lambda x, w, b: TF.conv_tbc(x, w, b, 1))
