"""``parameters_to_vector`` / ``vector_to_parameters``: all parameters as one flat vector
and back (as ``torch.nn.utils``), for optimizers and analyses that think of the model as a
point in one long vector."""

from __future__ import annotations

from typing import Any, Iterable

from ...tensor import Tensor, cat

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _params(fn: str, parameters: Any) -> list:
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for k, p in enumerate(ps):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameter {k} is a {type(p).__name__}, expected a Tensor")
    return ps


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated in order into one 1-D tensor (a new
    tensor; gradients flow back to each parameter)."""
    ps = _params("parameters_to_vector", parameters)
    if not ps:
        raise ValueError("parameters_to_vector: no parameters given")
    return cat([p.reshape(-1) for p in ps])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in order (in place;
    autograd does not see it, as in PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got "
                        f"{type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    ps = _params("vector_to_parameters", parameters)
    need = sum(int(p.array.size) for p in ps)
    if need != vec.shape[0]:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} elements, the "
                         f"parameters {need}")
    i = 0
    for p in ps:
        n = int(p.array.size)
        p.array[...] = vec.array[i:i + n].reshape(p.shape)
        p._version[0] += 1
        i += n
