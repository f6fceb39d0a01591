"""MNIST: the IDX file reader, the verified downloader and the :class:`MNIST` dataset.

Where the files are looked for (first hit wins), for a directory ``D``:
``D/<name>``, ``D/<name>.gz``, then the same in ``D/mnist`` and ``D/MNIST/raw`` (the
torchvision layout). ``D`` is ``root`` if given, else ``$GLASSGRAD_DATA``, else
``$GLASSGRAD_CACHE/mnist``, else ``$XDG_CACHE_HOME/glassgrad/mnist`` (default
``~/.cache/glassgrad/mnist``). Downloads are stored decompressed in ``D`` itself.

The IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian header
``0x00 0x00 <type> <ndim>`` (type ``0x08`` = unsigned byte), then ``ndim`` big-endian
uint32 dimensions, then the data. Images: magic 2051, dims ``(N, 28, 28)``; labels: magic
2049, dims ``(N,)``. The reader checks the magic number, the dimensions and the exact file
length, and names the file in every error.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import threading
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..tensor import Tensor
from ._download import DownloadError, download_verified
from ._image import ImageClassificationDataset

__all__ = ["MNIST", "read_idx", "load_mnist", "mnist_dir", "MNIST_MIRRORS", "MNIST_SHA256",
           "MNIST_SIZES", "MNIST_FILES", "DownloadError", "IDXError"]

#: The usual public mirrors of the original gzipped IDX files, tried in order.
#: Override with ``MNIST(mirrors=[...])`` or ``GLASSGRAD_MNIST_MIRRORS`` (comma or space
#: separated base URLs).
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: SHA-256 of the *decompressed* IDX files (public facts of the dataset).
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Sizes in bytes of the decompressed IDX files (they bound what a download may write).
MNIST_SIZES: dict[str, int] = {
    "train-images-idx3-ubyte": 47040016,
    "train-labels-idx1-ubyte": 60008,
    "t10k-images-idx3-ubyte": 7840016,
    "t10k-labels-idx1-ubyte": 10008,
}

MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_ALL_FILES = MNIST_FILES["train"] + MNIST_FILES["test"]

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(ValueError):
    """A corrupt, truncated or unexpected IDX file (the message names the file)."""


# ---------------------------------------------------------------------- reading
def _read_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise IDXError(f"cannot read IDX file {path}: {e}") from None


def _gunzip(raw: bytes, path: Path) -> bytes:
    """``raw`` gunzipped if it is gzip (by magic, whatever the file's name)."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise IDXError(f"IDX file {path} is a corrupt or truncated gzip file ({type(e).__name__}: "
                       f"{e}); delete it and download again") from None


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if it is gzip."""
    return _gunzip(_read_file(path), path)


def _parse_idx(buf: bytes, path: Path, expected_magic: int | None) -> np.ndarray:
    if len(buf) < 4:
        raise IDXError(f"IDX file {path} is truncated: {len(buf)} bytes, not even a header")
    magic = int.from_bytes(buf[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(f"IDX file {path} has magic number {magic}, expected {expected_magic} "
                       f"({'images' if expected_magic == IMAGES_MAGIC else 'labels'}): wrong or "
                       "corrupt file")
    if buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_TYPES or buf[3] == 0:
        raise IDXError(f"IDX file {path} has an invalid header (magic {magic}): not an IDX file")
    ndim, dtype = buf[3], np.dtype(_IDX_TYPES[buf[2]])
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise IDXError(f"IDX file {path} is truncated inside its header ({len(buf)} bytes, the "
                       f"header of a {ndim}-d array needs {header})")
    dims = tuple(int.from_bytes(buf[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    need = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(buf) < need:
        raise IDXError(f"IDX file {path} is truncated: dimensions {dims} need {need} bytes, the "
                       f"file has {len(buf)}")
    if len(buf) > need:
        raise IDXError(f"IDX file {path} is corrupt: dimensions {dims} need {need} bytes, the file "
                       f"has {len(buf) - need} extra")
    return np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a NumPy array (read-only, native byte order
    for uint8).

    Parameters
    ----------
    path : path
    expected_magic : int, optional
        E.g. 2051 for images, 2049 for labels; a different magic number is an error.

    Raises
    ------
    IDXError
        On a wrong magic number, a bad header, or a length that does not match the
        dimensions (truncated or padded file); the message names the file.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path, expected_magic)


# ---------------------------------------------------------------------- locating
def mnist_dir(root: str | os.PathLike | None = None) -> Path:
    """The directory MNIST is read from and downloaded into (see the module docstring)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GLASSGRAD_DATA")
    if env:
        return Path(env).expanduser()
    env = os.environ.get("GLASSGRAD_CACHE")
    if env:
        return Path(env).expanduser() / "mnist"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "glassgrad" / "mnist"


