"""``gg.compile`` (a documented no-op) and ``nn.utils.parameters_to_vector`` /
``vector_to_parameters`` against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg

torch = pytest.importorskip("torch")


def test_compile_returns_the_model_and_works_as_a_decorator():
    m = gg.nn.Linear(2, 3)
    assert gg.compile(m) is m
    assert gg.compile(m, mode="reduce-overhead", backend="eager") is m

    @gg.compile
    def f(x):
        return x * 2

    @gg.compile(fullgraph=True)
    def h(x):
        return x + 1

    assert float(f(gg.tensor(3.0))) == 6.0 and float(h(gg.tensor(3.0))) == 4.0
    with pytest.raises(ValueError, match="compile: unknown backend"):
        gg.compile(m, backend="tvm-magic")
    with pytest.raises(TypeError, match="compile: expected a Module or a function"):
        gg.compile(3)


def test_parameters_to_vector_and_back_match_pytorch():
    gg.manual_seed(0)
    gm = gg.nn.Sequential(gg.nn.Linear(3, 4), gg.nn.Tanh(), gg.nn.Linear(4, 2))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    for g, t in zip(gm.parameters(), tm.parameters()):
        g.data.copy_(gg.tensor(t.detach().numpy()))
    gv = gg.nn.utils.parameters_to_vector(gm.parameters())
    tv = torch.nn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(gv.detach().numpy(), tv.detach().numpy())
    (gv * gv).sum().backward()
    (tv * tv).sum().backward()
    for g, t in zip(gm.parameters(), tm.parameters()):
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    new = np.arange(tv.numel(), dtype=np.float32)
    gg.nn.utils.vector_to_parameters(gg.tensor(new), gm.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tm.parameters())
    for g, t in zip(gm.parameters(), tm.parameters()):
        np.testing.assert_array_equal(g.detach().numpy(), t.detach().numpy())
    with pytest.raises(ValueError, match="vec has 3 elements"):
        gg.nn.utils.vector_to_parameters(gg.zeros(3), gm.parameters())
    with pytest.raises(ValueError, match="must be 1-D"):
        gg.nn.utils.vector_to_parameters(gg.zeros(3, 1), gm.parameters())
    with pytest.raises(TypeError, match="parameter 0 is a list"):
        gg.nn.utils.parameters_to_vector([[1.0]])
