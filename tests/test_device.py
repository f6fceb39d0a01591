"""``gg.device``, ``gg.cuda``, ``gg.accelerator``, ``gg.backends`` and ``glassgrad.utils.data``:
the device boilerplate of PyTorch programs runs unchanged (against PyTorch where it has the
thing); asking for a GPU without the GPU backend is a clear error."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.backend import cupy_available
from oracle import needs_torch, torch

no_gpu = pytest.mark.skipif(cupy_available(), reason="CuPy sees a GPU: 'cuda' works here")


@needs_torch
@pytest.mark.parametrize("args", [("cpu",), ("cpu", 0), ("cuda",), ("cuda:0",), ("cuda", 1),
                                  ("cuda:3",), ("mps",), ("meta",), ("xpu", 0)])
def test_device_objects_as_torch(args):
    g, t = gg.device(*args), torch.device(*args)
    assert (g.type, g.index, str(g), repr(g)) == (t.type, t.index, str(t), repr(t))
    assert gg.device(g) is g and gg.device(str(g)) == g
    assert pickle.loads(pickle.dumps(g)) == g and type(pickle.loads(pickle.dumps(g))) is gg.device


def test_device_equality_and_hash():
    assert gg.device("cpu") == gg.device("cpu") and gg.device("cuda", 0) == gg.device("cuda:0")
    assert gg.device("cuda") != gg.device("cuda:0")          # index None vs 0, as PyTorch
    assert gg.device("cpu") != gg.device("cpu", 0)
    # unlike PyTorch a device also equals its string (x.device == "cpu" keeps working)
    assert gg.device("cpu") == "cpu" and "cuda:1" == gg.device("cuda", 1)
    assert {gg.device("cpu"): 1}["cpu"] == 1 and len({gg.device("cpu"), gg.device("cpu")}) == 1
    assert hash(gg.device("cuda:0")) == hash("cuda:0")


@pytest.mark.parametrize("args,msg", [
    (("tpu",), "device: unknown device type 'tpu'"), (("CPU",), "unknown device type 'CPU'"),
    (("cuda:x",), "the index after ':' must be a non-negative integer"),
    (("cuda:-1",), "must be a non-negative integer"),
    (("cuda:1", 0), "already names an index"), (("cuda", -1), "index must be a non-negative"),
])
def test_bad_device_strings_are_clear_errors(args, msg):
    with pytest.raises(ValueError, match=msg):
        gg.device(*args)
    with pytest.raises(TypeError, match="device: expected a string"):
        gg.device(3.0)


@needs_torch
def test_tensor_device_and_flags_as_torch():
    x, tx = gg.zeros(2), torch.zeros(2)
    assert isinstance(x.device, gg.device) and repr(x.device) == repr(tx.device)
    assert x.device == gg.device("cpu") and x.device == "cpu" and str(x.device) == "cpu"
    for flag in ["is_cuda", "is_cpu", "is_xpu", "is_mps", "is_meta"]:
        assert getattr(x, flag) == getattr(tx, flag), flag


def test_device_objects_are_accepted_wherever_a_device_is():
    cpu = gg.device("cpu")
    for t in [gg.zeros(2, device=cpu), gg.ones((2,), device=cpu), gg.empty(2, device=cpu),
              gg.rand(2, device=cpu), gg.randn(2, device=cpu), gg.full((2,), 1.0, device=cpu),
              gg.arange(3, device=cpu), gg.eye(2, device=cpu), gg.linspace(0, 1, 3, device=cpu),
              gg.randint(0, 3, (2,), device=cpu), gg.randperm(3, device=cpu),
              gg.tensor([1.0], device=cpu), gg.as_tensor([1.0], device=cpu),
              gg.zeros_like(gg.zeros(2), device=cpu), gg.FloatTensor(2, device=cpu),
              gg.zeros(1).new_zeros(2, device=cpu), gg.zeros(1).new_tensor([1], device=cpu),
              gg.zeros(2, device=gg.device("cpu", 0))]:
        assert t.device == cpu
    x = gg.tensor([1.5, 2.5], requires_grad=True)
    for y in [x.to(cpu), x.to(cpu, gg.float64), x.to(device=cpu), x.to("cpu:0"), x.cpu()]:
        assert y.device == "cpu"
    assert x.to(cpu, gg.float64).dtype == gg.float64
    assert x.to(cpu) is x
    y = x.to(gg.zeros(1, dtype=gg.float64))
    assert y.dtype == gg.float64 and y.device == cpu
    m = gg.nn.Linear(2, 3).to(cpu)
    assert m.weight.device == cpu
    m.to(cpu, gg.float64)
    assert m.weight.dtype == gg.float64


@no_gpu
@pytest.mark.parametrize("call", [
    lambda: gg.zeros(2, device="cuda"), lambda: gg.tensor([1.0], device=gg.device("cuda")),
    lambda: gg.randn(2, device=gg.device("cuda", 0)), lambda: gg.zeros(2).to("cuda"),
    lambda: gg.zeros(2).to(gg.device("cuda:0")), lambda: gg.zeros(2).cuda(),
    lambda: gg.zeros(2).cuda(gg.device("cuda", 1)), lambda: gg.zeros(2).cuda(1),
    lambda: gg.nn.Linear(2, 2).cuda(gg.device("cuda:0")),
    lambda: gg.zeros(2).to("cuda", gg.float64), lambda: gg.nn.Linear(2, 2).to("cuda"),
    lambda: gg.FloatTensor(2, device="cuda"), lambda: gg.cuda.FloatTensor(2),
    lambda: gg.zeros(2).new_zeros(2, device="cuda"), lambda: gg.zeros(1).type("torch.cuda.FloatTensor"),
    lambda: gg.set_default_device("cuda"),
])
def test_cuda_without_the_gpu_backend_says_what_is_missing(call):
    with pytest.raises(RuntimeError, match=r"GPU backend, CuPy.*pip install 'glassgrad\[gpu\]'"):
        call()
    assert gg.get_default_device() == "cpu"


@pytest.mark.parametrize("name", ["mps", "xpu:0", "meta"])
def test_other_device_types_can_be_named_but_not_used(name):
    assert gg.device(name).type == name.split(":")[0]
    with pytest.raises(ValueError, match=f"device '{name}' is not supported: glassgrad computes "
                                         "on 'cpu'"):
        gg.zeros(2, device=name)
    with pytest.raises(ValueError, match="not supported"):
        gg.zeros(2).to(gg.device(name))


@no_gpu
@needs_torch
def test_cuda_and_accelerator_queries_as_torch_on_a_cpu_machine():
    assert gg.cuda.is_available() is False and gg.cuda.device_count() == 0
    assert gg.accelerator.is_available() is False and gg.accelerator.device_count() == 0
    assert gg.accelerator.current_accelerator() is None
    assert gg.accelerator.current_accelerator(check_available=True) is None
    if not torch.cuda.is_available():
        assert torch.accelerator.current_accelerator() is None
    assert gg.cuda.manual_seed(0) is None and gg.cuda.manual_seed_all(1) is None
    with pytest.raises(TypeError):
        gg.cuda.manual_seed(1.5)
    gg.cuda.synchronize()
    gg.cuda.empty_cache()
    gg.accelerator.synchronize()
    with pytest.raises(RuntimeError, match="cuda.current_device: no GPU backend"):
        gg.cuda.current_device()


def test_cuda_manual_seed_does_not_disturb_the_generator():
    gg.manual_seed(3)
    a = gg.randn(3)
    gg.manual_seed(3)
    gg.cuda.manual_seed_all(123)
    assert gg.randn(3).tolist() == a.tolist()


@needs_torch
def test_backend_flags_are_accepted_with_torch_defaults():
    cudnn = gg.backends.cudnn
    for flag in ["benchmark", "deterministic", "enabled", "allow_tf32"]:
        assert getattr(cudnn, flag) == getattr(torch.backends.cudnn, flag), flag
    old = cudnn.benchmark, cudnn.deterministic
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert gg.backends.cudnn.benchmark and gg.backends.cudnn.deterministic
    finally:
        cudnn.benchmark, cudnn.deterministic = old
    assert cudnn.is_available() is False
    assert gg.backends.mps.is_available() is False and gg.backends.mps.is_built() is False
    assert gg.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    gg.backends.cuda.matmul.allow_tf32 = gg.backends.cuda.matmul.allow_tf32


def test_set_default_device():
    assert gg.get_default_device() == "cpu"
    gg.set_default_device(gg.device("cpu"))
    try:
        assert gg.zeros(2).device == "cpu" and gg.tensor([1]).device == "cpu"
    finally:
        gg.set_default_device(None)
    assert gg.get_default_device() == gg.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        gg.set_default_device("tpu")


@needs_torch
def test_utils_data_names_as_torch():
    import glassgrad.utils.data
    from glassgrad.utils.data import DataLoader, TensorDataset

    assert DataLoader is gg.data.DataLoader and TensorDataset is gg.data.TensorDataset
    assert gg.utils.data is glassgrad.utils.data
    # every torch.utils.data name that glassgrad.data has is under glassgrad.utils.data
    shared = {n for n in dir(torch.utils.data) if not n.startswith("_") and hasattr(gg.data, n)}
    assert shared and shared <= set(glassgrad.utils.data.__all__)
    for n in ["Dataset", "TensorDataset", "DataLoader", "random_split", "Subset",
              "ConcatDataset", "Sampler", "RandomSampler", "SequentialSampler", "BatchSampler",
              "SubsetRandomSampler", "WeightedRandomSampler", "IterableDataset",
              "default_collate"]:
        assert getattr(glassgrad.utils.data, n) is getattr(gg.data, n)
    from glassgrad.utils.data.dataloader import default_collate
    from glassgrad.utils.data.sampler import Sampler

    assert default_collate is gg.data.default_collate and Sampler is gg.data.Sampler
    assert glassgrad.utils.data.dataset.Dataset is gg.data.Dataset


def test_torch_boilerplate_runs_with_only_the_import_changed():
    """A fresh interpreter (nothing imported beforehand) runs the usual device boilerplate."""
    program = """
import glassgrad as torch
import glassgrad.nn as nn
from glassgrad.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if torch.accelerator.is_available():
    device = torch.accelerator.current_accelerator()
torch.manual_seed(0)
torch.cuda.manual_seed_all(0)
torch.backends.cudnn.benchmark = True
torch.backends.cudnn.deterministic = True
X = torch.randn(64, 4)
y = (X.sum(dim=1) > 0).type(torch.LongTensor)
assert isinstance(y, torch.LongTensor) and y.type() == "torch.LongTensor"
loader = torch.utils.data.DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)).to(device)
opt = torch.optim.SGD(model.parameters(), lr=0.5)
first = last = None
for epoch in range(20):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device, non_blocking=True)
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
        last = loss.item()
assert next(model.parameters()).device == device and xb.is_cuda == (device.type == "cuda")
acc = (model(X.to(device)).argmax(1) == y).float().mean().item()
print(device, round(first, 3), round(last, 3), acc)
assert last < first and acc > 0.9
"""
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("cpu ") or r.stdout.startswith("cuda")


def test_tensors_on_the_same_device_still_compute():
    x = gg.zeros(2, device=gg.device("cpu")) + gg.ones(2)
    assert np.array_equal(x.numpy(), [1.0, 1.0])
