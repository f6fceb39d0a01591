"""Test helpers for the runs of ``examples/*.py``: load an example as a module, find the
MNIST files (``$GLASSGRAD_DATA``, else ``../shared/data/mnist`` beside the checkout) and
skip cleanly without them, check a written PNG."""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIR = os.environ.get("GLASSGRAD_DATA") or os.path.join(os.path.dirname(ROOT), "shared", "data",
                                                             "mnist")
HAVE_MNIST = any(os.path.exists(os.path.join(MNIST_DIR, f))
                 for f in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"))
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST files not found in {MNIST_DIR} "
                                                        "(set GLASSGRAD_DATA)")


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as a module (its ``main`` is not run)."""
    path = os.path.join(ROOT, "examples", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def is_png(path: str) -> bool:
    """A PNG file with more than a header in it."""
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 2000
