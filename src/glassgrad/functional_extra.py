"""More of ``torch``'s functions (``gg.add(x, y, alpha=2)``, ``gg.scatter(...)``, ...).

Each is the Tensor method of the same name applied to its first argument (see
:mod:`glassgrad.tensor_methods.extra`), with PyTorch's ``out=``: the result is written into the
given tensor (same shape; its dtype is kept), which is returned. As in PyTorch, ``out=``
does not take part in autograd: a result that requires grad, or an ``out`` that does, is
refused while gradients are being recorded.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from .autograd.grad_mode import STATE
from .ops._util import op_error
from .tensor import Tensor

# functions that take ``out=`` in PyTorch, then those that do not
_WITH_OUT = (
    "add sub subtract mul multiply div divide true_divide floor_divide lerp asinh acosh "
    "atanh arcsinh arccosh arctanh addmm addbmm baddbmm addmv addr addcmul addcdiv mv "
    "inner ger clamp_min clamp_max deg2rad rad2deg sgn absolute fix rsqrt reciprocal "
    "greater greater_equal less less_equal not_equal eq ne lt le gt ge logical_not "
    "logical_and logical_or logical_xor masked_select take index_copy index_fill nonzero "
    "scatter bernoulli negative"
).split()
_NO_OUT = (
    "isclose argwhere count_nonzero masked_scatter masked_fill cummax cummin fliplr "
    "flipud tensor_split hsplit vsplit dsplit movedim moveaxis swapdims ravel "
    "is_floating_point is_signed positive t clone detach adjoint"
).split()

__all__ = sorted(set(_WITH_OUT) | set(_NO_OUT) | {"rsub"})


def _write_out(name: str, result: Any, out: Tensor) -> Tensor:
    if not isinstance(out, Tensor):
        raise op_error(name, f"out must be a Tensor, got {type(out).__name__}", TypeError)
    if isinstance(result, tuple):
        raise op_error(name, "out= is not supported for several results", TypeError)
    if STATE.grad_enabled and (out.requires_grad or result.requires_grad):
        raise op_error(name, "functions with out=... arguments don't support automatic "
                       "differentiation; call it under gg.no_grad() or without out=",
                       RuntimeError)
    if tuple(out.shape) != tuple(result.shape):
        raise op_error(name, f"out has shape {tuple(out.shape)}, the result "
                       f"{tuple(result.shape)}")
    if out.dtype.kind != result.dtype.kind and not (out.dtype.kind == "f"
                                                     and result.dtype.kind in "biu"):
        raise op_error(name, f"result dtype {result.dtype} can't be cast to out's dtype "
                       f"{out.dtype}", TypeError)
    out.array[...] = result.array
    out._version[0] += 1
    return out


def _make(name: str, with_out: bool) -> Callable:
    method = getattr(Tensor, name)

    if with_out:
        def fn(input: Any, *args: Any, out: Tensor | None = None, **kwargs: Any) -> Any:
            x = input if isinstance(input, Tensor) else Tensor(input)
            r = getattr(x, name)(*args, **kwargs)
            return r if out is None else _write_out(name, r, out)
    else:
        def fn(input: Any, *args: Any, **kwargs: Any) -> Any:
            x = input if isinstance(input, Tensor) else Tensor(input)
            return getattr(x, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = __name__
    fn.__doc__ = f"``torch.{name}``: :meth:`Tensor.{name}` of ``input``" + (
        " (``out=``: write the result there)." if with_out else ".")
    # the signature shown by help() and inspect: the method's, with ``input`` first
    try:
        params = list(inspect.signature(method).parameters.values())[1:]
    except (TypeError, ValueError):  # pragma: no cover - every method here has one
        return fn
    params.insert(0, inspect.Parameter("input", inspect.Parameter.POSITIONAL_OR_KEYWORD))
    if with_out:
        params.append(inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None))
    kinds = [p.kind for p in params]
    if all(a <= b for a, b in zip(kinds, kinds[1:])):
        fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return fn


def rsub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``other - alpha * input`` (``torch.rsub``)."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    return other - (x if alpha == 1 else x * alpha)


for _n in _WITH_OUT + _NO_OUT:
    globals()[_n] = _make(_n, _n in _WITH_OUT)
del _n
