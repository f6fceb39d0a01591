"""The dict containers (ModuleDict, ParameterDict) share their dict methods: the same as
PyTorch's."""

from __future__ import annotations

import pytest

import glassgrad as gg
from glassgrad import nn

torch = pytest.importorskip("torch")


def test_parameter_dict_pop_and_clear_as_torch():
    ours = nn.ParameterDict({"a": nn.Parameter(gg.zeros(2)), "b": nn.Parameter(gg.ones(3))})
    theirs = torch.nn.ParameterDict({"a": torch.nn.Parameter(torch.zeros(2)),
                                     "b": torch.nn.Parameter(torch.ones(3))})
    p, tp = ours.pop("a"), theirs.pop("a")
    assert tuple(p.shape) == tuple(tp.shape) == (2,)
    assert list(ours.keys()) == list(theirs.keys()) == ["b"]
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 1
    assert "a" not in ours and "b" in ours
    ours.clear()
    theirs.clear()
    assert len(ours) == len(theirs) == 0 and list(ours.parameters()) == []
    with pytest.raises(KeyError):
        ours.pop("a")


def test_module_dict_methods_as_torch():
    ours = nn.ModuleDict({"l": nn.Linear(2, 2), "r": nn.ReLU()})
    theirs = torch.nn.ModuleDict({"l": torch.nn.Linear(2, 2), "r": torch.nn.ReLU()})
    assert list(ours) == list(theirs) and len(ours) == len(theirs) == 2
    assert type(ours.pop("r")).__name__ == type(theirs.pop("r")).__name__ == "ReLU"
    assert list(ours.keys()) == ["l"] and len(list(ours.parameters())) == 2
    del ours["l"]
    assert len(ours) == 0
    with pytest.raises(NotImplementedError, match="ModuleDict has no forward"):
        ours(gg.zeros(1))
    with pytest.raises(NotImplementedError, match="ParameterDict has no forward"):
        nn.ParameterDict()(gg.zeros(1))
