"""The compiled kernels (glassgrad.ops.kernels) against the NumPy reference loops of the
ops they replace: bit-identical outputs and gradients, on the layouts and edge values
the kernels meet (batch-last and batch-first memory, ReLU ties, NaN, ±inf, −0.0, windows
that do not tile the input, padding, stride, dilation, float32 and float64)."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from glassgrad.ops import kernels as K

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _kernels_at_every_size(request, monkeypatch):
    """The kernels run from 16,384 elements up (ReLU from 4,096); the small arrays of these
    tests take them too (except where a test checks that threshold)."""
    if "small_arrays" not in request.node.name:
        monkeypatch.setattr(K, "_MIN_SIZE", 1)
        monkeypatch.setattr(K, "_MIN_SIZE_RELU", 1)


def _both(fn):
    """``fn()`` on the NumPy path and on the Numba path."""
    with K.using("numpy"):
        ref = fn()
    with K.using("numba"):
        assert K.backend() == "numba"
        got = fn()
    return ref, got


def _same(a, b, signed_zeros=True):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)
    if signed_zeros:
        np.testing.assert_array_equal(np.signbit(a[a == 0]), np.signbit(b[b == 0]))


def _batch_last(a):
    """The same values as ``a (N, C, H, W)``, laid out as the convolutions leave them."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 0, -1)), -1, 0)


def _edge_values(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    x[x < -0.5] = 0.0            # ties, as after a ReLU
    flat = x.reshape(-1)
    flat[::97] = np.nan
    flat[5::101] = -0.0
    flat[7::89] = np.inf
    flat[9::83] = -np.inf
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["batch_first", "batch_last"])
@pytest.mark.parametrize("shape,k", [((8, 6, 28, 28), 2), ((4, 3, 9, 7), 2), ((3, 5, 12, 12), 3),
                                     ((1, 4, 16, 16), 2)])
def test_max_pool2d_forward_backward_bit_identical(dtype, layout, shape, k):
    rng = np.random.default_rng(0)
    xa = _edge_values(shape, dtype, rng)
    if layout == "batch_last":
        xa = _batch_last(xa)

    def run():
        x = gg.Tensor._make(xa.copy() if layout == "batch_first" else _batch_last(xa), True)
        y = F.max_pool2d(x, k)
        g = _edge_values(tuple(y.shape), dtype, np.random.default_rng(1))
        y.backward(gg.Tensor._make(g, False))
        return y.detach().numpy(), x.grad.numpy()

    (y0, g0), (y1, g1) = _both(run)
    # a window whose maximum is 0 held as both 0.0 and −0.0: NumPy's SIMD maximum returns
    # either sign (the kernel keeps the first, as PyTorch); the values are equal
    _same(y0, y1, signed_zeros=False)
    # (and the positions that get no gradient hold +0 from the kernel, as in PyTorch,
    # where the NumPy loop's g·mask leaves −0 under a negative g)
    _same(g0, g1, signed_zeros=False)


def test_max_pool2d_gradient_in_another_layout_than_the_input():
    """A batch-first gradient (from a flatten) meeting batch-last activations."""
    rng = np.random.default_rng(2)
    xa = _batch_last(rng.standard_normal((8, 16, 10, 10)).astype(np.float32))

    def run():
        x = gg.Tensor._make(_batch_last(xa), True)
        y = F.max_pool2d(F.relu(x), 2)
        y.flatten(1).backward(gg.Tensor._make(rng.standard_normal((8, 400)).astype(np.float32), False))
        return x.grad.numpy()

    with K.using("numpy"):
        rng = np.random.default_rng(3)
        g0 = run()
    with K.using("numba"):
        rng = np.random.default_rng(3)
        g1 = run()
    _same(g0, g1, signed_zeros=False)


def test_max_pool2d_twice_differentiable_on_the_kernel_path():
    rng = np.random.default_rng(4)
    xa = rng.standard_normal((4, 3, 8, 8))

    def run():
        x = gg.tensor(xa, requires_grad=True)
        y = F.max_pool2d(x, 2)
        (g,) = gg.autograd.grad((y ** 2).sum(), x, create_graph=True)
        (gg_,) = gg.autograd.grad((g ** 2).sum(), x)
        return g.detach().numpy(), gg_.numpy()

    (a0, b0), (a1, b1) = _both(run)
    _same(a0, a1, signed_zeros=False)
    _same(b0, b1, signed_zeros=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["batch_first", "batch_last"])
