"""Batching rules: how each op runs on a whole batch at once inside ``vmap``.

A rule receives the op's class and its arguments, some of them
:class:`~glassgrad.func._batched.BatchedTensor` (logical shape without the batch axis,
physical tensor with it at position 0). It calls the op (or a few ops) on the *physical*
tensors — so autograd records an ordinary graph, and a gradient taken inside ``vmap``
stays per sample — and wraps the result as a batched tensor. Configurations a rule does
not cover raise :class:`~glassgrad.func._batched.NoBatchRule` (``vmap`` then loops).

``RULES`` maps op classes to rules; the families (see ``docs/func.md``):

* elementwise (unary table rows, activations, binary arithmetic with broadcasting
  aligned on the logical dims, ``where``, ``clamp``, casts);
* reductions and axis ops (``sum``, ``mean``, ``var``, ``amax``, ``logsumexp``,
  ``softmax``, ``cumsum``...: the axis shifted by one, ``None`` = all logical dims);
* movement (``reshape``/``view``, ``permute``/``transpose``, ``expand``, ``cat``, ``stack``,
  ``flip``, basic ``getitem``);
* ``matmul`` and ``linear`` (batched or unbatched operands on either side);
* ``cross_entropy`` and ``nll_loss`` (class-index targets; per-sample reduction);
* the layer ops, in :mod:`glassgrad.func._batch_rules_nn` (``NN_RULES``, merged in at the
  end of this file): convolution and transposed convolution (the batch folded into ``N``,
  or the groups trick for per-sample weights), max/average pooling, layer norm, batch norm
  (evaluation; training without running statistics), embedding, dropout (following
  ``vmap``'s ``randomness``), the fused LSTM/GRU layers and cells (shared weights: the batch
  folded into the RNN's batch axis; per-sample weights: the recurrence unrolled), and scaled
  dot-product attention.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from ..backend import np
from ..ops import elementwise as E
from ..ops import indexing as I
from ..ops import linalg as LA
from ..ops import linear as LI
from ..ops import loss as LO
from ..ops import movement as M
from ..ops import reduce as R
from ..ops import rounding as RO
from ..ops import special as SP
from ..ops import trig as TR
from ..tensor import Tensor
from ._batched import BatchedTensor, NoBatchRule, _LogicalArray
from ._batched_linear import BatchedLinear

RULES: dict[type, Callable] = {}


# ----------------------------------------------------------------------------- helpers
def _bt(x: Any) -> Any:
    """A _LogicalArray (a batched tensor's ``.array`` passed as an op argument) -> its tensor."""
    return x._bt if type(x) is _LogicalArray else x


def _level(xs: Any) -> tuple:
    """(level, batch size) shared by the batched tensors among ``xs``."""
    lv = None
    for x in xs:
        if type(x) is BatchedTensor:
            if lv is None:
                lv = (x._level, x._phys.array.shape[0])
            elif x._level != lv[0]:
                raise NoBatchRule("ops mixing tensors of different vmap levels")
    if lv is None:
        raise NoBatchRule("an op without batched tensors")  # pragma: no cover - dispatch checks
    return lv


def _ndim(x: Any) -> int:
    if isinstance(x, Tensor):
        return x.ndim
    return getattr(x, "ndim", 0)


def aligned(xs: list) -> tuple:
    """Physical operands for a broadcasting op: batched ones as ``(B, 1.., *logical)`` padded
    to the largest logical ndim (NumPy then broadcasts the unbatched ones, aligned on the
    right, against the logical dims); returns (operands, level)."""
    xs = [_bt(x) for x in xs]
    level, _ = _level(xs)
    r = max(_ndim(x) for x in xs)
    out = []
    for x in xs:
        if type(x) is BatchedTensor:
            p = x._phys
            k = x.ndim
            if k < r:
                p = p.reshape((p.shape[0],) + (1,) * (r - k) + tuple(x.shape))
            out.append(p)
        else:
            out.append(x)
    return out, level


def _wrap(out: Any, level: int) -> Any:
    if type(out) is tuple:
        return tuple(BatchedTensor.wrap(o, level) for o in out)
    return BatchedTensor.wrap(out, level)


def _phys_full(x: Any, B: int) -> Any:
    """The physical tensor of ``x`` with the batch axis (an unbatched Tensor is expanded)."""
    x = _bt(x)
    if type(x) is BatchedTensor:
        return x._phys
    if isinstance(x, Tensor):
        return x.expand((B,) + tuple(x.shape))
    raise NoBatchRule("a non-tensor operand")  # pragma: no cover


_SIGS: dict = {}


def _bind(cls: type, args: tuple, kwargs: dict) -> inspect.BoundArguments:
    sig = _SIGS.get(cls)
    if sig is None:
        sig = _SIGS[cls] = inspect.signature(cls.forward)
    b = sig.bind(None, *args, **kwargs)
    b.apply_defaults()
    return b


def _call(cls: type, b: inspect.BoundArguments) -> Any:
    return cls.apply(*b.args[1:], **b.kwargs)


def _no_batched(vals: Any, what: str) -> None:
    for v in vals:
        if type(_bt(v)) is BatchedTensor:
            raise NoBatchRule(what)


# ----------------------------------------------------------------------------- elementwise
def elementwise(cls: type, args: tuple, kwargs: dict) -> Any:
    """Every tensor argument broadcast against the others on the logical dims."""
    if kwargs:
        _no_batched(kwargs.values(), f"{cls.__name__} with a batched keyword argument")
    pos = [i for i, a in enumerate(args)
           if isinstance(_bt(a), Tensor) or hasattr(a, "ndim")]
    ops, level = aligned([args[i] for i in pos])
    new = list(args)
    for i, o in zip(pos, ops):
        new[i] = o
    return _wrap(cls.apply(*new, **kwargs), level)


# the unary table rows (glassgrad.ops._unary) and the hand-written elementwise ops
for _mod in (E, TR, SP):
    for _v in vars(_mod).values():
        if isinstance(_v, type) and "fn" in _v.__dict__ and "vjp" in _v.__dict__:
            RULES[_v] = elementwise
for _c in (E.Add, E.Sub, E.RSub, E.Mul, E.Div, E.RDiv, E.Pow, E.RPow, E.Maximum, E.Minimum,
           E.Where, E.LogAddExp, E.Fmod, E.LeakyRelu, E.Elu, E.Gelu, E.Softplus, E.Clamp,
           E.LogBase, TR.Atan2, TR.Hypot, SP.Polygamma, RO.Rounded, M.Cast, M.Clone):
    RULES[_c] = elementwise


# ----------------------------------------------------------------------------- axis ops
def _shift(ax: Any, k: int, none_all: bool) -> Any:
    if ax is None:
        return tuple(range(1, k + 1)) if none_all else None
    if isinstance(ax, (tuple, list)):
        return tuple(_shift(a, k, False) for a in ax)
    if k == 0:
        if ax in (0, -1):
            raise NoBatchRule("an axis of a 0-d tensor")
        raise NoBatchRule("an axis out of range")
    if not -k <= ax < k:
        raise NoBatchRule("an axis out of range")
    return ax % k + 1


def axis_rule(param: str, none_all: bool = True) -> Callable:
    """The rule of an op with one tensor input whose ``param`` names logical axes."""
    def rule(cls: type, args: tuple, kwargs: dict) -> Any:
        b = _bind(cls, args, kwargs)
        x = _bt(b.args[1])
        _no_batched(list(b.args[2:]) + list(b.kwargs.values()), f"{cls.__name__} with batched options")
        b.arguments[param] = _shift(b.arguments[param], x.ndim, none_all)
        b.arguments[list(b.arguments)[1]] = x._phys
        return _wrap(_call(cls, b), x._level)

    return rule


for _c in (R.Sum, R.Mean, R.Var, R.Std, R.PNorm, R.Amax, R.Amin, R.LogSumExp):
    RULES[_c] = axis_rule("axes")
RULES[R.Prod] = axis_rule("dim")
for _c in (R.MaxDim, R.CumSum, R.CumProd, R.Sort, R.TopK):
    RULES[_c] = axis_rule("dim", False)
for _c in (R.Softmax, R.LogSoftmax):
    RULES[_c] = axis_rule("axis", False)
RULES[M.Flip] = axis_rule("axes", False)


def _cat_stack(cls: type, args: tuple, kwargs: dict) -> Any:
    axis, xs = args[0], [_bt(x) for x in args[1:]]
    level, B = _level(xs)
    k = max(_ndim(x) for x in xs) + (1 if cls is M.Stack else 0)
    if not -k <= axis < k:
        raise NoBatchRule(f"{cls.__name__} with an axis out of range")
    return _wrap(cls.apply(axis % k + 1, *[_phys_full(x, B) for x in xs], **kwargs), level)


RULES[M.Cat] = RULES[M.Stack] = _cat_stack


def _split(cls: type, args: tuple, kwargs: dict) -> Any:
    b = _bind(cls, args, kwargs)
    x = _bt(b.arguments["x"])
    b.arguments["axis"] = _shift(b.arguments["axis"], x.ndim, False)
    b.arguments["x"] = x._phys
    return _wrap(_call(cls, b), x._level)


RULES[M.Split] = _split


# ----------------------------------------------------------------------------- movement
def _reshape(cls: type, args: tuple, kwargs: dict) -> Any:
    b = _bind(cls, args, kwargs)
    x = _bt(b.arguments["x"])
    shape = b.arguments["shape"]
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    p = x._phys
    return _wrap(cls.apply(p, (p.shape[0],) + shape), x._level)


def _permute(cls: type, args: tuple, kwargs: dict) -> Any:
    b = _bind(cls, args, kwargs)
    x = _bt(b.arguments["x"])
    k = x.ndim
    perm = tuple(b.arguments["perm"])
    if sorted(p % k for p in perm) != list(range(k)) if k else perm:
        raise NoBatchRule("permute with an invalid permutation")
    return _wrap(cls.apply(x._phys, (0,) + tuple(p % k + 1 for p in perm)), x._level)


def _expand(cls: type, args: tuple, kwargs: dict) -> Any:
    b = _bind(cls, args, kwargs)
    x = _bt(b.arguments["x"])
    shape = tuple(b.arguments["shape"])
    k, n = x.ndim, len(shape)
    if n < k:
        raise NoBatchRule("expand to fewer dimensions")
    full = tuple(x.shape[i - (n - k)] if s == -1 else s for i, s in enumerate(shape))
    p = x._phys
    B = p.shape[0]
    if n > k:
        p = p.reshape((B,) + (1,) * (n - k) + tuple(x.shape))
    return _wrap(cls.apply(p, (B,) + full), x._level)


def _basic(i: Any) -> bool:
    return i is None or i is Ellipsis or isinstance(i, slice) or (
        isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)))


