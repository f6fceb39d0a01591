"""Matrix multiplication in every case, against PyTorch, plus its error messages."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op

torch = pytest.importorskip("torch")

MATMUL_SHAPES = [
    [(4,), (4,)],                 # 1-D · 1-D: dot product, 0-d result
    [(4,), (4, 3)],               # 1-D · 2-D
    [(3, 4), (4,)],               # 2-D · 1-D
    [(3, 4), (4, 5)],             # 2-D · 2-D
    [(2, 3, 4), (2, 4, 5)],       # batched
    [(2, 3, 4), (4, 5)],          # batch · shared matrix
    [(3, 4), (2, 4, 5)],          # shared matrix · batch
    [(2, 1, 3, 4), (5, 4, 2)],    # broadcast batch dims
    [(1, 3, 4), (2, 4, 2)],       # size-1 batch dim broadcast
    [(4,), (2, 4, 3)],            # 1-D · batched
    [(2, 3, 4), (4,)],            # batched · 1-D
    [(1, 4), (4, 1)],             # size-1 rows / cols
    [(0, 4), (4, 3)],             # empty batch of rows
    [(3, 0), (0, 2)],             # empty inner dim: zeros
    [(2, 0, 3, 4), (4, 2)],       # empty batch dim
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    check_op(lambda a, b: a @ b, shapes=shapes)
    check_op(lambda a, b: gg.matmul(a, b), shapes=shapes, torch_fn=torch.matmul, gradcheck=False)


def test_matmul_one_side_requires_grad():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    check_op(lambda x, y: x @ y, inputs=[a, b], grad=[True, False])
    check_op(lambda x, y: x @ y, inputs=[a, b], grad=[False, True])


def test_mm_bmm_dot_outer_and_rmatmul():
    check_op(lambda a, b: a.mm(b), shapes=[(3, 4), (4, 2)])
    check_op(lambda a, b: a.bmm(b), shapes=[(2, 3, 4), (2, 4, 2)])
    check_op(lambda a, b: a.dot(b), shapes=[(5,), (5,)])
    check_op(lambda a, b: gg.outer(a, b), shapes=[(3,), (4,)], torch_fn=torch.outer)
    w = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    x = gg.randn(3, 4, requires_grad=True)
    y = w @ gg.randn(2, 5)  # ndarray @ Tensor goes through __rmatmul__
    assert isinstance(y, gg.Tensor) and y.shape == (4, 5)
    (x @ w).sum().backward()
    assert x.grad.shape == (3, 4)
    with pytest.raises(ValueError, match="mm"):
        gg.randn(3).mm(gg.randn(3, 2))
    with pytest.raises(ValueError, match="bmm"):
        gg.randn(3, 3).bmm(gg.randn(3, 3))
    with pytest.raises(ValueError, match="dot"):
        gg.randn(3, 1).dot(gg.randn(3))


def test_matmul_errors_name_op_and_shapes():
    a = gg.randn(128, 784)
    b = gg.randn(700, 256)
    with pytest.raises(ValueError) as e:
        a @ b
    assert str(e.value) == "matmul: (128, 784) @ (700, 256): inner dimensions 784 and 700 differ"
    with pytest.raises(ValueError, match=r"matmul: \(2, 3, 4\) @ \(3, 4, 5\): batch dimensions"):
        gg.randn(2, 3, 4) @ gg.randn(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        gg.tensor(2.0) @ gg.randn(3)
    with pytest.raises(ValueError, match=r"inner dimensions 3 and 4"):
        gg.randn(3) @ gg.randn(4)


def test_matmul_dtype_mismatch_is_clear():
    a = gg.randn(2, 3)
    b = gg.randn(3, 2, dtype=gg.float64)
    # glassgrad follows PyTorch: float32 @ float64 is an error naming both dtypes
    with pytest.raises(TypeError, match=r"matmul.*float32.*float64"):
        a @ b
    with pytest.raises(TypeError, match=r"matmul.*int64"):
        gg.tensor([[1, 2]]) @ gg.randn(2, 2)
    # same-dtype integer matmul works (as in PyTorch)
    np.testing.assert_array_equal((gg.tensor([[1, 2]]) @ gg.tensor([[3], [4]])).numpy(), [[11]])


def test_matmul_float32_stays_float32():
    a = gg.randn(3, 4, requires_grad=True)
    b = gg.randn(4, 2, requires_grad=True)
    y = a @ b
    assert y.dtype == gg.float32
    y.sum().backward()
    assert a.grad.dtype == gg.float32 and b.grad.dtype == gg.float32