def test_relu_forward_backward_bit_identical(dtype, layout):
    rng = np.random.default_rng(5)
    xa = _edge_values((8, 6, 12, 12), dtype, rng)
    ga = _edge_values((8, 6, 12, 12), dtype, np.random.default_rng(6))
    if layout == "batch_last":
        xa, ga = _batch_last(xa), _batch_last(ga)

    def run():
        x = gg.Tensor._make(xa.copy(order="K"), True)
        y = F.relu(x)
        with np.errstate(invalid="ignore"):   # ±inf·0 = NaN where z ≤ 0, on both paths
            y.backward(gg.Tensor._make(ga.copy(order="K"), False))
        return y.detach().numpy(), x.grad.numpy()

    (y0, g0), (y1, g1) = _both(run)
    _same(y0, y1)
    _same(g0, g1)


CONV_CASES = [
    dict(shape=(8, 1, 28, 28), w=(6, 1, 5, 5), padding=2),
    dict(shape=(8, 6, 14, 14), w=(16, 6, 5, 5)),
    dict(shape=(4, 4, 11, 9), w=(6, 4, 3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
    dict(shape=(4, 4, 10, 10), w=(6, 2, 3, 3), stride=2, padding=1, groups=2),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("layout", ["batch_first", "batch_last"])
def test_conv2d_im2col_col2im_bit_identical(dtype, case, layout):
    kw = {k: v for k, v in case.items() if k not in ("shape", "w")}
    rng = np.random.default_rng(7)
    xa = rng.standard_normal(case["shape"]).astype(dtype)
    wa = rng.standard_normal(case["w"]).astype(dtype)
    if layout == "batch_last":
        xa = _batch_last(xa)

    def run():
        x = gg.Tensor._make(xa.copy(order="K"), True)
        w = gg.Tensor._make(wa.copy(), True)
        y = F.conv2d(x, w, **kw)
        g = np.random.default_rng(8).standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(gg.Tensor._make(g, False))
        return y.detach().numpy(), x.grad.numpy(), w.grad.numpy()

    r0, r1 = _both(run)
    for a, b in zip(r0, r1):
        _same(a, b)


def test_lenet_step_same_on_both_paths():
    """A LeNet-5 training step (the network the conv and pool kernels were written for): same loss,
    same gradients of every parameter, same weights after an Adam step."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)

    def run():
        gg.manual_seed(0)
        nn = gg.nn
        net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                            nn.Linear(84, 10))
        opt = gg.optim.Adam(net.parameters(), 1e-3)
        # log_softmax + nll: the cross-entropy kernel agrees to rounding only (tested below)
        loss = F.nll_loss(F.log_softmax(net(gg.tensor(X)), 1), gg.tensor(y))
        loss.backward()
        grads = [p.grad.numpy().copy() for p in net.parameters()]
        opt.step()
        return [loss.detach().numpy()] + grads + [p.detach().numpy() for p in net.parameters()]

    r0, r1 = _both(run)
    for a, b in zip(r0, r1):
        _same(a, b)


def test_backend_switch_and_errors(monkeypatch):
    with K.using("numpy"):
        assert K.backend() == "numpy"
    with K.using("auto"):
        assert K.backend() == "numba"
    with pytest.raises(ValueError, match="set_backend: name must be one of"):
        K.set_backend("fast")
    monkeypatch.setitem(K._STATE, "env", None)   # (the variable is read once, then cached)
    monkeypatch.setenv("GLASSGRAD_KERNELS", "numpy")
    assert K.backend() == "numpy"
    monkeypatch.setitem(K._STATE, "env", None)
    monkeypatch.setenv("GLASSGRAD_KERNELS", "nope")
    with pytest.raises(ValueError, match="GLASSGRAD_KERNELS must be one of"):
        K.backend()
    monkeypatch.setitem(K._STATE, "env", None)


def test_unsupported_dtypes_and_small_arrays_take_the_numpy_path():
    assert K.relu(np.ones((4, 4), np.float32)) is None               # too small to pay
    assert K.relu(np.ones((32, 64), np.float32)) is None
    assert K.relu(np.ones((64, 64), np.float32)) is not None          # ReLU pays from 4,096
    assert not K.sgd_step(np.ones((64, 128), np.float32), np.ones((64, 128), np.float32), 0.1)
    assert K.relu(np.ones((256, 128), np.int32)) is None              # not float
    assert K.relu(np.ones((256, 128), np.float16)) is None
    x = np.ones((256, 256), np.float32)[:, ::2]                       # not dense
    assert K.relu(x) is None
    assert K.relu(np.ones((256, 128), np.float32)) is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("use_out", [False, True])
def test_lstm_layer_bit_identical(dtype, reverse, use_out):
    """The whole-sequence LSTM op at a size that takes its large-input loop (the one the
    step kernels serve): outputs and every gradient equal on both paths; the gradient of
    ``out`` either used (every step receives one) or not (only h_T, c_T). In float32 the
    forward step is one kernel call with its own exponential (``lstm_fwd_step``): there the
    same to float32 rounding."""
    from glassgrad.ops.rnn import LSTMLayer

    rng = np.random.default_rng(10)
    T, B, H = 5, 128, 128
    xa = rng.standard_normal((T, B, 4 * H)).astype(dtype)
    h0a, c0a = (rng.standard_normal((B, H)).astype(dtype) for _ in range(2))
    wa = (rng.standard_normal((4 * H, H)) * 0.1).astype(dtype)
    ga = rng.standard_normal((T, B, H)).astype(dtype)

    def run():
        x, h0, c0, w = (gg.Tensor._make(a.copy(), True) for a in (xa, h0a, c0a, wa))
        out, hT, cT = LSTMLayer.apply(x, h0, c0, w, reverse=reverse)
        loss = (hT * 2).sum() + (cT ** 2).sum()
        if use_out:
            loss = loss + (out * gg.Tensor._make(ga, False)).sum()
        loss.backward()
        return [out.detach().numpy(), hT.detach().numpy(), cT.detach().numpy()] + \
            [t.grad.numpy() for t in (x, h0, c0, w)]

    r0, r1 = _both(run)
    for a, b in zip(r0, r1):
        if dtype == np.float32:
            assert b.dtype == np.float32
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-5)
        else:
            _same(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_gru_layer_bit_identical(dtype, reverse, bias):
    """The whole-sequence GRU op on both paths: bit-identical in float64; in float32 the
    kernels run each block of rows' loop as one call with their own exponential, the same
    to float32 rounding."""
    from glassgrad.ops.rnn import GRULayer

    rng = np.random.default_rng(11)
    T, B, H = 5, 64, 96
    xa = rng.standard_normal((T, B, 3 * H)).astype(dtype)
    h0a = rng.standard_normal((B, H)).astype(dtype)
    wa = (rng.standard_normal((3 * H, H)) * 0.1).astype(dtype)
    ba = rng.standard_normal(3 * H).astype(dtype)
    ga = rng.standard_normal((T, B, H)).astype(dtype)

    def run():
        ts = [gg.Tensor._make(a.copy(), True) for a in (xa, h0a, wa) + ((ba,) if bias else ())]
        out, hT = GRULayer.apply(*ts[:3], ts[3] if bias else None, reverse)
        ((out * gg.Tensor._make(ga, False)).sum() + (hT ** 2).sum()).backward()
        return [out.detach().numpy(), hT.detach().numpy()] + [t.grad.numpy() for t in ts]

    r0, r1 = _both(run)
    for a, b in zip(r0, r1):
        if dtype == np.float32:   # whole loops in one call, with their own e^x (gru_fwd_rows)
            assert b.dtype == np.float32
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-5)
        else:
            _same(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B, H, reverse", [(1, 16, False), (3, 16, False), (2, 15, True), (1, 5, True)])
def test_lstm_layer_small_inputs(dtype, B, H, reverse):
    """The small-input loop of LSTMLayer (a few sequences, as in inference), forward and
    backward, on both paths: bit-identical, except float32 with at most
    ``_SEQ_KERNEL_MAX_B`` sequences, where the whole loop is one compiled call with its own
    product order and exponential: there the same to float32 rounding (H not a multiple
    of four: the product's remainder rows)."""
    from glassgrad.ops import rnn as R

    rng = np.random.default_rng(13)
    T = 7
    arrs = [rng.standard_normal((T, B, 4 * H)).astype(dtype), rng.standard_normal((B, H)).astype(dtype),
            rng.standard_normal((B, H)).astype(dtype), (rng.standard_normal((4 * H, H)) * 0.3).astype(dtype)]

    def run():
        ts = [gg.Tensor._make(a.copy(), True) for a in arrs]
        out, hT, cT = R.LSTMLayer.apply(*ts, reverse=reverse)
        ((out ** 2).sum() + hT.sum() + (cT * 3).sum()).backward()
        with gg.no_grad():
            out2 = R.LSTMLayer.apply(*(gg.tensor(a) for a in arrs), reverse=reverse)[0]
        return [out.detach().numpy(), hT.detach().numpy(), cT.detach().numpy(), out2.numpy()] + \
            [t.grad.numpy() for t in ts]

    r0, r1 = _both(run)
    whole_loop = dtype == np.float32 and B <= R._SEQ_KERNEL_MAX_B
    for a, b in zip(r0, r1):
        if whole_loop:
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)
        else:
            _same(a, b)


@pytest.mark.parametrize("cell, B, H", [("lstm", 2, 8), ("lstm", 128, 128), ("gru", 3, 8)])
def test_whole_loop_kernels_saturation_and_nan(cell, B, H):
    """The float32 recurrent kernels with their own exponential at their edges — the LSTM's
    one-call loop over a few sequences, its one-call step of large inputs, the GRU's
    one-call loop: saturated gates (|pre-activation| ≫ 88, where e^x overflows or
    underflows) give the NumPy loop's 0/1 gates and finite states; a NaN in one sequence's
    input stays in that sequence (in its unit first, then in all of h)."""
    from glassgrad.ops import rnn as R

    rng = np.random.default_rng(3)
    T, G = 5, (4 if cell == "lstm" else 3) * H
    x = (rng.standard_normal((T, B, G)) * 300).astype(np.float32)
    h0 = np.zeros((B, H), np.float32)
    w = (rng.standard_normal((G, H)) * 0.3).astype(np.float32)
    rest = (h0, w) if cell == "gru" else (h0, h0.copy(), w)   # GRU: h0, W_hh, b_hh
    extra = (rng.standard_normal(G).astype(np.float32),) if cell == "gru" else ()
    op = R.GRULayer if cell == "gru" else R.LSTMLayer

    def run(x):
        with gg.no_grad():
            return [t.numpy() for t in op.apply(*(gg.tensor(a) for a in (x,) + rest + extra))]

    ref, got = _both(lambda: run(x))
    for a, b in zip(ref, got):
        assert np.isfinite(b).all()
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)
    x[2, 1, 3] = np.nan
    ref, got = _both(lambda: run(x))
    out = got[0]
    assert np.isnan(out[3:, 1]).all() and np.isnan(out[2, 1]).any()
    assert np.isfinite(out[:, 0]).all() and np.isfinite(out[:2]).all()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref[0]))


