"""``DataParallel`` on one device: a wrapper that calls the wrapped module.

PyTorch's ``DataParallel`` splits each batch along ``dim`` over several GPUs, runs a
replica of the module on every part and gathers the outputs; on a machine without GPUs it
only calls the module. glassgrad runs on one device, so this is that second case: the
results are the module's own, and what a program sees of the wrapper is PyTorch's — the
wrapped module is ``.module`` and ``state_dict`` keys are prefixed with ``module.``
(strip them with :func:`glassgrad.nn.modules.utils.consume_prefix_in_state_dict_if_present`).
"""

from __future__ import annotations

from typing import Any, Sequence

from ..module import Module

__all__ = ["DataParallel"]


def _is_cpu(d: Any) -> bool:
    if isinstance(d, str):
        return d == "cpu"
    return getattr(d, "type", None) == "cpu" and getattr(d, "index", None) in (None, 0)


def _check_devices(name: str, device_ids: Any, output_device: Any, dim: Any) -> None:
    if device_ids is not None:
        if isinstance(device_ids, (str, int)) or not isinstance(device_ids, Sequence):
            raise TypeError(f"{name}: device_ids must be a list of devices or None, got "
                            f"{device_ids!r}")
        if not all(_is_cpu(d) for d in device_ids):
            raise ValueError(f"{name}: glassgrad runs a module on one device and does not split "
                             f"batches over several; device_ids must be None, [] or ['cpu'], got "
                             f"{list(device_ids)!r}")
    if output_device is not None and not _is_cpu(output_device):
        raise ValueError(f"{name}: output_device must be None or 'cpu' (glassgrad runs on one "
                         f"device), got {output_device!r}")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")


class DataParallel(Module):
    """Wraps ``module`` and forwards every call to it, as ``torch.nn.DataParallel`` does
    without GPUs.

    Parameters
    ----------
    module : Module
        Available as ``.module``; its ``state_dict`` keys get the prefix ``module.``.
    device_ids : list, optional
        ``None``, ``[]`` or CPU devices only (anything else is a ValueError: glassgrad does
        not replicate a module over devices).
    output_device : optional
        ``None`` or ``'cpu'``.
    dim : int
        The axis PyTorch would split the batch along (stored; nothing is split here).

    Notes
    -----
    As in PyTorch, attributes of the wrapped module are not looked up through the
    wrapper: write ``model.module.attr``.
    """

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None,
                 output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be a glassgrad nn.Module, got "
                            f"{type(module).__name__}")
        _check_devices("DataParallel", device_ids, output_device, dim)
        self.module = module
        self.device_ids: list = []          # as PyTorch when no GPU is used
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)

