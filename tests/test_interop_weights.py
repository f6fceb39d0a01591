"""PyTorch weights in and out: ``.safetensors`` files both ways, and ``torch.save`` archives
read by the pickle-opcode parser (which never runs the pickle), including crafted files that
would run code if unpickled."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.serialization import CheckpointError

torch = pytest.importorskip("torch")


def _st():
    return pytest.importorskip("safetensors.torch")


def _pair():
    """The same small CNN-ish architecture in both libraries."""
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                             torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 5), torch.nn.LayerNorm(5))
    gm = gg.nn.Sequential(gg.nn.Conv2d(1, 3, 3), gg.nn.BatchNorm2d(3), gg.nn.ReLU(),
                          gg.nn.Flatten(), gg.nn.Linear(3 * 4 * 4, 5), gg.nn.LayerNorm(5))
    with torch.no_grad():  # non-trivial batch-norm statistics
        tm[1].running_mean.uniform_(-1, 1)
        tm[1].running_var.uniform_(0.5, 2)
    return tm.eval(), gm.eval()


def _outputs(tm, gm):
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    want = tm(torch.from_numpy(x)).detach().numpy()
    got = gm(gg.tensor(x)).detach().numpy()
    return got, want


# ---------------------------------------------------------------------------- safetensors
def test_safetensors_from_pytorch(tmp_path):
    st = _st()
    tm, gm = _pair()
    st.save_file(tm.state_dict(), str(tmp_path / "w.safetensors"))
    sd = gg.load(tmp_path / "w.safetensors")
    assert all(isinstance(v, gg.Tensor) for v in sd.values())
    gm.load_state_dict(sd)
    got, want = _outputs(tm, gm)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_safetensors_to_pytorch(tmp_path):
    st = _st()
    tm, gm = _pair()
    gm.load_state_dict({k: v.detach().numpy() * 0.5 for k, v in tm.state_dict().items()})
    gg.save(gm.state_dict(), tmp_path / "w.safetensors")
    tm2, _ = _pair()
    tm2.load_state_dict(st.load_file(str(tmp_path / "w.safetensors")))
    got, want = _outputs(tm2, gm)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the content decides, not the name
    os.replace(tmp_path / "w.safetensors", tmp_path / "w.bin")
    assert set(gg.load(tmp_path / "w.bin")) == set(gm.state_dict())
    with open(tmp_path / "w.bin", "rb") as fh:
        assert set(gg.load(io.BytesIO(fh.read()))) == set(gm.state_dict())


def test_safetensors_save_refuses_what_it_cannot_hold(tmp_path):
    _st()
    p = tmp_path / "x.safetensors"
    with pytest.raises(CheckpointError, match="flat dict of named tensors"):
        gg.save([gg.ones(2)], p)
    with pytest.raises(CheckpointError, match="'epoch' is int"):
        gg.save({"w": gg.ones(2), "epoch": 3}, p)
    with pytest.raises(CheckpointError, match="keys must be str"):
        gg.save({1: gg.ones(2)}, p)
    assert not p.exists()


def _st_file(tmp_path, header, data, n=None):
    raw = json.dumps(header).encode()
    p = tmp_path / "h.safetensors"
    p.write_bytes(struct.pack("<Q", len(raw) if n is None else n) + raw + data)
    return p


@pytest.mark.parametrize("case, match", [
    ("huge_header", "header declares"),
    ("huge_shape", "needs .* bytes"),
    ("overlap", "overlapping tensors or a gap"),
    ("short", "truncated or damaged"),
    ("dtype", "unsupported dtype 'BF16'"),
    ("notjson", "not valid JSON"),
    ("deep", "nested deeper"),
    ("negative", "invalid shape"),
    ("limit", "more than max_bytes"),
])
def test_hostile_safetensors(tmp_path, case, match):
    _st()
    good = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}
    data = np.arange(3, dtype="<f4").tobytes()
    kw = {}
    if case == "huge_header":
        p = _st_file(tmp_path, good, data, n=2**40)
    elif case == "huge_shape":
        good["a"]["shape"] = [2**31, 2**31]
        p = _st_file(tmp_path, good, data)
    elif case == "overlap":
        good["b"]["data_offsets"] = [4, 8]
        p = _st_file(tmp_path, good, data[:8])
    elif case == "short":
        p = _st_file(tmp_path, good, data[:10])
    elif case == "dtype":
        good["a"]["dtype"] = "BF16"
        good["a"]["shape"] = [4]
        p = _st_file(tmp_path, good, data)
    elif case == "notjson":
        raw = b'{"a": [1, 2'
        p = tmp_path / "h.safetensors"
        p.write_bytes(struct.pack("<Q", len(raw)) + raw)
    elif case == "deep":
        raw = b"{" + b'"a":[' * 50 + b"]" * 50 + b"}"
        p = tmp_path / "h.safetensors"
        p.write_bytes(struct.pack("<Q", len(raw)) + raw)
    elif case == "negative":
        good["a"]["shape"] = [-2]
        p = _st_file(tmp_path, good, data)
    else:
        p = _st_file(tmp_path, good, data)
        kw = {"max_bytes": 8}
    with pytest.raises(CheckpointError, match=match):
        gg.load(p, **kw)


def test_safetensors_every_truncation_is_a_checkpoint_error(tmp_path):
    _st()
    gg.save({"w": gg.arange(6.0).reshape(2, 3), "b": gg.ones(3)}, tmp_path / "x.safetensors")
    raw = (tmp_path / "x.safetensors").read_bytes()
    for cut in range(0, len(raw), 7):
        p = tmp_path / "cut.safetensors"
        p.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError):
            gg.load(p)


# ---------------------------------------------------------------------------- torch.save archives
def test_torch_save_state_dict_loads(tmp_path):
    tm, gm = _pair()
    torch.save(tm.state_dict(), tmp_path / "w.pt")
    sd = gg.load(tmp_path / "w.pt")
    assert list(sd) == list(tm.state_dict())
    assert sd["1.num_batches_tracked"].dtype == gg.int64
    gm.load_state_dict(sd)
    got, want = _outputs(tm, gm)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_torch_save_containers_views_and_dtypes(tmp_path):
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    obj = {"t": base.t(), "sl": base[1:, ::2], "shared": [base, base[0]], "n": 3, "f": 0.5, "s": "x",
           "none": None, "flag": True, "tup": (1, torch.tensor([True, False])),
           "p": torch.nn.Parameter(torch.ones(2)), "i8": torch.tensor([-1, 2], dtype=torch.int8),
           "h": torch.tensor([1.5], dtype=torch.float16), "empty": torch.zeros(0, 3)}
    torch.save(obj, tmp_path / "o.pt")
    got = gg.load(tmp_path / "o.pt")
    for k in ("t", "sl", "i8", "h", "empty"):
        np.testing.assert_array_equal(got[k].numpy(), obj[k].numpy())
        assert got[k].numpy().dtype == obj[k].numpy().dtype
    np.testing.assert_array_equal(got["shared"][1].numpy(), base[0].numpy())
    assert (got["n"], got["f"], got["s"], got["none"], got["flag"]) == (3, 0.5, "x", None, True)
    assert got["tup"][0] == 1 and got["tup"][1].numpy().tolist() == [True, False]
    assert got["p"].requires_grad and not got["t"].requires_grad


def test_torch_save_bfloat16_is_refused_with_advice(tmp_path):
    torch.save({"w": torch.zeros(2, dtype=torch.bfloat16)}, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="BFloat16Storage.*t.float"):
        gg.load(tmp_path / "b.pt")


class _RunsCode:
    """Unpickling this calls os.system: the classic pickle exploit."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def _archive(tmp_path, pkl_bytes, extra=None):
    p = tmp_path / "evil.pt"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("evil/data.pkl", pkl_bytes)
        zf.writestr("evil/byteorder", "little")
        for k, v in (extra or {}).items():
            zf.writestr(k, v)
    return p


