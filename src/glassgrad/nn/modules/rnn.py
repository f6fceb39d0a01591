"""Recurrent layers with PyTorch's API: RNN, LSTM, GRU and their single-step cells.

Parameter names, shapes and gate orders are PyTorch's, so a ``state_dict`` maps one to
one (``weight_ih_l0 (G·H, in)``, ``weight_hh_l0 (G·H, H)``, ``bias_ih_l0``, ``bias_hh_l0``,
``_reverse`` suffix for the backward direction; G = 1 for RNN, 4 for LSTM (i, f, g, o),
3 for GRU (r, z, n)).

How a layer runs (read :meth:`RNNBase._run_direction`)::

    Xproj = X·W_ihᵀ + b           one GEMM for all T steps: (T·B, in) @ (in, G·H)
    for t in 0..T-1 (or reversed):
        h, c = cell(Xproj[t], h, c, W_hh)     one GEMM h·W_hhᵀ + one fused node
    output = stack(h_0..h_{T-1})

Backprop through time is autograd walking that chain backwards. The LSTM and GRU cells
are fused ops with hand-derived backward (:mod:`glassgrad.ops.rnn`); set
``module.fused = False`` to run the same math as a composition of primitive ops.
An LSTM without ``lengths`` runs the whole loop above as one node,
:class:`glassgrad.ops.rnn.LSTMLayer` (same per-step formulas, BPTT in one loop, and
``dW_hh`` as one GEMM over all steps instead of T small ones): a trace then shows one
``LSTMLayer`` node per layer and direction instead of T cell nodes. The GRU keeps the
chain of fused cells, unless the compiled kernels are installed (``glassgrad[fast]``,
:mod:`glassgrad.ops.kernels`): then it runs as one node too,
:class:`glassgrad.ops.rnn.GRULayer`, whose BPTT step is one compiled pass (on NumPy's
loops alone that node measured no faster than the chain; bench/README.md).

Variable-length batches: pass ``lengths=`` (glassgrad's replacement for
``PackedSequence``). The state stops changing after a sequence's last valid step (and
the reverse direction starts at it), padded outputs are zero, and ``h_n`` is the state
at each sequence's own end: the same results as PyTorch's
``pack_padded_sequence`` → RNN → ``pad_packed_sequence``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ... import dtypes as _dt
from ...autograd import recording
from ...autograd.grad_mode import STATE as _GRAD_STATE
from ...backend import np
from ...ops import kernels
from ...ops import rnn as R
from ...ops.linear import Linear as _Linear
from ...random import _rng
from ...tensor import Tensor, cat, stack
from ...tensor_methods._common import where
from ..module import Module
from ..parameter import Parameter
from ..utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _const(arr: Any) -> Tensor:
    t = Tensor._make(arr, False)
    recording.constant(t)  # zeros of the initial state: the same on every call
    return t


def _store_sizes(mod: Module, name: str, **sizes: int) -> None:
    """Check that each size is a positive int (a ValueError naming the layer ``name`` and
    the argument otherwise) and store it as the attribute of that name."""
    for arg, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {v!r}")
        setattr(mod, arg, v)


def _layers_first(states: list) -> Tensor:
    """The last states of every layer and direction as one ``(L·D, B, H)`` tensor. One
    state that is a fresh array no node saved (an output of the whole-layer ops, or
    anything without a graph) becomes a view with a new leading axis rather than a
    stacked copy (5 µs less per call at batch 1); otherwise — a cell's output a node may
    have saved — a copy, so that an in-place change of ``h_n`` cannot reach it."""
    s = states[0]
    if (len(states) == 1 and _GRAD_STATE.batching is None   # (vmap batches stack, not views)
            and (s.grad_fn is None or isinstance(s.grad_fn, (R.LSTMLayer, R.GRULayer)))):
        return s.unsqueeze(0)
    return stack(states, 0)


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (PyTorch's arguments).

    Parameters
    ----------
    mode : {'RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU'}
    input_size, hidden_size : int
    num_layers : int
        Stacked layers; layer ``k > 0`` reads the (concatenated) outputs of layer ``k−1``.
    bias : bool
        Use ``bias_ih`` and ``bias_hh``.
    batch_first : bool
        Input/output ``(B, T, F)`` instead of ``(T, B, F)`` (states stay ``(L·D, B, H)``).
    dropout : float
        Dropout on the outputs of every layer but the last, in training mode.
    bidirectional : bool
        Add a reverse-direction layer (``_reverse`` parameters); outputs ``2·H`` features.
    proj_size : int
        Only 0 (LSTM projections are not implemented).
    dtype : dtype, optional
        Parameter dtype (default: ``gg.get_default_dtype()``).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {sorted(_GATES)}")
        _store_sizes(self, name, input_size=input_size, hidden_size=hidden_size,
                     num_layers=num_layers)
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but the last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if proj_size != 0:
            raise NotImplementedError(f"{name}: proj_size={proj_size} (LSTM with projections) is "
                                      "not implemented in glassgrad; use proj_size=0")
        self.mode = mode
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        self.fused = mode in ("LSTM", "GRU")
        self._dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        G = _GATES[mode] * hidden_size
        D = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            in_l = input_size if layer == 0 else hidden_size * D
            for d in range(D):
                sfx = self._suffix(layer, d)
                shapes = [("weight_ih" + sfx, (G, in_l)), ("weight_hh" + sfx, (G, hidden_size))]
                if bias:
                    shapes += [("bias_ih" + sfx, (G,)), ("bias_hh" + sfx, (G,))]
                for pname, shp in shapes:
                    setattr(self, pname, Parameter(np.empty(shp, dtype=self._dtype)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ ``U(−1/√H, 1/√H)`` (PyTorch's default)."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for name in self._flat_weights_names:
            p = self._parameters[name]
            p.array[...] = _rng(None).uniform(-k, k, size=p.shape)
            p._version[0] += 1

    @property
    def all_weights(self) -> list:
        """Parameters grouped per layer and direction: ``[[w_ih, w_hh, b_ih, b_hh], ...]``."""
        per = 4 if self.bias else 2
        ws = [self._parameters[n] for n in self._flat_weights_names]
        return [ws[i:i + per] for i in range(0, len(ws), per)]

    def flatten_parameters(self) -> None:
        """No-op (PyTorch needs it for cuDNN; kept so that ported code runs)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------------ forward
    def _check_input(self, input: Any) -> tuple[Tensor, bool]:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of 2 (unbatched: (T, {self.input_size})) or 3 "
                             f"({'(B, T' if self.batch_first else '(T, B'}, {self.input_size})) "
                             f"dimensions, got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {input.shape[-1]} (input shape "
                             f"{tuple(input.shape)})")
        if input.shape[1 if input.ndim == 3 and self.batch_first else 0] == 0:
            raise ValueError(f"{name}: expected a sequence length larger than 0, got input of "
                             f"shape {tuple(input.shape)}"
                             + (" (batch_first: (B, T, F))" if self.batch_first else ""))
        w = self._parameters[self._flat_weights_names[0]]
        if input.dtype != w.dtype:
            raise TypeError(f"{name}: input dtype {input.dtype} does not match the parameters' "
                            f"dtype {w.dtype}; convert one of them (module.to(dtype) or "
                            f"input.to({w.dtype}))")
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        return input, batched

    def _check_hidden(self, h: Any, B: int, batched: bool, what: str) -> Tensor:
        name = type(self).__name__
        D = 2 if self.bidirectional else 1
        want = (self.num_layers * D, B, self.hidden_size) if batched else \
            (self.num_layers * D, self.hidden_size)
        if not isinstance(h, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(h).__name__}")
        if tuple(h.shape) != want:
            raise ValueError(f"{name}: expected {what} of shape {want} (num_layers·directions, "
                             f"{'batch, ' if batched else ''}hidden), got {tuple(h.shape)}")
        w = self._parameters[self._flat_weights_names[0]]
        if h.dtype != w.dtype:
            raise TypeError(f"{name}: {what} dtype {h.dtype} does not match the parameters' "
                            f"dtype {w.dtype}")
        return h if batched else h.unsqueeze(1)

    def forward(self, input: Tensor, hx: Any = None, lengths: Any = None) -> tuple:
        """Run the layer over a sequence.

        Parameters
        ----------
        input : Tensor or PackedSequence
            ``(T, B, input_size)`` (``(B, T, input_size)`` with ``batch_first``) or
            unbatched ``(T, input_size)``; a PackedSequence gives a PackedSequence output.
        hx : Tensor or (Tensor, Tensor), optional
            Initial state ``(num_layers·D, B, H)`` (``(h_0, c_0)`` for LSTM); zeros if None.
        lengths : sequence of int, optional
            Valid length of each batch element (glassgrad's stand-in for PackedSequence).

        Returns
        -------
        output : Tensor
            ``(T, B, D·H)`` (or batch-first / unbatched like the input).
        h_n : Tensor or (Tensor, Tensor)
            ``(num_layers·D, B, H)``; ``(h_n, c_n)`` for LSTM.
        """
        if lengths is None and self._untracked(input, hx):
            res = self._forward_arrays(input, hx)
            if res is not None:
                return res
        packed = None
        if isinstance(input, PackedSequence):     # PyTorch-style packed input
            if lengths is not None:
                raise ValueError(f"{type(self).__name__}: give either a PackedSequence or lengths=")
            packed, lengths = input, input.lengths
            input = input.padded.transpose(0, 1) if self.batch_first else input.padded
        x, batched = self._check_input(input)
        T, B = x.shape[0], x.shape[1]
        H = self.hidden_size
        D = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        dt = x.dtype
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                    raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
                h0 = self._check_hidden(hx[0], B, batched, "h_0")
                c0 = self._check_hidden(hx[1], B, batched, "c_0")
            else:
                h0 = self._check_hidden(hx, B, batched, "hx")
        masks = None
        if lengths is not None:
            from ..utils.rnn import _lengths_array

            lens = _lengths_array(lengths)
            if lens.shape[0] != B:
                raise ValueError(f"{type(self).__name__}: got {lens.shape[0]} lengths for a batch "
                                 f"of {B}")
            if lens.size and lens.max() > T:
                raise ValueError(f"{type(self).__name__}: lengths {lens.tolist()} exceed the "
                                 f"sequence length {T}")
            valid = np.arange(T)[:, None] < lens[None, :]               # (T, B)
            masks = (valid[:, :, None], valid[:, :, None].astype(dt))   # bool and float
        zeros = _const(np.zeros((B, H), dtype=dt))
        layer_in = x
        h_n: list = []
        c_n: list = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                hi = h0[k] if h0 is not None else zeros
                ci = (c0[k] if c0 is not None else zeros) if lstm else None
                out, hT, cT = self._run_direction(layer_in, layer, d, hi, ci, masks)
                outs.append(out)
                h_n.append(hT)
                if lstm:
                    c_n.append(cT)
            layer_in = outs[0] if D == 1 else cat(outs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                from .. import functional as F

                layer_in = F.dropout(layer_in, self.dropout, True)
        output = layer_in
        hn = _layers_first(h_n)
        cn = _layers_first(c_n) if lstm else None
        if packed is not None:
            output = PackedSequence(output, packed.lengths, packed.sorted_indices,
                                    packed.unsorted_indices)
        elif not batched:
            output = output.squeeze(1)
            hn = hn.squeeze(1)
            cn = cn.squeeze(1) if lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, ((hn, cn) if lstm else hn)

    def _untracked(self, input: Any, hx: Any) -> bool:
        """Whether :meth:`forward` may run on arrays: no graph can be wanted (grad mode off,
        or nothing involved requires grad), no ``vmap`` or ``gg.capture`` is tracing, no
        dropout between layers, and every layer runs as one whole-layer op (LSTM; GRU with
        the compiled kernels). Inference at batch 1 then costs the layer's loop and a few
        array calls instead of ~10 Tensor ops (transposes, reshapes, the bias sum, the
        states' new axis: 70 µs of the 210 of an LSTM 128 over 28 steps)."""
        st = _GRAD_STATE
        if (st.batching is not None or st.recorder is not None or st.anomaly
                or not isinstance(input, Tensor) or type(input.array) is not np.ndarray
                or not self.fused or (self.training and self.dropout > 0 and self.num_layers > 1)):
            return False
        if self.mode != "LSTM" and not (self.mode == "GRU" and kernels.backend() == "numba"):
            return False
        if st.grad_enabled:
            states = hx if isinstance(hx, (tuple, list)) else (hx,)
            if (input.requires_grad
                    or any(isinstance(h, Tensor) and h.requires_grad for h in states)
                    or any(self._parameters[n].requires_grad for n in self._flat_weights_names)):
                return False
        return True

    def _forward_arrays(self, input: Tensor, hx: Any) -> tuple | None:
        """:meth:`forward` on arrays (when :meth:`_untracked`): the same ops
        (``Linear``, ``LSTMLayer`` / ``GRULayer``) through ``forward_arrays``, the same
        results. None for anything but well-formed plain inputs and states (the Tensor path
        then runs, and reports what is wrong)."""
        x = input.array
        w0 = self._parameters[self._flat_weights_names[0]].array
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size or x.dtype != w0.dtype:
            return None
        batched = x.ndim == 3
        x = (x.transpose(1, 0, 2) if self.batch_first else x) if batched else x[:, None]
        T, B, H = x.shape[0], x.shape[1], self.hidden_size
        lstm = self.mode == "LSTM"
        D = 2 if self.bidirectional else 1
        if T == 0:
            return None
        init = []
        if hx is not None:                      # (L·D, B, H) states, checked as forward does
            if lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                return None
            want = (self.num_layers * D, B, H) if batched else (self.num_layers * D, H)
            for h in (hx if lstm else (hx,)):
                if (not isinstance(h, Tensor) or type(h.array) is not np.ndarray
                        or h.array.shape != want or h.array.dtype != w0.dtype):
                    return None
                init.append(h.array if batched else h.array[:, None])
        zeros = np.zeros((B, H), dtype=x.dtype)
        layer_in, h_n, c_n = x, [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                w_ih, w_hh, b_ih, b_hh = (None if p is None else p.array
                                          for p in self._weights_of(layer, d))
                b = self._input_bias(b_ih, b_hh)
                h = init[0][k] if init else zeros
                if lstm:   # (the bias goes to the layer, as in _run_direction)
                    out, hT, cT = R.lstm_layer_arrays(layer_in, w_ih, h, init[1][k] if init
                                                      else zeros, w_hh, b, reverse=d == 1)
                    c_n.append(cT)
                else:
                    Tl, Bl, n_in = layer_in.shape
                    xp = _Linear.forward_arrays(layer_in.reshape(Tl * Bl, n_in), w_ih, b)
                    xp = xp.reshape(Tl, Bl, xp.shape[-1])
                    out, hT = R.GRULayer.forward_arrays(xp, h, w_hh, b_hh, reverse=d == 1)
                outs.append(out)
                h_n.append(hT)
            layer_in = outs[0] if D == 1 else np.concatenate(outs, -1)
        states = [s[0][None] if len(s) == 1 else np.stack(s) for s in ((h_n, c_n) if lstm else (h_n,))]
        if not batched:
            layer_in = layer_in[:, 0]
            states = [s[:, 0] for s in states]
        elif self.batch_first:
            layer_in = layer_in.transpose(1, 0, 2)
        make = Tensor._make
        hn = make(states[0], False)
        return make(layer_in, False), ((hn, make(states[1], False)) if lstm else hn)

    @staticmethod
    def _suffix(layer: int, d: int) -> str:
        """The suffix of the parameter names of one layer and direction: ``_l0``, ``_l0_reverse``."""
        return f"_l{layer}" + ("_reverse" if d == 1 else "")

    def _weights_of(self, layer: int, d: int) -> tuple:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer and direction (``d`` 1:
        the reverse one); the biases are None without ``bias``."""
        sfx = self._suffix(layer, d)
        P = self._parameters
        b_ih = P["bias_ih" + sfx] if self.bias else None
        b_hh = P["bias_hh" + sfx] if self.bias else None
        return P["weight_ih" + sfx], P["weight_hh" + sfx], b_ih, b_hh

    def _input_bias(self, b_ih: Any, b_hh: Any) -> Any:
        """The bias of the input projection (Tensors or arrays): None without ``bias``;
        ``b_ih`` for the GRU, whose ``b_hn`` sits inside ``r ⊙ (W_hn h + b_hn)``; else both
        biases, which just add up."""
        if not self.bias:
            return None
        return b_ih if self.mode == "GRU" else b_ih + b_hh

    def _run_direction(self, x: Tensor, layer: int, d: int, h: Tensor, c: Any,
                       masks: Any) -> tuple:
        """One layer, one direction over the whole sequence ``x (T, B, in)``."""
        w_ih, w_hh, b_ih, b_hh = self._weights_of(layer, d)
        T, B, n_in = x.shape
        mode = self.mode
        # ---- 1. the input projection of every step in one GEMM (a fused Linear node: the
        # bias is added in place into the (T·B, G·H) product, no second array that size) --
        b = self._input_bias(b_ih, b_hh)
        if mode == "LSTM" and self.fused and masks is None and T > 0:
            # ---- 2. the whole recurrence in one node (BPTT inside, dW_hh in one GEMM); the
            # bias goes to the layer, which adds it step by step (no pass over the
            # (T·B, 4H) projections; under vmap the projection keeps it) ----
            lb = b if _GRAD_STATE.batching is None else None
            xp = _Linear.apply(x.reshape(T * B, n_in), w_ih, None if lb is not None else b)
            return R.LSTMLayer.apply(xp.reshape(T, B, w_ih.shape[0]), h, c, w_hh,
                                     *(() if lb is None else (lb,)), reverse=d == 1)
        xp = _Linear.apply(x.reshape(T * B, n_in), w_ih, b)
        if mode == "GRU" and self.fused and masks is None and T > 0 and kernels.backend() == "numba":
            # the whole layer in one node when its BPTT step is compiled (ops.kernels): then
            # faster than the chain of cells (18.2 vs 21.5 ms per step, bench/README.md); on
            # the NumPy loops alone it measured slower, so the chain stays there
            out, hT = R.GRULayer.apply(xp.reshape(T, B, w_ih.shape[0]), h, w_hh, b_hh,
                                       reverse=d == 1)
            return out, hT, None
        steps = R.unbind_steps(xp.reshape(T, B, w_ih.shape[0]))
        # ---- 2. the recurrence: one GEMM + one cell per step ---------------------------
        w_hh_t = w_hh.T if mode in ("RNN_TANH", "RNN_RELU") else None
        fused = self.fused
        outs: list = [None] * T
        order = range(T - 1, -1, -1) if d == 1 else range(T)
        for t in order:
            if mode == "LSTM":
                h_new, c_new = R.lstm_cell(steps[t], h, c, w_hh, fused=fused)
            elif mode == "GRU":
                h_new = R.gru_cell(steps[t], h, w_hh, b_hh, fused=fused)
                c_new = None
            else:
                a = steps[t] + h @ w_hh_t
                h_new = a.tanh() if mode == "RNN_TANH" else a.relu()
                c_new = None
            if masks is None:
                h, c = h_new, c_new
                outs[t] = h_new
            else:           # padded step: keep the state, output zeros
                mb, mf = masks[0][t], _const(masks[1][t])
                h = where(mb, h_new, h)
                if c_new is not None:
                    c = where(mb, c_new, c)
                outs[t] = h_new * mf
        return stack(outs, 0), h, c


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh)`` (or ReLU).

    Same arguments as PyTorch: ``RNN(input_size, hidden_size, num_layers=1,
    nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0, bidirectional=False)``.
    See :class:`RNNBase` and :meth:`RNNBase.forward`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gates i, f, g, o::

        i, f, g, o = σ, σ, tanh, σ of (x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh)
        c_t = f ⊙ c_{t−1} + i ⊙ g          h_t = o ⊙ tanh(c_t)

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``; ``forward(input, (h_0, c_0)=None, lengths=None)``
    returns ``(output, (h_n, c_n))``. Uses the fused cell (``module.fused``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gates r, z, n::

        r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    Same arguments as :class:`LSTM`; ``forward(input, h_0=None, lengths=None)`` returns
    ``(output, h_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


# ----------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One time step; parameters ``weight_ih (G·H, in)``, ``weight_hh (G·H, H)``,
    ``bias_ih``, ``bias_hh`` (G·H), all ``U(−1/√H, 1/√H)``."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        _store_sizes(self, name, input_size=input_size, hidden_size=hidden_size)
        self.bias = bias
        self.fused = True
        d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        G = self._gates * hidden_size
        self.weight_ih = Parameter(np.empty((G, input_size), dtype=d))
        self.weight_hh = Parameter(np.empty((G, hidden_size), dtype=d))
        if bias:
            self.bias_ih = Parameter(np.empty((G,), dtype=d))
            self.bias_hh = Parameter(np.empty((G,), dtype=d))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ ``U(−1/√H, 1/√H)`` (PyTorch's default)."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            p.array[...] = _rng(None).uniform(-k, k, size=p.shape)
            p._version[0] += 1

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _prep(self, input: Any, hx: Any, what: str = "hx") -> tuple:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(input.shape)}")
        if input.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input dtype {input.dtype} does not match the parameters' "
                            f"dtype {self.weight_ih.dtype}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        return x, batched

    def _state(self, h: Any, x: Tensor, batched: bool, what: str) -> Tensor:
        name = type(self).__name__
        B = x.shape[0]
        if h is None:
            return _const(np.zeros((B, self.hidden_size), dtype=x.dtype))
        want = (B, self.hidden_size) if batched else (self.hidden_size,)
        if not isinstance(h, Tensor) or tuple(h.shape) != want:
            got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
            raise ValueError(f"{name}: expected {what} of shape {want}, got {got}")
        if h.dtype != x.dtype:
            raise TypeError(f"{name}: {what} dtype {h.dtype} does not match the input's {x.dtype}")
        return h if batched else h.unsqueeze(0)

    def _xproj(self, x: Tensor, fold_bias: bool) -> Tensor:
        xp = x @ self.weight_ih.T
        if self.bias:
            xp = xp + ((self.bias_ih + self.bias_hh) if fold_bias else self.bias_ih)
        return xp


class RNNCell(RNNCellBase):
    """``h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`` (or ReLU); ``forward(input, hx=None)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or "
                             "'relu'")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._prep(input, hx)
        h = self._state(hx, x, batched, "hx")
        a = self._xproj(x, True) + h @ self.weight_hh.T
        out = a.tanh() if self.nonlinearity == "tanh" else a.relu()
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): ``forward(input, (h, c)=None) -> (h', c')``."""

    _gates = 4

    def forward(self, input: Tensor, hx: Any = None) -> tuple:
        x, batched = self._prep(input, hx)
        if hx is None:
            h = c = self._state(None, x, batched, "h")
        else:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError("LSTMCell: hx must be a tuple (h, c)")
            h = self._state(hx[0], x, batched, "h")
            c = self._state(hx[1], x, batched, "c")
        h2, c2 = R.lstm_cell(self._xproj(x, True), h, c, self.weight_hh, fused=self.fused)
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n): ``forward(input, hx=None) -> h'``."""

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._prep(input, hx)
        h = self._state(hx, x, batched, "hx")
        out = R.gru_cell(self._xproj(x, False), h, self.weight_hh, self.bias_hh if self.bias else None,
                         fused=self.fused)
        return out if batched else out.squeeze(0)
