"""How Tensor's methods are laid out over ``tensor.py`` and the mixins of
``glassgrad/tensor_methods/``: the class's own methods and those of its method-group mixins
must win over same-named ones in the later mixins (``extra*.py``, ``sparse.py``), and no name
may be defined in two of the groups (one would silently hide the other)."""

import importlib
import inspect
import pkgutil

import glassgrad.tensor_methods as tm
from glassgrad.nn import Parameter
from glassgrad.tensor import Tensor

_GROUPS = ("arithmetic", "pointwise", "reductions", "movement", "indexing", "linalg")


def _group_classes():
    out = [Tensor]
    for name in _GROUPS:
        mod = importlib.import_module(f"glassgrad.tensor_methods.{name}")
        out += [c for c in vars(mod).values() if inspect.isclass(c) and c.__module__ == mod.__name__
                and c in Tensor.__mro__]
    return out


def test_every_mixin_module_has_a_docstring():
    for m in pkgutil.iter_modules(tm.__path__):
        mod = importlib.import_module(f"glassgrad.tensor_methods.{m.name}")
        assert mod.__doc__, f"{mod.__name__} lacks a module docstring"


_IMPLICIT = {"__module__", "__qualname__", "__doc__", "__slots__", "__hash__", "__dict__",
             "__weakref__", "__firstlineno__", "__static_attributes__", "__annotations__"}


def test_every_method_group_is_a_base_of_tensor():
    groups = _group_classes()
    assert len(groups) == 1 + len(_GROUPS)
    mro = Tensor.__mro__
    later = [k for k in mro if k.__module__.startswith("glassgrad.tensor_methods.extra")
             or k.__module__ == "glassgrad.tensor_methods.sparse"]
    assert len(later) == 5 and max(mro.index(g) for g in groups) < min(mro.index(k) for k in later)


def test_no_name_is_defined_in_two_groups():
    seen: dict = {}
    for cls in _group_classes():
        for name in vars(cls):
            if name in _IMPLICIT:
                continue
            assert name not in seen, f"Tensor.{name} is defined in both {seen[name]} and {cls.__name__}"
            seen[name] = cls.__name__


def test_group_methods_win_over_the_extras_mixins():
    for cls in _group_classes():
        for name, value in vars(cls).items():
            if name in _IMPLICIT:
                continue
            for sub in (Tensor, Parameter):
                owner = next(k for k in sub.__mro__ if name in vars(k))
                assert owner in (cls, Parameter), f"{sub.__name__}.{name} resolves to {owner.__name__}"
                if owner is cls:
                    assert getattr(sub, name) is getattr(cls, name) or isinstance(value, property) \
                        or isinstance(value, (classmethod, staticmethod))


def test_module_helpers_still_importable_from_tensor():
    from glassgrad.tensor import _from_data, cat, stack, tensor  # noqa: F401
