"""Shared by the MNIST examples: where the data is, and loading it with a clear message."""

from __future__ import annotations

import os
import sys

LOCAL_DEFAULT = "/work/shared/data/mnist"


def add_data_args(ap) -> None:
    ap.add_argument("--data", default=None,
                    help="folder with the MNIST IDX files (default: $GLASSGRAD_DATA, else the "
                         "glassgrad cache, downloading if needed)")
    ap.add_argument("--no-download", action="store_true", help="fail instead of downloading MNIST")


def data_root(arg: str | None) -> str | None:
    if arg:
        return arg
    if os.environ.get("GLASSGRAD_DATA"):
        return os.environ["GLASSGRAD_DATA"]
    if os.path.isdir(LOCAL_DEFAULT):
        return LOCAL_DEFAULT
    return None


def load(arg: str | None, no_download: bool, flatten: bool = True):
    """``(train, test)`` MNIST datasets, or exit with a one-line message."""
    from glassgrad.data import MNIST

    root = data_root(arg)
    try:
        return (MNIST(root, train=True, download=not no_download, flatten=flatten),
                MNIST(root, train=False, download=not no_download, flatten=flatten))
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else repr(e)
        sys.exit(f"cannot load MNIST from {root or 'the default cache'}: {msg} (use --data DIR)")
