"""bench/bench_overhead.py still runs (a tiny configuration; no timing is asserted)."""

from __future__ import annotations

import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_overhead.py"


def test_bench_overhead_runs(capsys):
    mod = runpy.run_path(str(BENCH), run_name="bench_overhead")
    rc = mod["main"](["--sizes", "1", "2", "--ops", "add", "mul", "matmul", "relu", "sum", "--chain", "3",
                      "--budget", "0.002", "--repeat", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "numpy fwd" in out and "gg f+b" in out
    for op in ["add", "mul", "matmul", "relu", "sum"]:
        assert sum(line.split()[0] == op for line in out.splitlines()[2:] if line.strip()) == 2


def test_bench_allocator_runs(capsys):
    """bench/bench_allocator.py: one tiny case in fresh processes, both settings."""
    mod = runpy.run_path(str(BENCH.parent / "bench_allocator.py"), run_name="bench_allocator")
    rc = mod["main"](["--reps", "1", "--steps", "2", "--cases", "mlp-784-256-10-b128-sgd"])
    assert rc == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("MLP 784-256-10"))
    assert len(row.split()) == 10  # name (5 words) + 5 numbers
    assert "tuning in the tuned children" in out


def test_bench_sum_rows_runs(capsys):
    mod = runpy.run_path(str(BENCH.parent / "bench_sum_rows.py"), run_name="bench_sum_rows")
    mod["SHAPES"][:] = [(3, 4)]
    assert mod["main"](["--repeat", "1"]) == 0
    assert "(3, 4)" in capsys.readouterr().out


def test_bench_kernels_runs_and_both_paths_agree(tmp_path):
    """bench/bench_kernels.py in a child process (it tunes malloc, process-wide): a tiny
    run on random data; each model's last loss must be the same on both paths."""
    import subprocess
    import sys

    import pytest

    pytest.importorskip("numba")
    out = subprocess.run([sys.executable, str(BENCH.parent / "bench_kernels.py"), "--steps", "2",
                          "--reps", "1", "--threads", "1", "--data", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    assert "random data" in out
    rows = [line for line in out.splitlines() if line.split()[:1] in (["lenet"], ["lstm"], ["gru"])]
    assert len(rows) == 3
    for row in rows:
        a, b = row.split("last loss")[1].split("/")
        assert float(a) == float(b)
