"""More activations, RMSNorm/InstanceNorm, distances, losses and padding layers: each
equal to PyTorch (values and gradients, float64 and float32) and to finite differences,
plus module wrappers and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.nn import functional as F
from oracle import check_op, rand_inputs

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TNN = torch.nn


@pytest.mark.parametrize("name,args", [
    ("hardsigmoid", ()), ("hardswish", ()), ("glu", (-1,)), ("glu", (0,)), ("celu", (0.7,)),
    ("threshold", (0.2, -1.5)), ("tanhshrink", ()), ("softshrink", (0.4,)),
    ("hardshrink", (0.4,)),
])
def test_activations_match_torch(name, args):
    x = rand_inputs([(4, 6)], seed=1, low=-4, high=4)[0]
    # keep away from the kinks (±3 for hard*, ±λ for the shrinks, the threshold)
    x = np.where(np.abs(np.abs(x) - 3) < 0.05, x + 0.1, x)
    x = np.where(np.abs(np.abs(x) - 0.4) < 0.05, x + 0.1, x)
    x = np.where(np.abs(x - 0.2) < 0.05, x + 0.1, x)
    # PyTorch's hard* and celu backward use scalars (1/6, alpha) rounded to float32, also in
    # float64: agreement to 1e-7 there (glassgrad's float64 formulas match finite differences)
    tol = {"rtol": 1e-7} if name in ("hardsigmoid", "hardswish", "celu") else {}
    check_op(lambda t: getattr(F, name)(t, *args), inputs=[x],
             torch_fn=lambda t: getattr(TF, name)(t, *args), **tol)


@pytest.mark.parametrize("mod,tmod,kw", [
    ("Hardsigmoid", "Hardsigmoid", {}), ("Hardswish", "Hardswish", {}), ("GLU", "GLU", {}),
    ("CELU", "CELU", {"alpha": 2.0}), ("Tanhshrink", "Tanhshrink", {}),
    ("Softshrink", "Softshrink", {"lambd": 0.3}), ("Hardshrink", "Hardshrink", {"lambd": 0.3}),
    ("Threshold", "Threshold", {"threshold": 0.1, "value": 2.0}),
])
def test_activation_modules(mod, tmod, kw):
    x = rand_inputs([(3, 4)], seed=2)[0]
    tol = {"rtol": 1e-7} if mod in ("Hardsigmoid", "Hardswish", "CELU") else {}
    check_op(lambda t: getattr(nn, mod)(**kw)(t), inputs=[x],
             torch_fn=lambda t: getattr(TNN, tmod)(**kw)(t), **tol)


@pytest.mark.parametrize("shape,ns", [((3, 5), 5), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm(shape, ns, eps):
    w = rand_inputs([ns if isinstance(ns, tuple) else (ns,)], seed=4)[0]
    check_op(lambda x, g: F.rms_norm(x, ns, g, eps), inputs=[rand_inputs([shape])[0], w],
             torch_fn=lambda x, g: TF.rms_norm(x, ns if isinstance(ns, tuple) else (ns,), g, eps))
    m = nn.RMSNorm(ns)
    assert m.weight.shape == (ns if isinstance(ns, tuple) else (ns,))
    np.testing.assert_allclose(m(gg.ones(*shape)).detach().numpy(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 4), (2, 2, 2, 3, 3)])
def test_instance_norm(shape):
    C = shape[1]
    w, b = rand_inputs([(C,), (C,)], seed=5)
    check_op(lambda x, g, h: F.instance_norm(x, weight=g, bias=h),
             inputs=[rand_inputs([shape])[0], w, b],
             torch_fn=lambda x, g, h: TF.instance_norm(x, weight=g, bias=h))
    mod = {3: nn.InstanceNorm1d, 4: nn.InstanceNorm2d, 5: nn.InstanceNorm3d}[len(shape)]
    tmod = {3: TNN.InstanceNorm1d, 4: TNN.InstanceNorm2d, 5: TNN.InstanceNorm3d}[len(shape)]
    x = rand_inputs([shape], seed=6)[0]
    np.testing.assert_allclose(mod(C)(gg.tensor(x)).numpy(),
                               tmod(C)(torch.tensor(x)).numpy(), rtol=1e-8, atol=1e-10)
    unbatched = mod(C)(gg.tensor(x[0]))
    assert unbatched.shape == shape[1:]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_more_losses_match_torch(reduction):
    r = dict(reduction=reduction)
    rng = np.random.default_rng(7)
    y = np.where(rng.random(5) > 0.5, 1.0, -1.0)
    check_op(lambda x, t, v: F.gaussian_nll_loss(x, t, v, **r), shapes=[(5, 2), (5, 2)],
             inputs=[*rand_inputs([(5, 2), (5, 2)], seed=8), rng.uniform(0.2, 2, (5, 2))],
             torch_fn=lambda x, t, v: TF.gaussian_nll_loss(x, t, v, **r))
    check_op(lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True, **r),
             inputs=[*rand_inputs([(5, 2), (5, 2)], seed=8), rng.uniform(0.2, 2, (5,))],
             torch_fn=lambda x, t, v: TF.gaussian_nll_loss(x, t, v, full=True, **r))
    counts = rng.integers(0, 6, (5, 3)).astype(np.float64)
    for log_input, full in ((True, False), (False, True)):
        xs = rand_inputs([(5, 3)], seed=9, positive=not log_input)[0]
        check_op(lambda x, t, li=log_input, fu=full: F.poisson_nll_loss(x, t, li, fu, **r),
                 inputs=[xs, counts], grad=[True, False],
                 torch_fn=lambda x, t, li=log_input, fu=full: TF.poisson_nll_loss(x, t, li, fu, **r))
    check_op(lambda a, b, t: F.margin_ranking_loss(a, b, t, 0.3, **r),
             inputs=[*rand_inputs([(5,), (5,)], seed=10), y], grad=[True, True, False],
             torch_fn=lambda a, b, t: TF.margin_ranking_loss(a, b, t, 0.3, **r))
    ys = np.where(rng.random((5, 3)) > 0.5, 1.0, -1.0)
    check_op(lambda x, t: F.soft_margin_loss(x, t, **r), inputs=[rand_inputs([(5, 3)])[0], ys],
             grad=[True, False], torch_fn=lambda x, t: TF.soft_margin_loss(x, t, **r))
    check_op(lambda x, t: F.multilabel_soft_margin_loss(x, t, **r),
             inputs=[rand_inputs([(5, 3)])[0], (ys > 0).astype(np.float64)], grad=[True, False],
             torch_fn=lambda x, t: TF.multilabel_soft_margin_loss(x, t, **r))
    check_op(lambda x, t: F.hinge_embedding_loss(x, t, 0.8, **r),
             inputs=[rand_inputs([(5, 3)])[0], ys], grad=[True, False],
             torch_fn=lambda x, t: TF.hinge_embedding_loss(x, t, 0.8, **r))
    for swap in (False, True):
        check_op(lambda a, p, n, sw=swap: F.triplet_margin_loss(a, p, n, 0.5, swap=sw, **r),
                 shapes=[(4, 3), (4, 3), (4, 3)],
                 torch_fn=lambda a, p, n, sw=swap: TF.triplet_margin_loss(a, p, n, 0.5, swap=sw,
                                                                          **r))
    check_op(lambda a, b, t: F.cosine_embedding_loss(a, b, t, 0.1, **r),
             inputs=[*rand_inputs([(5, 3), (5, 3)], seed=11), y], grad=[True, True, False],
             torch_fn=lambda a, b, t: TF.cosine_embedding_loss(a, b, t, 0.1, **r))


def test_distances_and_loss_modules():
    check_op(lambda a, b: F.pairwise_distance(a, b), shapes=[(4, 3), (4, 3)],
             torch_fn=lambda a, b: TF.pairwise_distance(a, b))
    check_op(lambda a, b: nn.PairwiseDistance(p=1.0, keepdim=True)(a, b), shapes=[(4, 3), (4, 3)],
             torch_fn=lambda a, b: TNN.PairwiseDistance(p=1.0, keepdim=True)(a, b))
    check_op(lambda a, b: nn.CosineSimilarity(dim=1)(a, b), shapes=[(4, 3), (4, 3)],
             torch_fn=lambda a, b: TNN.CosineSimilarity(dim=1)(a, b))
    a, b = gg.randn(5, 3), gg.randn(5, 3)
    y = gg.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    assert nn.MarginRankingLoss(0.2)(a[:, 0], b[:, 0], y).item() == pytest.approx(
        F.margin_ranking_loss(a[:, 0], b[:, 0], y, 0.2).item())
    assert nn.CosineEmbeddingLoss()(a, b, y).shape == ()
    assert nn.TripletMarginLoss(reduction="none")(a, b, a * 2).shape == (5,)
    assert nn.GaussianNLLLoss()(a, b, gg.ones(5, 3)).shape == ()
    assert nn.PoissonNLLLoss()(a, b.abs()).shape == ()
    assert nn.SoftMarginLoss()(a, a.sign()).shape == ()
    assert nn.MultiLabelSoftMarginLoss()(a, (b > 0).float()).shape == ()
    assert nn.HingeEmbeddingLoss()(a, a.sign()).shape == ()


@pytest.mark.parametrize("cls,pad,shape,kw", [
    ("ZeroPad1d", 2, (2, 3, 4), {}), ("ZeroPad2d", (1, 0, 2, 1), (1, 2, 3, 4), {}),
    ("ConstantPad1d", (1, 2), (2, 3, 4), {"value": 3.5}), ("ConstantPad3d", 1, (1, 2, 2, 3, 3),
                                                         {"value": -1.0}),
    ("ReflectionPad1d", 2, (2, 3, 4), {}), ("ReflectionPad2d", (1, 2, 0, 1), (1, 2, 3, 4), {}),
    ("ReplicationPad2d", 2, (1, 2, 3, 4), {}), ("ReplicationPad1d", (0, 3), (2, 3, 4), {}),
    ("CircularPad1d", 2, (2, 3, 4), {}), ("CircularPad2d", 1, (1, 2, 3, 4), {}),
])
def test_padding_layers(cls, pad, shape, kw):
    check_op(lambda x: getattr(nn, cls)(pad, **kw)(x), shapes=[shape],
             torch_fn=lambda x: getattr(TNN, cls)(pad, **kw)(x))


def test_more_errors_are_clear():
    with pytest.raises(ValueError, match="glu: dim -1 of shape \\(2, 3\\) must have even size"):
        F.glu(gg.ones(2, 3))
    with pytest.raises(ValueError, match="rms_norm: input of shape \\(2, 3\\) does not end with"):
        F.rms_norm(gg.ones(2, 3), 4)
    with pytest.raises(NotImplementedError, match="track_running_stats=True is not supported"):
        nn.InstanceNorm2d(3, track_running_stats=True)
    with pytest.raises(ValueError, match="ZeroPad2d: padding must be an int or a tuple of 4"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entries"):
        F.gaussian_nll_loss(gg.ones(2), gg.ones(2), -gg.ones(2))
