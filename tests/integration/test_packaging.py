"""The package as pip installs it: dependencies, extras, typed marker and licence in the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_pyproject_dependencies_and_extras():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        meta = tomllib.load(fh)
    deps = meta["project"]["dependencies"]
    assert any(d.startswith("numpy") for d in deps) and any(d.startswith("tqdm") for d in deps)
    extras = meta["project"]["optional-dependencies"]
    assert "progress" in extras  # old name still installs
    assert meta["tool"]["setuptools"]["package-data"]["glassgrad"] == ["py.typed", "playground/static/*"]
    assert any(d.startswith("playwright") for d in extras["test"])  # the playground's browser tests


def test_wheel_has_py_typed_license_and_tqdm(tmp_path):
    pytest.importorskip("setuptools")
    src = tmp_path / "src_tree"
    src.mkdir()
    for f in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(os.path.join(ROOT, f), src / f)
    shutil.copytree(os.path.join(ROOT, "src"), src / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
           "-w", str(tmp_path / "dist"), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr
    (whl,) = (tmp_path / "dist").glob("glassgrad-*.whl")
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "glassgrad/py.typed" in names
    # the playground's page ships in the wheel (it is served offline, nothing from a CDN)
    static = os.path.join(ROOT, "src", "glassgrad", "playground", "static")
    for f in ("index.html", "app.js", "style.css"):
        assert os.path.exists(os.path.join(static, f))
        assert f"glassgrad/playground/static/{f}" in names
    assert any(n.endswith("LICENSE") for n in names)
    assert "Requires-Dist: tqdm" in meta and "Provides-Extra: progress" in meta
