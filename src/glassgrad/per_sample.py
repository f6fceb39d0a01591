"""Per-sample gradients in one backward pass: :func:`per_sample_grads`.

``per_sample_grads(model, loss_fn, inputs, targets)[name][i]`` is the gradient that a
backward of ``loss_fn(model(inputs[i:i+1]), targets[i:i+1])`` alone would give the
parameter ``name`` — for all ``i`` at once, from **one** batched forward and backward:

1. **Per-sample losses.** ``lᵢ`` = the loss of sample ``i`` alone. For a loss with a
   ``reduction`` (an ``nn`` loss module, or a function such as ``F.cross_entropy``) it is
   called once with ``reduction='none'`` and the element losses of each sample are reduced
   as the original reduction would reduce a batch of one (``'mean'`` → mean over the
   sample's elements, ``'sum'``/``'batchmean'`` → sum). A class-weighted mean (``weight=``)
   or a target equal to ``ignore_index`` changes what a batch of one divides by, so then —
   and for any other callable — ``loss_fn`` is called once per sample on the rows of the
   batched output (cheap: the model runs once).
2. **One backward of** ``Σᵢ lᵢ`` (the sum, never the mean: no 1/N to undo). Every
   supported layer's output gradient is captured (``engine.run_backward(capture=…)``); row
   ``i`` of it is ``∂lᵢ/∂Yᵢ`` because sample ``i``'s rows of ``Y`` influence only ``lᵢ``.
   Parameters' ``.grad`` are not touched.
3. **Per-layer rules** (:mod:`glassgrad._per_sample_rules`) turn the layer's saved input and
   its output gradient into per-sample gradients by keeping the batch axis that the
   ordinary weight gradient sums over (Linear: ``δᵢ xᵢᵀ``).

BatchNorm with batch statistics couples the samples and is refused with an error. A
module type without a rule that holds parameters is handled by a loop of single-sample
forward and backward passes (correct, slower; a one-time warning names the type).
Derivations: ``docs/derivations/per_sample.md``.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable

from . import _per_sample_rules as R
from .autograd import engine
from .autograd.grad_mode import enable_grad, no_grad
from .backend import np
from .tensor import Tensor

__all__ = ["per_sample_grads", "aggregate", "PerSampleGrads", "gradient_variance"]

_WARNED: set = set()


class PerSampleGrads(dict):
    """``{parameter name: array (N, *parameter shape)}`` (NumPy arrays, the parameter's
    dtype), plus ``losses``: the per-sample losses ``lᵢ`` (an ``(N,)`` array)."""

    losses: Any = None

    def aggregate(self, f: Callable) -> dict:
        """``∂f(l₁, …, l_N)/∂W = Σᵢ ∂f/∂lᵢ · ∂lᵢ/∂W`` for every parameter; see :func:`aggregate`."""
        return aggregate(self, f)


def aggregate(per_sample: PerSampleGrads, f: Callable) -> dict:
    """Gradient of any differentiable ``f(l)`` of the per-sample losses ``l`` (an ``(N,)``
    Tensor → scalar Tensor, e.g. ``lambda l: l.logsumexp(0)`` or ``(w * l).sum()``).

    The chain rule through the losses: ``∂f/∂W = Σᵢ (∂f/∂lᵢ)·(∂lᵢ/∂W)``. ``∂f/∂lᵢ`` comes
    from autograd on ``f`` over the loss vector, the ``∂lᵢ/∂W`` are the rows of
    ``per_sample``; the sum over ``i`` is one tensordot per parameter.

    Returns
    -------
    dict
        ``{parameter name: array of the parameter's shape}``.
    """
    from .autograd.functional import grad as _grad

    if not isinstance(per_sample, PerSampleGrads) or per_sample.losses is None:
        raise TypeError("aggregate: per_sample must be the result of per_sample_grads")
    lt = Tensor._make(np.array(per_sample.losses), True)
    with enable_grad():
        val = f(lt)
    if not isinstance(val, Tensor) or val.array.size != 1:
        raise ValueError("aggregate: f must return a scalar Tensor, got "
                         f"{type(val).__name__ if not isinstance(val, Tensor) else tuple(val.shape)}")
    if val.requires_grad:
        (w,) = _grad(val, [lt], allow_unused=True, materialize_grads=True)
        w = w.array
    else:
        w = np.zeros_like(lt.array)
    return {k: np.tensordot(w.astype(v.dtype), v, axes=1) for k, v in per_sample.items()}


def gradient_variance(per_sample: dict, ddof: int = 1) -> dict:
    """How noisy the per-sample gradients are, per layer and for the whole model.

    For the per-sample gradients ``gᵢ`` (``i = 1..N``) of a layer, flattened over all its
    parameters (``"0.weight"`` and ``"0.bias"`` form layer ``"0"``), with mean ``ḡ``:

    * ``trace_cov`` = ``Σᵢ ‖gᵢ − ḡ‖² / (N − ddof)``: the trace of the covariance matrix of
      the per-sample gradients (the total variance; a batch of ``B`` samples gives a mean
      gradient whose variance is ``trace_cov / B``);
    * ``mean_sq_norm`` = ``Σᵢ ‖gᵢ‖² / N``;
    * ``grad_sq_norm`` = ``‖ḡ‖²`` (with ddof 0, ``mean_sq_norm = trace_cov + grad_sq_norm``);
    * ``noise_scale`` = ``trace_cov / ‖ḡ‖²``: the batch size at which the noise of the mean
      gradient equals its signal (the "simple noise scale" of McCandlish et al. 2018).

    Parameters
    ----------
    per_sample : dict
        ``{parameter name: (N, *shape) array}``, e.g. from :func:`per_sample_grads`.
    ddof : int
        Delta degrees of freedom of ``trace_cov`` (1: unbiased; 0: the population value).

    Returns
    -------
    dict
        ``{layer: {"trace_cov", "mean_sq_norm", "grad_sq_norm", "noise_scale"}}`` (floats),
        the layers in parameter order, then ``"(model)"`` for all parameters together.
    """
    if not isinstance(per_sample, dict) or not per_sample:
        raise TypeError("gradient_variance: per_sample must be a non-empty dict of (N, ...) arrays "
                        "(the result of per_sample_grads)")
    arrs = {k: np.asarray(v) for k, v in per_sample.items()}
    n = {a.shape[0] if a.ndim else 0 for a in arrs.values()}
    if len(n) != 1:
        raise ValueError(f"gradient_variance: the arrays disagree on the number of samples: {sorted(n)}")
    n = n.pop()
    if isinstance(ddof, bool) or not isinstance(ddof, int) or not 0 <= ddof < n:
        raise ValueError(f"gradient_variance: needs 0 <= ddof < N = {n} samples, got ddof={ddof!r}")
    groups: dict = {}
    for k, a in arrs.items():
        groups.setdefault(k.rsplit(".", 1)[0] if "." in k else k, []).append(a)
    groups["(model)"] = list(arrs.values())
    out = {}
    for layer, parts in groups.items():
        sq = ssd = gsq = 0.0
        for a in parts:
            flat = a.reshape(n, -1).astype(np.float64)
            mean = flat.mean(0)
            sq += float(np.einsum("ij,ij->", flat, flat))
            d = flat - mean
            ssd += float(np.einsum("ij,ij->", d, d))
            gsq += float(mean @ mean)
        tc = ssd / (n - ddof)
        out[layer] = {"trace_cov": tc, "mean_sq_norm": sq / n, "grad_sq_norm": gsq,
                      "noise_scale": tc / gsq if gsq > 0 else float("inf")}
    return out


# ------------------------------------------------------------------------------ losses
def _reduction_info(loss_fn: Callable) -> tuple:
    """``(how, original reduction)``: how = 'attr' (a module's ``.reduction``), 'kwarg'
    (a function taking ``reduction=``) or None."""
    red = getattr(loss_fn, "reduction", None)
    if isinstance(red, str) and hasattr(loss_fn, "forward"):
        return "attr", red
    try:
        sig = inspect.signature(loss_fn)
    except (TypeError, ValueError):
        return None, None
    p = sig.parameters.get("reduction")
    if p is not None and isinstance(p.default, str):
        return "kwarg", p.default
    return None, None


def _opt(loss_fn: Callable, name: str) -> Any:
    v = getattr(loss_fn, name, None)
    if v is None:
        kw = getattr(loss_fn, "keywords", None)      # functools.partial
        if isinstance(kw, dict):
            v = kw.get(name)
    return v


def _per_sample_losses(loss_fn: Callable, out: Any, targets: Any, n: int) -> Tensor:
    """The vector ``(l₁, …, l_N)`` of single-sample losses (see the module docstring)."""
    how, red = _reduction_info(loss_fn)
    if how is not None and red in ("mean", "sum", "batchmean"):
        weighted = _opt(loss_fn, "weight") is not None
        ign = _opt(loss_fn, "ignore_index")
        if ign is None and how == "kwarg":
            p = inspect.signature(loss_fn).parameters.get("ignore_index")
            ign = p.default if p is not None else None
        ignored = (isinstance(ign, int) and isinstance(targets, Tensor)
                   and targets.dtype.kind in "iu" and bool((targets.array == ign).any()))
        if not (red == "mean" and (weighted or ignored)):
            if how == "attr":
                old = loss_fn.reduction
                loss_fn.reduction = "none"
                try:
                    el = loss_fn(out, targets)
                finally:
                    loss_fn.reduction = old
            else:
                el = loss_fn(out, targets, reduction="none")
            if isinstance(el, Tensor) and el.ndim >= 1 and el.shape[0] == n:
                if el.ndim == 1:
                    return el
                el = el.reshape(n, -1)
                return el.mean(1) if red == "mean" else el.sum(1)
    ls = []
    for i in range(n):
        li = loss_fn(out[i:i + 1], _rows(targets, i))
        if not isinstance(li, Tensor) or li.array.size != 1:
            raise ValueError("per_sample_grads: loss_fn must return a scalar Tensor, got "
                             f"{tuple(li.shape) if isinstance(li, Tensor) else type(li).__name__}")
        ls.append(li.reshape(()))
    from .tensor import stack

    return stack(ls, 0)


def _rows(x: Any, i: int) -> Any:
    if isinstance(x, (tuple, list)):
        return type(x)(_rows(a, i) for a in x)
    if isinstance(x, Tensor):
        return x[i:i + 1]
    return x


# ------------------------------------------------------------------------------ recording
class _Tap:
    """Names one output of one graph node for ``run_backward(capture=…)`` — fixed at
    forward time, so later in-place ops on the tensor do not move it."""

    __slots__ = ("grad_fn", "_out_idx", "shape", "requires_grad")

    def __init__(self, t: Tensor) -> None:
        self.grad_fn, self._out_idx = t.grad_fn, t._out_idx
        self.shape, self.requires_grad = t.shape, True


class _Recorder:
    def __init__(self) -> None:
        self.calls: list = []      # (module, rule, record dict, [tap indices or None])
        self.taps: list = []

    def add(self, mod: Any, rule: Callable, rec: dict, outs: list) -> None:
        idx = []
        for t in outs:
            if isinstance(t, Tensor) and t.requires_grad:
                idx.append(len(self.taps))
                self.taps.append(_Tap(t) if t.grad_fn is not None else t)
            else:
                idx.append(None)
        rec["shapes"] = [tuple(t.shape) for t in outs]
        rec["dtype"] = outs[0].array.dtype
        self.calls.append((mod, rule, rec, idx))


def _simple_hook(rec_: _Recorder, rule: Callable, axis: int = 0) -> Callable:
    def hook(mod: Any, args: tuple, out: Any) -> Any:
        x = args[0] if args else None
        if isinstance(out, Tensor) and isinstance(x, Tensor):
            out = _tap_leaf(out)
            rec_.add(mod, rule, {"x": x.array, "axis": axis}, [out])
            return out
        rec_.add(mod, _unsupported("called with non-Tensor input or output"), {}, [])
        return None
    return hook


def _tap_leaf(t: Tensor) -> Tensor:
    """The parameters are frozen during the pass (their batch gradients are not needed), so
    the output of a layer whose input needs no gradient (the first layer) would not require
    grad: it becomes a leaf that does, and the backward stops there."""
    if t.requires_grad or t.dtype.kind != "f":
        return t
    return Tensor._make(t.array, True)


def _unsupported(why: str) -> Callable:
    def rule(*a: Any) -> dict:
        raise R.Unsupported(why)
    return rule


def _patch_mha(m: Any, rec_: _Recorder) -> Callable:
    orig = type(m)._proj

    def _proj(query: Tensor, key: Tensor, value: Tensor) -> tuple:
        q, k, v = (_tap_leaf(t) for t in orig(m, query, key, value))
        rec_.add(m, R.mha, {"qkv": (query.array, key.array, value.array)}, [q, k, v])
        return q, k, v

    m.__dict__["_proj"] = _proj
    return lambda: m.__dict__.pop("_proj", None)


def _patch_rnn(m: Any, rec_: _Recorder) -> Callable:
    from .ops import rnn as OR
    from .ops.linear import Linear as LinearFn
    from .tensor import stack

    def run(x: Tensor, layer: int, d: int, h: Tensor, c: Any, masks: Any) -> tuple:
        w_ih, w_hh, b_ih, b_hh = m._weights_of(layer, d)
        T, B, n_in = x.shape
        mode = m.mode
        h0 = h.array
        b = m._input_bias(b_ih, b_hh)
        xp = LinearFn.apply(x.reshape(T * B, n_in), w_ih, b).reshape(T, B, w_ih.shape[0])
        xp = _tap_leaf(xp)
        if masks is not None or T == 0:
            rec_.add(m, _unsupported("sequences with lengths / padding"), {}, [])
            return type(m)._run_direction(m, x, layer, d, h, c, masks)
        if mode == "LSTM":
            out, hT, cT = OR.LSTMLayer.apply(xp, h, c, w_hh, reverse=d == 1)
        else:
            steps = OR.unbind_steps(xp)
            outs: list = [None] * T
            order = range(T - 1, -1, -1) if d == 1 else range(T)
            for t in order:
                if mode == "GRU":
                    h = OR.gru_cell(steps[t], h, w_hh, b_hh, fused=m.fused)
                else:
                    a = steps[t] + h @ w_hh.T
                    h = a.tanh() if mode == "RNN_TANH" else a.relu()
                outs[t] = h
            out, hT, cT = stack(outs, 0), h, None
        rec_.add(m, R.rnn, {"x": x.array, "h0": h0, "out": out.array,
                            "xp": xp.array, "sfx": m._suffix(layer, d), "reverse": d == 1}, [xp])
        return out, hT, cT

    m.__dict__["_run_direction"] = run
    # the parameters are frozen: keep the layer off its array path, which has no taps
    m.__dict__["_untracked"] = lambda input, hx: False

    def restore() -> None:
        m.__dict__.pop("_run_direction", None)
        m.__dict__.pop("_untracked", None)
    return restore


_RULES: dict = {}


def _rule_for(m: Any) -> tuple:
    """``(kind, rule)``: kind 'hook' (forward hook + rule), 'patch' (patch function), or
    None for a module type without a rule."""
    if not _RULES:
        from . import nn
        from .nn.modules.linear import NonDynamicallyQuantizableLinear

        for t in (nn.Linear, NonDynamicallyQuantizableLinear):
            _RULES[t] = ("hook", R.linear)
        for t in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
            _RULES[t] = ("hook", R.conv)
        for t in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
            _RULES[t] = ("hook", R.batch_norm)
        for t in (nn.RNN, nn.LSTM, nn.GRU):
            _RULES[t] = ("patch", _patch_rnn)
        _RULES.update({nn.Embedding: ("hook", R.embedding), nn.LayerNorm: ("hook", R.layer_norm),
                       nn.GroupNorm: ("hook", R.group_norm), nn.RMSNorm: ("hook", R.rms_norm),
                       nn.MultiheadAttention: ("patch", _patch_mha)})
    kind, rule = _RULES.get(type(m), (None, None))
    if rule is R.batch_norm:
        R.batch_norm_check(m)
    return kind, rule


# ------------------------------------------------------------------------------ main
def per_sample_grads(model: Any, loss_fn: Callable, inputs: Any, targets: Any = None) -> PerSampleGrads:
    """Per-sample gradients of every parameter that requires grad, in one backward pass.

    Parameters
    ----------
    model : nn.Module
        Samples must not interact (no BatchNorm in training mode); the batch is axis 0 of
        the inputs and of every supported layer's input (seq-first layouts inside
        ``MultiheadAttention`` and ``RNN``/``LSTM``/``GRU`` are handled).
    loss_fn : callable
        ``loss_fn(output, targets)`` → scalar Tensor; see the module docstring for how the
        per-sample losses are obtained from it.
    inputs : Tensor or tuple of Tensor
        Batch of ``N`` samples along axis 0 (a tuple is passed as ``model(*inputs)``).
    targets : Tensor, optional
        Along axis 0 like the inputs.

    Returns
    -------
    PerSampleGrads
        ``{name: array (N, *param.shape)}`` where row ``i`` equals the gradient of
        ``loss_fn(model(inputs[i:i+1]), targets[i:i+1])``; ``.losses`` holds ``lᵢ`` and
        ``.aggregate(f)`` the gradient of any function of the losses.

    Notes
    -----
    What the one-pass rules assume (the torch.func recipe assumes the same): samples do not
    interact (checked for BatchNorm); each parameter is used only inside the forward of the
    module that owns it (a weight also used directly elsewhere, e.g. tied through a
    functional call in a parent's forward, would miss that use); the layers see the batch on
    axis 0 (a supported layer whose input does not have the batch size there falls back to
    the loop). Parameters with ``requires_grad=False`` are left out. Dropout in training
    mode draws one mask for the batch, not the masks single-sample calls would draw.
    """
    from .nn import Module

    if not isinstance(model, Module):
        raise TypeError(f"per_sample_grads: model must be an nn.Module, got {type(model).__name__}")
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if not args or not all(isinstance(a, Tensor) and a.ndim >= 1 for a in args):
        raise TypeError("per_sample_grads: inputs must be a Tensor (or a tuple of Tensors) with "
                        "the batch on axis 0")
    n = args[0].shape[0]
    if any(a.shape[0] != n for a in args) or (isinstance(targets, Tensor) and targets.ndim >= 1
                                               and targets.shape[0] != n):
        raise ValueError("per_sample_grads: inputs and targets must have the same batch size "
                         f"on axis 0, got {[tuple(a.shape) for a in args]} and "
                         f"{tuple(targets.shape) if isinstance(targets, Tensor) else targets}")
    names = {id(p): nm for nm, p in model.named_parameters() if p.requires_grad}
    rec_ = _Recorder()
    handles: list = []
    owner: dict = {}            # id(param) -> module whose rule covers it
    loop_params: dict = {}      # id(param) -> (module type name, why)
    seq_first: set = set()
    for m in model.modules():
        if type(m).__name__ == "MultiheadAttention":
            seq_first.add(id(m.out_proj))
    frozen: list = []
    try:
        for m in model.modules():
            own = [p for p in m._parameters.values() if p is not None and id(p) in names]
            if not own:
                continue
            kind, rule = _rule_for(m)
            if kind == "hook":
                ax = 1 if id(m) in seq_first else 0
                handles.append(m.register_forward_hook(_simple_hook(rec_, rule, ax)).remove)
            elif kind == "patch":
                handles.append(rule(m, rec_))
            for p in own:
                if kind is None:
                    loop_params[id(p)] = (type(m).__name__, "no per-sample rule")
                else:
                    owner.setdefault(id(p), m)
        # the batched pass needs no parameter gradient of the covered layers: freeze them,
        # so that the backward computes only the layers' output gradients
        for m in model.modules():
            for p in m._parameters.values():
                if p is not None and id(p) in owner and id(p) not in loop_params and p.requires_grad:
                    p.requires_grad = False
                    frozen.append(p)
        with enable_grad():
            out = model(*args)
            if not isinstance(out, Tensor):
                raise TypeError("per_sample_grads: model must return a Tensor, got "
                                f"{type(out).__name__}")
            losses = _per_sample_losses(loss_fn, out, targets, n)
    finally:
        for h in handles:
            h()
        for p in frozen:
            p.requires_grad = True
    result = PerSampleGrads()
    result.losses = losses.array.copy()
    if losses.requires_grad and rec_.taps:
        grads = engine.run_backward([losses], [np.ones(losses.shape, losses.array.dtype)],
                                    capture=rec_.taps, accumulate=False)
    else:
        grads = []
    acc: dict = {}
    for m, rule, rec, idx in rec_.calls:
        if not any(id(p) in names for p in m._parameters.values() if p is not None):
            continue
        gs = [np.zeros(s, rec["dtype"]) if i is None or grads[i] is None else grads[i]
              for i, s in zip(idx, rec["shapes"])]
        try:
            res = rule(m, rec, gs, n)
        except R.Unsupported as e:
            for p in m._parameters.values():
                if p is not None and id(p) in names:
                    loop_params[id(p)] = (type(m).__name__, str(e))
            continue
        for local, g in res.items():
            p = m._parameters.get(local)
            if p is None or id(p) not in names:
                continue
            acc[id(p)] = g if id(p) not in acc else acc[id(p)] + g
    for pid, nm in names.items():
        if pid in loop_params:
            continue
        if pid in acc:
            result[nm] = acc[pid]
        elif pid in owner:       # the module ran but no gradient reached it (or never ran)
            p = owner[pid]._parameters
            shape = next(q.shape for q in p.values() if q is not None and id(q) == pid)
            result[nm] = np.zeros((n,) + tuple(shape), dtype=losses.array.dtype)
    if loop_params:
        _loop(model, loss_fn, args, targets, n, names, loop_params, result)
    return _ordered(result, names)


def _ordered(result: PerSampleGrads, names: dict) -> PerSampleGrads:
    out = PerSampleGrads((nm, result[nm]) for nm in names.values() if nm in result)
    out.losses = result.losses
    return out


def _loop(model: Any, loss_fn: Callable, args: tuple, targets: Any, n: int, names: dict,
          loop_params: dict, result: PerSampleGrads) -> None:
    """The fallback: one forward and backward per sample for the parameters no rule covers."""
    from .autograd.functional import grad as _grad

    for tname, why in sorted(set(loop_params.values())):
        if tname not in _WARNED:
            _WARNED.add(tname)
            warnings.warn(f"per_sample_grads: {tname} ({why}): its parameters' per-sample "
                          "gradients are computed with a loop of single-sample backward passes "
                          "(correct, slower)", stacklevel=3)
    params = {pid: p for p in model.parameters() if (pid := id(p)) in loop_params}
    order = list(params)
    rows: dict = {pid: [] for pid in order}
    for i in range(n):
        with enable_grad():
            li = loss_fn(model(*(a[i:i + 1] for a in args)), _rows(targets, i))
        gs = _grad(li, [params[pid] for pid in order], allow_unused=True, materialize_grads=True)
        for pid, g in zip(order, gs):
            rows[pid].append(g.array)
    with no_grad():
        for pid in order:
            result[names[pid]] = np.stack(rows[pid], 0)
