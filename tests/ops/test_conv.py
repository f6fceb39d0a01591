"""Convolutions (conv1d/2d/3d, conv_transpose) against PyTorch: values and gradients of
input, weight and bias (float64 1e-10, float32 1e-5), gradcheck, double backward,
padding modes and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from oracle import check_double_backward, check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _conv_case(x_shape, w_shape, bias, **kw):
    shapes = [x_shape, w_shape] + ([(w_shape[0],)] if bias else [])

    def g(x, w, *b):
        return F.conv2d(x, w, b[0] if b else None, **kw)

    def t(x, w, *b):
        return TF.conv2d(x, w, b[0] if b else None, **kw)

    return g, t, shapes


# (x_shape, w_shape, bias, kwargs): stride 1/2, padding 0/1/same/valid, dilation 1/2,
# groups 1/2/depthwise, non-square kernels and inputs
CONV2D_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), True, {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), False, dict(stride=2)),
    ((2, 3, 7, 6), (4, 3, 3, 3), True, dict(padding=1)),
    ((2, 3, 7, 6), (4, 3, 2, 3), True, dict(padding=(1, 2), stride=(2, 1))),
    ((2, 3, 7, 6), (4, 3, 4, 3), True, dict(padding="same")),
    ((2, 3, 7, 6), (4, 3, 2, 2), True, dict(padding="same", dilation=(1, 2))),
    ((2, 3, 7, 6), (4, 3, 3, 3), False, dict(padding="valid")),
    ((2, 3, 8, 7), (4, 3, 3, 2), True, dict(dilation=2)),
    ((2, 3, 8, 7), (4, 3, 3, 3), True, dict(dilation=(2, 1), stride=2, padding=1)),
    ((2, 4, 6, 5), (6, 2, 3, 3), True, dict(groups=2)),
    ((2, 4, 6, 5), (4, 2, 2, 3), False, dict(groups=2, stride=2, padding=1)),
    ((2, 4, 6, 5), (4, 1, 3, 3), True, dict(groups=4, padding=1)),  # depthwise
    ((2, 4, 6, 5), (8, 1, 3, 2), True, dict(groups=4, dilation=2)),  # depthwise multiplier 2
    ((1, 2, 5, 5), (3, 2, 1, 1), True, {}),  # 1x1
    ((3, 2, 4, 9), (2, 2, 4, 9), True, {}),  # kernel = whole input
    ((2, 3, 6, 6), (5, 3, 3, 3), True, dict(stride=3, padding=2)),
]


@pytest.mark.parametrize("x_shape,w_shape,bias,kw", CONV2D_CASES)
def test_conv2d_matches_torch(x_shape, w_shape, bias, kw):
    g, t, shapes = _conv_case(x_shape, w_shape, bias, **kw)
    check_op(g, shapes, torch_fn=t)


def test_conv2d_unbatched_input():
    check_op(lambda x, w, b: F.conv2d(x, w, b, padding=1),
             [(3, 5, 4), (2, 3, 3, 3), (2,)],
             torch_fn=lambda x, w, b: TF.conv2d(x, w, b, padding=1))


@pytest.mark.parametrize("kw", [{}, dict(stride=2, padding=2), dict(dilation=3, padding="same"),
                                dict(groups=2)])
def test_conv1d_matches_torch(kw):
    check_op(lambda x, w, b: F.conv1d(x, w, b, **kw), [(2, 4, 11), (6, 4 // kw.get("groups", 1), 3),
                                                       (6,)],
             torch_fn=lambda x, w, b: TF.conv1d(x, w, b, **kw))


def test_conv3d_matches_torch():
    check_op(lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1),
             [(2, 2, 4, 5, 3), (3, 2, 2, 3, 2), (3,)],
             torch_fn=lambda x, w, b: TF.conv3d(x, w, b, stride=(1, 2, 1), padding=1))


CONVT_CASES = [
    ((2, 3, 4, 5), (3, 2, 3, 3), True, {}),
    ((2, 3, 4, 5), (3, 2, 3, 2), True, dict(stride=2)),
    ((2, 3, 4, 5), (3, 2, 3, 3), False, dict(stride=2, padding=1, output_padding=1)),
    ((2, 3, 4, 5), (3, 4, 2, 3), True, dict(stride=(2, 3), padding=(0, 1),
                                            output_padding=(1, 2))),
    ((2, 4, 4, 3), (4, 3, 3, 3), True, dict(groups=2, stride=2)),
    ((2, 4, 4, 3), (4, 1, 3, 3), True, dict(groups=4, padding=1)),
    ((2, 3, 4, 5), (3, 2, 3, 2), True, dict(dilation=2, stride=2, output_padding=1)),
    ((2, 3, 3, 3), (3, 2, 2, 2), True, dict(dilation=3, output_padding=2)),  # op < dilation
]


@pytest.mark.parametrize("x_shape,w_shape,bias,kw", CONVT_CASES)
def test_conv_transpose2d_matches_torch(x_shape, w_shape, bias, kw):
    groups = kw.get("groups", 1)
    shapes = [x_shape, w_shape] + ([(w_shape[1] * groups,)] if bias else [])
    check_op(lambda x, w, *b: F.conv_transpose2d(x, w, b[0] if b else None, **kw), shapes,
             torch_fn=lambda x, w, *b: TF.conv_transpose2d(x, w, b[0] if b else None, **kw))


def test_conv_transpose1d_matches_torch():
    kw = dict(stride=3, padding=1, output_padding=2)
    check_op(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw), [(2, 3, 5), (3, 2, 4), (2,)],
             torch_fn=lambda x, w, b: TF.conv_transpose1d(x, w, b, **kw))


def test_conv_transpose_inverts_shape_of_conv():
    """conv_transpose2d with the conv's weight maps an output-sized tensor back to the
    input size (it is the conv's input gradient)."""
    x = gg.randn(2, 3, 9, 8, dtype=gg.float64, requires_grad=True)
    w = gg.randn(4, 3, 3, 3, dtype=gg.float64)
    y = F.conv2d(x, w, stride=2, padding=1)
    v = gg.randn(*y.shape, dtype=gg.float64)
    (y * v).sum().backward()
    back = F.conv_transpose2d(v, w, stride=2, padding=1, output_padding=(0, 1))
    assert back.shape == x.shape
    np.testing.assert_allclose(back.numpy(), x.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(groups=2, dilation=2)])
