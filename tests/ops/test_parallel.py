"""ops/_parallel.py: recurrent layers over blocks of batch rows on several threads.

The splitting logic is tested with a stand-in BLAS controller (so every machine splits,
whatever its BLAS and core count); the layer results with the split are compared with the
same layer in one loop, values and gradients, and with the real controller where NumPy's
BLAS is an OpenBLAS that threadpoolctl can drive."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.ops import _blas
from glassgrad.ops import _parallel as P
from glassgrad.ops import kernels as K
from glassgrad.ops import rnn as R


class _FakeBlas:
    """threadpoolctl's controller interface, recording what it was told."""

    def __init__(self, n: int) -> None:
        self.num_threads = n
        self.calls: list = []
        self.stops = 0

    def set_num_threads(self, n: int) -> None:
        self.calls.append(n)
        self.num_threads = n

    def stop(self) -> None:
        self.stops += 1


@pytest.fixture
def fake_blas(monkeypatch):
    def make(n: int = 2, cpus: int = 8) -> _FakeBlas:
        ctl = _FakeBlas(n)
        sgemm = _blas.cblas_sgemm()   # (NumPy's real BLAS function, found before the stand-in)
        monkeypatch.setitem(_blas._STATE, "ctl", [(ctl, ctl.stop)])
        monkeypatch.setitem(_blas._STATE, "sgemm", sgemm or False)
        monkeypatch.setitem(P._STATE, "cap", 0)
        monkeypatch.setattr(P.os, "cpu_count", lambda: cpus)
        # (threads other tests left running must not turn the splitting off here)
        monkeypatch.setattr(P, "_alone", lambda: True)
        return ctl
    return make


def test_row_blocks_cover_the_rows(fake_blas):
    fake_blas(3)
    blocks = P.row_blocks(200)
    assert blocks == [slice(0, 66), slice(66, 133), slice(133, 200)]
    assert P.row_blocks(2 * P.MIN_ROWS - 1) is None           # too few rows to split
    assert len(P.row_blocks(2 * P.MIN_ROWS)) == 2              # at most rows // MIN_ROWS
    with P.max_blocks(2):
        assert len(P.row_blocks(1000)) == 2
    with P.max_blocks(1):
        assert P.row_blocks(1000) is None
    assert len(P.row_blocks(1000)) == 3                        # the cap is restored


def test_row_blocks_follow_blas_and_cores(fake_blas):
    fake_blas(1)                     # BLAS on one thread (a user's limit): no split
    assert P.row_blocks(1000) is None
    fake_blas(8, cpus=2)             # never more blocks than cores
    assert len(P.row_blocks(1000)) == 2


def test_no_split_while_other_threads_run():
    # OpenBLAS's threads are stopped for a region: never while another Python thread could
    # be inside a BLAS call (it would wait for them forever)
    before = P._alone()
    go = threading.Event()
    other = threading.Thread(target=go.wait)
    other.start()
    try:
        assert P._alone() is False
        assert P.row_blocks(1000) is None
    finally:
        go.set()
        other.join()
    assert P._alone() is before


def test_no_split_without_a_controllable_blas(monkeypatch):
    monkeypatch.setitem(_blas._STATE, "ctl", [])
    monkeypatch.setitem(P._STATE, "cap", 0)
    assert P.row_blocks(10_000) is None


def test_run_blocks_threads_blas_and_order(fake_blas):
    ctl = fake_blas(2)
    seen = {}

    def fn(r: slice) -> int:
        seen[r.start] = (threading.get_ident(), ctl.num_threads)
        return r.start

    assert P.run_blocks(fn, [slice(0, 5), slice(5, 9), slice(9, 12)]) == [0, 5, 9]
    assert len({ident for ident, _ in seen.values()}) > 1       # not all on one thread
    assert {n for _, n in seen.values()} == {1}                 # BLAS on one thread inside
    assert ctl.num_threads == 2 and ctl.calls == [1, 2] and ctl.stops == 1   # restored


