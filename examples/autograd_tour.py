"""A short tour of glassgrad's autograd: gradients, their shapes, and a gradient check."""

import glassgrad as gg

gg.manual_seed(0)
x = gg.tensor([[0.5, -1.2], [0.7, 0.3]], requires_grad=True)
W = gg.randn(2, 4, requires_grad=True)
z = x @ W
loss = z.relu().sum()
loss.backward()
print("loss      =", loss.item())
print("grad_fn   =", loss.grad_fn, "<-", [e[0] for e in loss.grad_fn.next_functions if e])
print("dL/dx     =", x.grad, "shape", x.grad.shape)
print("dL/dW     =", W.grad, "shape", W.grad.shape)
print("dL/dW == xᵀ·(dL/dz):",
      gg.allclose(W.grad, x.detach().T @ (z.detach() > 0).float()))
print(gg.gradcheck(lambda x, W: (x @ W).tanh().sum(), [x, W]))
