"""The array loops behind :class:`~glassgrad.ops.rnn.LSTMLayer` (and the compiled ones
behind :class:`~glassgrad.ops.rnn.GRULayer`): forward over all time steps and
backpropagation through time, on NumPy arrays (no Tensors, no graph).

The same per-step formulas (``docs/derivations/rnn.md``) in these forms, chosen by size
and purpose:

* few sequences (input projections up to 1 MiB): :func:`_lstm_small_forward`, a Python
  loop on pre-scaled operands, or for one or two float32 sequences one compiled call;
* larger inputs: :func:`forward_large` / :func:`backward_loop`. The batch rows are
  independent sequences, so the loop runs as one loop per block of rows, one block per
  core (``ops/_parallel.py``), each block either as one compiled call that calls NumPy's
  BLAS itself for the per-step GEMM (float32 with Numba: no Python and no GIL between
  steps) or as a Python loop of NumPy calls (:func:`_lstm_large_forward`,
  :func:`_lstm_bptt`: the readable reference, and the path without Numba);
* inference from the layer's input rather than its projections
  (:func:`forward_projecting`, float32 with Numba): the compiled row loop makes each
  step's projections itself.

:func:`_lstm_gates_` is the gate arithmetic of one step, shared with the cell op.
:func:`gru_forward_rows` / :func:`gru_backward_rows` run a GRU layer the same way in
blocks, when the compiled kernels apply (float32); otherwise ``GRULayer`` keeps its own
NumPy loop.
"""

from __future__ import annotations

import weakref
from typing import Any

from ..backend import np, xp_of
from . import _blas
from . import _parallel as P
from . import kernels as K
from ._util import cached_constant


def _sigmoid_(a: Any) -> Any:
    """In-place logistic function on a fresh array: ``σ(a) = 1 / (1 + e^(−a))``.

    Through ``exp`` rather than ``½·tanh(a/2) + ½``: NumPy's float32 ``exp`` is about 2.5×
    faster than its ``tanh`` (measured 88 vs 241 µs on 128×512), and the gates are most of
    an LSTM step's arithmetic. For ``a ≪ 0`` ``e^(−a)`` overflows to ``inf`` and the result
    is the correct limit 0 (the overflow warning is silenced).
    """
    xp = xp_of(a)
    xp.negative(a, out=a)
    with np.errstate(over="ignore"):
        xp.exp(a, out=a)
    a += 1
    xp.divide(1.0, a, out=a)  # (bit-identical to reciprocal, and 1.7x faster here: 10.5 vs 18 µs)
    return a


def _lstm_gates_(a: Any, c: Any, H: int, c_new: Any = None, tc: Any = None,
                 h_new: Any = None) -> tuple:
    """The gate arithmetic of one LSTM step on the pre-activations ``a = xproj_t + h·W_hhᵀ``
    (B, 4H), in place: ``a`` becomes ``[i, f, g, o]``. Returns ``(c', tanh c', h')``,
    written into ``c_new``, ``tc``, ``h_new`` when given (arrays only)."""
    xp = xp_of(a)
    # tanh(x) = 2σ(2x) − 1: one σ pass over all four gates, then fix up the g slice
    a[:, 2 * H:3 * H] *= 2
    _sigmoid_(a)
    g = a[:, 2 * H:3 * H]
    g *= 2
    g -= 1
    c_new = xp.multiply(a[:, H:2 * H], c, out=c_new)    # c' = f ⊙ c + i ⊙ g
    c_new += a[:, :H] * g
    tc = xp.tanh(c_new, out=tc)
    return c_new, tc, xp.multiply(a[:, 3 * H:], tc, out=h_new)   # h' = o ⊙ tanh(c')


class _Ring:
    """``n`` arrays standing in for a ``(T, ...)`` array of which only the last ``n`` steps
    are alive: ``ring[k]`` is buffer ``k mod n`` (LSTMLayer's forward without a backward)."""

    __slots__ = ("bufs",)

    def __init__(self, xp: Any, n: int, shape: tuple, dtype: Any) -> None:
        self.bufs = [xp.empty(shape, dtype=dtype) for _ in range(n)]

    def __getitem__(self, k: int) -> Any:
        return self.bufs[k % len(self.bufs)]

    def __setitem__(self, k: int, value: Any) -> None:
        self.bufs[k % len(self.bufs)][...] = value


