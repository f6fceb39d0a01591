"""The playground's server, JSON API and event stream (no browser; loopback only)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.glassbox import GradientFlow
from glassgrad.playground import ConfigError, Limits, make_server, validate_config


@pytest.fixture
def server():
    srv = make_server(idle_timeout=30.0, max_sessions=3, snapshot_interval=0.05)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.stop()
    t.join(5)
    assert not t.is_alive()


def call(srv, method, path, body=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(srv.url + path.lstrip("/"), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_page_and_assets_are_served_from_the_package(server):
    with urllib.request.urlopen(server.url, timeout=10) as r:
        page = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/html")
    assert "/static/app.js" in page and "/static/style.css" in page
    assert "http://" not in page and "https://" not in page  # nothing from the network
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        with urllib.request.urlopen(server.url + "static/" + name, timeout=10) as r:
            assert r.headers["Content-Type"].startswith(kind)
            assert "https://" not in r.read().decode()
    for bad in ("static/../session.py", "static/nope.js", "etc/passwd", "api/nothing"):
        assert call(server, "GET", bad)[0] == 404


def test_session_state_has_every_panel(server):
    status, r = call(server, "POST", "/api/session", {})
    assert status == 200 and r["limits"]["max_width"] == 64
    s = r["state"]
    assert s["config"]["dataset"] == "moons" and s["step"] == 0 and s["classes"] == 2
    assert len(s["points"]["train"]) + len(s["points"]["test"]) == s["config"]["samples"]
    assert [len(layer) for layer in s["neurons"]["layers"]] == [16, 16]
    assert [L["name"] for L in s["layers"]] == ["model.0", "model.2", "model.4"]
    assert all(L["grads"] == [] for L in s["layers"])  # nothing traced before the first step
    sid = r["id"]
    cfg = {"dataset": "spirals", "samples": "300", "noise": "0.05", "hidden": "8, 5", "activation": "tanh",
           "loss": "mse", "optimizer": "sgd", "lr": "0.5", "batch_size": "20"}
    r = call(server, "POST", f"/api/session/{sid}/config", {"config": cfg})
    assert r == (200, {"ok": True, "step": 0})
    assert call(server, "POST", f"/api/session/{sid}/control", {"action": "step", "n": 3})[0] == 200
    s = server.sessions[sid].latest
    assert s["step"] == 3 and s["classes"] == 3 and s["config"]["hidden"] == "8,5"
    shapes = [[g["shape"] for g in L["grads"]] for L in s["layers"]]
    assert shapes == [[[20, 8], [8, 2], [8]], [[20, 5], [5, 8], [5]], [[20, 3], [3, 5], [3]]]
    assert all(g["norm"] > 0 for L in s["layers"] for g in L["grads"])
    assert [f["status"] for f in s["flow"]] == ["ok", "ok", "ok"]
    assert len(s["history"]) == 2 and s["history"][-1][0] == 3
    n = s["boundary"]["size"]
    assert len(gg.tensor(np.frombuffer(__import__("base64").b64decode(s["boundary"]["data"]),
                                       dtype=np.uint8).copy())) == n * n


def test_gradient_panels_are_glassgrads_gradients(server):
    """δ, ∂W, ∂b of the panels are the batch's gradients: ∂W = δᵀ X and ∂b = Σ_rows δ."""
    sid = call(server, "POST", "/api/session", {})[1]["id"]
    call(server, "POST", f"/api/session/{sid}/control", {"action": "step"})
    sess = server.sessions[sid]
    rec = sess.last_trace.find(module="model.0 ")[0]
    X = sess.last_batch[0]
    dY = rec.received[0].value
    np.testing.assert_allclose(rec.grad("dW").value, dY.T @ X, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(rec.grad("db").value, dY.sum(0), rtol=1e-4, atol=1e-7)
    panel = sess.latest["layers"][0]["grads"]
    assert panel[1]["norm"] == pytest.approx(float(np.linalg.norm(dY.T @ X)), rel=1e-4)
    status, t = call(server, "GET", f"/api/session/{sid}/trace?layer=0")
    assert status == 200 and t["signature"].startswith("Linear(X (32, 2)")
    lin = t["rows"][0]
    assert lin["node"] == "LinearBackward"
    db = [g for g in lin["sent"] if g["name"] == "db"][0]
    assert db["formula"] == "db = sum_rows(dY)" and db["broadcast"]["axes"] == [0]
    assert db["broadcast"]["grad_shape"] == [32, 16] and db["broadcast"]["input_shape"] == [16]
    assert t["rows"][1]["node"] == "ReluBackward"
    for q in ("layer=9", "layer=abc", "layer=-1"):
        status, r = call(server, "GET", f"/api/session/{sid}/trace?{q}")
        assert status == 400 and "layer" in r["error"]


@pytest.mark.parametrize("cfg, words", [
    ({"hidden": "0"}, "hidden layer 1 width must be between 1 and 64 neurons, got 0"),
    ({"hidden": "8,10000"}, "hidden layer 2 width must be between 1 and 64 neurons, got 10000"),
    ({"hidden": "8,x"}, "hidden layer 2 width must be a whole number, got 'x'"),
    ({"hidden": "2,2,2,2,2,2,2"}, "at most 6 hidden layers, got 7"),
    ({"lr": "abc"}, "learning rate must be a number, got 'abc'"),
    ({"lr": "0"}, "learning rate must be > 0"),
    ({"lr": "nan"}, "learning rate must be a finite number"),
    ({"samples": "1e9"}, "number of samples must be a whole number"),
    ({"samples": 100000}, "number of samples must be between 20 and 2000"),
    ({"noise": "-1"}, "noise must be between 0 and 1"),
    ({"batch_size": 0}, "batch size must be between 1 and the"),
    ({"dataset": "mnist"}, "data set must be one of xor, moons, circles, spirals, blobs"),
    ({"activation": "gelu"}, "activation must be one of"),
    ({"optimizer": None}, "optimizer must be one of"),
])
def test_bad_settings_get_a_message_and_keep_the_session(server, cfg, words):
    sid = call(server, "POST", "/api/session", {})[1]["id"]
    status, r = call(server, "POST", f"/api/session/{sid}/config", {"config": cfg})
    assert status == 400 and words in r["error"]
    # the session still trains with its previous configuration
    assert call(server, "POST", f"/api/session/{sid}/control", {"action": "step"})[0] == 200
    assert server.sessions[sid].config["hidden"] == [16, 16]


def test_linear_model_without_hidden_layers(server):
    sid = call(server, "POST", "/api/session", {})[1]["id"]
    assert call(server, "POST", f"/api/session/{sid}/config", {"config": {"hidden": "none"}})[0] == 400
    assert call(server, "POST", f"/api/session/{sid}/config", {"config": {"hidden": ""}})[0] == 200
    assert call(server, "POST", f"/api/session/{sid}/control", {"action": "step"})[0] == 200
    s = server.sessions[sid].latest
    assert s["neurons"]["layers"] == []
    assert [g["shape"] for g in s["layers"][0]["grads"]] == [[32, 2], [2, 2], [2]]


def test_bad_requests_never_stop_the_server(server):
    sid = call(server, "POST", "/api/session", {})[1]["id"]
    base = f"/api/session/{sid}"
    assert call(server, "POST", base + "/control", raw=b"{not json")[0] == 400
    assert call(server, "POST", base + "/control", {"action": "fly"})[1]["error"].startswith("action must be")
    assert "n must be" in call(server, "POST", base + "/control", {"action": "step", "n": 10**9})[1]["error"]
    assert call(server, "POST", base + "/config", {"cfg": {}})[0] == 400
    assert call(server, "POST", base + "/config", {"config": [1, 2]})[0] == 400
    assert call(server, "POST", base + "/config", raw=b"x" * 70000)[0] == 413
    assert call(server, "POST", "/api/session/nope/control", {"action": "start"})[0] == 404
    # a garbage request line and a dropped connection
    c = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
    c.sock = __import__("socket").create_connection(server.server_address[:2])
    c.sock.sendall(b"\x00\x01garbage\r\n\r\n")
    c.close()
    assert call(server, "GET", "/api/status")[0] == 200


def test_session_limit_and_per_tab_sessions(server):
    ids = [call(server, "POST", "/api/session", {})[1]["id"] for _ in range(3)]
    assert len(set(ids)) == 3
    status, r = call(server, "POST", "/api/session", {})
    assert status == 503 and "too many open sessions (3 of 3)" in r["error"]
    call(server, "POST", f"/api/session/{ids[0]}/config", {"config": {"hidden": "3"}})
    call(server, "POST", f"/api/session/{ids[1]}/control", {"action": "step", "n": 2})
    a, b = server.sessions[ids[0]], server.sessions[ids[1]]
    assert a.config["hidden"] == [3] and b.config["hidden"] == [16, 16]
    assert a.step_count == 0 and b.step_count == 2


def _open_stream(srv, sid):
    c = http.client.HTTPConnection(*srv.server_address[:2], timeout=10)
    c.request("GET", f"/api/session/{sid}/events")
    r = c.getresponse()
    assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"
    return c, r


def _next_state(r):
    lines = []
    while True:
        line = r.fp.readline().decode()
        if line == "\n" and any(x.startswith("data: ") for x in lines):
            break
        lines.append(line)
    return json.loads([x for x in lines if x.startswith("data: ")][0][6:])


def test_event_stream_and_closed_tab(server):
    sid = call(server, "POST", "/api/session", {})[1]["id"]
    c, r = _open_stream(server, sid)
    assert _next_state(r)["step"] == 0
    call(server, "POST", f"/api/session/{sid}/control", {"action": "start"})
    seen = [_next_state(r)["step"] for _ in range(3)]
    assert seen[-1] > 0 and seen == sorted(seen)
    r.close()  # the tab is closed while training
    c.close()
    deadline = time.monotonic() + 10
    while sid in server.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sid not in server.sessions
    assert call(server, "POST", f"/api/session/{sid}/control", {"action": "step"})[0] == 404
    assert call(server, "POST", "/api/session", {})[0] == 200  # the server goes on


def test_idle_sessions_are_dropped():
    srv = make_server(idle_timeout=0.2)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        sid = call(srv, "POST", "/api/session", {})[1]["id"]
        deadline = time.monotonic() + 10
        while sid in srv.sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sid not in srv.sessions
    finally:
        srv.stop()


def test_validate_config_and_limits():
    cfg = validate_config({"dataset": "xor", "hidden": [4, 4], "lr": 0.1})
    assert cfg["hidden"] == [4, 4] and cfg["samples"] == 400 and cfg["activation"] == "tanh"
    assert validate_config({"hidden": ""})["hidden"] == []  # a linear model
    with pytest.raises(ConfigError, match="between 1 and 2 neurons, got 3"):
        validate_config({"hidden": "3"}, Limits(max_width=2))
    with pytest.raises(ConfigError, match="JSON object"):
        validate_config("moons")


def test_gradient_flow_status():
    m = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.Linear(3, 1))
    f = GradientFlow(m, warn=False)
    assert f.status() == {"0": "", "1": ""}
    m(gg.ones(4, 2)).sum().backward()
    f.record()
    assert f.status() == {"0": "ok", "1": "ok"}
    m[0].weight.grad = gg.zeros(3, 2)
    m[0].bias.grad = gg.zeros(3)
    f.record()
    assert f.status()["0"] == "vanishing"
    m[1].weight.grad = gg.full((1, 3), float("inf"))
    f.record()
    assert f.status()["1"] == "exploding"


