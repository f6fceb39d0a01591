"""Per-sample gradient rules, one per layer type (used by :mod:`glassgrad.per_sample`).

A batched backward pass of ``Σᵢ lᵢ`` delivers to each layer output ``Y`` the gradient
``δ = ∂(Σⱼ lⱼ)/∂Y``; since sample ``i``'s rows of ``Y`` only influence ``lᵢ``, row ``i``
of ``δ`` is ``∂lᵢ/∂Yᵢ``. The ordinary weight gradient *sums* a product of ``δ`` and the
layer's saved input over the batch axis; each rule here computes the same product but
*keeps* the batch axis. Derivations: ``docs/derivations/per_sample.md``.

Each rule takes the module, what its forward recorded (raw arrays, batch on axis 0 unless
said otherwise) and the output gradients captured by the backward, and returns
``{local parameter name: array (N, *parameter shape)}``. A rule that meets a case it does
not cover raises :class:`Unsupported`; the caller then falls back to single-sample passes.
"""

from __future__ import annotations

from typing import Any

from .backend import np


class Unsupported(Exception):
    """A rule does not cover this call (the caller falls back to a loop, with a warning)."""


def _batch_first(a: Any, axis: int, n: int, what: str) -> Any:
    """``a`` with its batch axis moved to 0; Unsupported when that axis is not of size n."""
    if a.ndim <= axis or a.shape[axis] != n:
        raise Unsupported(f"{what} of shape {tuple(a.shape)} does not have the batch ({n}) "
                          f"on axis {axis}")
    return a if axis == 0 else np.moveaxis(a, axis, 0)


# ----------------------------------------------------------------------------- Linear
def linear(m: Any, rec: dict, grads: list, n: int) -> dict:
    """``Y = X·Wᵀ + b``: ``∂lᵢ/∂W = Σ_t δᵢₜ ⊗ xᵢₜ`` (outer product, summed over the other
    axes of sample i), ``∂lᵢ/∂b = Σ_t δᵢₜ``."""
    ax = rec["axis"]
    x = _batch_first(rec["x"], ax, n, "Linear input")
    g = _batch_first(grads[0], ax, n, "Linear output gradient")
    x = x.reshape(n, -1, x.shape[-1])
    g = g.reshape(n, -1, g.shape[-1])
    out = {}
    if x.shape[1] == 1:        # one row per sample: a batched outer product (einsum writes
        # the (N, out, in) result ~10% faster than the broadcast product g[:, :, None] * x)
        out["weight"] = np.einsum("no,ni->noi", g[:, 0], x[:, 0])
    else:
        out["weight"] = np.matmul(g.transpose(0, 2, 1), x)
    if m.bias is not None:
        out["bias"] = g.sum(1)
    return out


