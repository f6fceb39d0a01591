"""Layer modules, one file per family (the fused ops they call are in ``glassgrad.ops.nn``)."""

from .activation import *
from .container import *
from .dropout import *
from .flatten import *
from .linear import *
from .loss import *
from .normalization import *
from .padding import *
from .sparse import *
