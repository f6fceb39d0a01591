"""``vmap``: map a function over an axis of its arguments (``torch.func.vmap``).

**Batched when it can.** ``vmap`` wraps each mapped argument as a
:class:`~glassgrad.func._batched.BatchedTensor` — the whole batch in one array, the mapped
axis moved to the front, a *logical* shape without it — and calls ``func`` **once**. Every
glassgrad op that meets a batched tensor runs its batching rule
(:mod:`glassgrad.func._batch_rules`): the op on the whole batch, the axes of its options
shifted past the batch axis, broadcasting aligned on the logical dims. ``grad`` and
``grad_and_value`` inside ``vmap`` differentiate per sample (an unbatched argument they
differentiate becomes a batched one, so its gradient has one entry per sample, never a
sum over the batch), so ``vmap(grad(loss))`` costs one batched forward and backward.

**Otherwise a loop.** When the batched run meets something without a rule — an op with no
batching rule, Python code reading a batched tensor's data (``.item()``, ``.numpy()``,
``bool(t)``, a data-dependent branch), an in-place write, a random draw other than dropout
(with ``randomness='different'`` or ``'same'``), ``jacrev``/``vjp`` of a batched tensor —
it stops with an internal :class:`~glassgrad.func._batched.NoBatchRule`
and ``vmap`` reruns ``func`` once per index on the slices of the mapped arguments, stacking
the results along ``out_dims``; it warns once per cause, naming it. The loop is always
correct (each call sees exactly the unbatched arguments ``torch.func.vmap`` promises), so
no path computes with the batch axis mixed into a per-sample computation. (Side effects
of ``func`` before the point it stopped happen twice.)

Random draws follow ``randomness`` as in ``torch.func.vmap``: ``'error'`` (default)
raises, ``'different'`` gives each sample its own draws, ``'same'`` one draw shared by all
(see :func:`vmap`).

Nested ``vmap``: an inner ``vmap`` given batched arguments runs as a loop over them
inside the outer batched run (each step is batched over the outer axis).

The ops with rules are listed in ``docs/func.md``. For per-sample gradients of a model,
:func:`glassgrad.per_sample_grads` remains the direct path (per-layer rules, no
per-sample copy of the weights in the forward).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from .. import random as _random
from ..tensor import Tensor, stack
from ._batched import BatchedTensor, NoBatchRule, batched_run, randomness_error
from ._pytree import flatten

_WARNED: set = set()


def _warn_once(key: str, msg: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(msg, stacklevel=3)


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
    """Vectorize ``func`` over axis ``in_dims`` of its arguments: one batched call when
    every op it reaches has a batching rule, else a loop (see the module docstring).

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
        What a random draw inside ``func`` (``dropout``, ``gg.randn``...) does, as
        ``torch.func.vmap``: ``'error'`` (default) raises a RuntimeError; ``'different'``
        gives every sample its own draws (dropout runs batched with one independent mask
        per sample; other draws run in the loop, one call per sample); ``'same'`` gives all
        samples the same draws (dropout: one mask broadcast over the batch; other draws: the
        loop replays every generator from the same state for each sample).
    chunk_size : int, optional
        Accepted for compatibility (the batched run takes the whole batch at once).
    """
    if randomness not in ("error", "different", "same"):
        raise ValueError(f"vmap: randomness must be 'error', 'different' or 'same', got {randomness!r}")

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
        if any(type(x) is BatchedTensor for x in leaves):
            # nested: a loop over this axis inside the outer batched run
            _warn_once("nested", "glassgrad.func.vmap: a vmap nested in a batched vmap runs as a "
                       "loop over its own axis (each step batched over the outer one)")
            return _loop(func, leaves, dims, rebuild, size, kwargs, out_dims, randomness)
        try:
            with batched_run(size, randomness) as run:
                bargs = [x if d is None else BatchedTensor.wrap(_to_front(x, d), run.level)
                         for x, d in zip(leaves, dims)]
                out = func(*rebuild(bargs), **kwargs)
                return _unbatch_out(out, out_dims, run.level, size)
        except NoBatchRule as e:
            _warn_once(e.what, f"glassgrad.func.vmap: no batching rule for {e.what}; running func "
                       "once per sample (a loop over the mapped axis: correct, not batched)")
        return _loop(func, leaves, dims, rebuild, size, kwargs, out_dims, randomness)

    wrapper.__wrapped__ = func
    return wrapper


def _to_front(x: Tensor, d: int) -> Tensor:
    d %= x.ndim
    if d == 0:
        return x
    return x.permute((d,) + tuple(i for i in range(x.ndim) if i != d))


class _LoopRandomness:
    """Context around the loop: random draws raise (``'error'``), or every generator used
    is rewound before each call to the state of its first use (``'same'``); the guard of an
    enclosing batched run stays in force."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.first: dict = {}

    def guard(self, generator: Any = None) -> None:
        if self._prev is not None:
            self._prev(generator)
        if self.mode == "error":
            raise randomness_error("a random operation")
        g = generator or _random.default_generator
        if id(g) not in self.first:
            self.first[id(g)] = (g, g.get_state())

    def rewind(self) -> None:
        for g, st in self.first.values():
            g.set_state(st)

    def __enter__(self) -> _LoopRandomness:
        self._prev = _random._GUARD[0]
        if self.mode != "different":
            _random._GUARD[0] = self.guard
        return self

    def __exit__(self, *exc: Any) -> None:
        _random._GUARD[0] = self._prev