# ----------------------------------------------------------------------------- Conv
def _same_pads(m: Any) -> list:
    totals = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
    return [(t // 2, t - t // 2) for t in totals]


def conv(m: Any, rec: dict, grads: list, n: int) -> dict:
    """Convolution as a GEMM on unfolded patches (im2col), per sample:
    ``∂lᵢ/∂W[o, c, κ] = Σ_p δᵢ[o, p] · X̃ᵢ[c, p, κ]`` where ``X̃ᵢ[c, p, κ]`` is the input
    value that kernel tap ``κ`` sees at output position ``p``; groups split ``o`` and ``c``."""
    from .ops import resample as RS
    from .tensor import Tensor

    k = m._k
    x = rec["x"]
    if x.ndim != k + 2:
        raise Unsupported(f"{type(m).__name__} input of shape {tuple(x.shape)} is not batched")
    g = grads[0]
    if m.padding_mode != "zeros":
        if isinstance(m.padding, str):
            pads = [0] * k if m.padding == "valid" else [p[0] for p in _same_pads(m)]
        else:
            pads = list(m.padding)
        x = RS.pad_spatial(Tensor._make(x, False), pads, m.padding_mode, type(m).__name__).array
        pw = [(0, 0)] * k
    elif isinstance(m.padding, str):
        pw = [(0, 0)] * k if m.padding == "valid" else _same_pads(m)
    else:
        pw = [(p, p) for p in m.padding]
    if any(a or b for a, b in pw):
        x = np.pad(x, [(0, 0), (0, 0)] + pw)
    ks, st, dl = m.kernel_size, m.stride, m.dilation
    span = [d * (kk - 1) + 1 for d, kk in zip(dl, ks)]
    win = np.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(2, 2 + k)))
    # (N, C, *positions, *span) -> stride over positions, dilation over the window
    sl = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in st) + \
        tuple(slice(None, None, d) for d in dl)
    win = win[sl]
    out_sp = g.shape[2:]
    win = win[(slice(None), slice(None)) + tuple(slice(0, o) for o in out_sp)]
    G = m.groups
    Cg = x.shape[1] // G
    P = int(np.prod(out_sp)) if out_sp else 1
    K = int(np.prod(ks))
    # patches (N, G, P, Cg·K): move the positions before the channels, then flatten
    perm = (0,) + tuple(range(2, 2 + k)) + (1,) + tuple(range(2 + k, 2 + 2 * k))
    cols = win.transpose(perm).reshape(n, P, G, Cg * K).transpose(0, 2, 1, 3)
    d = g.reshape(n, G, g.shape[1] // G, P)
    gw = np.matmul(d, cols)                                    # (N, G, Og, Cg·K)
    out = {"weight": gw.reshape((n,) + tuple(m.weight.shape))}
    if m.bias is not None:
        out["bias"] = g.reshape(n, g.shape[1], -1).sum(2)
    return out


# ----------------------------------------------------------------------------- Embedding
def embedding(m: Any, rec: dict, grads: list, n: int) -> dict:
    """``Y[..] = W[idx[..]]``: ``∂lᵢ/∂W[v] = Σ_{t: idxᵢₜ = v} δᵢₜ`` — a scatter-add into
    a separate table per sample (no gradient at ``padding_idx``)."""
    idx = np.asarray(rec["x"])
    if idx.ndim == 0 or idx.shape[0] != n:
        raise Unsupported(f"Embedding input of shape {tuple(idx.shape)} has no batch axis")
    V, D = m.weight.shape
    g = grads[0].reshape(-1, D)
    flat = (idx.reshape(n, -1) % V + np.arange(n)[:, None] * V).reshape(-1)
    gw = np.zeros((n * V, D), dtype=g.dtype)
    np.add.at(gw, flat, g)
    gw = gw.reshape(n, V, D)
    if m.padding_idx is not None:
        gw[:, m.padding_idx] = 0
    return {"weight": gw}


# ----------------------------------------------------------------------------- norms
def _affine(m: Any, g: Any, xhat: Any, red: tuple, wname: str = "weight") -> dict:
    out = {}
    if getattr(m, wname, None) is not None:
        out[wname] = (g * xhat).sum(red) if red else g * xhat
    if getattr(m, "bias", None) is not None:
        out["bias"] = g.sum(red) if red else g
    return out


def layer_norm(m: Any, rec: dict, grads: list, n: int) -> dict:
    """``Y = γ ⊙ x̂ + β`` over the last dims: ``∂lᵢ/∂γ = Σ δᵢ ⊙ x̂ᵢ``, ``∂lᵢ/∂β = Σ δᵢ``
    (sums over sample i's positions; ``x̂`` recomputed from the saved input)."""
    x, k = rec["x"], len(m.normalized_shape)
    if x.ndim <= k or x.shape[0] != n:
        raise Unsupported(f"LayerNorm input of shape {tuple(x.shape)} has no batch axis")
    ax = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(ax, keepdims=True)
    var = ((x - mu) ** 2).mean(ax, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + m.eps)
    return _affine(m, grads[0], xhat, tuple(range(1, x.ndim - k)))


def rms_norm(m: Any, rec: dict, grads: list, n: int) -> dict:
    """``Y = γ ⊙ x / rms(x)``: ``∂lᵢ/∂γ = Σ δᵢ ⊙ x̂ᵢ``."""
    x, k = rec["x"], len(m.normalized_shape)
    if x.ndim <= k or x.shape[0] != n:
        raise Unsupported(f"RMSNorm input of shape {tuple(x.shape)} has no batch axis")
    ax = tuple(range(x.ndim - k, x.ndim))
    eps = float(np.finfo(x.dtype).eps) if m.eps is None else float(m.eps)
    xhat = x / np.sqrt((x * x).mean(ax, keepdims=True) + eps)
    out = {}
    if m.weight is not None:
        red = tuple(range(1, x.ndim - k))
        out["weight"] = (grads[0] * xhat).sum(red) if red else grads[0] * xhat
    return out


def group_norm(m: Any, rec: dict, grads: list, n: int) -> dict:
    """Per-sample statistics over groups of channels: ``∂lᵢ/∂γ_c = Σ_p δᵢ[c,p]·x̂ᵢ[c,p]``."""
    x = rec["x"]
    if x.ndim < 2 or x.shape[0] != n:
        raise Unsupported(f"GroupNorm input of shape {tuple(x.shape)} has no batch axis")
    xg = x.reshape(n, m.num_groups, -1)
    mu = xg.mean(2, keepdims=True)
    var = ((xg - mu) ** 2).mean(2, keepdims=True)
    xhat = ((xg - mu) / np.sqrt(var + m.eps)).reshape(x.shape)
    return _affine(m, grads[0], xhat, tuple(range(2, x.ndim)))


def batch_norm(m: Any, rec: dict, grads: list, n: int) -> dict:
    """Eval mode only (running statistics): an affine map per channel,
    ``∂lᵢ/∂γ_c = Σ_p δᵢ[c,p]·x̂ᵢ[c,p]`` with ``x̂ = (x − μ_run)/√(σ²_run + ε)``."""
    x = rec["x"]
    shp = (1, -1) + (1,) * (x.ndim - 2)
    mu = m.running_mean.array.reshape(shp)
    var = m.running_var.array.reshape(shp)
    xhat = (x - mu) / np.sqrt(var + m.eps)
    return _affine(m, grads[0], xhat, tuple(range(2, x.ndim)))


def batch_norm_check(m: Any) -> None:
    """BatchNorm normalizing with batch statistics couples the samples: refuse."""
    if m.training or m.running_mean is None:
        raise RuntimeError(
            f"per_sample_grads: {type(m).__name__} normalizes with the statistics of the whole "
            "batch (training mode or track_running_stats=False), which couples the samples: "
            "a sample's loss depends on every other sample, so per-sample gradients are not "
            "defined. Call model.eval() (running statistics) or use GroupNorm/LayerNorm.")


# ----------------------------------------------------------------------------- attention
def mha(m: Any, rec: dict, grads: list, n: int) -> dict:
    """The in-projection ``Q = query·W_qᵀ + b_q`` (and K, V) is a Linear on seq-first
    ``(L, N, E)`` inputs: ``∂lᵢ/∂W_q = Σ_t δQ[t,i] ⊗ query[t,i]``, the three blocks stacked
    as ``in_proj_weight``. (``out_proj`` is a Linear module with its own rule.)"""
    ws, bs = [], []
    for a, g in zip(rec["qkv"], grads):
        a = _batch_first(a, 1, n, "MultiheadAttention input")   # (N, L, E)
        g = _batch_first(g, 1, n, "MultiheadAttention projection gradient")
        ws.append(np.matmul(g.transpose(0, 2, 1), a))
        bs.append(g.sum(1))
    out = {}
    if m._qkv_same_embed_dim:
        out["in_proj_weight"] = np.concatenate(ws, 1)
    else:
        out["q_proj_weight"], out["k_proj_weight"], out["v_proj_weight"] = ws
    if m.in_proj_bias is not None:
        out["in_proj_bias"] = np.concatenate(bs, 1)
    return out


# ----------------------------------------------------------------------------- RNNs
def _sig(a: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-a))