def _compiled(*arrays: Any) -> tuple:
    """``(kernels, sgemm)`` for these arrays: the compiled kernels when they apply (else
    None), and with them, for float32, NumPy's ``cblas_sgemm`` (else None): the pair that
    runs a whole loop over a block of rows as one call."""
    kern = K.rnn(*arrays)
    sgemm = _blas.cblas_sgemm() if kern is not None and arrays[0].dtype == np.float32 else None
    return kern, sgemm


_NO_BIAS = np.empty(0, np.float32)   # the compiled steps' "no bias" (a float32 array, typed once)
_NO_X = np.empty((0, 0, 0), np.float32)   # lstm_fwd_rows' "projections given": no input,
_NO_W = np.empty((0, 0), np.float32)      # no W_ihᵀ


def _one_step(make: Any, B: int, H: int) -> tuple:
    """``(acts, cs, tcs)`` holding one step (two cell states) instead of every step, for a
    forward without a backward: ``make(k, (rows, width))`` builds each (an array of k
    steps, or a :class:`_Ring`)."""
    return tuple(make(k, (B, m)) for k, m in ((1, 4 * H), (2, H), (1, H)))


def _joined(xp: Any, parts: list) -> Any:
    """The blocks' row results as one array (a copy, also of a single block's view)."""
    return parts[0].copy() if len(parts) == 1 else xp.concatenate(parts)


def forward_large(xproj: Any, h0: Any, c0: Any, w_hh: Any, out: Any, keep: bool,
                  reverse: bool, bias: Any = None) -> tuple:
    """LSTMLayer's forward for large inputs: fills ``out`` (T, B, H) and returns ``(acts,
    cs, tcs, c_T)`` — the gate activations, the cell states (c_0 first) and ``tanh c'``
    of every step when ``keep`` (for the backward), else one step's scratch — running the
    rows in blocks on several cores where that pays (module docstring). ``bias`` (4H,), if
    given, is added to the projections: inside the compiled loop step by step (no second
    pass over the ``(T, B, 4H)`` projections), else as ``xproj + bias`` beforehand."""
    xp = xp_of(xproj)
    T, B, G = xproj.shape
    H = G // 4
    dt = xproj.dtype
    steps = range(T - 1, -1, -1) if reverse else range(T)
    acts = cs = tcs = None
    if keep:
        acts = xp.empty((T, B, 4 * H), dtype=dt)   # i, f, g, o of every step
        cs = xp.empty((T + 1, B, H), dtype=dt)      # cs[k]: c before the k-th step run
        tcs = xp.empty((T, B, H), dtype=dt)         # tanh(c') of every step
    # float32 with the kernels: each block's whole loop in one compiled call, which
    # calls NumPy's BLAS itself (no Python and no GIL between steps)
    kern, sgemm = _compiled(xproj, h0, c0, w_hh)
    if bias is not None and sgemm is None:   # (LSTMLayer checked its dtype)
        xproj, bias = xproj + bias, None
    w_t = xp.ascontiguousarray(w_hh.T)
    if sgemm is not None:
        bias = _NO_BIAS if bias is None else xp.ascontiguousarray(bias)
        if not keep:   # inference: one step's scratch (T× less memory)
            acts, cs, tcs = _one_step(lambda k, shape: xp.empty((k,) + shape, dt), B, H)
        cs[0] = c0
        xs, h0c = xp.ascontiguousarray(xproj), xp.ascontiguousarray(h0)

        def rows(r: slice) -> Any:   # the sequences of rows r, all steps
            kern.lstm_fwd_rows(sgemm, xs, _NO_X, _NO_W, bias, w_t, h0c, cs, tcs, out, acts,
                               reverse, *r.indices(B)[:2])
            return cs[T % cs.shape[0], r]
    else:
        def rows(r: slice) -> Any:
            if keep:
                a, c, tc = acts[:, r], cs[:, r], tcs[:, r]
            else:   # inference: one step's scratch, reused (T× less memory)
                n = len(range(B)[r])
                a, c, tc = _one_step(lambda k, shape: _Ring(xp, k, shape, dt), n, H)
            c[0] = c0[r]
            _lstm_large_forward(xproj[:, r], w_t, h0[r], c, tc, out[:, r], a, steps, kern)
            return c[T]
    # the last c of each block of rows (blocks on several cores: ops/_parallel.py), in order
    c_ends = P.run_rows(rows, B, P.MIN_ROWS if sgemm else P.MIN_ROWS_PY, type(xproj) is np.ndarray)
    return acts, cs, tcs, _joined(xp, c_ends)


