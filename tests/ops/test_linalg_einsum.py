"""einsum: values and gradients equal PyTorch's and finite differences for contractions,
reductions, diagonals, outer products, ellipsis broadcasting and implicit outputs;
double backward; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_double_backward, check_op

torch = pytest.importorskip("torch")

CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),            # matrix product
    ("ij,jk", [(3, 4), (4, 5)]),                # implicit output 'ik'
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),   # batched
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),  # attention scores
    ("i,i->", [(5,), (5,)]),                    # dot product
    ("i,j->ij", [(3,), (4,)]),                  # outer product
    ("ij->", [(3, 4)]),                         # sum
    ("ij->j", [(3, 4)]),                        # column sums
    ("ij->ji", [(3, 4)]),                       # transpose
    ("ii->i", [(4, 4)]),                        # diagonal
    ("ii", [(4, 4)]),                           # trace (implicit)
    ("iij->ij", [(3, 3, 2)]),                   # diagonal of a stack
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),  # ellipsis broadcast
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),    # ellipsis with a size-1 axis
    ("ij,ij->ij", [(1, 4), (3, 4)]),            # a broadcast size-1 axis
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),  # three operands (contraction path)
    ("bi,bj,ij->b", [(3, 2), (3, 4), (2, 4)]),  # bilinear form
    ("ijk->kji", [(0, 2, 3)]),                  # empty axis
    ("i,->i", [(3,), ()]),                      # 0-d operand
]


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_torch(eq, shapes):
    check_op(lambda *xs: gg.einsum(eq, *xs), shapes=shapes,
             torch_fn=lambda *xs: torch.einsum(eq, *xs))


@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(3, 4), (4, 2)]), ("ii->i", [(3, 3)]),
                                       ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
                                       ("ij->j", [(3, 4)]), ("bi,bj,ij->b", [(3, 2), (3, 4), (2, 4)])])
def test_einsum_double_backward(eq, shapes):
    check_double_backward(lambda *xs: gg.einsum(eq, *xs) ** 2, shapes=shapes,
                          torch_fn=lambda *xs: torch.einsum(eq, *xs) ** 2)


def test_einsum_is_one_node_list_operands_and_float32():
    a, b = gg.randn(3, 4, requires_grad=True), gg.randn(4, 5)
    z = gg.einsum("ij,jk->ik", [a, b])
    assert z.grad_fn.name() == "EinsumBackward" and z.dtype == gg.float32
    np.testing.assert_allclose(z.detach().numpy(), a.detach().numpy() @ b.numpy(), rtol=1e-5)
    z.sum().backward()
    assert a.grad.dtype == gg.float32 and a.grad.shape == (3, 4)


def test_einsum_errors_are_clear():
    with pytest.raises(ValueError, match="einsum: size 5 of 'j' in operand 1"):
        gg.einsum("ij,jk->ik", gg.ones(3, 4), gg.ones(5, 2))
    with pytest.raises(ValueError, match="einsum: operand 0 has shape \\(3, 4\\) but its "
                                         "subscripts 'ijk'"):
        gg.einsum("ijk->i", gg.ones(3, 4))
    with pytest.raises(ValueError, match="einsum: equation 'ij,jk->ik' has 2 operand"):
        gg.einsum("ij,jk->ik", gg.ones(3, 4))
    with pytest.raises(ValueError, match="output subscripts 'iz'"):
        gg.einsum("ij->iz", gg.ones(3, 4))
    with pytest.raises(TypeError, match="einsum: all operands must have the same dtype"):
        gg.einsum("i,i->", gg.ones(3), gg.ones(3, dtype=gg.float64))
