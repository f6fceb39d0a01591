"""glassgrad.distributed in one process: a world of one without a launcher, errors without a
process group or without MPI, DistributedSampler against PyTorch's, post-accumulate-grad hooks.
(Real multi-process runs under mpiexec: tests/integration/test_distributed_mpi.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.distributed as dist
from glassgrad.data import DistributedSampler

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")


def test_world_of_one_without_launcher():
    pytest.importorskip("mpi4py")
    code = textwrap.dedent('''
        import glassgrad as gg, glassgrad.distributed as dist
        from glassgrad.nn.parallel import DistributedDataParallel as DDP
        dist.init_process_group()
        assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
        t = gg.tensor([1.0, 2.0]); dist.all_reduce(t, op=dist.ReduceOp.AVG)
        assert t.tolist() == [1.0, 2.0]
        m = gg.nn.Linear(3, 2); ddp = DDP(m)
        ddp(gg.ones(4, 3)).sum().backward()
        assert m.weight.grad is not None and list(ddp.state_dict())[0].startswith("module.")
        # a parameter without a gradient leaves the reduction unfinished: PyTorch's error
        two = gg.nn.ModuleDict({"a": gg.nn.Linear(3, 2), "b": gg.nn.Linear(3, 2)})
        class Net(gg.nn.Module):
            def __init__(self):
                super().__init__(); self.two = two
            def forward(self, x):
                return self.two["a"](x)
        d = DDP(Net())
        d(gg.ones(2, 3)).sum().backward()
        try:
            d(gg.ones(2, 3))
            raise SystemExit("no error")
        except RuntimeError as e:
            assert "finished reduction in the prior iteration" in str(e)
        d = DDP(Net(), find_unused_parameters=True)
        d(gg.ones(2, 3)).sum().backward()
        d(gg.ones(2, 3)).sum().backward()
        assert two["b"].weight.grad is None
        print("ok")
    ''')
    env = dict(os.environ, PYTHONPATH=SRC)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr


def test_errors_without_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(gg.ones(2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        gg.nn.parallel.DistributedDataParallel(gg.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group(timeout=-1)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


def test_missing_mpi_is_a_clear_error():
    code = textwrap.dedent('''
        import sys
        sys.modules["mpi4py"] = None          # as if it were not installed
        import glassgrad.distributed as dist
        assert not dist.is_mpi_available()
        try:
            dist.init_process_group("mpi")
        except RuntimeError as e:
            print(e)
    ''')
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=SRC))
    assert "pip install 'glassgrad[distributed]'" in p.stdout, p.stdout + p.stderr


# ------------------------------------------------------------------ DistributedSampler
@pytest.mark.parametrize("n,w,drop_last", [(10, 4, False), (10, 4, True), (12, 4, False), (3, 4, False),
                                           (7, 2, True), (1, 3, False)])
def test_distributed_sampler_matches_torch_without_shuffle(n, w, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TS

    for r in range(w):
        t = TS(range(n), num_replicas=w, rank=r, shuffle=False, drop_last=drop_last)
        g = DistributedSampler(range(n), num_replicas=w, rank=r, shuffle=False, drop_last=drop_last)
        assert list(g) == list(t) and len(g) == len(t) == g.num_samples
        assert g.total_size == t.total_size
    del torch


def test_distributed_sampler_shuffle_partitions_and_set_epoch():
    n, w = 23, 4
    parts = [list(DistributedSampler(range(n), w, r, seed=5)) for r in range(w)]
    flat = sum(parts, [])
    assert len(flat) == 24 and set(flat) == set(range(n))           # one index repeated as padding
    assert all(len(p) == 6 for p in parts)
    s = DistributedSampler(range(n), w, 1, seed=5)
    e0 = list(s)
    assert list(s) == e0                                             # same epoch, same order
    s.set_epoch(1)
    assert list(s) != e0
    assert list(DistributedSampler(range(n), w, 1, seed=6)) != e0    # the seed matters
    with pytest.raises(ValueError, match="invalid rank 4"):
        DistributedSampler(range(n), 4, 4)
    with pytest.raises(TypeError, match="epoch must be an int"):
        s.set_epoch(1.5)
    from glassgrad.utils.data import DistributedSampler as U

    assert U is DistributedSampler


# ------------------------------------------------------------------ post-accumulate hooks
def test_post_accumulate_grad_hook_fires_with_the_complete_gradient_before_the_backward_ends():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(3, 4), (4, 2), (2,)]]
    x = rng.standard_normal((5, 3))

    def run(lib, mk):
        ws = [mk(a) for a in arrays]
        log = []
        for name, w in zip("abc", ws):
            w.register_post_accumulate_grad_hook(lambda t, name=name: log.append((name, t.grad.sum().item())))
        h = (mk(x, False) @ ws[0]).relu()
        y = h @ ws[1] + ws[2]
        ((y * y).sum() + (ws[1] * ws[1]).sum()).backward()      # ws[1] used twice
        return log, [w.grad.sum().item() for w in ws]

    glog, gfinal = run(gg, lambda a, rg=True: gg.tensor(a, requires_grad=rg))
    tlog, tfinal = run(torch, lambda a, rg=True: torch.tensor(a, requires_grad=rg))
    assert [n for n, _ in glog] == [n for n, _ in tlog] == ["c", "b", "a"]
    np.testing.assert_allclose([v for _, v in glog], [v for _, v in tlog], rtol=1e-12)
    np.testing.assert_allclose([v for _, v in glog], [gfinal[2], gfinal[1], gfinal[0]], rtol=1e-12)

    # it fires in the middle of the backward: c's hook runs before a's gradient exists
    a = gg.tensor(arrays[0], requires_grad=True)
    c = gg.tensor(arrays[2][:2], requires_grad=True)
    seen = []
    c.register_post_accumulate_grad_hook(lambda t: seen.append(a.grad is None))
    ((gg.tensor(x) @ a).sum(0)[:2] * c).sum().backward()
    assert seen == [True]
    with pytest.raises(RuntimeError, match="leaf"):
        (a * 2).register_post_accumulate_grad_hook(lambda t: None)
