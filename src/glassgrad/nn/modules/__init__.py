"""Layer modules, one file per family (the fused ops they call are in ``glassgrad.ops``).

PyTorch's import paths ``torch.nn.modules.<family>`` exist here too (``activation``,
``batchnorm``, ``channelshuffle``, ``container``, ``conv``, ``distance``, ``dropout``,
``flatten``, ``fold``, ``instancenorm``, ``linear``, ``loss``, ``module``, ``normalization``, ``padding``,
``pixelshuffle``, ``pooling``, ``rnn``, ``sparse``, ``transformer``, ``upsampling``,
``utils``); where glassgrad keeps a class in another file the PyTorch-named module
re-exports the same object.
"""

from .activation import *
from .attention import *
from .batchnorm import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d
from .channelshuffle import *
from .container import *
from .conv import *
from .dropout import *
from .flatten import *
from .linear import *
from .loss import *
from .module import Module
from .normalization import *
from .padding import *
from .pooling import *
from .rnn import *
from .sparse import *
from .spatial import *
from .transformer import *
