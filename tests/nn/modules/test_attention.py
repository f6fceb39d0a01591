"""nn.MultiheadAttention and nn.TransformerEncoderLayer / TransformerEncoder: outputs and
gradients equal PyTorch's with weights copied across (eval mode / dropout 0)."""

import itertools

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from oracle import check_module

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

E, NH, L, S, N = 8, 2, 5, 6, 3


# every mask combination in every layout; need_weights alternates through the list
MHA_GRID = [c + (k % 4 in (0, 3),) for k, c in enumerate(itertools.product(
    [False, True], [False, True], ["none", "bool", "float"], [False, True]))]


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("batch_first,self_attn,amask,kpm,need_weights", MHA_GRID)
def test_mha_matches_torch(batch_first, self_attn, amask, kpm, need_weights):
    rng = np.random.default_rng(0)
    shp = lambda n: (N, n, E) if batch_first else (n, N, E)
    SS = L if self_attn else S
    qkv = [rng.standard_normal(shp(L))] + ([] if self_attn else [rng.standard_normal(shp(S))] * 2)
    masks, names = [], []
    if amask == "bool":
        m = rng.random((L, SS)) > 0.7
        m[:, 0] = False
        masks, names = [m], ["attn_mask"]
    elif amask == "float":
        masks, names = [rng.standard_normal((N * NH, L, SS))], ["attn_mask"]
    if kpm:
        pm = np.zeros((N, SS), bool)
        pm[1, -2:] = True
        pm[2, 1] = True
        masks, names = masks + [pm], names + ["key_padding_mask"]

    def call(m, *xs):
        q, k, v = (xs[0],) * 3 if self_attn else xs[:3]
        kw = dict(zip(names, xs[len(qkv):]))
        return m(q, k, v, need_weights=need_weights, **kw)

    check_module(lambda nn: nn.MultiheadAttention(E, NH, batch_first=batch_first), inputs=qkv + masks,
                 grad=[True] * len(qkv) + [False] * len(masks), call=call, dtypes=(np.float64,))


@pytest.mark.parametrize("average", [True, False])
def test_mha_float32_unbatched_weights_per_head(average):
    check_module(lambda nn: nn.MultiheadAttention(E, NH), shapes=[(L, E)], dtypes=(np.float32,),
                 call=lambda m, x: m(x, x, x, average_attn_weights=average))


def test_mha_kdim_vdim_and_no_bias():
    check_module(lambda nn: nn.MultiheadAttention(E, NH, kdim=3, vdim=5, bias=False),
                 shapes=[(L, N, E), (S, N, 3), (S, N, 5)])


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
    x = (N, L, E) if batch_first else (L, N, E)
    pm = np.zeros((N, L), bool)
    pm[0, -2:] = True
    cm = np.triu(np.ones((L, L), bool), 1)
    # eval mode (dropout off); the input requires grad, so PyTorch takes its ordinary (non
    # fast-path) route
    check_module(lambda nn: nn.TransformerEncoderLayer(E, NH, dim_feedforward=16, dropout=0.1,
                                                       activation=activation, batch_first=batch_first,
                                                       norm_first=norm_first),
                 inputs=[np.random.default_rng(4).standard_normal(x)] + ([cm, pm] if masked else []),
                 call=lambda m, x, *masks: m(x, **dict(zip(["src_mask", "src_key_padding_mask"], masks))),
                 modes=("eval",))


def test_transformer_encoder_stack_matches_torch():
    layer = lambda nn: nn.TransformerEncoderLayer(E, NH, dim_feedforward=16, batch_first=True)
    check_module(lambda nn: nn.TransformerEncoder(layer(nn), 2, norm=nn.LayerNorm(E)),
                 torch_make=lambda nn: nn.TransformerEncoder(layer(nn), 2, norm=nn.LayerNorm(E),
                                                             enable_nested_tensor=False),
                 shapes=[(N, L, E)], modes=("eval",))


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
    rng = np.random.default_rng(6)
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
    mem = rng.standard_normal((N, S, E) if batch_first else (S, N, E))
    cm = np.triu(np.ones((L, L), bool), 1)
    pm = np.zeros((N, S), bool)
    pm[1, -2:] = True
    layer = lambda nn: nn.TransformerDecoderLayer(E, NH, dim_feedforward=16, dropout=0.1,
                                                  batch_first=batch_first, norm_first=norm_first)
    check_module(lambda nn: nn.TransformerDecoder(layer(nn), 2, norm=nn.LayerNorm(E)),
                 inputs=[x, mem] + ([cm, pm] if masked else []),
                 call=lambda m, x, mem, *masks: m(x, mem, **dict(zip(["tgt_mask", "memory_key_padding_mask"],
                                                                     masks))),
                 modes=("eval",), rtol=1e-9)
