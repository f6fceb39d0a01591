"""Download a file from a list of mirrors, verify it, and only then give it its name.

``urllib`` only (no ``requests``). The rules, in order:

1. For each mirror (in order), up to ``1 + retries`` attempts with exponential back-off for
   transient failures (reset connections, timeouts mid-body, short bodies, HTTP 5xx).
   Permanent failures (HTTP 4xx, connection refused or timed out, unknown host, wrong
   checksum) move on to the next mirror at once, so that a machine without network fails
   within one ``timeout`` per mirror.
2. The body streams into a temporary file ``.<name>.<random>.part`` *in the destination
   directory*. A body shorter than its ``Content-Length`` is a failed attempt.
3. A gzip body (magic ``1f 8b``) is decompressed into a second temporary file; the SHA-256
   of the decompressed bytes must equal the expected sum.
4. Only then ``os.replace`` moves it to the final name (atomic on POSIX and Windows), so a
   half-written or unverified file never sits under the final name. Temporary files are
   removed on every failure path.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import http.client
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Sequence

__all__ = ["DownloadError", "download_verified", "sha256_of"]

_CHUNK = 1 << 20
_USER_AGENT = "glassgrad/0.1 (Python urllib)"


class DownloadError(RuntimeError):
    """Every mirror failed; the message lists each attempt and what to do instead."""


class _Permanent(Exception):
    """A failure that retrying the same URL will not fix."""


class _Transient(Exception):
    """A failure worth retrying (timeout, reset, short body, 5xx)."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url: str, out, timeout: float) -> int:
    """Stream ``url`` into the open binary file ``out``; return the number of bytes."""
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if 500 <= e.code < 600:
            raise _Transient(f"HTTP {e.code} {e.reason}") from None
        raise _Permanent(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
            raise _Permanent(f"cannot connect ({reason})") from None
        if isinstance(reason, TimeoutError):  # no answer at all: likely no network, don't wait again
            raise _Permanent(f"cannot connect (timed out after {timeout:g} s)") from None
        if isinstance(reason, OSError) and reason.errno in (errno.ECONNREFUSED, errno.ENETUNREACH,
                                                            errno.EHOSTUNREACH):
            raise _Permanent(f"cannot connect ({reason})") from None
        raise _Transient(f"cannot connect ({reason})") from None
    except TimeoutError as e:
        raise _Transient(f"timed out ({e})") from None
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        raise _Transient(f"{type(e).__name__}: {e}") from None
    with resp:
        status = getattr(resp, "status", 200)
        if status is not None and status != 200:
            raise _Permanent(f"HTTP status {status}")
        expected = resp.headers.get("Content-Length")
        n = 0
        try:
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                n += len(chunk)
        except http.client.IncompleteRead as e:
            raise _Transient(f"connection closed mid-download after {n + len(e.partial)} bytes") from None
        except TimeoutError:
            raise _Transient(f"timed out after {n} bytes") from None
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            raise _Transient(f"connection lost after {n} bytes ({type(e).__name__}: {e})") from None
    if expected is not None and expected.strip().isdigit() and n != int(expected):
        raise _Transient(f"incomplete download: got {n} of {int(expected)} bytes (Content-Length)")
    if n == 0:
        raise _Permanent("empty response")
    return n


def _decompress_and_hash(src: Path, dst) -> str:
    """Copy ``src`` into the open file ``dst``, gunzipping if it is gzip; return the SHA-256."""
    h = hashlib.sha256()
    with open(src, "rb") as f:
        is_gz = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if is_gz else open
    try:
        with opener(src, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as e:
        raise _Permanent(f"not a valid gzip file ({type(e).__name__}: {e})") from None
    return h.hexdigest()


def _remove(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def download_verified(remote_name: str, dest: str | os.PathLike, mirrors: Sequence[str],
                      sha256: str | None, *, timeout: float = 20.0, retries: int = 2,
                      backoff: float = 1.0, log=None) -> Path:
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
    timeout : float
        Socket timeout in seconds per request.
    retries : int
        Extra attempts per mirror for transient failures.
    backoff : float
        Seconds before the first retry (doubling after each).
    log : callable, optional
        Called with progress messages (e.g. ``print``).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        No mirror delivered a verified file; the message lists every attempt.
    """
    dest = Path(dest)
    d = dest.parent
    d.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    if not mirrors:
        raise DownloadError(f"no mirrors to download {remote_name} from")
    for base in mirrors:
        url = base if base.endswith("/") else base + "/"
        url += remote_name
        for attempt in range(1 + max(0, int(retries))):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            part = final_tmp = None
            try:
                fd, part = tempfile.mkstemp(dir=d, prefix=f".{dest.name}.", suffix=".part")
                if log:
                    log(f"downloading {url} -> {dest}")
                with os.fdopen(fd, "wb") as out:
                    _fetch(url, out, timeout)
                fd2, final_tmp = tempfile.mkstemp(dir=d, prefix=f".{dest.name}.", suffix=".tmp")
                with os.fdopen(fd2, "wb") as out:
                    digest = _decompress_and_hash(Path(part), out)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(final_tmp, 0o644)  # mkstemp makes 0600; a data cache may be shared
                if sha256 is not None and digest != sha256.lower():
                    raise _Permanent(f"SHA-256 mismatch: got {digest}, expected {sha256}")
                os.replace(final_tmp, dest)
                final_tmp = None
                return dest
            except _Transient as e:
                failures.append(f"{url}: {e}")
            except _Permanent as e:
                failures.append(f"{url}: {e}")
                break
            finally:
                _remove(part)
                _remove(final_tmp)
    raise DownloadError(f"could not download {remote_name}:\n  " + "\n  ".join(failures))
