"""The operators of ``Tensor`` (``glassgrad/tensor_methods/arithmetic.py``): the integer and
bitwise ones and the commuting ``+``/``*`` with a number on either side, against PyTorch, and the
errors naming the op."""

import numpy as np
import pytest
import torch

import glassgrad as gg

_I = np.array([[6, -3, 0], [5, 12, 7]], dtype=np.int64)
_J = np.array([4, 9, -2], dtype=np.int64)


@pytest.mark.parametrize("expr", [
    lambda x, y: x + y, lambda x, y: 2 + x, lambda x, y: x * y, lambda x, y: 3 * x, lambda x, y: 1.5 * x,
    lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y,
    lambda x, y: 3 & x, lambda x, y: 3 | x, lambda x, y: 3 ^ x, lambda x, y: True & (x > 0),
    lambda x, y: x.bitwise_and(y), lambda x, y: x.gcd(y), lambda x, y: x.lcm(y),
    lambda x, y: x << 2, lambda x, y: x.bitwise_right_shift(1),
])
def test_integer_operators_equal_torch(expr):
    g = expr(gg.tensor(_I), gg.tensor(_J))
    t = expr(torch.tensor(_I), torch.tensor(_J))
    assert str(g.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_array_equal(g.numpy(), t.numpy())



@pytest.mark.parametrize("expr, op", [
    (lambda x: x & "a", "bitwise_and"), (lambda x: "a" | x, "bitwise_or"),
    (lambda x: None ^ x, "bitwise_xor"), (lambda x: x << None, "bitwise_left_shift"),
    (lambda x: x.bitwise_and("a"), "bitwise_and"), (lambda x: x.gcd(None), "gcd"),
    (lambda x: None + x, "add"), (lambda x: "a" * x, "mul"),
])
def test_operators_name_the_op_for_an_operand_that_is_not_a_tensor(expr, op):
    with pytest.raises(TypeError, match=f"^{op}: unsupported operand of type"):
        expr(gg.tensor(_J))


def test_integer_ops_refuse_floats_naming_the_op():
    with pytest.raises(TypeError, match="^bitwise_xor: needs bool or integer operands"):
        1.5 ^ gg.tensor(_J)
    with pytest.raises(TypeError, match="^gcd: needs integer operands, got float32 and float32"):
        gg.tensor(_J).gcd(gg.tensor([1.0]))