def forward_projecting(x: Any, w_ih: Any, h0: Any, c0: Any, w_hh: Any, bias: Any,
                       reverse: bool) -> tuple | None:
    """An LSTM layer's forward without a backward (inference) from its input ``x (T, B, F)``
    rather than its projections: ``(out, c_T)``, the values of ``Linear`` (without bias)
    then :func:`forward_large` with ``bias`` to float32 rounding, or None where that path is
    not the compiled one (not float32, no kernels or no ``cblas_sgemm``; the caller then
    runs those two). Each block of rows makes its step's projections ``x_t·W_ihᵀ`` inside
    its loop, into the step's pre-activations, to which the GEMM ``h·W_hhᵀ`` then adds
    (``lstm_fwd_rows``), instead of reading them from a ``(T, B, 4H)`` array written
    beforehand: at T 28, batch 256, 4H 512 that array is 14.7 MB, written once and read
    once, and the GEMM with 28 inputs that makes it is bound by that writing. The bias is
    added in the step; without one, zeros are (``v + 0`` is ``v`` but for the sign of a
    zero, and ``e^(±0) = 1``: the same results)."""
    arrays = (x, w_ih, h0, c0, w_hh) + (() if bias is None else (bias,))
    kern, sgemm = _compiled(*arrays)
    if sgemm is None:
        return None
    T, B, _ = x.shape
    H = w_hh.shape[1]
    dt = x.dtype
    F, it = x.shape[2], x.itemsize
    if x.strides[2] != it or x.strides[1] < F * it or x.strides[0] < 0:   # (rows the BLAS
        x = np.ascontiguousarray(x)               # reads with a positive leading dimension)
    row = (np.zeros(4 * H, dt) if bias is None else bias).reshape(1, 1, 4 * H)
    row = np.ascontiguousarray(row)
    acts, cs, tcs = _one_step(lambda k, shape: np.empty((k,) + shape, dt), B, H)
    out = np.empty((T, B, H), dt)
    cs[0] = c0
    wi_t, w_t, h0c = (np.ascontiguousarray(a) for a in (w_ih.T, w_hh.T, h0))

    def rows(r: slice) -> Any:
        kern.lstm_fwd_rows(sgemm, row, x, wi_t, _NO_BIAS, w_t, h0c, cs, tcs, out, acts,
                           reverse, *r.indices(B)[:2])
        return cs[T % 2, r]

    c_ends = P.run_rows(rows, B, P.MIN_ROWS)
    return out, _joined(np, c_ends)


def backward_loop(acts: Any, tcs: Any, cs: Any, dout: Any, dhT: Any, dcT: Any, da_all: Any,
                  w_hh: Any, reverse: bool, need_dh0: bool) -> tuple:
    """LSTMLayer's BPTT over the saved activations: every step's ``δa_t`` into ``da_all``;
    returns ``(∂L/∂h_0, ∂L/∂c_0)``, in blocks of rows on several cores where that pays."""
    xp = xp_of(acts)
    T, B, G = acts.shape
    H = G // 4
    steps = range(T - 1, -1, -1) if reverse else range(T)
    kern, sgemm = _compiled(acts, dout, dhT, dcT)
    if sgemm is not None:   # each block's whole loop in one compiled call (as in forward)
        w_c = xp.ascontiguousarray(w_hh)
        dh = xp.array(dhT, dtype=acts.dtype, order="C")   # written over, step by step
        dc_in = xp.ascontiguousarray(dcT)
        dc_bufs = xp.empty((2, B, H), acts.dtype)
        dout_c = xp.ascontiguousarray(dout)

        def rows(r: slice) -> None:
            kern.lstm_bwd_rows(sgemm, dout_c, dh, dc_in, acts, tcs, cs, w_c, da_all, reverse,
                               need_dh0, acts.dtype.type(1), dc_bufs, *r.indices(B)[:2])

        P.run_rows(rows, B, P.MIN_ROWS)
        return dh, dc_bufs[0]

    def part(r: slice) -> tuple:   # BPTT over the sequences of rows r
        return _lstm_bptt(acts[:, r], tcs[:, r], cs[:, r], dout[:, r], dhT[r], dcT[r],
                          da_all[:, r], w_hh, steps, need_dh0, kern)

    parts = P.run_rows(part, B, P.MIN_ROWS_PY, type(acts) is np.ndarray)
    if len(parts) == 1:
        return parts[0]
    return tuple(xp.concatenate([p[j] for p in parts]) for j in (0, 1))


