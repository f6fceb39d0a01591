"""gg.per_sample_grads: row i equals a single-sample backward, for every supported layer;
checked against a loop of single-sample PyTorch backward passes and against
torch.func.vmap(torch.func.grad(...)), in float64 to 1e-10."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassgrad as gg
from oracle import needs_torch, torch

pytestmark = [needs_torch, pytest.mark.filterwarnings("ignore:There is a performance drop"),
              pytest.mark.usefixtures("float64_default")]
TOL = dict(rtol=1e-10, atol=1e-10)
N = 5


def copy_weights(gm, tm):
    tm.load_state_dict({k: torch.tensor(np.array(v.array)) for k, v in gm.state_dict().items()})


def torch_loop(tm, tl, x, y):
    ps = dict(tm.named_parameters())
    out = {k: [] for k in ps}
    for i in range(x.shape[0]):
        tm.zero_grad()
        tl(tm(x[i:i + 1]), y[i:i + 1]).backward()
        for k, p in ps.items():
            out[k].append(p.grad.clone() if p.grad is not None else torch.zeros_like(p))
    return {k: torch.stack(v).numpy() for k, v in out.items()}


def torch_vmap(tm, tl, x, y):
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in tm.named_parameters()}
    buffers = {k: v.detach() for k, v in tm.named_buffers()}

    def loss(p, xi, yi):
        return tl(functional_call(tm, (p, buffers), (xi.unsqueeze(0),)), yi.unsqueeze(0))

    return {k: v.numpy() for k, v in vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y).items()}


def check(gm, tm, gl, tl, x, y, vmap=True):
    copy_weights(gm, tm)
    got = gg.per_sample_grads(gm, gl, gg.tensor(x), gg.tensor(y))
    tx, ty = torch.tensor(x), torch.tensor(y)
    refs = [torch_loop(tm, tl, tx, ty)] + ([torch_vmap(tm, tl, tx, ty)] if vmap else [])
    for ref in refs:
        assert list(got) == list(ref)
        for k in ref:
            assert got[k].shape == ref[k].shape, k
            np.testing.assert_allclose(got[k], ref[k], **TOL, err_msg=k)
    return got


rng = np.random.default_rng(0)


def mlp(nn):
    return nn.Sequential(nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 3))


def lenet(nn):
    return nn.Sequential(nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(6 * 3 * 3, 10), nn.ReLU(), nn.Linear(10, 4))


def rnn_classifier(nn, cls="LSTM", batch_first=True, **kw):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, cls)(4, 5, batch_first=batch_first, **kw)
            self.head = nn.Linear(5 * (2 if kw.get("bidirectional") else 1), 3)

        def forward(self, x):
            if not batch_first:
                x = x.transpose(0, 1)
            o, _ = self.rnn(x)
            if not batch_first:
                o = o.transpose(0, 1)
            return self.head(o[:, -1])

    return M()


def transformer(nn):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            return self.head(self.enc(x).mean(1))

    return M().eval()


def ce():
    return gg.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()


def labels(k=3):
    return rng.integers(0, k, N)


# ----------------------------------------------------------------------------- the four models
def test_mlp():
    check(mlp(gg.nn), mlp(torch.nn), *ce(), rng.normal(size=(N, 7)), labels())


def test_lenet():
    check(lenet(gg.nn), lenet(torch.nn), *ce(), rng.normal(size=(N, 1, 16, 16)), labels(4))


def test_lstm_classifier():
    gm, tm = rnn_classifier(gg.nn), rnn_classifier(torch.nn)
    x, y = rng.normal(size=(N, 6, 4)), labels()
    got = check(gm, tm, *ce(), x, y, vmap=False)
    # torch.func.vmap has no batching rule for nn.LSTM's fused kernel: the same LSTM written
    # with torch ops on the same parameters
    from torch.func import grad, vmap

    def loss(p, xi, yi):
        h = c = torch.zeros(5)
        for t in range(xi.shape[0]):
            a = xi[t] @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + h @ p["rnn.weight_hh_l0"].T \
                + p["rnn.bias_hh_l0"]
            i, f, g, o = a.chunk(4)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
        logits = h @ p["head.weight"].T + p["head.bias"]
        return torch.nn.functional.cross_entropy(logits[None], yi[None])

    params = {k: v.detach() for k, v in tm.named_parameters()}
    ref = vmap(grad(loss), in_dims=(None, 0, 0))(params, torch.tensor(x), torch.tensor(y))
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k].numpy(), **TOL, err_msg=k)


def test_transformer_encoder_layer():
    check(transformer(gg.nn), transformer(torch.nn), *ce(), rng.normal(size=(N, 6, 8)), labels())


# ----------------------------------------------------------------------------- more layers
@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, bidirectional=True),
                                dict(batch_first=False)])
def test_recurrent_layers(cls, kw):
    check(rnn_classifier(gg.nn, cls, **kw), rnn_classifier(torch.nn, cls, **kw), *ce(),
          rng.normal(size=(N, 6, 4)), labels(), vmap=False)


def conv_net(nn):
    return nn.Sequential(nn.Conv1d(4, 6, 3, stride=2, dilation=2, groups=2, padding=1),
                         nn.GroupNorm(3, 6), nn.Tanh(),
                         nn.Conv1d(6, 4, 3, padding="same", padding_mode="reflect"),
                         nn.Flatten(), nn.Linear(32, 3))


def test_conv_groups_stride_dilation_padding_modes_and_groupnorm():
    check(conv_net(gg.nn), conv_net(torch.nn), *ce(), rng.normal(size=(N, 4, 17)), labels())


def test_conv3d():
    def net(nn):
        return nn.Sequential(nn.Conv3d(2, 3, (2, 3, 2), stride=(1, 2, 1)), nn.Flatten(),
                             nn.Linear(3 * 3 * 2 * 3, 2))
    check(net(gg.nn), net(torch.nn), *ce(), rng.normal(size=(N, 2, 4, 5, 4)), labels(2))


def embed_net(nn):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(11, 4, padding_idx=0)
            self.norm = nn.LayerNorm(4)
            self.head = nn.Linear(4, 3)

        def forward(self, x):
            return self.head(self.norm(self.emb(x)).sum(1))

    return M()


def test_embedding_padding_idx_and_layernorm():
    x = rng.integers(0, 11, (N, 7))
    x[0, :3] = 0
    x[1, :] = 3                     # repeated index: the scatter adds
    check(embed_net(gg.nn), embed_net(torch.nn), *ce(), x, labels())


def test_batchnorm_eval_mode_is_supported():
    def net(nn):
        return nn.Sequential(nn.Linear(7, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    gm, tm = net(gg.nn), net(torch.nn)
    gm.train()
    gm(gg.randn(8, 7))              # non-trivial running statistics
    gm.eval()
    tm.eval()
    check(gm, tm, *ce(), rng.normal(size=(N, 7)), labels())


def test_batchnorm_training_mode_is_refused_with_the_reason():
    gm = gg.nn.Sequential(gg.nn.Linear(7, 6), gg.nn.BatchNorm1d(6), gg.nn.Linear(6, 3))
    with pytest.raises(RuntimeError, match="couples the samples.*eval().*GroupNorm"):
        gg.per_sample_grads(gm, gg.nn.CrossEntropyLoss(), gg.randn(N, 7),
                            gg.tensor(labels()))


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("kind", ["sum", "function", "mse", "lambda", "weighted", "ignore"])
def test_losses(kind):
    x, y = rng.normal(size=(N, 7)), labels()
    if kind == "sum":
        gl, tl = gg.nn.CrossEntropyLoss(reduction="sum"), torch.nn.CrossEntropyLoss(reduction="sum")
    elif kind == "function":
        gl, tl = gg.nn.functional.cross_entropy, torch.nn.functional.cross_entropy
    elif kind == "mse":             # 'mean' over each sample's 3 outputs
        y = rng.normal(size=(N, 3))
        gl, tl = gg.nn.MSELoss(), torch.nn.MSELoss()
    elif kind == "lambda":          # no reduction argument: one loss call per sample
        def gl(o, t):
            return (o ** 2).mean() + o.sum()
        tl = gl
    elif kind == "weighted":        # a weighted mean of one sample is its unweighted loss
        w = rng.uniform(0.5, 2, 3)
        gl, tl = gg.nn.CrossEntropyLoss(weight=gg.tensor(w)), torch.nn.CrossEntropyLoss(
            weight=torch.tensor(w))
    else:
        y[2] = 1
        gl, tl = gg.nn.CrossEntropyLoss(ignore_index=1), torch.nn.CrossEntropyLoss(ignore_index=1)
    got = check(mlp(gg.nn), mlp(torch.nn), gl, tl, x, y, vmap=kind != "ignore")
    assert got.losses.shape == (N,)


def test_parameters_and_grads_untouched():
    gm = mlp(gg.nn)
    before = {k: v.array.copy() for k, v in gm.named_parameters()}
    gg.per_sample_grads(gm, gg.nn.CrossEntropyLoss(), gg.randn(N, 7), gg.tensor(labels()))
    for k, p in gm.named_parameters():
        assert p.grad is None and p.requires_grad
        np.testing.assert_array_equal(p.array, before[k])
    assert not gm._has_hooks


def test_frozen_parameters_are_left_out():
    gm = mlp(gg.nn)
    gm[0].weight.requires_grad_(False)
    got = gg.per_sample_grads(gm, gg.nn.CrossEntropyLoss(), gg.randn(N, 7), gg.tensor(labels()))
    assert list(got) == ["0.bias", "2.weight", "2.bias"]


def test_unknown_module_falls_back_to_a_loop_with_one_warning():
    class Scale(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.s = gg.nn.Parameter(gg.randn(6))

        def forward(self, x):
            return x * self.s

    class TScale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.s = torch.nn.Parameter(torch.randn(6))

        def forward(self, x):
            return x * self.s

    def net(nn, sc):
        return nn.Sequential(nn.Linear(7, 6), sc(), nn.Tanh(), nn.Linear(6, 3))

    from glassgrad import per_sample

    per_sample._WARNED.discard("Scale")
    with pytest.warns(UserWarning, match="Scale.*loop of single-sample"):
        check(net(gg.nn, Scale), net(torch.nn, TScale), *ce(), rng.normal(size=(N, 7)), labels())
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # once per type
        gg.per_sample_grads(net(gg.nn, Scale), gg.nn.CrossEntropyLoss(), gg.randn(N, 7),
                            gg.tensor(labels()))


def test_bad_input():
    gm = mlp(gg.nn)
    with pytest.raises(TypeError, match="per_sample_grads: model"):
        gg.per_sample_grads(lambda x: x, gg.nn.CrossEntropyLoss(), gg.randn(N, 7), None)
    with pytest.raises(ValueError, match="same batch size"):
        gg.per_sample_grads(gm, gg.nn.CrossEntropyLoss(), gg.randn(N, 7), gg.tensor(labels()[:3]))


def test_float32():
    gm = gg.nn.Sequential(gg.nn.Linear(7, 6, dtype=gg.float32), gg.nn.ReLU(),
                          gg.nn.Linear(6, 3, dtype=gg.float32))
    got = gg.per_sample_grads(gm, gg.nn.CrossEntropyLoss(), gg.randn(N, 7, dtype=gg.float32),
                              gg.tensor(labels()))
    assert all(v.dtype == np.float32 for v in got.values())


# ----------------------------------------------------------------------------- aggregate
@pytest.mark.parametrize("f", ["logsumexp", "weighted"])
def test_aggregate(f):
    w = rng.uniform(-1, 2, N)
    if f == "logsumexp":
        gf, tf = (lambda l: l.logsumexp(0)), (lambda l: l.logsumexp(0))
    else:
        gf, tf = (lambda l: (l * gg.tensor(w)).sum()), (lambda l: (l * torch.tensor(w)).sum())
    gm, tm = lenet(gg.nn), lenet(torch.nn)
    copy_weights(gm, tm)
    x, y = rng.normal(size=(N, 1, 16, 16)), labels(4)
    ps = gg.per_sample_grads(gm, gg.nn.CrossEntropyLoss(), gg.tensor(x), gg.tensor(y))
    got = ps.aggregate(gf)
    from glassgrad.per_sample import aggregate

    got2 = aggregate(ps, gf)
    tl = torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y), reduction="none")
    tf(tl).backward()
    for k, p in tm.named_parameters():
        np.testing.assert_allclose(got[k], p.grad.numpy(), **TOL, err_msg=k)
        np.testing.assert_array_equal(got[k], got2[k])


def test_aggregate_bad_f():
    ps = gg.per_sample_grads(mlp(gg.nn), gg.nn.CrossEntropyLoss(), gg.randn(N, 7),
                             gg.tensor(labels()))
    with pytest.raises(ValueError, match="aggregate: f must return a scalar"):
        ps.aggregate(lambda l: l * 2)


def test_seq_first_linear_falls_back_to_the_loop():
    """A Linear on a (T, N, F) tensor does not see the batch on axis 0: looped, still right."""
    def net(nn):
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(4, 5)
                self.b = nn.Linear(5, 3)

            def forward(self, x):                    # x (N, T, 4)
                h = self.a(x.transpose(0, 1)).tanh()  # (T, N, 5)
                return self.b(h.sum(0))
        return M()

    from glassgrad import per_sample

    per_sample._WARNED.discard("Linear")
    with pytest.warns(UserWarning, match="Linear.*batch"):
        check(net(gg.nn), net(torch.nn), *ce(), rng.normal(size=(N, 3, 4)), labels())
    per_sample._WARNED.discard("Linear")


def test_partial_loss_with_sum_reduction():
    import functools

    gl = functools.partial(gg.nn.functional.cross_entropy, reduction="sum")
    tl = functools.partial(torch.nn.functional.cross_entropy, reduction="sum")
    check(mlp(gg.nn), mlp(torch.nn), gl, tl, rng.normal(size=(N, 7)), labels())


def test_tuple_inputs_and_rms_norm():
    class M(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = gg.nn.Linear(4, 6)
            self.n = gg.nn.RMSNorm(6)
            self.b = gg.nn.Linear(6, 3)

        def forward(self, x, z):
            return self.b(self.n(self.a(x) * z))

    m = M()
    x, z, y = gg.randn(N, 4), gg.randn(N, 6), gg.tensor(labels())
    got = gg.per_sample_grads(m, gg.nn.CrossEntropyLoss(), (x, z), y)
    for i in range(N):
        m.zero_grad()
        gg.nn.CrossEntropyLoss()(m(x[i:i + 1], z[i:i + 1]), y[i:i + 1]).backward()
        for k, p in m.named_parameters():
            np.testing.assert_allclose(got[k][i], p.grad.numpy(), **TOL, err_msg=k)
