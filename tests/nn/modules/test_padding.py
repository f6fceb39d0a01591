"""Padding modules (glassgrad.nn.modules.padding) against torch.nn's: values and gradients."""

from __future__ import annotations

import pytest

from glassgrad import nn
from oracle import check_module, check_op

torch = pytest.importorskip("torch")
TNN = torch.nn


@pytest.mark.parametrize("cls,pad,shape,kw", [
    ("ZeroPad1d", 2, (2, 3, 4), {}), ("ZeroPad2d", (1, 0, 2, 1), (1, 2, 3, 4), {}),
    ("ConstantPad1d", (1, 2), (2, 3, 4), {"value": 3.5}), ("ConstantPad3d", 1, (1, 2, 2, 3, 3),
                                                         {"value": -1.0}),
    ("ReflectionPad1d", 2, (2, 3, 4), {}), ("ReflectionPad2d", (1, 2, 0, 1), (1, 2, 3, 4), {}),
    ("ReplicationPad2d", 2, (1, 2, 3, 4), {}), ("ReplicationPad1d", (0, 3), (2, 3, 4), {}),
    ("CircularPad1d", 2, (2, 3, 4), {}), ("CircularPad2d", 1, (1, 2, 3, 4), {}),
    ("ZeroPad3d", (1, 0, 2, 1, 0, 1), (1, 2, 2, 3, 3), {}),
    ("ConstantPad2d", (2, 1, 0, 1), (2, 3, 4), {"value": 0.5}),
    ("ReflectionPad3d", 1, (1, 2, 2, 3, 3), {}),
    ("ReplicationPad3d", (1, 0, 1, 2, 0, 1), (1, 2, 2, 3, 3), {}),
    ("CircularPad3d", 1, (1, 2, 2, 3, 3), {}),
])
def test_padding_layers(cls, pad, shape, kw):
    check_op(lambda x: getattr(nn, cls)(pad, **kw)(x), shapes=[shape],
             torch_fn=lambda x: getattr(TNN, cls)(pad, **kw)(x))


# (ConstantPadNd's repr is not compared: torch's reads "ConstantPad1d(padding=(2, 2), value=3.5)")
@pytest.mark.parametrize("make", [lambda nn: nn.ZeroPad2d((1, 0, 2, 1)), lambda nn: nn.ReflectionPad2d(1),
                                  lambda nn: nn.ReplicationPad3d(1), lambda nn: nn.CircularPad1d((1, 2))])
def test_padding_module_repr_matches_torch(make):
    shape = {"ReplicationPad3d": (1, 2, 2, 3, 3), "CircularPad1d": (2, 3, 4)}
    check_module(make, shapes=[shape.get(type(make(torch.nn)).__name__, (1, 2, 3, 4))], same_repr=True)


@pytest.mark.parametrize("name", ["ZeroPad2d", "ConstantPad1d", "ReflectionPad3d", "ReplicationPad1d",
                                  "CircularPad2d"])
def test_padding_classes_are_ordinary_named_classes(name):
    import pickle

    cls = getattr(nn, name)
    assert cls.__module__ == "glassgrad.nn.modules.padding" and cls.__qualname__ == name
    assert cls.__doc__.startswith("Pad the last ")
    m = cls(1, 2.0) if name.startswith("Constant") else cls(1)
    back = pickle.loads(pickle.dumps(m))
    assert type(back) is cls and repr(back) == repr(m) == repr(getattr(torch.nn, name)(*(
        (1, 2.0) if name.startswith("Constant") else (1,))))
