"""Low-level reading of checkpoint archives for :mod:`glassgrad.serialization`.

Everything here treats the file as hostile: every size is checked against a limit before
memory is allocated, every read is bounded, and every failure of :mod:`zipfile`,
:mod:`json` or the ``.npy`` header parser is turned into a :class:`CheckpointError` that
names the problem. Nothing in this module ever unpickles or evaluates data from the file
(``.npy`` headers are parsed by NumPy with :func:`ast.literal_eval`).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from typing import Any, BinaryIO

import numpy as np

__all__ = ["CheckpointError", "open_archive", "read_npy", "read_member", "check_json_depth", "sha256_of",
           "describe_non_zip", "ALLOWED_KINDS"]

# numeric and bool dtypes only: anything else (object, datetime, strings, structured) is refused
ALLOWED_KINDS = "biufc"
_NPY_MAGIC = b"\x93NUMPY"
_MAX_NPY_HEADER = 64 * 1024
_MAX_DEFLATE_RATIO = 1100
_COMPRESSION_NAMES = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                      zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
# protocol-2 pickle of the magic number that the pre-1.6 ``torch.save`` format starts with
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


class CheckpointError(ValueError):
    """A file is not a valid glassgrad checkpoint (or an object cannot be saved in one)."""


CheckpointError.__module__ = "glassgrad.serialization"  # where users import it from


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB" if n >= 2**20 else f"{n} bytes"


# ---------------------------------------------------------------------------- not a zip
def describe_non_zip(head: bytes, name: str, weights_only: Any) -> str:
    """The error message for a file that is not a zip archive at all."""
    wo = ("" if weights_only is not False else
          " weights_only=False does not change that: glassgrad has no unpickling mode.")
    route = ("To bring PyTorch weights over, load them in PyTorch (sd = torch.load(path, "
             "weights_only=True)) and either pass sd to model.load_state_dict directly or write "
             "gg.save({k: v.numpy() for k, v in sd.items()}, 'model.ckpt').")
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return (f"load: {name} is a PyTorch checkpoint in the legacy (pre-1.6) pickle format, not a "
                "glassgrad checkpoint; glassgrad never unpickles files because unpickling can run "
                f"arbitrary code. Nothing was executed.{wo} {route}")
    if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q", b"(i", b"(c"):
        return (f"load: {name} is a Python pickle (e.g. written by torch.save or pickle.dump), not a "
                "glassgrad checkpoint; glassgrad never unpickles files because unpickling can run "
                f"arbitrary code. Nothing was executed.{wo} {route}")
    if head[:6] == _NPY_MAGIC:
        return (f"load: {name} is a single .npy array, not a glassgrad checkpoint; read it with "
                "np.load(path, allow_pickle=False)")
    if not head:
        return f"load: {name} is empty, not a glassgrad checkpoint"
    return (f"load: {name} is not a glassgrad checkpoint (expected a .npz zip archive written by "
            f"gg.save; the file starts with {head[:8]!r})")


def _torch_message(name: str, pkl: str, weights_only: Any) -> str:
    wo = ("" if weights_only is not False else
          " weights_only=False does not change that: glassgrad has no unpickling mode.")
    return (f"load: {name} is a PyTorch checkpoint (a torch.save zip archive whose contents are a "
            f"pickle, {pkl!r}), not a glassgrad checkpoint; glassgrad never unpickles files because "
            f"unpickling can run arbitrary code. Nothing was executed.{wo} To bring PyTorch weights "
            "over, load them in PyTorch (sd = torch.load(path, weights_only=True)) and either pass "
            "sd to model.load_state_dict directly or write "
            "gg.save({k: v.numpy() for k, v in sd.items()}, 'model.ckpt').")


# ---------------------------------------------------------------------------- the zip archive
class _BoundedFile(io.RawIOBase):
    """A read-only view of a seekable binary file whose ``read(n)`` never asks for more bytes
    than the file has left (so a forged size in a zip directory cannot make the underlying
    reader allocate a huge buffer)."""

    def __init__(self, fh: BinaryIO) -> None:
        super().__init__()
        self._fh = fh
        self._start = fh.tell()
        fh.seek(0, io.SEEK_END)
        self._size = fh.tell() - self._start
        fh.seek(self._start)
        self._pos = 0

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        pos = base + offset
        if pos < 0:
            raise OSError("negative seek position")
        self._pos = pos
        return pos

    def read(self, n: int = -1) -> bytes:
        left = max(0, self._size - self._pos)
        n = left if n is None or n < 0 else min(n, left)
        if n == 0:
            return b""
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(n)
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:  # pragma: no cover - zipfile uses read()
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def open_archive(fh: BinaryIO, name: str, max_bytes: int, manifest: str,
                 weights_only: Any, torch_ok: bool = False
                 ) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """Open ``fh`` as a zip archive and check its directory (before reading any member).

    Refuses: a damaged directory, duplicate member names, encrypted members, compression
    methods other than stored/deflate, a PyTorch pickle archive (unless ``torch_ok``: then
    the caller finds ``*data.pkl`` among the members instead of the manifest), a zip without
    the glassgrad manifest, and a total declared (decompressed) size above ``max_bytes``.
    """
    try:
        bounded = _BoundedFile(fh)
        size = bounded.size
        zf = zipfile.ZipFile(bounded)
        infos = zf.infolist()
    except Exception as e:  # zipfile raises many kinds on a damaged directory
        raise CheckpointError(f"load: {name}: the zip directory is damaged; not a readable "
                              f"checkpoint ({type(e).__name__}: {e})") from None
    members: dict[str, zipfile.ZipInfo] = {}
    for zi in infos:
        if zi.filename in members:
            zf.close()
            raise CheckpointError(f"load: {name}: the archive has two members named {zi.filename!r} "
                                  "(a duplicate member name: refused, it is ambiguous which one is meant)")
        members[zi.filename] = zi
    pkl = [n for n in members if n.endswith(".pkl")]
    torch_archive = bool(pkl) and manifest not in members
    if torch_archive and not (torch_ok and len(pkl) == 1 and pkl[0].endswith("data.pkl")):
        zf.close()
        raise CheckpointError(_torch_message(name, pkl[0], weights_only))
    if manifest not in members and not torch_archive:
        zf.close()
        raise CheckpointError(
            f"load: {name} is a zip/.npz archive but not a glassgrad checkpoint (no "
            f"{manifest.removesuffix('.npy')!r} manifest; entries: {sorted(members)[:6]}); "
            "read a plain .npz with np.load(path, allow_pickle=False)")
    total = 0
    for zi in infos:
        if zi.flag_bits & 0x1:
            zf.close()
            raise CheckpointError(f"load: {name}: member {zi.filename!r} is encrypted; refused")
        if zi.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            method = _COMPRESSION_NAMES.get(zi.compress_type, "unknown")
            zf.close()
            raise CheckpointError(f"load: {name}: member {zi.filename!r} uses compression method "
                                  f"{zi.compress_type} ({method}); checkpoints use stored or deflate")
        # a declared size that the stored bytes cannot produce is forged (deflate expands at
        # most ~1032:1); checked here so that nothing is allocated for it
        if zi.compress_type == zipfile.ZIP_STORED:
            plausible = zi.file_size == zi.compress_size
        else:
            plausible = zi.file_size <= _MAX_DEFLATE_RATIO * zi.compress_size + 1024
        if not plausible or zi.header_offset + zi.compress_size > size:
            zf.close()
            raise CheckpointError(
                f"load: {name}: member {zi.filename!r} declares {zi.file_size} bytes from "
                f"{zi.compress_size} stored bytes at offset {zi.header_offset} of a {size}-byte file; "
                "the zip directory is damaged or forged")
        total += zi.file_size
    if total > max_bytes:
        zf.close()
        raise CheckpointError(
            f"load: {name}: the archive declares {_gib(total)} of decompressed data, more than the "
            f"limit max_bytes={max_bytes} ({_gib(max_bytes)}); nothing was read. If the file is "
            "trusted and that large, pass a larger max_bytes= to gg.load (or set "
            "glassgrad.serialization.MAX_BYTES)")
    return zf, members


# ---------------------------------------------------------------------------- .npy members
def read_member(zf: zipfile.ZipFile, zi: zipfile.ZipInfo, what: str) -> np.ndarray:
    """The bytes of one member whose declared size :func:`open_archive` has checked (CRC too)."""
    try:
        with zf.open(zi) as fp:
            buf = _read_data(fp, zi.file_size, what)
            if fp.read(1):
                raise CheckpointError(f"{what} has trailing data")  # pragma: no cover
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"{what} is damaged ({type(e).__name__}: {e})") from None
    return buf


def _read_exact(fp: Any, n: int, what: str) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        chunk = fp.read(min(n - got, 1 << 24))
        if not chunk:
            raise CheckpointError(f"{what} is truncated ({got} of {n} bytes)")
        view[got:got + len(chunk)] = chunk
        got += len(chunk)
    return buf


def _read_data(fp: Any, n: int, what: str) -> np.ndarray:
    """Read exactly ``n`` bytes into a new array; memory is committed only as data arrives."""
    try:
        out = np.empty(n, dtype=np.uint8)
    except MemoryError:
        raise CheckpointError(f"{what}: cannot allocate {_gib(n)} for it") from None
    got = 0
    while got < n:
        chunk = fp.read(min(n - got, 1 << 24))
        if not chunk:
            raise CheckpointError(f"{what} is truncated ({got} of {n} bytes)")
        out[got:got + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        got += len(chunk)
    return out


def read_npy(zf: zipfile.ZipFile, zi: zipfile.ZipInfo, what: str, expect_dtype: str | None = None,
             expect_shape: tuple | None = None) -> np.ndarray:
    """Read one ``.npy`` member, checking its header before allocating anything.

    The dtype must be numeric or bool (and equal ``expect_dtype`` when given), the shape
    must equal ``expect_shape`` when given, and header + data must be exactly the member's
    declared size. The zip CRC is checked by reading to the end of the member.
    """
    try:
        with zf.open(zi) as fp:
            magic = fp.read(8)
            if len(magic) < 8 or magic[:6] != _NPY_MAGIC:
                raise CheckpointError(f"{what} is not a .npy array (bad magic {magic[:8]!r})")
            major, minor = magic[6], magic[7]
            if (major, minor) == (1, 0):
                hlen = int.from_bytes(_read_exact(fp, 2, f"{what} header"), "little")
                hstart = 10
            elif (major, minor) in ((2, 0), (3, 0)):
                hlen = int.from_bytes(_read_exact(fp, 4, f"{what} header"), "little")
                hstart = 12
            else:
                raise CheckpointError(f"{what} has unsupported .npy format version {major}.{minor}")
            if hlen > _MAX_NPY_HEADER:
                raise CheckpointError(f"{what} declares a {hlen}-byte .npy header (limit {_MAX_NPY_HEADER})")
            header = bytes(_read_exact(fp, hlen, f"{what} header"))
            shape, fortran, dtype = _parse_npy_header(header, major, what)
            nbytes = dtype.itemsize
            for s in shape:
                nbytes *= s
            declared = hstart + hlen + nbytes
            if declared != zi.file_size:
                raise CheckpointError(
                    f"{what}: its header declares shape {shape} of {dtype} ({_gib(nbytes)}), which does "
                    f"not match the member's size ({zi.file_size} bytes); the array is damaged or forged")
            if expect_dtype is not None and dtype.str != expect_dtype:
                raise CheckpointError(f"{what} has dtype {dtype.str!r} ({dtype}) but "
                                      f"{np.dtype(expect_dtype)} ({expect_dtype!r}) was saved; wrong dtype")
            if expect_shape is not None and shape != expect_shape:
                raise CheckpointError(f"{what} has shape {shape} but shape {expect_shape} was saved; "
                                      "wrong shape")
            buf = _read_data(fp, nbytes, what)
            if fp.read(1):
                raise CheckpointError(f"{what} has trailing data")  # pragma: no cover - size checked
    except CheckpointError:
        raise
    except Exception as e:  # BadZipFile (CRC, header mismatch), zlib.error, OSError, ...
        raise CheckpointError(f"{what} is damaged ({type(e).__name__}: {e})") from None
    arr = buf.view(dtype)
    if fortran and len(shape) > 1:
        return arr.reshape(shape[::-1]).T
    return arr.reshape(shape)


def _parse_npy_header(header: bytes, major: int, what: str) -> tuple[tuple, bool, np.dtype]:
    import ast

    try:
        text = header.decode("utf-8" if major >= 3 else "latin1")
        d = ast.literal_eval(text)
    except Exception as e:
        raise CheckpointError(f"{what} has an unreadable .npy header ({type(e).__name__})") from None
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise CheckpointError(f"{what} has a malformed .npy header")
    shape, fortran, descr = d["shape"], d["fortran_order"], d["descr"]
    if (not isinstance(shape, tuple) or len(shape) > 64
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise CheckpointError(f"{what} has an invalid shape {shape!r:.80} in its .npy header")
    if not isinstance(fortran, bool):
        raise CheckpointError(f"{what} has an invalid fortran_order in its .npy header")
    if not isinstance(descr, str):
        raise CheckpointError(f"{what} has a structured or invalid dtype {descr!r:.80}; only numeric and "
                              "bool arrays can be stored in a checkpoint")
    try:
        dtype = np.dtype(descr)
    except Exception:
        raise CheckpointError(f"{what} has an invalid dtype {descr!r:.80} in its .npy header") from None
    if dtype.kind not in ALLOWED_KINDS or dtype.hasobject or dtype.fields is not None:
        raise CheckpointError(
            f"{what} has dtype {dtype} ({descr!r}); only numeric and bool arrays can be stored in a "
            "checkpoint (object arrays would need pickle, which glassgrad refuses)")
    return shape, fortran, dtype


# ---------------------------------------------------------------------------- JSON and hashes
_JSON_SPECIAL = re.compile(rb'[\[\]{}"\\]')


def check_json_depth(raw: bytes, limit: int, what: str) -> None:
    """Refuse JSON text nested deeper than ``limit`` before :func:`json.loads` sees it.

    A linear scan over brackets outside strings: exact for any valid prefix of the text,
    which is all the JSON parser would get through before failing.
    """
    depth = 0
    in_str = False
    skip = -1
    for m in _JSON_SPECIAL.finditer(raw):
        i = m.start()
        if i == skip:
            continue
        c = raw[i]
        if in_str:
            if c == 0x5C:  # backslash: the next byte is escaped
                skip = i + 1
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                raise CheckpointError(f"{what} is JSON nested deeper than {limit} levels; refused "
                                      "(raise max_depth= if the file is trusted)")
        elif c in (0x5D, 0x7D):
            depth -= 1


def sha256_of(arr: np.ndarray) -> str:
    """SHA-256 of the array's bytes in C order (what ``np.ascontiguousarray(a).tobytes()`` gives)."""
    a = arr if arr.flags.c_contiguous else arr.copy(order="C")
    return hashlib.sha256(a.reshape(-1).view(np.uint8)).hexdigest()
