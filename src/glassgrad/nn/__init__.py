"""Neural-network building blocks: ``Module``, layers, losses (PyTorch's names)."""

from . import functional, init, utils
from .modules.attention import *
from .modules.conv import *
from .modules.pooling import *
from .modules.rnn import *
from .modules.spatial import *
