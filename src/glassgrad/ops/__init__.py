"""All differentiable ops, one file per family; each op's backward sits under its forward,
beside the text of its formulas (``formulas``) and the link to its derivation
(``derivation``). ``docs/derivations/INDEX.md`` lists every op with its file and tests.

========================  =====================================================
``elementwise.py``        + − × ÷ ** neg, max/min, where, exp, log, sqrt, abs,
                          sigmoid, relu, elu, gelu, softplus, log-sigmoid, clamp
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
                          one_hot, embedding
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
that run on arrays or, under ``create_graph=True``, on Tensors).
"""

from . import elementwise as _elementwise
from . import special as _special
from . import trig as _trig

# The pointwise and binary arithmetic ops of these three files return new arrays from
# their backward (``g ⊙ f'(x)`` products, sums of broadcast axes) or the upstream
# gradient itself (``unbroadcast`` of an unbroadcast input), so they declare
# ``Function.fresh_grads`` — here, in one place, while those classes are generated from
# their rule tables; the ownership test (GLASSGRAD_CHECK_OWNERSHIP=1) verifies each.
_FRESH = {
    _elementwise: ("Add Sub RSub Mul Div RDiv Neg Pow RPow Maximum Minimum Where Exp Log Log1p "
                   "Sqrt Abs Sigmoid Relu LeakyRelu Elu Erf Gelu Softplus Clamp Expm1 Exp2 "
                   "LogBase LogAddExp Fmod LogSigmoid"),
    _trig: "Sin Cos Tanh Tan Sinh Cosh Asin Acos Atan Atan2 Hypot",
    _special: "Lgamma Digamma Polygamma Erfc Erfinv I0 I1",
}
for _mod, _names in _FRESH.items():
    for _name in _names.split():
        getattr(_mod, _name).fresh_grads = True
