"""gg.load on damaged and crafted files: only CheckpointError (naming the problem) or a correct load.

Every hostile file is generated here from a valid checkpoint: truncations, bit flips in each
zip region, a damaged manifest, deep JSON, forged sizes, swapped and retyped arrays,
duplicate and twice-referenced members, a small zip bomb, real ``torch.save`` files, and
temporary files orphaned by a killed save.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
import warnings
import zipfile

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.serialization import CheckpointError

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
MANIFEST = "__glassgrad__.npy"


# ---------------------------------------------------------------------------- helpers
def _obj():
    gg.manual_seed(0)
    return {
        "model": {"fc1.weight": gg.randn(6, 4), "fc1.bias": gg.randn(6), "fc2.weight": gg.randn(6, 4),
                  "fc2.bias": gg.randn(6, requires_grad=True)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones((6, 4), np.float32)}},
                      "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1, 2, 3]}]},
        "epoch": 5, "name": "run", "steps": np.int64(40), "mask": np.array([True, False]),
    }


def _same(a, b) -> bool:
    if isinstance(a, gg.Tensor):
        return (isinstance(b, gg.Tensor) and a.requires_grad == b.requires_grad
                and _same(a.detach().numpy(), b.detach().numpy()))
    if isinstance(a, (np.ndarray, np.generic)):
        return (type(a) is type(b) and a.dtype == b.dtype and np.shape(a) == np.shape(b)
                and np.array_equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _valid() -> bytes:
    buf = io.BytesIO()
    gg.save(_obj(), buf)
    return buf.getvalue()


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(zi.filename, z.read(zi)) for zi in z.infolist()]


def _build(mems, compression=zipfile.ZIP_STORED) -> bytes:
    b = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names warn
        with zipfile.ZipFile(b, "w", compression) as z:
            for name, payload in mems:
                z.writestr(name, payload)
    return b.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, allow_pickle=True)
    return b.getvalue()


def _manifest(mems) -> dict:
    return json.loads(np.load(io.BytesIO(dict(mems)[MANIFEST])).tobytes())


def _with_manifest(mems, m) -> list:
    raw = _npy(np.frombuffer(json.dumps(m).encode(), np.uint8))
    return [(n, raw if n == MANIFEST else p) for n, p in mems]


def _replace(mems, name: str, payload: bytes) -> list:
    return [(n, payload if n == name else p) for n, p in mems]


def _load_bytes(data: bytes, **kw):
    return gg.load(io.BytesIO(data), **kw)


def _refused(data: bytes, match: str, **kw) -> str:
    with pytest.raises(CheckpointError, match=match) as e:
        _load_bytes(data, **kw)
    return str(e.value)


def _regions(data: bytes) -> dict[str, list[tuple[int, int]]]:
    """Byte ranges of the local headers, member data, central directory and end record."""
    out: dict[str, list[tuple[int, int]]] = {"local": [], "data": [], "central": [], "eocd": []}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for zi in z.infolist():
            off = zi.header_offset
            n, e = struct.unpack("<HH", data[off + 26: off + 30])
            start = off + 30 + n + e
            out["local"].append((off, start))
            out["data"].append((start, start + zi.compress_size))
    eocd = data.rfind(b"PK\x05\x06")
    out["central"].append((struct.unpack("<I", data[eocd + 16: eocd + 20])[0], eocd))
    out["eocd"].append((eocd, len(data)))
    return out


def _outcome(data: bytes, expected) -> str:
    try:
        out = _load_bytes(data)
    except CheckpointError as e:
        assert str(e).startswith("load: "), str(e)
        return "refused"
    assert _same(expected, out), "a damaged file loaded with different contents"
    return "loaded"


# ---------------------------------------------------------------------------- truncation and bit flips
def test_truncated_files_are_refused():
    data = _valid()
    for n in list(range(0, 64)) + list(range(64, len(data), 37)) + [len(data) - 1]:
        msg = _refused(data[:n], ".")
        assert "checkpoint" in msg or "damaged" in msg or "truncated" in msg, msg


@pytest.mark.parametrize("region", ["local", "data", "central", "eocd"])
def test_bit_flips_in_each_zip_region(region):
    data = _valid()
    expected = _obj()
    rng = random.Random(region)
    outcomes = set()
    for a, b in _regions(data)[region]:
        for _ in range(12):
            d = bytearray(data)
            i = rng.randrange(a, b)
            d[i] ^= 1 << rng.randrange(8)
            outcomes.add(_outcome(bytes(d), expected))
    if region == "data":  # any change to stored bytes is caught (zip CRC, .npy header, checksum)
        assert outcomes == {"refused"}


def test_flipped_array_byte_is_named():
    data = _valid()
    a, b = _regions(data)["data"][1]  # a0.npy (the manifest is written first)
    d = bytearray(data)
    d[b - 1] ^= 0x10
    msg = _refused(bytes(d), "damaged")
    assert "a0.npy" in msg and "fc1.weight" in msg


def test_damaged_manifest_member():
    data = _valid()
    a, b = _regions(data)["data"][0]
    assert _members(data)[0][0] == MANIFEST
    for i in (a + 5, a + 60, (a + b) // 2, b - 2):
        d = bytearray(data)
        d[i] ^= 0x01
        msg = _refused(bytes(d), "manifest")
        assert "__glassgrad__" in msg
    mems = _members(data)
    for raw in (b"\xff\xfe not utf-8", b'{"format": "glassgrad-checkpoint", "version": 2, "root": ',
                b"[]", b'{"format": "glassgrad-checkpoint", "version": true, "root": {"t": "none"}}'):
        bad = _replace(mems, MANIFEST, _npy(np.frombuffer(raw, np.uint8)))
        _refused(_build(bad), "manifest|format marker|version")
    # a manifest that is not a byte array
    _refused(_build(_replace(mems, MANIFEST, _npy(np.zeros(3, np.float32)))), "manifest.*dtype")


def test_damaged_zip_directory():
    data = _valid()
    cd, eocd = _regions(data)["central"][0]
    # compression method of the first directory entry set to an unknown one
    d = bytearray(data)
    d[cd + 10: cd + 12] = struct.pack("<H", 99)
    _refused(bytes(d), "compression method 99")
    d[cd + 10: cd + 12] = struct.pack("<H", zipfile.ZIP_BZIP2)
    _refused(bytes(d), "compression method 12 .bzip2.")
    # encrypted flag
    d = bytearray(data)
    d[cd + 8] |= 1
    _refused(bytes(d), "encrypted")
    # directory overwritten with garbage, offset pointing outside the file, absurd entry count
    d = bytearray(data)
    d[cd: cd + 40] = bytes(range(40))
    _refused(bytes(d), "zip directory is damaged")
    d = bytearray(data)
    d[eocd + 16: eocd + 20] = struct.pack("<I", 0xFFFFFFF0)
    _refused(bytes(d), "damaged")
    d = bytearray(data)
    d[eocd + 12: eocd + 16] = struct.pack("<I", 0x7FFFFFFF)  # directory size
    _refused(bytes(d), "zip directory is damaged")


# ---------------------------------------------------------------------------- crafted manifests
def test_deeply_nested_json_is_refused_before_parsing():
    mems = _members(_valid())
    for deep in (b"[" * 200_000 + b"]" * 200_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                 b'{"format": "glassgrad-checkpoint", "version": 2, "root": ' + b"[" * 50_000):
        msg = _refused(_build(_replace(mems, MANIFEST, _npy(np.frombuffer(deep, np.uint8)))),
                       "nested deeper than")
        assert "manifest" in msg
    # brackets inside strings do not count
    m = _manifest(mems)
    m["root"]["v"][2] = {"t": "str", "v": "[\\\"{" * 10_000}
    assert _load_bytes(_build(_with_manifest(mems, m)))["epoch"] == '[\\"{' * 10_000


def test_depth_limit_of_the_object():
    nested: list = []
    cur = nested
    for _ in range(70):
        cur.append([])
        cur = cur[0]
    buf = io.BytesIO()
    with pytest.raises(CheckpointError, match="nested deeper than max_depth=64"):
        gg.save(nested, buf)
    gg.save(nested, buf, max_depth=80)
    data = buf.getvalue()
    _refused(data, "nested deeper than")
    assert _load_bytes(data, max_depth=80) == nested
    cyc: dict = {}
    cyc["self"] = cyc
    with pytest.raises(CheckpointError, match="contains itself"):
        gg.save(cyc, io.BytesIO())


def test_malformed_nodes():
    mems = _members(_valid())
    base = _manifest(mems)
    edits = {
        "int as string": lambda r: r["v"].__setitem__(2, {"t": "int", "v": "5"}),
        "float not a number": lambda r: r["v"].__setitem__(2, {"t": "float", "v": "five"}),
        "unhashable key": lambda r: r["k"].__setitem__(2, {"t": "list", "v": []}),
        "unknown type": lambda r: r["v"].__setitem__(2, {"t": "eval", "v": "1+1"}),
        "object dtype node": lambda r: r["v"].__setitem__(2, {"t": "dtype", "v": "O"}),
        "keys/values mismatch": lambda r: r["k"].pop(),
        "not a node": lambda r: r["v"].__setitem__(2, [1, 2]),
        "missing sha": lambda r: r["v"][0]["v"][0].pop("sha256"),
        "negative shape": lambda r: r["v"][0]["v"][0].__setitem__("shape", [-6, -4]),
        "bad requires_grad": lambda r: r["v"][0]["v"][0].__setitem__("rg", "yes"),
    }
    for what, edit in edits.items():
        m = json.loads(json.dumps(base))
        edit(m["root"])
        msg = _refused(_build(_with_manifest(mems, m)), "corrupt")
        assert "manifest" in msg or "missing" in msg, (what, msg)


def test_newer_version_is_refused():
    mems = _members(_valid())
    m = _manifest(mems)
    m["version"] = 3
    _refused(_build(_with_manifest(mems, m)), "format version 3.*newer glassgrad")


# ---------------------------------------------------------------------------- sizes
def test_npy_header_declaring_8_tib():
    mems = _members(_valid())
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": "<f4", "fortran_order": False, "shape": (1 << 41,)})
    msg = _refused(_build(_replace(mems, "a0.npy", b.getvalue() + b"\0" * 64)), "does not match")
    assert "8.19e+03 GiB" in msg and "fc1.weight" in msg


def _forge_size(mems, index: int, size: int, compression=zipfile.ZIP_STORED) -> bytes:
    b = io.BytesIO()
    z = zipfile.ZipFile(b, "w", compression)
    for name, payload in mems:
        z.writestr(name, payload)
    z.infolist()[index].file_size = size  # written into the central directory (zip64 when large)
    z.close()
    return b.getvalue()


def test_directory_declaring_huge_sizes():
    mems = _members(_valid())
    for size in (8 << 40, 3 << 30, 10_000):
        msg = _refused(_forge_size(mems, 1, size), f"'a0.npy' declares {size} bytes from 224 stored bytes")
        assert "forged" in msg
    # deflated: a size the compressed bytes could produce but do not; caught by the .npy size
    # check before anything is allocated for the array
    _refused(_forge_size(mems, 1, 20_000, zipfile.ZIP_DEFLATED), "does not match the member's size")


def _bomb(n_refs: int) -> bytes:
    big = np.zeros(1 << 21, np.float32)  # 8 MiB of zeros: deflates to a few KiB
    node = {"t": "ndarray", "k": "a0", "dtype": "<f4", "shape": [big.size],
            "sha256": hashlib.sha256(big.tobytes()).hexdigest()}
    m = {"format": "glassgrad-checkpoint", "version": 2, "root": {"t": "list", "v": [node] * n_refs}}
    return _build([(MANIFEST, _npy(np.frombuffer(json.dumps(m).encode(), np.uint8))), ("a0.npy", _npy(big))],
                  zipfile.ZIP_DEFLATED)


def test_zip_bomb_is_bounded_before_reading():
    one = _bomb(1)
    assert len(one) < 100_000
    msg = _refused(one, "declares 8 MiB of decompressed data, more than the limit max_bytes=1048576",
                   max_bytes=1 << 20)
    assert "nothing was read" in msg
    out = _load_bytes(one, max_bytes=16 << 20)  # within the limit, deflate is fine
    assert out[0].shape == (1 << 21,) and not out[0].any()
    # one member referenced many times: refused before any array is read
    _refused(_bomb(24), "member 'a0' is referenced twice", max_bytes=16 << 20)


def test_limit_is_configurable_module_wide(monkeypatch):
    monkeypatch.setattr(gg.serialization, "MAX_BYTES", 1 << 20)
    _refused(_bomb(1), "max_bytes=1048576")


# ---------------------------------------------------------------------------- swapped / retyped / duplicated
def test_swapped_references_in_the_manifest():
    mems = _members(_valid())
    m = _manifest(mems)
    w = m["root"]["v"][0]["v"]
    w[0]["k"], w[2]["k"] = w[2]["k"], w[0]["k"]  # fc1.weight <-> fc2.weight, same shape
    _refused(_build(_with_manifest(mems, m)), r"obj\['model'\]\['fc1.weight'\] refers to member 'a2'")
    m = _manifest(mems)
    w = m["root"]["v"][0]["v"]
    w[0], w[2] = w[2], w[0]  # whole nodes (with their checksums) moved
    _refused(_build(_with_manifest(mems, m)), "moved or swapped")


def test_swapped_members_in_the_archive():
    mems = _members(_valid())
    ren = {"a0.npy": "a2.npy", "a2.npy": "a0.npy"}
    msg = _refused(_build([(ren.get(n, n), p) for n, p in mems]), "SHA-256 checksum mismatch")
    assert "fc1.weight" in msg


@pytest.mark.parametrize("arr,match", [
    (np.ones((6, 4), np.int64), "dtype '<i8' .int64. but float32"),
    (np.ones((6, 4), bool), r"dtype '\|b1' .bool. but float32"),
    (np.ones((6, 4), np.float64), "dtype '<f8' .float64. but float32"),
    (np.ones((6, 4), "datetime64[s]"), "datetime64.*only numeric and bool"),
    (np.array([[None] * 4] * 6, dtype=object), "object.*only numeric and bool"),
    (np.ones((6, 4), "U3"), "only numeric and bool"),
    (np.zeros(6, [("a", "<f4"), ("b", "<f4")]), "structured"),
    (np.ones((4, 6), np.float32), r"shape \(4, 6\) but shape \(6, 4\) was saved"),
])
def test_wrong_dtype_or_shape(arr, match):
    mems = _members(_valid())
    msg = _refused(_build(_replace(mems, "a0.npy", _npy(arr))), match)
    assert "fc1.weight" in msg


def test_duplicate_member_names():
    mems = _members(_valid())
    _refused(_build(mems + [("a0.npy", _npy(np.zeros((6, 4), np.float32)))]), "two members named 'a0.npy'")
    _refused(_build([mems[0]] + mems), "two members named '__glassgrad__.npy'")


def test_member_referenced_twice_and_extra_members():
    mems = _members(_valid())
    m = _manifest(mems)
    w = m["root"]["v"][0]["v"]
    w[2] = dict(w[0])
    _refused(_build(_with_manifest(mems, m)), r"'a0' is referenced twice .at obj\['model'\]\['fc1.weight'\]")
    _refused(_build(mems + [("a99.npy", _npy(np.zeros(3)))]), r"unexpected member.*a99.npy")
    _refused(_build([(n, p) for n, p in mems if n != "a3.npy"]), "missing array 'a3'")


# ---------------------------------------------------------------------------- fuzz
def test_fuzz_random_mutations():
    data = _valid()
    expected = _obj()
    regions = _regions(data)
    rng = random.Random(1234)
    counts = {"refused": 0, "loaded": 0}
    for _ in range(300):
        d = bytearray(data)
        kind = rng.randrange(6)
        if kind == 0:
            for _ in range(rng.randint(1, 8)):
                d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            a, b = rng.choice(regions[rng.choice(list(regions))])
            for _ in range(rng.randint(1, 4)):
                d[rng.randrange(a, b)] ^= 1 << rng.randrange(8)
        elif kind == 2:
            d = d[: rng.randrange(len(d))]
        elif kind == 3:
            i, n = rng.randrange(len(d)), rng.randint(1, 16)
            d[i:i + n] = bytes(rng.randrange(256) for _ in range(n))
        elif kind == 4:
            i = rng.randrange(len(d))
            d[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:
            i = rng.randrange(len(d))
            del d[i:i + rng.randint(1, 16)]
        counts[_outcome(bytes(d), expected)] += 1
    assert counts["refused"] > 200  # the mutations are real


# ---------------------------------------------------------------------------- backward compatibility
def _v1_file(tmp_path, root, arrays):
    p = tmp_path / "v1.ckpt"
    m = {"format": "glassgrad-checkpoint", "version": 1, "root": root}
    with open(p, "wb") as fh:
        np.savez(fh, __glassgrad__=np.frombuffer(json.dumps(m).encode(), np.uint8), **arrays)
    return p


def test_version_1_files_load_only_when_trusted(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    root = {"t": "dict", "k": [{"t": "str", "v": "w"}, {"t": "str", "v": "b"}, {"t": "str", "v": "n"}],
            "v": [{"t": "tensor", "k": "a0", "rg": True}, {"t": "ndarray", "k": "a1"}, {"t": "int", "v": 3}]}
    p = _v1_file(tmp_path, root, {"a0": w, "a1": np.asfortranarray(np.ones((2, 3)))})
    with pytest.raises(CheckpointError, match="version 1 stores no dtype, shape or checksum.*"
                                              "allow_unverified=True"):
        gg.load(p)
    out = gg.load(p, allow_unverified=True)
    assert out["w"].requires_grad and np.array_equal(out["w"].detach().numpy(), w) and out["n"] == 3
    assert out["b"].shape == (2, 3)
    # the structural checks apply to version 1 too
    root["v"][0]["k"], root["v"][1]["k"] = "a1", "a0"
    with pytest.raises(CheckpointError, match="refers to member 'a1' where 'a0' was written"):
        gg.load(_v1_file(tmp_path, root, {"a0": w, "a1": np.ones(3)}), allow_unverified=True)
    root["v"][0]["k"] = "a0"
    root["v"][1]["k"] = "a0"
    with pytest.raises(CheckpointError, match="referenced twice"):
        gg.load(_v1_file(tmp_path, root, {"a0": w}), allow_unverified=True)
    with pytest.raises(CheckpointError, match="datetime64"):
        gg.load(_v1_file(tmp_path, {"t": "ndarray", "k": "a0"}, {"a0": np.ones(2, "datetime64[D]")}),
                allow_unverified=True)


# ---------------------------------------------------------------------------- PyTorch files and names
def _torch():
    return pytest.importorskip("torch")


def test_legacy_torch_save_files_are_explained(tmp_path):
    torch_ = _torch()
    p = tmp_path / "model.pt"
    m = torch_.nn.Linear(3, 2)
    torch_.save(m.state_dict(), p, _use_new_zipfile_serialization=False)
    for wo in (True, False):
        with pytest.raises(CheckpointError, match="PyTorch checkpoint") as e:
            gg.load(p, weights_only=wo)
        msg = str(e.value)
        assert "not a glassgrad checkpoint" in msg and "Nothing was executed" in msg
        assert "torch.load(path, weights_only=True)" in msg and "load_state_dict" in msg
        assert "legacy" in msg
        assert ("weights_only=False does not change that" in msg) == (not wo)


def test_pickled_torch_module_is_refused(tmp_path):
    torch_ = _torch()
    p = tmp_path / "model.pt"
    torch_.save(torch_.nn.Linear(3, 2), p)
    for wo in (True, False):
        with pytest.raises(CheckpointError, match=r"torch\.nn\.modules\.linear\.Linear.*state_dict\(\)"
                                                  r".*Nothing from the file was executed"):
            gg.load(p, weights_only=wo)


def test_torch_state_dict_route_works(tmp_path):
    torch_ = _torch()
    tm = torch_.nn.Linear(3, 2)
    sd = tm.state_dict()
    gg.save({k: v.numpy() for k, v in sd.items()}, tmp_path / "model.ckpt")
    gm = gg.nn.Linear(3, 2)
    gm.load_state_dict(gg.load(tmp_path / "model.ckpt", map_location="cpu", weights_only=True))
    np.testing.assert_array_equal(gm.weight.detach().numpy(), sd["weight"].numpy())


def test_saving_a_whole_module_says_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match=r"whole nn.Module.*Linear.*model.state_dict\(\)"):
        gg.save(gg.nn.Linear(2, 2), tmp_path / "m.ckpt")
    with pytest.raises(CheckpointError, match=r"load_state_dict\(gg.load\(path\)\)"):
        gg.save({"model": gg.nn.Linear(2, 2)}, tmp_path / "m.ckpt")
    assert os.listdir(tmp_path) == []


def test_safe_globals_names_exist_and_change_nothing(tmp_path):
    ser = gg.serialization
    p = tmp_path / "x.ckpt"
    gg.save({"w": np.ones(2, np.float32)}, p)
    ser.clear_safe_globals()
    ser.add_safe_globals([np.dtype, dict])
    assert ser.get_safe_globals() == [np.dtype, dict]
    with ser.safe_globals([set]):
        assert ser.get_safe_globals() == [np.dtype, dict, set]
        out = gg.load(p, weights_only=True)
    assert ser.get_safe_globals() == [np.dtype, dict]
    ser.clear_safe_globals()
    assert ser.get_safe_globals() == []
    np.testing.assert_array_equal(out["w"], np.ones(2))
    # a pickle is still refused inside safe_globals and with weights_only=False
    (tmp_path / "p.pt").write_bytes(b"\x80\x04\x95" + b"\0" * 20)
    with ser.safe_globals([object]), pytest.raises(CheckpointError, match="unpickling mode"):
        gg.load(tmp_path / "p.pt", weights_only=False)


def test_map_location_forms(tmp_path):
    p = tmp_path / "t.ckpt"
    gg.save({"t": gg.ones(2, requires_grad=True)}, p)
    for ml in (None, "cpu", {"cpu": "cpu"}, {"cuda:0": "cpu"}, lambda storage, loc: storage,
               lambda storage, loc: None):
        out = gg.load(p, map_location=ml, weights_only=False)
        assert out["t"].device == "cpu" and out["t"].requires_grad
    seen = []
    gg.load(p, map_location=lambda t, loc: seen.append(loc))
    assert seen == ["cpu"]
    with pytest.raises(TypeError, match="map_location"):
        gg.load(p, map_location=lambda t, loc: 3)
    with pytest.raises(ValueError, match="unknown device"):
        gg.load(p, map_location="tpu")


def test_non_seekable_stream(tmp_path):
    data = _valid()

    class Stream:
        def __init__(self):
            self.b = io.BytesIO(data)

        def read(self, n=-1):
            return self.b.read(n)

    assert _same(_obj(), gg.load(Stream()))


def test_is_checkpoint_on_damage(tmp_path):
    data = _valid()
    p = tmp_path / "c.ckpt"
    p.write_bytes(data)
    assert gg.serialization.is_checkpoint(p)
    cd, _ = _regions(data)["central"][0]
    p.write_bytes(data[:cd + 10] + b"\x63\x00" + data[cd + 12:])
    assert not gg.serialization.is_checkpoint(p)
    p.write_bytes(data[: len(data) // 2])
    assert not gg.serialization.is_checkpoint(p)


# ---------------------------------------------------------------------------- orphaned temporary files
_WRITER = """
import sys, time
from glassgrad._atomic import atomic_open
with atomic_open(sys.argv[1], "wb") as fh:
    fh.write(b"partial" * 1000)
    fh.flush()
    print("ready", flush=True)
    time.sleep(120)
