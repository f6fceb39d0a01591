"""The Numba kernels behind :mod:`glassgrad.ops.kernels` (imported only when Numba is).

Each is one pass over its arrays, on the calling thread (see :mod:`.kernels` for why
not ``parallel=True``). They do the NumPy reference's arithmetic in the same order, element by element (see
the NumPy code each replaces, named in each docstring).

Derivations: ``docs/derivations/conv.md#backward``, ``docs/derivations/conv.md#pooling``.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

_JIT = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_JIT)
def relu_fwd(x, out):  # pragma: no cover - compiled
    """``out = np.maximum(x, 0)`` on flat arrays (NaN passes, −0.0 becomes 0, as there)."""
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v if (v > 0 or v != v) else 0


@njit(**_JIT)
def relu_bwd(g, z, out):  # pragma: no cover - compiled
    """``out = g ⊙ [¬(z ≤ 0)]`` on flat arrays: the product with 0 or 1, as the NumPy
    path (so ±inf·0 = NaN and −g·0 = −0.0 there too)."""
    for i in range(g.shape[0]):
        out[i] = g[i] * (0.0 if z[i] <= 0 else 1.0)


@njit(**_JIT)
def maxpool2d_fwd(x, kh, kw, y, arg):  # pragma: no cover - compiled
    """Tiling max pool on ``(A, H, W, B)`` views: ``y`` the window maxima, ``arg`` the
    offset of each window's first maximum, NaN counting as the maximum (the NumPy path:
    a running ``np.maximum`` over the offsets, then the first offset equal to it)."""
    A, OH, OW, B = y.shape
    for a in range(A):
        for i in range(OH):
            for j in range(OW):
                for b in range(B):
                    y[a, i, j, b] = x[a, i * kh, j * kw, b]
                    arg[a, i, j, b] = 0
                for p in range(kh):
                    for q in range(kw):
                        if p == 0 and q == 0:
                            continue
                        off = p * kw + q
                        for b in range(B):
                            v = x[a, i * kh + p, j * kw + q, b]
                            cur = y[a, i, j, b]
                            if v > cur or (v != v and cur == cur):
                                y[a, i, j, b] = v
                                arg[a, i, j, b] = off


@njit(**_JIT)
def maxpool2d_bwd(g, arg, kh, kw, dx):  # pragma: no cover - compiled
    """``dx`` = ``g`` at each window's arg-max, 0 elsewhere (rows and columns no window
    covers included)."""
    A, OH, OW, B = g.shape
    H, W = dx.shape[1], dx.shape[2]
    for a in range(A):
        for i in range(OH):
            for j in range(OW):
                for p in range(kh):
                    for q in range(kw):
                        off = p * kw + q
                        for b in range(B):
                            dx[a, i * kh + p, j * kw + q, b] = g[a, i, j, b] if arg[a, i, j, b] == off else 0
        for h in range(OH * kh, H):
            for w in range(W):
                for b in range(B):
                    dx[a, h, w, b] = 0
        for h in range(OH * kh):
            for w in range(OW * kw, W):
                for b in range(B):
                    dx[a, h, w, b] = 0


@njit(**_JIT)
def im2col2d(x, sh, sw, ph, pw, dh, dw, cols):  # pragma: no cover - compiled
    """``cols[c, p, q, i, j, n] = x[c, i·sh + p·dh − ph, j·sw + q·dw − pw, n]`` (0 in the
    padding) for ``x: (C, H, W, N)`` (the padded copy and strided reshape of
    ``conv._im2col`` in one pass)."""
    C, H, W, N = x.shape
    _, kh, kw, OH, OW, _ = cols.shape
    for r in range(C * kh):
        c = r // kh
        p = r % kh
        for q in range(kw):
            for i in range(OH):
                hi = i * sh + p * dh - ph
                for j in range(OW):
                    wj = j * sw + q * dw - pw
                    if hi < 0 or hi >= H or wj < 0 or wj >= W:
                        for n in range(N):
                            cols[c, p, q, i, j, n] = 0
                    else:
                        for n in range(N):
                            cols[c, p, q, i, j, n] = x[c, hi, wj, n]


@njit(fastmath={"contract"}, **_JIT)
def conv2d_direct(xpad, w, sh, sw, dh, dw, y, i0, i1):  # pragma: no cover - compiled
    """``y[o, i, j, n] = Σ_(c, p, q) w[o, c, p, q] · xpad[c, i·sh + p·dh, j·sw + q·dw, n]``
    for the output rows ``i0:i1``: a convolution (groups 1) by direct loops over the
    zero-padded, batch-last input ``xpad: (C, Hp, Wp, N)``, ``y: (O, OH, OW, N)``. The
    sum runs over ``(c, p, q)`` in im2col's row order, one fused multiply-add per term
    (``contract``; where the processor has them) — the order and the roundings of a BLAS
    kernel summing the GEMM ``W @ cols`` from zero, so the results agree with that path to
    float32 rounding (bit for bit with OpenBLAS, as measured; tests/ops/test_conv.py)."""
    C = xpad.shape[0]
    N = xpad.shape[3]
    O, _, kh, kw = w.shape
    OW = y.shape[2]
    for o in range(O):
        for i in range(i0, i1):
            for j in range(OW):
                acc = y[o, i, j]
                for n in range(N):
                    acc[n] = 0.0
                for c in range(C):
                    for p in range(kh):
                        row = xpad[c, i * sh + p * dh]
                        for q in range(kw):
                            wv = w[o, c, p, q]
                            src = row[j * sw + q * dw]
                            for n in range(N):
                                acc[n] += wv * src[n]


@njit(**_JIT)
def col2im2d(dcols, sh, sw, ph, pw, dh, dw, dx):  # pragma: no cover - compiled
    """``dx[c, h, w, n] = Σ_(p, q) dcols[c, p, q, i, j, n]`` over the column entries copied
    from ``(h, w)``, added offset by offset in the order of ``conv._conv_igrad``'s loop."""
    C, kh, kw, OH, OW, N = dcols.shape
    H, W = dx.shape[1], dx.shape[2]
    for c in range(C):
        for h in range(H):
            for w in range(W):
                for n in range(N):
                    dx[c, h, w, n] = 0
        for p in range(kh):
            for q in range(kw):
                for i in range(OH):
                    hi = i * sh + p * dh - ph
                    if hi < 0 or hi >= H:
                        continue
                    for j in range(OW):
                        wj = j * sw + q * dw - pw
                        if wj < 0 or wj >= W:
                            continue
                        for n in range(N):
                            dx[c, hi, wj, n] += dcols[c, p, q, i, j, n]


