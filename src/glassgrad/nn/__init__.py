"""Neural-network building blocks: ``Module``, layers, losses (PyTorch's names)."""

from . import functional, init, parallel, utils
from .module import Module, RemovableHandle
from .modules.activation import *
from .modules.attention import *
from .modules.batchnorm import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d
from .modules.channelshuffle import *
from .modules.container import *
from .modules.conv import *
from .modules.dropout import *
from .modules.flatten import *
from .modules.linear import *
from .modules.loss import *
from .modules.normalization import *
from .modules.padding import *
from .modules.pooling import *
from .modules.rnn import *
from .modules.sparse import *
from .modules.spatial import *
from .modules.transformer import *
from .parallel import DataParallel
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
