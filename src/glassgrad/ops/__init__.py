"""All differentiable ops, one file per family; each op's backward sits under its forward.

========================  =====================================================
``elementwise.py``        + − × ÷ ** neg, exp, log, sqrt, tanh, sigmoid, relu, ...
``reduce.py``             sum, mean, var, amax/amin, max(dim), logsumexp, softmax
``movement.py``           reshape, permute, expand, cat, stack, split, pad, tile,
                          sliding windows
``indexing.py``           ``x[idx]``, gather/scatter, one_hot
``linalg.py``             matmul
``nn.py``                 fused layers: linear, cross-entropy, batch/layer norm,
                          embedding, dropout, log-sigmoid
``loss.py``               fused losses: smooth L1/Huber, NLL, binary CE, KL divergence
``conv.py``               convolution, transposed convolution, pooling
``rnn.py``                fused LSTM/GRU cells and layers
``attention.py``          scaled dot-product attention
``ctc.py``                CTC loss (alpha/beta recursions)
========================  =====================================================
"""
