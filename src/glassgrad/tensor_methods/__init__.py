"""The method groups of :class:`~glassgrad.tensor.Tensor`, one mixin per module.

``tensor.py`` keeps the class's core (construction, properties, ``backward``, hooks,
conversion, ``view``/``reshape``, ``repr``); ``Tensor`` inherits the rest from these
mixins. The first six come before the others in its bases so that their methods win over
same-named ones in the later mixins:

- :mod:`.arithmetic` — operators, comparisons, in-place updates (``add_``, ``copy_``, ...)
- :mod:`.pointwise` — elementwise math and activations
- :mod:`.reductions` — ``sum``/``mean``/``max``/``argmax``/``sort``/``softmax``/``norm``, ...
- :mod:`.movement` — ``permute``/``expand``/``squeeze``/``split``/``repeat``/``flip``, ...
- :mod:`.indexing` — ``__getitem__``/``__setitem__``, ``gather``, ``index_*``, ``masked_fill``
- :mod:`.linalg` — ``matmul``/``mm``/``bmm``, ``inverse``/``det``, ``diagonal``/``tril``, ...

Then the mixins of methods written with existing ops (their gradients are those of the
small graphs they build): :mod:`.extra`, :mod:`.extra2`, :mod:`.extra3`, and :mod:`.sparse`
(the sparse-layout methods, for tensors stored densely). :mod:`._common` holds the helpers
the first six share with ``tensor.py``.
"""
