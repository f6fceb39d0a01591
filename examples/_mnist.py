"""MNIST for the examples: the ``--data``/``--no-download`` options and the loader."""

from __future__ import annotations

import argparse
import os
import sys

# the shared data folder beside a checkout of this repository (../shared/data/mnist)
_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "shared", "data", "mnist")


def default_root() -> str | None:
    """``$GLASSGRAD_DATA``, else ``../shared/data/mnist`` beside the repository if present,
    else None (the glassgrad cache)."""
    return os.environ.get("GLASSGRAD_DATA") or (_SHARED if os.path.isdir(_SHARED) else None)


def add_data_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", default=None,
                    help="MNIST IDX files folder (default: $GLASSGRAD_DATA, else ../shared/data/mnist "
                         "beside the repository if present, else the glassgrad cache; downloads if needed)")
    ap.add_argument("--no-download", action="store_true", help="fail instead of downloading MNIST")


def load_mnist(arg: str | None, no_download: bool):
    """``(train, test)`` MNIST datasets (flattened to 784), or exit with a one-line message."""
    from glassgrad.data import MNIST

    root = arg or default_root()
    try:
        return (MNIST(root, train=True, download=not no_download, flatten=True),
                MNIST(root, train=False, download=not no_download, flatten=True))
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else repr(e)
        sys.exit(f"cannot load MNIST from {root or 'the default cache'}: {msg} (use --data DIR)")
