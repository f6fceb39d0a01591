"""torch-namespace functions of glassgrad/functional_extra2.py against PyTorch:
constants, dtype queries, creation helpers, window functions, settings, in-place function
forms and the function forms of the new Tensor methods."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op, needs_torch, torch

pytestmark = needs_torch


def _same(a, b, **kw):
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype).replace("torch.", ""), (a.dtype, b.dtype)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), equal_nan=True, **kw)


def test_constants_and_dtypes():
    assert gg.pi == torch.pi and gg.e == torch.e and gg.inf == torch.inf
    assert math.isnan(gg.nan) and gg.newaxis is None
    assert gg.ones(2)[gg.newaxis].shape == (1, 2)
    assert isinstance(gg.float32, gg.dtype)
    assert gg.tensor([1], dtype=gg.uint16).dtype == np.uint16
    for a, b in [(gg.int32, gg.float32), (gg.uint8, gg.int8), (gg.bool, gg.int64),
                 (gg.float16, gg.float64), (gg.int64, gg.float16)]:
        ta, tb = (getattr(torch, str(d)) for d in (a, b))
        assert str(gg.promote_types(a, b)) == str(torch.promote_types(ta, tb)).replace("torch.", "")
        assert gg.can_cast(a, b) == torch.can_cast(ta, tb)
        assert gg.can_cast(b, a) == torch.can_cast(tb, ta)


@pytest.mark.parametrize("x,y", [
    (np.ones(2, np.int32), 2.5), (np.ones(2, np.float32), np.float64(1.0)),
    (np.ones(2, np.int64), np.ones((), np.float64)), (np.ones(2, np.uint8), 3),
    (np.ones(2, np.float16), np.ones(2, np.float32)), (np.ones((), np.int32), np.ones(2, np.int8)),
    (np.ones(2, bool), True), (np.ones(2, bool), 2),
])
def test_result_type(x, y):
    def conv(v, lib):
        if isinstance(v, np.ndarray):
            return gg.tensor(v) if lib is gg else torch.tensor(v)
        return v.item() if isinstance(v, np.generic) else v

    r = gg.result_type(conv(x, gg), conv(y, gg))
    t = torch.result_type(conv(x, torch), conv(y, torch))
    assert str(r) == str(t).replace("torch.", "")


def test_finfo_iinfo_size():
    for d in ("float32", "float64", "float16"):
        f, t = gg.finfo(getattr(gg, d)), torch.finfo(getattr(torch, d))
        assert (f.bits, f.eps, f.max, f.min, f.tiny, f.resolution) == \
            (t.bits, t.eps, t.max, t.min, t.tiny, t.resolution)
    assert gg.finfo().eps == torch.finfo().eps
    for d in ("int8", "int16", "int32", "int64", "uint8"):
        i, t = gg.iinfo(getattr(gg, d)), torch.iinfo(getattr(torch, d))
        assert (i.bits, i.max, i.min) == (t.bits, t.max, t.min)
    with pytest.raises(TypeError, match="finfo"):
        gg.finfo(gg.int32)
    s = gg.Size([2, 3])
    assert s == (2, 3) and s.numel() == torch.Size([2, 3]).numel() == 6
    assert gg.Size().numel() == 1


def test_creation_helpers():
    _same(gg.range(1, 4), torch.range(1, 4))
    _same(gg.range(0, 1, 0.25, dtype=gg.float64), torch.range(0, 1, 0.25, dtype=torch.float64))
    _same(gg.logspace(0, 2, 5), torch.logspace(0, 2, 5))
    _same(gg.logspace(-1, 1, 3, base=2, dtype=gg.float64),
          torch.logspace(-1, 1, 3, base=2, dtype=torch.float64))
    _same(gg.scalar_tensor(3), torch.scalar_tensor(3))
    _same(gg.scalar_tensor(1.5, dtype=gg.float64), torch.scalar_tensor(1.5, dtype=torch.float64))
    a = np.arange(3.0)
    t = gg.asarray(a)
    a[0] = 7
    assert t[0].item() == 7  # shares memory
    assert gg.asarray([1, 2]).dtype == gg.int64
    assert gg.empty_strided((2, 3), (3, 1)).shape == (2, 3)
    r = gg.randint_like(gg.zeros(4, 2), 5)
    assert r.shape == (4, 2) and r.dtype == gg.float32 and (r.numpy() < 5).all()


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 10])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows(name, n, periodic):
    _same(getattr(gg, name)(n, periodic), getattr(torch, name)(n, periodic), atol=1e-6)
    _same(getattr(gg, name)(n, periodic, dtype=gg.float64),
          getattr(torch, name)(n, periodic, dtype=torch.float64), atol=1e-12)


def test_settings():
    from glassgrad.ops import _blas

    n = gg.get_num_threads()
    assert isinstance(n, int) and n >= 1
    old = os.environ.get("OMP_NUM_THREADS")
    try:
        gg.set_num_threads(1)
        assert gg.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
        for c, _ in _blas.blas_controllers():   # NumPy's BLAS itself, where reachable
            assert c.num_threads == 1
    finally:
        from glassgrad import functional_extra2 as F

        gg.set_num_threads(n)
        F._THREADS["intra"] = None
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.pop(k, None)
        if old is not None:
            os.environ["OMP_NUM_THREADS"] = old
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="set_num_threads"):
            gg.set_num_threads(bad)
    assert gg.get_num_interop_threads() >= 1
    gg.use_deterministic_algorithms(True)
    assert gg.are_deterministic_algorithms_enabled()
    gg.use_deterministic_algorithms(False)
    assert gg.get_float32_matmul_precision() == "highest"
    assert gg.is_grad_enabled() and not gg.is_inference_mode_enabled()
    with gg.inference_mode():
        assert gg.is_inference_mode_enabled()
    assert gg.is_anomaly_enabled() is False
    gg.manual_seed(123)
    assert gg.initial_seed() == 123


def test_set_printoptions():
    x = gg.tensor([1.123456789, 2.0])
    try:
        gg.set_printoptions(precision=2)
        assert "1.12" in repr(x) and "1.1235" not in repr(x)
        gg.set_printoptions(threshold=5, edgeitems=1)
        assert "..." in repr(gg.arange(100))
        gg.set_printoptions(sci_mode=True)
        assert "e+00" in repr(x)
    finally:
        gg.set_printoptions(profile="default")
    assert repr(x) == "tensor([1.1235, 2.    ])"
    with pytest.raises(ValueError, match="set_printoptions"):
        gg.set_printoptions(profile="huge")


def test_inplace_function_forms():
    a = np.array([0.3, 0.9, 1.7])
    for name in ("exp_", "sqrt_", "sin_", "tanh_", "sigmoid_", "erfc_", "i0_", "floor_",
                 "reciprocal_", "neg_", "square_", "log1p_", "sinc_", "zero_"):
        g, t = gg.tensor(a), torch.tensor(a)
        r = getattr(gg, name)(g)
        getattr(torch, name)(t)
        assert r is g
        _same(g, t)
    g, t = gg.tensor(a), torch.tensor(a)
    gg.clamp_(g, 0.5, 1.0)
    torch.clamp_(t, 0.5, 1.0)
    _same(g, t)
    g, t = gg.tensor([4, 6]), torch.tensor([4, 6])
    gg.gcd_(g, gg.tensor([6, 9]))
    torch.gcd_(t, torch.tensor([6, 9]))
    _same(g, t)
    with pytest.raises(TypeError, match="exp_"):
        gg.exp_([1.0])


def test_function_forms():
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_op(lambda x: gg.median(x, 1)[0], inputs=[x], torch_fn=lambda x: torch.median(x, 1)[0])
    check_op(lambda x: gg.quantile(x, 0.3, dim=0), inputs=[x],
             torch_fn=lambda x: torch.quantile(x, 0.3, dim=0))
    check_op(lambda x: gg.kthvalue(x, 2, 0)[0], inputs=[x],
             torch_fn=lambda x: torch.kthvalue(x, 2, 0)[0])
    check_op(lambda x: gg.logit(x.sigmoid()) + gg.sinc(x) + gg.erfc(x), inputs=[x],
             torch_fn=lambda x: torch.logit(x.sigmoid()) + torch.sinc(x) + torch.erfc(x))
    check_op(lambda x, y: gg.xlogy(x.abs(), y.abs()) + gg.fmax(x, y) + gg.copysign(x, y),
             shapes=[(3, 4), (3, 4)], gradcheck=False,
             torch_fn=lambda x, y: torch.xlogy(x.abs(), y.abs()) + torch.fmax(x, y)
             + torch.copysign(x, y))
    check_op(lambda x: gg.diff(gg.rot90(x)), inputs=[x],
             torch_fn=lambda x: torch.diff(torch.rot90(x)))
    _same(gg.all(gg.tensor([[1, 0], [1, 1]]), 1), torch.all(torch.tensor([[1, 0], [1, 1]]), 1))
    _same(gg.any(gg.tensor([[0, 0], [1, 0]]), dim=0),
          torch.any(torch.tensor([[0, 0], [1, 0]]), dim=0))
    _same(gg.fill(gg.ones(2), 3.0), torch.fill(torch.ones(2), 3.0))
    _same(gg.concat([gg.ones(1), gg.zeros(2)]), torch.concat([torch.ones(1), torch.zeros(2)]))
    out = gg.zeros(3, 4, dtype=gg.float64)
    gg.lgamma(gg.tensor(np.abs(x) + 0.1), out=out)
    _same(out, torch.lgamma(torch.tensor(np.abs(x) + 0.1)))
    _same(gg.select(gg.tensor(x), 0, 1), torch.select(torch.tensor(x), 0, 1))
    assert gg.is_nonzero(gg.tensor([2])) and gg.is_same_size(gg.ones(2), gg.zeros(2))