def rnn(m: Any, rec: dict, grads: list, n: int) -> dict:
    """One layer and direction of RNN/LSTM/GRU. With ``a_t = x_t·W_ihᵀ + h_{t−1}·W_hhᵀ + b``
    the gate pre-activations, ``δa_t`` is the gradient that reached the input projection
    ``x_t·W_ihᵀ + b`` (captured), and per sample::

        ∂lᵢ/∂W_ih = Σ_t δa_t[i] ⊗ x_t[i]      ∂lᵢ/∂W_hh = Σ_t δh*_t[i] ⊗ h_{t−1}[i]
        ∂lᵢ/∂b_ih = Σ_t δa_t[i]               ∂lᵢ/∂b_hh = Σ_t δh*_t[i]

    with ``δh* = δa`` for RNN and LSTM; for GRU the candidate block is ``δa_n ⊙ r``
    (``r`` recomputed), since ``b_hn`` sits inside ``r ⊙ (W_hn h + b_hn)``."""
    x, h0, out, sfx, rev = rec["x"], rec["h0"], rec["out"], rec["sfx"], rec["reverse"]
    da = grads[0]                                       # (T, N, G·H)
    if da.shape[1] != n:
        raise Unsupported(f"{type(m).__name__}: batch of {da.shape[1]}, expected {n}")
    if rev:
        hprev = np.concatenate([out[1:], h0[None]], 0)
    else:
        hprev = np.concatenate([h0[None], out[:-1]], 0)
    dh = da
    if m.mode == "GRU":
        H = m.hidden_size
        w_hh = m._parameters["weight_hh" + sfx].array
        b_hh = m._parameters["bias_hh" + sfx].array if m.bias else 0.0
        hp = hprev @ w_hh.T + b_hh                      # (T, N, 3H)
        xp = rec["xp"]
        r = _sig(xp[..., :H] + hp[..., :H])
        dh = da.copy()
        dh[..., 2 * H:] *= r
    dat = da.transpose(1, 2, 0)                         # (N, G·H, T)
    dht = dh.transpose(1, 2, 0)
    res = {"weight_ih" + sfx: np.matmul(dat, x.transpose(1, 0, 2)),
           "weight_hh" + sfx: np.matmul(dht, hprev.transpose(1, 0, 2))}
    if m.bias:
        res["bias_ih" + sfx] = da.sum(0)
        res["bias_hh" + sfx] = dh.sum(0)
    return res
