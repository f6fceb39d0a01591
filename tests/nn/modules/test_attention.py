"""nn.MultiheadAttention and nn.TransformerEncoderLayer / TransformerEncoder: outputs and
gradients equal PyTorch's with weights copied across (eval mode / dropout 0)."""

import itertools

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import TOL

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

E, NH, L, S, N = 8, 2, 5, 6, 3


def _copy(gm, tm):
    sd = {k: gg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    gm.load_state_dict(sd)


def _mha_pair(dt=np.float64, **kw):
    tm = torch.nn.MultiheadAttention(E, NH, **kw).to(torch.float64 if dt == np.float64 else torch.float32)
    gm = nn.MultiheadAttention(E, NH, dtype=dt, **kw)
    assert list(gm.state_dict()) == list(tm.state_dict())
    _copy(gm, tm)
    return tm, gm


def _grads_match(gparams, tparams, tol):
    for (name, p), (tname, tp) in zip(gparams, tparams):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), err_msg=name, **tol)


# every mask combination in every layout; need_weights alternates through the list
MHA_GRID = [c + (k % 4 in (0, 3),) for k, c in enumerate(itertools.product(
    [False, True], [False, True], ["none", "bool", "float"], [False, True]))]


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("batch_first,self_attn,amask,kpm,need_weights", MHA_GRID)
def test_mha_matches_torch(batch_first, self_attn, amask, kpm, need_weights):
    dt = np.float64
    tm, gm = _mha_pair(dt, batch_first=batch_first)
    rng = np.random.default_rng(0)
    shp = lambda n: (N, n, E) if batch_first else (n, N, E)
    q = rng.standard_normal(shp(L))
    k = q if self_attn else rng.standard_normal(shp(S))
    v = q if self_attn else rng.standard_normal(shp(S))
    SS = L if self_attn else S
    kw_t, kw_g = {}, {}
    if amask == "bool":
        m = rng.random((L, SS)) > 0.7
        m[:, 0] = False
        kw_t["attn_mask"], kw_g["attn_mask"] = torch.tensor(m), gg.tensor(m)
    elif amask == "float":
        m = rng.standard_normal((N * NH, L, SS))
        kw_t["attn_mask"], kw_g["attn_mask"] = torch.tensor(m), gg.tensor(m)
    if kpm:
        pm = np.zeros((N, SS), bool)
        pm[1, -2:] = True
        pm[2, 1] = True
        kw_t["key_padding_mask"], kw_g["key_padding_mask"] = torch.tensor(pm), gg.tensor(pm)
    tq = torch.tensor(q, requires_grad=True)
    tk = tq if self_attn else torch.tensor(k, requires_grad=True)
    tv = tq if self_attn else torch.tensor(v, requires_grad=True)
    gq = gg.tensor(q, requires_grad=True)
    gk = gq if self_attn else gg.tensor(k, requires_grad=True)
    gv = gq if self_attn else gg.tensor(v, requires_grad=True)
    to, tw = tm(tq, tk, tv, need_weights=need_weights, **kw_t)
    go, gw = gm(gq, gk, gv, need_weights=need_weights, **kw_g)
    tol = TOL[dt]
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), **tol)
    if need_weights:
        np.testing.assert_allclose(gw.detach().numpy(), tw.detach().numpy(), **tol)
    else:
        assert gw is None
    w = rng.standard_normal(tuple(to.shape))
    (to * torch.tensor(w)).sum().backward()
    (go * gg.tensor(w)).sum().backward()
    np.testing.assert_allclose(gq.grad.numpy(), tq.grad.numpy(), **tol)
    if not self_attn:
        np.testing.assert_allclose(gk.grad.numpy(), tk.grad.numpy(), **tol)
        np.testing.assert_allclose(gv.grad.numpy(), tv.grad.numpy(), **tol)
    _grads_match(gm.named_parameters(), tm.named_parameters(), tol)


