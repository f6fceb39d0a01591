"""MNIST: IDX parsing and validation, the verified mirror downloader (against a loopback HTTP
server: failover, corrupted and interrupted bodies, no network), and the dataset itself."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import glassgrad.data.mnist as mnist_mod
from glassgrad.data import MNIST, DataLoader, DownloadError, IDXError, read_idx
from glassgrad.data.mnist import MNIST_FILES, load_mnist, mnist_dir

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"
ALL = MNIST_FILES["train"] + MNIST_FILES["test"]
needs_mnist = pytest.mark.skipif(not all((SHARED / f"{n}.gz").is_file() for n in MNIST_FILES["test"]),
                                 reason=f"MNIST files not found in {SHARED}")


@pytest.fixture(autouse=True)
def _bypass_proxies(monkeypatch):
    """The loopback server must be reached directly even where http_proxy is set."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# ---------------------------------------------------------------------- synthetic IDX files
def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.tobytes()


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


@pytest.fixture
def fake_mnist(monkeypatch):
    """Raw IDX bytes of a tiny fake MNIST (train 12, test 7) whose SHA-256 sums replace the real
    ones for the duration of the test."""
    raw = {}
    for split, n, seed in (("train", 12, 0), ("test", 7, 1)):
        im, lb = synthetic(n, seed)
        raw[MNIST_FILES[split][0]] = idx_bytes(im)
        raw[MNIST_FILES[split][1]] = idx_bytes(lb)
    sums = {k: hashlib.sha256(v).hexdigest() for k, v in raw.items()}
    monkeypatch.setattr(mnist_mod, "MNIST_SHA256", sums)
    monkeypatch.delenv("GLASSGRAD_MNIST_MIRRORS", raising=False)
    return raw


