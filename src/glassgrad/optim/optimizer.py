"""The :class:`Optimizer` base: parameter groups, per-parameter state, checkpoints.

An optimizer owns a list of *parameter groups*. Each group is a dict holding the
parameters (``'params'``, a list of leaf Tensors) and that group's options (``'lr'``,
``'momentum'``, ...); options a group does not give are filled in from the optimizer's
``defaults``. ``optimizer.state[p]`` is a dict of arrays (momentum buffers, running
averages, the step count) for parameter ``p``, created at its first update.

Updates are written with NumPy in place on ``p.array`` (``out=`` arguments and scratch
buffers, no autograd graph), with every hyper-parameter turned into a Python float first
so that a float32 parameter stays float32 (a NumPy float64 scalar would upcast under
NumPy 2's promotion rules). Each update bumps ``p._version`` so that autograd notices a
saved tensor that was changed under it.

Checkpoint format (:meth:`Optimizer.state_dict`)
------------------------------------------------
Same layout as PyTorch, but with NumPy arrays and Python scalars only (no pickled
objects), so it can be written to an ``.npz`` / JSON pair::

    {
        "state": {                       # keyed by the parameter's index (int), counted
            0: {"step": 12,              #   across groups in order; only parameters that
                "exp_avg": ndarray,      #   have state appear
                "exp_avg_sq": ndarray},
            ...
        },
        "param_groups": [                # one dict per group, options as Python scalars
            {"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1, 2]},
            ...
        ],
    }

Arrays are copies (on the CPU) of the optimizer's buffers, so the dict is a snapshot.
:meth:`Optimizer.load_state_dict` accepts this structure and is lenient about what a
round trip through a file does to it: state keys as strings (``"0"``), scalars as 0-d
arrays, tuples as lists or 1-d arrays.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator

from ..autograd.grad_mode import enable_grad
from ..backend import np, to_numpy, xp_of
from ..tensor import Tensor
from ._common import zeros

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton marking an option that has no default and must be given."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

ParamsT = Iterable[Tensor] | Iterable[dict]


def _as_float(name: str, value: Any, opt: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{opt}: {name} must be a number, got {value!r}") from None


def check_nonneg(opt: str, name: str, value: Any) -> None:
    """Raise a ``ValueError`` naming ``opt`` unless ``value`` is a finite number >= 0."""
    v = _as_float(name, value, opt)
    if not (v >= 0.0 and math.isfinite(v)):
        raise ValueError(f"{opt}: invalid {name} {value!r} (expected a finite value >= 0)")


def check_beta(opt: str, name: str, value: Any) -> None:
    """Raise a ``ValueError`` naming ``opt`` unless ``0 <= value < 1``."""
    v = _as_float(name, value, opt)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{opt}: invalid {name} {value!r} (expected 0 <= {name} < 1)")


def check_betas(opt: str, group: dict[str, Any]) -> None:
    """``group['betas']`` a pair in [0, 1) (stored back as a tuple); a ``ValueError`` naming
    ``opt`` otherwise."""
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{opt}: betas must be a pair (beta1, beta2), got {betas!r}")
    group["betas"] = tuple(betas)
    check_beta(opt, "beta parameter at index 0", betas[0])
    check_beta(opt, "beta parameter at index 1", betas[1])


def _reject_set(opt: str, params: Any) -> None:
    if isinstance(params, (set, frozenset)):
        raise TypeError(
            f"{opt}: parameters must be given as an ordered collection (list, tuple, "
            "generator), not a set: the order decides the indices in state_dict()"
        )


def _to_host(v: Any) -> Any:
    """A state value as stored in a checkpoint: arrays copied to NumPy, scalars as Python."""
    if isinstance(v, Tensor):
        v = v.array
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return np.array(to_numpy(v), copy=True)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _from_saved(v: Any) -> Any:
    """Undo what a file round trip may have done to a saved value (torch tensors, 0-d arrays)."""
    if isinstance(v, Tensor):
        return np.array(to_numpy(v.array), copy=True)
    if not isinstance(v, np.ndarray) and hasattr(v, "detach") and hasattr(v, "numpy"):
        v = v.detach().cpu().numpy()  # a torch.Tensor (e.g. a checkpoint made by PyTorch)
    if isinstance(v, np.generic):
        return v.item()
    return v


class Optimizer:
    """Base class of all optimizers (PyTorch's ``torch.optim.Optimizer`` API).

    Parameters
    ----------
    params : iterable of Tensor or iterable of dict
        Leaf tensors with ``requires_grad=True``, or dicts ``{'params': [...], 'lr': ...}``
        defining parameter groups with their own options.
    defaults : dict
        Default value of every option (used for groups that do not set it).

    Subclasses implement :meth:`_update_group` (the update of one group, on NumPy arrays)
    and may override :meth:`_validate_group`; :meth:`step` handles the closure, hooks
    and the step count. A subclass may also override :meth:`step` entirely.
    """

    #: State entries stored as Python scalars rather than arrays (e.g. the step count).
    _scalar_state: tuple[str, ...] = ("step",)
    #: State arrays that are not shaped like their parameter (L-BFGS's flat vectors).
    _flat_state: tuple[str, ...] = ()
    #: Options that must be finite numbers >= 0 (checked by :meth:`_validate_group`).
    _nonnegative: tuple[str, ...] = ()
    #: State arrays that start as zeros shaped like their parameter (see :meth:`_init_state`).
    _zero_state: tuple[str, ...] = ()

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._step_count = 0
        self._scratch: dict[tuple, list[Any]] = {}
        self._views: dict[tuple, list[Any]] = {}
        self._pre_hooks: dict[int, Callable] = {}
        self._post_hooks: dict[int, Callable] = {}
        self._next_hook_id = 0
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a single "
                f"Tensor of shape {tuple(params.shape)}; wrap it in a list: {name}([t], ...)"
            )
        if isinstance(params, dict):
            params = [params]
        _reject_set(name, params)
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, got "
                f"{type(params).__name__}"
            ) from None
        if len(groups) == 0:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (a dict with ``'params'`` and optional options).

        Useful for fine-tuning: unfreeze layers and hand them to the optimizer with their
        own learning rate. Options not given are taken from ``defaults``.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a param group dict needs a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        _reject_set(name, params)
        params = list(params)
        gi = len(self.param_groups)
        seen: set[int] = set()
        for i, p in enumerate(params):
            where = f"param {i} of group {gi}"
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but {where} is a "
                                f"{type(p).__name__}")
            if not p.requires_grad:
                raise ValueError(
                    f"{name}: {where} (shape {tuple(p.shape)}, dtype {p.dtype}) does not require "
                    "grad; create it with requires_grad=True or leave it out of the optimizer"
                )
            if p.grad_fn is not None:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor ({where}, shape {tuple(p.shape)}, "
                    f"made by {type(p.grad_fn).__name__}); optimize the leaf it was computed from"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: {where} appears twice in the same parameter group")
            seen.add(id(p))
        for j, other in enumerate(self.param_groups):
            if any(id(q) in seen for q in other["params"]):
                raise ValueError(
                    f"{name}: some parameters appear in more than one parameter group "
                    f"(groups {j} and {gi})"
                )
        group["params"] = params
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required "
                                 f"option {k!r}")
            group.setdefault(k, v)
        self._validate_group(group)
        self.param_groups.append(group)

    def _validate_group(self, group: dict[str, Any]) -> None:
        """Check a group's options: ``lr`` and those named in ``_nonnegative`` finite and
        >= 0, ``betas`` (where there are) a pair in [0, 1). Subclasses with other options
        extend it, raising a ``ValueError`` that names the optimizer and the option."""
        name = type(self).__name__
        if "lr" in group and group["lr"] is not required:
            check_nonneg(name, "learning rate", group["lr"])
        if "betas" in group:
            check_betas(name, group)
        for key in self._nonnegative:
            check_nonneg(name, "epsilon value" if key == "eps" else f"{key} value", group[key])

    # ------------------------------------------------------------------ grads
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters.

        Parameters
        ----------
        set_to_none : bool
            ``True`` (default): set ``p.grad = None`` (frees the memory; the next backward
            allocates a fresh array). ``False``: fill the existing ``.grad`` with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif (g.grad_fn is not None or g.requires_grad
                      or not getattr(g.array.flags, "writeable", True)):
                    p.grad = Tensor._make(xp_of(g.array).zeros_like(g.array), False)
                else:
                    g.array.fill(0)
                    g._version[0] += 1

    # ------------------------------------------------------------------ step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s loss if given.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (it should zero the grads and call
            ``backward`` itself). Called with gradients enabled, before the update.
        """
        if self._pre_hooks:
            for hook in list(self._pre_hooks.values()):
                hook(self, (), {})
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        self._step_count += 1
        if self._post_hooks:
            for hook in list(self._post_hooks.values()):
                hook(self, (), {})
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement its update")

    def register_step_pre_hook(self, hook: Callable) -> Callable[[], None]:
        """Call ``hook(optimizer, args, kwargs)`` before each :meth:`step`; returns a remover."""
        return self._add_hook(self._pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> Callable[[], None]:
        """Call ``hook(optimizer, args, kwargs)`` after each :meth:`step`; returns a remover."""
        return self._add_hook(self._post_hooks, hook)

    def _add_hook(self, table: dict[int, Callable], hook: Callable) -> Callable[[], None]:
        hid = self._next_hook_id
        self._next_hook_id += 1
        table[hid] = hook

        def remove() -> None:
            table.pop(hid, None)

        return remove

    # ------------------------------------------------------------------ helpers for updates
    def _init_state(self, x: Any, group: dict[str, Any]) -> dict[str, Any]:
        """The state of a parameter (array ``x``) at its first update, besides ``step``: by
        default a zero array like ``x`` for each name in ``_zero_state``."""
        return zeros(x, *self._zero_state)

    def _with_grads(self, group: dict[str, Any]) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
        """``(x, g, state)`` for each parameter of ``group`` that has a gradient.

        ``x`` is the parameter's array, to update in place; ``g`` its gradient (see
        :meth:`_grad`); ``state`` its dict, made ``{"step": 0, **_init_state(x, group)}`` at
        the first update, with ``state["step"]`` already counted up for this update. Once
        the loop body is done with a parameter, its version counter is bumped so that
        autograd sees the change.
        """
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            x = p.array
            st = self.state[p]
            if not st:
                st["step"] = 0
                st.update(self._init_state(x, group))
            st["step"] += 1
            yield x, g, st
            p._version[0] += 1

    def _grad(self, p: Tensor) -> Any:
        """``p.grad`` as an array of ``p``'s dtype, or None; a clear error on a wrong shape."""
        g = p.grad
        if g is None:
            return None
        gd = g.array
        if gd.shape != p.array.shape:
            raise RuntimeError(
                f"{type(self).__name__}.step: a parameter of shape {tuple(p.shape)} has a .grad of "
                f"shape {tuple(gd.shape)}; they must match"
            )
        if gd.dtype != p.array.dtype:
            gd = gd.astype(p.array.dtype)
        return gd

    def _buffers(self, a: Any, n: int) -> list[Any]:
        """``n`` scratch arrays shaped like ``a``, reused across steps (not part of the state).

        The update formulas write their intermediate results here with ``out=`` instead of
        allocating a fresh temporary per operation. They are views into ``n`` flat arrays
        per dtype as large as the largest parameter, so the extra memory is ``n`` times the
        largest parameter, not ``n`` times the model.
        """
        vkey = (a.shape, a.dtype, type(a), n)
        views = self._views.get(vkey)
        if views is not None:
            return views
        key = (a.dtype, type(a))
        flats = self._scratch.get(key)
        if flats is None:
            flats = self._scratch[key] = []
        size = a.size
        for i in range(n):
            if i == len(flats):
                flats.append(xp_of(a).empty(size, dtype=a.dtype))
            elif flats[i].size < size:
                flats[i] = xp_of(a).empty(size, dtype=a.dtype)
                self._views.clear()  # views of the old, smaller array are stale
        views = self._views[vkey] = [f[:size].reshape(a.shape) for f in flats[:n]]
        return views

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as plain NumPy arrays and Python scalars (see module doc).

        Returns
        -------
        dict
            ``{'state': {index: {name: value}}, 'param_groups': [{option: value,
            'params': [indices]}]}``; arrays are copies.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            g = {k: _to_host(v) for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            g["params"] = ids
            groups.append(g)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {k: _to_host(v) for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state saved by :meth:`state_dict` (from an optimizer over parameters of the
        same shapes, grouped the same way). Buffers are copied and cast to each parameter's
        dtype and device; the current parameters are kept."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             "'param_groups' (from state_dict())")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: loaded state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        id_map: dict[int, Tensor] = {}
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            sp = [int(_from_saved(i)) for i in np.asarray(saved["params"]).reshape(-1)]
            if len(sp) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {gi} has {len(sp)} parameters in the loaded "
                    f"state but {len(group['params'])} in this optimizer"
                )
            for i, p in zip(sp, group["params"]):
                id_map[i] = p
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for k, st in dict(state_dict.get("state", {})).items():
            try:
                p = id_map[int(k)]
            except (KeyError, ValueError):
                raise ValueError(f"{name}.load_state_dict: state refers to parameter {k!r}, "
                                 f"which is not in any group (indices {sorted(id_map)})") from None
            xp = xp_of(p.array)
            entry = {}
            for key, v in dict(st).items():
                v = _from_saved(v)
                if key in self._scalar_state:
                    val = np.asarray(v).item()
                    entry[key] = int(val) if float(val).is_integer() else float(val)
                elif (hasattr(v, "shape") and hasattr(v, "dtype") and v.dtype.kind in "fc"
                      and key not in self._flat_state):
                    arr = np.asarray(v)
                    if arr.shape != p.array.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {key!r} of parameter {k} has shape "
                            f"{tuple(arr.shape)}, the parameter has shape {tuple(p.shape)}"
                        )
                    entry[key] = xp.array(arr, dtype=p.array.dtype, copy=True)
                else:
                    entry[key] = v
            new_state[p] = entry
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            g: dict[str, Any] = {}
            for k, v in saved.items():
                if k == "params":
                    continue
                v = _from_saved(v)
                cur = group.get(k, self.defaults.get(k))
                if isinstance(cur, tuple) or (isinstance(v, np.ndarray) and v.ndim == 1):
                    v = tuple(float(x) for x in np.asarray(v).reshape(-1))
                elif isinstance(v, np.ndarray) and v.ndim == 0:
                    v = v.item()
                g[k] = v
            for k, v in self.defaults.items():
                g.setdefault(k, v)
            g["params"] = group["params"]
            new_groups.append(g)
        for g in new_groups:
            self._validate_group(g)
        self.state = new_state
        self.param_groups = new_groups

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            n = sum(int(p.array.size) for p in group["params"])
            lines.append(f"Parameter Group {i}  ({len(group['params'])} tensors, {n:,} values)")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)
