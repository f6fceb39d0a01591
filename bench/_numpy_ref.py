"""Hand-written NumPy training loops for LeNet-5 and the row-wise MNIST LSTM: the bar for
"no framework tax" (as the MLP loop in ``bench_mnist_mlp.py``), used by ``bench_lenet.py``
and ``bench_lstm.py`` (variant ``numpy``).

Each does the arithmetic of its framework counterpart with plain NumPy and no framework:
forward, softmax cross-entropy (mean), the backward written out by hand, Adam
(PyTorch's defaults, lr 1e-3). They are written the way one would write them by hand for
speed, not as copies of glassgrad's kernels:

* LeNet-5 keeps its activations channels-last ``(N, H, W, C)``; a convolution is a strided
  window view copied into ``cols: (N·OH·OW, kh·kw·C)`` and one GEMM ``cols @ Wᵀ`` (weights
  kept as ``(O, kh·kw·C)``, the first Linear's columns permuted once to the channels-last
  flattening); 2×2 max pooling is a reshape ``(N, OH, 2, OW, 2, C)`` and a max, its
  backward routes the gradient to every position equal to its window's maximum (in this
  network a tie is a window of ReLU zeros, whose gradient the ReLU then zeroes anyway).
* The LSTM projects every step's input in one GEMM, runs the 28 steps (one GEMM and the
  gate arithmetic each, ``σ(x) = 1/(1+e⁻ˣ)``), and back-propagates through time with one
  GEMM per step for ``∂L/∂h`` and one GEMM over all steps for each weight gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

f32 = np.float32


class Adam:
    """Adam (β 0.9/0.999, ε 1e-8, no weight decay) over a list of float32 arrays, in place."""

    def __init__(self, params: list[np.ndarray], lr: float = 1e-3) -> None:
        self.p, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        b1, b2 = 0.9, 0.999
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, g, m, v, tmp in zip(self.p, grads, self.m, self.v, self.tmp):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.divide(v, c2, out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp += 1e-8
            np.divide(m, tmp, out=tmp)
            tmp *= self.lr / c1
            p -= tmp


def _softmax_ce_grad(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    s = e.sum(1, keepdims=True)
    n = len(y)
    loss = float(np.log(s[:, 0]).sum() - z[np.arange(n), y].sum()) / n
    e /= s
    e[np.arange(n), y] -= 1
    e /= n
    return loss, e


# ----------------------------------------------------------------------------- LeNet-5
def _windows(xp: np.ndarray, k: int, oh: int, ow: int) -> np.ndarray:
    """``(C, Hp, Wp, N) -> cols (C·k·k, OH·OW·N)`` (one copy of the strided window view)."""
    c, _, _, n = xp.shape
    s = xp.strides
    v = np.lib.stride_tricks.as_strided(xp, (c, k, k, oh, ow, n),
                                        (s[0], s[1], s[2], s[1], s[2], s[3]), writeable=False)
    return v.reshape(c * k * k, oh * ow * n)


def _mm_wide(w: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``w @ cols`` in blocks of 4,096 columns when ``cols`` has few rows (faster in
    OpenBLAS: the block stays in the L2 cache)."""
    if cols.shape[0] > 32:
        return w @ cols
    out = np.empty((w.shape[0], cols.shape[1]), f32)
    for i in range(0, cols.shape[1], 4096):
        np.matmul(w, cols[:, i:i + 4096], out=out[:, i:i + 4096])
    return out