def _candidates(d: Path) -> list[Path]:
    return [d, d / "mnist", d / "MNIST" / "raw"]


def _find(d: Path, name: str) -> Path | None:
    for c in _candidates(d):
        for fn in (name, name + ".gz"):
            p = c / fn
            if p.is_file():
                return p
    return None


def _mirrors(mirrors: Sequence[str] | str | None) -> list[str]:
    if mirrors is None:
        env = os.environ.get("GLASSGRAD_MNIST_MIRRORS")
        if env:
            return [m for m in env.replace(",", " ").split() if m]
        return list(MNIST_MIRRORS)
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    return [str(m) for m in mirrors]


def _where_to_put(d: Path) -> str:
    names = ", ".join(f"{n}.gz" for n in _ALL_FILES)
    return (f"To use MNIST without network, put the four files (gzipped or not) in {d}/: {names} "
            f"(or pass root=<dir with them>, or set GLASSGRAD_DATA).")


def _stderr_log(msg: str) -> None:
    print(f"MNIST: {msg}", file=sys.stderr, flush=True)


_CACHE: dict[tuple, np.ndarray] = {}
_CACHE_LOCK = threading.Lock()


def _load_checked(path: Path, name: str, magic: int, verify: bool) -> np.ndarray:
    """Read + validate (+ verify) one file. Decoded arrays are cached per process, keyed by
    the file's path, size and CRC-32 of its on-disk bytes (cheap next to gunzip + SHA-256),
    so a file changed on disk is always read again."""
    raw = _read_file(path)
    key = (str(path.resolve()), len(raw), zlib.crc32(raw), MNIST_SHA256.get(name) if verify else None)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    buf = _gunzip(raw, path)
    arr = _parse_idx(buf, path, magic)
    if verify:
        want = MNIST_SHA256.get(name)
        got = hashlib.sha256(buf).hexdigest()
        if want is not None and got != want:
            raise IDXError(f"MNIST file {path} has SHA-256 {got} (of its decompressed bytes) but the "
                           f"original {name} has {want}: the file is corrupt or not the original. "
                           "Delete it to download it again, or pass verify=False to use it anyway.")
    with _CACHE_LOCK:
        if len(_CACHE) >= 8:
            _CACHE.clear()
        _CACHE[key] = arr
    return arr