def _crafted(marker):
    cmd = f"touch {marker}"
    yield "reduce", pickle.dumps({"w": _RunsCode(cmd)}, protocol=2)
    yield "reduce_p4", pickle.dumps(_RunsCode(cmd), protocol=4)
    # GLOBAL os.system + REDUCE by hand (protocol 0 text opcodes)
    yield "text", f"cos\nsystem\n(V{cmd}\ntR.".encode()
    # an allowed-looking name spelled through STACK_GLOBAL
    yield "stack_global", (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c" + bytes([len(cmd)])
                           + cmd.encode() + b"\x94\x85\x94R\x94.")
    # INST and OBJ build instances without GLOBAL+REDUCE
    yield "inst", f"(V{cmd}\nios\nsystem\n.".encode()
    yield "obj", f"(cos\nsystem\nV{cmd}\no.".encode()
    # BUILD on an allowed object (would call __setstate__ / update __dict__)
    yield "build", b"\x80\x02ccollections\nOrderedDict\n)R}(X\x01\x00\x00\x00aK\x01ubb."
    # a REDUCE of an allowed marker with a crafted callable argument
    yield "persid_text", f"(cos\nsystem\nV{cmd}\ntP.".encode()
    # builtins.eval / getattr chains
    yield "eval", f"cbuiltins\neval\n(V__import__('os').system('{cmd}')\ntR.".encode()
    yield "getattr", (b"\x80\x02cbuiltins\ngetattr\ncos\nsystem\nX\x06\x00\x00\x00systemu\x86R.")


