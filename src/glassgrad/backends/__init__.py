"""``gg.backends``: PyTorch's backend switches, accepted so that programs run.

``gg.backends.cudnn`` (``benchmark``, ``deterministic``, ``enabled``, ``allow_tf32``) and
``gg.backends.cuda.matmul.allow_tf32`` can be read and set, and have no effect: glassgrad
does not use cuDNN, computes float32 matmuls in float32 and is deterministic on the CPU.
``gg.backends.mps.is_available()`` is False (no Apple GPU backend).

(Not to be confused with :mod:`glassgrad.backend`, the seam to the array module.)
"""

from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