def test_cli_playground_prints_url_and_stops_on_ctrl_c(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    p = subprocess.Popen([sys.executable, "-m", "glassgrad", "playground"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        line = p.stdout.readline()
        assert line.startswith("glassgrad playground: http://127.0.0.1:"), line
        url = line.split()[2]
        with urllib.request.urlopen(url, timeout=10) as r:
            assert b"glassgrad playground" in r.read()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        assert p.returncode == 0, err
        assert "stopped" in out
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_cli_playground_bad_arguments():
    from glassgrad.cli import main

    assert main(["playground", "--port", "70000"]) == 2
    assert main(["playground", "--max-width", "0"]) == 2


def test_a_diverging_run_stops_with_a_message(server):
    sid = call(server, "POST", "/api/session", {})[1]["id"]
    sess = server.sessions[sid]
    with sess.lock:
        sess.model[0].weight.array[...] = np.nan
    assert call(server, "POST", f"/api/session/{sid}/control", {"action": "step", "n": 5})[0] == 200
    s = sess.latest
    assert s["step"] == 1 and "training diverged at step 1" in s["message"] and not s["running"]
    assert s["metrics"]["train_loss"] is None and all(g["norm"] is None for g in s["layers"][0]["grads"])
    json.dumps(s, allow_nan=False)
    assert call(server, "POST", f"/api/session/{sid}/control", {"action": "reset"})[0] == 200
    assert sess.latest["message"] == "" and sess.latest["metrics"]["train_loss"] is not None