def gru_forward_rows(xproj: Any, h0: Any, w_t: Any, b_hh: Any, hps: Any, gates: Any, out: Any,
                     reverse: bool) -> bool:
    """GRULayer's forward as one compiled call per block of rows (``gru_fwd_rows``), when
    the arrays are float32 NumPy arrays and the kernels and NumPy's ``cblas_sgemm`` are at
    hand: fills ``hps``, ``gates``, ``out`` and returns True; else False (the caller runs
    its NumPy loop)."""
    kern, sgemm = _compiled(xproj, h0, w_t, *((b_hh,) if b_hh is not None else ()))
    if sgemm is None:
        return False
    T, B, G = xproj.shape
    xs, h0c = np.ascontiguousarray(xproj), np.ascontiguousarray(h0)
    b = np.zeros(G, np.float32) if b_hh is None else np.ascontiguousarray(b_hh)

    def rows(r: slice) -> None:
        kern.gru_fwd_rows(sgemm, xs, w_t, b, h0c, hps, gates, out, reverse, *r.indices(B)[:2])

    P.run_rows(rows, B)
    return True


def gru_backward_rows(dout: Any, dhT: Any, h_prev: Any, gates: Any, hps: Any, w_hh: Any,
                      dx_all: Any, dhp_all: Any, reverse: bool, need_dh0: bool) -> Any:
    """GRULayer's BPTT as one compiled call per block of rows (``gru_bwd_rows``) where
    :func:`gru_forward_rows` applies: fills ``dx_all``, ``dhp_all`` and returns ∂L/∂h_0
    (the last δh unless ``need_dh0``); else None."""
    kern, sgemm = _compiled(hps, dout, dhT, h_prev)
    if sgemm is None:
        return None
    B, H = dhT.shape
    dh = np.array(dhT, dtype=np.float32, order="C")   # written over, step by step
    dh_direct = np.empty((B, H), np.float32)
    dout_c, h_c, w_c = (np.ascontiguousarray(a) for a in (dout, h_prev, w_hh))

    def rows(r: slice) -> None:
        kern.gru_bwd_rows(sgemm, dout_c, dh, h_c, gates, hps, w_c, dx_all, dhp_all, reverse,
                          need_dh0, np.float32(1), dh_direct, *r.indices(B)[:2])

    P.run_rows(rows, B)
    return dh


def _lstm_bptt(acts: Any, tcs: Any, cs: Any, dout: Any, dh: Any, dc: Any, da_all: Any,
               w_hh: Any, steps: range, need_dh0: bool, kern: Any) -> tuple:
    """LSTMLayer's BPTT loop, newest step first, over the sequences these ``(T, B, ...)``
    arrays hold (all of the batch, or a block of its rows): writes every step's
    ``δa_t`` into ``da_all``; returns ``(∂L/∂h_0, ∂L/∂c_0)`` (``∂L/∂h_0`` is not computed,
    and is the last ``δh``, unless ``need_dh0``)."""
    xp = xp_of(acts)
    T, B, G = acts.shape
    H = G // 4
    if kern is not None:   # the loop body below as one compiled pass per step
        one = acts.dtype.type(1)
        bufs = [xp.empty((B, H), dtype=acts.dtype) for _ in range(2)]
        for k in range(T - 1, -1, -1):
            t = steps[k]
            da = da_all[t]
            dc_next = bufs[k % 2]
            kern.lstm_bwd_step(dout[t], dh, dc, acts[t], tcs[t], cs[k], one, da, dc_next, 0, B)
            dc = dc_next
            if k or need_dh0:
                dh = da @ w_hh
    else:
        # (B, H) scratch reused by every step: the pointwise math of _lstm_gate_grads
        # written with out= (same operations in the same order, so the same rounding),
        # straight into the slices of da_all
        dcs, tmp, dh_sum = (xp.empty((B, H), dtype=acts.dtype) for _ in range(3))
        for k in range(T - 1, -1, -1):
            t = steps[k]
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = xp.add(dout[t], dh, out=dh_sum)    # from the output and from step t+1
            da = da_all[t]
            tc = tcs[t]
            xp.multiply(dh, o, out=dcs)             # δc* = δc + δh ⊙ o ⊙ (1 − tanh²c')
            xp.multiply(tc, tc, out=tmp)
            xp.subtract(1, tmp, out=tmp)
            dcs *= tmp
            dcs += dc
            for sl, x2 in ((slice(0, H), g), (slice(H, 2 * H), cs[k])):
                d = xp.multiply(dcs, x2, out=da[:, sl])   # δi = δc* ⊙ g, δf = δc* ⊙ c, ...
                gate = a[:, sl]
                xp.subtract(1, gate, out=tmp)             # ... through σ' = i(1−i), f(1−f)
                tmp *= gate
                d *= tmp
            d = xp.multiply(dcs, i, out=da[:, 2 * H:3 * H])   # δg = δc* ⊙ i, through 1 − g²
            xp.multiply(g, g, out=tmp)
            xp.subtract(1, tmp, out=tmp)
            d *= tmp
            d = xp.multiply(dh, tc, out=da[:, 3 * H:])        # δo = δh ⊙ tanh(c'), through σ'
            xp.subtract(1, o, out=tmp)
            tmp *= o
            d *= tmp
            dc = dcs * f                            # ∂L/∂c = δc* ⊙ f
            if k or need_dh0:
                dh = da @ w_hh                      # ∂L/∂h_{t−1}
    return dh, dc


