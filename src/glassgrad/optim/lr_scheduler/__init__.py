"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``), same values as PyTorch.

A scheduler rewrites ``group['lr']`` of its optimizer's parameter groups each time its
:meth:`~LRScheduler.step` is called (usually once per epoch, after ``optimizer.step()``;
:class:`OneCycleLR` once per batch). Construction already performs step 0, so the
optimizer's learning rate is the schedule's first value right away.

Like PyTorch, most schedules are *chainable*: ``get_lr`` computes the new rate from the
group's current ``lr`` (e.g. ``StepLR`` multiplies it by ``gamma`` every ``step_size``
epochs), so two schedulers on one optimizer compose. Each class also documents its closed
form, used when ``step(epoch)`` is given an explicit epoch (deprecated in PyTorch).

``state_dict()`` returns the scheduler's attributes (Python scalars, lists and dicts:
JSON-serializable) without the optimizer; ``load_state_dict`` restores them.

Which ``step`` does what, with ``e = last_epoch`` (the number of ``step()`` calls so far)
and ``lr0`` the base learning rate:

=========================  =================================================================
StepLR                     ``lr0 * gamma ** (e // step_size)``
MultiStepLR                ``lr0 * gamma ** (number of milestones <= e)``
ConstantLR                 ``lr0 * factor`` while ``e < total_iters``, then ``lr0``
LinearLR                   ``lr0 * (start + (end - start) * min(e, total_iters) / total_iters)``
ExponentialLR              ``lr0 * gamma ** e``
PolynomialLR               ``lr0 * (1 - min(e, total_iters) / total_iters) ** power``
CosineAnnealingLR          ``eta_min + (lr0 - eta_min) * (1 + cos(pi * e / T_max)) / 2``
CosineAnnealingWarmRestarts  the cosine above, restarted every ``T_i`` epochs
LambdaLR                   ``lr0 * lr_lambda(e)``
MultiplicativeLR           ``lr *= lr_lambda(e)`` at each step
OneCycleLR                 warm-up from ``max_lr / div_factor`` to ``max_lr`` then anneal
                           to ``max_lr / (div_factor * final_div_factor)``
ReduceLROnPlateau          ``lr *= factor`` when a metric stops improving
SequentialLR               one scheduler after another, switching at milestones
ChainedScheduler           several schedulers stepped together (their factors multiply)
CyclicLR                   between ``base_lr`` and ``max_lr``, in cycles of batches
=========================  =================================================================

The classes live in modules by family (:mod:`._base`, :mod:`._decay`, :mod:`._cosine`,
:mod:`._cyclic`, :mod:`._plateau`, :mod:`._compose`) and are all imported from here, where
they say they belong (``__module__``), as PyTorch's are from ``torch.optim.lr_scheduler``.
"""


from ._base import LRScheduler
from ._compose import ChainedScheduler, SequentialLR
from ._cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from ._cyclic import CyclicLR, OneCycleLR
from ._decay import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from ._plateau import ReduceLROnPlateau

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "ChainedScheduler",
    "CyclicLR",
]

# one public path per class, as before the split: reprs, error messages and pickles name
# glassgrad.optim.lr_scheduler.StepLR, not the private module that defines it
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