@njit(**_JIT)
def lstm_fwd_pre(a, x, H):  # pragma: no cover - compiled
    """LSTM step, before ``exp``: ``a ← −(a + x)``, the g block doubled (``tanh(v) =
    2σ(2v) − 1``) — ``a += x; a[:, 2H:3H] *= 2; negative(a)`` of ``_rnn_loops._lstm_gates_``.
    (Loops over one row's 1-D views: LLVM vectorises those, not the 2-D indexing.)"""
    for b in range(a.shape[0]):
        ab, xb = a[b], x[b]
        for j in range(ab.shape[0]):
            ab[j] = -(ab[j] + xb[j])
        g = ab[2 * H:3 * H]
        for j in range(H):
            g[j] = g[j] + g[j]


@njit(**_JIT)
def lstm_fwd_cell(a, c, one, c_new):  # pragma: no cover - compiled
    """LSTM step, after ``a = σ(a)``: the g block as ``2σ − 1`` in place, and
    ``c' = f ⊙ c + i ⊙ g`` — the rest of ``_rnn_loops._lstm_gates_`` before ``tanh(c')``. (The
    σ itself stays NumPy's: its vectorised division is ~3x faster than this loop's.)"""
    H = c.shape[1]
    for b in range(a.shape[0]):
        ab, cb, nb = a[b], c[b], c_new[b]
        ai, af, ag = ab[:H], ab[H:2 * H], ab[2 * H:3 * H]
        for j in range(H):
            g = (ag[j] + ag[j]) - one
            ag[j] = g
            nb[j] = af[j] * cb[j] + ai[j] * g


