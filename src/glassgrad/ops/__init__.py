"""All differentiable ops, one file per family; each op's backward sits under its forward.

========================  =====================================================
``elementwise.py``        + − × ÷ ** neg, exp, log, sqrt, tanh, sigmoid, relu, ...
``reduce.py``             sum, mean, var, amax/amin, max(dim), logsumexp, softmax
``movement.py``           reshape, permute, expand, cat, stack, split, pad, tile,
                          sliding windows
``indexing.py``           ``x[idx]``, gather/scatter, one_hot
``linalg.py``             matmul
========================  =====================================================
"""
