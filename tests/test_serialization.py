"""gg.save / gg.load: round trips, atomic writes, and refusing anything that is not ours."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.serialization import CheckpointError, is_checkpoint


def _roundtrip(obj, tmp_path):
    p = tmp_path / "x.ckpt"
    gg.save(obj, p)
    return gg.load(p)


def test_nested_roundtrip(tmp_path):
    gg.manual_seed(3)
    w = gg.randn(3, 4)
    obj = {
        "model": {"fc.weight": w, "fc.bias": np.arange(4, dtype=np.float32)},
        "optimizer": {"state": {0: {"step": 7, "exp_avg": np.ones((3, 4), np.float32)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "nesterov": False, "foreach": None}]},
        "epoch": 12, "name": "moons ✓", "nan": float("nan"), "inf": -float("inf"),
        "big": 2**100, "np_scalar": np.float32(1.5), "np_int": np.int64(-3), "flag": np.bool_(True),
        "dtype": np.dtype("float16"), "empty": np.zeros((0, 5), np.int8), "tuple": (1, "a", None),
        "rng": gg.get_rng_state(),
    }
    out = _roundtrip(obj, tmp_path)
    assert isinstance(out["model"]["fc.weight"], gg.Tensor)
    assert out["model"]["fc.weight"].dtype == np.float32
    np.testing.assert_array_equal(out["model"]["fc.weight"].numpy(), w.numpy())
    assert out["model"]["fc.bias"].dtype == np.float32
    st = out["optimizer"]["state"]
    assert list(st) == [0] and st[0]["step"] == 7 and isinstance(st[0]["step"], int)
    g = out["optimizer"]["param_groups"][0]
    assert g == {"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False, "foreach": None}
    assert out["epoch"] == 12 and out["name"] == "moons ✓" and out["big"] == 2**100
    assert np.isnan(out["nan"]) and out["inf"] == -np.inf
    assert out["np_scalar"] == np.float32(1.5) and out["np_scalar"].dtype == np.float32
    assert out["np_int"].dtype == np.int64 and out["flag"].dtype == np.bool_
    assert out["dtype"] == np.float16
    assert out["empty"].shape == (0, 5) and out["empty"].dtype == np.int8
    assert out["tuple"] == (1, "a", None)
    assert out["rng"] == obj["rng"]
    gg.set_rng_state(out["rng"])  # the state is usable as is


def test_requires_grad_and_key_order(tmp_path):
    t = gg.ones(2, requires_grad=True)
    out = _roundtrip({"b": t, "a": 1, 3: "x"}, tmp_path)
    assert list(out) == ["b", "a", 3]
    assert out["b"].requires_grad and out["b"].is_leaf


def test_file_objects():
    buf = io.BytesIO()
    gg.save({"x": np.eye(2)}, buf)
    buf.seek(0)
    np.testing.assert_array_equal(gg.load(buf)["x"], np.eye(2))


def test_readable_with_numpy_alone(tmp_path):
    p = tmp_path / "m.ckpt"
    gg.save({"w": np.full(3, 2.0)}, p)
    with np.load(p, allow_pickle=False) as z:
        manifest = json.loads(z["__glassgrad__"].tobytes())
        assert manifest["format"] == "glassgrad-checkpoint" and manifest["version"] == 2
        assert manifest["root"]["t"] == "dict"
        node = manifest["root"]["v"][0]
        np.testing.assert_array_equal(z["a0"], np.full(3, 2.0))
        # the per-array record can be checked with NumPy and hashlib alone
        assert node["dtype"] == "<f8" and node["shape"] == [3]
        assert node["sha256"] == hashlib.sha256(np.ascontiguousarray(z["a0"]).tobytes()).hexdigest()
    assert is_checkpoint(p)


def test_unsupported_objects_are_named(tmp_path):
    class Thing:
        pass

    with pytest.raises(CheckpointError, match=r"Thing at obj\['a'\]\[1\]"):
        gg.save({"a": [1, Thing()]}, tmp_path / "x")
    with pytest.raises(CheckpointError, match="dtype object"):
        gg.save({"a": np.array([None, 1], dtype=object)}, tmp_path / "x")
    with pytest.raises(CheckpointError, match="key"):
        gg.save({(1, 2): 3}, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert os.listdir(tmp_path) == []  # no temp files left behind


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "c.ckpt"
    gg.save({"v": 1}, p)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(gg.serialization, "_write_archive", boom)
    with pytest.raises(OSError, match="disk full"):
        gg.save({"v": 2}, p)
    monkeypatch.undo()
    assert gg.load(p) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["c.ckpt"]


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        gg.load(tmp_path / "nope.ckpt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gg.save({"a": 1}, tmp_path / "no" / "dir" / "x.ckpt")
    with pytest.raises(CheckpointError, match="folder"):
        gg.load(tmp_path)


def test_random_bytes_and_empty_file(tmp_path):
    p = tmp_path / "r.bin"
    p.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(CheckpointError, match="not a glassgrad checkpoint"):
        gg.load(p)
    p.write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a glassgrad checkpoint"):
        gg.load(p)
    assert not is_checkpoint(p)


def test_plain_npz_without_marker(tmp_path):
    p = tmp_path / "plain.npz"
    np.savez(p, w=np.ones(3))
    with pytest.raises(CheckpointError, match="no '__glassgrad__' manifest"):
        gg.load(p)
    assert not is_checkpoint(p)


def test_wrong_marker_or_version(tmp_path):
    p = tmp_path / "v.npz"
    for manifest, msg in [({"format": "other", "version": 1, "root": {"t": "none"}}, "format marker"),
                          ({"format": "glassgrad-checkpoint", "version": 99, "root": {"t": "none"}},
                           "version 99")]:
        b = json.dumps(manifest).encode()
        with open(p, "wb") as fh:
            np.savez(fh, __glassgrad__=np.frombuffer(b, np.uint8))
        with pytest.raises(CheckpointError, match=msg):
            gg.load(p)


def test_corrupt_manifest(tmp_path):
    p = tmp_path / "m.npz"
    bad_roots = [{"t": "dict", "k": [{"t": "list", "v": []}], "v": [{"t": "none"}]},  # unhashable key
                 {"t": "ndarray", "k": "a7"}, {"t": "float"}, {"t": "eval", "v": "1+1"}, [1, 2]]
    for root in bad_roots:
        b = json.dumps({"format": "glassgrad-checkpoint", "version": 1, "root": root}).encode()
        with open(p, "wb") as fh:
            np.savez(fh, __glassgrad__=np.frombuffer(b, np.uint8))
        with pytest.raises(CheckpointError, match="corrupt"):
            gg.load(p)


def test_corrupt_zip(tmp_path):
    p = tmp_path / "c.ckpt"
    gg.save({"w": np.ones(1000)}, p)
    data = bytearray(p.read_bytes())
    p.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CheckpointError):
        gg.load(p)


class _Evil:
    """Unpickling this creates a file and prints: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        code = f"open({self.marker!r}, 'w').write('pwned'); print('PWNED')"
        return (exec, (code,))