def _getitem(cls: type, args: tuple, kwargs: dict) -> Any:
    if len(args) != 2 or kwargs:
        raise NoBatchRule("getitem with index tensors")
    x, idx = _bt(args[0]), args[1]
    if type(x) is not BatchedTensor:
        raise NoBatchRule("getitem with a batched index")
    key = idx if isinstance(idx, tuple) else (idx,)
    if not all(_basic(i) for i in key):
        raise NoBatchRule("getitem with an advanced (array, mask or tensor) index")
    return _wrap(cls.apply(x._phys, (slice(None),) + key), x._level)


RULES[M.Reshape] = _reshape
RULES[M.Permute] = _permute
RULES[M.Expand] = _expand
RULES[I.GetItem] = _getitem


# ----------------------------------------------------------------------------- matmul, linear
def _matmul(cls: type, args: tuple, kwargs: dict) -> Any:
    a, b = _bt(args[0]), _bt(args[1])
    level, B = _level([a, b])
    ka, kb = _ndim(a), _ndim(b)
    if ka == 0 or kb == 0:
        raise NoBatchRule("matmul of a 0-d tensor")
    ab, bb = type(a) is BatchedTensor, type(b) is BatchedTensor
    pa = a._phys if ab else a
    pb = b._phys if bb else b
    # 1-d operands as matrices (a row, b a column), squeezed again at the end
    if ka == 1:
        pa = pa.reshape((B, 1, a.shape[0]) if ab else (1, a.shape[0]))
    if kb == 1:
        pb = pb.reshape((B, b.shape[0], 1) if bb else (b.shape[0], 1))
    la, lb = max(ka, 2), max(kb, 2)
    r = max(la, lb)
    if ab and la < r:
        pa = pa.reshape((B,) + (1,) * (r - la) + tuple(pa.shape[1:]))
    if bb and lb < r:
        pb = pb.reshape((B,) + (1,) * (r - lb) + tuple(pb.shape[1:]))
    out = cls.apply(pa, pb)
    shp = tuple(out.shape)
    if ka == 1 or kb == 1:
        keep = list(shp)
        if kb == 1:
            keep.pop(-1)
        if ka == 1:
            keep.pop(-2 if kb != 1 else -1)
        out = out.reshape(tuple(keep))
    return _wrap(out, level)


