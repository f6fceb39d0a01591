"""Reverse-mode automatic differentiation: ``Function`` (op = forward + backward), the
backward engine, grad mode switches, gradient checking and functional transforms."""

from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .capture import CapturedFunction, CaptureError, capture
from .engine import run_backward
from .function import Function, once_differentiable
from .functional import grad, hessian, jacobian, jvp, vjp
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, GradcheckResult, gradcheck, gradgradcheck
from .ownership import is_debug_ownership_enabled, set_debug_ownership


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Backpropagate from several outputs at once (``gg.autograd.backward``)."""
    from ..tensor import Tensor

    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        gs = [None] * len(ts)
    else:
        gs = [grad_tensors] if isinstance(grad_tensors, Tensor) else list(grad_tensors)
    import numpy as _np

    seeds = []
    for t, g in zip(ts, gs):
        if g is None:
            if t.array.size != 1:
                raise RuntimeError(f"backward: output of shape {tuple(t.shape)} needs a gradient")
            g = _np.ones(t.shape, t.dtype)
        elif isinstance(g, Tensor):
            g = g if create_graph else g.array
        if create_graph and not isinstance(g, Tensor):
            g = Tensor._make(g, False)
        seeds.append(g)
    run_backward(ts, seeds, retain_graph if retain_graph is not None else create_graph,
                 create_graph)
