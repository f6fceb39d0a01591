"""Misuse and special values, each compared with PyTorch: wrong dims and indices, operands
that are not tensors, variances without degrees of freedom, norms of huge and tiny
values, gradients at nan. (tests/test_fuzz_ops.py draws such calls at random; these are
the cases it found, written out.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
NAN, INF = float("nan"), float("inf")


def same(a: gg.Tensor, t: torch.Tensor, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    t = t.detach()
    assert tuple(a.shape) == tuple(t.shape)
    np.testing.assert_allclose(a.detach().numpy().astype(np.float64), t.numpy().astype(np.float64),
                               rtol=rtol, atol=atol, equal_nan=True)


# ------------------------------------------------------------------------------ dims
@pytest.mark.parametrize("call, kind, msg", [
    (lambda x: x.sum(dim=1.0), TypeError, r"sum: argument 'dim' must be an int or a tuple of ints, "
                                          r"not float"),
    (lambda x: x.sum(dim=[0, 1.0]), TypeError, "sum: argument 'dim' must be int, not float"),
    (lambda x: x.softmax(dim="1"), TypeError, "softmax: argument 'dim' must be int, not str"),
    (lambda x: x.softmax(dim=True), TypeError, "softmax: argument 'dim' must be int, not bool"),
    (lambda x: x.argmax(dim=1.0), TypeError, "argmax: argument 'dim' must be int"),
    (lambda x: x.transpose(0, 2), IndexError,
     r"transpose: Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    (lambda x: x.unsqueeze(-4), IndexError,
     r"unsqueeze: Dimension out of range \(expected to be in range of \[-3, 2\], but got -4\)"),
    (lambda x: x.sum(dim=(0, -2)), RuntimeError, "sum: dim 0 appears multiple times"),
    (lambda x: x.reshape(2.0, 3), TypeError, "reshape: argument 'shape' must be int, not float"),
    (lambda x: x.reshape(3, -2), RuntimeError, "reshape: invalid shape dimension -2"),
    (lambda x: x.split(1.0), TypeError, "split: argument 'split_size_or_sections' must be int"),
    (lambda x: x.chunk(2.0), TypeError, "chunk: argument 'chunks' must be int"),
    (lambda x: x.expand(2, 3.0), TypeError, "expand: argument 'size' must be int, not float"),
])
def test_bad_dims_are_refused_as_torch(call, kind, msg):
    with pytest.raises((TypeError, IndexError, RuntimeError)):
        call(torch.zeros(2, 3))
    with pytest.raises(kind, match=msg):
        call(gg.zeros(2, 3))


def test_permute_checks_every_dim():
    with pytest.raises(IndexError, match=r"permute: Dimension out of range \(expected to be in "
                       r"range of \[-3, 2\], but got 3\)"):
        gg.zeros(4, 3, 5).permute(1, 2, 3)
    with pytest.raises(TypeError, match="permute: missing the argument 'dims'"):
        gg.zeros(2, 3).permute()
    assert gg.zeros(4, 3, 5).permute(-1, 0, 1).shape == (5, 4, 3)


def test_zero_dim_tensors_take_dim_0_and_minus_1_only():
    s, t = gg.tensor(2.0), torch.tensor(2.0)
    for d in (0, -1):
        same(s.sum(d), t.sum(d))
        same(s.softmax(d), t.softmax(d))
    with pytest.raises(IndexError, match=r"sum: Dimension out of range \(expected to be in range "
                       r"of \[-1, 0\], but got 1\)"):
        s.sum(1)
    for op in ("split", "chunk"):
        with pytest.raises(RuntimeError):
            getattr(t, op)(1)
        with pytest.raises(RuntimeError, match=f"{op}: expects at least a 1-dimensional tensor"):
            getattr(s, op)(1)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "var", "std", "norm"])
def test_an_empty_dim_list_reduces_everything_as_torch(op):
    x = np.arange(6.0).reshape(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(getattr(gg.tensor(x), op)(dim=[]), getattr(torch.tensor(x), op)(dim=[]))
    assert gg.tensor(x).flip([]).shape == (2, 3)


# ------------------------------------------------------------------------------ operands
def test_operands_that_are_not_tensors_raise_a_type_error_naming_the_op():
    x = gg.ones(3)
    with pytest.raises(TypeError, match="add: unsupported operand of type str"):
        x + "a"
    with pytest.raises(TypeError, match="mul: unsupported operand of type NoneType"):
        x * None
    with pytest.raises(TypeError, match="sub: unsupported operand of type list"):
        x - [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="lt: unsupported operand of type str"):
        _ = x < "a"
    assert (x == "a") is False and (x != None) is True  # noqa: E711 - as PyTorch
    assert (torch.ones(3) == "a") is False


def test_functional_arguments_must_be_tensors():
    x = gg.ones(2, 3)
    with pytest.raises(TypeError, match="linear: argument 'weight' must be a Tensor, not NoneType"):
        F.linear(x, None)
    with pytest.raises(TypeError, match="relu: argument 'input' must be a Tensor, not ndarray"):
        F.relu(np.ones(3))
    with pytest.raises(TypeError, match="cross_entropy: argument 'target' must be a Tensor"):
        F.cross_entropy(x, [0, 1])
    F.linear(x, gg.ones(4, 3), None)  # None is fine where the argument is optional
    with pytest.raises(TypeError, match="cat: expected a Tensor as element 1 of 'tensors', got list"):
        gg.cat([gg.ones(3), [1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="stack: argument 'tensors' must be a tuple or list"):
        gg.stack(gg.ones(3))
    with pytest.raises(TypeError, match="cat: argument 'dim' must be int, not NoneType"):
        gg.cat([gg.ones(3)], dim=None)


@pytest.mark.parametrize("call, op", [
    (lambda b: b.floor(), "floor"), (lambda b: b.round(), "round"), (lambda b: b.abs(), "abs"),
    (lambda b: -b, "neg"), (lambda b: b.relu(), "relu"), (lambda b: b.argmax(), "argmax"),
    (lambda b: b - 1, "sub"), (lambda b: 1.0 - b, "sub"), (lambda b: b**b, "pow"),
    (lambda b: b.long().softmax(0), "softmax"), (lambda b: b.long().norm(), "norm"),
    (lambda b: b.long().var(), "var"),
])
def test_dtypes_that_torch_refuses_are_refused(call, op):
    with pytest.raises(RuntimeError):  # NotImplementedError is a RuntimeError
        call(torch.tensor([True, False]))
    with pytest.raises((TypeError, RuntimeError), match=op):
        call(gg.tensor([True, False]))
    assert gg.tensor([True, False]).sign().dtype == gg.bool  # sign of a bool is itself
    assert gg.tensor([True, False]).square().dtype == gg.int64


def test_masked_fill_value_that_does_not_fit():
    with pytest.raises(RuntimeError, match="masked_fill: value -inf cannot be converted to int64"):
        gg.zeros(2, dtype=gg.int64).masked_fill(gg.tensor([True, False]), -INF)
    assert gg.zeros(2, dtype=gg.int64).masked_fill(gg.tensor([True, False]), 2.5).tolist() == [2, 0]


# ------------------------------------------------------------------------------ values
def test_cross_entropy_ignores_nan_rows_with_ignore_index():
    x = [[NAN, 1.0], [0.5, 0.2]]
    for red in ("mean", "sum", "none"):
        for ls in (0.0, 0.1):
            a = gg.tensor(x, requires_grad=True)
            t = torch.tensor(x, requires_grad=True)
            la = F.cross_entropy(a, gg.tensor([-100, 1]), reduction=red, label_smoothing=ls)
            lt = TF.cross_entropy(t, torch.tensor([-100, 1]), reduction=red, label_smoothing=ls)
            same(la, lt)
            la.sum().backward()
            lt.sum().backward()
            same(a.grad[1], t.grad[1])
            assert a.grad[0].tolist() == [0.0, 0.0]  # an ignored row does not depend on x
    same(F.nll_loss(gg.tensor(x), gg.tensor([-100, 1])), TF.nll_loss(torch.tensor(x),
                                                                      torch.tensor([-100, 1])))


@pytest.mark.parametrize("correction", [0, 1, 2, 3, 5, -1, 0.5])
@pytest.mark.parametrize("shape, dim", [((2, 3), None), ((2, 3), 1), ((2,), 0), ((0,), None)])
def test_var_and_std_with_any_correction_as_torch(correction, shape, dim):
    x = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op in ("var", "std"):
            same(getattr(gg.tensor(x), op)(dim, correction=correction),
                 getattr(torch.tensor(x), op)(dim, correction=correction))


@pytest.mark.parametrize("scale", [1e30, 1e-30, 1e-20, 1e19])
def test_norms_and_variances_of_huge_and_tiny_float32_values(scale):
    """float32 inputs near 1e30 overflow when squared (PyTorch's float32 layer_norm gives
    nan); the answers are finite and glassgrad gives them (checked against float64)."""
    rng = np.random.default_rng(0)
    x = (rng.uniform(-2, 2, (3, 4, 5)) * scale).astype(np.float32)
    w = rng.uniform(0.5, 1.5, (3, 4, 5))
    calls = {
        "layer_norm": lambda F_, x: F_.layer_norm(x, (5,)),
        "rms_norm": lambda F_, x: F_.rms_norm(x, (5,), eps=1e-6),
        "batch_norm": lambda F_, x: F_.batch_norm(x, None, None, training=True),
        "group_norm": lambda F_, x: F_.group_norm(x, 2),
        "instance_norm": lambda F_, x: F_.instance_norm(x),
        "normalize": lambda F_, x: F_.normalize(x, dim=1),
        "std": lambda F_, x: x.std(dim=-1),
        "norm": lambda F_, x: x.norm(dim=-1),
        "norm3": lambda F_, x: x.norm(p=3, dim=-1),
    }
    for name, call in calls.items():
        a = gg.tensor(x, requires_grad=True)
        t = torch.tensor(x.astype(np.float64), requires_grad=True)
        ya, yt = call(F, a), call(TF, t)
        assert np.isfinite(ya.detach().numpy()).all(), name
        same(ya, yt.float(), rtol=1e-4, atol=1e-5 * (scale if name in ("std", "norm", "norm3") else 1))
        wy = w.reshape(-1)[: ya.numel()].reshape(ya.shape)
        (ya * gg.tensor(wy.astype(np.float32))).sum().backward()
        (yt * torch.tensor(wy)).sum().backward()
        gscale = np.abs(t.grad.numpy()).max()
        same(a.grad, t.grad.float(), rtol=1e-3, atol=1e-4 * gscale)
    # the variance itself overflows float32 at 1e30 (inf is the right answer there)
    v = gg.tensor(x).var(dim=-1)
    vt = torch.tensor(x.astype(np.float64)).var(dim=-1).float()
    same(v, vt, rtol=1e-4, atol=0)


def test_layer_norm_of_1e30_float32():
    y = F.layer_norm(gg.tensor([1e30, 2e30, 3e30]), (3,))
    np.testing.assert_allclose(y.numpy(), [-1.2247449, 0.0, 1.2247449], atol=1e-6)


def test_gradients_at_special_values_as_torch():
    x = [NAN, -1.0, 0.0, -0.0, 2.0, INF]
    for f in (lambda v: v.relu(), lambda v: v.abs(), lambda v: v.sign(), lambda v: v.floor(),
              lambda v: v.maximum(v.new_tensor([1.0] * 6) if isinstance(v, gg.Tensor)
                                  else torch.ones(6)),
              lambda v: v.minimum(v * 0 + 2)):
        a, t = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yt = f(a), f(t)
        same(ya, yt)
        ya.sum().backward()
        yt.sum().backward()
        same(a.grad, t.grad)


def test_division_gradient_for_tiny_divisors_and_integer_pow():
    b = [1e-30, -2e-30, 3.0]
    a, t = gg.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    (gg.tensor([1e-30, 1e-30, 1.0]) / a).sum().backward()
    (torch.tensor([1e-30, 1e-30, 1.0]) / t).sum().backward()
    same(a.grad, t.grad, rtol=1e-5, atol=0)
    assert np.isfinite(a.grad.numpy()).all()
    i, e = [0, 1, -1, 2, -2, 3], [-1, -1, -3, -1, 2, -2]
    assert (gg.tensor(i) ** gg.tensor(e)).tolist() == (torch.tensor(i) ** torch.tensor(e)).tolist()


def test_max_of_nan_and_comparison_promotion_as_torch():
    x = [NAN, 1.0, NAN]
    for op in ("max", "amax", "min", "amin"):
        a, t = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        getattr(a, op)().backward()
        getattr(t, op)().backward()
        same(a.grad, t.grad)  # max: the nans share the gradient; amax: 0/0 = nan (as torch)
    v = np.float32(-1.5279619)
    r = gg.tensor([v, 1.0]) == gg.tensor(float(v), dtype=gg.float64)  # compared in float32
    assert r.tolist() == (torch.tensor([v, 1.0]) == torch.tensor(float(v), dtype=torch.float64)
                          ).tolist() == [True, False]
    assert gg.tensor([True, False]) ** True is not None
    assert (gg.tensor([True, False]) ** False).dtype == gg.bool
    assert len(gg.zeros(0).chunk(2)) == len(torch.zeros(0).chunk(2)) == 2
    assert len(gg.zeros(0).split([])) == len(torch.zeros(0).split([])) == 0
    assert gg.zeros(3).gather(0, gg.tensor(1)).shape == ()


def test_sqrt_power_gradient_at_negative_zero_as_torch():
    a = gg.tensor([-0.0, 0.25], requires_grad=True)
    t = torch.tensor([-0.0, 0.25], requires_grad=True)
    (a**0.5).sum().backward()
    (t**0.5).sum().backward()
    assert a.grad.tolist() == t.grad.tolist() == [-INF, 1.0]
