"""Why backprop never builds a Jacobian: ∂Z/∂W of a 1×n by n×m product, contracted by hand.

For ``z = x W`` with ``x: (1, n)`` and ``W: (n, m)``, the Jacobian ``∂z/∂W`` has one
entry per (output, weight) pair: shape ``(1, m, n, m)`` with ``∂z_j/∂W_pq = x_p·[j = q]``
— mostly zeros. Backprop needs only its contraction with the incoming gradient
``δ = ∂L/∂z``: ``Σ_j δ_j ∂z_j/∂W_pq = x_p δ_q``, i.e. ``∂L/∂W = xᵀ δ``, an outer product
computed directly. This script builds the Jacobian with ``gg.jacobian``, contracts it,
and compares with ``xᵀ δ``, ``gg.vjp`` and ``backward``. It also shows a Hessian.

Run::

    python examples/glassbox_jacobian.py
"""

from __future__ import annotations

import numpy as np

import glassgrad as gg


def main() -> None:
    np.set_printoptions(precision=4, suppress=True)
    n, m = 3, 2
    x = gg.tensor([[1.0, 2.0, 3.0]], dtype=gg.float64)           # (1, n)
    W = gg.tensor(np.arange(n * m).reshape(n, m) / 10, dtype=gg.float64, requires_grad=True)
    delta = gg.tensor([[0.5, -1.0]], dtype=gg.float64)            # δ = ∂L/∂z, (1, m)

    J = gg.jacobian(lambda w: x @ w, W)
    print(f"z = x @ W with x {tuple(x.shape)}, W {tuple(W.shape)}: z {(1, m)}")
    print(f"Jacobian ∂z/∂W has shape {tuple(J.shape)}  (= z.shape + W.shape)")
    for j in range(m):
        print(f"∂z_{j}/∂W =\n{J.array[0, j]}")
    print(f"nonzeros: {np.count_nonzero(J.array)} of {J.array.size}")

    contracted = np.einsum("ij,ijpq->pq", delta.array, J.array)   # Σ_j δ_j ∂z_j/∂W
    outer = x.array.T @ delta.array                                # xᵀ δ
    print(f"\nΣ_j δ_j ∂z_j/∂W (contracting the Jacobian) =\n{contracted}")
    print(f"xᵀ δ (the outer product backprop computes) =\n{outer}")

    _, (vjp_w,) = gg.vjp(lambda w: x @ w, (W,), delta)
    (x @ W).backward(delta)
    print(f"gg.vjp gives the same: {np.allclose(vjp_w.array, outer)}; "
          f"backward gives the same: {np.allclose(W.grad.array, outer)}")
    assert np.allclose(contracted, outer) and np.allclose(W.grad.array, outer)

    # second derivatives: f(w) = Σ w³ has Hessian diag(6w)
    w = gg.tensor([1.0, -2.0, 0.5], dtype=gg.float64)
    H = gg.hessian(lambda t: (t ** 3).sum(), w)
    print(f"\nHessian of Σ w³ at w = {w.array}:\n{H.array}\n(= diag(6w) = {np.diag(6 * w.array).diagonal()})")


if __name__ == "__main__":
    main()
