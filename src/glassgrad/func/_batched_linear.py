"""``BatchedLinear``: the op behind ``linear`` inside ``vmap`` when the weight is batched.

``y[b] = x[b] · w[b]ᵀ (+ bias[b])`` for ``x: (B, M, in)``, ``w: (B, out, in)``, ``bias:
(B, out)``. The case that matters is ``vmap(grad(loss))``: ``grad`` makes each parameter a
batched leaf that is the *same* matrix for every sample (a broadcast view, stride 0 on the
batch axis). The forward then is one GEMM over all ``B·M`` rows, as for an unbatched
weight, and the backward writes each sample's weight gradient ``dW[b] = dY[b]ᵀ · X[b]``
(an outer product when ``M = 1``) — the per-sample gradients, never their sum.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp_of
from ..ops._util import op_error


class BatchedLinear(Function):
    """``Y[b] = X[b]·W[b]ᵀ + bias[b]`` (see the module docstring)."""

    formulas = {"inputs": "X, W, bias",
                "grads": ("dX[b] = dY[b] @ W[b]", "dW[b] = dY[b]ᵀ @ X[b]", "dbias[b] = sum_rows(dY[b])")}
    derivation = "docs/derivations/per_sample.md#the-same-gradients-through-vmapgradloss"

    @staticmethod
    def forward(ctx, x, w, b=None):
        if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
            raise op_error("linear", f"input dtype {x.dtype} and weight dtype {w.dtype} must be the "
                           "same", TypeError)
        xp = xp_of(x)
        ctx.save_for_backward(x, w)
        ctx.has_b = b is not None
        B, M, n_in = x.shape
        if w.strides[0] == 0:  # one weight for every sample: a single GEMM
            y = (x.reshape(B * M, n_in) @ w[0].T).reshape(B, M, w.shape[1])
        else:
            y = xp.matmul(x, w.transpose(0, 2, 1))
        if b is not None:
            y += b[:, None, :]
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gb = g.sum(1) if ctx.has_b else None
        if hasattr(g, "grad_fn"):  # create_graph: recorded (twice differentiable)
            return g @ w, g.permute((0, 2, 1)) @ x, gb
        xp = xp_of(g)
        B, M, n_out = g.shape
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        gx = gw = None
        if need_x and w.strides[0] == 0:
            gx = (g.reshape(B * M, n_out) @ w[0]).reshape(x.shape)
        elif need_x:
            gx = xp.matmul(g, w)
        if not need_w:
            pass
        elif M == 1:
            gw = xp.einsum("bo,bi->boi", g[:, 0], x[:, 0])  # outer products, written once
        else:
            gw = xp.matmul(g.transpose(0, 2, 1), x)
        return gx, gw, gb
