"""The trace page of glassgrad.viz.html rendered by headless Chromium: the DOM holds the
table's cells, and a screenshot is taken. Skipped, saying so, without Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import glassgrad as gg
from html_cells import cells

nn = gg.nn
F = gg.nn.functional


def _trace():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    x = gg.randn(6, 4)
    y = gg.tensor([0, 1, 2, 0, 1, 2])
    return gg.explain(F.cross_entropy(model(x), y), model=model, file=None)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed")
def test_trace_page_in_headless_chromium(tmp_path):
    t = _trace()
    page = tmp_path / "trace.html"
    t.to_html(page)
    url = "file://" + os.path.abspath(page)
    res = subprocess.run([_chromium(), *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", url], capture_output=True, timeout=120)
    dom = res.stdout.decode("utf-8")
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-2000:]
    p = cells(dom)
    assert "table" in p.tags
    texts = [c for row in p.rows for c in row]
    for s in ("LinearBackward", "ReluBackward", "CrossEntropyBackward", "model.0 (Linear)",
              "dW = dYᵀ @ X", "db = sum_rows(dY)", "model.2.weight", "Σ axis 0: (6, 3)→(3,)"):
        assert s in texts, s
    shot = tmp_path / "shot.png"
    res = subprocess.run([_chromium(), *_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                          "--hide-scrollbars", "--window-size=1200,500", f"--screenshot={shot}", url],
                         capture_output=True, timeout=120)
    assert res.returncode == 0 and shot.read_bytes()[:4] == b"\x89PNG"