def test_crafted_pickles_are_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    # the payloads really do run code when unpickled (shows the test can fail)
    pickle.loads(pickle.dumps(_RunsCode(f"touch {marker}"), protocol=2))
    assert marker.exists()
    marker.unlink()
    for name, payload in _crafted(marker):
        p = _archive(tmp_path, payload)
        for wo in (True, False, None):
            with pytest.raises(CheckpointError, match="Nothing from the file was executed") as e:
                gg.load(p, weights_only=wo)
            assert "PyTorch checkpoint" in str(e.value), name
        assert not marker.exists(), name


def test_damaged_torch_archives(tmp_path):
    t = torch.arange(6.0)
    torch.save({"w": t[2:]}, tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    pkl = next(n for n in members if n.endswith("data.pkl"))
    data_key = next(n for n in members if "/data/" in n)

    def rewrite(**changes):
        p = tmp_path / "bad.pt"
        with zipfile.ZipFile(p, "w") as zf:
            for n, b in {**members, **changes}.items():
                if b is not None:
                    zf.writestr(n, b)
        return p

    # storage shorter than its declared element count
    with pytest.raises(CheckpointError, match="declares 6 elements"):
        gg.load(rewrite(**{data_key: members[data_key][:8]}))
    # storage member missing
    with pytest.raises(CheckpointError, match="missing from the archive"):
        gg.load(rewrite(**{data_key: None}))
    # a view that reaches past the end of the storage (size patched 4 -> 9)
    raw = members[pkl]
    i = raw.index(b"K\x02K\x04\x85")  # offset 2, size (4,)
    with pytest.raises(CheckpointError, match="reaches past the end"):
        gg.load(rewrite(**{pkl: raw[:i] + b"K\x02K\x09\x85" + raw[i + 5:]}))
    # a stride-0 view claiming 2**40 elements of a 6-element storage: refused before allocating
    i = raw.index(b"K\x04\x85")
    j = raw.index(b"K\x01\x85", i)
    huge = (raw[:i] + b"\x8a\x06" + (2**40).to_bytes(6, "little") + b"\x85" + raw[i + 3:j]
            + b"K\x00\x85" + raw[j + 3:])
    with pytest.raises(CheckpointError, match="more than max_bytes"):
        gg.load(rewrite(**{pkl: huge}))
    # every truncation of the pickle
    for cut in range(1, len(raw) - 1, 5):
        with pytest.raises(CheckpointError):
            gg.load(rewrite(**{pkl: raw[:cut]}))
