"""``vmap``: map a function over an axis of its arguments (``torch.func.vmap``).

glassgrad's ``vmap`` is a **loop**: it calls ``func`` once per index of the mapped axis on
the slices of the mapped arguments and stacks the results along ``out_dims``. That is
correct for any function of glassgrad ops (each call sees exactly the unbatched
arguments ``torch.func.vmap`` promises it), and it composes with the other transforms
(``vmap(grad(f))``, ``vmap(jacrev(f))``), but it costs one Python-level call per sample;
it warns once per process saying so.

Why no batching rules: a batching rule per op (how ``torch.func`` does it) needs a
batched-tensor type that every op dispatches on. For the case that matters most, per-sample
gradients (``vmap(grad(loss))`` over ``functional_call`` of a model), glassgrad has a
direct fast path instead: :func:`glassgrad.per_sample_grads`, one batched backward pass with
per-layer rules (``docs/derivations/per_sample.md``).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from ..tensor import Tensor, stack
from ._pytree import flatten

_WARNED = [False]


def _dims_for(in_dims: Any, args: tuple) -> list:
    """One entry (int or None) per leaf of ``args``: in_dims broadcast over the structure."""
    if isinstance(in_dims, int) or in_dims is None:
        leaves, _ = flatten(args)
        return [in_dims] * len(leaves)
    if not isinstance(in_dims, (tuple, list)) or len(in_dims) != len(args):
        raise ValueError(f"vmap: in_dims must be an int, None, or a tuple with one entry per "
                         f"positional argument ({len(args)}), got {in_dims!r}")
    out: list = []
    for d, a in zip(in_dims, args):
        leaves, _ = flatten(a)
        if isinstance(d, int) or d is None:
            out.extend([d] * len(leaves))
        else:
            dl, _ = flatten(d)
            if len(dl) != len(leaves):
                raise ValueError(f"vmap: in_dims entry {d!r} does not match its argument's structure")
            out.extend(dl)
    return out


def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable:
    """Vectorize ``func`` over axis ``in_dims`` of its arguments (a loop; see the module
    docstring).

    Parameters
    ----------
    func : callable
        Takes and returns Tensors (or tuples / lists / dicts of them).
    in_dims : int, None or tuple
        The mapped axis of each positional argument (``None``: not mapped, passed whole);
        a tuple has one entry per argument (itself a structure matching a dict/tuple
        argument, or one int/None for all its Tensors).
    out_dims : int or tuple
        Where the mapped axis goes in each output.
    randomness : {'error', 'different', 'same'}
        Accepted for compatibility; each call of the loop draws its own random numbers
        (``'different'``'s semantics); ``'same'`` is refused.
    chunk_size : int, optional
        Accepted for compatibility (the loop already runs one sample at a time).
    """
    if randomness not in ("error", "different", "same"):
        raise ValueError(f"vmap: randomness must be 'error', 'different' or 'same', got {randomness!r}")
    if randomness == "same":
        raise NotImplementedError("vmap: randomness='same' is not supported by glassgrad's loop "
                                  "vmap (each sample's call draws its own random numbers)")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        leaves, rebuild = flatten(args)
        dims = _dims_for(in_dims, args)
        size = None
        for x, d in zip(leaves, dims):
            if d is None:
                continue
            if not isinstance(x, Tensor):
                raise TypeError(f"vmap: a mapped argument must be a Tensor, got {type(x).__name__}")
            if not -x.ndim <= d < x.ndim:
                raise ValueError(f"vmap: in_dim {d} out of range for an argument of shape "
                                 f"{tuple(x.shape)}")
            n = x.shape[d]
            if size is not None and n != size:
                raise ValueError(f"vmap: mapped axes have different sizes ({size} and {n})")
            size = n
        if size is None:
            raise ValueError("vmap: at least one argument must be mapped (in_dims all None)")
        if not _WARNED[0]:
            _WARNED[0] = True
            warnings.warn("glassgrad.func.vmap runs func once per sample (a loop over the mapped "
                          "axis, correct but not batched); for per-sample gradients of a model, "
                          "glassgrad.per_sample_grads does it in one backward pass", stacklevel=2)
        results = []
        for i in range(size):
            sl = [x if d is None else x[(slice(None),) * (d % x.ndim) + (i,)]
                  for x, d in zip(leaves, dims)]
            results.append(func(*rebuild(sl), **kwargs))
        return _stack_out(results, out_dims)

    wrapper.__wrapped__ = func
    return wrapper


def _stack_out(results: list, out_dims: Any) -> Any:
    first, rebuild = flatten(results[0])
    cols = [flatten(r)[0] for r in results]
    if isinstance(out_dims, int):
        od = [out_dims] * len(first)
    else:
        od, _ = flatten(out_dims)
        if len(od) != len(first):
            raise ValueError(f"vmap: out_dims {out_dims!r} does not match the outputs' structure")
    outs = []
    for j, d in enumerate(od):
        vals = [c[j] for c in cols]
        if not all(isinstance(v, Tensor) for v in vals):
            raise TypeError("vmap: func must return Tensors (or tuples/lists/dicts of Tensors)")
        outs.append(stack(vals, d if d is not None else 0))
    return rebuild(outs)