def test_vectorised_exponential():
    """The kernels' float32 e^x (a polynomial LLVM vectorises) within 2 ulp of the float64
    exponential over the whole float32 range, inf above it, NaN for NaN, and at most
    1.2e-38 (about FLT_MIN) below e^−87.3 (its only use, 1/(1 + e^x), cannot tell these from 0)."""
    from glassgrad.ops import _numba_kernels as nk

    x = np.concatenate([np.linspace(-87.3, 88.7, 200_001, dtype=np.float32),
                        np.float32([0.0, -0.0, 1e-30, -1e-30, 88.72, 88.8, 1e4, np.inf, -88.0, -1e4,
                                    -np.inf, np.nan])])
    got = x.copy()
    nk._exp_rows(got)
    with np.errstate(over="ignore"):
        want = np.exp(x.astype(np.float64))
    finite = np.isfinite(want) & (want < 3.4e38) & (x > -87.3)
    ulp = np.spacing(want[finite].astype(np.float32)).astype(np.float64)
    assert (np.abs(got[finite] - want[finite]) / ulp).max() <= 2
    assert np.isposinf(got[x > 88.723]).all()
    tiny = (x < -87.34) & ~np.isnan(x)
    assert ((got[tiny] >= 0) & (got[tiny] <= 1.2e-38)).all()
    assert np.isnan(got[np.isnan(x)]).all()


