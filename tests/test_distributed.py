"""glassgrad.distributed and DistributedDataParallel on MPI: real multi-process runs
(``mpiexec -n 2`` and ``-n 4`` on this machine) compared with one process training on the
full batches, a rank killed in the middle of a step, the collectives' results and errors,
and DistributedSampler against PyTorch's."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.distributed as dist
from glassgrad.data import DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")


def _mpiexec() -> str | None:
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    return exe or shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(not dist.is_mpi_available() or _mpiexec() is None,
                               reason="needs mpi4py and mpiexec: pip install 'glassgrad[distributed]'")


def _is_hydra() -> bool:
    out = subprocess.run([_mpiexec(), "--version"], capture_output=True, text=True, timeout=30)
    return "HYDRA" in out.stdout


def _launch(n: int, args: list[str], timeout: float, mpi_flags: tuple[str, ...] = ()):
    """``mpiexec -n n python args``; the whole process group is killed after ``timeout``."""
    cmd = [_mpiexec(), *mpi_flags, "-n", str(n)]
    if not _is_hydra():
        cmd.insert(1, "--oversubscribe")      # Open MPI: more ranks than cores
    cmd += [sys.executable, *args]
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"mpiexec -n {n} did not finish within {timeout} s (hang)\n{out}\n{err}")
    return p.returncode, out, err


@needs_mpi
@pytest.mark.parametrize("world", [2, 4])
def test_ddp_matches_one_process_on_full_batches(tmp_path, world):
    import ddp_worker as w

    out = tmp_path / "ranks.npz"
    rc, so, se = _launch(world, [os.path.join(HERE, "ddp_worker.py"), "run", str(out)], timeout=120)
    assert rc == 0, so + se
    got = np.load(out)
    assert int(got["world"]) == world
    for case, (dtype, *_rest) in w.CASES.items():
        ref = w.reference(case, world)
        for k, v in ref.items():
            d = got[f"{case}/{k}"]
            assert d.dtype == v.dtype, (case, k)
            if dtype == "float64":
                np.testing.assert_allclose(d, v, rtol=1e-12, atol=1e-12, err_msg=f"{case} {k}")
            else:
                np.testing.assert_allclose(d, v, rtol=2e-6, atol=2e-6, err_msg=f"{case} {k}")
    # gg.trace(): one all-reduce per bucket, with its size and times
    np.testing.assert_array_equal(got["trace/bytes"], got["trace/bucket_sizes"])
    assert got["trace/bytes"].sum() == sum(v.nbytes for k, v in w.make("sgd64")[0].state_dict().items())
    np.testing.assert_array_equal(got["trace/params"], [3, 1])      # 1 KB buckets: fc2 + fc1.bias, fc1.weight
    start, secs, overlap, bwd = got["trace/times"].T
    assert (start >= 0).all() and (secs >= 0).all() and (overlap <= secs + 1e-12).all()
    assert (overlap >= 0).all() and (start <= bwd).all()
    # the Trainer: a run resumed from rank 0's checkpoint on every rank ends where a straight one does
    keys = [k[len("straight/"):] for k in got.files if k.startswith("straight/")]
    assert keys
    for k in keys:
        np.testing.assert_array_equal(got[f"resumed/{k}"], got[f"straight/{k}"])


MNIST_DIR = os.environ.get("GLASSGRAD_DATA") or "/work/shared/data/mnist"


@needs_mpi
@pytest.mark.skipif(not os.path.exists(os.path.join(MNIST_DIR, "train-images-idx3-ubyte.gz")),
                    reason="MNIST files not found")
def test_ddp_mnist_example(tmp_path):
    example = os.path.join(os.path.dirname(HERE), "examples", "ddp_mnist.py")
    args = [example, "--data", MNIST_DIR, "--no-download", "--limit", "3000", "--epochs", "1",
            "--out", str(tmp_path)]
    rc, so, se = _launch(2, args, timeout=120)
    assert rc == 0, so + se
    assert "2 process(es) x 64 samples per step" in so and so.count("test accuracy") == 1
    acc = float(so.split("test accuracy ")[1].split("%")[0])
    assert acc > 80
    assert os.listdir(tmp_path) == ["last.ckpt"]


@needs_mpi
def test_cli_train_nproc(tmp_path):
    from glassgrad.cli import main

    env = dict(os.environ, PYTHONPATH=SRC)
    p = subprocess.run([sys.executable, "-m", "glassgrad", "train", "--nproc", "2", "--epochs", "2",
                        "--no-plots", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                       timeout=120, env=env, start_new_session=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "data-parallel on 2 processes, 16 samples per process" in p.stdout
    assert p.stdout.count("epoch 2/2") == 1                    # rank 0 prints, the others do not
    assert sorted(os.listdir(tmp_path / "run")) == ["config.json", "metrics.csv", "model.ckpt"]
    assert main(["evaluate", str(tmp_path / "run" / "model.ckpt")]) == 0
    assert main(["train", "--nproc", "3", "--batch-size", "32", "--out", str(tmp_path / "x")]) == 2


@needs_mpi
def test_killed_rank_stops_the_others_with_a_clear_error():
    worker = os.path.join(HERE, "ddp_worker.py")
    # the launcher notices the dead process and stops the job
    rc, so, se = _launch(2, [worker, "kill", "-", "5"], timeout=60)
    assert rc != 0
    assert "finished without noticing" not in so
    if not _is_hydra():
        return
    # with the launcher's clean-up off, the survivors' deadline on the all-reduce stops them
    rc, so, se = _launch(3, [worker, "kill", "-", "3"], timeout=60, mpi_flags=("-disable-auto-cleanup",))
    assert rc != 0
    assert "finished without noticing" not in so
    assert se.count("DistBackendError") >= 2, se          # ranks 0 and 2
    assert "did not complete within 3 s" in se and "another rank has probably died" in se


COLLECTIVES = textwrap.dedent('''
    import numpy as np, glassgrad as gg, glassgrad.distributed as dist
    dist.init_process_group("mpi", timeout=30)
    r, w = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    res = {}
    t = gg.tensor(np.arange(6.0).reshape(2, 3) + r)
    dist.all_reduce(t); res["sum"] = t.array.copy()
    t = gg.tensor(np.arange(6.0).reshape(2, 3) + r)
    dist.all_reduce(t, op=dist.ReduceOp.AVG); res["avg"] = t.array.copy()
    t = gg.tensor(np.array([r, -r], np.int32))
    dist.all_reduce(t, op=dist.ReduceOp.MAX); res["max"] = t.array.copy()
    t = gg.tensor(np.array([r, -r], np.int32))
    dist.all_reduce(t, op=dist.ReduceOp.MIN); res["min"] = t.array.copy()
    t = gg.tensor(np.arange(4.0)[::2] + r)       # not contiguous
    dist.all_reduce(t); res["strided"] = t.array.copy()
    t = gg.tensor(np.full(3, float(r), np.float32))
    dist.broadcast(t, src=w - 1); res["bcast"] = t.array.copy()
    outs = [gg.zeros(2) for _ in range(w)]
    dist.all_gather(outs, gg.tensor([float(r), 10.0 * r])); res["gather"] = np.stack([o.array for o in outs])
    o = gg.zeros(2)
    dist.reduce_scatter(o, [gg.tensor([float(i), float(r)]) for i in range(w)]); res["rs"] = o.array.copy()
    work = dist.all_reduce(gg.ones(2), async_op=True); work.wait(); res["async"] = work.is_completed()
    dist.barrier()
    errs = []
    for bad in (lambda: dist.all_reduce(gg.ones(2 + r)),
                lambda: dist.all_reduce(gg.ones(2, dtype=gg.float64 if r else gg.float32)),
                lambda: dist.broadcast(gg.ones(2), src=w),
                lambda: dist.all_gather([gg.zeros(2)] * (w - (r == 0)), gg.ones(2))):
        try:
            bad()
            errs.append("no error")
        except ValueError as e:
            errs.append(str(e))
    res["errors"] = errs
    import pickle, sys
    if r == 0:
        pickle.dump(res, open(sys.argv[1], "wb"))
    dist.destroy_process_group()
    assert not dist.is_initialized()
''')


@needs_mpi
def test_collectives_on_four_ranks(tmp_path):
    import pickle

    script = tmp_path / "coll.py"
    script.write_text(COLLECTIVES)
    out = tmp_path / "res.pkl"
    rc, so, se = _launch(4, [str(script), str(out)], timeout=60)
    assert rc == 0, so + se
    res = pickle.loads(out.read_bytes())
    base = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(res["sum"], 4 * base + 6)
    np.testing.assert_array_equal(res["avg"], base + 1.5)
    np.testing.assert_array_equal(res["max"], [3, 0])
    np.testing.assert_array_equal(res["min"], [0, -3])
    np.testing.assert_array_equal(res["strided"], [6.0, 14.0])
    np.testing.assert_array_equal(res["bcast"], [3, 3, 3])
    assert res["bcast"].dtype == np.float32
    np.testing.assert_array_equal(res["gather"], [[r, 10 * r] for r in range(4)])
    np.testing.assert_array_equal(res["rs"], [0.0, 6.0])     # rank 0: input_list[0] summed
    assert res["async"] is True
    shapes, dtypes, src, gather = res["errors"]
    assert "all_reduce" in shapes and "rank 0: float32 (2,)" in shapes and "rank 3: float32 (5,)" in shapes
    assert "float64" in dtypes and "same dtype and shape" in dtypes
    assert "src must be a rank in 0 ... 3" in src
    assert "all_gather" in gather and "tensor_list" in gather


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