RULES[LA.MatMul] = _matmul


def _linear(cls: type, args: tuple, kwargs: dict) -> Any:
    bd = _bind(cls, args, kwargs)
    x, w, bias = (_bt(bd.arguments[k]) for k in ("x", "w", "b"))
    level, B = _level([x, w, bias])
    xb, wb, bb = (type(t) is BatchedTensor for t in (x, w, bias))
    if not (wb or bb):  # the common case: one GEMM over the batch and the leading dims
        return _wrap(cls.apply(x._phys, w, bias), level)
    if _ndim(w) != 2 or _ndim(x) == 0:
        raise NoBatchRule("linear with a weight that is not a matrix")
    n_in = w.shape[1]
    lead = tuple(x.shape[:-1])
    px = (x._phys if xb else x.expand((B,) + tuple(x.shape))).reshape((B, -1, n_in))
    if wb:
        pb = None if bias is None else _phys_full(bias, B)
        y = BatchedLinear.apply(px, w._phys, pb)
    else:
        y = cls.apply(px, w, None) + bias._phys.reshape((B, 1, w.shape[0]))
    return _wrap(y.reshape((B,) + lead + (w.shape[0],)), level)


RULES[LI.Linear] = _linear


# ----------------------------------------------------------------------------- losses
def _class_loss(cls: type, args: tuple, kwargs: dict) -> Any:
    """cross_entropy / nll_loss with class-index targets: the op per row with reduction
    'none' on the whole batch, then each sample's reduction (PyTorch's weighted mean)."""
    b = _bind(cls, args, kwargs)
    x, y, w = _bt(b.arguments["x"]), _bt(b.arguments["y"]), _bt(b.arguments["weight"])
    if type(w) is BatchedTensor:
        raise NoBatchRule(f"{cls.__name__} with batched class weights")
    level, B = _level([x, y])
    k = _ndim(x)
    if k not in (1, 2):
        raise NoBatchRule(f"{cls.__name__} with spatial dimensions")
    C = x.shape[-1]
    px = _phys_full(x, B).reshape((-1, C))
    if type(y) is BatchedTensor:
        ya = y._phys.array
    else:
        ya = np.broadcast_to(y.array if isinstance(y, Tensor) else np.asarray(y), (B,) + tuple(y.shape))
    red = b.arguments["reduction"]
    b.arguments["x"], b.arguments["y"], b.arguments["reduction"] = px, ya.reshape(-1), "none"
    per = _call(cls, b).reshape((B, -1))
    if red == "none":
        out = per.reshape((B,) + tuple(x.shape[:-1]))
    elif red == "sum":
        out = per.sum(1)
    elif red == "mean":
        y2 = ya.reshape(B, -1)
        ii = b.arguments["ignore_index"]
        valid = (y2 != ii) if ii is not None else np.ones(y2.shape, bool)
        wa = w.array if isinstance(w, Tensor) else w
        if wa is None:
            den = valid.sum(1).astype(px.dtype)
        else:
            den = (np.where(valid, np.asarray(wa)[np.where(valid, y2, 0)], 0)).sum(1).astype(px.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = per.sum(1) / Tensor._make(den, False)
    else:
        raise NoBatchRule(f"{cls.__name__} with reduction {red!r}")
    return _wrap(out, level)


RULES[LO.CrossEntropy] = RULES[LO.NLLLoss] = _class_loss


# ----------------------------------------------------------------------------- layer ops
from ._batch_rules_nn import NN_RULES  # noqa: E402 (needs the helpers above)

RULES.update(NN_RULES)