def _mm_wgrad(d: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``d @ colsᵀ`` as ``(cols @ dᵀ)ᵀ`` (OpenBLAS's faster orientation), in summed blocks
    of 4,096 columns when ``cols`` has few rows."""
    if cols.shape[0] > 32:
        return (cols @ d.T).T
    acc = cols[:, :4096] @ d[:, :4096].T
    for i in range(4096, cols.shape[1], 4096):
        acc += cols[:, i:i + 4096] @ d[:, i:i + 4096].T
    return acc.T


class NumpyLeNet:
    """LeNet-5 (conv 6@5×5 pad 2, ReLU, pool 2, conv 16@5×5, ReLU, pool 2, 120, 84, 10)
    trained with Adam; ``state`` holds PyTorch's ``Sequential`` state-dict arrays.

    Activations are kept channels-first and batch-last ``(C, H, W, N)``, the layout in
    which NumPy's copies and the im2col GEMMs ``W @ cols`` run fastest (the one glassgrad
    uses); the fully connected layers work on ``(features, N)``."""

    def __init__(self, state: dict[str, np.ndarray], lr: float = 1e-3) -> None:
        def mat(k: str) -> np.ndarray:
            w = state[k]
            return np.ascontiguousarray(w.reshape(w.shape[0], -1), f32)

        def col(k: str) -> np.ndarray:
            return np.array(state[k], f32).reshape(-1, 1)

        self.params = [mat("0.weight"), col("0.bias"), mat("3.weight"), col("3.bias"),
                       mat("7.weight"), col("7.bias"), mat("9.weight"), col("9.bias"),
                       mat("11.weight"), col("11.bias")]
        self.opt = Adam(self.params, lr)

    @staticmethod
    def _pool(a: np.ndarray) -> np.ndarray:
        """2×2 max pooling of ``(C, H, W, N)``: a running maximum of the four offsets."""
        y = np.maximum(a[:, 0::2, 0::2], a[:, 0::2, 1::2])
        np.maximum(y, a[:, 1::2, 0::2], out=y)
        return np.maximum(y, a[:, 1::2, 1::2], out=y)

    @staticmethod
    def _unpool(g: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Route ``g`` to each window's first maximum (PyTorch's rule for ties, which
        MNIST's constant background makes common)."""
        d = np.empty(a.shape, f32)
        taken = None
        for p in (0, 1):
            for q in (0, 1):
                eq = a[:, p::2, q::2] == y
                if taken is None:
                    taken = eq.copy()
                else:
                    np.greater(eq, taken, out=eq)
                    taken |= eq
                np.multiply(g, eq, out=d[:, p::2, q::2])
        return d

    def forward(self, xb: np.ndarray) -> tuple:
        """``(logits (10, N), saved)``: the forward pass; ``saved`` is what :meth:`step`'s
        backward reads."""
        w1, b1, w2, b2, f1, fb1, f2, fb2, f3, fb3 = self.params
        n = xb.shape[0]
        xp = np.zeros((1, 32, 32, n), f32)
        xp[0, 2:30, 2:30] = xb[:, 0].transpose(1, 2, 0)
        c1 = _windows(xp, 5, 28, 28)                       # (25, 784·N)
        z1 = _mm_wide(w1, c1)
        z1 += b1
        a1 = np.maximum(z1, 0).reshape(6, 28, 28, n)
        p1 = self._pool(a1)                                # (6, 14, 14, N)
        c2 = _windows(p1, 5, 10, 10)                       # (150, 100·N)
        z2 = w2 @ c2
        z2 += b2
        a2 = np.maximum(z2, 0).reshape(16, 10, 10, n)
        p2 = self._pool(a2)                                # (16, 5, 5, N)
        h0 = p2.reshape(400, n)                            # PyTorch's flattening order
        h1 = f1 @ h0
        h1 += fb1
        np.maximum(h1, 0, out=h1)
        h2 = f2 @ h1
        h2 += fb2
        np.maximum(h2, 0, out=h2)
        logits = f3 @ h2
        logits += fb3
        return logits, (c1, z1, a1, p1, c2, z2, a2, p2, h0, h1, h2)

    def predict(self, xb: np.ndarray) -> np.ndarray:
        """Logits ``(N, 10)`` (inference: the forward alone)."""
        return self.forward(xb)[0].T

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        w1, b1, w2, b2, f1, fb1, f2, fb2, f3, fb3 = self.params
        n = xb.shape[0]
        logits, (c1, z1, a1, p1, c2, z2, a2, p2, h0, h1, h2) = self.forward(xb)
        loss, d = _softmax_ce_grad(logits.T, yb)
        d = d.T                                            # (10, N)
        # backward
        g_f3, g_fb3 = d @ h2.T, d.sum(1, keepdims=True)
        d = f3.T @ d
        d *= h2 > 0
        g_f2, g_fb2 = d @ h1.T, d.sum(1, keepdims=True)
        d = f2.T @ d
        d *= h1 > 0
        g_f1, g_fb1 = d @ h0.T, d.sum(1, keepdims=True)
        d = (f1.T @ d).reshape(16, 5, 5, n)
        d = self._unpool(d, a2, p2).reshape(16, 100 * n)
        d *= z2 > 0
        g_w2, g_b2 = _mm_wgrad(d, c2), d.sum(1, keepdims=True)
        dc = (w2.T @ d).reshape(6, 5, 5, 10, 10, n)
        dp1 = np.zeros((6, 14, 14, n), f32)                # col2im
        for i in range(5):
            for j in range(5):
                dp1[:, i:i + 10, j:j + 10] += dc[:, i, j]
        d = self._unpool(dp1, a1, p1).reshape(6, 784 * n)
        d *= z1 > 0
        g_w1, g_b1 = _mm_wgrad(d, c1), d.sum(1, keepdims=True)
        self.opt.step([g_w1, g_b1, g_w2, g_b2, g_f1, g_fb1, g_f2, g_fb2, g_f3, g_fb3])
        return loss


# ----------------------------------------------------------------------------- LSTM
def _sigmoid(a: np.ndarray) -> np.ndarray:
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    return np.divide(1.0, a, out=a)


class NumpyLSTM:
    """``LSTM(28, H)`` over the 28 rows, ``Linear(H, 10)`` on the last ``h``, Adam;
    ``weights`` as ``bench_lstm.init_weights`` (PyTorch's names)."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float = 1e-3) -> None:
        names = ("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                 "fc.weight", "fc.bias")
        self.params = [np.array(weights[k], f32) for k in names]
        self.opt = Adam(self.params, lr)

    def forward(self, xb: np.ndarray) -> tuple:
        """``(logits (B, 10), saved)``: the forward pass; ``saved`` is what :meth:`step`'s
        backward reads."""
        w_ih, w_hh, b_ih, b_hh, fw, fb = self.params
        B, T, D = xb.shape
        H = w_hh.shape[1]
        xs = np.ascontiguousarray(xb.transpose(1, 0, 2)).reshape(T * B, D)
        pre = (xs @ w_ih.T).reshape(T, B, 4 * H)
        pre += b_ih
        pre += b_hh
        w_hh_t = np.ascontiguousarray(w_hh.T)
        hs = np.zeros((T + 1, B, H), f32)                  # hs[t]: h before step t
        cs = np.zeros((T + 1, B, H), f32)
        tcs = np.empty((T, B, H), f32)
        for t in range(T):                                 # forward: pre[t] becomes i, f, g, o
            a = pre[t]
            a += hs[t] @ w_hh_t
            _sigmoid(a[:, :2 * H])
            np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            _sigmoid(a[:, 3 * H:])
            np.multiply(a[:, H:2 * H], cs[t], out=cs[t + 1])
            cs[t + 1] += a[:, :H] * a[:, 2 * H:3 * H]
            np.tanh(cs[t + 1], out=tcs[t])
            np.multiply(a[:, 3 * H:], tcs[t], out=hs[t + 1])
        logits = hs[T] @ fw.T
        logits += fb
        return logits, (xs, pre, hs, cs, tcs)

    def predict(self, xb: np.ndarray) -> np.ndarray:
        """Logits ``(B, 10)`` (inference: the forward alone)."""
        return self.forward(xb)[0]

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        w_ih, w_hh, b_ih, b_hh, fw, fb = self.params
        B, T, D = xb.shape
        H = w_hh.shape[1]
        logits, (xs, pre, hs, cs, tcs) = self.forward(xb)
        loss, d = _softmax_ce_grad(logits, yb)
        g_fw, g_fb = d.T @ hs[T], d.sum(0)
        dh = d @ fw
        dc = np.zeros((B, H), f32)
        da = np.empty((T, B, 4 * H), f32)
        for t in range(T - 1, -1, -1):                     # backward through time
            a = pre[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            tc = tcs[t]
            dcs = dc + dh * o * (1 - tc * tc)
            da[t, :, :H] = dcs * g * i * (1 - i)
            da[t, :, H:2 * H] = dcs * cs[t] * f * (1 - f)
            da[t, :, 2 * H:3 * H] = dcs * i * (1 - g * g)
            da[t, :, 3 * H:] = dh * tc * o * (1 - o)
            dc = dcs * f
            dh = da[t] @ w_hh
        da2 = da.reshape(T * B, 4 * H)
        g_whh = da2.T @ hs[:T].reshape(T * B, H)
        g_wih = da2.T @ xs
        g_b = da2.sum(0)
        self.opt.step([g_wih, g_whh, g_b, g_b, g_fw, g_fb])
        return loss


def numpy_model(kind: str, weights: Any) -> Any:
    """``NumpyLeNet`` or ``NumpyLSTM`` from the bench's initial weights."""
    return NumpyLeNet(weights) if kind == "lenet" else NumpyLSTM(weights)
