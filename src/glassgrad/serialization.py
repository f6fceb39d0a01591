"""Safe checkpoints: ``gg.save(obj, path)`` and ``gg.load(path)``.

File format (version 2)
-----------------------
A checkpoint is a plain NumPy ``.npz`` archive (a zip of ``.npy`` files, members stored
uncompressed) that holds

* one member per array or tensor, ``a0.npy``, ``a1.npy``, ... numbered in the order the
  arrays occur in a depth-first walk of the saved object (always written in C order), and
* a member ``__glassgrad__.npy``: UTF-8 JSON (stored as a ``uint8`` array), the *manifest*::

      {"format": "glassgrad-checkpoint", "version": 2, "root": NODE}

  where a NODE is ``{"t": "none"}``, ``{"t": "bool"|"int"|"str", "v": ...}``,
  ``{"t": "float", "v": "1.5"|"nan"|"inf"|"-inf"}``, ``{"t": "dtype", "v": "<f4"}``,
  ``{"t": "list"|"tuple", "v": [NODE, ...]}``, ``{"t": "dict", "k": [NODE, ...],
  "v": [NODE, ...]}`` (keys are none/bool/int/float/str nodes), or an array node
  ``{"t": "ndarray"|"npscalar"|"tensor", "k": "a0", "dtype": "<f4", "shape": [3, 4],
  "sha256": "..."}`` (a tensor node adds ``"rg"``, its ``requires_grad``, and ``"dev"``,
  the device it was saved from). ``sha256`` is the SHA-256 of the array's bytes in C order.

You can inspect a checkpoint with NumPy alone::

    >>> z = np.load("model.ckpt", allow_pickle=False)
    >>> json.loads(z["__glassgrad__"].tobytes())           # the structure
    >>> z["a0"]                                             # the first array

What load checks (and refuses with a :class:`CheckpointError` naming the problem)
-----------------------------------------------------------------------------------
**Loading never runs code from the file**: there is no pickle anywhere, ``.npy`` headers are
parsed as literals, and only numeric and bool dtypes are accepted (no object, string,
datetime or structured arrays). Before anything is read, the zip directory must be intact,
without duplicate member names, encrypted members or compression other than stored/deflate,
with member sizes that the stored bytes can produce (equal for stored members, at most
~1100:1 for deflate), and the total declared decompressed size must be at most
``max_bytes`` (default :data:`MAX_BYTES`, 16 GiB; set ``glassgrad.serialization.MAX_BYTES``
to change it for the process). The manifest (at most :data:`MAX_MANIFEST_BYTES`) must be JSON
nested no deeper than the object limit allows (``max_depth``, default :data:`MAX_DEPTH` = 64
levels of the saved object); its nodes must be well formed; every array member must be
referenced exactly once, in the order :func:`save` numbers them (a reference moved to
another place is detected), and no other members may be present. Then each array's ``.npy``
header must declare the saved dtype and shape and exactly the member's size (checked before
memory is allocated), the zip CRC must match, and the SHA-256 of the data must match the
manifest — a flipped bit or two swapped members are detected. Every other failure (a
truncated file, a damaged zip directory, bad UTF-8 ...) is a :class:`CheckpointError` too;
files that are not checkpoints at all — a bare pickle (the legacy ``torch.save`` format
too), a single ``.npy``, a plain ``.npz`` — are named as such.

Version 1 files (written before checksums existed) carry no dtype, shape or SHA-256 per
array, so swapped or altered arrays cannot be detected in them: :func:`load` refuses them
unless told to trust the file with ``allow_unverified=True`` (they then get every other
check above; only numeric/bool dtypes are still enforced). Re-save one to upgrade it:
``gg.save(gg.load("old.ckpt", allow_unverified=True), "new.ckpt")``.

Saving
------
Files are written atomically: to a temporary file ``.tmp-<name>-<host>-<pid>-<random>`` in
the same folder, fsynced, then ``os.replace``-d onto the name — a crash mid-write never
leaves a half-written checkpoint. A process killed mid-write leaves its temporary file
behind; the next :func:`save` to the same name (and :class:`~glassgrad.train.ModelCheckpoint`
when training starts) removes such orphans — temporary files whose writer on this host no
longer runs, or that nobody has touched for an hour — and :func:`load` refuses to read a
temporary file.

What can be stored: ``None``, ``bool``, ``int`` (up to 4300 digits), ``float`` (nan/inf too),
``str``, NumPy scalars and arrays (numeric or bool dtypes), :class:`~glassgrad.Tensor`,
``dtype`` objects, and ``dict`` (keys: str/int/float/bool/None), ``list`` and ``tuple`` of
these, nested at most ``MAX_DEPTH`` levels. That covers ``module.state_dict()``,
``optimizer.state_dict()``, scheduler state, ``gg.get_rng_state()`` and training metadata.
A whole ``nn.Module`` is refused (that would need pickle): save ``model.state_dict()``.

Other formats
-------------
:func:`load` decides by the file's content: a ``.safetensors`` file (8-byte header length,
then ``{``) is read by :mod:`glassgrad._safetensors_io` (header checked as hostile input,
then the ``safetensors`` package's NumPy API) and gives ``{name: Tensor}``; a ``torch.save``
zip archive (``data.pkl`` instead of the manifest) is read by
:mod:`glassgrad._torch_pickle`, a pickle-*opcode* parser that accepts tensors and plain
containers and refuses everything else without executing anything (no :mod:`pickle`
anywhere). :func:`save` writes ``.safetensors`` when the path ends with that extension (a
flat dict of named tensors only). See ``docs/interop.md``.

PyTorch names
-------------
``load(f, map_location=..., weights_only=...)`` takes PyTorch's keywords; ``weights_only``
has no effect (glassgrad always loads data only; ``weights_only=False`` does **not** enable
unpickling). :func:`add_safe_globals`, :func:`safe_globals`, :func:`get_safe_globals` and
:func:`clear_safe_globals` exist so that programs written for ``torch.serialization`` run;
they have no effect because glassgrad never unpickles anything.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, Callable, Union

import numpy as np

from ._atomic import atomic_open, is_temp_file, remove_stale_temp_files
from ._checkpoint_io import (
    ALLOWED_KINDS,
    CheckpointError,
    check_json_depth,
    describe_non_zip,
    open_archive,
    read_npy,
    sha256_of,
)
from ._safetensors_io import looks_like_safetensors

__all__ = ["save", "load", "CheckpointError", "FORMAT", "VERSION", "is_checkpoint", "MAX_BYTES",
           "MAX_DEPTH", "MAX_MANIFEST_BYTES", "add_safe_globals", "safe_globals", "get_safe_globals",
           "clear_safe_globals"]

FORMAT = "glassgrad-checkpoint"
VERSION = 2
#: default limit on the total decompressed size of a checkpoint (``load(max_bytes=...)``)
MAX_BYTES = 16 * 2**30
#: default limit on how deeply the saved object may nest (``save``/``load(max_depth=...)``)
MAX_DEPTH = 64
#: limit on the size of the JSON manifest
MAX_MANIFEST_BYTES = 64 * 2**20
_MANIFEST = "__glassgrad__"
_MEMBER = _MANIFEST + ".npy"
_ARRAY_TYPES = ("ndarray", "npscalar", "tensor")
_KEY_TYPES = ("none", "bool", "int", "float", "str")

PathLike = Union[str, "os.PathLike[str]"]


# ---------------------------------------------------------------------------- encoding
def _where(path: list) -> str:
    return "obj" + "".join(f"[{p!r}]" for p in path)


class _Encoder:
    def __init__(self, max_depth: int) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.max_depth = max_depth

    def _put(self, arr: np.ndarray, path: list, node: dict) -> dict:
        if arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields is not None:
            raise CheckpointError(
                f"save: array at {_where(path)} has dtype {arr.dtype}; only numeric and bool "
                "arrays can be stored (object/string arrays would need pickle, which glassgrad "
                "refuses to use)"
            )
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        node.update(k=key, dtype=arr.dtype.str, shape=list(arr.shape), sha256=sha256_of(arr))
        return node

    def encode(self, obj: Any, path: list) -> Any:
        from .tensor import Tensor

        if len(path) > self.max_depth:
            raise CheckpointError(
                f"save: the object is nested deeper than max_depth={self.max_depth} levels at "
                f"{_where(path[:4])}...{_where(path[-2:])[3:]} (a structure that contains itself?)")
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, int) and not isinstance(obj, np.integer):
            return {"t": "int", "v": int(obj)}
        if isinstance(obj, float):
            return {"t": "float", "v": _float_str(obj)}
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, Tensor):
            from .backend import to_numpy

            return self._put(to_numpy(obj.array), path,
                             {"t": "tensor", "rg": bool(obj.requires_grad), "dev": str(obj.device)})
        if isinstance(obj, np.ndarray):
            return self._put(obj, path, {"t": "ndarray"})
        if isinstance(obj, np.generic):
            return self._put(np.asarray(obj), path, {"t": "npscalar"})
        if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
            return {"t": "dtype", "v": np.dtype(obj).str}
        if isinstance(obj, Mapping):
            keys, vals = [], []
            for k, v in obj.items():
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise CheckpointError(
                        f"save: dict key {k!r} (type {type(k).__name__}) at {_where(path)} is not "
                        "supported; keys must be str, int, float, bool or None"
                    )
                keys.append(self.encode(k, path))
                vals.append(self.encode(v, path + [k]))
            return {"t": "dict", "k": keys, "v": vals}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {"t": kind, "v": [self.encode(v, path + [i]) for i, v in enumerate(obj)]}
        if hasattr(obj, "__array__") and not callable(getattr(obj, "state_dict", None)):
            # CuPy arrays and similar: store the host copy
            from .backend import to_numpy

            return self._put(to_numpy(obj), path, {"t": "ndarray"})
        raise CheckpointError(_unsupported(obj, path))


def _unsupported(obj: Any, path: list) -> str:
    tname = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if callable(getattr(obj, "state_dict", None)):
        what = "a whole nn.Module" if _is_module(obj) else "a whole object"
        return (f"save: cannot store {what} ({tname}) at {_where(path)}: that would need pickle, which "
                "glassgrad never uses (unpickling can run arbitrary code). Save its state instead: "
                "gg.save(model.state_dict(), path); to restore, build the model in code and call "
                "model.load_state_dict(gg.load(path))")
    return (f"save: cannot store an object of type {tname} at {_where(path)}. Supported: None, bool, "
            "int, float, str, NumPy arrays and scalars, Tensors, dtypes and dict/list/tuple of these")


def _is_module(obj: Any) -> bool:
    try:
        from .nn import Module
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, Module)


def _float_str(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))


# ---------------------------------------------------------------------------- decoding
class _Manifest:
    """Pass 1 over the manifest: check every node and collect the array references in order.

    Nothing is read from the archive here; the collected references are checked against the
    archive's members before any array is read.
    """

    def __init__(self, version: int, max_depth: int, err: Callable[[str], CheckpointError]) -> None:
        self.version = version
        self.max_depth = max_depth
        self.err = err
        self.refs: list[tuple[str, dict, str]] = []   # (member key, node, where)

    def check(self, node: Any, path: list) -> None:
        if len(path) > self.max_depth:
            raise self.err(f"the saved object is nested deeper than max_depth={self.max_depth} levels")
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise self.err(f"corrupt manifest: unexpected node {node!r:.80} at {_where(path)}")
        t, v = node["t"], node.get("v")
        if t in _SCALAR_CHECKS:
            if not _SCALAR_CHECKS[t](v):
                raise self.err(f"corrupt manifest: bad {t!r} node {node!r:.80} at {_where(path)}")
            return
        if t in ("list", "tuple"):
            if not isinstance(v, list):
                raise self.err(f"corrupt manifest: bad {t!r} node at {_where(path)}")
            for i, child in enumerate(v):
                self.check(child, path + [i])
            return
        if t == "dict":
            keys = node.get("k")
            if not isinstance(keys, list) or not isinstance(v, list) or len(keys) != len(v):
                raise self.err(f"corrupt manifest: dict with mismatched keys/values at {_where(path)}")
            for i, (k, child) in enumerate(zip(keys, v)):
                if not isinstance(k, dict) or k.get("t") not in _KEY_TYPES:
                    raise self.err(f"corrupt manifest: unsupported dict key node {k!r:.60} at {_where(path)}")
                self.check(k, path)
                self.check(child, path + [_key_repr(k, i)])
            return
        if t in _ARRAY_TYPES:
            self._check_array(node, path)
            return
        raise self.err(f"corrupt manifest: unknown node type {t!r:.40} at {_where(path)}")

    def _check_array(self, node: dict, path: list) -> None:
        key = node.get("k")
        where = _where(path)
        expected = f"a{len(self.refs)}"
        if not isinstance(key, str):
            raise self.err(f"corrupt manifest: array node at {where} has no member reference")
        if key != expected:
            seen = [w for k, _, w in self.refs if k == key]
            if seen:
                raise self.err(f"member {key!r} is referenced twice (at {seen[0]} and at {where}); "
                               "each array is stored once, so the manifest was altered")
            raise self.err(f"corrupt manifest: the array at {where} refers to member {key!r} where "
                           f"{expected!r} was written (array references moved or swapped)")
        if "rg" in node and not isinstance(node["rg"], bool):
            raise self.err(f"corrupt manifest: bad requires_grad flag at {where}")
        if self.version >= 2:
            dt, shape, digest = node.get("dtype"), node.get("shape"), node.get("sha256")
            if (not isinstance(dt, str) or not _is_safe_dtype(dt, ALLOWED_KINDS)
                    or not isinstance(shape, list) or len(shape) > 64
                    or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
                    or not isinstance(digest, str) or len(digest) != 64
                    or (node["t"] == "npscalar" and shape)):
                raise self.err(f"corrupt manifest: array node at {where} lacks a valid dtype, shape "
                               "or sha256")
            if "dev" in node and not isinstance(node["dev"], str):
                raise self.err(f"corrupt manifest: bad device at {where}")
        self.refs.append((key, node, where))


_SCALAR_CHECKS: dict[str, Callable[[Any], bool]] = {
    "none": lambda v: True,
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, str) and _is_float(v),
    "str": lambda v: isinstance(v, str),
    "dtype": lambda v: isinstance(v, str) and _is_safe_dtype(v),
}


def _key_repr(k: dict, i: int) -> Any:
    v = k.get("v")
    return v if isinstance(v, (str, int, float, bool)) else f"<key {i}>"


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _is_safe_dtype(v: str, kinds: str = "biufcmMUSV") -> bool:
    try:
        dt = np.dtype(v)
    except Exception:
        return False
    return dt.kind in kinds and not dt.hasobject


class _Builder:
    """Pass 3: build the object from a checked manifest and the checked arrays."""

    def __init__(self, arrays: dict[str, np.ndarray], map_location: Any,
                 err: Callable[[str], CheckpointError]) -> None:
        self.arrays = arrays
        self.map_location = map_location
        self.err = err

    def build(self, node: dict) -> Any:
        t = node["t"]
        if t == "none":
            return None
        if t in ("bool", "int", "str"):
            return node["v"]
        if t == "float":
            return float(node["v"])
        if t == "dtype":
            return np.dtype(node["v"])
        if t == "list":
            return [self.build(c) for c in node["v"]]
        if t == "tuple":
            return tuple(self.build(c) for c in node["v"])
        if t == "dict":
            out = {self.build(k): self.build(c) for k, c in zip(node["k"], node["v"])}
            if len(out) != len(node["k"]):
                raise self.err("corrupt manifest: a dict has the same key twice")
            return out
        arr = self.arrays[node["k"]]
        if t == "ndarray":
            return arr
        if t == "npscalar":
            return arr[()]
        from .tensor import Tensor

        out = Tensor._make(arr, False)
        out = _apply_map_location(out, node.get("dev", "cpu"), self.map_location)
        if node.get("rg"):
            out.requires_grad_(True)
        return out


def _map_tensors(obj: Any, ml: Any) -> Any:
    if ml is None:
        return obj
    if isinstance(obj, dict):
        return {k: _map_tensors(v, ml) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tensors(v, ml) for v in obj)
    if hasattr(obj, "requires_grad_"):
        return _apply_map_location(obj, "cpu", ml)
    return obj


def _apply_map_location(t: Any, saved: str, ml: Any) -> Any:
    """PyTorch's ``map_location``: None (CPU here), a device, a dict {saved: target} or a
    callable ``(tensor, saved_location) -> tensor or None``."""
    if ml is None:
        return t
    if callable(ml) and not isinstance(ml, str):
        res = ml(t, saved)
        if res is None:
            return t
        if not hasattr(res, "requires_grad_"):
            raise TypeError(f"load: map_location callable returned {type(res).__name__}; expected a Tensor "
                            "or None")
        return res
    if isinstance(ml, Mapping):
        ml = ml.get(saved, "cpu")
    from .backend import normalize_device

    dev = normalize_device(ml)
    return t if dev == "cpu" else t.to(dev)


# ---------------------------------------------------------------------------- public API
def save(obj: Any, f: PathLike | BinaryIO, max_depth: int | None = None) -> None:
    """Save a nested structure of tensors, arrays and plain values (like ``torch.save``).

    Parameters
    ----------
    obj : object
        ``None``/bool/int/float/str, NumPy arrays and scalars, Tensors, dtypes, and
        dict/list/tuple nestings of these (e.g. ``{"model": model.state_dict(),
        "optimizer": opt.state_dict(), "epoch": 3}``).
    f : str, path-like or binary file object
        Where to write. A path is written atomically (temp file + ``os.replace``); the name is
        used as given (no extension is added). Temporary files left beside it by a process
        that was killed while saving to the same name are removed.
    max_depth : int, optional
        Deepest nesting allowed (default :data:`MAX_DEPTH`); :func:`load` enforces the same.

    Raises
    ------
    CheckpointError
        When ``obj`` holds something that cannot be stored without pickle (a whole
        ``nn.Module``: save ``model.state_dict()`` instead) or nests too deeply; the message
        names where in the structure it is.
    """
    if isinstance(f, (str, os.PathLike)) and os.fspath(f).lower().endswith(".safetensors"):
        from ._safetensors_io import save_safetensors

        save_safetensors(obj, f)
        return
    enc = _Encoder(MAX_DEPTH if max_depth is None else int(max_depth))
    try:
        root = enc.encode(obj, [])
    except RecursionError:
        raise CheckpointError("save: the object nests too deeply for Python's recursion limit; lower "
                              "max_depth") from None
    manifest = {"format": FORMAT, "version": VERSION, "root": root}
    try:
        mbytes = json.dumps(manifest, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (ValueError, RecursionError) as e:  # e.g. an int with more digits than Python prints
        raise CheckpointError(f"save: cannot encode the object ({type(e).__name__}: {e})") from None
    entries = {_MANIFEST: np.frombuffer(mbytes, dtype=np.uint8)}
    entries.update(enc.arrays)
    if hasattr(f, "write"):
        _write_archive(f, entries)
        return
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: folder {folder!r} does not exist (for {path!r})")
    with atomic_open(path, "wb", fsync=True) as fh:
        _write_archive(fh, entries)
    remove_stale_temp_files(folder, names=[os.path.basename(path)])


def _write_archive(fh: BinaryIO, entries: dict[str, np.ndarray]) -> None:
    """The ``.npz`` layout of ``np.savez``: one stored ``NAME.npy`` member per entry."""
    import zipfile

    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in entries.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as m:
                np.lib.format.write_array(m, arr, allow_pickle=False)


def load(f: PathLike | BinaryIO, map_location: Any = None, weights_only: bool | None = None, *,
         max_bytes: int | None = None, max_depth: int | None = None,
         allow_unverified: bool = False) -> Any:
    """Load what :func:`save` wrote; never runs code from the file.

    Parameters
    ----------
    f : str, path-like or binary file object
    map_location : str, device, dict or callable, optional
        Where loaded tensors go (PyTorch's meanings): ``'cpu'`` (default), ``'cuda'``/
        ``'cuda:N'``, a dict mapping the saved device to a target, or a callable
        ``fn(tensor, saved_device)`` returning a Tensor (or None to keep it on the CPU).
    weights_only : bool, optional
        Accepted for PyTorch compatibility and has no effect: glassgrad always loads data
        only. ``weights_only=False`` does **not** enable unpickling (there is none).
    max_bytes : int, optional
        Refuse files whose members declare more decompressed bytes than this, before reading
        anything (default :data:`MAX_BYTES`, 16 GiB).
    max_depth : int, optional
        Refuse objects nested deeper than this (default :data:`MAX_DEPTH`).
    allow_unverified : bool
        Load a version-1 checkpoint, whose arrays carry no checksums (default False: refused
        with a :class:`CheckpointError` saying how to upgrade it).

    Returns
    -------
    object
        The saved structure: dicts, lists, tuples, scalars, strings, NumPy arrays and Tensors.

    Raises
    ------
    FileNotFoundError
        When the path does not exist.
    CheckpointError
        For anything else that is wrong with the file, naming the problem: not a glassgrad
        checkpoint (a pickle, a PyTorch archive, random bytes, a plain ``.npz``), a newer
        format version, damage anywhere, a limit exceeded, or data that does not match what
        was saved (see the module docstring for the full list of checks).
    """
    limit = MAX_BYTES if max_bytes is None else int(max_bytes)
    depth = MAX_DEPTH if max_depth is None else int(max_depth)
    if hasattr(f, "read"):
        name = "the file object"
        with _stream_copy(f, limit, name) as fh:
            return _load_from(fh, name, map_location, weights_only, limit, depth,
                              allow_unverified=allow_unverified)
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"load: f must be a path or a binary file object, got {type(f).__name__}")
    path = os.fspath(f)
    name = repr(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: {path!r}")
    if os.path.isdir(path):
        raise CheckpointError(f"load: {path!r} is a folder, not a checkpoint file")
    if is_temp_file(os.path.basename(path)):
        raise CheckpointError(f"load: {path!r} is a temporary file of an interrupted or ongoing save, "
                              "not a checkpoint; load the file it was being written to")
    with open(path, "rb") as fh:
        return _load_from(fh, name, map_location, weights_only, limit, depth, path,
                          allow_unverified=allow_unverified)


@contextlib.contextmanager
def _stream_copy(f: Any, limit: int, name: str) -> Iterator[BinaryIO]:
    seekable = False
    with contextlib.suppress(Exception):
        seekable = bool(f.seekable()) and isinstance(f.read(0), bytes)
    if seekable:
        yield f
        return
    # a stream without seek (a pipe, a socket): copy it, in chunks, up to the size limit
    buf = io.BytesIO()
    cap = limit + MAX_MANIFEST_BYTES
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        if not isinstance(chunk, bytes):
            raise TypeError(f"load: {name} must be opened in binary mode ('rb')")
        buf.write(chunk)
        if buf.tell() > cap:
            raise CheckpointError(f"load: {name} is larger than max_bytes={limit}; nothing was loaded")
    data = buf.getvalue()
    yield io.BytesIO(data)


def _load_from(fh: BinaryIO, name: str, map_location: Any, weights_only: Any, limit: int,
               depth: int, path: str | None = None, *, allow_unverified: bool = False) -> Any:
    start = fh.tell()
    head = fh.read(16)
    fh.seek(start)
    if looks_like_safetensors(head):
        from ._safetensors_io import load_safetensors
        from .tensor import Tensor

        arrays = load_safetensors(fh, name, path, limit)
        return {k: _apply_map_location(Tensor._make(a, False), "cpu", map_location)
                for k, a in arrays.items()}
    if head[:4] != b"PK\x03\x04" and head[:4] != b"PK\x05\x06":
        raise CheckpointError(describe_non_zip(head, name, weights_only))
    zf, members = open_archive(fh, name, limit, _MEMBER, weights_only, torch_ok=True)
    if _MEMBER not in members:  # a torch.save archive: read by the opcode parser, never unpickled
        from ._torch_pickle import read_torch_archive

        pkl = next(n for n in members if n.endswith("data.pkl"))
        with zf:
            obj = read_torch_archive(zf, members, pkl, name, limit)
        return _map_tensors(obj, map_location)

    def err(msg: str) -> CheckpointError:
        return CheckpointError(f"load: {name}: {msg}")

    with zf:
        manifest = _read_manifest(zf, members[_MEMBER], name, depth, err)
        ver = manifest["version"]
        if ver < 2 and not allow_unverified:
            raise err(f"checkpoint format version {ver} stores no dtype, shape or checksum per "
                      "array, so swapped or altered arrays cannot be detected; if you trust the "
                      "file, load it with allow_unverified=True and re-save it to upgrade it")
        plan = _Manifest(ver, depth, err)
        try:
            plan.check(manifest.get("root"), [])
        except RecursionError:
            raise err(f"the saved object nests too deeply for Python's recursion limit (max_depth={depth} "
                      "is larger than this interpreter can walk)") from None
        referenced = {k for k, _, _ in plan.refs}
        for k, _, where in plan.refs:
            if k + ".npy" not in members:
                raise err(f"corrupt checkpoint: the manifest refers to a missing array {k!r} (at {where})")
        extra = sorted(set(members) - {k + ".npy" for k in referenced} - {_MEMBER})
        if extra:
            raise err(f"unexpected member(s) {extra[:4]} that the manifest does not reference; "
                      "the archive was altered")
        arrays = {}
        for k, node, where in plan.refs:
            what = f"load: {name}: array {where} (member {k}.npy)"
            shape = tuple(node["shape"]) if ver >= 2 else None
            arr = read_npy(zf, members[k + ".npy"], what, node.get("dtype") if ver >= 2 else None, shape)
            if ver >= 2 and sha256_of(arr) != node["sha256"]:
                raise CheckpointError(f"{what}: SHA-256 checksum mismatch; the data differs from what "
                                      "was saved (the file is damaged or members were swapped)")
            if node["t"] == "npscalar" and arr.ndim != 0:
                raise err(f"corrupt checkpoint: scalar at {where} is stored with shape {arr.shape}")
            arrays[k] = arr
    try:
        return _Builder(arrays, map_location, err).build(manifest["root"])
    except RecursionError:
        raise err(f"the saved object nests too deeply for Python's recursion limit (max_depth={depth} "
                  "is larger than this interpreter can walk)") from None


def _read_manifest(zf: Any, zi: Any, name: str, depth: int, err: Callable[[str], CheckpointError]) -> dict:
    if zi.file_size > MAX_MANIFEST_BYTES:
        raise err(f"the manifest declares {zi.file_size} bytes, more than MAX_MANIFEST_BYTES="
                  f"{MAX_MANIFEST_BYTES}")
    raw = read_npy(zf, zi, f"load: {name}: the manifest ({_MEMBER})", "|u1")
    if raw.ndim != 1:
        raise err("the manifest is not a 1-D byte array")
    text = raw.tobytes()
    # JSON depth: the manifest, the root node, then two levels per level of the object
    check_json_depth(text, 2 * depth + 4, f"load: {name}: the manifest")
    try:
        manifest = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise err(f"the glassgrad manifest is corrupt ({type(e).__name__}: {e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise err(f"has a {_MANIFEST!r} entry but not the glassgrad format marker")
    ver = manifest.get("version")
    if not isinstance(ver, int) or isinstance(ver, bool) or ver > VERSION or ver < 1:
        raise err(f"checkpoint format version {ver!r:.20}; this glassgrad reads versions 1..{VERSION} "
                  "(a newer version needs a newer glassgrad)")
    return manifest


def is_checkpoint(path: PathLike) -> bool:
    """True when ``path`` is a file that :func:`load` accepts (reads only the manifest)."""
    if is_temp_file(os.path.basename(os.fspath(path))):
        return False
    try:
        with open(os.fspath(path), "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return False
            fh.seek(0)
            zf, members = open_archive(fh, repr(path), MAX_BYTES, _MEMBER, None)
            with zf:
                _read_manifest(zf, members[_MEMBER], repr(path), MAX_DEPTH, CheckpointError)
        return True
    except Exception:  # a predicate: any failure to read means "no"
        return False


# ---------------------------------------------------------------------------- torch.serialization names
_safe_globals: list[Any] = []


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Accepted for ``torch.serialization.add_safe_globals`` compatibility; **no effect**.

    PyTorch uses this list to let ``torch.load(weights_only=True)`` unpickle extra classes.
    glassgrad never unpickles anything, so there is nothing to allow; the entries are only
    remembered for :func:`get_safe_globals`.
    """
    _safe_globals.extend(safe_globals)


def get_safe_globals() -> list[Any]:
    """What :func:`add_safe_globals` was given (it has no effect in glassgrad)."""
    return list(_safe_globals)


def clear_safe_globals() -> None:
    """Forget what :func:`add_safe_globals` was given (it has no effect in glassgrad)."""
    _safe_globals.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list[Any]) -> Iterator[None]:
    """Context manager for ``torch.serialization.safe_globals`` compatibility; **no effect**
    on loading, since glassgrad never unpickles (``gg.load`` reads data only either way)."""
    n = len(_safe_globals)
    _safe_globals.extend(safe_globals)
    try:
        yield
    finally:
        del _safe_globals[n:]