def test_lstm_whole_loop_weight_copy_follows_in_place_changes():
    """The one-call loop keeps W_hh's scaled transposed copy between calls; a weight
    changed in place (a NumPy write, as an optimizer step does) is seen on the next call,
    and a NaN weight (never equal to its snapshot) still gives the NumPy loop's output."""
    from glassgrad.ops import rnn as R

    rng = np.random.default_rng(5)
    T, B, H = 4, 1, 8
    x = rng.standard_normal((T, B, 4 * H)).astype(np.float32)
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    c0 = rng.standard_normal((B, H)).astype(np.float32)
    w = (rng.standard_normal((4 * H, H)) * 0.3).astype(np.float32)
    wt = gg.from_numpy(w)

    def run():
        with gg.no_grad():
            return R.LSTMLayer.apply(gg.tensor(x), gg.tensor(h0), gg.tensor(c0), wt)[0].numpy()

    for change in (None, lambda: w.__setitem__((3, 2), 5.0), lambda: w.__imul__(0.5),
                   lambda: w.__setitem__((0, 0), np.nan)):
        if change is not None:
            change()
        ref, got = _both(run)
        np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-6)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert len(R._WT_CACHE) <= R._WT_CACHE_MAX


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "mixed"])
def test_sgd_step_bit_identical(dtype, layout):
    """Plain SGD (``p -= lr·g``) on the one-pass kernel and on the NumPy pair: the same bits,
    NaN and ±inf in the gradient included; a gradient laid out unlike its parameter takes the
    NumPy lines."""

    def run():
        w0 = np.random.default_rng(7).standard_normal((130, 140)).astype(dtype)
        g0 = _edge_values((130, 140), dtype, np.random.default_rng(8))
        w = np.asfortranarray(w0) if layout == "F" else w0.copy()
        p = gg.nn.Parameter(gg.from_numpy(w))
        opt = gg.optim.SGD([p], lr=0.1)
        for k in range(3):
            g = g0 * (k + 1)
            g = np.asfortranarray(g) if layout in ("F", "mixed") else np.ascontiguousarray(g)
            p.grad = gg.from_numpy(g)
            opt.step()
        return p.detach().numpy().copy()

    r0, r1 = _both(run)
    _same(r0, r1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "mixed"])
