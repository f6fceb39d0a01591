"""bench/bench_inference.py: the three forwards it times (glassgrad, PyTorch and the
hand-written NumPy one) compute the same outputs for each model (``make_pair`` raises
when they differ); a tiny batch, the timing itself is the bench's."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench():
    env = dict(os.environ)   # (the script sets the BLAS thread variables for its process)
    sys.path.insert(0, str(BENCH))
    try:
        yield runpy.run_path(str(BENCH / "bench_inference.py"), run_name="bench_inference")
    finally:
        sys.path.remove(str(BENCH))
        os.environ.clear()
        os.environ.update(env)


@pytest.mark.parametrize("name", ["mlp", "lenet", "lstm"])
def test_the_three_forwards_agree(bench, name):
    fns = bench["make_pair"](name, 3, 0)
    assert set(fns) == {"glassgrad", "torch", "numpy"}
    outs = {k: np.asarray(f() if k == "numpy" else f().numpy()) for k, f in fns.items()}
    assert {o.shape for o in outs.values()} == {(3, 10)}
    np.testing.assert_allclose(outs["numpy"], outs["torch"], rtol=1e-4, atol=1e-5)
