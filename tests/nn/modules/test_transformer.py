"""nn.Transformer (encoder-decoder): PyTorch's constructor, parameter names, initialisation,
causal mask and forward; with PyTorch's weights loaded, outputs and every gradient equal
PyTorch's in float64 (eval mode) with causal and key-padding masks in every layout."""

import itertools
import math

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import TOL

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

E, NH, FF, S, T, N = 8, 2, 16, 6, 5, 3


def _pair(**kw):
    torch.manual_seed(0)
    tm = torch.nn.Transformer(E, NH, 2, 2, FF, **kw).double().eval()
    gm = nn.Transformer(E, NH, 2, 2, FF, dtype=np.float64, **kw).eval()
    assert list(gm.state_dict()) == list(tm.state_dict())
    gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, gm


def _both(a, grad=False):
    return torch.tensor(a, requires_grad=grad), gg.tensor(a, requires_grad=grad)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.filterwarnings("ignore:Support for mismatched")
@pytest.mark.parametrize("batch_first,norm_first,masked", list(itertools.product(
    [False, True], [False, True], ["none", "causal", "all"])))
def test_transformer_matches_torch(batch_first, norm_first, masked):
    tm, gm = _pair(dropout=0.1, batch_first=batch_first, norm_first=norm_first)
    rng = np.random.default_rng(1)
    lay = (lambda n: (N, n, E)) if batch_first else (lambda n: (n, N, E))
    (tsrc, gsrc), (ttgt, gtgt) = (_both(rng.standard_normal(lay(n)), True) for n in (S, T))
    kt, kg = {}, {}
    if masked != "none":
        kt["tgt_mask"] = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
        kg["tgt_mask"] = nn.Transformer.generate_square_subsequent_mask(T, dtype=gg.float64)
    if masked == "all":
        spm = np.zeros((N, S), bool)
        spm[0, -2:] = True
        tpm = np.zeros((N, T), bool)
        tpm[2, -1] = True
        kt["src_key_padding_mask"], kg["src_key_padding_mask"] = _both(spm)
        kt["memory_key_padding_mask"], kg["memory_key_padding_mask"] = _both(spm)
        kt["tgt_key_padding_mask"], kg["tgt_key_padding_mask"] = _both(tpm)
        mm = rng.standard_normal((T, S))
        kt["memory_mask"], kg["memory_mask"] = _both(mm)
    to, go = tm(tsrc, ttgt, **kt), gm(gsrc, gtgt, **kg)
    assert tuple(go.shape) == tuple(to.shape) == lay(T)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-10)
    w = rng.standard_normal(lay(T))
    (to * torch.tensor(w)).sum().backward()
    (go * gg.tensor(w)).sum().backward()
    for g, t in ((gsrc, tsrc), (gtgt, ttgt)):
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-10)
    tparams = dict(tm.named_parameters())
    names = [n for n, _ in gm.named_parameters()]
    assert names == list(tparams)
    for name, p in gm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), err_msg=name,
                                   **TOL[np.float64])


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_unbatched_gelu_no_bias_and_callable_activation():
    for kw in (dict(activation="gelu", bias=False), dict(activation=torch.nn.functional.gelu)):
        gkw = dict(kw)
        if callable(kw["activation"]):
            gkw["activation"] = nn.functional.gelu
        torch.manual_seed(0)
        tm = torch.nn.Transformer(E, NH, 1, 2, FF, **kw).double().eval()
        gm = nn.Transformer(E, NH, 1, 2, FF, dtype=np.float64, **gkw).eval()
        assert list(gm.state_dict()) == list(tm.state_dict())
        gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        rng = np.random.default_rng(2)
        (ts, gs), (tt, gt) = _both(rng.standard_normal((S, E))), _both(rng.standard_normal((T, E)))
        pm = np.zeros(S, bool)
        pm[-1] = True
        (tp, gp) = _both(pm)
        to = tm(ts, tt, src_key_padding_mask=tp, tgt_is_causal=True,
                tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64))
        go = gm(gs, gt, src_key_padding_mask=gp, tgt_is_causal=True,
                tgt_mask=nn.Transformer.generate_square_subsequent_mask(T, dtype=gg.float64))
        np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_generate_square_subsequent_mask_as_torch():
    for sz in (0, 1, 4):
        g = nn.Transformer.generate_square_subsequent_mask(sz)
        t = torch.nn.Transformer.generate_square_subsequent_mask(sz)
        assert g.dtype == gg.float32
        np.testing.assert_array_equal(g.numpy(), t.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=gg.float64).dtype == gg.float64
    with pytest.raises(ValueError, match="sz must be an int >= 0"):
        nn.Transformer.generate_square_subsequent_mask(-1)