@pytest.mark.parametrize("failing", [0, 64])
def test_run_blocks_raises_after_every_block_ends(fake_blas, failing):
    ctl = fake_blas(2)
    done = []

    def fn(r: slice) -> None:
        if r.start == failing:
            raise RuntimeError(f"block {r.start}")
        done.append(r.start)

    with pytest.raises(RuntimeError, match=f"block {failing}"):
        P.run_blocks(fn, [slice(0, 64), slice(64, 128)])
    assert done == [64 - failing]          # the other block ran to its end
    assert ctl.num_threads == 2
    assert P._REGION.acquire(blocking=False)   # the region is free again
    P._REGION.release()


def test_nested_regions_run_in_order_on_one_thread(fake_blas):
    fake_blas(2)

    def inner(r: slice) -> int:
        return threading.get_ident()

    def outer(r: slice) -> list:
        return P.run_blocks(inner, [slice(0, 1), slice(1, 2)])

    for idents in P.run_blocks(outer, [slice(0, 1), slice(1, 2)]):
        assert len(set(idents)) == 1       # the inner region did not split


def test_pool_is_remade_after_fork(fake_blas, monkeypatch):
    fake_blas(2)
    P.run_blocks(lambda r: None, [slice(0, 1), slice(1, 2)])
    pool = P._STATE["pool"]
    monkeypatch.setitem(P._STATE, "pid", -1)     # as in a forked child
    P.run_blocks(lambda r: None, [slice(0, 1), slice(1, 2)])
    assert P._STATE["pool"] is not pool


def test_a_bigger_pool_replaces_the_old_one(fake_blas, monkeypatch):
    # more blocks than the pool has workers: a new pool, and the old one's threads end
    # (else _alone would count them as other threads and turn splitting off for good)
    fake_blas(2)
    P.run_blocks(lambda r: None, [slice(0, 1), slice(1, 2)])
    old = P._STATE["pool"]
    threads = set(old._threads)
    P.run_blocks(lambda r: None, [slice(k, k + 1) for k in range(old._max_workers + 2)])
    assert P._STATE["pool"] is not old
    for t in threads:
        t.join(timeout=5)
        assert not t.is_alive()


def test_bad_settings(monkeypatch):
    with pytest.raises(ValueError, match="max_blocks"):
        with P.max_blocks(-1):
            pass
    monkeypatch.setitem(P._STATE, "cap", None)
    monkeypatch.setenv("GLASSGRAD_ROW_THREADS", "two")
    with pytest.raises(ValueError, match="GLASSGRAD_ROW_THREADS"):
        P.row_blocks(1000)
    monkeypatch.setenv("GLASSGRAD_ROW_THREADS", "1")
    assert P.row_blocks(1000) is None


def _layer(dtype, B, reverse, grad=True, T=5, H=24, seed=0):
    rng = np.random.default_rng(seed)
    vals = [rng.standard_normal((T, B, 4 * H)) * 2, rng.standard_normal((B, H)),
            rng.standard_normal((B, H)), rng.standard_normal((4 * H, H)) / np.sqrt(H)]
    ts = [gg.tensor(v.astype(dtype), requires_grad=grad) for v in vals]
    if not grad:
        with gg.no_grad():
            return [o.numpy() for o in R.LSTMLayer.apply(*ts, reverse=reverse)]
    out, h, c = R.LSTMLayer.apply(*ts, reverse=reverse)
    w = gg.tensor(rng.standard_normal(out.shape).astype(dtype))
    ((out * w).sum() + (h * h).sum() + c.sum()).backward()
    return [o.detach().numpy() for o in (out, h, c)] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("kernels", ["auto", "numpy"])
