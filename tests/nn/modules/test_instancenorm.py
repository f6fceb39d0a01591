"""InstanceNorm1d/2d/3d (glassgrad.nn.modules.instancenorm) against torch.nn's: outputs, input
and parameter gradients (float64 1e-10, float32 1e-5), batched and unbatched, repr."""

from __future__ import annotations

import pytest

from oracle import check_module

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("k,shape", [(1, (2, 3, 5)), (1, (3, 5)), (2, (2, 3, 4, 4)), (3, (2, 3, 2, 3, 3))])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_module_matches_torch(k, shape, affine):
    # (repr not compared: torch's also names bias= and track_running_stats=)
    check_module(lambda nn: getattr(nn, f"InstanceNorm{k}d")(3, affine=affine, eps=1e-4), shapes=[shape])
