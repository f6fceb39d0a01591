"""ops/_blas.py: NumPy's own BLAS, reached where ``np.matmul`` is not enough."""

from __future__ import annotations

import numpy as np
import pytest

from glassgrad.ops import _blas


def test_cblas_sgemm_on_row_views():
    f = _blas.cblas_sgemm()
    if f is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS that threadpoolctl can drive here")
    rng = np.random.default_rng(2)
    a = rng.standard_normal((30, 70)).astype(np.float32)
    b = rng.standard_normal((40, 50)).astype(np.float32)
    c = np.full((30, 90), 7.0, np.float32)
    # rows 3:13 of a (row stride 70), columns 5:45 of it, times rows 0:40, columns 0:30 of b
    av, bv, cv = a[3:13, 5:45], b[:, :30], c[:10, 20:50]
    f(101, 111, 111, 10, 30, 40, 1.0, av.ctypes.data, 70, bv.ctypes.data, 50, 0.0, cv.ctypes.data, 90)
    np.testing.assert_allclose(cv, av @ bv, rtol=1e-5, atol=1e-5)
    assert (c[10:] == 7).all() and (c[:, :20] == 7).all() and (c[:, 50:] == 7).all()


def test_linear_into_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 20)).astype(np.float32)
    w = rng.standard_normal((30, 20)).astype(np.float32)
    b = rng.standard_normal(30).astype(np.float32)
    z = _blas.linear_into(x, w, b)
    if _blas.cblas_sgemm() is None:
        assert z is None
        return
    want = x @ w.T
    want += b
    np.testing.assert_array_equal(z, want)


def test_nothing_without_a_drivable_blas(monkeypatch):
    monkeypatch.setitem(_blas._STATE, "ctl", [])
    monkeypatch.setitem(_blas._STATE, "sgemm", None)
    assert _blas.cblas_sgemm() is None
    x = np.ones((2, 3), np.float32)
    assert _blas.linear_into(x, x, np.ones(2, np.float32)) is None


def test_integer_width_of_an_unsuffixed_openblas():
    class Config:   # stands in for openblas_get_config of a library
        restype = None

        def __init__(self, text: bytes) -> None:
            self.text = text

        def __call__(self) -> bytes:
            return self.text

    class Lib:
        def __init__(self, text: bytes) -> None:
            self.openblas_get_config = Config(text)

    assert _blas._ilp64(Lib(b"OpenBLAS 0.3.31 USE64BITINT DYNAMIC_ARCH NO_AFFINITY"))
    assert not _blas._ilp64(Lib(b"OpenBLAS 0.3.31 DYNAMIC_ARCH NO_AFFINITY"))
    assert not _blas._ilp64(object())
