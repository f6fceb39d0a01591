"""affine_grid and grid_sample: values and gradients (input, grid, theta) equal PyTorch's
for every mode, padding mode and align_corners, 2-D and 3-D; errors."""

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from oracle import check_op, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch (test oracle) is not installed")
if torch is not None:
    import torch.nn.functional as TF


@pytest.mark.filterwarnings("ignore:Since version 1.3.0")  # torch, on unit-size grids
@pytest.mark.parametrize("ac", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 3, 4, 2), (1, 1, 1, 3)])
def test_affine_grid(ac, size):
    k = len(size) - 2
    check_op(lambda t: F.affine_grid(t, size, align_corners=ac), [(size[0], k, k + 1)],
             torch_fn=lambda t: TF.affine_grid(t, size, align_corners=ac))


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("ac", [False, True])
def test_grid_sample_2d(mode, padding_mode, ac):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    grid = rng.uniform(-1.4, 1.4, (2, 3, 6, 2))  # some points outside the input

    def g(x, grid):
        return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=ac)

    def t(x, grid):
        return TF.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=ac)

    # nearest: piecewise constant in the grid (PyTorch's grid gradient is all zeros;
    # glassgrad's grid receives none)
    check_op(g, inputs=[x, grid], torch_fn=t, gradcheck=mode == "bilinear",
             grad=[True, mode == "bilinear"])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_3d(mode, padding_mode):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 3, 4, 3))
    grid = rng.uniform(-1.3, 1.3, (1, 2, 3, 2, 3))
    check_op(lambda x, g: F.grid_sample(x, g, mode, padding_mode, align_corners=False),
             inputs=[x, grid],
             torch_fn=lambda x, g: TF.grid_sample(x, g, mode, padding_mode, align_corners=False),
             gradcheck=mode == "bilinear", grad=[True, mode == "bilinear"])


def test_spatial_transformer_end_to_end():
    """theta -> affine_grid -> grid_sample: gradients with respect to theta and the image."""
    rng = np.random.default_rng(2)
    theta = np.array([[[0.9, 0.1, 0.05], [-0.1, 1.1, -0.1]]] * 2) + rng.normal(0, .01, (2, 2, 3))
    x = rng.standard_normal((2, 3, 5, 6))
    check_op(lambda th, x: F.grid_sample(x, F.affine_grid(th, (2, 3, 4, 4), align_corners=False),
                                         align_corners=False),
             inputs=[theta, x],
             torch_fn=lambda th, x: TF.grid_sample(x, TF.affine_grid(th, (2, 3, 4, 4),
                                                                      align_corners=False),
                                                   align_corners=False))


def test_grid_sample_errors():
    x = gg.ones(1, 1, 3, 3)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.grid_sample(x, gg.zeros(1, 2, 2, 2), mode="bicubic")
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, gg.zeros(1, 2, 2, 2), padding_mode="wrap")
    with pytest.raises(ValueError, match="grid"):
        F.grid_sample(x, gg.zeros(1, 2, 2, 3))
    with pytest.raises(TypeError, match="dtype"):
        F.grid_sample(x, gg.zeros(1, 2, 2, 2, dtype=gg.float64))
    with pytest.raises(ValueError, match="theta"):
        F.affine_grid(gg.zeros(1, 2, 2), (1, 1, 3, 3))