def test_lstm_layer_split_matches_one_loop(fake_blas, dtype, reverse, grad, kernels):
    # 3·MIN_ROWS_PY + 11 rows in 3 blocks of unequal size; over 1 MiB of input projections
    # with T = 30 (the large-input path that splits); blocks as one compiled call each
    # (float32 with Numba) or as Python loops (float64, or the NumPy path)
    fake_blas(3)
    B = 3 * P.MIN_ROWS_PY + 11
    with K.using(kernels):
        with P.max_blocks(1):
            want = _layer(dtype, B, reverse, grad, T=30)
        assert len(P.row_blocks(B, P.MIN_ROWS_PY)) == 3
        got = _layer(dtype, B, reverse, grad, T=30)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, **tol)


def test_nn_lstm_split_matches_one_loop(fake_blas):
    # the module as users write it: two layers, both directions, batch_first
    fake_blas(2)
    gg.manual_seed(0)
    m = gg.nn.LSTM(28, 40, num_layers=2, bidirectional=True, batch_first=True)
    x = gg.tensor(np.random.default_rng(3).standard_normal((160, 28, 28)).astype(np.float32),
                  requires_grad=True)

    def run():
        m.zero_grad()
        x.grad = None
        out, (h, c) = m(x)
        (out.square().mean() + h.sum() + c.sum()).backward()
        return [out.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in m.parameters()]

    with P.max_blocks(1):
        want = run()
    for g, w in zip(run(), want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


def test_no_blas_function_means_python_loops(monkeypatch):
    # without a BLAS the kernels can call (no threadpoolctl, another BLAS), the layer runs
    # its Python loops: same results
    want = _layer(np.float32, 100, False, T=30)   # over 1 MiB: the large-input path
    monkeypatch.setitem(_blas._STATE, "ctl", [])
    monkeypatch.setitem(_blas._STATE, "sgemm", None)
    assert _blas.cblas_sgemm() is None
    for g, w in zip(_layer(np.float32, 100, False, T=30), want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


def test_real_blas_is_driven_and_restored():
    ctl = _blas.blas_controllers()
    if not ctl:
        pytest.skip("NumPy's BLAS is not an OpenBLAS that threadpoolctl can drive here")
    c, _ = ctl[0]
    assert c.internal_api == "openblas"
    before = c.num_threads
    inside = P.run_blocks(lambda r: c.num_threads, [slice(0, 1), slice(1, 2)])
    assert inside == [1, 1] and c.num_threads == before
    a = np.random.default_rng(0).standard_normal((300, 300))
    np.testing.assert_allclose(a @ a, np.einsum("ij,jk->ik", a, a), rtol=1e-10, atol=1e-10)


def _gru_layer(dtype, B, reverse, bias, T=30, H=24, seed=1):
    rng = np.random.default_rng(seed)
    vals = [rng.standard_normal((T, B, 3 * H)) * 2, rng.standard_normal((B, H)),
            rng.standard_normal((3 * H, H)) / np.sqrt(H)] + ([rng.standard_normal(3 * H)] if bias else [])
    ts = [gg.tensor(v.astype(dtype), requires_grad=True) for v in vals]
    out, h = R.GRULayer.apply(*ts[:3], ts[3] if bias else None, reverse)
    w = gg.tensor(rng.standard_normal(out.shape).astype(dtype))
    ((out * w).sum() + (h * h).sum()).backward()
    return [o.detach().numpy() for o in (out, h)] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("B", [1, 3 * P.MIN_ROWS + 5])
def test_gru_layer_split_matches_one_loop(fake_blas, reverse, bias, B):
    # float32 with the kernels: each block's loop one compiled call; against one loop and
    # against the NumPy loop (to float32 rounding: the kernels' own exponential)
    fake_blas(3)
    with P.max_blocks(1):
        want = _gru_layer(np.float32, B, reverse, bias)
    got = _gru_layer(np.float32, B, reverse, bias)
    with K.using("numpy"):
        ref = _gru_layer(np.float32, B, reverse, bias)
    for g, w, r in zip(got, want, ref):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(g, r, rtol=2e-5, atol=2e-5)
