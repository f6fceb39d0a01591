"""The limits of the verified downloader, against a loopback HTTP server on 127.0.0.1:
size cap (Content-Length refused, endless body cut, gzip bomb), deadline, minimum throughput,
silent server, wrong Content-Length, wrong hash, 404, every failure listed; stale temporary
files removed and live ones of another process kept, two processes downloading one file.

The limits are tiny (fractions of a second, a few KiB) so that the file runs in seconds; every
download runs under a hang guard (:func:`bounded`) so that no test can hang."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import glassgrad.data._download as dl
import glassgrad.data.mnist as mnist_mod
from glassgrad.data import DownloadError
from glassgrad.data._download import download_verified

NAME = "blob.bin"
RAW = bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8))  # decompressed file
BODY = gzip.compress(RAW, mtime=0)
SHA = hashlib.sha256(RAW).hexdigest()
HANG_GUARD = 60.0  # seconds: not a timing threshold, only there so that a regression cannot hang
# tiny limits: the rate is judged after 0.5 s, an attempt may last 3 s
TINY = dict(timeout=5.0, deadline=3.0, min_rate=1000.0, rate_window=0.5, retries=0, backoff=0.0)


@pytest.fixture(autouse=True)
def _bypass_proxies(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for v in ("GLASSGRAD_DOWNLOAD_DEADLINE", "GLASSGRAD_DOWNLOAD_MIN_RATE", "GLASSGRAD_DOWNLOAD_RATE_WINDOW"):
        monkeypatch.delenv(v, raising=False)


def bounded(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a thread; the test fails (instead of hanging) if it has not
    returned after HANG_GUARD seconds. Returns its result or raises its exception."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(HANG_GUARD)
    if t.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not return within {HANG_GUARD:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


# ---------------------------------------------------------------------- loopback server
class _Handler(http.server.BaseHTTPRequestHandler):
    """``/<mode>/<file>``. Modes: ``ok`` the file; ``endless`` a body without Content-Length
    that never ends (bounded at 64 MiB so that a regression cannot fill the disk);
    ``trickle`` the file one byte per 50 ms; ``huge`` a Content-Length of 1 TB, then silence;
    ``long_cl``/``short_cl`` a Content-Length 100 bytes more/less than the body; ``badhash``
    valid gzip of other bytes; ``bomb`` 20 MB of zeros gzipped; ``silent`` reads the request and
    never answers; ``gate`` waits until two requests have arrived, then sends the file; ``404``."""

    def log_message(self, *args):
        pass

    def _head(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):
        srv = self.server
        srv.hits.append(self.path)
        mode = self.path.strip("/").split("/", 1)[0]
        try:
            if mode == "ok":
                self._head(len(BODY))
                self.wfile.write(BODY)
            elif mode == "endless":
                self._head(None)
                chunk = b"\0" * 65536
                for _ in range(1024):
                    if srv.stop.is_set():
                        break
                    self.wfile.write(chunk)
            elif mode == "trickle":
                self._head(len(BODY))
                for b in BODY:
                    if srv.stop.wait(0.05):
                        break
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
            elif mode == "huge":
                self._head(10 ** 12)
                self.wfile.flush()
                srv.stop.wait(HANG_GUARD)
            elif mode in ("long_cl", "short_cl"):
                self._head(len(BODY) + (100 if mode == "long_cl" else -100))
                self.wfile.write(BODY)
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif mode == "badhash":
                other = gzip.compress(RAW[:-1] + bytes([RAW[-1] ^ 1]), mtime=0)
                self._head(len(other))
                self.wfile.write(other)
            elif mode == "bomb":
                bomb = gzip.compress(b"\0" * 20_000_000, mtime=0)
                self._head(len(bomb))
                self.wfile.write(bomb)
            elif mode == "silent":
                srv.stop.wait(HANG_GUARD)
            elif mode == "gate":
                srv.gate.wait(HANG_GUARD)
                self._head(len(BODY))
                self.wfile.write(BODY)
            else:
                self.send_error(404, "Not Found")
        except (BrokenPipeError, ConnectionResetError, threading.BrokenBarrierError):
            pass  # the client gave up


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.hits, srv.stop, srv.gate = [], threading.Event(), threading.Barrier(2, timeout=HANG_GUARD)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    srv.url = lambda mode: f"http://127.0.0.1:{srv.server_address[1]}/{mode}/"
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.gate.abort()
        srv.shutdown()
        srv.server_close()
        t.join(5)


def fetch(tmp_path, server, *modes, **kw):
    """download_verified of NAME from the given modes (in order) into tmp_path/out."""
    opts = dict(TINY, size=len(RAW))
    opts.update(kw)
    return bounded(download_verified, NAME, tmp_path / "out", [server.url(m) for m in modes], SHA, **opts)


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def failure_of(tmp_path, server, mode, **kw) -> str:
    """The reason a single-mirror download from ``mode`` failed (nothing may be left behind)."""
    with pytest.raises(DownloadError) as ei:
        fetch(tmp_path, server, mode, **kw)
    assert len(ei.value.failures) == 1
    url, reason = ei.value.failures[0]
    assert url == server.url(mode) + NAME and reason in str(ei.value)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []
    return reason


# ---------------------------------------------------------------------- each failure
def test_correct_file(tmp_path, server):
    assert fetch(tmp_path, server, "ok") == tmp_path / "out"
    assert (tmp_path / "out").read_bytes() == RAW and leftovers(tmp_path) == []


def test_endless_stream_is_cut_at_the_size_cap(tmp_path, server):
    reason = failure_of(tmp_path, server, "endless")
    cap = len(RAW) + len(RAW) // 32 + 65536
    assert reason == f"cut off: the body grew past the limit of {cap} bytes for this file"
    reason = failure_of(tmp_path, server, "endless", max_bytes=1000)
    assert "limit of 1000 bytes" in reason


def test_content_length_over_the_cap_is_refused_before_reading(tmp_path, server):
    # the server sends its headers, then nothing: reading the body would end only at the deadline
    reason = failure_of(tmp_path, server, "huge", deadline=30.0, min_rate=0)
    assert reason.startswith("refused: Content-Length of 1000000000000 bytes is over the limit")


def test_trickle_fails_on_minimum_throughput(tmp_path, server):
    reason = failure_of(tmp_path, server, "trickle", deadline=30.0)
    assert reason.startswith("too slow: ") and "below the minimum of 1000 bytes/s" in reason


def test_trickle_fails_on_deadline_without_rate_check(tmp_path, server):
    reason = failure_of(tmp_path, server, "trickle", deadline=1.0, min_rate=0)
    assert reason.startswith("deadline exceeded: not done after 1 s")


def test_deadline_from_environment_and_bad_limits(tmp_path, server, monkeypatch):
    monkeypatch.setenv("GLASSGRAD_DOWNLOAD_DEADLINE", "0.75")
    reason = failure_of(tmp_path, server, "trickle", deadline=None, min_rate=0)
    assert reason.startswith("deadline exceeded: not done after 0.75 s")
    monkeypatch.setenv("GLASSGRAD_DOWNLOAD_DEADLINE", "soon")
    with pytest.raises(ValueError, match=r"\$GLASSGRAD_DOWNLOAD_DEADLINE must be a number of seconds"):
        fetch(tmp_path, server, "ok", deadline=None)
    monkeypatch.delenv("GLASSGRAD_DOWNLOAD_DEADLINE")
    with pytest.raises(ValueError, match="deadline must be > 0"):
        fetch(tmp_path, server, "ok", deadline=0)
    with pytest.raises(ValueError, match="min_rate must be >= 0"):
        fetch(tmp_path, server, "ok", min_rate=-1)
    with pytest.raises(ValueError, match="max_bytes must be a positive int"):
        fetch(tmp_path, server, "ok", max_bytes=0)
    assert server.hits == [f"/trickle/{NAME}"]


def test_silent_server_socket_timeout_and_deadline(tmp_path, server):
    # accepts the connection, reads the request, never answers
    reason = failure_of(tmp_path, server, "silent", timeout=0.5, deadline=30.0, min_rate=0)
    assert reason == "no answer within 0.5 s"
    # a socket timeout longer than the deadline: the watchdog ends the wait for the headers
    reason = failure_of(tmp_path, server, "silent", timeout=30.0, deadline=1.0, min_rate=0)
    assert reason.startswith("deadline exceeded: not done after 1 s (0 bytes received)")


def test_wrong_content_length(tmp_path, server):
    reason = failure_of(tmp_path, server, "long_cl")
    assert reason == f"incomplete download: got {len(BODY)} of {len(BODY) + 100} bytes (Content-Length)"
    reason = failure_of(tmp_path, server, "short_cl")  # the last 100 bytes are never read
    assert reason.startswith("not a valid gzip file")


def test_wrong_hash_and_404(tmp_path, server):
    assert failure_of(tmp_path, server, "badhash").startswith("SHA-256 mismatch: got ")
    assert failure_of(tmp_path, server, "404") == "HTTP 404 Not Found"


def test_gzip_bomb_is_cut_at_the_size_cap(tmp_path, server):
    reason = failure_of(tmp_path, server, "bomb")
    assert reason.startswith("decompresses to more than the limit of ")


def test_every_mirror_and_its_reason_are_listed(tmp_path, server):
    bad = ["404", "endless", "trickle", "huge", "long_cl", "badhash", "silent"]
    with pytest.raises(DownloadError) as ei:
        fetch(tmp_path, server, *bad, timeout=1.0)
    e = ei.value
    assert [u for u, _ in e.failures] == [server.url(m) + NAME for m in bad]
    msg = str(e)
    assert msg.startswith(f"could not download {NAME} from any of {len(bad)} mirrors:")
    for (u, why), line in zip(e.failures, msg.splitlines()[1:]):
        assert line == f"  {u}: {why}"
    assert leftovers(tmp_path) == []
    # the same mirrors and then a good one: each failure is logged, then the file arrives
    logs: list[str] = []
    assert fetch(tmp_path, server, *bad, "ok", timeout=1.0, log=logs.append) == tmp_path / "out"
    assert (tmp_path / "out").read_bytes() == RAW and leftovers(tmp_path) == []
    failed = [m for m in logs if m.startswith("failed: ")]
    assert len(failed) == len(bad) and all(m.endswith("; trying the next mirror") for m in failed)


def test_mnist_caps_each_download_at_its_known_size(tmp_path, server, monkeypatch):
    monkeypatch.delenv("GLASSGRAD_MNIST_MIRRORS", raising=False)
    name = mnist_mod.MNIST_FILES["test"][0]
    assert mnist_mod.MNIST_SIZES[name] == 7840016
    monkeypatch.setattr(mnist_mod, "MNIST_SIZES", {name: 100})
    with pytest.raises(DownloadError) as ei:
        bounded(mnist_mod.load_mnist, tmp_path, train=False, mirrors=[server.url("endless")], timeout=5.0,
                retries=0, deadline=5.0, log=lambda m: None)
    assert f"limit of {100 + 3 + 65536} bytes" in str(ei.value) and len(ei.value.failures) == 1


# ---------------------------------------------------------------------- temporary files
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.skipif(os.name == "nt", reason="owners are only checked on POSIX")
def test_stale_temporary_files_are_removed_live_ones_kept(tmp_path, server):
    host = dl._host_tag()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        old = time.time() - 2 * dl.STALE_AGE
        files = {
            f".out.{host}-{_dead_pid()}.k3j4h5.part": True,  # owner gone
            f".out.{host}-{_dead_pid()}.k3j4h6.tmp": True,
            f".out.{host}-{sleeper.pid}.a1b2c3.part": False,  # owner alive (another process)
            f".out.{host}-{os.getpid()}.zz9y8x.part": False,  # this process
            f".out.otherhost-{_dead_pid()}.q1w2e3.part": False,  # another host, fresh: cannot tell
            ".out.legacy12.part": False,  # no owner in the name, fresh
            ".out.legacy34.part": True,  # no owner, untouched for two hours
            ".other.part": False,  # another file's
            "out.part": False,  # not a hidden temporary file
        }
        for n in files:
            (tmp_path / n).write_bytes(b"x" * 10)
        os.utime(tmp_path / ".out.legacy34.part", (old, old))
        logs: list[str] = []
        assert fetch(tmp_path, server, "ok", log=logs.append) == tmp_path / "out"
        for n, stale in files.items():
            assert (tmp_path / n).exists() != stale, n
        assert sum(m.startswith("removed ") for m in logs) == sum(files.values())
    finally:
        sleeper.kill()
        sleeper.wait()


_CHILD = """
import sys
from glassgrad.data._download import download_verified
url, dest, sha, size = sys.argv[1:]
download_verified("blob.bin", dest, [url], sha, size=int(size), timeout=30, deadline=50, min_rate=0,
                  retries=0)
