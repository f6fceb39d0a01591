"""``gg.backends.cudnn``: flags accepted for PyTorch programs, with no effect.

glassgrad does not use cuDNN (its GPU backend is CuPy), so these are plain attributes that
programs may read and set: ``benchmark`` (False), ``deterministic`` (False), ``enabled``
(True), ``allow_tf32`` (True), the defaults PyTorch reports.
"""

from __future__ import annotations

benchmark: bool = False
deterministic: bool = False
enabled: bool = True
allow_tf32: bool = True


def is_available() -> bool:
    """False: glassgrad never uses cuDNN."""
    return False


def version() -> None:
    """None: no cuDNN."""
    return None
