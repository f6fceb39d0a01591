"""Safe checkpoints: ``gg.save(obj, path)`` and ``gg.load(path)``.

The file format is a plain NumPy ``.npz`` archive (a zip of ``.npy`` files) that holds

* one entry per array or tensor (``a0``, ``a1``, ...), and
* an entry ``__glassgrad__``: UTF-8 JSON (stored as a ``uint8`` array) with a format marker,
  a version number and the *structure* of the saved object — nested dicts, lists, tuples,
  scalars and strings, with references to the array entries.

Loading reads the JSON with :mod:`json` and the arrays with ``np.load(...,
allow_pickle=False)``, so **loading never runs code from the file**: a pickle file (such as
one written by ``torch.save``), random bytes or a ``.npz`` without the glassgrad manifest
is refused with a clear :class:`CheckpointError`. You can inspect a checkpoint with NumPy
alone::

    >>> z = np.load("model.ckpt", allow_pickle=False)
    >>> json.loads(z["__glassgrad__"].tobytes())           # the structure
    >>> z["a0"]                                             # the first array

Files are written atomically: to a temporary file in the same folder, then
``os.replace`` — a crash mid-write never leaves a half-written checkpoint.

What can be stored: ``None``, ``bool``, ``int`` (any size), ``float`` (also nan/inf),
``str``, NumPy scalars and arrays (numeric or bool dtypes), :class:`~glassgrad.Tensor`,
``dtype`` objects, and ``dict`` (keys: str/int/float/bool/None), ``list`` and ``tuple`` of
these. That covers ``module.state_dict()``, ``optimizer.state_dict()``, scheduler state,
``gg.get_rng_state()`` and training metadata.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Mapping
from typing import Any, BinaryIO, Union

import numpy as np

from ._atomic import atomic_open

__all__ = ["save", "load", "CheckpointError", "FORMAT", "VERSION", "is_checkpoint"]

FORMAT = "glassgrad-checkpoint"
VERSION = 1
_MANIFEST = "__glassgrad__"

PathLike = Union[str, "os.PathLike[str]"]


class CheckpointError(ValueError):
    """A file is not a valid glassgrad checkpoint (or an object cannot be saved in one)."""


# ---------------------------------------------------------------------------- encoding
def _where(path: list) -> str:
    return "obj" + "".join(f"[{p!r}]" for p in path)


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _put(self, arr: np.ndarray, path: list) -> str:
        if arr.dtype.kind not in "biufc":
            raise CheckpointError(
                f"save: array at {_where(path)} has dtype {arr.dtype}; only numeric and bool "
                "arrays can be stored (object/string arrays would need pickle, which glassgrad "
                "refuses to use)"
            )
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return key

    def encode(self, obj: Any, path: list) -> Any:
        from .tensor import Tensor

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

            return {"t": "tensor", "k": self._put(to_numpy(obj.array), path),
                    "rg": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"t": "ndarray", "k": self._put(obj, path)}
        if isinstance(obj, np.generic):
            return {"t": "npscalar", "k": self._put(np.asarray(obj), path)}
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

            return {"t": "ndarray", "k": self._put(to_numpy(obj), path)}
        hint = ""
        if callable(getattr(obj, "state_dict", None)):
            hint = "; save its state instead: gg.save(x.state_dict(), path)"
        raise CheckpointError(
            f"save: cannot store an object of type {type(obj).__module__}.{type(obj).__qualname__} "
            f"at {_where(path)}{hint}. Supported: None, bool, int, float, str, NumPy arrays and "
            "scalars, Tensors, dtypes and dict/list/tuple of these"
        )


def _float_str(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))


# ---------------------------------------------------------------------------- decoding
class _Decoder:
    def __init__(self, z: Any, map_location: Any) -> None:
        self.z = z
        self.names = set(z.files)
        self.device = None
        if map_location is not None:
            from .backend import normalize_device

            self.device = normalize_device(map_location)

    def _get(self, key: Any) -> np.ndarray:
        if not isinstance(key, str) or key not in self.names or key == _MANIFEST:
            raise CheckpointError(f"load: corrupt checkpoint: manifest refers to a missing array {key!r}")
        return self.z[key]

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict) or "t" not in node:
            raise CheckpointError(f"load: corrupt checkpoint: unexpected manifest node {node!r:.80}")
        t = node["t"]
        if t == "none":
            return None
        if t == "bool":
            return bool(node["v"])
        if t == "int":
            return int(node["v"])
        if t == "float":
            return float(node["v"])
        if t == "str":
            return str(node["v"])
        if t == "ndarray":
            return self._get(node["k"])
        if t == "npscalar":
            return self._get(node["k"])[()]
        if t == "tensor":
            from .tensor import Tensor

            arr = self._get(node["k"])
            out = Tensor._make(arr, False)
            if self.device is not None and self.device != "cpu":
                out = out.to(self.device)
            if node.get("rg"):
                out.requires_grad_(True)
            return out
        if t == "dtype":
            return np.dtype(str(node["v"]))
        if t == "dict":
            keys = [self.decode(k) for k in node["k"]]
            vals = [self.decode(v) for v in node["v"]]
            if len(keys) != len(vals):
                raise CheckpointError("load: corrupt checkpoint: dict with mismatched keys/values")
            return dict(zip(keys, vals))
        if t == "list":
            return [self.decode(v) for v in node["v"]]
        if t == "tuple":
            return tuple(self.decode(v) for v in node["v"])
        raise CheckpointError(f"load: corrupt checkpoint: unknown node type {t!r}")


# ---------------------------------------------------------------------------- public API
def save(obj: Any, f: PathLike | BinaryIO) -> None:
    """Save a nested structure of tensors, arrays and plain values (like ``torch.save``).

    Parameters
    ----------
    obj : object
        ``None``/bool/int/float/str, NumPy arrays and scalars, Tensors, dtypes, and
        dict/list/tuple nestings of these (e.g. ``{"model": model.state_dict(),
        "optimizer": opt.state_dict(), "epoch": 3}``).
    f : str, path-like or binary file object
        Where to write. A path is written atomically (temp file + ``os.replace``); the name is
        used as given (no extension is added).

    Raises
    ------
    CheckpointError
        When ``obj`` holds something that cannot be stored without pickle; the message names
        where in the structure it is.
    """
    enc = _Encoder()
    root = enc.encode(obj, [])
    manifest = {"format": FORMAT, "version": VERSION, "root": root}
    mbytes = json.dumps(manifest, separators=(",", ":"), allow_nan=False).encode("utf-8")
    entries = {_MANIFEST: np.frombuffer(mbytes, dtype=np.uint8)}
    entries.update(enc.arrays)
    if hasattr(f, "write"):
        np.savez(f, **entries)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: folder {folder!r} does not exist (for {path!r})")
    with atomic_open(path, "wb", fsync=True) as fh:
        np.savez(fh, **entries)


def _describe_bad_header(head: bytes, name: str) -> str:
    if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q"):
        what = "a Python pickle (e.g. written by torch.save or pickle.dump)"
        return (f"load: {name} is {what}, not a glassgrad checkpoint; glassgrad never unpickles "
                "files because unpickling can run arbitrary code. Nothing was executed.")
    if head[:6] == b"\x93NUMPY":
        return (f"load: {name} is a single .npy array, not a glassgrad checkpoint; read it with "
                "np.load(path, allow_pickle=False)")
    return (f"load: {name} is not a glassgrad checkpoint (expected a .npz zip archive written by "
            f"gg.save; the file starts with {head[:8]!r})")


def load(f: PathLike | BinaryIO, map_location: Any = None, weights_only: bool = True) -> Any:
    """Load what :func:`save` wrote; never runs code from the file.

    Parameters
    ----------
    f : str, path-like or binary file object
    map_location : str, optional
        Device for loaded tensors (``'cpu'``, ``'cuda'``); default: CPU.
    weights_only : bool
        Accepted for PyTorch compatibility; glassgrad always loads data only.

    Returns
    -------
    object
        The saved structure: dicts, lists, tuples, scalars, strings, NumPy arrays and Tensors.

    Raises
    ------
    FileNotFoundError
        When the path does not exist.
    CheckpointError
        When the file is not a glassgrad checkpoint (pickle, random bytes, a ``.npz`` without
        the glassgrad manifest, a newer format version, or corrupt data).
    """
    if hasattr(f, "read"):
        data = f.read()
        name = "the file object"
        src: Any = io.BytesIO(data)
        head = data[:16]
    else:
        path = os.fspath(f)
        name = repr(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"load: no such file: {path!r}")
        if os.path.isdir(path):
            raise CheckpointError(f"load: {path!r} is a folder, not a checkpoint file")
        with open(path, "rb") as fh:
            head = fh.read(16)
        src = path
    if head[:4] != b"PK\x03\x04" and head[:4] != b"PK\x05\x06":
        raise CheckpointError(_describe_bad_header(head, name))
    try:
        z = np.load(src, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise CheckpointError(f"load: {name} is not a readable .npz archive ({e})") from None
    try:
        if not hasattr(z, "files"):
            raise CheckpointError(f"load: {name} is not a glassgrad checkpoint")
        if _MANIFEST not in z.files:
            raise CheckpointError(
                f"load: {name} is a .npz archive but not a glassgrad checkpoint (no "
                f"{_MANIFEST!r} manifest; entries: {sorted(z.files)[:6]}); read it with np.load"
            )
        try:
            raw = z[_MANIFEST]
            manifest = json.loads(raw.tobytes().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise CheckpointError(f"load: {name}: the glassgrad manifest is corrupt ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CheckpointError(
                f"load: {name} has a {_MANIFEST!r} entry but not the glassgrad format marker"
            )
        ver = manifest.get("version")
        if not isinstance(ver, int) or ver > VERSION or ver < 1:
            raise CheckpointError(
                f"load: {name} has checkpoint format version {ver!r}; this glassgrad reads versions "
                f"1..{VERSION} (upgrade glassgrad)"
            )
        try:
            return _Decoder(z, map_location).decode(manifest.get("root"))
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise CheckpointError(f"load: {name}: corrupt array data ({e})") from None
        except ValueError as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"load: {name}: corrupt or unsafe array data ({e})") from None
        except (TypeError, KeyError, RecursionError) as e:
            raise CheckpointError(f"load: {name}: corrupt manifest ({type(e).__name__}: {e})") from None
    finally:
        z.close()


def is_checkpoint(path: PathLike) -> bool:
    """True when ``path`` is a file that :func:`load` accepts (reads only the manifest)."""
    try:
        with open(os.fspath(path), "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return False
        with np.load(os.fspath(path), allow_pickle=False) as z:
            if _MANIFEST not in z.files:
                return False
            m = json.loads(z[_MANIFEST].tobytes().decode("utf-8"))
            return isinstance(m, dict) and m.get("format") == FORMAT
    except Exception:
        return False