def test_pickle_file_is_refused_and_nothing_runs(tmp_path, capsys):
    marker = tmp_path / "created_by_unpickling.txt"
    p = tmp_path / "evil.pt"
    p.write_bytes(pickle.dumps({"state": _Evil(str(marker))}, protocol=2))
    with pytest.raises(CheckpointError, match="pickle.*Nothing was executed"):
        gg.load(p)
    assert not marker.exists()
    assert "PWNED" not in capsys.readouterr().out
    # protocol 0 (text) pickles too
    p.write_bytes(pickle.dumps([_Evil(str(marker))], protocol=0))
    with pytest.raises(CheckpointError):
        gg.load(p)
    assert not marker.exists()


def test_pickle_hidden_inside_npz_is_not_unpickled(tmp_path, capsys):
    marker = tmp_path / "created.txt"
    p = tmp_path / "evil.npz"
    manifest = {"format": "glassgrad-checkpoint", "version": 1, "root": {"t": "ndarray", "k": "a0"}}
    obj = np.empty(1, dtype=object)
    obj[0] = _Evil(str(marker))
    with open(p, "wb") as fh:
        np.savez(fh, __glassgrad__=np.frombuffer(json.dumps(manifest).encode(), np.uint8), a0=obj)
    with zipfile.ZipFile(p) as z:
        assert "a0.npy" in z.namelist()
    with pytest.raises(CheckpointError, match="unsafe|pickle"):
        gg.load(p)
    assert not marker.exists()
    assert "PWNED" not in capsys.readouterr().out


def test_evil_payload_is_real(tmp_path):
    """The payload used above does run under pickle.loads: the refusal tests are meaningful."""
    marker = tmp_path / "m.txt"
    pickle.loads(pickle.dumps(_Evil(str(marker))))
    assert marker.read_text() == "pwned"
