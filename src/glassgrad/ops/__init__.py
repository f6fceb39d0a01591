"""All differentiable ops, one file per family; each op's backward sits under its forward,
beside the text of its formulas (``formulas``) and the link to its derivation
(``derivation``). The simple functions of one input (``exp``, ``tanh``, ``lgamma``, ...) are
instead one row each of a table (name, ``f``, VJP, formula text, derivation) from which
``_unary.py`` makes the same classes. ``docs/derivations/INDEX.md`` lists every op with its
file (the row's line for those) and tests.

========================  =====================================================
``elementwise.py``        + − × ÷ ** neg, max/min, where, exp, log, sqrt, abs,
                          sigmoid, relu, elu, gelu, softplus, log-sigmoid, clamp,
                          logaddexp
``trig.py``               sin, cos, tan, asin, acos, atan, atan2, hypot,
                          sinh, cosh, tanh
``rounding.py``           floor, ceil, trunc, round, sign (zero gradient)
``special.py``            lgamma, digamma, polygamma, erfc, erfinv, i0, i1
``extra.py``              asinh, acosh, atanh, scatter
``reduce.py``             sum, mean, var, std, norm, amax/amin, max(dim), prod,
                          cumsum/cumprod, sort, topk, logsumexp, softmax
``decomp.py``             logcumsumexp, Cholesky, QR, SVD
``movement.py``           reshape, permute, expand, cat, stack, split, pad, tile,
                          repeat_interleave, flip, sliding windows; cast,
                          to(device), clone
``indexing.py``           ``x[idx]``, ``x[idx] = v``, gather/scatter, tril/triu,
                          embedding (one_hot is in ``functional_api.py``)
``linalg.py``             matmul, einsum, inverse, determinant, solve
``linear.py``             the fused linear layer
``norm.py``               fused batch and layer normalization
``dropout.py``            dropout, channel dropout (dropout1d/2d/3d)
``loss.py``               fused losses: cross-entropy, smooth L1/Huber, NLL,
                          binary CE, KL divergence
``ctc.py``                CTC loss (alpha/beta recursions)
``conv.py``               convolution, transposed convolution (and the argument
                          checks and window view the next two share)
``pool.py``               max, average and adaptive pooling
``resample.py``           interpolate/upsample, fold/unfold, pixel_shuffle,
                          padding modes
``rnn.py``                fused LSTM/GRU cells and layers
``attention.py``          scaled dot-product attention
========================  =====================================================

Helpers: ``_util.py`` (unbroadcast, argument checks), ``_dual.py`` (backward formulas
that run on arrays or, under ``create_graph=True``, on Tensors), ``_unary.py`` (the op class
of a table row: ``unary(name, f, vjp, formula, derivation)``, ``binary(...)`` for two
inputs), ``kernels.py`` (the optional compiled loops the ops call when Numba is installed;
their code is ``_numba_kernels.py``, the NumPy loops in the ops stay the reference).
"""