# ---------------------------------------------------------------------- loopback HTTP server
class _Handler(http.server.BaseHTTPRequestHandler):
    """``/<mode>/<file>``: mode ``ok`` serves the file, ``corrupt`` flips bytes, ``short`` sends
    half the body under the full Content-Length then closes, ``404`` is not found, ``flaky``
    answers 503 to the first request for each file, ``slow`` stalls past the client timeout."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        srv = self.server
        srv.hits.append(self.path)
        parts = self.path.strip("/").split("/", 1)
        mode, name = (parts + [""])[:2]
        body = srv.files.get(name)
        if mode == "404" or body is None:
            self.send_error(404, "Not Found")
            return
        if mode == "flaky" and srv.flaky_seen.setdefault(name, 0) == 0:
            srv.flaky_seen[name] = 1
            self.send_error(503, "Service Unavailable")
            return
        if mode == "slow":
            time.sleep(3.0)
        if mode == "corrupt":
            b = bytearray(body)
            b[len(b) // 2] ^= 0xFF
            b[-9] ^= 0x01
            body = bytes(b)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if mode == "short":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # client gave up (slow mode)
            pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.files, srv.hits, srv.flaky_seen = {}, [], {}
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    srv.url = lambda mode: f"{srv.base}/{mode}/"
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


@pytest.fixture
def dead_url():
    """A loopback URL on a port nothing listens on (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/mnist/"


def serve_gz(srv, raw: dict[str, bytes]) -> None:
    srv.files.update({f"{k}.gz": gzip.compress(v, mtime=0) for k, v in raw.items()})


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


FAST = dict(timeout=10.0, retries=0, backoff=0.0)  # generous: the CI machine may be loaded


# ---------------------------------------------------------------------- IDX reader
def test_read_idx_raw_and_gz_and_errors(tmp_path):
    im, lb = synthetic(5, 0)
    raw = idx_bytes(im)
    (tmp_path / "a").write_bytes(raw)
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "a", 2051), im)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz", 2051), im)
    np.testing.assert_array_equal(read_idx(_write(tmp_path, "l", idx_bytes(lb)), 2049), lb)
    with pytest.raises(IDXError, match=r"a has magic number 2051, expected 2049"):
        read_idx(tmp_path / "a", 2049)
    with pytest.raises(IDXError, match=r"trunc is truncated: dimensions \(5, 28, 28\) need 3936 bytes, "
                                       r"the file has 3000"):
        read_idx(_write(tmp_path, "trunc", raw[:3000]), 2051)
    with pytest.raises(IDXError, match="padded.* 7 extra"):
        read_idx(_write(tmp_path, "padded", raw + b"\0" * 7), 2051)
    with pytest.raises(IDXError, match="not even a header"):
        read_idx(_write(tmp_path, "tiny", b"\0\0"), 2051)
    with pytest.raises(IDXError, match="truncated inside its header"):
        read_idx(_write(tmp_path, "hdr", raw[:10]), 2051)
    with pytest.raises(IDXError, match="invalid header"):
        read_idx(_write(tmp_path, "junk", b"\x01\x02\x03\x04" + raw[4:]))
    gz = gzip.compress(raw)
    with pytest.raises(IDXError, match=r"cut.gz is a corrupt or truncated gzip"):
        read_idx(_write(tmp_path, "cut.gz", gz[: len(gz) // 2]), 2051)


def _write(d: Path, name: str, data: bytes) -> Path:
    (d / name).write_bytes(data)
    return d / name


def test_corrupt_files_on_disk_give_clear_errors(tmp_path, fake_mnist):
    for k, v in fake_mnist.items():
        (tmp_path / k).write_bytes(v)
    im, lb = load_mnist(tmp_path, train=False, download=False)
    assert im.shape == (7, 28, 28) and lb.dtype == np.int64
    name = MNIST_FILES["test"][0]
    good = fake_mnist[name]
    (tmp_path / name).write_bytes(good[:-100])  # truncated
    with pytest.raises(IDXError, match=f"{name} is truncated"):
        MNIST(tmp_path, train=False, download=False)
    bad = bytearray(good)
    bad[500] ^= 0xFF  # same length, different pixels: only the checksum sees it
    (tmp_path / name).write_bytes(bytes(bad))
    with pytest.raises(IDXError, match=f"{name} has SHA-256 .* corrupt or not the original"):
        MNIST(tmp_path, train=False, download=False)
    assert len(MNIST(tmp_path, train=False, download=False, verify=False)) == 7
    # images/labels count mismatch and out-of-range labels
    (tmp_path / name).write_bytes(good)
    lname = MNIST_FILES["test"][1]
    (tmp_path / lname).write_bytes(idx_bytes(np.zeros(6, np.uint8)))
    with pytest.raises(IDXError, match="holds 7 images but .* holds 6 labels"):
        MNIST(tmp_path, train=False, download=False, verify=False)
    (tmp_path / lname).write_bytes(idx_bytes(np.full(7, 12, np.uint8)))
    with pytest.raises(IDXError, match="labels must be 0..9"):
        MNIST(tmp_path, train=False, download=False, verify=False)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(FileNotFoundError) as ei:
        MNIST(tmp_path / "nowhere", train=True, download=False)
    msg = str(ei.value)
    assert str(tmp_path / "nowhere") in msg and "download=False" in msg
    for n in ALL:
        assert f"{n}.gz" in msg


def test_cache_dir_resolution(tmp_path, monkeypatch):
    for v in ("GLASSGRAD_DATA", "GLASSGRAD_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist_dir() == tmp_path / "home" / ".cache" / "glassgrad" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist_dir() == tmp_path / "xdg" / "glassgrad" / "mnist"
    monkeypatch.setenv("GLASSGRAD_CACHE", str(tmp_path / "cache"))
    assert mnist_dir() == tmp_path / "cache" / "mnist"
    monkeypatch.setenv("GLASSGRAD_DATA", str(tmp_path / "data"))
    assert mnist_dir() == tmp_path / "data"
    assert mnist_dir(tmp_path / "r") == tmp_path / "r"


# ---------------------------------------------------------------------- downloads
def test_failover_dead_and_404_mirrors(tmp_path, server, dead_url, fake_mnist):
    serve_gz(server, fake_mnist)
    ds = MNIST(tmp_path, train=True, mirrors=[dead_url, server.url("404"), server.url("ok")], **FAST)
    im, lb = synthetic(12, 0)
    np.testing.assert_array_equal(ds.data.numpy(), im)
    np.testing.assert_array_equal(ds.targets.numpy(), lb)
    # stored decompressed under the final names, nothing else left behind
    for n in MNIST_FILES["train"]:
        assert (tmp_path / n).read_bytes() == fake_mnist[n]
    assert leftovers(tmp_path) == []
    assert any(h.startswith("/404/") for h in server.hits)
    # a second construction reads from disk: no new requests
    nhits = len(server.hits)
    MNIST(tmp_path, train=True, mirrors=[server.url("ok")], **FAST)
    assert len(server.hits) == nhits


def test_corrupted_mirror_is_rejected_by_checksum(tmp_path, server, fake_mnist):
    serve_gz(server, fake_mnist)
    ds = MNIST(tmp_path, train=False, mirrors=[server.url("corrupt"), server.url("ok")], **FAST)
    np.testing.assert_array_equal(ds.data.numpy(), synthetic(7, 1)[0])
    assert any(h.startswith("/corrupt/") for h in server.hits)
    assert leftovers(tmp_path) == []
    d2 = tmp_path / "only_bad"
    with pytest.raises(DownloadError) as ei:
        MNIST(d2, train=False, mirrors=[server.url("corrupt")], **FAST)
    msg = str(ei.value)
    assert "/corrupt/t10k-images-idx3-ubyte.gz" in msg
    assert "SHA-256 mismatch" in msg or "not a valid gzip" in msg
    assert not (d2 / MNIST_FILES["test"][0]).exists() and leftovers(d2) == []


def test_checksum_catches_a_valid_gzip_of_wrong_data(tmp_path, server, fake_mnist):
    # the mirror serves well-formed gzip whose content differs: only SHA-256 can tell
    serve_gz(server, fake_mnist)
    name = MNIST_FILES["test"][0]
    wrong = bytearray(fake_mnist[name])
    wrong[100] ^= 0x55
    server.files[f"{name}.gz"] = gzip.compress(bytes(wrong))
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        MNIST(tmp_path, train=False, mirrors=[server.url("ok")], **FAST)
    assert not (tmp_path / name).exists() and leftovers(tmp_path) == []


def test_interrupted_download_is_not_taken(tmp_path, server, fake_mnist):
    serve_gz(server, fake_mnist)
    with pytest.raises(DownloadError) as ei:
        MNIST(tmp_path, train=False, mirrors=[server.url("short")], **FAST)
    assert "incomplete download" in str(ei.value) or "closed mid-download" in str(ei.value)
    for n in MNIST_FILES["test"]:
        assert not (tmp_path / n).exists()
    assert leftovers(tmp_path) == []
    ds = MNIST(tmp_path, train=False, mirrors=[server.url("short"), server.url("ok")], **FAST)
    assert len(ds) == 7 and leftovers(tmp_path) == []


def test_retry_after_transient_error_and_timeout(tmp_path, server, fake_mnist):
    serve_gz(server, fake_mnist)
    ds = MNIST(tmp_path, train=False, mirrors=[server.url("flaky")], timeout=10.0, retries=1, backoff=0.0)
    assert len(ds) == 7
    assert sum(h.startswith("/flaky/t10k-images") for h in server.hits) == 2
    d2 = tmp_path / "slow"
    ds = MNIST(d2, train=False, mirrors=[server.url("slow"), server.url("ok")], timeout=1.0, retries=0,
               backoff=0.0)
    assert len(ds) == 7 and leftovers(d2) == []


def test_connect_timeout_moves_on_without_retrying(tmp_path, monkeypatch):
    import urllib.error

    import glassgrad.data._download as dl

    calls = []

    def blackhole(req, timeout):
        calls.append(req.full_url)
        raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(dl, "_open", lambda req, timeout, watchdog: blackhole(req, timeout))
    with pytest.raises(DownloadError, match=r"cannot connect \(timed out after 0.5 s\)"):
        MNIST(tmp_path, mirrors=["http://a.invalid/", "http://b.invalid/"], timeout=0.5, retries=3,
              backoff=0.0)
    assert calls == ["http://a.invalid/train-images-idx3-ubyte.gz", "http://b.invalid/train-images-idx3-ubyte.gz"]


def test_no_network_error_names_directory_and_files(tmp_path, dead_url, monkeypatch):
    monkeypatch.setenv("GLASSGRAD_MNIST_MIRRORS", f"{dead_url} {dead_url.replace('mnist', 'other')}")
    target = tmp_path / "cache"
    with pytest.raises(DownloadError) as ei:
        MNIST(target, train=True, **FAST)
    msg = str(ei.value)
    assert str(target) in msg and "without network" in msg
    for n in ALL:
        assert f"{n}.gz" in msg
    assert "cannot connect" in msg and dead_url in msg
    assert not any(p.is_file() for p in target.iterdir())


def test_env_mirrors_are_used(tmp_path, server, fake_mnist, monkeypatch):
    serve_gz(server, fake_mnist)
    monkeypatch.setenv("GLASSGRAD_MNIST_MIRRORS", f"{server.url('404')},{server.url('ok')}")
    monkeypatch.setenv("GLASSGRAD_DATA", str(tmp_path / "envroot"))
    ds = MNIST(train=False, **FAST)
    assert ds.root == tmp_path / "envroot" and len(ds) == 7
    assert (tmp_path / "envroot" / MNIST_FILES["test"][1]).is_file()


@needs_mnist
def test_real_t10k_download_through_loopback(tmp_path, server, monkeypatch):
    monkeypatch.delenv("GLASSGRAD_MNIST_MIRRORS", raising=False)
    for n in MNIST_FILES["test"]:
        server.files[f"{n}.gz"] = (SHARED / f"{n}.gz").read_bytes()
    ds = MNIST(tmp_path, train=False, mirrors=[server.url("404"), server.url("ok")], **FAST)
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.shape == (10000,) and ds.targets.dtype == np.int64
    for n in MNIST_FILES["test"]:
        digest = hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()
        assert digest == mnist_mod.MNIST_SHA256[n]
    ref = MNIST(SHARED, train=False, download=False)
    np.testing.assert_array_equal(ds.data.numpy(), ref.data.numpy())
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------- the dataset
@needs_mnist
def test_real_mnist_dataset_interface():
    ds = MNIST(SHARED, train=False, download=False)
    assert len(ds) == 10000 and ds.targets.numpy()[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(ds.targets.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                                        1009]
    img, label = ds[0]
    assert img.shape == (1, 28, 28) and img.dtype == np.float32 and label == 7
    np.testing.assert_array_equal(img.numpy()[0], ds.data.numpy()[0].astype(np.float32) / np.float32(255))
    X, y = ds.arrays()
    assert X.shape == (10000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    # DataLoader over the dataset (gather path) equals per-sample items
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 1, 28, 28) and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy(), np.stack([ds[i][0].numpy() for i in range(16)]))
    tds = ds.as_tensor_dataset()
    xb2, _ = tds.gather(np.arange(16))
    np.testing.assert_array_equal(xb2.numpy(), xb.numpy().reshape(16, 784))
    # flatten, normalize, transforms (which turn the fast path off)
    fl = MNIST(SHARED, train=False, download=False, flatten=True, normalize=True)
    x0 = fl[0][0].numpy()
    assert x0.shape == (784,)
    np.testing.assert_allclose(x0, (X[0] - 0.1307) / 0.3081, rtol=1e-5, atol=1e-6)
    tr = MNIST(SHARED, train=False, download=False, transform=lambda t: t * 2,
               target_transform=lambda c: c + 100)
    loader = DataLoader(tr, batch_size=4)
    assert not loader._uses_gather()
    xb, yb = next(iter(loader))
    np.testing.assert_allclose(xb.numpy().reshape(4, 784), 2 * X[:4])
    assert yb.tolist() == [107, 102, 101, 100]


def test_mnist_matches_torchvision_layout(tmp_path, fake_mnist):
    """Files in <root>/MNIST/raw (torchvision's layout), gzipped, are found."""
    raw_dir = tmp_path / "MNIST" / "raw"
    raw_dir.mkdir(parents=True)
    for k, v in fake_mnist.items():
        (raw_dir / f"{k}.gz").write_bytes(gzip.compress(v))
    ds = MNIST(tmp_path, train=True, download=False)
    assert len(ds) == 12
    torch = pytest.importorskip("torch")
    img, _ = ds[3]
    ref = torch.tensor(ds.data.numpy()[3]).float().div(255)
    np.testing.assert_array_equal(img.numpy()[0], ref.numpy())