@pytest.mark.parametrize("average", [True, False])
def test_mha_float32_unbatched_weights_per_head(average):
    tm, gm = _mha_pair(np.float32)
    x = np.random.default_rng(1).standard_normal((L, E)).astype(np.float32)
    to, tw = tm(torch.tensor(x), torch.tensor(x), torch.tensor(x), average_attn_weights=average)
    go, gw = gm(gg.tensor(x), gg.tensor(x), gg.tensor(x), average_attn_weights=average)
    assert go.dtype == np.float32 and go.shape == (L, E)
    assert tuple(gw.shape) == tuple(tw.shape)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gw.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_mha_kdim_vdim_and_no_bias():
    tm = torch.nn.MultiheadAttention(E, NH, kdim=3, vdim=5, bias=False).double()
    gm = nn.MultiheadAttention(E, NH, kdim=3, vdim=5, bias=False, dtype=np.float64)
    assert list(gm.state_dict()) == list(tm.state_dict())
    _copy(gm, tm)
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((L, N, E)), rng.standard_normal((S, N, 3)), rng.standard_normal((S, N, 5))
    to = tm(torch.tensor(q), torch.tensor(k), torch.tensor(v))[0]
    go = gm(gg.tensor(q), gg.tensor(k), gg.tensor(v))[0]
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_mha_causal_equals_explicit_mask():
    gg.manual_seed(0)
    gm = nn.MultiheadAttention(E, NH, dtype=np.float64)
    x = gg.tensor(np.random.default_rng(3).standard_normal((L, N, E)))
    causal = gg.tensor(np.triu(np.ones((L, L), bool), 1))
    a = gm(x, x, x, attn_mask=causal, need_weights=False)[0]
    b = gm(x, x, x, is_causal=True, need_weights=False)[0]
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


def test_mha_init_and_errors():
    gg.manual_seed(0)
    m = nn.MultiheadAttention(16, 4)
    assert m.in_proj_weight.shape == (48, 16) and m.out_proj.weight.shape == (16, 16)
    bound = np.sqrt(6 / (16 + 48))
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not m.in_proj_bias.detach().numpy().any() and not m.out_proj.bias.detach().numpy().any()
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="expected feature sizes"):
        m(gg.zeros(3, 2, 8), gg.zeros(3, 2, 8), gg.zeros(3, 2, 8))
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(2, 3\)"):
        m(gg.zeros(3, 2, 16), gg.zeros(3, 2, 16), gg.zeros(3, 2, 16), key_padding_mask=gg.zeros(2, 4))
    with pytest.raises(ValueError, match="attn_mask must be"):
        m(gg.zeros(3, 2, 16), gg.zeros(3, 2, 16), gg.zeros(3, 2, 16), attn_mask=gg.zeros(5, 3, 3))


def test_mha_dropout_only_in_training():
    gg.manual_seed(0)
    m = nn.MultiheadAttention(E, NH, dropout=0.5)
    x = gg.randn(L, N, E)
    m.eval()
    a = m(x, x, x)[0].detach().numpy()
    np.testing.assert_array_equal(a, m(x, x, x)[0].detach().numpy())
    m.train()
    assert not np.allclose(a, m(x, x, x, need_weights=False)[0].detach().numpy())


@pytest.mark.parametrize("norm_first,activation,batch_first", [(False, "relu", False), (True, "gelu", True),
                                                               (False, "gelu", True)])