@pytest.mark.parametrize("opt", [dict(cls="Adam"), dict(cls="AdamW", weight_decay=0.05),
                                 dict(cls="Adam", weight_decay=0.05),   # L2: NumPy lines
                                 dict(cls="Adam", amsgrad=True), dict(cls="AdamW", maximize=True)])
def test_adam_step_bit_identical(dtype, layout, opt):
    """Adam / AdamW on the one-pass kernel (``adam_plain``) and on the NumPy lines: the same
    parameters and moments bit for bit over several steps (bias corrections change with the
    step), NaN and ±inf in the gradient included; the variants the kernel does not cover
    (L2 penalty, AMSGrad, maximize) and a gradient laid out unlike its parameter take the
    NumPy lines, with the same results."""
    kw = {k: v for k, v in opt.items() if k != "cls"}

    def run():
        w0 = np.random.default_rng(7).standard_normal((33, 40)).astype(dtype)
        g0 = _edge_values((33, 40), dtype, np.random.default_rng(8))
        w = np.asfortranarray(w0) if layout == "F" else w0.copy()
        p = gg.nn.Parameter(gg.from_numpy(w))
        b = gg.nn.Parameter(gg.from_numpy(np.zeros(5, dtype)))
        o = getattr(gg.optim, opt["cls"])([p, b], lr=0.01, **kw)
        for k in range(4):
            g = g0 * (k + 1) if k != 2 else np.random.default_rng(k).standard_normal(g0.shape).astype(dtype)
            g = np.asfortranarray(g) if layout in ("F", "mixed") else np.ascontiguousarray(g)
            p.grad = gg.from_numpy(g)
            b.grad = gg.from_numpy(np.full(5, 0.5 * k - 1, dtype))
            o.step()
        st = o.state[p]
        return [p.detach().numpy().copy(), b.detach().numpy().copy(), st["exp_avg"].copy(),
                st["exp_avg_sq"].copy()]

    for a, c in zip(*_both(run)):
        _same(a, c)


def _ce_both(x, y, **kw):
    """Cross-entropy value and input gradient on the NumPy and the Numba path."""
    def run():
        xt = gg.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, gg.from_numpy(y), **kw)
        loss.backward()
        return loss.detach().numpy(), xt.grad.numpy()
    return _both(run)


