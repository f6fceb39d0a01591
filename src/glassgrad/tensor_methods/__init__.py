"""The method groups of :class:`~glassgrad.tensor.Tensor`, one mixin per module.

``tensor.py`` keeps the class's core (construction, properties, ``backward``, hooks,
conversion, ``view``/``reshape``, ``repr``); ``Tensor`` inherits the rest from these
mixins, which come before the older ``_tensor_extra*`` mixins in its bases so that, as
before, these methods win over same-named ones there:

- :mod:`.arithmetic` — operators, comparisons, in-place updates (``add_``, ``copy_``, ...)
- :mod:`.pointwise` — elementwise math and activations
- :mod:`.reductions` — ``sum``/``mean``/``max``/``argmax``/``sort``/``softmax``/``norm``, ...
- :mod:`.movement` — ``permute``/``expand``/``squeeze``/``split``/``repeat``/``flip``, ...
- :mod:`.indexing` — ``__getitem__``/``__setitem__``, ``gather``, ``index_*``, ``masked_fill``
- :mod:`.linalg` — ``matmul``/``mm``/``bmm``, ``inverse``/``det``, ``diagonal``/``tril``, ...

:mod:`._common` holds the helpers they share with ``tensor.py``.
"""