def _lstm_large_forward(xproj: Any, w_t: Any, h: Any, cs: Any, tcs: Any, out: Any, acts: Any,
                        steps: range, kern: Any) -> Any:
    """LSTMLayer's forward loop for large inputs: per step one GEMM ``h·W_hhᵀ`` and the gate
    arithmetic (:func:`_lstm_gates_`, or the same arithmetic with its products and sums
    fused when ``kern``, the compiled kernels, is given; for float32 all of it in one
    kernel call, ``lstm_fwd_step``). ``w_t`` is ``W_hhᵀ`` copied into
    C order (OpenBLAS runs the T small GEMMs about 15 % faster on a contiguous operand than
    on the transposed view: 180 vs 213 µs for 128×128·128×512, 2 threads). Returns the
    last h."""
    xp = xp_of(h)
    H = w_t.shape[0]
    one = h.dtype.type(1)
    fused = kern is not None and h.dtype == np.float32
    for k, t in enumerate(steps):
        a = acts[t]
        xp.matmul(h, w_t, out=a)            # the only GEMM of the step
        if fused:   # all of the step's gate arithmetic in one call (to float32 rounding)
            h = out[t]
            kern.lstm_fwd_step(a, xproj[t], _NO_BIAS, cs[k], cs[k + 1], tcs[t], h, 0, h.shape[0])
            continue
        if kern is None:
            a += xproj[t]
            h = _lstm_gates_(a, cs[k], H, cs[k + 1], tcs[t], out[t])[2]
            continue
        # the same arithmetic with the products and sums fused (ops.kernels)
        kern.lstm_fwd_pre(a, xproj[t], H)       # a = −(a + x), g block doubled
        with np.errstate(over="ignore"):
            xp.exp(a, out=a)
        a += 1
        xp.divide(1.0, a, out=a)                # σ of the four blocks
        kern.lstm_fwd_cell(a, cs[k], one, cs[k + 1])   # g = 2σ − 1, c' = f⊙c + i⊙g
        xp.tanh(cs[k + 1], out=tcs[t])
        h = xp.multiply(a[:, 3 * H:], tcs[t], out=out[t])
    return h


# W_hh's scaled, transposed copy for the one-call loop, kept per weight array between
# calls: id -> (weak reference, a snapshot of the weight, the copy). The snapshot is
# compared in full on every call (9 µs for 128×512, against 53 µs for the transposing
# copy), so a weight changed in place in any way — an optimizer step, a NumPy write —
# gets a fresh copy; a NaN in the weight never compares equal and is recomputed each call.
_WT_CACHE: dict[int, tuple] = {}
_WT_CACHE_MAX = 16


