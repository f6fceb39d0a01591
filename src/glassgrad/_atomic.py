"""Atomic file writes: everything glassgrad saves goes through :func:`atomic_open`.

The data is written to a temporary file in the destination's folder and moved onto the
final name with ``os.replace`` only once it is complete, so a crash or an error never
leaves a half-written file under that name (and a failed write leaves no temp file).

A process killed mid-write (SIGKILL, power loss) cannot clean up, so its temporary file
stays behind. Temporary files are named ``.tmp-<name>-<host>-<pid>-<random>`` (``host``: 8
hex digits of a hash of the host name) so that :func:`remove_stale_temp_files` can tell an
orphan (its writer on this host is gone, or it has not been touched for ``max_age``
seconds) from the file of a save that is still running.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
import time
from typing import IO, Any, Iterable, Iterator

_TMP = ".tmp-"
# .tmp-<name>-<host>-<pid>-<random from mkstemp>
_TMP_RE = re.compile(r"^\.tmp-(?P<name>.+)-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[a-z0-9_]{6,}$")
# names written by earlier versions: .tmp-<name>-<random from mkstemp>
_OLD_TMP_RE = re.compile(r"^\.tmp-(?P<name>.+)-[a-z0-9_]{8}$")


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", fsync: bool = False,
                **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it replaces ``path``.

    Parameters
    ----------
    path : str or path-like
        Final destination; its folder must exist.
    mode : str
        ``'wb'`` (default) or ``'w'`` (text; pass ``encoding=``/``newline=`` as for ``open``).
    fsync : bool
        Flush the data to disk before the rename (for checkpoints).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f"{_TMP}{os.path.basename(path)}-{_host_tag()}-{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; give the usual permissions of a new file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes, encoding: str = "utf-8") -> None:
    """Write ``data`` (text or bytes) to ``path`` atomically."""
    if isinstance(data, bytes):
        with atomic_open(path, "wb") as fh:
            fh.write(data)
    else:
        with atomic_open(path, "w", encoding=encoding, newline="") as fh:
            fh.write(data)


def is_temp_file(filename: str) -> bool:
    """True when ``filename`` (a base name) has the form of a temporary file of :func:`atomic_open`."""
    return bool(_TMP_RE.match(filename) or _OLD_TMP_RE.match(filename))


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host may still run (True when it cannot be told)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists (another user's) or cannot tell: keep the file
    return True


def remove_stale_temp_files(folder: str | os.PathLike, names: Iterable[str] | None = None,
                            max_age: float = 3600.0) -> list[str]:
    """Delete orphaned temporary files of :func:`atomic_open` in ``folder``; return their paths.

    A temporary file is an orphan when the process that wrote it ran on this host and no
    longer exists, or when it has not been modified for ``max_age`` seconds (the rule for
    files written on another host or by an older glassgrad, whose writer cannot be checked).
    The files of saves still running are kept.

    Parameters
    ----------
    folder : str or path-like
    names : iterable of str, optional
        Only temporary files for these final names (base names); default: any name.
    max_age : float
        Age in seconds after which a temporary file is an orphan whatever its writer.
    """
    folder = os.fspath(folder)
    wanted = None if names is None else set(names)
    host = _host_tag()
    now = time.time()
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for fn in entries:
        if not fn.startswith(_TMP):
            continue
        m = _TMP_RE.match(fn) or _OLD_TMP_RE.match(fn)
        if m is None or (wanted is not None and m.group("name") not in wanted):
            continue
        full = os.path.join(folder, fn)
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if not os.path.isfile(full) or os.path.islink(full):
            continue
        stale = now - st.st_mtime > max_age
        if not stale and "pid" in m.groupdict() and m.group("host") == host:
            stale = not pid_alive(int(m.group("pid")))
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(full)
                removed.append(full)
    return removed
