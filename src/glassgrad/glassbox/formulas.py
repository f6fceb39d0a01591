"""The backward formula of every op, in plain text: one table, keyed by op class.

Each entry is a :class:`Formula`: the names of the op's forward arguments (positional,
in ``forward``'s order), the name of its output(s), and for every argument that can
receive a gradient its vector-Jacobian product written with the incoming gradient
``dZ`` (``dY`` for the layers, ``dO`` for attention). ``gg.trace`` prints these next to
the gradients it records, so a backward pass reads like the derivation on paper::

    LinearBackward   dX = dY @ W        (64, 32)
                     dW = dYᵀ @ X       (10, 32)
                     db = sum_rows(dY)  (10,)

Notation: ``⊙`` elementwise product, ``@`` matrix product, ``ᵀ`` transpose of the last
two axes, ``unbroadcast(g, shape)`` sums ``g`` over the axes broadcasting added,
``[cond]`` is 1 where ``cond`` holds and 0 elsewhere. The derivations are in
``docs/derivations/``.

Ops defined outside this table (a user's ``Function``) fall back to the ``VJP:`` line of
their ``backward`` docstring (:func:`formula_for`).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Formula", "FORMULAS", "formula_for", "input_names"]


@dataclass(frozen=True)
class Formula:
    """The backward of one op.

    Attributes
    ----------
    inputs : tuple of str
        Names of ``forward``'s positional arguments. A trailing name ending in ``*``
        (``"x_i*"``) stands for any number of tensors (``cat``, ``stack``).
    grads : tuple of (str or None)
        The VJP of each argument, aligned with ``inputs`` (None: no gradient, e.g. a
        shape or an index).
    output : str
        Name of the output (``"Z"``; several comma-separated for multi-output ops).
    doc : str
        The derivation: ``<chapter>.md#<section>`` under ``docs/derivations/``.
    """

    inputs: tuple
    grads: tuple
    output: str = "Z"
    doc: str = ""

    def text(self) -> str:
        """All gradient formulas on one line, separated by ``;``."""
        return "; ".join(g for g in self.grads if g)


def _f(inputs: str, grads: tuple, output: str = "Z", doc: str = "") -> Formula:
    names = tuple(s.strip() for s in inputs.split(",")) if inputs else ()
    if len(names) != len(grads):
        raise ValueError(f"formula table: {len(names)} inputs {names} but {len(grads)} grads")
    return Formula(names, tuple(grads), output, doc)


_EW, _RED, _MOV, _IDX, _LIN = ("elementwise.md", "reductions.md", "movement.md", "indexing.md",
                               "linalg.md")

# (module, class name) -> Formula. Modules are imported lazily by :func:`_table`.
_SPEC: dict[tuple[str, str], Formula] = {
    # ------------------------------------------------------------------ elementwise
    ("glassgrad.ops.elementwise", "Add"): _f("A, B", (
        "dA = unbroadcast(dZ, A.shape)", "dB = unbroadcast(dZ, B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "Sub"): _f("A, B", (
        "dA = unbroadcast(dZ, A.shape)", "dB = −unbroadcast(dZ, B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "RSub"): _f("A, c", ("dA = −dZ", None), doc=_EW),
    ("glassgrad.ops.elementwise", "Mul"): _f("A, B", (
        "dA = unbroadcast(dZ ⊙ B, A.shape)", "dB = unbroadcast(dZ ⊙ A, B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "Div"): _f("A, B", (
        "dA = unbroadcast(dZ / B, A.shape)", "dB = unbroadcast(−dZ ⊙ A / B², B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "RDiv"): _f("A, c", ("dA = −dZ ⊙ c / A²", None), doc=_EW),
    ("glassgrad.ops.elementwise", "Neg"): _f("A", ("dA = −dZ",), doc=_EW),
    ("glassgrad.ops.elementwise", "Pow"): _f("A, B", (
        "dA = unbroadcast(dZ ⊙ B ⊙ A^(B−1), A.shape)",
        "dB = unbroadcast(dZ ⊙ Z ⊙ log A, B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "RPow"): _f("A, c", ("dA = dZ ⊙ Z ⊙ log c", None), doc=_EW),
    ("glassgrad.ops.elementwise", "Maximum"): _f("A, B", (
        "dA = unbroadcast(dZ ⊙ ([A > B] + ½[A = B]), A.shape)",
        "dB = unbroadcast(dZ ⊙ ([B > A] + ½[A = B]), B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "Minimum"): _f("A, B", (
        "dA = unbroadcast(dZ ⊙ ([A < B] + ½[A = B]), A.shape)",
        "dB = unbroadcast(dZ ⊙ ([B < A] + ½[A = B]), B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "Where"): _f("cond, A, B", (
        None, "dA = unbroadcast(dZ ⊙ [cond], A.shape)",
        "dB = unbroadcast(dZ ⊙ [¬cond], B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "Exp"): _f("X", ("dX = dZ ⊙ Z",), doc=_EW),
    ("glassgrad.ops.elementwise", "Log"): _f("X", ("dX = dZ / X",), doc=_EW),
    ("glassgrad.ops.elementwise", "Log1p"): _f("X", ("dX = dZ / (1 + X)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Sqrt"): _f("X", ("dX = dZ / (2Z)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Abs"): _f("X", ("dX = dZ ⊙ sign(X)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Sin"): _f("X", ("dX = dZ ⊙ cos X",), doc=_EW),
    ("glassgrad.ops.elementwise", "Expm1"): _f("X", ("dX = dZ ⊙ (Z + 1)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Exp2"): _f("X", ("dX = dZ ⊙ Z ⊙ ln 2",), doc=_EW),
    ("glassgrad.ops.elementwise", "LogBase"): _f("X, base", ("dX = dZ / (X ⊙ ln base)", None),
                                                 doc=_EW),
    ("glassgrad.ops.elementwise", "Tan"): _f("X", ("dX = dZ ⊙ (1 + Z²)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Sinh"): _f("X", ("dX = dZ ⊙ cosh X",), doc=_EW),
    ("glassgrad.ops.elementwise", "Cosh"): _f("X", ("dX = dZ ⊙ sinh X",), doc=_EW),
    ("glassgrad.ops.elementwise", "Asin"): _f("X", ("dX = dZ / √(1 − X²)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Acos"): _f("X", ("dX = −dZ / √(1 − X²)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Atan"): _f("X", ("dX = dZ / (1 + X²)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Atan2"): _f("A, B", (
        "dA = unbroadcast(dZ ⊙ B / (A² + B²), A.shape)",
        "dB = unbroadcast(−dZ ⊙ A / (A² + B²), B.shape)"), doc=_EW),
    ("glassgrad.ops.elementwise", "Hypot"): _f("A, B", (
        "dA = unbroadcast(dZ ⊙ A / Z, A.shape)", "dB = unbroadcast(dZ ⊙ B / Z, B.shape)"),
        doc=_EW),
    ("glassgrad.ops.elementwise", "LogAddExp"): _f("A, B", (
        "dA = unbroadcast(dZ ⊙ exp(A − Z), A.shape)", "dB = unbroadcast(dZ ⊙ exp(B − Z), B.shape)"),
        doc=_EW),
    ("glassgrad.ops.elementwise", "Fmod"): _f("A, B, floor", (
        "dA = unbroadcast(dZ, A.shape)",
        "dB = unbroadcast(−dZ ⊙ q, B.shape), q = trunc(A/B) (remainder: floor(A/B))", None),
        doc=_EW),
    ("glassgrad.ops.elementwise", "Cos"): _f("X", ("dX = −dZ ⊙ sin X",), doc=_EW),
    ("glassgrad.ops.elementwise", "Tanh"): _f("X", ("dX = dZ ⊙ (1 − Z²)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Sigmoid"): _f("X", ("dX = dZ ⊙ Z ⊙ (1 − Z)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Relu"): _f("X", ("dX = dZ ⊙ [Z > 0]",), doc=_EW),
    ("glassgrad.ops.rounding", "Rounded"): _f("X", ("dX = 0 (floor/ceil/trunc/round/sign: "
                                                    "piecewise constant)",), doc=_EW),
    ("glassgrad.ops.elementwise", "LeakyRelu"): _f("X, slope", (
        "dX = dZ ⊙ (1 if X > 0 else slope)", None), doc=_EW),
    ("glassgrad.ops.elementwise", "Elu"): _f("X, alpha", (
        "dX = dZ ⊙ (1 if X > 0 else α·eˣ)", None), doc=_EW),
    ("glassgrad.ops.elementwise", "Erf"): _f("X", ("dX = dZ ⊙ (2/√π)·e^(−X²)",), doc=_EW),
    ("glassgrad.ops.elementwise", "Gelu"): _f("X, approximate", (
        "dX = dZ ⊙ (Φ(X) + X·φ(X))", None), doc=_EW),
    ("glassgrad.ops.elementwise", "Softplus"): _f("X, beta, threshold", (
        "dX = dZ ⊙ σ(βX)", None, None), doc=_EW),
    ("glassgrad.ops.elementwise", "Clamp"): _f("X, lo, hi", (
        "dX = dZ ⊙ [lo ≤ X ≤ hi]", None, None), doc=_EW),
    # ------------------------------------------------------------------ reductions
    ("glassgrad.ops.reduce", "Sum"): _f("X, axes, keepdims", (
        "dX = broadcast(dZ, X.shape)", None, None), doc=_RED),
    ("glassgrad.ops.reduce", "Mean"): _f("X, axes, keepdims", (
        "dX = broadcast(dZ, X.shape) / n", None, None), doc=_RED),
    ("glassgrad.ops.reduce", "Var"): _f("X, axes, correction, keepdims", (
        "dX = broadcast(dZ) ⊙ 2(X − mean(X)) / (n − correction)", None, None, None), doc=_RED),
    ("glassgrad.ops.reduce", "Std"): _f("X, axes, correction, keepdims", (
        "dX = broadcast(dZ) ⊙ (X − mean(X)) / ((n − correction)·Z)", None, None, None), doc=_RED),
    ("glassgrad.ops.reduce", "PNorm"): _f("X, p, axes, keepdims", (
        "dX = broadcast(dZ) ⊙ X ⊙ |X|^(p−2) / Z^(p−1)", None, None, None), doc=_RED),
    ("glassgrad.ops.reduce", "Amax"): _f("X, axes, keepdims", (
        "dX = broadcast(dZ) ⊙ [X = max] / #maxima", None, None), doc=_RED),
    ("glassgrad.ops.reduce", "Amin"): _f("X, axes, keepdims", (
        "dX = broadcast(dZ) ⊙ [X = min] / #minima", None, None), doc=_RED),
    ("glassgrad.ops.reduce", "MaxDim"): _f("X, dim, keepdims, largest", (
        "dX = scatter(dZ at argmax, X.shape)", None, None, None), output="Z, idx", doc=_RED),
    ("glassgrad.ops.reduce", "CumSum"): _f("X, dim", (
        "dX = flip(cumsum(flip(dZ)))  (dX_j = Σ_{k≥j} dZ_k)", None), doc=_RED),
    ("glassgrad.ops.reduce", "CumProd"): _f("X, dim", (
        "dX_j = Σ_{k≥j} dZ_k·Z_k / X_j  (zeros: P_j·S_j, S_j = dZ_j + X_{j+1}·S_{j+1})", None),
        doc=_RED),
    ("glassgrad.ops.reduce", "Prod"): _f("X, dim, keepdims", (
        "dX_j = broadcast(dZ) ⊙ Π_{i≠j} X_i  (prefix × suffix products)", None, None),
        doc=_RED),
    ("glassgrad.ops.reduce", "Sort"): _f("X, dim, descending", (
        "dX = scatter(dZ → idx)  (the inverse permutation)", None, None), output="Z, idx",
        doc=_RED),
    ("glassgrad.ops.reduce", "TopK"): _f("X, k, dim, largest", (
        "dX = scatter(dZ → idx), 0 elsewhere", None, None, None), output="Z, idx", doc=_RED),
    ("glassgrad.ops.reduce", "LogSumExp"): _f("X, axes, keepdims", (
        "dX = broadcast(dZ) ⊙ softmax(X)", None, None), doc=_RED),
    ("glassgrad.ops.reduce", "Softmax"): _f("X, axis", (
        "dX = Z ⊙ (dZ − sum_axis(dZ ⊙ Z))", None), doc=_RED),
    ("glassgrad.ops.reduce", "LogSoftmax"): _f("X, axis", (
        "dX = dZ − exp(Z) ⊙ sum_axis(dZ)", None), doc=_RED),
    # ------------------------------------------------------------------ movement
    ("glassgrad.ops.movement", "Reshape"): _f("X, shape", (
        "dX = dZ.reshape(X.shape)", None), doc=_MOV),
    ("glassgrad.ops.movement", "Permute"): _f("X, perm", (
        "dX = dZ.permute(inverse(perm))", None), doc=_MOV),
    ("glassgrad.ops.movement", "Expand"): _f("X, shape", (
        "dX = unbroadcast(dZ, X.shape)", None), doc=_MOV),
    ("glassgrad.ops.movement", "Cat"): _f("axis, X_i*", (
        None, "dX_i = dZ[slice of X_i along axis]"), doc=_MOV),
    ("glassgrad.ops.movement", "Stack"): _f("axis, X_i*", (
        None, "dX_i = dZ.select(axis, i)"), doc=_MOV),
    ("glassgrad.ops.movement", "Split"): _f("X, sizes, axis", (
        "dX = cat(dZ_0, dZ_1, …; axis)", None, None), output="Z_i", doc=_MOV),
    ("glassgrad.ops.movement", "Pad"): _f("X, pad_width, value", (
        "dX = dZ[interior]", None, None), doc=_MOV),
    ("glassgrad.ops.movement", "Tile"): _f("X, reps", (
        "dX = sum over the copies of dZ", None), doc=_MOV),
    ("glassgrad.ops.movement", "RepeatInterleave"): _f("X, repeats, axis", (
        "dX = sum of each run of k copies of dZ", None, None), doc=_MOV),
    ("glassgrad.ops.movement", "Flip"): _f("X, axes", ("dX = flip(dZ, axes)", None), doc=_MOV),
    ("glassgrad.ops.movement", "SlidingWindow"): _f("X, window, stride, dilation", (
        "dX = col2im(dZ): scatter-add every window back", None, None, None), doc=_MOV),
    # ------------------------------------------------------------------ indexing
    ("glassgrad.ops.indexing", "GetItem"): _f("X, idx", (
        "dX = zeros(X.shape); dX[idx] += dZ", None), doc=_IDX),
    ("glassgrad.ops.indexing", "IndexScatter"): _f("G, idx, shape", (
        "dG = dZ[idx]", None, None), doc=_IDX),
    ("glassgrad.ops.indexing", "TakeAlong"): _f("X, index, dim", (
        "dX = scatter_add(dZ at index along dim)", None, None), doc=_IDX),
    ("glassgrad.ops.indexing", "Tri"): _f("X, k, upper", (
        "dX = tril(dZ, k)  (triu: triu(dZ, k))", None, None), doc=_IDX),
    ("glassgrad.ops.indexing", "ScatterAlong"): _f("G, index, dim, shape", (
        "dG = gather(dZ, index, dim)", None, None, None), doc=_IDX),
    # ------------------------------------------------------------------ linalg
    ("glassgrad.ops.linalg", "MatMul"): _f("A, B", ("dA = dZ @ Bᵀ", "dB = Aᵀ @ dZ"), doc=_LIN),
    # ------------------------------------------------------------------ small ops of Tensor
    ("glassgrad.tensor", "Cast"): _f("X, dtype", ("dX = dZ cast to X.dtype", None), doc=_EW),
    ("glassgrad.tensor", "ToDevice"): _f("X, device", ("dX = dZ moved to X.device", None),
                                         doc=_EW),
    ("glassgrad.tensor", "Clone"): _f("X", ("dX = dZ",), doc=_EW),
    ("glassgrad.tensor", "IndexPut"): _f("X, idx, V", (
        "dX = dZ with zeros at idx", None, "dV = unbroadcast(dZ[idx], V.shape)"), doc=_IDX),
    # ------------------------------------------------------------------ recurrent cells
    ("glassgrad.ops.rnn", "LSTMCellFused"): _f("xproj, h, c, W_hh", (
        "dxproj = [δa_i, δa_f, δa_g, δa_o]",
        "dh = dxproj @ W_hh",
        "dc = (dc' + dh' ⊙ o ⊙ (1 − tanh²c')) ⊙ f",
        "dW_hh = dxprojᵀ @ h"), output="h', c'", doc="rnn.md"),
    ("glassgrad.ops.rnn", "LSTMLayer"): _f("Xproj, h_0, c_0, W_hh", (
        "dXproj[t] = [δa_i, δa_f, δa_g, δa_o] at step t (BPTT, newest step first)",
        "dh_0 = δa_first @ W_hh",
        "dc_0 = δc*_first ⊙ f_first",
        "dW_hh = Σ_t δa_tᵀ @ h_t−1 (one GEMM over all steps)"), output="out, h_T, c_T",
        doc="rnn.md"),
    ("glassgrad.ops.rnn", "GRUCellFused"): _f("xproj, h, W_hh, b_hh", (
        "dxproj = [δa_r, δa_z, δa_n]",
        "dh = dh' ⊙ z + δhp @ W_hh",
        "dW_hh = δhpᵀ @ h",
        "db_hh = sum_rows(δhp)"), output="h'", doc="rnn.md"),
    ("glassgrad.ops.rnn", "Unbind"): _f("X", ("dX = stack(dZ_0, …, dZ_T−1)",), output="Z_t",
                                       doc="rnn.md"),
    # ------------------------------------------------------------------ attention
    ("glassgrad.ops.attention", "ScaledDotProductAttention"): _f(
        "Q, K, V, M, scale, dropout_p, generator", (
        "dQ = dS @ K·scale  (dS = P ⊙ (dP − sum_row(dP ⊙ P)), dP = dO @ Vᵀ)",
        "dK = dSᵀ @ Q·scale",
        "dV = Pᵀ @ dO",
        "dM = dS", None, None, None), output="O", doc="attention.md"),
    # ------------------------------------------------------------------ fused layers (ops/nn.py)
    ("glassgrad.ops.linalg", "Einsum"): _f("equation, X_i*", (
        None, "dX_i = einsum(out, other specs -> spec_i)(dZ, other X)"), output="Z",
        doc="linalg.md"),
    ("glassgrad.ops.linalg", "Inv"): _f("A", ("dA = −Zᵀ @ dZ @ Zᵀ  (Z = A⁻¹)",), output="Z",
                                        doc="linalg.md"),
    ("glassgrad.ops.linalg", "Det"): _f("A", ("dA = dz · adj(A)ᵀ = dz · z · A⁻ᵀ",), output="z",
                                        doc="linalg.md"),
    ("glassgrad.ops.linalg", "SLogDet"): _f("A", ("dA = d(logabsdet) · A⁻ᵀ  (sign: none)",),
                                            output="sign, logabsdet", doc="linalg.md"),
    ("glassgrad.ops.linalg", "Solve"): _f("A, B", (
        "dA = −(A⁻ᵀ @ dX) @ Xᵀ", "dB = A⁻ᵀ @ dX  (one solve with Aᵀ)"), output="X",
        doc="linalg.md"),
    ("glassgrad.ops.nn", "Linear"): _f("X, W, b", (
        "dX = dY @ W", "dW = dYᵀ @ X", "db = sum_rows(dY)"), output="Y", doc="nn.md"),
}

_NN, _CONV = "nn.md", "conv.md"
_SPEC.update({
    ("glassgrad.ops.nn", "CrossEntropy"): _f(
        "X, y, weight, ignore_index, label_smoothing, reduction", (
            "dX = dL ⊙ (softmax(X) − onehot(y)) / N", None, None, None, None, None),
        output="L", doc="softmax_cross_entropy.md"),
    ("glassgrad.ops.nn", "BatchNorm"): _f(
        "X, γ, β, running_mean, running_var, use_batch_stats, momentum, eps, num_batches", (
            "dX = γ/(Nσ) ⊙ (N·dY − sum(dY) − X̂ ⊙ sum(dY ⊙ X̂))",
            "dγ = sum(dY ⊙ X̂)", "dβ = sum(dY)", None, None, None, None, None, None),
        output="Y", doc=_NN),
    ("glassgrad.ops.nn", "LayerNorm"): _f("X, γ, β, k, eps", (
        "dX = 1/(nσ) ⊙ (n·dX̂ − sum(dX̂) − X̂ ⊙ sum(dX̂ ⊙ X̂)), dX̂ = dY ⊙ γ",
        "dγ = sum_rows(dY ⊙ X̂)", "dβ = sum_rows(dY)", None, None), output="Y", doc=_NN),
    ("glassgrad.ops.nn", "Embedding"): _f("W, idx, padding_idx", (
        "dW = zeros(W.shape); dW[idx] += dZ", None, None), doc=_IDX),
    ("glassgrad.ops.nn", "LogSigmoid"): _f("X", ("dX = dZ ⊙ σ(−X)",), doc=_EW),
    ("glassgrad.ops.nn", "Dropout"): _f("X, p, mask_shape, generator", (
        "dX = dY ⊙ m  (m = [u ≥ p]/(1−p), the mask the forward drew)", None, None, None),
        output="Y", doc=_NN),
    # ------------------------------------------------------------------ losses (ops/loss.py)
    ("glassgrad.ops.loss", "Huber"): _f("X, T, β, huber", (
        "dX = dL ⊙ (D/β if |D| < β else sign(D))  (Huber: D, β·sign(D)), D = X − T",
        "dT = −dX", None, None), output="L", doc=_NN),
    ("glassgrad.ops.loss", "NLLLoss"): _f("X, y, weight, ignore_index, reduction", (
        "dX = −onehot(y) ⊙ w_y ⊙ dL / Σ w_y  (mean)", None, None, None, None),
        output="L", doc=_NN),
    ("glassgrad.ops.loss", "BinaryCrossEntropy"): _f("X, T", (
        "dX = dL ⊙ (X − T) / max(X(1 − X), 1e-12)", "dT = dL ⊙ (log(1 − X) − log X)"),
        output="L", doc=_NN),
    ("glassgrad.ops.loss", "KLDiv"): _f("X, T, log_target", (
        "dX = −dL ⊙ T  (log_target: −dL ⊙ eᵀ)",
        "dT = dL ⊙ (log T + 1 − X)  (log_target: dL ⊙ eᵀ(T − X + 1))", None),
        output="L", doc=_NN),
    ("glassgrad.ops.ctc", "CTCLoss"): _f("lp, targets, input_lengths, target_lengths, blank, zero_infinity", (
        "dlp[t, n, c] = dL_n ⊙ (exp(lp) − exp(lse_{s: l'_s = c}(α_t(s) + β_t(s)) + L_n − lp))"
        "  (t < input_length; PyTorch's logits-gradient convention)", None, None, None, None, None),
        output="L", doc="ctc.md#the-ctc-loss"),
    # ------------------------------------------------------------------ convolution (ops/conv.py)
    ("glassgrad.ops.conv", "ConvNd"): _f("X, W, b, stride, pads, dilation, groups, out_sp", (
        "dX = conv_transpose(dY, W) = col2im(Wᵀ @ dY)", "dW = Σ_n dY[n] @ cols(X)[n]ᵀ",
        "db = sum over (n, spatial) of dY", None, None, None, None, None), output="Y", doc=_CONV),
    ("glassgrad.ops.conv", "ConvTransposeNd"): _f(
        "X, W, b, out_shape, stride, pads, dilation, groups", (
            "dX = conv(dY, W)", "dW = Σ_n X[n] @ cols(dY)[n]ᵀ", "db = sum over (n, spatial) of dY",
            None, None, None, None, None), output="Y", doc=_CONV),
    ("glassgrad.ops.conv", "ConvWeightGrad"): _f("X, G, w_shape, stride, pads, dilation, groups", (
        "dX = conv_transpose(G, dZ)", "dG = conv(X, dZ)", None, None, None, None, None),
        output="dW", doc=_CONV),
    ("glassgrad.ops.conv", "MaxPoolNd"): _f("X, ks, stride, pads, dil, out_sp, with_indices", (
        "dX = scatter_add(dZ → arg-max of each window)", None, None, None, None, None, None),
        output="Z, idx", doc=_CONV),
    ("glassgrad.ops.conv", "MaxUnpoolScatter"): _f("G, arg, x_shape, geom", (
        "dG = dZ[arg-max positions]", None, None, None), doc=_CONV),
    ("glassgrad.ops.conv", "MaxPoolGather"): _f("X, arg, geom", (
        "dX = scatter_add(dZ → positions)", None, None), doc=_CONV),
    ("glassgrad.ops.conv", "AvgPoolNd"): _f("X, ks, stride, pads, inv_div, out_sp", (
        "dX[window] += dZ / divisor (each window spreads dZ evenly)", None, None, None, None,
        None), doc=_CONV),
    ("glassgrad.ops.conv", "AvgPoolTranspose"): _f("G, x_shape, geom", (
        "dG = avg_pool(dZ)", None, None), doc=_CONV),
})

# identity nodes that nn.Module inserts around a module with full backward hooks
_SPEC.update({
    ("glassgrad.nn.module", "_ModuleInputsHook"): _f("state, X_i*", (
        None, "dX_i = dZ_i (identity; runs the module's backward hooks)"), output="Z_i", doc=_EW),
    ("glassgrad.nn.module", "_ModuleOutputsHook"): _f("state, Y_i*", (
        None, "dY_i = dZ_i (identity; records dL/d(outputs) for the hooks)"), output="Z_i",
        doc=_EW),
})

# ops of ops/extra.py (PyTorch-compatibility ops that are not compositions)
_SPEC.update({
    ("glassgrad.ops.extra", "Asinh"): _f("X", ("dX = dZ / √(X² + 1)",), doc="extra.md#asinh"),
    ("glassgrad.ops.extra", "Acosh"): _f("X", ("dX = dZ / √(X² − 1)",), doc="extra.md#acosh"),
    ("glassgrad.ops.extra", "Atanh"): _f("X", ("dX = dZ / (1 − X²)",), doc="extra.md#atanh"),
    ("glassgrad.ops.extra", "ScatterPut"): _f("S, index, dim, shape", (
        "dS = gather(dZ, index, dim)", None, None, None), doc="extra.md#scatter"),
})

# special functions (ops/special.py)
_SPEC.update({
    ("glassgrad.ops.special", "Lgamma"): _f("X", ("dX = dZ ⊙ ψ(X)",), doc="special.md#lgamma"),
    ("glassgrad.ops.special", "Digamma"): _f("X", ("dX = dZ ⊙ ψ⁽¹⁾(X)",),
                                             doc="special.md#digamma"),
    ("glassgrad.ops.special", "Polygamma"): _f("X, n", ("dX = dZ ⊙ ψ⁽ⁿ⁺¹⁾(X)", None),
                                               doc="special.md#polygamma"),
    ("glassgrad.ops.special", "Erfc"): _f("X", ("dX = −dZ ⊙ (2/√π) e^(−X²)",),
                                          doc="special.md#erfc"),
    ("glassgrad.ops.special", "Erfinv"): _f("X", ("dX = dZ ⊙ (√π/2) e^(Z²)",),
                                            doc="special.md#erfinv"),
    ("glassgrad.ops.special", "I0"): _f("X", ("dX = dZ ⊙ I₁(X)",), doc="special.md#i0-and-i1"),
    ("glassgrad.ops.special", "I1"): _f("X", ("dX = dZ ⊙ (I₀(X) − I₁(X)/X)",),
                                        doc="special.md#i0-and-i1"),
})

# a log-space scan and the matrix decompositions (ops/decomp.py)
_SPEC.update({
    ("glassgrad.ops.decomp", "LogCumSumExp"): _f("X, dim", (
        "dX_j = Σ_{i≥j} dZ_i e^(X_j − Z_i)", None), doc="decompositions.md#logcumsumexp"),
    ("glassgrad.ops.decomp", "Cholesky"): _f("A", (
        "dA = sym(L⁻ᵀ Φ(Lᵀ dL) L⁻¹)",), output="L", doc="decompositions.md#cholesky"),
    ("glassgrad.ops.decomp", "QR"): _f("A", (
        "dA = (dQ + Q copyltu(R dRᵀ − dQᵀ Q)) R⁻ᵀ",), output="Q, R", doc="decompositions.md#qr"),
    ("glassgrad.ops.decomp", "SVD"): _f("A", (
        "dA = U[(F∘(UᵀdU − dUᵀU))S + diag(dS) + S(F∘(VᵀdV − dVᵀV))]Vᵀ "
        "+ (I − UUᵀ)dU S⁻¹Vᵀ + U S⁻¹dVᵀ(I − VVᵀ)",), output="U, S, Vh",
        doc="decompositions.md#svd"),
})

# The section of the chapter that derives each op (links become ``file.md#anchor``).
_SECTIONS = {
    "Pointwise functions": "Exp Log Log1p Sqrt Abs Sin Cos Tanh Sigmoid Relu LeakyRelu Elu Erf Gelu "
                           "Softplus Clamp LogSigmoid Rounded Expm1 Exp2 LogBase Tan Sinh Cosh Asin "
                           "Acos Atan",
    "Binary arithmetic": "Add Sub RSub Mul Div RDiv Neg Pow RPow Maximum Minimum Atan2 Hypot "
                         "LogAddExp Fmod",
    "where": "Where",
    "The vector-Jacobian product (VJP)": "Cast ToDevice Clone _ModuleInputsHook _ModuleOutputsHook",
    "sum": "Sum", "mean": "Mean", "var": "Var", "std": "Std", "norm": "PNorm",
    "max and min": "Amax Amin MaxDim",
    "logsumexp": "LogSumExp", "cumsum": "CumSum", "prod and cumprod": "Prod CumProd",
    "sort and topk": "Sort TopK", "tril and triu": "Tri",
    "softmax": "Softmax", "log_softmax": "LogSoftmax",
    "reshape": "Reshape", "permute and transpose": "Permute", "expand (broadcast_to)": "Expand",
    "cat, stack and split": "Cat Stack Split", "pad": "Pad",
    "tile and repeat_interleave": "Tile RepeatInterleave", "flip": "Flip",
    "sliding windows (im2col as a view)": "SlidingWindow",
    "Reading: z = x[idx]": "GetItem IndexScatter",
    "gather (take_along_dim) and its scatter": "TakeAlong ScatterAlong",
    "Writing: x[idx] = v (out of place)": "IndexPut",
    "Embedding": "Embedding",
    "The 2-D case": "MatMul", "einsum": "Einsum",
    "Inverse, determinant and solve": "Inv Det SLogDet Solve",
    "The LSTM cell backward": "LSTMCellFused",
    "Backpropagation through time (BPTT)": "GRUCellFused Unbind LSTMLayer",
    "Linear": "Linear", "Batch normalization (training mode)": "BatchNorm",
    "Layer normalization": "LayerNorm", "Dropout": "Dropout",
    "Smooth L1 and Huber": "Huber", "Negative log-likelihood": "NLLLoss",
    "Binary cross-entropy": "BinaryCrossEntropy", "KL divergence": "KLDiv",
    "Why softmax + cross-entropy collapses to p − y": "CrossEntropy",
    "Backward": "ConvNd ConvTransposeNd ConvWeightGrad ScaledDotProductAttention",
    "Pooling": "MaxPoolNd MaxUnpoolScatter MaxPoolGather AvgPoolNd AvgPoolTranspose",
}


def anchor(title: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces → ``-``."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


_BY_OP = {op: sec for sec, ops in _SECTIONS.items() for op in ops.split()}
for _key, _fm in list(_SPEC.items()):
    _sec = _BY_OP.get(_key[1])
    if _sec and "#" not in _fm.doc:
        _SPEC[_key] = replace(_fm, doc=f"{_fm.doc}#{anchor(_sec)}")

_TABLE: dict[type, Formula] | None = None
_LOADED: set = set()


def _table() -> dict[type, Formula]:
    """Resolve the (module, name) keys to classes; modules not written yet are skipped."""
    global _TABLE
    mods = {m for m, _ in _SPEC}
    if _TABLE is not None and _LOADED >= mods:
        return _TABLE
    table: dict[type, Formula] = {} if _TABLE is None else _TABLE
    for (mod, name), f in _SPEC.items():
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                continue
            raise
        _LOADED.add(mod)
        cls = getattr(m, name, None)
        if cls is not None:
            table[cls] = f
    _TABLE = table
    return table


class _Formulas(dict):
    """``FORMULAS[op_class]``: the table as a mapping (resolved on first use)."""

    def _load(self) -> None:
        if not dict.__len__(self) or len(_table()) != dict.__len__(self):
            dict.update(self, _table())

    def __getitem__(self, k: Any) -> Formula:
        self._load()
        return dict.__getitem__(self, k)

    def __contains__(self, k: Any) -> bool:
        self._load()
        return dict.__contains__(self, k)

    def get(self, k: Any, default: Any = None) -> Any:
        self._load()
        return dict.get(self, k, default)

    def __iter__(self):  # type: ignore[override]
        self._load()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._load()
        return dict.__len__(self)

    def items(self):  # type: ignore[override]
        self._load()
        return dict.items(self)

    def keys(self):  # type: ignore[override]
        self._load()
        return dict.keys(self)


FORMULAS: dict = _Formulas()

_VJP_RE = re.compile(r"VJP[^:]*:\s*(.+?)(?:\n\s*\n|$)", re.S)


def formula_for(op: Any) -> Formula | None:
    """The :class:`Formula` of an op class (or node), else one read from the ``VJP:`` line
    of its ``backward`` docstring (a user's ``Function``), else None."""
    cls = op if isinstance(op, type) else type(op)
    f = FORMULAS.get(cls)
    if f is not None:
        return f
    doc = getattr(cls.backward, "__doc__", None) or ""
    m = _VJP_RE.search(doc)
    if not m:
        return None
    text = " ".join(m.group(1).replace("``", "").split()).rstrip(".")
    return Formula((), (text,), "Z", "")


def input_names(f: Formula | None, n: int) -> list[str]:
    """Names of the ``n`` positional inputs of an op (expanding a ``*`` variadic name)."""
    if f is None or not f.inputs:
        return [f"input{i}" for i in range(n)]
    names = list(f.inputs)
    if names[-1].endswith("*"):
        base = names.pop()[:-1]
        k = n - len(names)
        names += [base.replace("_i", f"_{j}") for j in range(k)]
    while len(names) < n:
        names.append(f"input{len(names)}")
    return names[:n]


def grad_formulas(f: Formula | None, n: int) -> list[str | None]:
    """The gradient formula of each of ``n`` positional inputs (variadic expanded)."""
    if f is None:
        return [None] * n
    if not f.inputs:  # from a docstring: one text for the whole op
        return [f.grads[0]] + [None] * (n - 1) if n else []
    gs = list(f.grads)
    if f.inputs[-1].endswith("*"):
        tmpl = gs.pop()
        k = n - len(gs)
        gs += [tmpl.replace("_i", f"_{j}") if tmpl else None for j in range(k)]
    while len(gs) < n:
        gs.append(None)
    return gs[:n]
