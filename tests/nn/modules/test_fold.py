"""Unfold and Fold (glassgrad.nn.modules.fold) against torch.nn's: outputs and input
gradients (float64 1e-10, float32 1e-5), repr."""

from __future__ import annotations

import pytest

from oracle import check_module

torch = pytest.importorskip("torch")


def test_unfold_matches_torch():
    check_module(lambda nn: nn.Unfold(3, padding=1, stride=2), shapes=[(2, 3, 5, 6)], same_repr=True)


def test_fold_matches_torch():
    check_module(lambda nn: nn.Fold((4, 5), 2), shapes=[(2, 12, 12)], same_repr=True)
