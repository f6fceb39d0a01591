"""``.safetensors`` files for :func:`glassgrad.save` / :func:`glassgrad.load`.

The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length
``N``, ``N`` bytes of UTF-8 JSON ``{"name": {"dtype": "F32", "shape": [3, 4],
"data_offsets": [begin, end]}, ..., "__metadata__": {"str": "str"}}``, then the raw bytes of
every tensor, C order, little endian, packed without gaps or overlaps.

Reading and writing go through the ``safetensors`` package's NumPy API (install
``glassgrad[interop]``). Before the package sees a file, the header is checked here as
hostile input: its declared length against the file size and :data:`MAX_HEADER_BYTES`, the
JSON (depth too), every entry's dtype, shape and offsets (each tensor's byte count must
equal its shape times its item size, the tensors must tile the data region exactly), and
the total against ``max_bytes``. Every failure is a :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import os
from typing import Any, BinaryIO

import numpy as np

from ._checkpoint_io import CheckpointError, check_json_depth

__all__ = ["SAFETENSORS_DTYPES", "MAX_HEADER_BYTES", "looks_like_safetensors", "load_safetensors",
           "save_safetensors"]

#: largest JSON header accepted (the safetensors library's own limit is 100 MB)
MAX_HEADER_BYTES = 100 * 2**20
SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
                      "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def _package() -> Any:
    try:
        import safetensors.numpy as stn
    except ImportError:
        raise ImportError("reading and writing .safetensors files needs the 'safetensors' package: "
                          "pip install 'glassgrad[interop]' (or pip install safetensors)") from None
    return stn


def looks_like_safetensors(head: bytes) -> bool:
    """A safetensors file starts with a header length and then ``{`` (sniffed from 9 bytes)."""
    return len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") >= 2


def _check_header(raw: bytes, data_size: int, name: str, max_bytes: int) -> dict:
    def err(msg: str) -> CheckpointError:
        return CheckpointError(f"load: {name}: {msg}")

    check_json_depth(raw, 4, f"load: {name}: the safetensors header")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise err(f"the safetensors header is not valid JSON ({type(e).__name__}: {e})") from None
    if not isinstance(header, dict):
        raise err("the safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and (not isinstance(meta, dict)
                             or not all(isinstance(v, str) for v in meta.values())):
        raise err("the safetensors __metadata__ is not a map of strings")
    spans = []
    total = 0
    for key, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise err(f"tensor {key!r:.60}: malformed header entry")
        dt, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if dt not in SAFETENSORS_DTYPES:
            extra = " (it has no NumPy dtype; convert it to float32 before saving)" if isinstance(
                dt, str) and (dt == "BF16" or dt.startswith("F8")) else ""
            raise err(f"tensor {key!r:.60} has unsupported dtype {dt!r:.20}{extra}")
        if (not isinstance(shape, list) or len(shape) > 64
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
            raise err(f"tensor {key!r:.60} has an invalid shape {shape!r:.60}")
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
                or not 0 <= offs[0] <= offs[1]):
            raise err(f"tensor {key!r:.60} has invalid data_offsets {offs!r:.60}")
        n = np.dtype(SAFETENSORS_DTYPES[dt]).itemsize
        for s in shape:
            n *= s
        if offs[1] - offs[0] != n:
            raise err(f"tensor {key!r:.60} of shape {shape} {dt} needs {n} bytes but its data_offsets "
                      f"{offs} span {offs[1] - offs[0]}; the header is damaged or forged")
        total += n
        spans.append((offs[0], offs[1], key))
    if total > max_bytes:
        raise err(f"the tensors declare {total} bytes, more than max_bytes={max_bytes}; nothing was read")
    pos = 0
    for b, e, key in sorted(spans):
        if b != pos:
            raise err(f"tensor {key!r:.60} starts at byte {b} of the data where {pos} was expected "
                      "(overlapping tensors or a gap); the header is damaged or forged")
        pos = e
    if pos != data_size:
        raise err(f"the header describes {pos} bytes of tensor data but the file holds {data_size}; "
                  "the file is truncated or damaged")
    return header


def load_safetensors(fh: BinaryIO, name: str, path: str | None, max_bytes: int) -> dict[str, np.ndarray]:
    """Check the header of the open file ``fh``, then read it with the safetensors package."""
    stn = _package()
    start = fh.tell()
    fh.seek(0, os.SEEK_END)
    size = fh.tell() - start
    fh.seek(start)
    head = fh.read(8)
    if len(head) < 8:
        raise CheckpointError(f"load: {name}: truncated safetensors file ({size} bytes)")
    n = int.from_bytes(head, "little")
    if n > min(MAX_HEADER_BYTES, size - 8):
        raise CheckpointError(f"load: {name}: the safetensors header declares {n} bytes but the file has "
                              f"{size - 8} after the length (limit {MAX_HEADER_BYTES}); damaged or forged")
    header = _check_header(fh.read(n), size - 8 - n, name, max_bytes)
    try:
        if path is not None:
            out = stn.load_file(path)
        else:
            fh.seek(start)
            out = stn.load(fh.read(size))
    except Exception as e:  # SafetensorError and friends
        raise CheckpointError(f"load: {name}: the safetensors file is damaged "
                              f"({type(e).__name__}: {e})") from None
    if set(out) != set(header):
        raise CheckpointError(f"load: {name}: the safetensors reader returned other tensors than the header "
                              "declares")
    for k, a in out.items():
        e = header[k]
        if a.dtype != np.dtype(SAFETENSORS_DTYPES[e["dtype"]]) or list(a.shape) != e["shape"]:
            raise CheckpointError(f"load: {name}: tensor {k!r} does not match its header entry")
    return {k: out[k] for k in header}   # the header's order


def save_safetensors(obj: Any, f: Any) -> None:
    """Write a flat ``{str: Tensor or array}`` dict as ``.safetensors`` (atomically for a path)."""
    from ._atomic import atomic_open
    from .backend import to_numpy
    from .tensor import Tensor

    if not isinstance(obj, dict):
        raise CheckpointError(f"save: a .safetensors file holds a flat dict of named tensors (such as "
                              f"model.state_dict()); got {type(obj).__name__}. Use another extension "
                              "(e.g. .ckpt) for glassgrad's own format, which stores nested objects")
    arrays = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise CheckpointError(f"save: .safetensors keys must be str; got {k!r} ({type(k).__name__})")
        if isinstance(v, Tensor):
            a = to_numpy(v.array)
        elif isinstance(v, (np.ndarray, np.generic)):
            a = np.asarray(v)
        else:
            raise CheckpointError(f"save: .safetensors values must be tensors or arrays; {k!r} is "
                                  f"{type(v).__name__} (a .safetensors file holds a flat dict of named "
                                  "tensors; use glassgrad's own format for other values)")
        if a.dtype.newbyteorder("<").str not in {np.dtype(d).str for d in SAFETENSORS_DTYPES.values()}:
            raise CheckpointError(f"save: tensor {k!r} has dtype {a.dtype}, which .safetensors cannot hold "
                                  "here (numeric and bool dtypes only)")
        arrays[k] = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False))
    data = _package().save(arrays)
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: folder {folder!r} does not exist (for {path!r})")
    with atomic_open(path, "wb", fsync=True) as fh:
        fh.write(data)
