"""``glassgrad.func``: composable function transforms shaped like ``torch.func``.

* :func:`functional_call` — call a module with parameters/buffers swapped for given tensors.
* :func:`grad`, :func:`grad_and_value`, :func:`vjp`, :func:`jvp`, :func:`jacrev`,
  :func:`jacfwd`, :func:`hessian` — derivatives as functions, all by reverse mode
  (glassgrad has no forward-mode autodiff: ``jacfwd`` is ``jacrev``, ``jvp`` the
  double-vjp trick).
* :func:`stack_module_state` — an ensemble's parameters stacked for ``vmap``.
* :func:`vmap` — one batched call when every op reached has a batching rule (``vmap(grad(f))``
  gives per-sample gradients in one batched backward), else a loop over the mapped axis
  with a one-time warning naming what had no rule (``docs/func.md``).

Example, per-sample gradients the ``torch.func`` way::

    from glassgrad.func import functional_call, grad, vmap
    params = {k: v.detach() for k, v in model.named_parameters()}
    def loss(p, x, y):
        return F.cross_entropy(functional_call(model, p, (x.unsqueeze(0),)), y.unsqueeze(0))
    ps = vmap(grad(loss), in_dims=(None, 0, 0))(params, xb, yb)   # {name: (N, *shape)}
"""

from ._transforms import (
                          functional_call,
                          grad,
                          grad_and_value,
                          hessian,
                          jacfwd,
                          jacrev,
                          jvp,
                          stack_module_state,
                          vjp,
)
from ._vmap import vmap

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd",
           "hessian", "vmap", "stack_module_state"]
