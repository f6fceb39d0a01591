"""Optimizers and learning-rate schedules (PyTorch's ``torch.optim`` API).

Every update rule is a short NumPy function in its own module, with the formula written
out in the module docstring: :mod:`~glassgrad.optim.sgd`, :mod:`~glassgrad.optim.adam`,
:mod:`~glassgrad.optim.adamw`, :mod:`~glassgrad.optim.rmsprop`,
:mod:`~glassgrad.optim.adagrad`, :mod:`~glassgrad.optim.adadelta`,
:mod:`~glassgrad.optim.adamax`, :mod:`~glassgrad.optim.radam`, :mod:`~glassgrad.optim.nadam`,
:mod:`~glassgrad.optim.lbfgs`, :mod:`~glassgrad.optim.rprop`, :mod:`~glassgrad.optim.asgd`.
Schedules are in :mod:`~glassgrad.optim.lr_scheduler`.

>>> import glassgrad as gg
>>> w = gg.tensor([1.0, -2.0], requires_grad=True)
>>> opt = gg.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w
tensor([ 0.8, -1.6], requires_grad=True)
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "RAdam",
           "NAdam", "LBFGS", "Rprop", "ASGD", "lr_scheduler"]
