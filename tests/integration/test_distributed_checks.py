"""The argument checks of glassgrad.distributed's collectives on 2 and 4 ranks: every kind of
disagreement between the ranks raises a ValueError on every rank (none hangs), including a
disagreement that follows calls whose signatures were already checked and cached; the
collectives still work after each error; and results through the in-place paths (rows of one
block, ``GLASSGRAD_DIST_CHECK=0``)."""

from __future__ import annotations

import os
import pickle
import sys
import textwrap

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_distributed_mpi import _launch, needs_mpi  # noqa: E402

SCRIPT = textwrap.dedent('''
    import pickle, sys
    import numpy as np, glassgrad as gg, glassgrad.distributed as dist
    from glassgrad.distributed import _core
    dist.init_process_group("mpi", timeout=20)
    r, w = dist.get_rank(), dist.get_world_size()
    R = dist.ReduceOp
    F32, F64 = gg.float32, gg.float64
    res = {"check": _core._GROUP.check}

    def ok():   # a correct collective after every error: the group still works
        t = gg.tensor([1.0, float(r)])
        dist.all_reduce(t)
        assert t.array.tolist() == [w, w * (w - 1) / 2], t.array

    # warm the signature cache with the shapes used below, so that the mismatches come both
    # from signatures checked before and from new ones
    for sh in [(2,), (3,), (2, 3), (3, 2)]:
        dist.all_reduce(gg.ones(*sh)); dist.all_reduce(gg.ones(*sh), op=R.MAX)
    last = w - 1
    odd_list = [gg.ones(2 + (r == 1 and i == last)) for i in range(w)]    # one bad entry on rank 1
    cases = {
        "count (both cached)": lambda: dist.all_reduce(gg.ones(2 if r else 3)),
        "count (one new)": lambda: dist.all_reduce(gg.ones(2 if r != last else 7)),
        "same size, other shape": lambda: dist.all_reduce(gg.ones(2, 3) if r else gg.ones(3, 2)),
        "dtype, same count": lambda: dist.all_reduce(gg.ones(3, dtype=F64 if r == last else F32)),
        "op": lambda: dist.all_reduce(gg.ones(2), op=R.MAX if r == last else R.SUM),
        "unsupported dtype on one": lambda: dist.all_reduce(gg.ones(2, dtype=gg.float16 if r == 1 else F32)),
        "bcast src": lambda: dist.broadcast(gg.ones(3), src=r % 2),
        "bcast count": lambda: dist.broadcast(gg.ones(3 + (r == 0))),
        "bcast invalid src on all": lambda: dist.broadcast(gg.ones(3), src=-1),
        "gather shape": lambda: dist.all_gather([gg.zeros(2 + (r == 1))] * w, gg.ones(2 + (r == 1))),
        "gather list length": lambda: dist.all_gather([gg.zeros(2)] * (w + (r == 0)), gg.ones(2)),
        "rs op": lambda: dist.reduce_scatter(gg.zeros(2), [gg.ones(2)] * w, op=R.MIN if r == 0 else R.SUM),
        "rs list entry": lambda: dist.reduce_scatter(gg.zeros(2), odd_list),
        "async wait": lambda: dist.all_reduce(gg.ones(4 + r), async_op=True),
    }
    errs = {}
    for k, f in cases.items():
        try:
            f()
            errs[k] = "no error"
        except ValueError as e:
            errs[k] = str(e)
        ok()
    res["errors"] = errs

    # rows of one block: MPI writes into / reads from the tensors themselves
    flat = gg.zeros(w, 3)
    rows = list(flat.unbind(0))
    dist.all_gather(rows, gg.tensor([float(r), 1.0, 2.0]))
    res["gather_rows"] = flat.array.copy()
    flat = gg.zeros(w, 3)
    rows = list(flat.unbind(0))
    rows[r].array[...] = [10.0 * r, 1.0, -1.0]
    dist.all_gather(rows, rows[r])                      # this rank's row is the input
    res["gather_in_place"] = flat.array.copy()
    ins = gg.tensor((np.arange(w * 2.0).reshape(w, 2) + r).astype(np.float32))
    out = gg.zeros(2)
    dist.reduce_scatter(out, list(ins.unbind(0)), op=R.AVG)
    res["rs_rows"] = out.array.copy()
    out = ins[r]                                          # output is one of the inputs
    dist.reduce_scatter(out, list(ins.unbind(0)))
    res["rs_alias"] = out.array.copy()
    t = gg.tensor(np.arange(8.0).reshape(2, 4)[:, ::2] + r)     # not contiguous
    dist.broadcast(t, src=last)
    res["bcast_strided"] = t.array.copy()
    if r == 0:
        pickle.dump(res, open(sys.argv[1], "wb"))
    dist.destroy_process_group()
''')


