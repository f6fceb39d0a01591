"""tools/structure.py: the size table adds up, the import graph is read from the sources
(and agrees with the layer rule: ops never import the Tensor), and the traced training
step passes through the files that hold Linear, cross-entropy and the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "structure.py"


def _run(*args: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_sizes_add_up():
    rows = [ln.split() for ln in _run("--sizes").splitlines()[1:] if ln and not ln.startswith(" ")]
    table = {r[0]: (int(r[1]), int(r[2])) for r in rows if len(r) == 3 and r[1].isdigit()}
    total = table.pop("total")
    assert sum(f for f, _ in table.values()) == total[0]
    assert sum(n for _, n in table.values()) == total[1]
    files = list((ROOT / "src" / "glassgrad").rglob("*.py"))
    assert total[0] == len(files)


def test_import_graph():
    graph = {}
    for ln in _run("--imports").splitlines():
        if "->" in ln:
            src, dst = ln.split("->")
            graph[src.strip()] = {d.strip() for d in dst.split(",")}
    assert "tensor" not in graph["ops"] and "nn" not in graph["ops"]
    assert {"autograd", "backend"} <= graph["ops"]
    assert "cli" in graph["__main__"]


def test_path_of_a_training_step():
    out = _run("--path")
    for f in ("nn/modules/linear.py", "ops/linear.py", "ops/loss.py", "autograd/function.py",
              "autograd/engine.py", "tensor.py"):
        assert f"glassgrad/{f}:" in out, f
