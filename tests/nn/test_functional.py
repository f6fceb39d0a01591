"""glassgrad.nn.functional against torch.nn.functional: activations, logsigmoid, padding,
rms_norm/instance_norm and the margin, NLL and embedding losses (values and gradients,
float64 and float32, finite differences); clear errors. (The fused ops behind them:
tests/ops/; the module wrappers: tests/nn/modules/.)"""

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



def test_logsigmoid_vs_torch():
    check_op(F.logsigmoid, shapes=[(4, 3)], torch_fn=TF.logsigmoid)
    x = gg.tensor([-1e4, 0.0, 1e4], requires_grad=True)
    y = F.logsigmoid(x)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), [-1e4, -np.log(2), 0.0], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.5, 0.0], atol=1e-7)


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


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh",
                                  "softplus", "silu", "selu", "mish", "logsigmoid", "hardtanh",
                                  "relu6", "softsign"])
def test_activation_functions_vs_torch(name):
    x = np.random.default_rng(3).uniform(-3, 3, (3, 4))
    check_op(getattr(F, name), inputs=[x], torch_fn=getattr(torch.nn.functional, name),
             gradcheck=False)


@pytest.mark.parametrize("padding,mode", [((1, 2), "constant"), ((1, 0, 2, 1), "constant"),
                                          ((-1, 2, 1, -1), "constant"), ((2, 1, 0, 0), "reflect"),
                                          ((1, 2, 2, 0), "reflect"), ((2, 3, 1, 1), "replicate"),
                                          ((1, 1, 0, 2), "circular")])
def test_pad_vs_torch(padding, mode):
    check_op(lambda x: F.pad(x, padding, mode=mode), shapes=[(2, 3, 4, 5)],
             torch_fn=lambda x: torch.nn.functional.pad(x, padding, mode=mode))
    if mode == "constant":
        check_op(lambda x: F.pad(x, padding, value=1.5), shapes=[(3, 4, 5)],
                 torch_fn=lambda x: torch.nn.functional.pad(x, padding, value=1.5))
