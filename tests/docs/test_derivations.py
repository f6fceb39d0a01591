"""docs/derivations: each chapter's formulas, implemented directly in NumPy, equal what
glassgrad's autograd computes; and every derivations link in the code points somewhere."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re

import numpy as np
import pytest

import glassgrad as gg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs", "derivations")
F = gg.nn.functional
rng = np.random.default_rng(0)


def backprop(fn, *arrays, g=None, seed=1):
    """Run fn on float64 tensors made from arrays, backprop upstream gradient g (random
    by default); return (output, upstream gradient, [input gradients])."""
    ts = [gg.tensor(a, dtype=gg.float64, requires_grad=True) for a in arrays]
    out = fn(*ts)
    if g is None:
        g = np.random.default_rng(seed).normal(size=out.shape)
    out.backward(gg.tensor(g, dtype=gg.float64))
    return out.array, g, [t.grad.array if t.grad is not None else None for t in ts]


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- chapters exist
CHAPTERS = ["elementwise", "reductions", "movement", "indexing", "linalg", "fully_connected",
            "softmax_cross_entropy", "nn", "conv", "rnn", "attention"]


def _anchors(path):
    """GitHub-style anchors of the Markdown headings of a file."""
    out = set()
    for line in open(path, encoding="utf-8"):
        m = re.match(r"#+\s+(.*)", line)
        if m:
            t = m.group(1).strip().lower()
            t = re.sub(r"[^\w\- ]", "", t).replace(" ", "-")
            out.add(t)
    return out


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_exists_with_sections(name):
    path = os.path.join(DOCS, name + ".md")
    assert os.path.exists(path), path
    text = open(path, encoding="utf-8").read()
    assert text.startswith("# ") and text.count("\n## ") >= 2
    assert len(text) > 1200


def _op_modules():
    import glassgrad.ops as ops

    return [importlib.import_module(f"glassgrad.ops.{m.name}")
            for m in pkgutil.iter_modules(ops.__path__) if not m.name.startswith("_")]


LINK = re.compile(r"docs/derivations/([\w\-]+\.md)(#[\w\-]+)?")


def test_every_derivations_link_in_op_docstrings_exists():
    """Links in module, class and backward docstrings: file exists, section exists."""
    seen = 0
    for mod in _op_modules():
        docs = [mod.__doc__ or ""]
        for obj in vars(mod).values():
            if isinstance(obj, type) and obj.__module__ == mod.__name__:
                docs.append(obj.__doc__ or "")
                bw = getattr(obj, "backward", None)
                docs.append(getattr(bw, "__doc__", None) or "")
        for d in docs:
            for m in LINK.finditer(d):
                seen += 1
                path = os.path.join(DOCS, m.group(1))
                assert os.path.exists(path), f"{mod.__name__} links to missing {m.group(0)}"
                if m.group(2):
                    assert m.group(2)[1:] in _anchors(path), f"{mod.__name__}: no section {m.group(0)}"
    assert seen >= 5


def test_every_op_module_links_its_chapter():
    for mod in _op_modules():
        if mod.__name__.endswith(("._dual", "._util")):
            continue
        assert LINK.search(mod.__doc__ or ""), f"{mod.__name__}: no docs/derivations link"


def test_formula_table_links_chapter_and_section():
    from glassgrad.glassbox import FORMULAS

    # the table loads every module that defines ops itself (private ones and func's
    # included), so this test does not depend on which tests ran before it
    names = {cls.__name__ for cls in FORMULAS}
    assert {"SharedWeightLSTMLayer", "BatchedLinear", "ConvNd", "Relu", "LSTMLayer"} <= names
    for cls, f in FORMULAS.items():
        file, _, sec = f.doc.partition("#")
        path = os.path.join(DOCS, file)
        assert os.path.exists(path), (cls.__name__, f.doc)
        assert sec and sec in _anchors(path), (cls.__name__, f.doc)


# ----------------------------------------------------------------------------- elementwise.md
def test_elementwise_pointwise_table():
    x = rng.uniform(0.2, 2.0, size=(3, 4))
    sig = 1 / (1 + np.exp(-x))
    cases = [
        (lambda t: t.exp(), lambda g: g * np.exp(x)),
        (lambda t: t.log(), lambda g: g / x),
        (lambda t: t.sqrt(), lambda g: g / (2 * np.sqrt(x))),
        (lambda t: t.tanh(), lambda g: g * (1 - np.tanh(x) ** 2)),
        (lambda t: t.sigmoid(), lambda g: g * sig * (1 - sig)),
        (lambda t: (t - 1).relu(), lambda g: g * (x - 1 > 0)),
        (lambda t: t.sin(), lambda g: g * np.cos(x)),
    ]
    for fn, vjp in cases:
        _, g, (dx,) = backprop(fn, x)
        close(dx, vjp(g))
    assert (sig * (1 - sig)).max() <= 0.25


def test_elementwise_binary_and_unbroadcast():
    a = rng.normal(size=(4, 3))
    b = rng.uniform(0.5, 2, size=(3,))
    _, g, (da, db) = backprop(lambda s, t: s * t, a, b)
    close(da, g * b)
    close(db, (g * a).sum(axis=0))  # broadcast copy → sum over axis 0
    _, g, (da, db) = backprop(lambda s, t: s / t, a, b)
    close(da, g / b)
    close(db, (-g * a / b ** 2).sum(axis=0))
    a2 = rng.uniform(0.5, 2, size=(2, 1, 3))
    c = rng.normal(size=(5, 1))
    _, g, (da2, dc) = backprop(lambda s, t: s ** t, a2, c)
    z = a2 ** c
    close(da2, (g * c * a2 ** (c - 1)).sum(axis=1, keepdims=True))
    close(dc, (g * z * np.log(a2)).sum(axis=(0, 2)).reshape(5, 1))


def test_elementwise_where():
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3,))
    cond = rng.normal(size=(2, 3)) > 0
    _, g, (da, db) = backprop(lambda s, t: gg.where(gg.tensor(cond), s, t), a, b)
    close(da, g * cond)
    close(db, (g * ~cond).sum(0))


# ----------------------------------------------------------------------------- reductions.md
def test_reductions():
    x = rng.normal(size=(4, 5))
    _, g, (dx,) = backprop(lambda t: t.sum(dim=1), x)
    close(dx, np.broadcast_to(g[:, None], x.shape))
    _, g, (dx,) = backprop(lambda t: t.mean(dim=0), x)
    close(dx, np.broadcast_to(g[None, :], x.shape) / 4)
    _, g, (dx,) = backprop(lambda t: t.var(dim=1), x)
    close(dx, g[:, None] * 2 * (x - x.mean(1, keepdims=True)) / (5 - 1))
    out, g, (dx,) = backprop(lambda t: t.std(dim=1), x)
    close(dx, g[:, None] * (x - x.mean(1, keepdims=True)) / ((5 - 1) * out[:, None]))
    for p in (2, 3):
        out, g, (dx,) = backprop(lambda t, p=p: t.norm(p=p, dim=1), x)
        close(dx, g[:, None] * x * np.abs(x) ** (p - 2) / out[:, None] ** (p - 1))
    xt = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    _, g, (dx,) = backprop(lambda t: t.amax(dim=1), xt)
    mask = xt == xt.max(1, keepdims=True)
    close(dx, g[:, None] * mask / mask.sum(1, keepdims=True))
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    _, g, (dx,) = backprop(lambda t: t.logsumexp(dim=1), x)
    close(dx, g[:, None] * p)
    _, g, (dx,) = backprop(lambda t: t.softmax(dim=1), x)
    close(dx, p * (g - (g * p).sum(1, keepdims=True)))
    _, g, (dx,) = backprop(lambda t: t.log_softmax(dim=1), x)
    close(dx, g - p * g.sum(1, keepdims=True))


def test_scans_products_sorting_masks():
    x = rng.normal(size=(3, 5))
    _, g, (dx,) = backprop(lambda t: t.cumsum(1), x)
    close(dx, np.flip(np.flip(g, 1).cumsum(1), 1))               # dX_j = Σ_{k≥j} g_k
    xz = x.copy()
    xz[0, 2] = 0.0                                               # one zero in row 0
    xz[1, 1] = xz[1, 3] = 0.0                                    # two zeros in row 1
    _, g, (dx,) = backprop(lambda t: t.prod(1), xz)
    others = np.array([[np.prod(np.delete(r, j)) for j in range(5)] for r in xz])
    close(dx, g[:, None] * others)                               # dX_j = g·Π_{i≠j} x_i
    assert (dx[0] != 0).sum() == 1 and not dx[1].any()
    _, g, (dx,) = backprop(lambda t: t.cumprod(1), xz)
    P = np.concatenate([np.ones((3, 1)), np.cumprod(xz, 1)[:, :-1]], 1)
    S = np.zeros_like(g)
    S[:, -1] = g[:, -1]
    for j in range(3, -1, -1):                                   # S_j = g_j + x_{j+1}·S_{j+1}
        S[:, j] = g[:, j] + xz[:, j + 1] * S[:, j + 1]
    close(dx, P * S)
    _, g, (dx,) = backprop(lambda t: t.sort(1)[0], x)
    idx = np.argsort(x, 1)
    expect = np.zeros_like(x)
    np.put_along_axis(expect, idx, g, 1)                         # dX_{idx_k} = g_k
    close(dx, expect)
    _, g, (dx,) = backprop(lambda t: t.tril(1), x)
    close(dx, np.tril(g, 1))


# ----------------------------------------------------------------------------- movement.md
def test_movement():
    x = rng.normal(size=(2, 3, 4))
    perm = (2, 0, 1)
    _, g, (dx,) = backprop(lambda t: t.permute(perm), x)
    inv = np.argsort(perm)
    close(dx, g.transpose(inv))
    _, g, (dx,) = backprop(lambda t: t.reshape(6, 4), x)
    close(dx, g.reshape(x.shape))
    y = rng.normal(size=(2, 2, 4))
    _, g, (dx, dy) = backprop(lambda s, t: gg.cat([s, t], 1), x, y)
    close(dx, g[:, :3]), close(dy, g[:, 3:])
    _, g, (dx,) = backprop(lambda t: t.repeat(2, 1, 3), x)
    close(dx, g.reshape(2, 2, 1, 3, 3, 4).sum(axis=(0, 2, 4)))
    _, g, (dx,) = backprop(lambda t: t.flip(2), x)
    close(dx, g[:, :, ::-1])


def test_sliding_window_col2im():
    from glassgrad.ops.movement import SlidingWindow

    x = rng.normal(size=(2, 7, 6))
    k, s, d = (3, 2), (2, 1), (1, 2)
    out, g, (dx,) = backprop(lambda t: SlidingWindow.apply(t, k, s, d), x)
    OH, OW = out.shape[1], out.shape[2]
    expect = np.zeros_like(x)
    for p in range(k[0]):  # the documented loop over kernel offsets
        for q in range(k[1]):
            expect[:, p * d[0]: p * d[0] + (OH - 1) * s[0] + 1: s[0],
                   q * d[1]: q * d[1] + (OW - 1) * s[1] + 1: s[1]] += g[:, :, :, p, q]
    close(dx, expect)


# ----------------------------------------------------------------------------- indexing.md
def test_indexing_scatter_add():
    x = rng.normal(size=(5, 3))
    idx = np.array([0, 2, 2, 4, 0, 0])
    _, g, (dx,) = backprop(lambda t: t[idx], x)
    expect = np.zeros_like(x)
    np.add.at(expect, idx, g)
    close(dx, expect)
    assert expect[0].any() and dx[1].sum() == 0
    index = np.array([[0, 2, 2], [1, 1, 0]])
    x2 = rng.normal(size=(2, 4))
    _, g, (dx,) = backprop(lambda t: t.gather(1, gg.tensor(index)), x2)
    expect = np.zeros_like(x2)
    for i in range(2):
        for j in range(3):
            expect[i, index[i, j]] += g[i, j]
    close(dx, expect)


def test_embedding_rows_add_up():
    W = rng.normal(size=(6, 3))
    ids = np.array([[1, 4, 1], [5, 1, 0]])
    _, g, (dW,) = backprop(lambda w: F.embedding(gg.tensor(ids), w), W)
    expect = np.zeros_like(W)
    np.add.at(expect, ids.reshape(-1), g.reshape(-1, 3))
    close(dW, expect)


# ----------------------------------------------------------------------------- linalg.md
def test_matmul_2d_vector_batched():
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
    _, G, (dA, dB) = backprop(lambda a, b: a @ b, A, B)
    close(dA, G @ B.T), close(dB, A.T @ G)
    a, b = rng.normal(size=4), rng.normal(size=4)
    _, g, (da, db) = backprop(lambda s, t: s @ t, a, b)
    close(da, g * b), close(db, g * a)
    X, W = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))
    _, G, (dX, dW) = backprop(lambda s, t: s @ t, X, W)
    close(dX, G @ W.T)
    close(dW, X.reshape(6, 4).T @ G.reshape(6, 5))  # one GEMM over the folded batch


def test_jacobian_view_of_matmul():
    x, B = rng.normal(size=(1, 3)), rng.normal(size=(3, 2))
    J = gg.jacobian(lambda b: gg.tensor(x) @ b, gg.tensor(B)).array
    assert J.shape == (1, 2, 3, 2)
    close(J, np.einsum("p,jq->jpq", x[0], np.eye(2))[None])  # ∂z_j/∂B_pq = x_p δ_jq
    delta = rng.normal(size=(1, 2))
    close(np.einsum("ij,ijpq->pq", delta, J), x.T @ delta)


# ----------------------------------------------------------------------------- fully_connected.md
def _sig(z):
    return 1 / (1 + np.exp(-z))


def test_fully_connected_classic_column_form():
    """BP1–BP4 for one example, sigmoid layers, C = ½‖aᴸ − y‖²."""
    sizes = [4, 5, 3, 2]
    Ws = [rng.normal(size=(sizes[i + 1], sizes[i])) for i in range(3)]
    bs = [rng.normal(size=sizes[i + 1]) for i in range(3)]
    x, y = rng.normal(size=4), rng.normal(size=2)
    # forward
    a, zs, acts = x, [], [x]
    for W, b in zip(Ws, bs):
        z = W @ a + b
        a = _sig(z)
        zs.append(z)
        acts.append(a)
    sp = [_sig(z) * (1 - _sig(z)) for z in zs]
    delta = (acts[-1] - y) * sp[-1]                      # BP1
    dWs, dbs = [None] * 3, [None] * 3
    for lyr in (2, 1, 0):
        dWs[lyr] = np.outer(delta, acts[lyr])              # BP3: δˡ (aˡ⁻¹)ᵀ
        dbs[lyr] = delta                                   # BP4
        if lyr:
            delta = (Ws[lyr].T @ delta) * sp[lyr - 1]      # BP2
    # glassgrad
    tW = [gg.tensor(W, requires_grad=True) for W in Ws]
    tb = [gg.tensor(b, requires_grad=True) for b in bs]
    ta = gg.tensor(x)
    for W, b in zip(tW, tb):
        ta = (W @ ta + b).sigmoid()
    (((ta - gg.tensor(y)) ** 2).sum() * 0.5).backward()
    for lyr in range(3):
        close(tW[lyr].grad.array, dWs[lyr])
        close(tb[lyr].grad.array, dbs[lyr])


def test_fully_connected_batched_row_form():
    N, i, o = 6, 4, 3
    X, W, b = rng.normal(size=(N, i)), rng.normal(size=(o, i)), rng.normal(size=o)
    _, dZ, (dX, dW, db) = backprop(lambda x, w, c: F.linear(x, w, c), X, W, b)
    close(dX, dZ @ W), close(dW, dZ.T @ X), close(db, dZ.sum(0))
    assert dW.shape == W.shape and db.shape == b.shape


# ----------------------------------------------------------------------------- softmax_cross_entropy.md
def test_softmax_jacobian():
    x = rng.normal(size=5)
    p = np.exp(x) / np.exp(x).sum()
    J = gg.jacobian(lambda t: t.softmax(dim=0), gg.tensor(x)).array
    close(J, np.diag(p) - np.outer(p, p))
    close(J.sum(0), np.zeros(5))


def test_cross_entropy_collapses_to_p_minus_y():
    X = rng.normal(size=(7, 4))
    y = np.array([0, 3, 1, 1, 2, 0, 3])
    _, _, (dX,) = backprop(lambda t: F.cross_entropy(t, gg.tensor(y)), X, g=np.array(1.0))
    p = np.exp(X - X.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    close(dX, (p - np.eye(4)[y]) / 7)
    # label smoothing ε: target q = (1 − ε) onehot + ε/C
    eps = 0.1
    _, _, (dX,) = backprop(lambda t: F.cross_entropy(t, gg.tensor(y), label_smoothing=eps), X,
                           g=np.array(1.0))
    close(dX, (p - ((1 - eps) * np.eye(4)[y] + eps / 4)) / 7)


# ----------------------------------------------------------------------------- nn.md
def test_batch_norm_backward_formula():
    N, C = 8, 3
    x, gamma, beta = rng.normal(size=(N, C)), rng.normal(size=C), rng.normal(size=C)
    eps = 1e-5
    _, dy, (dx, dgamma, dbeta) = backprop(
        lambda t, w, b: F.batch_norm(t, None, None, w, b, training=True, eps=eps), x, gamma, beta)
    mu, var = x.mean(0), x.var(0)
    sigma = np.sqrt(var + eps)
    xh = (x - mu) / sigma
    close(dgamma, (dy * xh).sum(0)), close(dbeta, dy.sum(0))
    close(dx, gamma / (N * sigma) * (N * dy - dy.sum(0) - xh * (dy * xh).sum(0)))


def test_layer_norm_backward_formula():
    B, n = 4, 6
    x, gamma, beta = rng.normal(size=(B, n)), rng.normal(size=n), rng.normal(size=n)
    eps = 1e-5
    _, dy, (dx, dgamma, dbeta) = backprop(lambda t, w, b: F.layer_norm(t, (n,), w, b, eps=eps),
                                          x, gamma, beta)
    mu, sigma = x.mean(1, keepdims=True), np.sqrt(x.var(1, keepdims=True) + eps)
    xh = (x - mu) / sigma
    dxh = dy * gamma
    close(dx, (n * dxh - dxh.sum(1, keepdims=True) - xh * (dxh * xh).sum(1, keepdims=True))
          / (n * sigma))
    close(dgamma, (dy * xh).sum(0)), close(dbeta, dy.sum(0))


def test_losses_formulas():
    # smooth L1 / Huber: δx = g·ℓ′(d), δt = −δx, with ℓ′ = d/β | sign(d) (Huber: d | β·sign(d))
    x, t, beta = rng.normal(size=(4, 5)), rng.normal(size=(4, 5)), 0.8
    d = x - t
    inside = np.abs(d) < beta
    for huber, fn in ((False, F.smooth_l1_loss), (True, F.huber_loss)):
        kw = {"delta": beta} if huber else {"beta": beta}
        out, g, (dx, dt) = backprop(lambda a, b, fn=fn, kw=kw: fn(a, b, reduction="none", **kw),
                                    x, t)
        slope = np.where(inside, d, beta * np.sign(d)) if huber else np.where(
            inside, d / beta, np.sign(d))
        close(dx, g * slope), close(dt, -g * slope)
    # NLL: δx_ic = −[c = y_i]·w_{y_i}·g / Σ_i w_{y_i} (weighted mean)
    x, y, w = rng.normal(size=(6, 4)), rng.integers(0, 4, 6), rng.uniform(0.5, 2, 4)
    out, g, (dx,) = backprop(lambda a: F.nll_loss(a, gg.tensor(y), weight=gg.tensor(w)), x)
    close(out, -(w[y] * x[np.arange(6), y]).sum() / w[y].sum())
    expect = np.zeros_like(x)
    expect[np.arange(6), y] = -w[y] * g / w[y].sum()
    close(dx, expect)
    # BCE: δx = g·(x − t)/(x(1 − x)), δt = g·(log(1 − x) − log x)
    x, t = rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4))
    out, g, (dx, dt) = backprop(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"), x, t)
    close(dx, g * (x - t) / (x * (1 - x))), close(dt, g * (np.log(1 - x) - np.log(x)))
    # KL: δx = −g·t, δt = g·(log t + 1 − x); log target: −g·eᵗ, g·eᵗ(t − x + 1)
    x, t = rng.normal(size=(3, 4)), rng.uniform(0.1, 1, (3, 4))
    out, g, (dx, dt) = backprop(lambda a, b: F.kl_div(a, b, reduction="none"), x, t)
    close(out, t * (np.log(t) - x)), close(dx, -g * t), close(dt, g * (np.log(t) + 1 - x))
    out, g, (dx, dt) = backprop(lambda a, b: F.kl_div(a, b, reduction="none", log_target=True),
                                x, t)
    close(dx, -g * np.exp(t)), close(dt, g * np.exp(t) * (t - x + 1))


# ----------------------------------------------------------------------------- conv.md
def _im2col(x, kh, kw, s, d):
    N, C, H, W = x.shape
    OH, OW = (H - d * (kh - 1) - 1) // s + 1, (W - d * (kw - 1) - 1) // s + 1
    cols = np.zeros((N, C, kh, kw, OH, OW))
    for p in range(kh):
        for q in range(kw):
            cols[:, :, p, q] = x[:, :, p * d: p * d + (OH - 1) * s + 1: s,
                                 q * d: q * d + (OW - 1) * s + 1: s]
    return cols.reshape(N, C * kh * kw, OH * OW), OH, OW


def test_conv_as_im2col_gemm_and_col2im():
    N, C, O, H, W, kh, kw, s, d = 2, 3, 4, 7, 6, 3, 2, 2, 1
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(O, C, kh, kw)), rng.normal(size=O)
    out, dy, (dx, dw, db) = backprop(lambda t, u, c: F.conv2d(t, u, c, stride=s, dilation=d), x, w, b)
    cols, OH, OW = _im2col(x, kh, kw, s, d)
    W2 = w.reshape(O, -1)
    close(out, (np.einsum("ok,nkl->nol", W2, cols) + b[:, None]).reshape(N, O, OH, OW))
    delta = dy.reshape(N, O, OH * OW)
    close(dw, np.einsum("nol,nkl->ok", delta, cols).reshape(w.shape))     # Σ_n δ[n] @ cols[n]ᵀ
    close(db, dy.sum(axis=(0, 2, 3)))
    dcols = np.einsum("ok,nol->nkl", W2, delta).reshape(N, C, kh, kw, OH, OW)
    expect = np.zeros_like(x)                                            # col2im
    for p in range(kh):
        for q in range(kw):
            expect[:, :, p * d: p * d + (OH - 1) * s + 1: s,
                   q * d: q * d + (OW - 1) * s + 1: s] += dcols[:, :, p, q]
    close(dx, expect)


# ----------------------------------------------------------------------------- rnn.md
def test_lstm_cell_backward_equations():
    from glassgrad.ops.rnn import lstm_cell

    B, H = 3, 4
    xproj, h, c = rng.normal(size=(B, 4 * H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    w_hh = rng.normal(size=(4 * H, H)) * 0.5
    ts = [gg.tensor(a, requires_grad=True) for a in (xproj, h, c, w_hh)]
    h2, c2 = lstm_cell(*ts)
    dh, dc = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    ((h2 * gg.tensor(dh)).sum() + (c2 * gg.tensor(dc)).sum()).backward()
    a = xproj + h @ w_hh.T
    i, f, g, o = _sig(a[:, :H]), _sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])
    cn = f * c + i * g
    tc = np.tanh(cn)
    close(h2.array, o * tc)
    do = dh * tc
    dcs = dc + dh * o * (1 - tc ** 2)
    di, dg, df = dcs * g, dcs * i, dcs * c
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], 1)
    close(ts[0].grad.array, da)
    close(ts[1].grad.array, da @ w_hh)
    close(ts[2].grad.array, dcs * f)
    close(ts[3].grad.array, da.T @ h)


def test_lstm_layer_bias_gradient_is_the_sum_of_every_step_delta():
    """rnn.md: the bias inside the layer, ``∂L/∂b = Σ_t Σ_rows δa_t`` with ``δa_t`` the
    layer's ``∂L/∂Xproj``; and ``a_t = (x_t W_ihᵀ + b) + h W_hhᵀ``, the outputs of the layer
    given ``xproj + b``."""
    from glassgrad.ops.rnn import LSTMLayer

    T, B, H = 4, 3, 2
    arrs = [rng.normal(size=s) for s in ((T, B, 4 * H), (B, H), (B, H), (4 * H, H), (4 * H,))]
    ts = [gg.tensor(a, requires_grad=True) for a in arrs]
    out, hT, cT = LSTMLayer.apply(*ts)
    w = [rng.normal(size=t.shape) for t in (out, hT, cT)]
    sum((t * gg.tensor(v)).sum() for t, v in zip((out, hT, cT), w)).backward()
    close(ts[4].grad.array, ts[0].grad.array.sum((0, 1)))
    ref = LSTMLayer.apply(*(gg.tensor(a) for a in [arrs[0] + arrs[4]] + arrs[1:4]))
    for a, b in zip((out, hT, cT), ref):
        close(a.array, b.array)


def test_bptt_elman_rnn():
    T, B, I, H = 4, 2, 3, 5
    xs = rng.normal(size=(T, B, I))
    Wih, Whh, b = rng.normal(size=(H, I)), rng.normal(size=(H, H)) * 0.5, rng.normal(size=H)
    h0 = np.zeros((B, H))
    gout = rng.normal(size=(T, B, H))  # dL/dh_t from a loss at every step
    tWih, tWhh, tb = (gg.tensor(a, requires_grad=True) for a in (Wih, Whh, b))
    ht = gg.tensor(h0)
    loss = 0
    for t in range(T):
        ht = (gg.tensor(xs[t]) @ tWih.T + ht @ tWhh.T + tb).tanh()
        loss = loss + (ht * gg.tensor(gout[t])).sum()
    loss.backward()
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(xs[t] @ Wih.T + hs[-1] @ Whh.T + b))
    dWhh, dWih, db = np.zeros_like(Whh), np.zeros_like(Wih), np.zeros_like(b)
    carry = np.zeros((B, H))
    for t in reversed(range(T)):
        dh = gout[t] + carry
        da = dh * (1 - hs[t + 1] ** 2)
        dWhh += da.T @ hs[t]
        dWih += da.T @ xs[t]
        db += da.sum(0)
        carry = da @ Whh
    close(tWhh.grad.array, dWhh), close(tWih.grad.array, dWih), close(tb.grad.array, db)


# ----------------------------------------------------------------------------- attention.md
def test_attention_backward():
    L, S, E, Ev = 3, 4, 5, 2
    Q, K, V = rng.normal(size=(2, L, E)), rng.normal(size=(2, S, E)), rng.normal(size=(2, S, Ev))
    out, dO, (dQ, dK, dV) = backprop(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), Q, K, V)
    sc = 1 / np.sqrt(E)
    Sm = Q @ K.transpose(0, 2, 1) * sc
    P = np.exp(Sm - Sm.max(-1, keepdims=True))
    P /= P.sum(-1, keepdims=True)
    close(out, P @ V)
    dP = dO @ V.transpose(0, 2, 1)
    dS = P * (dP - (dP * P).sum(-1, keepdims=True))
    close(dV, P.transpose(0, 2, 1) @ dO)
    close(dQ, dS @ K * sc)
    close(dK, dS.transpose(0, 2, 1) @ Q * sc)
