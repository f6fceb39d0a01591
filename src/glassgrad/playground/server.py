"""The playground's web server: the standard library's ``ThreadingHTTPServer``, a small JSON
API and Server-Sent Events.

Routes (``SID`` is the session id that ``POST /api/session`` returns; one per page load)::

    GET  /                          the page (static/index.html)
    GET  /static/NAME               the page's script and style sheet (shipped in the package)
    POST /api/session               a new session: {"id", "limits", "state"}
    POST /api/session/SID/config    {"config": {...}}: validate, rebuild and restart training
    POST /api/session/SID/control   {"action": "start" | "pause" | "step" | "reset", "n": 1}
    GET  /api/session/SID/trace?layer=K   the trace rows of hidden/output layer K
    GET  /api/session/SID/events    text/event-stream: a "state" event per snapshot
    GET  /api/status                {"sessions": N, "max_sessions": M}

Bad input is answered with status 400 (413 for a body over ``max_body`` bytes, 404 for an
unknown session, 503 when ``max_sessions`` sessions are open) and ``{"error": message}``;
nothing a client sends stops the server. A session is dropped when its event stream
disconnects (the tab was closed), or when it has had no stream and no request for
``idle_timeout`` seconds.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .session import ConfigError, Limits, Session

__all__ = ["PlaygroundServer", "make_server"]

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


def _static_files() -> dict[str, bytes]:
    """The page's files, read once from the package (no path from a request reaches the disk)."""
    out = {}
    root = resources.files("glassgrad.playground").joinpath("static")
    for f in root.iterdir():
        suffix = "." + f.name.rsplit(".", 1)[-1]
        if f.is_file() and suffix in _TYPES:
            out[f.name] = f.read_bytes()
    return out


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PlaygroundServer(ThreadingHTTPServer):
    """An HTTP server holding the playground sessions.

    Parameters
    ----------
    address : (host, port)
        Port 0 picks a free port (read it back from ``server_address``).
    max_sessions : int
        Open sessions (tabs) at most.
    limits : Limits
        Per-session bounds (widths, layers, samples, ...).
    idle_timeout : float
        Seconds after which a session without an event stream or request is dropped.
    max_body : int
        Largest request body accepted, in bytes.
    steps_per_second, snapshot_interval : float
        Passed to every :class:`Session`.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int] = ("127.0.0.1", 0), max_sessions: int = 8,
                 limits: Limits | None = None, idle_timeout: float = 30.0, max_body: int = 65536,
                 steps_per_second: float = 40.0, snapshot_interval: float = 0.2, quiet: bool = True) -> None:
        super().__init__(address, _Handler)
        self.max_sessions = max_sessions
        self.limits = limits or Limits()
        self.idle_timeout = idle_timeout
        self.max_body = max_body
        self.steps_per_second = steps_per_second
        self.snapshot_interval = snapshot_interval
        self.quiet = quiet
        self.sessions: dict[str, Session] = {}
        self.sessions_lock = threading.Lock()
        self.stopping = threading.Event()
        self.static = _static_files()
        self._reaper = threading.Thread(target=self._reap, name="playground-reaper", daemon=True)
        self._reaper.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> Session:
        with self.sessions_lock:
            if len(self.sessions) >= self.max_sessions:
                raise _ClientError(503, f"too many open sessions ({len(self.sessions)} of "
                                        f"{self.max_sessions}): close another playground tab and reload")
            sid = secrets.token_hex(12)
            s = Session(sid, self.limits, self.steps_per_second, self.snapshot_interval)
            self.sessions[sid] = s
            return s

    def session(self, sid: str) -> Session:
        with self.sessions_lock:
            s = self.sessions.get(sid)
        if s is None:
            raise _ClientError(404, "this session has ended (its tab was closed or it was idle): "
                                    "reload the page to start a new one")
        s.last_seen = time.monotonic()
        return s

    def drop(self, sid: str) -> None:
        with self.sessions_lock:
            s = self.sessions.pop(sid, None)
        if s is not None:
            s.close()

    def _reap(self) -> None:
        while not self.stopping.wait(1.0):
            now = time.monotonic()
            with self.sessions_lock:
                idle = [sid for sid, s in self.sessions.items()
                        if s.streams == 0 and now - s.last_seen > self.idle_timeout]
            for sid in idle:
                self.drop(sid)

    def close_all(self) -> None:
        """Stop every session and the event streams (before ``shutdown``)."""
        self.stopping.set()
        with self.sessions_lock:
            sids = list(self.sessions)
        for sid in sids:
            self.drop(sid)

    def stop(self) -> None:
        """Stop serving and release the port (from another thread than ``serve_forever``'s)."""
        self.close_all()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if not self.server.quiet:
            super().log_message(format, *args)

    # ------------------------------------------------------------------ replies
    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, allow_nan=False).encode(), "application/json")

    def _body(self) -> Any:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _ClientError(400, "bad Content-Length header") from None
        if n < 0 or n > self.server.max_body:
            raise _ClientError(413, f"request body too large ({n} bytes; at most {self.server.max_body})")
        raw = self.rfile.read(n) if n else b"{}"
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _ClientError(400, f"the request body is not valid JSON ({e})") from None

    def _dispatch(self, method: str) -> None:
        try:
            self._route(method)
        except _ClientError as e:
            self._json(e.status, {"error": str(e)})
        except ConfigError as e:
            self._json(400, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a bug must cost one request, never the server
            try:
                self._json(500, {"error": f"internal error: {type(e).__name__}: {e}"})
            except OSError:
                pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    # ------------------------------------------------------------------ routes
    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        srv = self.server
        if method == "GET" and not parts:
            return self._send(200, srv.static["index.html"], _TYPES[".html"])
        if method == "GET" and len(parts) == 2 and parts[0] == "static":
            body = srv.static.get(parts[1])
            if body is None:
                raise _ClientError(404, f"no such file: {parts[1]}")
            return self._send(200, body, _TYPES["." + parts[1].rsplit(".", 1)[-1]])
        if parts[:1] != ["api"]:
            raise _ClientError(404, f"no such page: {url.path}")
        if method == "GET" and parts == ["api", "status"]:
            return self._json(200, {"sessions": len(srv.sessions), "max_sessions": srv.max_sessions})
        if method == "POST" and parts == ["api", "session"]:
            self._body()
            s = srv.new_session()
            with s.lock:
                state = s.latest
            lim = srv.limits
            return self._json(200, {"id": s.id, "state": state,
                                    "limits": {"max_width": lim.max_width, "max_layers": lim.max_layers,
                                               "max_samples": lim.max_samples,
                                               "min_samples": lim.min_samples}})
        if len(parts) != 4 or parts[1] != "session":
            raise _ClientError(404, f"no such API route: {method} {url.path}")
        s = srv.session(parts[2])
        what = parts[3]
        if method == "POST" and what == "config":
            body = self._body()
            if not isinstance(body, dict) or "config" not in body:
                raise _ClientError(400, 'expected {"config": {...}}')
            s.configure(body["config"])
            return self._json(200, {"ok": True, "step": s.step_count})
        if method == "POST" and what == "control":
            body = self._body()
            action = body.get("action") if isinstance(body, dict) else None
            if action == "start":
                s.set_running(True)
            elif action == "pause":
                s.set_running(False)
            elif action == "step":
                n = body.get("n", 1)
                if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
                    raise _ClientError(400, f"step: n must be a whole number from 1 to 1000, got {n!r}")
                s.set_running(False)
                s.step(n)
            elif action == "reset":
                s.reset()
            else:
                raise _ClientError(400, f"action must be start, pause, step or reset; got {action!r}")
            return self._json(200, {"ok": True, "step": s.step_count, "running": s.running})
        if method == "GET" and what == "trace":
            q = parse_qs(url.query).get("layer", [""])[0]
            try:
                layer = int(q)
            except ValueError:
                raise _ClientError(400, f"trace: layer must be a whole number, got {q!r}") from None
            return self._json(200, s.trace_row(layer))
        if method == "GET" and what == "events":
            return self._events(s)
        raise _ClientError(404, f"no such API route: {method} {url.path}")

    def _events(self, s: Session) -> None:
        """Server-Sent Events: the latest snapshot whenever it changes, a comment every second
        (a write to a closed tab fails, which ends the stream and drops the session)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        srv = self.server
        with s.lock:
            s.streams += 1
        sent = -1
        try:
            while not srv.stopping.is_set() and not s.closed:
                with s.lock:
                    if s.version == sent:
                        s.changed.wait(1.0)
                    version, state = s.version, s.latest
                if version != sent and state is not None:
                    data = json.dumps(state, allow_nan=False)
                    self.wfile.write(f"event: state\ndata: {data}\n\n".encode())
                    sent = version
                else:
                    self.wfile.write(b": ping\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            pass
        finally:
            with s.lock:
                s.streams -= 1
                gone = s.streams == 0
            if gone and not srv.stopping.is_set():
                srv.drop(s.id)


def make_server(host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> PlaygroundServer:
    """A :class:`PlaygroundServer` bound to ``host:port`` (not yet serving: call
    ``serve_forever()``, e.g. in a thread)."""
    return PlaygroundServer((host, port), **kwargs)