"""


def _start_writer(target):
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], env=env, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _temps(folder):
    return sorted(f for f in os.listdir(folder) if f.startswith(".tmp-"))


def test_orphans_of_killed_saves_are_removed(tmp_path):
    target = tmp_path / "last.ckpt"
    dead = [_start_writer(target) for _ in range(3)]
    live = _start_writer(target)
    try:
        for p in dead:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
        temps = _temps(tmp_path)
        assert len(temps) == 4
        live_tmp = [t for t in temps if f"-{live.pid}-" in t]
        assert len(live_tmp) == 1
        # load never picks up a temporary file, even when asked for it by name
        with pytest.raises(CheckpointError, match="temporary file"):
            gg.load(tmp_path / temps[0])
        gg.save({"epoch": 1}, target)
        assert _temps(tmp_path) == live_tmp  # the running save's file is kept
        assert gg.load(target) == {"epoch": 1}
    finally:
        live.kill()
        live.wait(timeout=30)
    # ModelCheckpoint cleans its folder when training starts (a resumed run)
    other = tmp_path / "epoch003.ckpt"
    p = _start_writer(other)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert len(_temps(tmp_path)) == 2
    gg.train.ModelCheckpoint(tmp_path).on_train_begin(None)
    assert _temps(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt"]


def test_old_style_and_foreign_temp_files_are_removed_by_age(tmp_path):
    from glassgrad._atomic import _host_tag, remove_stale_temp_files

    host = "00000000" if _host_tag() != "00000000" else "11111111"
    old = tmp_path / ".tmp-last.ckpt-ab12cd_9"                       # name written by earlier versions
    foreign = tmp_path / f".tmp-last.ckpt-{host}-4242-xyz123ab"     # another host's save
    unrelated = tmp_path / ".tmp-notes"
    for f in (old, foreign, unrelated):
        f.write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == []        # too recent to judge
    past = time.time() - 7200
    for f in (old, foreign, unrelated):
        os.utime(f, (past, past))
    assert sorted(remove_stale_temp_files(tmp_path, names=["other.ckpt"])) == []
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted([str(old), str(foreign)])
    assert unrelated.exists()


def test_depth_beyond_the_recursion_limit_is_a_checkpoint_error():
    nested: list = []
    cur = nested
    for _ in range(5000):
        cur.append([])
        cur = cur[0]
    with pytest.raises(CheckpointError, match="recursion limit"):
        gg.save(nested, io.BytesIO(), max_depth=10**6)
    # a manifest that deep, loaded with a limit that allows it
    text = (b'{"format": "glassgrad-checkpoint", "version": 2, "root": ' + b'{"t": "list", "v": [' * 5000
            + b'{"t": "none"}' + b"]}" * 5000 + b"}")
    data = _build([(MANIFEST, _npy(np.frombuffer(text, np.uint8)))])
    _refused(data, "nested deeper than 132 levels")
    _refused(data, "recursion limit|corrupt", max_depth=10**6)


_TRAIN = """
import os, signal, sys
import numpy as np
import glassgrad as gg
from glassgrad import nn, optim
from glassgrad.data import DataLoader, TensorDataset
from glassgrad.train import ModelCheckpoint, Trainer

