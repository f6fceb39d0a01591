"""glassgrad: deep learning on NumPy where nothing is a black box.

>>> import glassgrad as gg
>>> x = gg.tensor([[0.5, -1.2], [0.7, 0.3]], requires_grad=True)
>>> W = gg.randn(2, 4, requires_grad=True)
>>> loss = (x @ W).relu().sum()
>>> loss.backward()
>>> x.grad.shape, W.grad.shape
((2, 2), (2, 4))
"""

from . import allocator, autograd, backend
from ._compile import compile
from .autograd import (
    AnomalyError,
    CaptureError,
    Function,
    GradcheckError,
    capture,
    detect_anomaly,
    enable_grad,
    grad,
    gradcheck,
    gradgradcheck,
    hessian,
    inference_mode,
    is_grad_enabled,
    jacobian,
    jvp,
    no_grad,
    once_differentiable,
    set_detect_anomaly,
    set_grad_enabled,
    vjp,
)
from .backend import device, get_default_device, set_default_device
from .creation import *
from .dtypes import (
    bool,
    channels_last,
    channels_last_3d,
    contiguous_format,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    memory_format,
    preserve_format,
    set_default_dtype,
    short,
    uint8,
)
from .dtypes import float as float  # noqa: PLC0414
from .dtypes import int as int  # noqa: PLC0414
from .functional_api import *
from .functional_extra import *
from .functional_extra2 import *
from .random import Generator, get_rng_state, manual_seed, seed, set_rng_state
from .tensor import Tensor, cat, stack, tensor
from .tensortypes import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)

__version__ = "0.1.0"

# the allocator setting for training is applied by the Trainer, not by this import, unless
# GLASSGRAD_MALLOC_TUNING=1 (see glassgrad.allocator)
allocator._on_import()

_SUBMODULES = {"nn", "optim", "data", "viz", "glassbox", "train", "cli", "serialization",
               "linalg", "utils", "cuda", "accelerator", "backends", "onnx", "func",
               "special", "distributed", "sparse",
               "distributions", "privacy"}
# glass-box functions re-exported at the top level: gg.trace(), gg.explain(), ...
_GLASSBOX = {"trace", "explain", "check_gradients"}


def __getattr__(name: str):
    """Import the larger sub-packages on first use (``gg.nn``, ``gg.optim``, ...)."""
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _GLASSBOX:
        return getattr(importlib.import_module(".glassbox", __name__), name)
    if name == "vmap":  # torch.vmap is torch.func.vmap
        return importlib.import_module(".func", __name__).vmap
    if name in ("per_sample_grads", "PerSampleGrads", "gradient_variance"):
        return getattr(importlib.import_module(".per_sample", __name__), name)
    if name in ("save", "load"):
        return getattr(importlib.import_module(".serialization", __name__), name)
    if name == "sparse_coo_tensor":
        return importlib.import_module(".sparse", __name__).sparse_coo_tensor
    raise AttributeError(f"module 'glassgrad' has no attribute {name!r}")