def _loop(func: Callable, leaves: list, dims: list, rebuild: Callable, size: int, kwargs: dict,
          out_dims: Any, randomness: str = "error") -> Any:
    results = []
    with _LoopRandomness(randomness) as rnd:
        for i in range(size):
            sl = [x if d is None else x[(slice(None),) * (d % x.ndim) + (i,)]
                  for x, d in zip(leaves, dims)]
            if i:
                rnd.rewind()
            results.append(func(*rebuild(sl), **kwargs))
    return _stack_out(results, out_dims)


def _out_dims_list(out_dims: Any, n: int) -> list:
    if isinstance(out_dims, int) or out_dims is None:
        return [out_dims] * n
    od, _ = flatten(out_dims)
    if len(od) != n:
        raise ValueError(f"vmap: out_dims {out_dims!r} does not match the outputs' structure")
    return od


def _unbatch_out(out: Any, out_dims: Any, level: int, size: int) -> Any:
    """The batched run's outputs as ordinary tensors, the batch axis at ``out_dims``."""
    leaves, rebuild = flatten(out)
    od = _out_dims_list(out_dims, len(leaves))
    res = []
    for x, d in zip(leaves, od):
        if not isinstance(x, Tensor):
            raise TypeError("vmap: func must return Tensors (or tuples/lists/dicts of Tensors)")
        if type(x) is BatchedTensor:
            if x._level != level:
                raise NoBatchRule("an output batched by another vmap")
            p = x._phys
        else:  # does not depend on the mapped arguments: the same for every index
            p = x.unsqueeze(0).expand((size,) + tuple(x.shape))
        d = 0 if d is None else d
        n = p.ndim
        if not -n <= d < n:
            raise ValueError(f"vmap: out_dim {d} out of range for an output with {n - 1} dimensions")
        d %= n
        if d:
            p = p.permute(tuple(range(1, d + 1)) + (0,) + tuple(range(d + 1, n)))
        res.append(p)
    return rebuild(res)


def _stack_out(results: list, out_dims: Any) -> Any:
    first, rebuild = flatten(results[0])
    cols = [flatten(r)[0] for r in results]
    od = _out_dims_list(out_dims, len(first))
    outs = []
    for j, d in enumerate(od):
        vals = [c[j] for c in cols]
        if not all(isinstance(v, Tensor) for v in vals):
            raise TypeError("vmap: func must return Tensors (or tuples/lists/dicts of Tensors)")
        outs.append(stack(vals, d if d is not None else 0))
    return rebuild(outs)