def _run(tmp_path, world: int, env: dict | None = None) -> dict:
    script = tmp_path / "checks.py"
    script.write_text(SCRIPT)
    out = tmp_path / "res.pkl"
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        rc, so, se = _launch(world, [str(script), str(out)], timeout=90)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert rc == 0, so + se
    return pickle.loads(out.read_bytes())


def _check_results(res: dict, w: int) -> None:
    base = np.arange(w * 2.0).reshape(w, 2)
    np.testing.assert_array_equal(res["gather_rows"], [[r, 1, 2] for r in range(w)])
    np.testing.assert_array_equal(res["gather_in_place"], [[10 * r, 1, -1] for r in range(w)])
    np.testing.assert_array_equal(res["rs_rows"], base[0] + (w - 1) / 2)          # rank 0's row, mean
    np.testing.assert_array_equal(res["rs_alias"], w * base[0] + w * (w - 1) / 2)
    np.testing.assert_array_equal(res["bcast_strided"], np.arange(8.0).reshape(2, 4)[:, ::2] + w - 1)


@needs_mpi
@pytest.mark.parametrize("world", [2, 4])
def test_every_disagreement_raises_on_every_rank_and_the_group_goes_on(tmp_path, world):
    res = _run(tmp_path, world)
    assert res["check"] is True
    e = res["errors"]
    last = world - 1
    assert "no error" not in e.values(), e
    assert "rank 0: float32 (3,)" in e["count (both cached)"]
    assert "rank 1: float32 (2,)" in e["count (both cached)"]
    assert f"rank {last}: float32 (7,)" in e["count (one new)"]
    assert "rank 0: float32 (3, 2)" in e["same size, other shape"]
    assert f"rank {last}: float64 (3,)" in e["dtype, same count"]
    assert "(and the same op)" in e["op"] and f"rank {last}: float32 (2,), op=3" in e["op"]
    # rank 0's view of it (rank 1 raised "dtype float16 is not supported")
    assert e["unsupported dtype on one"] == ("all_reduce: rank(s) [1] passed invalid arguments (see the "
                                             "error there)")
    assert "src=0" in e["bcast src"] and "rank 1: float32 (3,), src=1" in e["bcast src"]
    assert "rank 0: float32 (4,)" in e["bcast count"]
    assert "src must be a rank in 0 ... " in e["bcast invalid src on all"]
    assert "all_gather" in e["gather shape"] and "rank 1: float32 (3,)" in e["gather shape"]
    assert (f"tensor_list must be a list of world size ({world}) tensors, got {world + 1}"
            in e["gather list length"])
    assert "reduce_scatter" in e["rs op"] and "op=4" in e["rs op"]
    assert "rank(s) [1] passed invalid arguments" in e["rs list entry"]
    assert "all_reduce" in e["async wait"] and "rank 1: float32 (5,)" in e["async wait"]
    _check_results(res, world)


@needs_mpi
def test_results_without_the_argument_check(tmp_path):
    """``GLASSGRAD_DIST_CHECK=0``: no comparison (PyTorch's default); results are the same."""
    script = textwrap.dedent('''
        import pickle, sys
        import numpy as np, glassgrad as gg, glassgrad.distributed as dist
        from glassgrad.distributed import _core
        dist.init_process_group("mpi", timeout=20)
        r, w = dist.get_rank(), dist.get_world_size()
        t = gg.tensor(np.arange(6.0).reshape(2, 3) + r)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        outs = [gg.zeros(2) for _ in range(w)]
        dist.all_gather(outs, gg.tensor([float(r), 1.0]))
        b = gg.full((3,), float(r)); dist.broadcast(b, src=1)
        if r == 0:
            res = {"check": _core._GROUP.check, "avg": t.array, "bcast": b.array,
                   "gather": np.stack([o.array for o in outs])}
            pickle.dump(res, open(sys.argv[1], "wb"))
        dist.destroy_process_group()
    ''')
    (tmp_path / "s.py").write_text(script)
    out = tmp_path / "res.pkl"
    os.environ["GLASSGRAD_DIST_CHECK"] = "0"
    try:
        rc, so, se = _launch(2, [str(tmp_path / "s.py"), str(out)], timeout=60)
    finally:
        del os.environ["GLASSGRAD_DIST_CHECK"]
    assert rc == 0, so + se
    res = pickle.loads(out.read_bytes())
    assert res["check"] is False
    np.testing.assert_array_equal(res["avg"], np.arange(6.0).reshape(2, 3) + 0.5)
    np.testing.assert_array_equal(res["gather"], [[0, 1], [1, 1]])
    np.testing.assert_array_equal(res["bcast"], [1, 1, 1])


