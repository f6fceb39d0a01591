"""glassgrad.distributed and DistributedDataParallel on MPI: real multi-process runs
(``mpiexec -n 2`` and ``-n 4`` on this machine) compared with one process training on the
full batches, a rank killed in the middle of a step, the collectives' results and errors.
(The single-process cases and DistributedSampler: tests/distributed/test_distributed.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassgrad.distributed as dist
from examples_helper import MNIST_DIR

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # ddp_worker.py lives here
ROOT = os.path.dirname(TESTS)
SRC = os.path.join(ROOT, "src")


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
    rc, so, se = _launch(world, [os.path.join(TESTS, "ddp_worker.py"), "run", str(out)], timeout=120)
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




@needs_mpi
@pytest.mark.skipif(not os.path.exists(os.path.join(MNIST_DIR, "train-images-idx3-ubyte.gz")),
                    reason="MNIST files not found")
def test_ddp_mnist_example(tmp_path):
    example = os.path.join(ROOT, "examples", "ddp_mnist.py")
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
    worker = os.path.join(TESTS, "ddp_worker.py")
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