@njit(**_JIT)
def lstm_bwd_step(dout_t, dh, dc, a, tc, c, one, da, dc_out, b0, b1):  # pragma: no cover - compiled
    """One BPTT step of ``rnn.LSTMLayer.backward`` (its NumPy loop body, operation by
    operation) on rows ``b0:b1``: ``δa = [δa_i, δa_f, δa_g, δa_o]`` into ``da`` and
    ``∂L/∂c`` into ``dc_out``."""
    H = dh.shape[1]
    for b in range(b0, b1):
        do, dhb, dcb, tcb, cb, dcob = dout_t[b], dh[b], dc[b], tc[b], c[b], dc_out[b]
        ab, dab = a[b], da[b]
        ai, af, ag, ao = ab[:H], ab[H:2 * H], ab[2 * H:3 * H], ab[3 * H:]
        di, df, dg, dO = dab[:H], dab[H:2 * H], dab[2 * H:3 * H], dab[3 * H:]
        for j in range(H):
            dhv = do[j] + dhb[j]
            i, f, g, o, t = ai[j], af[j], ag[j], ao[j], tcb[j]
            dcs = (dhv * o) * (one - t * t) + dcb[j]
            di[j] = (dcs * g) * ((one - i) * i)
            df[j] = (dcs * cb[j]) * ((one - f) * f)
            dg[j] = (dcs * i) * (one - g * g)
            dO[j] = (dhv * t) * ((one - o) * o)
            dcob[j] = dcs * f


@njit(**_JIT)
def gru_bwd_step(dout_t, dh, h, gt, hp, one, dx, dhp, dh_direct, b0, b1):  # pragma: no cover - compiled
    """One BPTT step of ``rnn.GRULayer.backward`` (``rnn._gru_grads`` and the copies around
    it, operation by operation) on rows ``b0:b1``: ``dx = [δa_r, δa_z, δa_n]``, ``dhp =
    [δa_r, δa_z, δa_n ⊙ r]`` and the direct part of ``∂L/∂h``, ``δh ⊙ z``."""
    H = dh.shape[1]
    for b in range(b0, b1):
        do, dhb, hb, dd = dout_t[b], dh[b], h[b], dh_direct[b]
        gb, hn = gt[b], hp[b][2 * H:]
        xb, pb = dx[b], dhp[b]
        gr, gz, gn = gb[:H], gb[H:2 * H], gb[2 * H:]
        xr, xz, xn = xb[:H], xb[H:2 * H], xb[2 * H:]
        pr, pz, pn = pb[:H], pb[H:2 * H], pb[2 * H:]
        for j in range(H):
            dhv = do[j] + dhb[j]
            r, z, n = gr[j], gz[j], gn[j]
            da_n = (dhv * (one - z)) * (one - n * n)
            da_r = (da_n * hn[j]) * (r * (one - r))
            da_z = (dhv * (hb[j] - n)) * (z * (one - z))
            xr[j] = da_r
            xz[j] = da_z
            xn[j] = da_n
            pr[j] = da_r
            pz[j] = da_z
            pn[j] = da_n * r
            dd[j] = dhv * z


@njit(**_JIT)
def lstm_small_cell(a, c, one, c_new):  # pragma: no cover - compiled
    """The small-input LSTM step (``_rnn_loops._lstm_small_forward``) after ``a = e^a``: the gates
    ``σ = 1/(1 + e)`` in place, g as ``2σ − 1``, and ``c' = f ⊙ c + i ⊙ g`` — six NumPy
    calls, which for a few sequences cost more than their arithmetic, as one."""
    for b in range(a.shape[0]):
        ab = a[b]
        for j in range(ab.shape[0]):
            ab[j] = one / (one + ab[j])
    lstm_fwd_cell(a, c, one, c_new)

@njit(**_JIT)
def sgd_plain(x, g, lr):  # pragma: no cover - compiled
    """``x ← x − lr·g`` in one pass: ``np.multiply(g, lr, out=t); x -= t`` of ``optim.SGD``
    (``lr`` of ``x``'s dtype: the product rounded, then the difference, as there)."""
    for i in range(x.shape[0]):
        x[i] = x[i] - lr * g[i]


@njit(**_JIT)
def adam_plain(x, g, m, v, c1, b2, c2, bc2, eps, neg_step, decay):  # pragma: no cover - compiled
    """One Adam update in one pass over flat arrays, the arithmetic of ``optim.Adam``'s NumPy
    lines in their order (the scalars already of the arrays' dtype, as NumPy casts Python
    floats there; bit-identical): ``x ·= decay`` (AdamW; 1 for Adam), ``m += (g − m)·c1``,
    ``v = v·b2 + (g·g)·c2``, ``x += m / (√v / bc2 + eps) · neg_step``."""
    for i in range(x.shape[0]):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * c1
        vi = v[i] * b2 + (gi * gi) * c2
        m[i] = mi
        v[i] = vi
        x[i] = x[i] * decay + (mi / (np.sqrt(vi) / bc2 + eps)) * neg_step