def test_check_setting_is_validated(monkeypatch):
    pytest.importorskip("mpi4py")
    import glassgrad.distributed as dist

    monkeypatch.setenv("GLASSGRAD_DIST_CHECK", "maybe")
    with pytest.raises(ValueError, match="GLASSGRAD_DIST_CHECK must be 1"):
        dist.init_process_group()
    assert not dist.is_initialized()


def test_a_long_wait_yields_the_cpu_and_a_short_one_does_not(monkeypatch):
    """The poll loop hands the core away (sched_yield) only once a wait has lasted
    SPIN_ALONE_S, and keeps polling until the request completes."""
    import time

    from glassgrad.distributed import _core

    calls = []
    monkeypatch.setattr(_core, "_yield", lambda: calls.append(1))

    class Req:
        def __init__(self, after: float) -> None:
            self.until = time.monotonic() + after
            self.tests = 0

        def Test(self) -> bool:
            self.tests += 1
            return time.monotonic() >= self.until

    g = _core._Group(None, 0, 1, 10.0, "mpi")
    quick = Req(0.0)
    _core._wait_request(g, quick, "x", 10.0)
    assert quick.tests == 1 and not calls
    slow = Req(0.02)
    _core._wait_request(g, slow, "x", 10.0)
    assert time.monotonic() >= slow.until
    assert len(calls) >= 1 and len(calls) <= slow.tests // _core.YIELD_EVERY
    with pytest.raises(_core.DistBackendError, match="did not complete within 0.01 s"):
        _core._wait_request(g, Req(60.0), "x", 0.01)


DDP_PAIR = textwrap.dedent('''
    import pickle, sys
    import numpy as np, glassgrad as gg, glassgrad.distributed as dist
    from glassgrad import nn
    from glassgrad.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group("mpi", timeout=20)
    r = dist.get_rank()
    gg.manual_seed(0)
    model = nn.Linear(5, 3).double()
    ddp = DDP(model, bucket_cap_mb=0.0001)       # one bucket per parameter
    x = gg.tensor(np.random.default_rng(r).standard_normal((4, 5)))
    ddp(x).pow(2).sum().backward()
    res = {"grads": [p.grad.array.copy() for p in model.parameters()],
           "swapped": [b.peer_buf is not None for b in ddp._buckets],
           "params": [p.array.copy() for p in model.parameters()]}
    pickle.dump(res, open(sys.argv[1] + str(r), "wb"))
    dist.destroy_process_group()
''')


@needs_mpi
def test_ddp_on_two_ranks_swaps_buckets_and_both_get_the_same_average(tmp_path):
    import glassgrad as gg
    from glassgrad import nn

    (tmp_path / "pair.py").write_text(DDP_PAIR)
    rc, so, se = _launch(2, [str(tmp_path / "pair.py"), str(tmp_path / "res")], timeout=60)
    assert rc == 0, so + se
    res = [pickle.loads((tmp_path / f"res{r}").read_bytes()) for r in range(2)]
    assert res[0]["swapped"] == res[1]["swapped"] == [True, True]
    expect = []
    for r in range(2):            # each rank's own gradient, in one process
        m = nn.Linear(5, 3).double()
        for p, a in zip(m.parameters(), res[0]["params"]):
            p.array[...] = a
        m(gg.tensor(np.random.default_rng(r).standard_normal((4, 5)))).pow(2).sum().backward()
        expect.append([p.grad.array for p in m.parameters()])
    for k in range(2):
        np.testing.assert_array_equal(res[0]["grads"][k], res[1]["grads"][k])    # bitwise
        np.testing.assert_allclose(res[0]["grads"][k], (expect[0][k] + expect[1][k]) / 2, rtol=1e-12)