@pytest.mark.parametrize("shape", [(128, 10), (1, 1), (3, 2), (5, 300), (2, 5000)])
def test_cross_entropy_kernel_agrees_to_float32_rounding(shape):
    """The one-call softmax cross-entropy (``xent_fwd``: e^x by the polynomial, the row sums
    in float64) against the NumPy passes: loss and gradient within float32 rounding, for
    short and long rows (where NumPy's path is the general one)."""
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 6).astype(np.float32)
    y = rng.integers(0, shape[1], shape[0])
    (l0, g0), (l1, g1) = _ce_both(x, y)
    assert l1.dtype == l0.dtype == np.float32 and g1.dtype == np.float32
    np.testing.assert_allclose(l1, l0, rtol=2e-6)
    np.testing.assert_allclose(g1, g0, rtol=2e-5, atol=2e-7 / shape[0])


def test_cross_entropy_kernel_edge_values():
    """−inf logits (masked classes: probability 0, as e^−inf), logits 93 below the row's
    maximum (e^s below float32's normal range, redone in float64), NaN (NaN row), a target
    at −inf (infinite loss), int32 targets and a non-contiguous input (NumPy's path)."""
    x = np.float32([[0.0, -np.inf, 3.0, -90.0], [np.nan, 1.0, 2.0, 0.0],
                    [1.0, 2.0, 3.0, 4.0], [5.0, -np.inf, 0.0, 1.0]])
    for rows, y in (([0, 2], [0, 3]), ([1, 2], [1, 1]), ([3], [1])):
        (l0, g0), (l1, g1) = _ce_both(x[rows], np.array(y, np.int32))
        np.testing.assert_allclose(l1, l0, rtol=2e-6)
        np.testing.assert_allclose(g1, g0, rtol=2e-5, atol=1e-30)
        np.testing.assert_array_equal(np.isnan(g1), np.isnan(g0))
    (_, g0), (_, g1) = _ce_both(x[[0, 2]], np.array([0, 3]))
    assert g1[0, 1] == 0.0 and 0 < g1[0, 3] < 1e-38
    (l0, g0), (l1, g1) = _ce_both(np.asfortranarray(x[[0, 2]]), np.array([2, 3]))
    np.testing.assert_allclose(l1, l0, rtol=2e-6)


def test_cross_entropy_kernel_leaves_other_targets_to_numpy():
    """Ignored targets (−100) and out-of-range ones: the kernel declines and the NumPy path
    answers (the loss over the other rows; an IndexError naming the op)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    (l0, g0), (l1, g1) = _ce_both(x, np.array([0, -100, 3, 2, -100, 1]))
    _same(l1, l0)
    _same(g1, g0)
    with K.using("numba"), pytest.raises(IndexError, match="cross_entropy: target 4"):
        F.cross_entropy(gg.tensor(x), gg.from_numpy(np.array([0, 1, 4, 2, 0, 1])))
    assert K.softmax_xent(x, np.array([0, 1, 4, 2, 0, 1])) is None


def test_cross_entropy_gradient_kernel_bit_identical():
    """``xent_bwd`` = ``p − onehot(y)`` then ``· scale`` in float32, as the NumPy lines."""
    rng = np.random.default_rng(4)
    p = rng.random((33, 7)).astype(np.float32)
    y = rng.integers(0, 7, 33)
    s = np.float32(0.37)
    want = p - np.eye(7, dtype=np.float32)[y]
    want *= s
    with K.using("numba"):
        _same(K.softmax_xent_grad(p, y, s), want)


def test_cross_entropy_kernel_double_backward():
    """Under ``create_graph`` the gradient from the kernel's forward is differentiable again
    and equals the NumPy path's."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = np.array([0, 4, 2, 1])

    def run():
        xt = gg.tensor(x, requires_grad=True)
        (g,) = gg.autograd.grad(F.cross_entropy(xt, gg.from_numpy(y)), [xt], create_graph=True)
        (gg2,) = gg.autograd.grad((g * g).sum(), [xt])
        return gg2.numpy()
    ref, got = _both(run)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)


def test_preload_compiles_the_kernels_it_names():
    """``kernels.preload()`` calls each kernel it loads once (a call with stale arguments
    would raise here, not in a server's first request) and returns the backend."""
    name = K.preload()
    assert name == K.backend()
    with K.using("numpy"):
        assert K.preload() == "numpy"