def test_transformer_reset_parameters_is_xavier_on_matrices():
    gg.manual_seed(0)
    m = nn.Transformer(16, 4, 1, 1, 64, dropout=0.0)
    sd = dict(m.named_parameters())
    for name, p in sd.items():
        a = p.detach().numpy()
        if a.ndim > 1:
            bound = math.sqrt(6.0 / (a.shape[0] + a.shape[1]))
            assert np.abs(a).max() <= bound, name
            assert np.abs(a).max() > 0.9 * bound, name     # drawn over the whole range
        elif ".norm" in name or name.startswith(("encoder.norm", "decoder.norm")):
            np.testing.assert_array_equal(a, 1.0 if name.endswith("weight") else 0.0)
        elif "attn" in name:
            np.testing.assert_array_equal(a, 0.0, err_msg=name)   # attention biases: zeros
        else:                                                  # Linear biases keep their init
            fan_in = 16 if "linear1" in name else 64
            assert 0 < np.abs(a).max() <= 1 / math.sqrt(fan_in), name
    # Linear's own init (kaiming, bound 1/sqrt(fan_in) = 0.25 here) was replaced
    assert np.abs(sd["encoder.layers.0.linear1.weight"].detach().numpy()).max() > 0.25
    assert m.d_model == 16 and m.nhead == 4 and m.batch_first is False
    assert isinstance(m.encoder.norm, nn.LayerNorm) and isinstance(m.decoder.norm, nn.LayerNorm)
    assert m.encoder.layers[0].self_attn.in_proj_weight.dtype == gg.float32


def test_transformer_custom_encoder_decoder_and_errors():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, NH, FF), 1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, NH, FF), 1)
    m = nn.Transformer(E, NH, custom_encoder=enc, custom_decoder=dec)
    assert m.encoder is enc and m.decoder is dec
    assert list(m.state_dict()) == ([f"encoder.{k}" for k in enc.state_dict()]
                                    + [f"decoder.{k}" for k in dec.state_dict()])
    out = m(gg.randn(S, N, E), gg.randn(T, N, E))
    assert tuple(out.shape) == (T, N, E)
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal"):
        m(gg.randn(S, N, E), gg.randn(T, N + 1, E))
    with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal to d_model=8"):
        m(gg.randn(S, N, E), gg.randn(T, N, E + 1))
    with pytest.raises(TypeError, match="Transformer: src must be a Tensor"):
        m(np.zeros((S, N, E)), gg.randn(T, N, E))


def test_transformer_encoder_accepts_torch_keywords():
    layer = nn.TransformerEncoderLayer(E, NH, FF, activation="gelu")
    enc = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(E),
                                enable_nested_tensor=False, mask_check=False)
    assert enc.enable_nested_tensor is False and enc.mask_check is False
    assert enc.use_nested_tensor is False and len(enc.layers) == 2
    assert layer.activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(E, NH, FF).activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(E, NH, FF, activation=nn.Tanh()).activation_relu_or_gelu == 0
    with pytest.raises(ValueError, match="num_layers must be an int >= 0"):
        nn.TransformerEncoder(layer, 1.5)
    with pytest.raises(TypeError, match="TransformerDecoder: the layer to repeat must be a Module"):
        nn.TransformerDecoder("layer", 2)


def test_transformer_trains_in_float32():
    gg.manual_seed(0)
    m = nn.Transformer(E, NH, 1, 1, FF, batch_first=True)
    opt = gg.optim.Adam(m.parameters(), lr=1e-2)
    src, tgt = gg.randn(N, S, E), gg.randn(N, T, E)
    mask = nn.Transformer.generate_square_subsequent_mask(T)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((m(src, tgt, tgt_mask=mask) - tgt) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0]
    assert all(p.grad.dtype == gg.float32 for p in m.parameters())