@pytest.mark.parametrize("masked", [False, True])
def test_transformer_encoder_layer_matches_torch(norm_first, activation, batch_first, masked):
    tm = torch.nn.TransformerEncoderLayer(E, NH, dim_feedforward=16, dropout=0.1, activation=activation,
                                          batch_first=batch_first, norm_first=norm_first).double().eval()
    gm = nn.TransformerEncoderLayer(E, NH, dim_feedforward=16, dropout=0.1, activation=activation,
                                    batch_first=batch_first, norm_first=norm_first, dtype=np.float64).eval()
    assert list(gm.state_dict()) == list(tm.state_dict())
    _copy(gm, tm)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
    kw_t, kw_g = {}, {}
    if masked:
        pm = np.zeros((N, L), bool)
        pm[0, -2:] = True
        cm = np.triu(np.ones((L, L), bool), 1)
        kw_t = dict(src_mask=torch.tensor(cm), src_key_padding_mask=torch.tensor(pm))
        kw_g = dict(src_mask=gg.tensor(cm), src_key_padding_mask=gg.tensor(pm))
    tx, gx = torch.tensor(x, requires_grad=True), gg.tensor(x, requires_grad=True)
    to = tm(tx, **kw_t)  # input requires grad: PyTorch takes its ordinary (non fast-path) route
    go = gm(gx, **kw_g)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-10)
    w = rng.standard_normal(x.shape)
    (to * torch.tensor(w)).sum().backward()
    (go * gg.tensor(w)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    _grads_match(gm.named_parameters(), tm.named_parameters(), TOL[np.float64])


def test_transformer_encoder_stack_matches_torch():
    layer_t = torch.nn.TransformerEncoderLayer(E, NH, dim_feedforward=16, batch_first=True).double()
    tm = torch.nn.TransformerEncoder(layer_t, 2, norm=torch.nn.LayerNorm(E).double(),
                                     enable_nested_tensor=False).eval()
    layer_g = nn.TransformerEncoderLayer(E, NH, dim_feedforward=16, batch_first=True, dtype=np.float64)
    gm = nn.TransformerEncoder(layer_g, 2, norm=nn.LayerNorm(E, dtype=np.float64)).eval()
    assert list(gm.state_dict()) == list(tm.state_dict())
    _copy(gm, tm)
    x = np.random.default_rng(5).standard_normal((N, L, E))
    to = tm(torch.tensor(x), is_causal=False)
    go = gm(gg.tensor(x))
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_transformer_encoder_layer_float32_trains():
    gg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, NH, dim_feedforward=16)
    out = layer(gg.randn(L, N, E))
    out.sum().backward()
    assert out.dtype == np.float32
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in layer.parameters())


@pytest.mark.parametrize("norm_first,batch_first", [(False, False), (True, True)])
@pytest.mark.parametrize("masked", [False, True])
def test_transformer_decoder_layer_and_stack_match_torch(norm_first, batch_first, masked):
    S = L + 1
    tl = torch.nn.TransformerDecoderLayer(E, NH, dim_feedforward=16, dropout=0.1,
                                          batch_first=batch_first, norm_first=norm_first).double()
    tm = torch.nn.TransformerDecoder(tl, 2, norm=torch.nn.LayerNorm(E).double()).eval()
    gl = nn.TransformerDecoderLayer(E, NH, dim_feedforward=16, dropout=0.1,
                                    batch_first=batch_first, norm_first=norm_first, dtype=np.float64)
    gm = nn.TransformerDecoder(gl, 2, norm=nn.LayerNorm(E, dtype=np.float64)).eval()
    assert list(gm.state_dict()) == list(tm.state_dict())
    _copy(gm, tm)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
    mem = rng.standard_normal((N, S, E) if batch_first else (S, N, E))
    kw_t, kw_g = {}, {}
    if masked:
        cm = np.triu(np.ones((L, L), bool), 1)
        pm = np.zeros((N, S), bool)
        pm[1, -2:] = True
        kw_t = dict(tgt_mask=torch.tensor(cm), memory_key_padding_mask=torch.tensor(pm))
        kw_g = dict(tgt_mask=gg.tensor(cm), memory_key_padding_mask=gg.tensor(pm))
    tx, gx = torch.tensor(x, requires_grad=True), gg.tensor(x, requires_grad=True)
    tmem, gmem = torch.tensor(mem, requires_grad=True), gg.tensor(mem, requires_grad=True)
    to, go = tm(tx, tmem, **kw_t), gm(gx, gmem, **kw_g)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-10)
    w = rng.standard_normal(x.shape)
    (to * torch.tensor(w)).sum().backward()
    (go * gg.tensor(w)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(gmem.grad.numpy(), tmem.grad.numpy(), rtol=1e-9, atol=1e-10)
    _grads_match(gm.named_parameters(), tm.named_parameters(), TOL[np.float64])