# e^x in float32 as a polynomial LLVM can vectorise (libm's expf, which Numba calls for
# math.exp, is one scalar call per element): x = k·ln2 + r with |r| ≤ ln2/2, e^r by a
# degree-7 polynomial (Cephes' expf coefficients, Horner's rule in fused multiply-adds
# where the processor has them), 2^k written as the float's exponent bits. Relative error
# ≤ 2 ulp against the float64 exponential (tests/ops/test_kernels.py).
_LOG2E = numba.float32(1.4426950408889634)
_LN2_HI = numba.float32(0.693359375)
_LN2_LO = numba.float32(-2.12194440e-4)
_ROUND = numba.float32(12582912.0)      # 1.5·2^23: adding and subtracting it rounds to an integer
_EXP_HI = numba.float32(88.72283)       # above: e^x overflows float32 (inf, as NumPy's)
_EXP_LO = numba.float32(-87.33654)      # below: e^x underflows to (at most) FLT_MIN


@intrinsic
def _f32_from_bits(typingctx, k):
    """The float32 whose bits are the int32 ``k`` (a bit cast, as C's ``memcpy``)."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@njit(fastmath={"contract"}, **_JIT)
def _expf(x0):  # pragma: no cover - compiled
    """e^x of one float32 (inlined into the loops that call it, which LLVM then vectorises;
    ``contract``: the polynomial's products and sums may fuse, nothing else)."""
    x = min(max(x0, _EXP_LO), _EXP_HI)         # (NaN: any value; restored below)
    k = (x * _LOG2E + _ROUND) - _ROUND
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = numba.float32(1.9875691500e-4)
    p = p * r + numba.float32(1.3981999507e-3)
    p = p * r + numba.float32(8.3334519073e-3)
    p = p * r + numba.float32(4.1665795894e-2)
    p = p * r + numba.float32(1.6666665459e-1)
    p = p * r + numba.float32(5.0000001201e-1)
    p = (p * r) * r + r + numba.float32(1.0)
    top = k > numba.float32(127.0)              # 2^128 has no exponent bits: 2·2^127
    p = p + p if top else p
    k = k - numba.float32(1.0) if top else k
    scale = _f32_from_bits((numba.int32(k) + numba.int32(127)) << numba.int32(23))
    return ((numba.float32(np.inf) if x0 > _EXP_HI else p) if x0 == x0 else x0) * scale


@njit(**_JIT)
def _exp_rows(a):  # pragma: no cover - compiled
    """``a ← e^a`` in place on a 1-D float32 array."""
    for q in range(a.shape[0]):
        a[q] = _expf(a[q])


_XENT_BLOCK = 4096  # elements of shifted logits exponentiated per _exp_rows call


@njit(**_JIT)
def xent_fwd(x, y, p):  # pragma: no cover - compiled
    """Softmax cross-entropy of float32 logits ``x: (N, C)`` (C-contiguous) with class
    indices ``y: (N,)``, in one call: per row the shift ``m = max_c x`` (NaN if any is),
    ``s = x − m``, ``p = e^s / Σ_c e^s`` into ``p`` (the sum over c in float64, rounded
    once) and ``log Σ_c e^s − s_y``. Returns
    ``(Σ_i ℓ_i, −1)`` (the sum in float64), or ``(nan, i)`` at the first target outside
    ``[0, C)`` (``p`` then partly written). ``_plain_forward`` in ``ops/loss.py`` is the
    NumPy reference; e^s is :func:`_expf`'s polynomial (an ``s`` below its range, where
    it stops at FLT_MIN, is redone in float64, so e^−inf is 0), so both agree to float32
    rounding."""
    n, C = x.shape
    pf = p.reshape(n * C)
    rows = max(1, _XENT_BLOCK // C)
    ms = np.empty(rows, np.float32)
    tot = 0.0
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        for i in range(r0, r1):
            yi = y[i]
            if yi < 0 or yi >= C:
                return np.nan, i
            m = x[i, 0]
            for c in range(1, C):
                v = x[i, c]
                if v > m or v != v:
                    m = v
                    if v != v:
                        break
            ms[i - r0] = m
            for c in range(C):
                p[i, c] = x[i, c] - m
        _exp_rows(pf[r0 * C:r1 * C])
        for i in range(r0, r1):
            m = ms[i - r0]
            acc = 0.0  # float64: a long row summed one term after another stays exact
            for c in range(C):
                v = x[i, c] - m
                if v < _EXP_LO:
                    p[i, c] = numba.float32(np.exp(np.float64(v)))
                acc += p[i, c]
            se = numba.float32(acc)
            for c in range(C):
                p[i, c] = p[i, c] / se
            tot += np.log(np.float64(se)) - np.float64(x[i, y[i]] - m)
    return tot, -1


@njit(**_JIT)
def xent_bwd(p, y, scale, out):  # pragma: no cover - compiled
    """``out = (p − onehot(y))·scale`` for ``p: (N, C)``: the difference, then the product,
    in ``p``'s dtype, as ``_plain_backward``'s two NumPy lines (bit-identical)."""
    n, C = p.shape
    for i in range(n):
        yi = y[i]
        for c in range(C):
            v = p[i, c]
            out[i, c] = (v - numba.float32(1.0) if c == yi else v) * scale


@njit(**_JIT)
def lstm_seq_small(xs, w_t, h0, cs, tcs, out, acts, reverse):  # pragma: no cover - compiled
    """A whole float32 LSTM layer over a few sequences (``_rnn_loops._lstm_small_forward``'s loop
    in one call): per step ``a = h·W_hhᵀ + x`` on the pre-scaled operands (−1 for i, f, o;
    −2 for g), ``σ = 1/(1 + e^a)``, ``g = 2σ − 1``, ``c' = f ⊙ c + i ⊙ g``,
    ``h' = o ⊙ tanh c'`` with ``tanh c' = 2/(1 + e^(−2c')) − 1``. Not bit-identical to
    the NumPy loop: the product sums over H four terms at a time (OpenBLAS blocks it otherwise) and e^x is
    :func:`_expf`'s polynomial; both agree to float32 rounding (tests/ops/test_kernels.py)."""
    T, B, G = xs.shape
    H = G // 4
    J = H - H % 4
    for k in range(T):
        t = T - 1 - k if reverse else k
        hs = h0 if k == 0 else out[t + 1 if reverse else t - 1]
        at = acts[t]
        for b in range(B):
            a = at[b]
            for q in range(G):
                a[q] = 0.0
        for j in range(0, J, 4):                    # a = h·W_hhᵀ (scaled), four rows of
            w0, w1, w2, w3 = w_t[j], w_t[j + 1], w_t[j + 2], w_t[j + 3]   # W_hhᵀ a pass
            for b in range(B):
                a, h = at[b], hs[b]
                h0j, h1j, h2j, h3j = h[j], h[j + 1], h[j + 2], h[j + 3]
                for q in range(G):
                    a[q] += (h0j * w0[q] + h1j * w1[q]) + (h2j * w2[q] + h3j * w3[q])
        for j in range(J, H):
            wj = w_t[j]
            for b in range(B):
                a, hj = at[b], hs[b, j]
                for q in range(G):
                    a[q] += hj * wj[q]
        for b in range(B):
            a, x = at[b], xs[t, b]
            for q in range(G):
                a[q] += x[q]
            _lstm_cell_row(a, cs[k, b], cs[k + 1, b], tcs[t, b], out[t, b])


@njit(**_JIT)
def _lstm_cell_row(a, c, cn, tc, hn):  # pragma: no cover - compiled
    """One sequence's LSTM cell from its scaled pre-activations ``a`` (−1·a for i, f, o;
    −2·a for g): ``σ = 1/(1 + e^a)`` in place, then :func:`_lstm_cell_tail`."""
    one = numba.float32(1.0)
    for q in range(a.shape[0]):
        a[q] = one / (one + _expf(a[q]))       # [i, f, σ(2·a_g), o]
    _lstm_cell_tail(a, c, cn, tc, hn)


@njit(**_JIT)
def _lstm_cell_tail(a, c, cn, tc, hn):  # pragma: no cover - compiled
    """The rest of a sequence's LSTM cell once ``a`` holds ``[i, f, σ(2·a_g), o]``:
    ``g = 2σ − 1`` in place, ``c' = f ⊙ c + i ⊙ g`` into ``cn``, ``tanh c' = 2/(1 +
    e^(−2c')) − 1`` into ``tc``, ``h' = o ⊙ tanh c'`` into ``hn``, in one loop."""
    H = c.shape[0]
    one = numba.float32(1.0)
    two = numba.float32(2.0)
    ai, af, ag, ao = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
    for j in range(H):
        g = two * ag[j] - one
        ag[j] = g
        cn[j] = af[j] * c[j] + ai[j] * g
        tc[j] = two / (one + _expf(-two * cn[j])) - one
        hn[j] = ao[j] * tc[j]


@njit(**_JIT)
def _lstm_gate_span(a, x, bias, double):  # pragma: no cover - compiled
    """σ of one gate block of a step, in place, from ``a = h·W_hhᵀ`` and the projection
    ``x`` (and ``bias``, when not empty): ``v = −(a + x)`` (``−(a + (x + bias))``, the sum
    ``xproj + b`` of the NumPy paths), doubled for the g block (``double``: tanh(u) =
    2σ(2u) − 1), then ``1/(1 + e^v)`` — :func:`lstm_fwd_pre` and the σ of
    :func:`_lstm_cell_row` in one loop, the same arithmetic."""
    one = numba.float32(1.0)
    if bias.shape[0]:
        for q in range(a.shape[0]):
            v = -(a[q] + (x[q] + bias[q]))
            v = v + v if double else v
            a[q] = one / (one + _expf(v))
    else:
        for q in range(a.shape[0]):
            v = -(a[q] + x[q])
            v = v + v if double else v
            a[q] = one / (one + _expf(v))


@njit(**_JIT)
def lstm_fwd_step(a, x, bias, c, c_new, tc, h, b0, b1):  # pragma: no cover - compiled
    """A float32 LSTM step of ``_rnn_loops._lstm_large_forward`` after its GEMM ``a = h·W_hhᵀ``,
    in one call: per row the σ of each gate block from ``a + x`` (``a + (x + bias)`` when
    ``bias``, the projection's bias, is not empty; the g block doubled) —
    :func:`_lstm_gate_span` — then :func:`_lstm_cell_tail` (g = 2σ − 1, ``c' = f ⊙ c + i ⊙
    g`` into ``c_new``, ``tanh c'`` into ``tc``, ``h' = o ⊙ tanh c'`` into ``h``): two loops
    a row. One call instead of eight NumPy and kernel calls a step matters most when blocks
    of rows run on several threads (each call hands the GIL over); e^x is :func:`_expf`'s
    polynomial, so the step agrees with the NumPy passes to float32 rounding
    (tests/ops/test_kernels.py). Rows ``b0:b1`` only (the arrays whole, so that their rows
    stay typed contiguous); an ``x`` of one row is added to every row."""
    H = a.shape[1] // 4
    nb = bias.shape[0] > 0
    for b in range(b0, b1):
        ab, xb = a[b], x[b if x.shape[0] > 1 else 0]
        _lstm_gate_span(ab[:2 * H], xb[:2 * H], bias[:2 * H] if nb else bias, False)
        _lstm_gate_span(ab[2 * H:3 * H], xb[2 * H:3 * H], bias[2 * H:3 * H] if nb else bias,
                        True)
        _lstm_gate_span(ab[3 * H:], xb[3 * H:], bias[3 * H:] if nb else bias, False)
        _lstm_cell_tail(ab, c[b], c_new[b], tc[b], h[b])


@njit(**_JIT)
def _gemm_rows(gemm, a, b, c, beta):  # pragma: no cover - compiled
    """``c = a·b + β·c`` in float32 through the BLAS function ``gemm`` (``cblas_sgemm`` of
    NumPy's own BLAS, a first-class function argument: ``ops._blas.cblas_sgemm``):
    row-major, no transposes, each operand with unit stride along its rows and its own row
    stride (so views of rows of larger arrays need no copy). β is 0 or 1."""
    n, k = a.shape
    m = b.shape[1]
    s = a.itemsize
    gemm(101, 111, 111, n, m, k, np.float32(1.0), a.ctypes.data, a.strides[0] // s,
         b.ctypes.data, b.strides[0] // s, np.float32(beta), c.ctypes.data, c.strides[0] // s)


@njit(**_JIT)
def _zero_product(h, w):  # pragma: no cover - compiled
    """Whether ``h·w`` is +0 in every entry without computing it: ``h`` all zeros (±0) and
    ``w`` all finite (a 0·inf or a NaN would make NaNs)."""
    z = numba.float32(0.0)
    for i in range(h.shape[0]):
        for j in range(h.shape[1]):
            if h[i, j] != z:
                return False
    acc = z   # 0·v is ±0 for every finite v and NaN for inf and NaN
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            acc += w[i, j] * z
    return acc == z


@njit(**_JIT)
def lstm_fwd_rows(gemm, xproj, x, wi_t, bias, w_t, h0, cs, tcs, out, acts, reverse, b0,
                  b1):  # pragma: no cover - compiled
    """A float32 LSTM layer's forward over the sequences of rows ``b0:b1`` in one call (no
    Python, and no GIL, between steps): per step ``a = h·W_hhᵀ`` through ``gemm``, then
    :func:`lstm_fwd_step`. The arrays are the layer's whole ``(T, B, ·)`` arrays (blocks on
    other threads write other rows); ``acts``, ``tcs`` (T or 1 entries) and ``cs`` (T + 1
    or 2) are indexed modulo their length, so inference passes one step's scratch instead
    of every step's. ``cs[0]`` holds c_0. ``bias`` (empty, or the ``(4H,)`` bias of a
    projection computed without it) is added to each step's projection in the step.
    With a non-empty ``wi_t`` (``W_ihᵀ``, C order) the projections are made step by step
    instead of read (inference, where nothing keeps them): ``a = x_t·W_ihᵀ``, then ``+=
    h·W_hhᵀ`` (β = 1), both through ``gemm`` (``x``: the layer's ``(T, B, F)`` input, unit
    stride along F), and ``xproj`` is one ``(1, 1, 4H)`` row added to every row of every
    step (the bias; zeros for none, which changes no result — see :func:`forward_projecting`
    in ``_rnn_loops``). That sums ``(x·W_ihᵀ + h·W_hhᵀ) + b`` where the other paths sum
    ``h·W_hhᵀ + (x·W_ihᵀ + b)``: the same to float32 rounding.
    From ``h_0 = 0`` (the default state) with a finite ``W_hh`` the first step's product is
    +0 everywhere (the BLAS sums ±0 terms from +0, and ``v + 0`` is ``v`` but for the sign
    of a zero, which σ ignores), so it is not computed."""
    T = out.shape[0]
    zero0 = _zero_product(h0[b0:b1], w_t)
    project = wi_t.shape[0] > 0
    for k in range(T):
        t = T - 1 - k if reverse else k
        h = h0 if k == 0 else out[t + 1 if reverse else t - 1]
        a = acts[t % acts.shape[0]]
        skip = k == 0 and zero0
        if project:
            xt = xproj[0]
            _gemm_rows(gemm, x[t, b0:b1], wi_t, a[b0:b1], 0.0)
            if not skip:
                _gemm_rows(gemm, h[b0:b1], w_t, a[b0:b1], 1.0)
        else:
            xt = xproj[t]
            if skip:
                a[b0:b1] = 0.0
            else:
                _gemm_rows(gemm, h[b0:b1], w_t, a[b0:b1], 0.0)
        lstm_fwd_step(a, xt, bias, cs[k % cs.shape[0]], cs[(k + 1) % cs.shape[0]],
                      tcs[t % tcs.shape[0]], out[t], b0, b1)


@njit(**_JIT)
def lstm_bwd_rows(gemm, dout, dh, dc, acts, tcs, cs, w_hh, da_all, reverse, need_dh0, one,
                  dc_bufs, b0, b1):  # pragma: no cover - compiled
    """``_rnn_loops._lstm_bptt`` over the sequences of rows ``b0:b1`` in one call: per step
    (newest first) :func:`lstm_bwd_step`, then ``δh = δa·W_hh`` through ``gemm``, written
    over ``dh`` (which holds δh_T on entry and ∂L/∂h_0 on return when ``need_dh0``).
    ``dc`` holds δc_T; ∂L/∂c_0 ends in ``dc_bufs[0]``. Whole arrays, as in
    :func:`lstm_fwd_rows`."""
    T = acts.shape[0]
    for k in range(T - 1, -1, -1):
        t = T - 1 - k if reverse else k
        da = da_all[t]
        dc_next = dc_bufs[k % 2]
        lstm_bwd_step(dout[t], dh, dc, acts[t], tcs[t], cs[k], one, da, dc_next, b0, b1)
        dc = dc_next
        if k or need_dh0:
            _gemm_rows(gemm, da[b0:b1], w_hh, dh[b0:b1], 0.0)


@njit(**_JIT)
def gru_fwd_rows(gemm, xproj, w_t, b_hh, h0, hps, gates, out, reverse, b0, b1):  # pragma: no cover - compiled
    """A float32 GRU layer's forward over the sequences of rows ``b0:b1`` in one call, as
    :func:`lstm_fwd_rows`: per step ``hp = h·W_hhᵀ + b_hh`` (``gemm``, then the bias; kept
    in ``hps``), ``r, z = σ(xp + hp)``, ``n = tanh(xp_n + r ⊙ hp_n)`` (kept in ``gates``)
    and ``h' = n + z ⊙ (h − n)``, with σ and tanh through :func:`_expf`'s polynomial
    (``tanh v = 2σ(2v) − 1``): to float32 rounding the NumPy loop of ``rnn.GRULayer``."""
    T = xproj.shape[0]
    G = xproj.shape[2]
    H = G // 3
    one = numba.float32(1.0)
    two = numba.float32(2.0)
    for k in range(T):
        t = T - 1 - k if reverse else k
        h = h0 if k == 0 else out[t + 1 if reverse else t - 1]
        hp = hps[t]
        _gemm_rows(gemm, h[b0:b1], w_t, hp[b0:b1], 0.0)
        gt, x, o = gates[t], xproj[t], out[t]
        for b in range(b0, b1):
            hb, pb, gb, xb, ob = h[b], hp[b], gt[b], x[b], o[b]
            for j in range(G):
                pb[j] = pb[j] + b_hh[j]
            for j in range(2 * H):
                gb[j] = one / (one + _expf(-(xb[j] + pb[j])))       # r, z
            for j in range(H):
                n = two / (one + _expf(-two * (xb[2 * H + j] + gb[j] * pb[2 * H + j]))) - one
                gb[2 * H + j] = n                   # n = tanh(xp_n + r ⊙ hp_n)
                ob[j] = n + gb[H + j] * (hb[j] - n)


@njit(**_JIT)
def gru_bwd_rows(gemm, dout, dh, h_prev, gates, hps, w_hh, dx_all, dhp_all, reverse, need_dh0,
                 one, dh_direct, b0, b1):  # pragma: no cover - compiled
    """``rnn.GRULayer``'s BPTT over the sequences of rows ``b0:b1`` in one call: per step
    (newest first) :func:`gru_bwd_step`, then ``δh = δh_direct + δhp·W_hh`` written over
    ``dh`` (the product added by ``gemm`` with β = 1). ``dh`` holds δh_T on entry and
    ∂L/∂h_0 on return when ``need_dh0``. Whole arrays, as in :func:`lstm_fwd_rows`."""
    T = gates.shape[0]
    H = dh.shape[1]
    for k in range(T - 1, -1, -1):
        t = T - 1 - k if reverse else k
        gru_bwd_step(dout[t], dh, h_prev[t], gates[t], hps[t], one, dx_all[t], dhp_all[t],
                     dh_direct, b0, b1)
        if k or need_dh0:
            for b in range(b0, b1):
                db, dd = dh[b], dh_direct[b]
                for j in range(H):
                    db[j] = dd[j]
            _gemm_rows(gemm, dhp_all[t][b0:b1], w_hh, dh[b0:b1], 1.0)


__all__ = ["numba", "relu_fwd", "relu_bwd", "maxpool2d_fwd", "maxpool2d_bwd", "im2col2d", "col2im2d",
           "lstm_fwd_pre", "lstm_fwd_cell", "lstm_bwd_step", "gru_bwd_step",
           "lstm_small_cell", "lstm_seq_small", "lstm_fwd_step",
           "lstm_fwd_rows", "lstm_bwd_rows", "gru_fwd_rows", "gru_bwd_rows", "sgd_plain"]