print("ok")
"""


def _child(url: str, dest: Path, sha: str = SHA) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(dl.__file__).parents[2])]
                                                      + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    return subprocess.Popen([sys.executable, "-c", _CHILD, url, str(dest), sha, str(len(RAW))], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_part(d: Path, proc: subprocess.Popen) -> Path:
    end = time.monotonic() + HANG_GUARD
    while time.monotonic() < end and proc.poll() is None:
        parts = [p for p in d.glob(".out.*.part")]
        if parts:
            return parts[0]
        time.sleep(0.02)
    pytest.fail(f"the child made no .part file (exit {proc.poll()}, {proc.communicate()})")


@pytest.mark.skipif(os.name == "nt", reason="owners are only checked on POSIX")
def test_part_file_of_a_killed_download_is_removed_next_time(tmp_path, server):
    child = _child(server.url("trickle"), tmp_path / "out")
    try:
        part = _wait_for_part(tmp_path, child)
    finally:
        child.kill()  # SIGKILL: no finally clause runs in the child
        child.communicate(timeout=HANG_GUARD)
    assert part.exists()
    assert fetch(tmp_path, server, "ok") == tmp_path / "out"
    assert not part.exists() and leftovers(tmp_path) == [] and (tmp_path / "out").read_bytes() == RAW


def test_two_processes_download_the_same_file(tmp_path, server):
    # the server holds both answers until both requests have arrived: the child's download is
    # in flight (its .part exists) while this process cleans up and downloads the same file
    child = _child(server.url("gate"), tmp_path / "out")
    try:
        part = _wait_for_part(tmp_path, child)
        assert fetch(tmp_path, server, "gate") == tmp_path / "out"
        out, err = child.communicate(timeout=HANG_GUARD)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0 and out.strip() == "ok", err
    assert not part.exists() and (tmp_path / "out").read_bytes() == RAW and leftovers(tmp_path) == []
    assert server.hits == [f"/gate/{NAME}"] * 2
