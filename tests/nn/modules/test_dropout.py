"""Dropout modules (glassgrad.nn.modules.dropout): Dropout1d/2d/3d (modules and functions) for
every input rank as PyTorch 2.13: which axes share one draw (whole channels), the 1/(1-p)
scaling, the identity in eval mode, the errors and the UserWarnings (same text) for the
ranks PyTorch calls deprecated; Dropout's mask in forward and backward, seeding; the
alpha dropouts in eval mode against torch.nn's."""

import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.nn import functional as F
from oracle import check_module

torch = pytest.importorskip("torch")

SHAPE = (16, 12, 5, 4, 3, 2)      # large leading axes: a per-element mask is never constant
P = 0.25


def _shared_axes(y: np.ndarray) -> list:
    """The axes along which the output is constant (the axes the mask is broadcast over)."""
    return [d for d in range(y.ndim) if np.all(y.max(axis=d) == y.min(axis=d))]


def _run(fn, x):
    """(output as an array or the error (type, message), [(category, message)])."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            y = fn(x)
            out = y.detach().numpy()
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            out = (type(e), str(e))
    return out, [(r.category, str(r.message)) for r in w]


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("nd", range(0, 7))
@pytest.mark.parametrize("module", [True, False])
def test_dropout_nd_matches_torch_for_every_rank(k, nd, module):
    shape = SHAPE[:nd]
    if module:
        gfn, tfn = getattr(nn, f"Dropout{k}d")(P), getattr(torch.nn, f"Dropout{k}d")(P)
    else:
        gfn = lambda x: getattr(F, f"dropout{k}d")(x, P)           # noqa: E731
        tfn = lambda x: getattr(torch.nn.functional, f"dropout{k}d")(x, P)  # noqa: E731
    gg.manual_seed(0)
    torch.manual_seed(0)
    g, gw = _run(gfn, gg.ones(*shape, dtype=gg.float64))
    t, tw = _run(tfn, torch.ones(shape, dtype=torch.float64))
    assert gw == tw
    if isinstance(t, tuple):
        assert isinstance(g, tuple) and issubclass(g[0], t[0])
        assert t[1].split(":")[-1].strip()[:40] in g[1]
        return
    assert not isinstance(g, tuple), g
    assert g.shape == t.shape
    assert set(np.unique(g)) <= {0.0, 1 / (1 - P)}
    assert _shared_axes(g) == _shared_axes(t)
    if nd >= 2:
        assert (g == 0).any() and (g != 0).any()


def test_dropout_nd_warnings_point_at_the_caller():
    for call in (lambda x: nn.Dropout2d()(x), lambda x: F.dropout2d(x)):
        with pytest.warns(UserWarning, match="interpreted as shape \\(N, C, L\\)") as rec:
            call(gg.ones(2, 3, 4))
        assert rec[0].filename == __file__
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d, which is"):
        nn.Dropout3d()(gg.ones(2, 3, 4))


def test_dropout_nd_unbatched_drops_whole_rows_and_scales():
    gg.manual_seed(1)
    x = gg.randn(64, 7, dtype=gg.float64, requires_grad=True)
    y = nn.Dropout1d(P)(x)                     # (C, L): a row is one channel
    m = y.detach().numpy() / x.detach().numpy()
    rows = m[:, 0]
    assert np.allclose(m, rows[:, None])
    assert set(np.round(rows, 12)) == {0.0, round(1 / (1 - P), 12)}
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), m)
    x3 = gg.ones(40, 3, 2, 2)                  # Dropout3d: unbatched (C, D, H, W)
    y3 = nn.Dropout3d(0.5)(x3).numpy()
    assert _shared_axes(y3) == [1, 2, 3]


@pytest.mark.parametrize("k,shape", [(1, (3, 4)), (1, (2, 3, 4)), (2, (2, 3, 4)),
                                     (2, (2, 3, 4, 5)), (3, (3, 4, 5, 2)), (3, (2, 3, 4, 5, 2))])
def test_dropout_nd_eval_is_identity(k, shape):
    d = getattr(nn, f"Dropout{k}d")(0.5).eval()
    x = gg.randn(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert d(x) is x
        assert getattr(F, f"dropout{k}d")(x, 0.5, training=False) is x


def test_dropout1d_rank_error_even_in_eval():
    d = nn.Dropout1d().eval()
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D"):
        d(gg.ones(2, 3, 4, 5))


# ------------------------------------------------------------------------------ dropout
def test_dropout_mask_semantics():
    gg.manual_seed(0)
    d = nn.Dropout(0.3)
    x = gg.ones(200, 500, requires_grad=True)
    y = d(x)
    v = y.detach().numpy()
    zero = v == 0
    assert abs(zero.mean() - 0.3) < 0.01
    np.testing.assert_allclose(v[~zero], 1 / 0.7, rtol=1e-6)
    assert y.dtype == np.float32
    g = np.random.default_rng(0).standard_normal(v.shape).astype(np.float32)
    y.backward(gg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * v, rtol=1e-6)  # same mask in backward
    d.eval()
    xe = gg.randn(3, 4)
    assert d(xe) is xe
    # seedable
    gg.manual_seed(5)
    a = F.dropout(gg.ones(50), 0.5).numpy()
    gg.manual_seed(5)
    b = F.dropout(gg.ones(50), 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    c = F.dropout(gg.ones(50), 0.5, generator=gg.Generator(5)).numpy()
    np.testing.assert_array_equal(a, c)
    assert not F.dropout(gg.ones(10), 1.0).numpy().any()
    assert F.dropout(gg.ones(10), 0.0).numpy().all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_module_and_upsample_repr():
    gg.manual_seed(0)
    d = nn.Dropout2d(0.5)
    x = gg.ones(8, 16, 3, 3)
    y = d(x).numpy().reshape(8, 16, 9)
    assert np.all((y == 0).all(-1) | (y == 2).all(-1))
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(2.0)
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"


@pytest.mark.parametrize("make", [lambda nn: nn.Dropout(0.3), lambda nn: nn.Dropout2d(0.3),
                                  lambda nn: nn.AlphaDropout(0.3), lambda nn: nn.FeatureAlphaDropout(0.2)])
def test_dropouts_in_eval_mode_vs_torch(make):
    check_module(make, shapes=[(2, 4, 3, 3)], modes=("eval",), same_repr=True)


@pytest.mark.parametrize("cls", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                 "FeatureAlphaDropout"])
def test_dropout_probability_checked_naming_the_layer(cls):
    with pytest.raises(ValueError, match=f"{cls}: dropout probability has to be between 0 and 1"):
        getattr(nn, cls)(1.5)
    with pytest.raises(ValueError):
        getattr(torch.nn, cls)(1.5)
    m = getattr(nn, cls)(0.25, inplace=True)
    assert repr(m) == repr(getattr(torch.nn, cls)(0.25, inplace=True))


def test_channel_dropouts_are_importable_from_spatial_and_dropout():
    from glassgrad.nn.modules import dropout, spatial

    assert spatial.Dropout2d is dropout.Dropout2d is nn.Dropout2d
    m = nn.Dropout2d(0.5).eval()
    x = gg.ones(2, 3, 4, 4)
    assert np.array_equal(m(x).array, x.array)
