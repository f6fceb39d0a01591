"""The dict containers (ModuleDict, ParameterDict) and the dropout layers share their code:
the same dict methods as PyTorch's, the same checked probability naming the layer."""

from __future__ import annotations

import numpy as np
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


@pytest.mark.parametrize("cls", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                 "FeatureAlphaDropout"])
def test_dropout_probability_checked_naming_the_layer(cls):
    with pytest.raises(ValueError, match=f"{cls}: dropout probability has to be between 0 and 1"):
        getattr(nn, cls)(1.5)
    with pytest.raises(ValueError):
        getattr(torch.nn, cls)(1.5)
    m = getattr(nn, cls)(0.25, inplace=True)
    assert repr(m) == repr(getattr(torch.nn, cls)(0.25, inplace=True))


def test_channel_dropouts_are_importable_from_spatial_and_dropout():
    from glassgrad.nn.modules import dropout, spatial

    assert spatial.Dropout2d is dropout.Dropout2d is nn.Dropout2d
    m = nn.Dropout2d(0.5).eval()
    x = gg.ones(2, 3, 4, 4)
    assert np.array_equal(m(x).array, x.array)