folder, epochs, kill_at, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
write = gg.serialization._write_archive
calls = [0]


def dying_write(fh, entries):  # SIGKILL in the middle of the kill_at-th checkpoint write
    calls[0] += 1
    if calls[0] == kill_at:
        fh.write(b"PK\\x03\\x04 half a checkpoint")
        fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    write(fh, entries)


gg.serialization._write_archive = dying_write
gg.manual_seed(7)
rng = np.random.default_rng(0)
X = rng.normal(size=(96, 4)).astype(np.float32)
y = (X[:, 0] > X[:, 1]).astype(np.int64)
train = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, generator=gg.Generator(3))
model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Tanh(), nn.Linear(8, 2))
opt = optim.Adam(model.parameters(), lr=0.01)
t = Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[ModelCheckpoint(folder)], verbose=0)
last = os.path.join(folder, "last.ckpt")
if os.path.exists(last):
    t.load_checkpoint(last)
t.fit(train, epochs=epochs - t.epoch)
np.save(out, np.concatenate([p.detach().numpy().ravel() for p in model.parameters()]))
"""


def _train(folder, epochs: int, kill_at: int, out) -> int:
    env = {**os.environ, "PYTHONPATH": SRC, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", _TRAIN, str(folder), str(epochs), str(kill_at), str(out)],
                          env=env, timeout=300).returncode


def test_sigkill_during_checkpoint_writes_then_resume(tmp_path):
    """Killed in the middle of a checkpoint write 4 times: each orphaned temp file is cleaned up
    by the next run, and the resumed result equals an uninterrupted run bit for bit."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    straight.mkdir()
    resumed.mkdir()
    assert _train(straight, 6, 0, tmp_path / "a.npy") == 0
    for _ in range(4):
        # writes: epochNNN.ckpt then last.ckpt per epoch; the 3rd write of each run is killed
        assert _train(resumed, 6, 3, tmp_path / "b.npy") == -signal.SIGKILL
        orphans = _temps(resumed)
        assert len(orphans) == 1 and orphans[0].startswith(".tmp-epoch")  # the last run's only
    assert _train(resumed, 6, 0, tmp_path / "b.npy") == 0
    assert _temps(resumed) == []
    assert sorted(os.listdir(resumed)) == [f"epoch{e:03d}.ckpt" for e in range(1, 7)] + ["last.ckpt"]
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_repeated_dict_key_and_oversized_stream():
    mems = _members(_valid())
    m = _manifest(mems)
    m["root"]["k"][3] = dict(m["root"]["k"][2])  # "name" -> a second "epoch"
    _refused(_build(_with_manifest(mems, m)), "same key twice")

    class Stream:  # no seek: copied in chunks, refused past the limit
        def __init__(self, data):
            self.b = io.BytesIO(data)

        def read(self, n=-1):
            return self.b.read(n)

    with pytest.raises(CheckpointError, match="larger than max_bytes=0"):
        gg.load(Stream(b"PK\x03\x04" + b"\0" * (65 << 20)), max_bytes=0)
