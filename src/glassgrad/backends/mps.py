"""``gg.backends.mps``: there is no Apple GPU backend in glassgrad."""

from __future__ import annotations


def is_available() -> bool:
    """False: glassgrad has no Apple GPU (MPS) backend."""
    return False


def is_built() -> bool:
    """False: glassgrad has no Apple GPU (MPS) backend."""
    return False
