"""tools/compat.py: the PyTorch-coverage report is well-formed, deterministic, and the
committed docs/compat.md is what the script writes now."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "compat.py"
NAMESPACES = ["torch", "torch.Tensor", "torch.nn", "torch.nn.functional", "torch.nn.init",
              "torch.optim", "torch.optim.lr_scheduler", "torch.utils.data", "torch.autograd"]


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *extra],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("compat") / "compat.md"
    r = _run(out)
    assert r.returncode == 0, r.stderr
    return out.read_text(encoding="utf-8")


def test_report_is_well_formed(report):
    import torch

    assert report.startswith("# PyTorch API coverage\n")
    assert f"torch {torch.__version__.split('+')[0]}" in report
    rows = re.findall(r"^\| `([\w. ():-]+)` \| `([\w.]+)` \| (\d+) \| (\d+) \| (\d+) \| "
                      r"([\d.]+)% \| ([\d.]+)% \|", report, flags=re.M)
    labels = [r[0] for r in rows]
    for ns in NAMESPACES:
        assert ns in labels, f"no summary row for {ns}"
        assert f"\n## `{ns}`\n" in report, f"no section for {ns}"
    assert any(lab.startswith("torch.nn (layers") for lab in labels)
    for _, _, present, absent, oos, cov, raw in rows:
        p, a, o = int(present), int(absent), int(oos)
        assert p + a > 0
        assert abs(float(cov) - 100 * p / (p + a)) < 0.06
        assert abs(float(raw) - 100 * p / (p + a + o)) < 0.06
    # every out-of-scope category used is documented in the rules section
    used = set(re.findall(r"^### Out of scope: (.+) \(\d+\)$", report, flags=re.M))
    rules = report.split("## Out-of-scope rules", 1)[1]
    for cat in used:
        assert f"**{cat}**" in rules
    # name lists are sorted
    for block in re.findall(r"^### (?:Absent|Out of scope)[^\n]*\n\n([^\n]+)$", report, flags=re.M):
        if block != "(none)":
            names = re.findall(r"`([^`]+)`", block)
            assert names == sorted(names)


def test_report_knows_absent_and_out_of_scope_names(report):
    tensor = report.split("\n## `torch.Tensor`\n", 1)[1].split("\n## ", 1)[0]
    oos = tensor.split("### Out of scope: sparse", 1)[1].split("###", 1)[0]
    assert "`to_sparse_csr`" in oos  # a sparse-only method is out of scope, not "absent"
    assert "`cuda`" not in tensor.split("### Present with", 1)[0]  # glassgrad has .cuda()


def test_committed_report_is_up_to_date(report):
    # also the determinism check: the committed file came from another run
    committed = (ROOT / "docs" / "compat.md").read_text(encoding="utf-8")
    assert committed == report, (
        "docs/compat.md is out of date: run `python tools/compat.py` and commit the result")


def test_check_flag(tmp_path, report):
    out = tmp_path / "stale.md"
    out.write_text("old\n", encoding="utf-8")
    r = _run(out, "--check")
    assert r.returncode == 1 and "out of date" in r.stderr
    assert out.read_text(encoding="utf-8") == "old\n"  # --check never writes
