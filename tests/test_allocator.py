"""glassgrad.allocator: glibc's malloc keeps training memory between steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import glassgrad as gg
from glassgrad import allocator

GLIBC = allocator._glibc() is not None
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _run(code: str, **env: str) -> str:
    e = {k: v for k, v in os.environ.items()
         if k not in ("GLASSGRAD_MALLOC_TUNING", "GLIBC_TUNABLES") and not k.startswith("MALLOC_")}
    e.update(env, PYTHONPATH=SRC, OPENBLAS_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=e,
                         capture_output=True, text=True, timeout=300, check=True)
    return res.stdout.strip()


@pytest.fixture
def saved_state():
    before = dict(allocator._state)
    yield
    allocator._state.clear()
    allocator._state.update(before)


@pytest.mark.parametrize("env,reason", [
    ({"GLASSGRAD_MALLOC_TUNING": "0"}, "GLASSGRAD_MALLOC_TUNING=0"),
    ({"GLASSGRAD_MALLOC_TUNING": " Off "}, "GLASSGRAD_MALLOC_TUNING=0"),
    ({"MALLOC_TRIM_THRESHOLD_": "1000"}, "MALLOC_TRIM_THRESHOLD_"),
    ({"MALLOC_MMAP_THRESHOLD_": "1000", "MALLOC_TOP_PAD_": "0"}, "MALLOC_MMAP_THRESHOLD_, MALLOC_TOP_PAD_"),
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000"}, "GLIBC_TUNABLES"),
])
def test_user_settings_win(saved_state, env, reason):
    allocator._state["tuned"] = False
    allocator.tune_for_training(env)
    st = allocator.malloc_tuning()
    assert st["tuned"] is False and reason in st["reason"]


def test_unrelated_tunables_do_not_stop_tuning(saved_state):
    allocator.tune_for_training({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F"})
    assert allocator.malloc_tuning()["tuned"] is GLIBC


@pytest.mark.parametrize("bad", [-1, 2**31, 1.5, True, "32"])
def test_tune_malloc_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="tune_malloc: mmap_threshold"):
        allocator.tune_malloc(mmap_threshold=bad)


def test_status_is_a_copy():
    st = gg.allocator.malloc_tuning()
    st["tuned"] = "changed"
    assert gg.allocator.malloc_tuning()["tuned"] != "changed"


@pytest.mark.skipif(not GLIBC, reason="malloc tuning applies to glibc only")
def test_import_leaves_the_allocator_alone_and_training_tunes_it():
    state = "print(gg.allocator.malloc_tuning()['tuned'])"
    code = "import glassgrad as gg; " + state
    assert _run(code) == "False"  # no process-wide change on import
    assert _run(code, GLASSGRAD_MALLOC_TUNING="1") == "True"  # opted in
    fit = ("import glassgrad as gg; nn = gg.nn; m = nn.Linear(2, 1); "
           "t = gg.train.Trainer(m, lambda o, y: ((o - y) ** 2).mean(), "
           "gg.optim.SGD(m.parameters(), lr=0.1), progress=False); "
           "t.fit([(gg.ones(4, 2), gg.zeros(4, 1))]); " + state)
    assert _run(fit).splitlines()[-1] == "True"  # the Trainer tunes when it starts
    assert _run(fit, GLASSGRAD_MALLOC_TUNING="0").splitlines()[-1] == "False"  # opt-out holds
    loop = "import glassgrad as gg; print(gg.allocator.tune_for_training())"
    assert _run(loop) == "True" and _run(loop, MALLOC_TRIM_THRESHOLD_="1000") == "False"


BENCH = os.path.join(os.path.dirname(SRC), "bench", "bench_allocator.py")


def _lenet_faults(**env: str) -> float:
    """Page faults per step of LeNet-5 (batch 64, Adam) in a fresh process: the child of
    bench/bench_allocator.py (3 warm-up steps, then 10 counted)."""
    code = f"import runpy, sys; sys.argv = ['b', '--child', 'lenet5-b64-adam', '10']; " \
           f"runpy.run_path({BENCH!r}, run_name='__main__')"
    return json.loads(_run(code, **env).splitlines()[-1])["faults"]


@pytest.mark.skipif(not GLIBC, reason="malloc tuning applies to glibc only")
def test_training_steps_do_not_page_fault():
    """A small CNN with Adam in a fresh process page-faults on every step with glibc's own
    thresholds (about 2,500 faults per step measured: the memory of a step is returned to
    the OS and taken again in the next); tuned, the memory is reused."""
    tuned = _lenet_faults()
    untuned = _lenet_faults(GLASSGRAD_MALLOC_TUNING="0")
    assert tuned < 20
    # the contrast shows that the test exercises the pattern (glibc's adaptive thresholds
    # depend on its version; where they do not let this pattern fault, skip the contrast)
    if untuned < 200:
        pytest.skip(f"this glibc does not page-fault on the pattern untuned ({untuned:.0f}/step)")
    assert untuned > 10 * max(tuned, 1.0)


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_release_memory_returns_kept_memory():
    """Free memory kept by the tuned allocator goes back to the OS on release_memory()."""
    code = """
        import numpy as np
        import glassgrad as gg
        gg.allocator.tune_for_training()
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
        a = [np.ones(2**20, np.float32) for _ in range(40)]   # 160 MiB in 4 MiB blocks
        b = np.ones(10, np.float32)                            # (keeps the top of the heap)
        del a
        kept = rss()
        assert gg.allocator.release_memory()
        print(kept - rss())
    """
    assert float(_run(code)) > 100  # MiB handed back
