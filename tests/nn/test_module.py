"""nn.Module machinery: registration, iteration, modes, state_dict (also with PyTorch),
dtype conversion, repr, hooks (forward and backward: the per-layer δ), module scope."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.autograd.grad_mode import STATE
from glassgrad.nn import functional as F

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)  # deterministic default inits on both sides
    gg.manual_seed(0)


class MLP(nn.Module):
    def __init__(self, sizes=(4, 8, 3)):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(sizes[1], sizes[2])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class TMLP(torch.nn.Module):
    def __init__(self, sizes=(4, 8, 3)):
        super().__init__()
        self.fc1 = torch.nn.Linear(sizes[0], sizes[1])
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(sizes[1], sizes[2])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def _bn_net(lib):
    return lib.nn.Sequential(lib.nn.Linear(5, 6), lib.nn.BatchNorm1d(6), lib.nn.Tanh(),
                             lib.nn.Dropout(0.3), lib.nn.LayerNorm(6), lib.nn.Linear(6, 2))


# ------------------------------------------------------------------------------ registration
def test_registration_and_iteration():
    m = MLP()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [tuple(p.shape) for p in m.parameters()] == [(8, 4), (8,), (3, 8), (3,)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert len(list(m.modules())) == 4 and list(m.children())[0] is m.fc1
    assert [n for n, _ in m.fc1.named_parameters(prefix="x")] == ["x.weight", "x.bias"]
    assert list(m.parameters(recurse=False)) == []
    # shared parameters / modules are listed once
    m.fc3 = m.fc1
    assert len(list(m.parameters())) == 4
    assert len(list(m.named_parameters(remove_duplicate=False))) == 6
    del m.fc3
    assert "fc3" not in dict(m.named_children())
    # buffers
    bn = nn.BatchNorm1d(3)
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                  "num_batches_tracked"]
    bn.register_buffer("scratch", gg.zeros(2), persistent=False)
    assert "scratch" in dict(bn.named_buffers()) and "scratch" not in bn.state_dict()
    assert "scratch" in dir(bn) and "fc1" in dir(m)
    with pytest.raises(AttributeError, match="'MLP' object has no attribute 'nope'"):
        _ = m.nope
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.fc1.weight = gg.zeros(8, 4)
    m.fc1.bias = None
    assert [n for n, _ in m.fc1.named_parameters()] == ["weight"]
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("fc1", gg.zeros(1))
    assert m.get_submodule("fc2") is m.fc2 and m.get_parameter("fc2.bias") is m.fc2.bias
    # plain attributes stay plain
    m.note = 3
    assert m.note == 3 and "note" not in dict(m.named_parameters())


def test_parameter_basics():
    p = nn.Parameter(gg.tensor([1.0, 2.0]))
    assert isinstance(p, gg.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    assert repr(p).endswith("requires_grad=True)")
    y = p * 2
    assert type(y) is gg.Tensor and y.grad_fn is not None
    q = nn.Parameter(np.zeros(3), requires_grad=False)
    assert not q.requires_grad
    a = np.ones(3, dtype=np.float32)
    assert nn.Parameter(a).array is a  # shares memory like torch.nn.Parameter(tensor)


def test_train_eval_zero_grad_requires_grad_apply():
    m = _bn_net(gg)
    assert all(x.training for x in m.modules())
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    out = m(gg.randn(4, 5)).sum()
    out.backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Sequential" and seen[0] == "Linear"


def test_to_double_float_keeps_parameter_identity():
    m = MLP()
    w = m.fc1.weight
    m.double()
    assert m.fc1.weight is w and w.dtype == np.float64
    assert all(p.dtype == np.float64 for p in m.parameters())
    y = m(gg.randn(2, 4, dtype=gg.float64))
    assert y.dtype == np.float64
    m.to(gg.float32)
    assert all(p.dtype == np.float32 for p in m.parameters())
    bn = nn.BatchNorm1d(3).double()
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    m.half()
    assert m.fc2.bias.dtype == np.float16
    with pytest.raises(TypeError, match="floating"):
        m.to(gg.int64)


@pytest.mark.parametrize("build", [
    lambda nn: nn.AvgPool1d(3), lambda nn: nn.AvgPool1d(3, 2, 1), lambda nn: nn.AvgPool2d(3),
    lambda nn: nn.ConstantPad1d(2, 1.0), lambda nn: nn.ConstantPad2d((1, 0, 2, 1), 0.5),
    lambda nn: nn.ConstantPad3d(1, 0.0), lambda nn: nn.ZeroPad2d(1), lambda nn: nn.ReflectionPad1d(2),
    lambda nn: nn.InstanceNorm1d(4), lambda nn: nn.InstanceNorm2d(4, affine=True),
    lambda nn: nn.InstanceNorm3d(4, affine=True, bias=False),
    lambda nn: nn.MSELoss(reduction="sum"), lambda nn: nn.NLLLoss(reduction="none"),
    lambda nn: nn.L1Loss(reduction="sum"), lambda nn: nn.BCEWithLogitsLoss(),
], ids=lambda f: "")
def test_repr_matches_pytorch_for_layers_with_options(build):
    assert repr(build(gg.nn)) == repr(build(torch.nn))


def test_instance_norm_bias_flag_as_pytorch():
    m = gg.nn.InstanceNorm2d(3, affine=True, bias=False)
    tm = torch.nn.InstanceNorm2d(3, affine=True, bias=False)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()] == ["weight"]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(m(gg.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               atol=1e-5)


def test_repr_matches_pytorch():
    g = gg.nn.Sequential(
        gg.nn.Linear(4, 3), gg.nn.ReLU(), gg.nn.BatchNorm1d(3), gg.nn.Dropout(0.2),
        gg.nn.LayerNorm(3), gg.nn.GELU(), gg.nn.LeakyReLU(0.2), gg.nn.Softmax(dim=1),
        gg.nn.Sequential(gg.nn.Tanh(), gg.nn.Sigmoid(), gg.nn.Identity()),
        gg.nn.Embedding(10, 3, padding_idx=0), gg.nn.Flatten(), gg.nn.Linear(3, 2, bias=False),
        gg.nn.ELU(), gg.nn.LogSoftmax(dim=-1), gg.nn.Unflatten(1, (2, 1)),
        gg.nn.CrossEntropyLoss(),
    )
    t = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.BatchNorm1d(3), torch.nn.Dropout(0.2),
        torch.nn.LayerNorm(3), torch.nn.GELU(), torch.nn.LeakyReLU(0.2), torch.nn.Softmax(dim=1),
        torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Sigmoid(), torch.nn.Identity()),
        torch.nn.Embedding(10, 3, padding_idx=0), torch.nn.Flatten(),
        torch.nn.Linear(3, 2, bias=False), torch.nn.ELU(), torch.nn.LogSoftmax(dim=-1),
        torch.nn.Unflatten(1, (2, 1)), torch.nn.CrossEntropyLoss(),
    )
    assert repr(g) == repr(t)
    assert repr(MLP()) == repr(TMLP())[1:]  # class names MLP vs TMLP
    gl = gg.nn.ModuleList([gg.nn.Linear(2, 2) for _ in range(3)] + [gg.nn.ReLU(), gg.nn.Tanh()])
    tl = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)]
                             + [torch.nn.ReLU(), torch.nn.Tanh()])
    assert repr(gl) == repr(tl) and repr(gg.nn.ModuleList()) == repr(torch.nn.ModuleList())


# ------------------------------------------------------------------------------ containers
def test_sequential_and_lists():
    s = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert len(s) == 3 and isinstance(s[0], nn.Linear) and isinstance(s[-1], nn.Linear)
    sub = s[:2]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is s[0]
    s.append(nn.Tanh())
    assert [type(m).__name__ for m in s] == ["Linear", "ReLU", "Linear", "Tanh"]
    del s[1]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2"]
    x = gg.randn(5, 3)
    np.testing.assert_allclose(s(x).detach().numpy(), s[2](s[1](s[0](x))).detach().numpy())
    with pytest.raises(IndexError, match="out of range"):
        s[5]
    od = nn.Sequential(OrderedDict([("a", nn.Linear(2, 2)), ("b", nn.ReLU())]))
    assert od.a is od[0] and [n for n, _ in od.named_parameters()] == ["a.weight", "a.bias"]

    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and len(list(ml.parameters())) == 8 and isinstance(ml[1:], nn.ModuleList)
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(md.keys()) == ["enc", "dec"] and "enc" in md
    assert [n for n, _ in md.named_parameters()][0] == "enc.weight"
    pl = nn.ParameterList([gg.zeros(2), nn.Parameter(gg.ones(3))])
    assert len(pl) == 2 and isinstance(pl[0], nn.Parameter) and len(list(pl.parameters())) == 2
    pd = nn.ParameterDict({"a": gg.zeros(2)})
    assert isinstance(pd["a"], nn.Parameter) and [n for n, _ in pd.named_parameters()] == ["a"]


def test_deepcopy_is_independent():
    m = _bn_net(gg)
    c = copy.deepcopy(m)
    x = gg.randn(4, 5)
    m.eval()
    c.eval()
    np.testing.assert_allclose(m(x).detach().numpy(), c(x).detach().numpy())
    c[0].weight.array[...] = 0
    assert m[0].weight.detach().numpy().any()


# ------------------------------------------------------------------------------ state_dict
def test_state_dict_roundtrip_fresh_model():
    gg.manual_seed(0)
    m = _bn_net(gg)
    m.train()
    for _ in range(3):
        m(gg.randn(8, 5))  # move the running statistics
    sd = m.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                        "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias",
                        "5.weight", "5.bias"]
    assert not any(v.requires_grad for v in sd.values())
    assert np.shares_memory(sd["0.weight"].array, m[0].weight.array)  # references, like torch
    assert int(sd["1.num_batches_tracked"].item()) == 3
    gg.manual_seed(1)
    fresh = _bn_net(gg)
    w = fresh[0].weight
    res = fresh.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert fresh[0].weight is w  # loaded in place
    assert not np.shares_memory(fresh[0].weight.array, m[0].weight.array)  # copied
    x = gg.randn(6, 5)
    m.eval()
    fresh.eval()
    np.testing.assert_array_equal(m(x).detach().numpy(), fresh(x).detach().numpy())


def test_load_state_dict_errors():
    m = MLP()
    sd = m.state_dict()
    bad = dict(sd)
    del bad["fc2.bias"]
    bad["extra.weight"] = gg.zeros(1)
    with pytest.raises(RuntimeError) as e:
        MLP().load_state_dict(bad)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for MLP" in msg
    assert 'Missing key(s) in state_dict: "fc2.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    res = MLP().load_state_dict(bad, strict=False)
    assert res.missing_keys == ["fc2.bias"] and res.unexpected_keys == ["extra.weight"]
    missing, unexpected = res
    assert missing == ["fc2.bias"]
    wrong = dict(sd)
    wrong["fc1.weight"] = gg.zeros(4, 8)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc1.weight: copying a param with "
                                           r"shape \(4, 8\) from checkpoint, the shape in current "
                                           r"model is \(8, 4\)"):
        MLP().load_state_dict(wrong, strict=False)


def test_state_dict_interchange_with_torch():
    torch.manual_seed(0)
    tm = _bn_net(torch).double()
    tm.train()
    for _ in range(2):
        tm(torch.randn(8, 5, dtype=torch.float64))
    tm.eval()
    gm = _bn_net(gg).double()
    gm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    gm.eval()
    x = np.random.default_rng(0).standard_normal((7, 5))
    np.testing.assert_allclose(gm(gg.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    # torch tensors directly, and back: glassgrad -> torch
    gm2 = _bn_net(gg).double()
    gm2.load_state_dict(tm.state_dict())
    tm2 = _bn_net(torch).double()
    tm2.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in gm2.state_dict().items()})
    tm2.eval()
    np.testing.assert_allclose(tm2(torch.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    # float32 weights from torch into a float32 model
    t32 = TMLP()
    g32 = MLP()
    g32.load_state_dict({k: v.numpy() for k, v in t32.state_dict().items()})
    x32 = x[:, :4].astype(np.float32)
    np.testing.assert_allclose(g32(gg.tensor(x32)).detach().numpy(), t32(torch.tensor(x32)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ hooks
def test_forward_hooks_and_removal():
    m = MLP()
    calls = []
    h1 = m.fc1.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.fc1.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out * 0)
    y = m(gg.randn(2, 4))
    assert calls == [(2, 8)]
    np.testing.assert_allclose(y.detach().numpy(), np.broadcast_to(m.fc2.bias.detach().numpy(),
                                                                    (2, 3)), rtol=1e-6)
    h1.remove()
    h2.remove()
    x = gg.randn(2, 4)
    assert not np.allclose(m(x).detach().numpy(), y.detach().numpy())
    assert calls == [(2, 8)]
    assert not m.fc1._has_hooks


def test_backward_hooks_give_per_layer_delta():
    """For y = W2·relu(W1·x + b1) + b2 and L = ½‖y − t‖²: δ2 = y − t, δ1 = (W2ᵀδ2) ⊙ [z1 > 0]."""
    gg.manual_seed(0)
    m = MLP((4, 6, 3)).double()
    x = gg.randn(5, 4, dtype=gg.float64, requires_grad=True)
    t = gg.randn(5, 3, dtype=gg.float64)
    seen = {}

    def hook(mod, grad_input, grad_output):
        seen[mod] = (grad_input, grad_output)

    for lin in (m.fc1, m.fc2):
        lin.register_full_backward_hook(hook)
    y = m(x)
    loss = 0.5 * ((y - t) ** 2).sum()
    loss.backward()
    W1, b1, W2 = (m.fc1.weight.detach().numpy(), m.fc1.bias.detach().numpy(),
                  m.fc2.weight.detach().numpy())
    xv = x.detach().numpy()
    z1 = xv @ W1.T + b1
    a1 = np.maximum(z1, 0)
    d2 = a1 @ W2.T + m.fc2.bias.detach().numpy() - t.numpy()
    d1 = (d2 @ W2) * (z1 > 0)
    gi2, go2 = seen[m.fc2]
    gi1, go1 = seen[m.fc1]
    np.testing.assert_allclose(go2[0].numpy(), d2, rtol=1e-12)
    np.testing.assert_allclose(go1[0].numpy(), d1, rtol=1e-12)
    np.testing.assert_allclose(gi2[0].numpy(), d2 @ W2, rtol=1e-12)  # dL/d(relu output)
    np.testing.assert_allclose(gi1[0].numpy(), d1 @ W1, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), d1 @ W1, rtol=1e-12)
    np.testing.assert_allclose(m.fc1.weight.grad.numpy(), d1.T @ xv, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Full backward hook")
def test_backward_hooks_match_torch_and_can_modify():
    gm, tm = MLP(), TMLP()
    gm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    res = {}
    for lib, m in (("gg", gm), ("t", tm)):
        got = []
        m.fc2.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
        m.fc1.register_full_backward_hook(lambda mod, gi, go, got=got: got.append(
            (gi[0], go[0])))
        xin = gg.tensor(x) if lib == "gg" else torch.tensor(x)  # no grad: grad_input is None
        m(xin).sum().backward()
        assert got[0][0] is None
        res[lib] = (got[0][1].numpy(), m.fc1.weight.grad.numpy())
    np.testing.assert_allclose(res["gg"][0], res["t"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res["gg"][1], res["t"][1], rtol=1e-5, atol=1e-6)
    # a backward hook that returns a new grad_input replaces it
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0,))
    xi = gg.randn(3, 2, requires_grad=True)
    lin(xi).sum().backward()
    assert not xi.grad.numpy().any() and lin.weight.grad.numpy().any()


def test_call_sets_scope_and_restores_on_error():
    m = MLP()
    y = m(gg.randn(2, 4))
    assert y.grad_fn.scope is m.fc2
    assert y.grad_fn.next_functions[0][0].scope is m.act  # relu node
    assert STATE.scope is None

    class Boom(nn.Module):
        def forward(self, x):
            assert STATE.scope is self
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        Boom()(gg.zeros(1))
    assert STATE.scope is None
    with pytest.raises(NotImplementedError, match="missing the required \"forward\""):
        nn.Module()(gg.zeros(1))


def test_functional_has_other_ops_reexported():
    import glassgrad.ops.attention as A
    import glassgrad.ops.conv as C
    import glassgrad.ops.dropout as D
    import glassgrad.ops.pool as P
    import glassgrad.ops.resample as RS
    import glassgrad.ops.rnn as R

    for mod in (A, C, D, P, RS, R):
        for name in mod.__all__:
            assert getattr(F, name) is getattr(mod, name)