def test_conv2d_double_backward(kw):
    check_double_backward(lambda x, w, b: F.conv2d(x, w, b, **kw),
                          [(2, 4, 6, 5), (4, 4 // kw.get("groups", 1), 3, 2), (4,)],
                          torch_fn=lambda x, w, b: TF.conv2d(x, w, b, **kw))


def test_conv2d_nonlinear_double_backward():
    """Gradient-penalty style: a non-linearity between convolutions makes the second
    derivative depend on every piece of the conv backward."""
    def g(x, w1, w2):
        return F.conv2d(F.conv2d(x, w1, padding=1).tanh(), w2, stride=2)

    def t(x, w1, w2):
        return TF.conv2d(TF.conv2d(x, w1, padding=1).tanh(), w2, stride=2)

    check_double_backward(g, [(2, 2, 5, 5), (3, 2, 3, 3), (2, 3, 2, 2)], torch_fn=t)


def test_conv_transpose2d_double_backward():
    kw = dict(stride=2, padding=1, output_padding=1)
    check_double_backward(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
                          [(2, 3, 3, 4), (3, 2, 3, 3), (2,)],
                          torch_fn=lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw))


def test_conv_third_derivative_matches_torch():
    """The conv backward's backward is itself differentiable: third derivatives equal
    PyTorch's."""
    rng = np.random.default_rng(3)
    xa, wa = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 2, 2))
    ya_shape = (1, 2, 3, 3)
    v, c1, c2 = (rng.standard_normal(s) for s in (ya_shape, xa.shape, wa.shape))
    d1, d2 = rng.standard_normal(xa.shape), rng.standard_normal(wa.shape)

    def third(lib, T, conv):
        x, w = T(xa, requires_grad=True), T(wa, requires_grad=True)
        y = conv(x, w, stride=2, padding=1).tanh()
        gx, gw = lib.grad(y, [x, w], T(v), create_graph=True)
        s = (gx * T(c1)).sum() + (gw * T(c2)).sum()
        hx, hw = lib.grad(s, [x, w], create_graph=True)
        s2 = (hx * T(d1)).sum() + (hw * T(d2)).sum()
        return [t.detach().numpy() for t in lib.grad(s2, [x, w])]

    ours = third(gg, lambda a, requires_grad=False: gg.tensor(a, requires_grad=requires_grad),
                 F.conv2d)
    ref = third(torch.autograd,
                lambda a, requires_grad=False: torch.tensor(a, requires_grad=requires_grad),
                TF.conv2d)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_match_torch(mode):
    tconv = torch.nn.Conv2d(2, 3, (3, 2), padding=(2, 1), padding_mode=mode, dtype=torch.float64)
    conv = gg.nn.Conv2d(2, 3, (3, 2), padding=(2, 1), padding_mode=mode, dtype=gg.float64)
    conv.weight.array[...] = tconv.weight.detach().numpy()
    conv.bias.array[...] = tconv.bias.detach().numpy()
    xa = np.random.default_rng(0).standard_normal((2, 2, 5, 4))
    x = gg.tensor(xa, requires_grad=True)
    tx = torch.tensor(xa, requires_grad=True)
    y, ty = conv(x), tconv(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conv.weight.grad.numpy(), tconv.weight.grad.numpy(), rtol=1e-10)


