"""Transformer layers with PyTorch's API and parameter names: ``TransformerEncoderLayer``,
``TransformerEncoder``, ``TransformerDecoderLayer``, ``TransformerDecoder`` and the
encoder-decoder ``Transformer`` (Vaswani et al., 2017), built on
:class:`~glassgrad.nn.MultiheadAttention`.

``Transformer(src, tgt)``::

    memory = encoder_norm(EncoderLayer_n(… EncoderLayer_1(src)))        (S, N, E)
    output = decoder_norm(DecoderLayer_n(… DecoderLayer_1(tgt, memory)))  (T, N, E)

each decoder layer attending to itself (``tgt_mask``, e.g. the causal
:meth:`Transformer.generate_square_subsequent_mask`) and to ``memory`` (``memory_mask``).
The sub-layers are created in PyTorch's order, so ``state_dict`` keys are PyTorch's and a
converted PyTorch checkpoint loads one to one.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from ...tensor import Tensor
from ..module import Module
from .attention import MultiheadAttention

__all__ = ["TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "Transformer"]


def _check_layers(name: str, layer: Any, num_layers: Any) -> None:
    if not isinstance(layer, Module):
        raise TypeError(f"{name}: the layer to repeat must be a Module, got {type(layer).__name__}")
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
        raise ValueError(f"{name}: num_layers must be an int >= 0, got {num_layers!r}")


def _activation(act: Any) -> Callable:
    from .. import functional as F

    if callable(act):
        return act
    if act == "relu":
        return F.relu
    if act == "gelu":
        return F.gelu
    raise ValueError(f"TransformerEncoderLayer: activation should be relu/gelu or a callable, "
                     f"not {act!r}")


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: the sub-layers (built in PyTorch's order,
    so that ``state_dict`` keys match), the self-attention block and the feed-forward
    block (whose output dropout is the layer's last one: ``dropout2`` / ``dropout3``)."""

    _cross = False  # the decoder layer's cross-attention block (multihead_attn, norm3, dropout3)

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Any = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        from .. import Dropout, LayerNorm, Linear
        from .. import functional as F
        from .activation import GELU, ReLU

        cross = self._cross

        def attn() -> MultiheadAttention:
            return MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                      batch_first=batch_first, dtype=dtype)

        n = 3 if cross else 2
        self.self_attn = attn()
        if cross:
            self.multihead_attn = attn()
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        for i in range(1, n + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        for i in range(1, n + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)
        self.batch_first = batch_first
        self._ff_dropout = f"dropout{n}"
        if not cross:  # PyTorch's flag for its fused inference path (kept for code that reads it)
            act = self.activation
            self.activation_relu_or_gelu = (1 if act is F.relu or isinstance(act, ReLU) else
                                            2 if act is F.gelu or isinstance(act, GELU) else 0)
        if device is not None:
            self.to(device)

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return getattr(self, self._ff_dropout)(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention + feed-forward block (PyTorch's names: ``self_attn``, ``linear1``,
    ``linear2``, ``norm1``, ``norm2``, ``dropout``, ``dropout1``, ``dropout2``)::

        post-norm (default):  x = norm1(x + SA(x));  x = norm2(x + FF(x))
        pre-norm (norm_first): x = x + SA(norm1(x)); x = x + FF(norm2(x))
        SA(x) = dropout1(self_attn(x, x, x))
        FF(x) = dropout2(linear2(dropout(activation(linear1(x)))))
    """

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """``src`` ``(S, N, E)`` (``(N, S, E)`` with batch_first) or ``(S, E)``; masks as in
        :meth:`MultiheadAttention.forward`."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (``layers.0``, ``layers.1``,
    ...) and an optional final ``norm``, like PyTorch's.

    ``enable_nested_tensor`` and ``mask_check`` are accepted and stored as PyTorch does;
    they select PyTorch's nested-tensor inference path, which glassgrad does not have
    (``use_nested_tensor`` is always False; results are the same).
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        from .. import ModuleList

        _check_layers("TransformerEncoder", encoder_layer, num_layers)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention over the encoder's output (``memory``) and a
    feed-forward block (PyTorch's names: ``self_attn``, ``multihead_attn``, ``linear1``,
    ``linear2``, ``norm1..3``, ``dropout``, ``dropout1..3``)::

        post-norm (default):  x = norm1(x + SA(x)); x = norm2(x + CA(x, m)); x = norm3(x + FF(x))
        pre-norm (norm_first): x = x + SA(norm1(x)); x = x + CA(norm2(x), m); x = x + FF(norm3(x))

    For a decoder-only (GPT-style) model use ``TransformerEncoderLayer`` with a causal mask.
    """

    _cross = True

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None,
                memory_mask: Any = None, tgt_key_padding_mask: Any = None,
                memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        """``tgt`` ``(T, N, E)`` and ``memory`` ``(S, N, E)`` (batch first: ``(N, T, E)``,
        ``(N, S, E)``); masks as in :meth:`MultiheadAttention.forward`."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer`` and an optional final
    ``norm``, like PyTorch's."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        from .. import ModuleList

        _check_layers("TransformerDecoder", decoder_layer, num_layers)
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None,
                memory_mask: Any = None, tgt_key_padding_mask: Any = None,
                memory_key_padding_mask: Any = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """The encoder-decoder transformer, as ``torch.nn.Transformer`` (same arguments,
    submodule names ``encoder.layers.i``, ``encoder.norm``, ``decoder.layers.i``,
    ``decoder.norm``, same initialisation).

    Parameters
    ----------
    d_model : int
        Feature size ``E`` of ``src``, ``tgt`` and the output.
    nhead : int
        Attention heads (must divide ``d_model``).
    num_encoder_layers, num_decoder_layers : int
    dim_feedforward : int
        Hidden size of each layer's feed-forward block.
    dropout : float
    activation : str or callable
        ``"relu"``, ``"gelu"`` or a unary callable (a function or a Module).
    custom_encoder, custom_decoder : Module, optional
        Used instead of the built stacks (called as ``encoder(src, mask=...,
        src_key_padding_mask=..., is_causal=...)`` and ``decoder(tgt, memory, ...)``).
    layer_norm_eps : float
    batch_first : bool
        ``(N, S, E)`` inputs and output instead of ``(S, N, E)``.
    norm_first : bool
        Pre-norm layers (LayerNorm before attention / feed-forward).
    bias : bool
        Biases in the Linear and LayerNorm layers.

    Notes
    -----
    As PyTorch, every parameter with more than one dimension (all projection weights,
    also the custom encoder's/decoder's) is re-drawn with ``xavier_uniform_``; biases and
    LayerNorm parameters keep their initial values.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        from .normalization import LayerNorm

        def stack(custom: Module | None, stack_cls: type, layer_cls: type, num: int) -> Module:
            if custom is not None:
                return custom
            layer = layer_cls(d_model, nhead, dim_feedforward, dropout, activation,
                              layer_norm_eps, batch_first, norm_first, bias, device, dtype)
            return stack_cls(layer, num, LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                   device=device, dtype=dtype))

        self.encoder = stack(custom_encoder, TransformerEncoder, TransformerEncoderLayer,
                             num_encoder_layers)
        self.decoder = stack(custom_decoder, TransformerDecoder, TransformerDecoderLayer,
                             num_decoder_layers)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Any = None, tgt_mask: Any = None,
                memory_mask: Any = None, src_key_padding_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """Encode ``src`` and decode ``tgt`` attending to it.

        Parameters
        ----------
        src : Tensor
            ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``) or unbatched ``(S, E)``.
        tgt : Tensor
            ``(T, N, E)`` (``(N, T, E)``) or ``(T, E)``.
        src_mask, tgt_mask, memory_mask : Tensor, optional
            ``(S, S)``, ``(T, T)``, ``(T, S)`` (or with a leading ``N·nhead`` axis): bool
            ``True`` = not allowed, or float added to the attention scores.
        src_key_padding_mask, tgt_key_padding_mask, memory_key_padding_mask : Tensor, optional
            ``(N, S)``, ``(N, T)``, ``(N, S)`` (``(S,)``, ``(T,)`` unbatched): bool ``True``
            = padding to ignore, or float.
        src_is_causal, tgt_is_causal, memory_is_causal : bool, optional
            Hints that the mask is causal; without a mask a causal one is built.

        Returns
        -------
        Tensor
            ``(T, N, E)`` (``(N, T, E)`` with ``batch_first``) or ``(T, E)``.
        """
        for nm, t in (("src", src), ("tgt", tgt)):
            if not isinstance(t, Tensor):
                raise TypeError(f"Transformer: {nm} must be a Tensor, got {type(t).__name__}")
        if src.ndim == 3:
            b = 0 if self.batch_first else 1
            if tgt.ndim != 3 or src.shape[b] != tgt.shape[b]:
                raise RuntimeError(f"Transformer: the batch number of src and tgt must be equal, "
                                   f"got src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                                   f"(batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src and tgt must be equal to "
                               f"d_model={self.d_model}, got src {tuple(src.shape)} and tgt "
                               f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The causal mask ``(sz, sz)``: ``-inf`` above the diagonal (position ``i`` may
        not attend to ``j > i``), ``0.0`` elsewhere; default float dtype unless ``dtype``."""
        from ...creation import full

        if isinstance(sz, bool) or not isinstance(sz, int) or sz < 0:
            raise ValueError(f"generate_square_subsequent_mask: sz must be an int >= 0, got {sz!r}")
        return full((sz, sz), float("-inf"), dtype=dtype, device=device).triu(1)

    def _reset_parameters(self) -> None:
        """``xavier_uniform_`` on every parameter with more than one dimension."""
        from ..init import xavier_uniform_

        for p in self.parameters():
            if p.ndim > 1:
                xavier_uniform_(p)
