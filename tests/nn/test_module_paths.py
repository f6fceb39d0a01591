"""PyTorch's import paths ``torch.nn.modules.<family>`` and ``torch.nn.parallel``: every
class PyTorch keeps in a family module that glassgrad has is importable from the same path
and is the same object as ``nn.<Name>``; ``DataParallel`` on one device as PyTorch's
without GPUs (pass-through, ``.module``, ``module.``-prefixed state_dict keys)."""

import importlib
import pkgutil

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn

torch = pytest.importorskip("torch")
import torch.nn.modules as tmodules  # noqa: E402

FAMILIES = ["activation", "batchnorm", "channelshuffle", "container", "conv", "distance",
            "dropout", "flatten", "fold", "instancenorm", "linear", "loss", "module",
            "normalization", "padding", "pixelshuffle", "pooling", "rnn", "sparse", "transformer",
            "upsampling"]


def test_every_torch_family_with_a_glassgrad_class_has_a_module():
    torch_families = {m.name for m in pkgutil.iter_modules(tmodules.__path__)}
    for fam in sorted(torch_families):
        tmod = importlib.import_module(f"torch.nn.modules.{fam}")
        names = [n for n in getattr(tmod, "__all__", []) if hasattr(nn, n)]
        if names:
            assert fam in FAMILIES, f"torch.nn.modules.{fam} has {names} but is not checked"


@pytest.mark.parametrize("fam", FAMILIES)
def test_family_module_reexports_the_same_classes(fam):
    gmod = importlib.import_module(f"glassgrad.nn.modules.{fam}")
    tmod = importlib.import_module(f"torch.nn.modules.{fam}")
    shared = [n for n in tmod.__all__ if hasattr(nn, n)]
    assert shared, fam
    for name in shared:
        assert getattr(gmod, name) is getattr(nn, name), f"glassgrad.nn.modules.{fam}.{name}"
        assert name in gmod.__all__, (fam, name)
        assert getattr(nn.modules, name) is getattr(nn, name)


def test_specific_paths_programs_import():
    from glassgrad.nn.modules.activation import MultiheadAttention
    from glassgrad.nn.modules.batchnorm import _BatchNorm
    from glassgrad.nn.modules.conv import _ConvNd
    from glassgrad.nn.modules.linear import Identity, NonDynamicallyQuantizableLinear
    from glassgrad.nn.modules.module import Module
    from glassgrad.nn.modules.transformer import Transformer, TransformerEncoderLayer
    from glassgrad.nn.modules.utils import _pair, _quadruple, _single, _triple

    assert MultiheadAttention is nn.MultiheadAttention and Identity is nn.Identity
    assert Module is nn.Module and Transformer is nn.Transformer
    assert TransformerEncoderLayer is nn.TransformerEncoderLayer
    assert isinstance(nn.BatchNorm2d(3), _BatchNorm) and isinstance(nn.BatchNorm1d(3), _BatchNorm)
    assert isinstance(nn.Conv2d(1, 1, 3), _ConvNd)
    assert issubclass(NonDynamicallyQuantizableLinear, nn.Linear)
    assert isinstance(nn.MultiheadAttention(4, 2).out_proj, NonDynamicallyQuantizableLinear)
    assert type(torch.nn.MultiheadAttention(4, 2).out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    from torch.nn.modules import utils as tu
    for g, t in ((_single, tu._single), (_pair, tu._pair), (_triple, tu._triple),
                 (_quadruple, tu._quadruple)):
        for v in (3, (1, 2), [4, 5, 6]):
            assert g(v) == t(v)
    # the transformer classes stay importable from where they were
    from glassgrad.nn.modules.attention import TransformerDecoder
    assert TransformerDecoder is nn.TransformerDecoder
    assert nn.modules.Conv2d is nn.Conv2d and nn.modules.LSTM is nn.LSTM


def test_consume_prefix_as_torch():
    from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present as tc

    from glassgrad.nn.modules.utils import consume_prefix_in_state_dict_if_present as gc

    for keys in (["module.a", "module.b.c"], ["module.a", "b", "module.c"], ["x"]):
        t = {k: i for i, k in enumerate(keys)}
        g = dict(t)
        tc(t, "module.")
        gc(g, "module.")
        assert list(g.items()) == list(t.items())
    with pytest.raises(TypeError, match="prefix must be a str"):
        gc({}, 1)


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(),
                             lib.nn.Linear(4, 2))


def test_data_parallel_is_a_pass_through_with_torch_state_dict_keys():
    tm = torch.nn.DataParallel(_mlp(torch)).double()
    gm = nn.DataParallel(_mlp(gg), device_ids=None, output_device=None, dim=0).to(gg.float64)
    assert nn.parallel.DataParallel is nn.DataParallel
    assert list(gm.state_dict()) == list(tm.state_dict())
    assert all(k.startswith("module.") for k in gm.state_dict())
    gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3))
    tx, gx = torch.tensor(x, requires_grad=True), gg.tensor(x, requires_grad=True)
    to, go = tm(tx), gm(gx)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-12, atol=1e-12)
    to.sum().backward()
    go.sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    tp = dict(tm.named_parameters())
    for name, p in gm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-12, atol=1e-12)
    assert isinstance(gm.module, nn.Sequential) and gm.device_ids == tm.device_ids == []
    assert repr(gm).splitlines()[:2] == repr(tm).splitlines()[:2]
    # the inner module loads the unwrapped keys
    inner = {k[len("module."):]: v for k, v in gm.state_dict().items()}
    fresh = _mlp(gg).to(gg.float64)
    fresh.load_state_dict(inner)
    np.testing.assert_array_equal(fresh.eval()(gx).detach().numpy(),
                                  gm.eval()(gx).detach().numpy())
    assert gm.module.training is False     # eval()/train() reach the wrapped module


def test_data_parallel_accepts_cpu_and_rejects_other_devices():
    lin = nn.Linear(2, 2)
    for ids in ([], ["cpu"]):
        assert nn.DataParallel(lin, device_ids=ids, output_device="cpu").module is lin
    with pytest.raises(ValueError, match=r"DataParallel: .*device_ids must be None, \[\] or \['cpu'\]"):
        nn.DataParallel(lin, device_ids=[0, 1])
    with pytest.raises(ValueError, match="DataParallel: output_device must be None or 'cpu'"):
        nn.DataParallel(lin, output_device=1)
    with pytest.raises(TypeError, match="DataParallel: device_ids must be a list"):
        nn.DataParallel(lin, device_ids=0)
    with pytest.raises(TypeError, match="DataParallel: dim must be an int"):
        nn.DataParallel(lin, dim=1.0)
    with pytest.raises(TypeError, match="DataParallel: module must be a glassgrad nn.Module"):
        nn.DataParallel(lambda x: x)
