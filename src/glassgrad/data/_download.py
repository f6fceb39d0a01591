"""Download a file from a list of mirrors, verify it, and only then give it its name.

``urllib`` only (no ``requests``). The rules, in order:

1. Temporary files left by an earlier download of the same file that are *stale* are removed
   first (see "Temporary files" below).
2. For each mirror (in order), up to ``1 + retries`` attempts with exponential back-off for
   transient failures (reset connections, socket timeouts mid-body, short bodies, HTTP 5xx).
   Permanent failures (HTTP 4xx, connection refused or timed out, unknown host, wrong
   checksum, and every limit below) move on to the next mirror at once, so that a machine
   without network fails within one ``timeout`` per mirror, and a mirror that misbehaves costs
   at most one ``deadline``.
3. The body streams into a temporary file in the destination directory, under four limits:

   * **size** -- at most ``max_bytes`` bytes. By default this is the file's expected
     (decompressed) ``size`` plus a small margin (``size // 32 + 64 KiB``; a gzip body is never
     larger than that), or :data:`DEFAULT_MAX_BYTES` when the size is unknown. A
     ``Content-Length`` over the limit is refused before any byte of the body is read; a body
     that grows past it is cut off. The same limit bounds the decompressed bytes (no gzip bomb).
   * **deadline** -- each attempt (connection, headers and body) must end within ``deadline``
     seconds (default :data:`DEFAULT_DEADLINE`, or ``$GLASSGRAD_DOWNLOAD_DEADLINE``).
   * **throughput** -- once ``rate_window`` seconds have passed since the request began (the
     grace period), the bytes received over the last ``rate_window`` seconds must average at
     least ``min_rate`` bytes/s (defaults :data:`DEFAULT_MIN_RATE` over
     :data:`DEFAULT_RATE_WINDOW`; ``$GLASSGRAD_DOWNLOAD_MIN_RATE`` and
     ``$GLASSGRAD_DOWNLOAD_RATE_WINDOW``; ``min_rate=0`` turns the check off).
   * **socket timeout** -- any single wait for the server longer than ``timeout`` seconds.

   The deadline and the throughput are enforced by a watchdog thread that shuts the socket
   down, so they hold even while the reader is blocked (a server that trickles its headers
   or its body one byte at a time). A body shorter than its ``Content-Length`` is a failed
   attempt.
4. A gzip body (magic ``1f 8b``) is decompressed into a second temporary file; the SHA-256
   of the decompressed bytes must equal the expected sum.
5. Only then ``os.replace`` moves it to the final name (atomic on POSIX and Windows), so a
   half-written or unverified file never sits under the final name. Temporary files are
   removed on every failure path that the process survives.

Temporary files
---------------
They are named ``.<name>.<host>-<pid>.<random>.part`` (the body) and ``....tmp`` (the
decompressed file), unique per attempt, so two processes (or threads) downloading the same
file never write into the same temporary file; each renames its own verified file onto the
final name, and the last rename wins with the same bytes. A process killed mid-download
leaves its temporary file behind; the next download of that file removes such a file when it
is stale:

* its owner ran on this host and that process no longer exists (POSIX only: on Windows the
  owner is not checked), or
* it has not been modified for longer than both the deadline and :data:`STALE_AGE` (the
  owner is on another host sharing the directory, or the name has no owner).

A live download never matches either rule (its process exists; with these defaults it
finishes or fails well within the age limit), so it is never removed under another one.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import gzip
import hashlib
import http.client
import math
import os
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

from .._atomic import pid_alive

__all__ = ["DownloadError", "download_verified", "sha256_of", "DEFAULT_DEADLINE", "DEFAULT_MIN_RATE",
           "DEFAULT_RATE_WINDOW", "DEFAULT_MAX_BYTES", "STALE_AGE"]

_CHUNK = 1 << 16
_USER_AGENT = "glassgrad/0.1 (Python urllib)"

#: Seconds one attempt at one file may take in all (10 minutes: the largest MNIST file,
#: 9.9 MB gzipped, needs 17 KB/s on average to make it).
DEFAULT_DEADLINE = 600.0
#: Minimum average throughput (bytes/s) over the last :data:`DEFAULT_RATE_WINDOW` seconds.
DEFAULT_MIN_RATE = 1024.0
#: Seconds of the throughput window, and of the grace period before the first judgement.
DEFAULT_RATE_WINDOW = 30.0
#: Size limit (bytes) of a download whose expected size is unknown.
DEFAULT_MAX_BYTES = 1 << 30
#: Seconds without modification after which an unowned temporary file is stale.
STALE_AGE = 3600.0

_ENV_DEADLINE = "GLASSGRAD_DOWNLOAD_DEADLINE"
_ENV_MIN_RATE = "GLASSGRAD_DOWNLOAD_MIN_RATE"
_ENV_RATE_WINDOW = "GLASSGRAD_DOWNLOAD_RATE_WINDOW"


class DownloadError(RuntimeError):
    """Every mirror failed. The message lists each attempt (URL and reason) and, from
    callers such as :class:`~glassgrad.data.MNIST`, what to do instead; ``failures`` holds
    the same as ``(url, reason)`` pairs."""

    def __init__(self, message: str, failures: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


class _Permanent(Exception):
    """A failure that retrying the same URL will not fix."""


class _Transient(Exception):
    """A failure worth retrying (timeout, reset, short body, 5xx)."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------- limits
