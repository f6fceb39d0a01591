"""Utilities: gradient clipping, sequence padding."""

from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
