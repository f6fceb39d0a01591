"""``gg.backends.cuda``: ``matmul.allow_tf32`` accepted for PyTorch programs, with no
effect (glassgrad's float32 matmuls are float32)."""

from __future__ import annotations


class _MatmulFlags:
    """``allow_tf32`` (False, PyTorch's default) and ``allow_fp16_reduced_precision_reduction``
    (True): plain attributes, read and set freely, with no effect."""

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built() -> bool:
    """False: glassgrad is not built against CUDA (its GPU backend is CuPy)."""
    return False
