"""The oracle helpers themselves (tests/oracle.py): check_module and check_same pass on equal
computations and fail, naming what differs, on a wrong output, a wrong parameter gradient, a
wrong running statistic or different parameter names."""

from __future__ import annotations

import numpy as np
import pytest

from oracle import check_module, check_same

torch = pytest.importorskip("torch")


def test_check_module_passes_and_returns_the_pair():
    gm, tm = check_module(lambda nn: nn.Linear(3, 2), shapes=[(4, 3)])
    assert type(gm).__module__.startswith("glassgrad") and isinstance(tm, torch.nn.Linear)
    np.testing.assert_array_equal(gm.weight.detach().numpy(), tm.weight.detach().numpy())


def test_check_module_catches_a_different_output():
    with pytest.raises(AssertionError, match="output 0 differs"):
        check_module(lambda nn: nn.Conv2d(2, 3, 3, padding=1),
                     torch_make=lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
                     shapes=[(1, 2, 5, 5)])


class _DoubledWeightGrad(torch.nn.Linear):
    """torch's Linear with the same output but twice the weight gradient."""

    def forward(self, x):
        w = self.weight.detach() + 2 * (self.weight - self.weight.detach())
        return torch.nn.functional.linear(x, w, self.bias)


def test_check_module_catches_a_wrong_parameter_gradient():
    with pytest.raises(AssertionError, match="gradient of weight differs"):
        check_module(lambda nn: nn.Linear(3, 2), torch_make=lambda nn: _DoubledWeightGrad(3, 2),
                     shapes=[(4, 3)])


def test_check_module_catches_a_wrong_running_statistic():
    with pytest.raises(AssertionError, match="buffer running_mean differs"):
        check_module(lambda nn: nn.BatchNorm1d(3), torch_make=lambda nn: nn.BatchNorm1d(3, momentum=0.2),
                     shapes=[(5, 3)])


def test_check_module_catches_different_parameter_names():
    with pytest.raises(AssertionError, match="state_dict names differ"):
        check_module(lambda nn: nn.Linear(3, 2), torch_make=lambda nn: nn.Sequential(nn.Linear(3, 2)),
                     shapes=[(4, 3)])


def test_check_module_eval_mode_and_repr():
    check_module(lambda nn: nn.Dropout(0.5), shapes=[(4, 3)], modes=("eval",), same_repr=True)
    with pytest.raises(AssertionError, match="output 0 differs"):   # dropout masks differ in training
        check_module(lambda nn: nn.Dropout(0.5), shapes=[(40, 30)], modes=("train",))
    with pytest.raises(AssertionError, match="repr"):
        check_module(lambda nn: nn.Linear(3, 2), torch_make=lambda nn: nn.Linear(3, 2, bias=False),
                     shapes=[(4, 3)], same_repr=True)


def test_check_same():
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_same(lambda t: t.softmax(-1), lambda t: t.exp() / t.exp().sum(-1, keepdim=True), [x])
    with pytest.raises(AssertionError, match="values differ"):
        check_same(lambda t: t.softmax(-1), lambda t: t.exp() / t.exp().sum(), [x])
