from oracle import check_double_backward, check_op


def test_matmul_relu_sum():
    check_op(lambda x, w: (x @ w).relu().sum(), shapes=[(3, 4), (4, 5)])


def test_broadcast_mul_div():
    check_op(lambda a, b: (a * b / (b * b + 1)).sum(dim=0), shapes=[(3, 1, 4), (2, 4)])


def test_softmax_double_backward():
    check_double_backward(lambda x: x.softmax(dim=-1) * x, shapes=[(3, 4)])