def _scaled_wt(w_hh: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(W_hh·diag(scale))ᵀ`` C-ordered, from :data:`_WT_CACHE` when ``w_hh`` still holds
    the values it was made from."""
    key = id(w_hh)
    hit = _WT_CACHE.get(key)
    if (hit is not None and hit[0]() is w_hh and hit[1].dtype == w_hh.dtype
            and hit[1].shape == w_hh.shape and np.array_equal(hit[1], w_hh)):
        return hit[2]
    w_t = np.multiply(w_hh.T, scale, order="C")
    if len(_WT_CACHE) >= _WT_CACHE_MAX:
        _WT_CACHE.clear()
    try:
        ref = weakref.ref(w_hh, lambda _r, k=key: _WT_CACHE.pop(k, None))
    except TypeError:   # (an array type without weak references: no caching)
        return w_t
    _WT_CACHE[key] = (ref, w_hh.copy(), w_t)
    return w_t


# up to this many float32 sequences the small-input LSTM loop runs as one compiled call
# (ops.kernels: its own product and exponential, the same to float32 rounding); above it
# OpenBLAS's per-step GEMM wins. LSTMLayer.forward, T 28, H 128, against the NumPy-call loop
# (with its one-pass kernel), alternating in one process: 1 sequence 185 vs 286 µs,
# 2: 276 vs 367, 4: 406 vs 435, 8: 868 vs 674
_SEQ_KERNEL_MAX_B = 2


_SCALES: dict = {}


def _gate_scale(xp: Any, H: int, dtype: Any) -> Any:
    """``[−1]·H, [−1]·H, [−2]·H, [−1]·H``: the factors of the pre-scaled gate operands."""
    scale = xp.full(4 * H, -1, dtype=dtype)
    scale[2 * H:3 * H] = -2
    return scale


def _lstm_small_forward(xproj: Any, w_hh: Any, h: Any, cs: Any, tcs: Any, out: Any, acts: Any,
                        steps: range) -> Any:
    """LSTMLayer's forward loop for small inputs (a few sequences, as in inference), where
    the ~15 NumPy calls per step cost more than their arithmetic: the gate
    pre-activations are computed already scaled by −1 (i, f, o) and −2 (g), so that
    σ(a) = 1/(1 + e^(−a)) and tanh(a) = 2σ(2a) − 1 need no per-step negation and
    doubling, and the overflow guard is entered once. Scaling by a power of two is exact
    (every product and partial sum of the GEMM scales with it): the results are
    bit-identical to :func:`_lstm_gates_` on unscaled pre-activations. Returns the last h.
    """
    xp = xp_of(xproj)
    H = w_hh.shape[1]
    scale = (cached_constant(_SCALES, (H, xproj.dtype), _gate_scale, np, H, xproj.dtype)
             if xp is np else _gate_scale(xp, H, xproj.dtype))
    xs = xproj * scale
    kern = K.rnn(xproj, h, w_hh)   # (any size: here the kernel saves calls, not passes)
    if kern is not None and xproj.dtype == np.float32 and xproj.shape[1] <= _SEQ_KERNEL_MAX_B:
        # a few float32 sequences: the whole loop in one compiled call (to float32 rounding
        # the same: see _numba_kernels.lstm_seq_small)
        kern.lstm_seq_small(xs, _scaled_wt(w_hh, scale), xp.ascontiguousarray(h), cs, tcs, out,
                            acts, steps.step < 0)
        return out[steps[-1]]
    w_t = xp.multiply(w_hh.T, scale, order="C")    # C-ordered, scaled copy of W_hhᵀ
    one = xproj.dtype.type(1)
    with np.errstate(over="ignore"):                # e^(−a) overflows to inf for a ≪ 0: σ = 0
        for k, t in enumerate(steps):
            a = acts[t]
            xp.matmul(h, w_t, out=a)
            a += xs[t]
            xp.exp(a, out=a)
            if kern is not None:   # the six calls below as one (same arithmetic, same order)
                kern.lstm_small_cell(a, cs[k], one, cs[k + 1])
                h = xp.multiply(a[:, 3 * H:], xp.tanh(cs[k + 1], out=tcs[t]), out=out[t])
                continue
            a += 1
            xp.divide(1.0, a, out=a)                # [i, f, σ(2·a_g), o]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            g *= 2
            g -= 1
            c_new = xp.multiply(f, cs[k], out=cs[k + 1])      # c' = f ⊙ c + i ⊙ g
            c_new += i * g
            h = xp.multiply(o, xp.tanh(c_new, out=tcs[t]), out=out[t])   # h' = o ⊙ tanh c'
    return h