def _limit(value: float | None, env: str | None, default: float, name: str, unit: str, *,
           allow_zero: bool = False) -> float:
    """``value``, else ``$env``, else ``default``; checked to be a positive (or zero) number."""
    source = f"download_verified: {name}"
    if value is None and env:
        raw = os.environ.get(env, "").strip()
        if raw:
            source = f"${env}"
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{source} must be a number of {unit}, got {raw!r}") from None
    if value is None:
        return float(default)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{source} must be a number of {unit}, got {type(value).__name__}") from None
    if math.isnan(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{source} must be {'>= 0' if allow_zero else '> 0'} {unit}, got {value!r}")
    return v


def _max_bytes(max_bytes: int | None, size: int | None) -> int:
    if max_bytes is not None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ValueError(f"download_verified: max_bytes must be a positive int, got {max_bytes!r}")
        return max_bytes
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"download_verified: size must be a non-negative int, got {size!r}")
        return size + size // 32 + (64 << 10)
    return DEFAULT_MAX_BYTES


class _Watchdog:
    """Ends one attempt from a helper thread, by shutting its socket down, once the deadline
    has passed or the throughput over the last ``window`` seconds is below ``min_rate``.

    The reader stores the number of body bytes received in ``nbytes``; ``reason`` says why
    the attempt was ended (``None`` while it is not)."""

    def __init__(self, deadline: float, min_rate: float, window: float) -> None:
        self.deadline, self.min_rate, self.window = deadline, min_rate, window
        self.t0 = time.monotonic()
        self.nbytes = 0
        self.reason: str | None = None
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="glassgrad-download-watchdog", daemon=True)
        self._thread.start()

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            ended = self.reason is not None
        if ended:
            _shutdown(sock)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _end(self, reason: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
            socks = list(self._socks)
        for s in socks:
            _shutdown(s)

    def _run(self) -> None:
        poll = max(0.01, min(0.25, self.window / 10, self.deadline / 10))
        samples = collections.deque([(self.t0, 0)])
        while not self._stop.wait(poll):
            now, n = time.monotonic(), self.nbytes
            samples.append((now, n))
            if now - self.t0 >= self.deadline:
                self._end(f"deadline exceeded: not done after {self.deadline:g} s ({n} bytes received)")
                return
            if self.min_rate > 0 and now - self.t0 >= self.window:
                while len(samples) > 1 and samples[1][0] <= now - self.window:
                    samples.popleft()
                t_old, n_old = samples[0]
                rate = (n - n_old) / (now - t_old)
                if rate < self.min_rate:
                    self._end(f"too slow: {rate:.0f} bytes/s over the last {now - t_old:.1f} s, below the "
                              f"minimum of {self.min_rate:g} bytes/s ({n} bytes received)")
                    return


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedMixin:
    """An urllib handler whose connections hand their socket to a :class:`_Watchdog` as soon
    as it is connected (before TLS, a proxy tunnel or the request), so that it can be shut."""

    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def do_open(self, http_class, req, **kwargs):
        watchdog = self._watchdog

        class _Connection(http_class):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                create = self._create_connection

                def create_watched(*a, **k):
                    sock = create(*a, **k)
                    watchdog.attach(sock)
                    return sock

                self._create_connection = create_watched

        return super().do_open(_Connection, req, **kwargs)


class _WatchedHTTPHandler(_WatchedMixin, urllib.request.HTTPHandler):
    pass


_HANDLERS: list[type] = [_WatchedHTTPHandler]
if hasattr(urllib.request, "HTTPSHandler"):  # Python built with ssl
    class _WatchedHTTPSHandler(_WatchedMixin, urllib.request.HTTPSHandler):
        pass

    _HANDLERS.append(_WatchedHTTPSHandler)


def _open(req: urllib.request.Request, timeout: float, watchdog: _Watchdog):
    """``urlopen`` (proxies from the environment included) with the sockets watched."""
    opener = urllib.request.build_opener(*(h(watchdog) for h in _HANDLERS))
    return opener.open(req, timeout=timeout)


# ---------------------------------------------------------------------- one attempt
def _open_error(e: BaseException, timeout: float) -> Exception:
    """The failure (permanent or transient) that an exception raised while connecting means."""
    if isinstance(e, urllib.error.HTTPError):
        if 500 <= e.code < 600:
            return _Transient(f"HTTP {e.code} {e.reason}")
        return _Permanent(f"HTTP {e.code} {e.reason}")
    if isinstance(e, urllib.error.URLError):
        reason = e.reason
        if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
            return _Permanent(f"cannot connect ({reason})")
        if isinstance(reason, TimeoutError):  # no answer at all: likely no network, don't wait again
            return _Permanent(f"cannot connect (timed out after {timeout:g} s)")
        if isinstance(reason, OSError) and reason.errno in (errno.ECONNREFUSED, errno.ENETUNREACH,
                                                            errno.EHOSTUNREACH):
            return _Permanent(f"cannot connect ({reason})")
        if isinstance(reason, str):  # e.g. "unknown url type"
            return _Permanent(f"cannot open URL ({reason})")
        return _Transient(f"cannot connect ({reason})")
    if isinstance(e, TimeoutError):  # connected, but the answer did not come in time
        return _Transient(f"no answer within {timeout:g} s")
    if isinstance(e, ValueError):
        return _Permanent(f"invalid URL ({e})")
    return _Transient(f"{type(e).__name__}: {e}")


def _content_length(resp) -> int | None:
    value = resp.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _fetch(url: str, out, timeout: float, max_bytes: int, watchdog: _Watchdog) -> int:
    """Stream ``url`` into the open binary file ``out``; return the number of bytes."""
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
    try:
        resp = _open(req, timeout, watchdog)
    except (OSError, http.client.HTTPException, ValueError) as e:
        if watchdog.reason:
            raise _Permanent(watchdog.reason) from None
        raise _open_error(e, timeout) from None
    n = 0
    with resp:
        status = getattr(resp, "status", 200)
        if status is not None and status != 200:
            raise _Permanent(f"HTTP status {status}")
        expected = _content_length(resp)
        if expected is not None and expected > max_bytes:
            raise _Permanent(f"refused: Content-Length of {expected} bytes is over the limit of {max_bytes} "
                             "bytes for this file")
        try:
            while True:
                # read1: returns whatever one recv brings, so the loop sees a trickle as it comes
                chunk = resp.read1(_CHUNK)
                if not chunk:
                    break
                if n + len(chunk) > max_bytes:
                    raise _Permanent(f"cut off: the body grew past the limit of {max_bytes} bytes for this "
                                     "file")
                out.write(chunk)
                n += len(chunk)
                watchdog.nbytes = n
                if watchdog.reason:  # also ends a transfer whose socket it could not shut (ftp://)
                    raise _Permanent(watchdog.reason)
        except http.client.IncompleteRead as e:
            if watchdog.reason:
                raise _Permanent(watchdog.reason) from None
            raise _Transient(f"connection closed mid-download after {n + len(e.partial)} bytes") from None
        except TimeoutError:
            if watchdog.reason:
                raise _Permanent(watchdog.reason) from None
            raise _Transient(f"timed out after {n} bytes (no data for {timeout:g} s)") from None
        except (OSError, http.client.HTTPException) as e:
            if watchdog.reason:
                raise _Permanent(watchdog.reason) from None
            raise _Transient(f"connection lost after {n} bytes ({type(e).__name__}: {e})") from None
    watchdog.stop()
    if watchdog.reason:  # the watchdog shut the socket: the end of the body was not the server's
        raise _Permanent(watchdog.reason)
    if expected is not None and n != expected:
        raise _Transient(f"incomplete download: got {n} of {expected} bytes (Content-Length)")
    if n == 0:
        raise _Permanent("empty response")
    return n


def _decompress_and_hash(src: Path, dst, max_bytes: int) -> str:
    """Copy ``src`` into the open file ``dst``, gunzipping if it is gzip (at most ``max_bytes``
    bytes out); return the SHA-256."""
    h = hashlib.sha256()
    with open(src, "rb") as f:
        is_gz = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if is_gz else open
    n = 0
    try:
        with opener(src, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                n += len(chunk)
                if n > max_bytes:
                    raise _Permanent(f"decompresses to more than the limit of {max_bytes} bytes for this "
                                     "file")
                h.update(chunk)
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as e:
        raise _Permanent(f"not a valid gzip file ({type(e).__name__}: {e})") from None
    return h.hexdigest()


# ---------------------------------------------------------------------- temporary files
def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


def _is_stale(path: Path, prefix: str, now: float, max_age: float, host: str) -> bool:
    """Whether the temporary file ``path`` (``<prefix><host>-<pid>.<random>.part|.tmp``) was left
    by a download that is over (see the module docstring)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return False
    if now - mtime > max_age:
        return True
    m = re.fullmatch(r"(.+)-(\d+)\.[^.]+\.(?:part|tmp)", path.name[len(prefix):])
    if m is None or m.group(1) != host or os.name == "nt":  # os.kill(pid, 0) is no probe on Windows
        return False
    return not pid_alive(int(m.group(2)))


def _remove_stale(dest: Path, max_age: float, log: Callable[[str], Any] | None) -> list[Path]:
    """Remove the stale temporary files of earlier downloads of ``dest``; return them."""
    prefix = f".{dest.name}."
    now, host = time.time(), _host_tag()
    removed = []
    try:
        entries = list(dest.parent.iterdir())
    except OSError:
        return removed
    for p in entries:
        if not (p.name.startswith(prefix) and p.name.endswith((".part", ".tmp"))):
            continue
        if _is_stale(p, prefix, now, max_age, host):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
                if log:
                    log(f"removed {p.name}, left by an earlier download that did not finish")
    return removed


def _remove(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


# ---------------------------------------------------------------------- the public function
def download_verified(remote_name: str, dest: str | os.PathLike, mirrors: Sequence[str],
                      sha256: str | None, *, size: int | None = None, max_bytes: int | None = None,
                      timeout: float = 20.0, deadline: float | None = None, min_rate: float | None = None,
                      rate_window: float | None = None, retries: int = 2, backoff: float = 1.0,
                      log: Callable[[str], Any] | None = None) -> Path:
    """Download ``<mirror>/<remote_name>`` to ``dest`` (gunzipped), verified, atomically.

    Parameters
    ----------
    remote_name : str
        File name on the mirrors (e.g. ``'t10k-labels-idx1-ubyte.gz'``).
    dest : path
        Final path of the (decompressed) file. Its directory is created if needed.
    mirrors : sequence of str
        Base URLs, tried in order (a trailing ``/`` is optional).
    sha256 : str or None
        Expected hex SHA-256 of the decompressed file; ``None`` skips the check.
    size : int, optional
        Expected size in bytes of the decompressed file; it sets the default ``max_bytes``.
    max_bytes : int, optional
        Most bytes accepted for the body and for the decompressed file. Default:
        ``size + size // 32 + 65536``, or :data:`DEFAULT_MAX_BYTES` (1 GiB) without ``size``.
    timeout : float
        Socket timeout in seconds: the longest single wait for the server (connect, answer,
        next bytes).
    deadline : float, optional
        Seconds one attempt may take in all. Default ``$GLASSGRAD_DOWNLOAD_DEADLINE``, else
        :data:`DEFAULT_DEADLINE` (600).
    min_rate : float, optional
        Minimum average bytes/s over the last ``rate_window`` seconds, judged once
        ``rate_window`` seconds have passed; ``0`` turns the check off. Default
        ``$GLASSGRAD_DOWNLOAD_MIN_RATE``, else :data:`DEFAULT_MIN_RATE` (1024).
    rate_window : float, optional
        Seconds of that window (and of the grace period). Default
        ``$GLASSGRAD_DOWNLOAD_RATE_WINDOW``, else :data:`DEFAULT_RATE_WINDOW` (30).
    retries : int
        Extra attempts per mirror for transient failures.
    backoff : float
        Seconds before the first retry (doubling after each).
    log : callable, optional
        Called with progress messages (e.g. ``print``): each attempt, each failure, each
        stale temporary file removed.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        No mirror delivered a verified file; the message lists every attempt and why it
        failed (``.failures`` holds them as ``(url, reason)`` pairs).
    ValueError, TypeError
        A limit (argument or environment variable) that is not a positive number.

    Notes
    -----
    In the worst case a call takes about ``len(mirrors) * (1 + retries) * deadline``
    seconds, but only transient failures are retried and each limit fails the mirror at
    once; nothing over ``max_bytes`` is ever written.
    """
    deadline = _limit(deadline, _ENV_DEADLINE, DEFAULT_DEADLINE, "deadline", "seconds")
    min_rate = _limit(min_rate, _ENV_MIN_RATE, DEFAULT_MIN_RATE, "min_rate", "bytes/s", allow_zero=True)
    rate_window = _limit(rate_window, _ENV_RATE_WINDOW, DEFAULT_RATE_WINDOW, "rate_window", "seconds")
    timeout = _limit(timeout, None, 20.0, "timeout", "seconds")
    cap = _max_bytes(max_bytes, size)
    if not mirrors:
        raise DownloadError(f"no mirrors to download {remote_name} from")
    dest = Path(dest)
    d = dest.parent
    d.mkdir(parents=True, exist_ok=True)
    _remove_stale(dest, max(deadline, STALE_AGE), log)
    prefix = f".{dest.name}.{_host_tag()}-{os.getpid()}."
    failures: list[tuple[str, str]] = []
    for k, base in enumerate(mirrors):
        url = (base if base.endswith("/") else base + "/") + remote_name
        for attempt in range(1 + max(0, int(retries))):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            part = final_tmp = None
            watchdog = None
            try:
                fd, part = tempfile.mkstemp(dir=d, prefix=prefix, suffix=".part")
                if log:
                    log(f"downloading {url} -> {dest}")
                watchdog = _Watchdog(deadline, min_rate, rate_window)
                with os.fdopen(fd, "wb") as out:
                    _fetch(url, out, timeout, cap, watchdog)
                fd2, final_tmp = tempfile.mkstemp(dir=d, prefix=prefix, suffix=".tmp")
                with os.fdopen(fd2, "wb") as out:
                    digest = _decompress_and_hash(Path(part), out, cap)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(final_tmp, 0o644)  # mkstemp makes 0600; a data cache may be shared
                if sha256 is not None and digest != sha256.lower():
                    raise _Permanent(f"SHA-256 mismatch: got {digest}, expected {sha256}")
                os.replace(final_tmp, dest)
                final_tmp = None
                return dest
            except (_Transient, _Permanent) as e:
                failures.append((url, str(e)))
                permanent = isinstance(e, _Permanent)
                if log:
                    then = ("retrying" if not (permanent or attempt == max(0, int(retries)))
                            else "trying the next mirror" if k + 1 < len(mirrors) else "no mirror left")
                    log(f"failed: {url}: {e}; {then}")
                if permanent:
                    break
            finally:
                if watchdog is not None:
                    watchdog.stop()
                _remove(part)
                _remove(final_tmp)
    lines = "\n  ".join(f"{u}: {why}" for u, why in failures)
    raise DownloadError(f"could not download {remote_name} from any of {len(mirrors)} mirror"
                        f"{'s' if len(mirrors) != 1 else ''}:\n  {lines}", failures)