def test_float32_stays_float32():
    x = gg.randn(2, 3, 6, 6, requires_grad=True)
    w = gg.randn(4, 3, 3, 3, requires_grad=True)
    b = gg.randn(4, requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert y.dtype == gg.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == gg.float32
    yt = F.conv_transpose2d(y, w.detach()[:, :2], stride=2)
    assert yt.dtype == gg.float32


def test_no_grad_inputs_skip_work_and_give_none():
    x = gg.randn(2, 3, 6, 6)
    w = gg.randn(4, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None


# ------------------------------------------------------------------------------ errors
def _raises(match, fn, exc=(ValueError, TypeError)):
    with pytest.raises(exc, match=match):
        fn()


def test_error_messages():
    x = gg.randn(8, 3, 32, 32)
    _raises(r"conv2d: input \(8, 3, 32, 32\) has 3 channels but weight \(16, 1, 5, 5\) "
            r"expects 1×groups=1", lambda: F.conv2d(x, gg.randn(16, 1, 5, 5)))
    _raises(r"conv2d: kernel \(7, 7\).*bigger than the padded input \(6, 6\)",
            lambda: F.conv2d(gg.randn(1, 3, 4, 4), gg.randn(2, 3, 7, 7), padding=1))
    _raises(r"conv2d: expected a 4-D input", lambda: F.conv2d(gg.randn(3, 4), gg.randn(2, 3, 1, 1)))
    _raises(r"conv2d: weight must have 4 dimensions", lambda: F.conv2d(x, gg.randn(2, 3, 3)))
    _raises(r"conv2d: bias must have shape \(16,\)",
            lambda: F.conv2d(x, gg.randn(16, 3, 5, 5), gg.randn(8)))
    _raises(r"conv2d: padding='same' is not supported for strided",
            lambda: F.conv2d(x, gg.randn(16, 3, 5, 5), stride=2, padding="same"))
    _raises(r"conv2d: padding must be an int, a tuple, 'same' or 'valid'",
            lambda: F.conv2d(x, gg.randn(16, 3, 5, 5), padding="full"))
    _raises(r"conv2d: stride must be >= 1", lambda: F.conv2d(x, gg.randn(16, 3, 5, 5), stride=0))
    _raises(r"conv2d: weight \(5, 1, 3, 3\): out_channels 5 is not divisible by groups=3",
            lambda: F.conv2d(x, gg.randn(5, 1, 3, 3), groups=3))
    _raises(r"conv2d: input dtype float32 and weight dtype float64 differ",
            lambda: F.conv2d(x, gg.randn(2, 3, 3, 3, dtype=gg.float64)))
    _raises(r"conv_transpose2d: output_padding \(2, 2\) must be smaller",
            lambda: F.conv_transpose2d(x, gg.randn(3, 2, 3, 3), stride=2, output_padding=2))
    _raises(r"conv_transpose2d: input \(8, 3, 32, 32\) has 3 channels but weight",
            lambda: F.conv_transpose2d(x, gg.randn(4, 2, 3, 3)))
    _raises(r"conv1d: expected a 3-D input", lambda: F.conv1d(x, gg.randn(2, 3, 3)))
    _raises(r"Conv2d: in_channels 3 must be divisible by groups 2",
            lambda: gg.nn.Conv2d(3, 4, 3, groups=2))
    _raises(r"padding_mode must be", lambda: gg.nn.Conv2d(3, 4, 3, padding_mode="mirror"))


def test_empty_batch():
    x = gg.randn(0, 3, 8, 8, requires_grad=True)
    w = gg.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (0, 4, 8, 8)
    y.sum().backward()
    assert x.grad.shape == x.shape and not w.grad.numpy().any()
    assert F.conv_transpose2d(y, gg.randn(4, 2, 3, 3), stride=2).shape == (0, 2, 17, 17)
    with pytest.raises(ValueError, match="empty channel or spatial"):
        F.conv2d(gg.randn(2, 3, 0, 8), w)


def test_gradgradcheck_conv_and_conv_transpose():
    x = gg.randn(1, 2, 4, 4, dtype=gg.float64, requires_grad=True)
    w = gg.randn(2, 2, 2, 2, dtype=gg.float64, requires_grad=True)
    assert gg.gradgradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1).tanh(), [x, w])
    assert gg.gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2).tanh(), [x, w])