def load_mnist(root: str | os.PathLike | None = None, train: bool = True, download: bool = True, *,
               mirrors: Sequence[str] | str | None = None, verify: bool = True, timeout: float = 20.0,
               retries: int = 2, backoff: float = 1.0, deadline: float | None = None,
               min_rate: float | None = None, rate_window: float | None = None,
               log: Callable[[str], Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read (downloading if needed) one MNIST split as arrays.

    Returns
    -------
    images : numpy.ndarray, uint8, (N, 28, 28)   (N = 60000 train, 10000 test)
    labels : numpy.ndarray, int64, (N,)

    See :class:`MNIST` for the parameters; ``log`` receives a line per download attempt
    (default: printed to stderr).
    """
    d = mnist_dir(root)
    split = "train" if train else "test"
    img_name, lbl_name = MNIST_FILES[split]
    paths: dict[str, Path] = {}
    for name in (img_name, lbl_name):
        p = _find(d, name)
        if p is None:
            if not download:
                raise FileNotFoundError(
                    f"MNIST: {name} (or {name}.gz) not found in {d} and download=False. "
                    + _where_to_put(d) + " Or pass download=True.")
            ms = _mirrors(mirrors)
            try:
                p = download_verified(name + ".gz", d / name, ms,
                                      MNIST_SHA256.get(name) if verify else None, size=MNIST_SIZES.get(name),
                                      timeout=timeout, deadline=deadline, min_rate=min_rate,
                                      rate_window=rate_window, retries=retries, backoff=backoff,
                                      log=log if log is not None else _stderr_log)
            except DownloadError as e:
                raise DownloadError(f"MNIST: {e}\n{_where_to_put(d)}", e.failures) from None
            except OSError as e:
                raise DownloadError(f"MNIST: cannot write {name} into {d} ({e}).\n"
                                    + _where_to_put(d)) from None
        paths[name] = p
    images = _load_checked(paths[img_name], img_name, IMAGES_MAGIC, verify)
    labels = _load_checked(paths[lbl_name], lbl_name, LABELS_MAGIC, verify)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise IDXError(f"MNIST file {paths[img_name]}: expected uint8 images of shape (N, 28, 28), got "
                       f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise IDXError(f"MNIST file {paths[lbl_name]}: expected uint8 labels of shape (N,), got "
                       f"{labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise IDXError(f"MNIST: {paths[img_name]} holds {images.shape[0]} images but "
                       f"{paths[lbl_name]} holds {labels.shape[0]} labels")
    if labels.size and labels.max() > 9:
        raise IDXError(f"MNIST file {paths[lbl_name]}: labels must be 0..9, found {int(labels.max())}")
    return images.copy(), labels.astype(np.int64)


class MNIST(ImageClassificationDataset):
    """The MNIST handwritten digits (60,000 training / 10,000 test images, 28x28, 10 classes).

    Parameters
    ----------
    root : path, optional
        Directory holding the IDX files (raw or ``.gz``), and where downloads go. Default:
        ``$GLASSGRAD_DATA``, else ``$GLASSGRAD_CACHE/mnist``, else
        ``$XDG_CACHE_HOME/glassgrad/mnist`` / ``~/.cache/glassgrad/mnist``.
    train : bool
        The training split (else the test split).
    download : bool
        Download missing files from the mirrors (verified by SHA-256, written atomically).
        With ``False``, missing files are an error that says where to put them.
    transform, target_transform : callable, optional
        Applied to each image Tensor / integer label in ``__getitem__``. Either one turns the
        DataLoader's batched fast path off.
    flatten : bool
        Samples are ``(784,)`` instead of ``(1, 28, 28)``.
    normalize : bool or (float, float)
        Standardise pixels: ``True`` uses MNIST's training mean/std (0.1307, 0.3081) on
        the [0, 1] scale; or give ``(mean, std)``.
    mirrors : sequence of str, optional
        Base URLs to download from (default ``$GLASSGRAD_MNIST_MIRRORS`` or
        :data:`MNIST_MIRRORS`).
    verify : bool
        Check the SHA-256 of each file (downloaded or found on disk) against the known sums.
    timeout, retries, backoff :
        Per-request socket timeout (s), extra attempts per mirror, first back-off delay (s).
    deadline, min_rate, rate_window :
        Limits of each download attempt: seconds in all (default 600, or
        ``$GLASSGRAD_DOWNLOAD_DEADLINE``), and the minimum average bytes/s over the last
        ``rate_window`` seconds (default 1024 over 30, or ``$GLASSGRAD_DOWNLOAD_MIN_RATE`` /
        ``$GLASSGRAD_DOWNLOAD_RATE_WINDOW``; ``min_rate=0`` turns it off). A download is also
        cut off past the file's known size (plus a small margin). See
        :func:`glassgrad.data._download.download_verified`.

    Attributes
    ----------
    data : Tensor, uint8, (N, 28, 28)
    targets : Tensor, int64, (N,)
    root : Path
        The directory used.

    Notes
    -----
    ``ds[i]`` is ``(image, label)``: a float32 Tensor ``(1, 28, 28)`` (``(784,)`` with
    ``flatten``) equal to ``data[i] / 255`` (then standardised if ``normalize``), and a Python
    int. For training, :meth:`arrays` / :meth:`as_tensor_dataset` give everything at once
    (float32 ``X`` ``(N, 784)`` in [0, 1] and int64 ``y``), and a DataLoader over the dataset
    itself makes each batch with one fancy-indexing step.
    """

    _name = "MNIST"
    _max_value = 255.0
    _mean, _std = 0.1307, 0.3081
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, download: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None, *,
                 flatten: bool = False, normalize: bool | tuple[float, float] = False,
                 mirrors: Sequence[str] | str | None = None, verify: bool = True, timeout: float = 20.0,
                 retries: int = 2, backoff: float = 1.0, deadline: float | None = None,
                 min_rate: float | None = None, rate_window: float | None = None) -> None:
        self.root = mnist_dir(root)
        self.train = bool(train)
        self._setup(transform, target_transform, flatten, normalize)
        images, labels = load_mnist(root, train, download, mirrors=mirrors, verify=verify,
                                    timeout=timeout, retries=retries, backoff=backoff, deadline=deadline,
                                    min_rate=min_rate, rate_window=rate_window)
        self.data = Tensor._make(images, False)
        self.targets = Tensor._make(labels, False)

    def __repr__(self) -> str:
        return (f"MNIST({'train' if self.train else 'test'}: {len(self)} images 28x28, root={self.root}, "
                f"flatten={self.flatten}, normalize={self.normalize})")
