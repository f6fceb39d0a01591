"""The playground end to end in a real headless Chromium, driven by Playwright's Python client
(the system's ``chromium``; Playwright downloads no browser here).

Marked ``browser``: deselect with ``-m 'not slow and not browser'``. Skipped, saying why, only
when Chromium or the Playwright package is missing. ``GLASSGRAD_UPDATE_SCREENSHOTS=1`` rewrites
the reference image and the README's screenshot instead of comparing.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from glassgrad.playground import make_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "assets" / "playground_boundary.png"
README_SHOT = ROOT / "docs" / "img" / "playground.png"
UPDATE = os.environ.get("GLASSGRAD_UPDATE_SCREENSHOTS") == "1"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

if _chromium() is None:
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)
if sync_playwright is None:
    pytest.skip("the playwright package is not installed (pip install 'glassgrad[test]')",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _serve(**kw):
    srv = make_server(**kw)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return srv, t


@pytest.fixture
def server():
    srv, t = _serve(snapshot_interval=0.1)
    yield srv
    srv.stop()
    t.join(5)


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    pg = ctx.new_page()
    pg.set_default_timeout(15000)
    pg.goto(server.url)
    pg.wait_for_selector("body[data-session]")
    yield pg
    ctx.close()


def _step(pg) -> int:
    return int(pg.inner_text("#stepn"))


def _boundary(pg) -> str:
    return pg.eval_on_selector("#boundary", "c => c.toDataURL()")


def _apply(pg, **fields) -> None:
    for k, v in fields.items():
        if pg.eval_on_selector(f"#{k}", "e => e.tagName") == "SELECT":
            pg.select_option(f"#{k}", v)
        else:
            pg.fill(f"#{k}", v)
    pg.click("#apply")


def _png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def test_train_pause_step_and_gradient_panels(page, server):
    pg = page
    assert pg.title() == "glassgrad playground"
    assert pg.inner_text("#stepn") == "0"
    # change the architecture: two tanh layers of 6 and 4 neurons
    _apply(pg, hidden="6,4", activation="tanh", lr="0.03")
    pg.wait_for_function("document.querySelectorAll('#neurons .nrow').length === 2 && document"
                         ".querySelectorAll('#neurons .nrow')[0].querySelectorAll('canvas').length === 6")
    assert pg.locator("#neurons .nrow").nth(1).locator("canvas").count() == 4
    assert pg.inner_text("#message") == ""
    before = _boundary(pg)
    # train a few dozen steps, pause, then one step
    pg.click("#start")
    pg.wait_for_function("Number(document.getElementById('stepn').textContent) >= 30")
    pg.click("#pause")
    pg.wait_for_function("document.getElementById('runstate').textContent === 'paused'")
    n = _step(pg)
    pg.click("#step")
    pg.wait_for_function(f"Number(document.getElementById('stepn').textContent) === {n + 1}")
    assert _boundary(pg) != before
    shapes = pg.locator(".grad-shape").all_inner_texts()
    assert shapes == ["(32, 6)", "(6, 2)", "(6,)", "(32, 4)", "(4, 6)", "(4,)", "(32, 2)", "(2, 4)", "(2,)"]
    caps = pg.locator(".layer-card h3").all_inner_texts()
    assert caps == ["model.0 · Linear(2 → 6)", "model.2 · Linear(6 → 4)", "model.4 · Linear(4 → 2)"]
    assert "‖·‖ = " in pg.inner_text(".gmap .cap")
    assert pg.locator("#flowchart rect").count() == 3
    assert float(pg.inner_text("#metrics").split("train loss ")[1].split(" ")[0]) > 0
    # a layer's trace rows: formulas and the broadcast sum of ∂b
    pg.click(".layer-card[data-layer='1']")
    pg.wait_for_selector("#trace table")
    trace = pg.inner_text("#trace")
    assert "trace rows of model.2" in trace
    assert "dW = dYᵀ @ X" in trace and "db = sum_rows(dY)" in trace
    assert "Σ over axis 0: (32, 4) → (4,)" in trace
    assert "dX = dZ ⊙ (1 − Z²)" in trace  # the tanh after it
    assert server.sessions[pg.evaluate("document.body.dataset.session")].step_count == n + 1


def _train_150_steps_and_shoot(pg):
    _apply(pg, dataset="circles", hidden="8,8", activation="relu", lr="0.03", samples="400", noise="0.05")
    pg.wait_for_function("document.querySelectorAll('#neurons .nrow').length === 2")
    pg.wait_for_function("document.getElementById('stepn').textContent === '0'")
    sid = pg.evaluate("document.body.dataset.session")
    pg.evaluate("async (sid) => { for (let i = 0; i < 15; i++) await fetch(`/api/session/${sid}/control`, "
                "{method: 'POST', body: JSON.stringify({action: 'step', n: 10})}); }", sid)
    pg.wait_for_function("document.getElementById('stepn').textContent === '150'")
    pg.click(".layer-card[data-layer='0']")
    pg.wait_for_selector("#trace table")
    return pg.locator("#boundary").screenshot()


def test_screenshot_matches_reference(page, server):
    pg = page
    shot = _train_150_steps_and_shoot(pg)
    if UPDATE:
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        REFERENCE.write_bytes(shot)
        README_SHOT.parent.mkdir(parents=True, exist_ok=True)
        README_SHOT.write_bytes(pg.screenshot(full_page=True))
    assert REFERENCE.exists(), f"no reference image {REFERENCE}: run with GLASSGRAD_UPDATE_SCREENSHOTS=1"
    ref = _png(REFERENCE.read_bytes())
    got = _png(shot)
    off = np.abs(got - ref).max(axis=2) > 48 if got.shape == ref.shape else np.ones(1, bool)
    if off.mean() >= 0.03:
        # one more try on a fresh page: a screenshot taken on a loaded machine has, rarely,
        # caught the canvas in another state; a real difference shows twice
        pg.reload()
        got = _png(_train_150_steps_and_shoot(pg))
        assert got.shape == ref.shape
        off = np.abs(got - ref).max(axis=2) > 48
    assert off.mean() < 0.03, f"{100 * off.mean():.1f}% of the pixels differ from {REFERENCE.name}"
    # and the learned circles are not the untrained picture: the centre and a corner differ in class
    h, w = got.shape[:2]
    assert np.abs(got[h // 2, w // 2] - got[4, 4]).max() > 30


def test_bad_input_gets_a_message_on_the_page(page, server):
    pg = page
    width = "hidden layer 1 width must be between 1 and 64 neurons, got "
    for fields, text in (({"hidden": "0"}, width + "0"), ({"hidden": "10000"}, width + "10000"),
                         ({"hidden": "8", "lr": "abc"}, "learning rate must be a number, got 'abc'")):
        _apply(pg, **fields)
        pg.wait_for_function(f"document.getElementById('message').textContent.includes({text!r})")
        assert "error" in pg.get_attribute("#message", "class")
    # the session goes on with its last good network, and clears the message when fixed
    assert pg.locator("#neurons .nrow").count() == 2
    _apply(pg, hidden="5", lr="0.01")
    pg.wait_for_function("document.querySelectorAll('#neurons .nrow').length === 1")
    # the new network can arrive on the event stream before the config request's reply,
    # which is what clears the message: wait for both
    pg.wait_for_function("document.getElementById('message').textContent === ''")
    assert "error" not in (pg.get_attribute("#message", "class") or "")
    pg.click("#step")
    pg.wait_for_function("document.getElementById('stepn').textContent === '1'")


def test_two_tabs_and_a_tab_closed_mid_training(browser, server):
    ctx = browser.new_context()
    try:
        a, b = ctx.new_page(), ctx.new_page()
        for pg in (a, b):
            pg.set_default_timeout(15000)
            pg.goto(server.url)
            pg.wait_for_selector("body[data-session]")
        sa, sb = (pg.evaluate("document.body.dataset.session") for pg in (a, b))
        assert sa != sb and {sa, sb} <= set(server.sessions)
        a.click("#start")
        _apply(b, hidden="3")
        b.wait_for_function("document.querySelectorAll('#neurons .nrow').length === 1")
        a.wait_for_function("Number(document.getElementById('stepn').textContent) >= 5")
        assert a.locator("#neurons .nrow").count() == 2 and b.inner_text("#stepn") == "0"
        a.close()  # closed while training: its session goes, the other tab goes on
        deadline = time.monotonic() + 10
        while sa in server.sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sa not in server.sessions and sb in server.sessions
        b.click("#step")
        b.wait_for_function("document.getElementById('stepn').textContent === '1'")
    finally:
        ctx.close()


def test_too_many_tabs_get_a_message(browser):
    srv, t = _serve(max_sessions=1)
    ctx = browser.new_context()
    try:
        a, b = ctx.new_page(), ctx.new_page()
        a.goto(srv.url)
        a.wait_for_selector("body[data-session]")
        b.goto(srv.url)
        b.wait_for_function("document.getElementById('message').textContent"
                            ".includes('too many open sessions')")
        a.close()
        deadline = time.monotonic() + 10
        while srv.sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        b.reload()
        b.wait_for_selector("body[data-session]", timeout=15000)
    finally:
        ctx.close()
        srv.stop()
        t.join(5)


def test_server_stopped_under_the_page(browser):
    srv, t = _serve()
    ctx = browser.new_context()
    try:
        pg = ctx.new_page()
        pg.goto(srv.url)
        pg.wait_for_selector("body[data-session]")
        srv.stop()
        t.join(5)
        pg.wait_for_function("document.getElementById('message').textContent.includes('reload')",
                             timeout=15000)
    finally:
        ctx.close()
