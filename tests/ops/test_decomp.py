"""Decompositions and matrix functions (glassgrad/ops/decomp.py, tensor_methods/extra3.py,
linalg.py) against PyTorch: cholesky, qr, svd, pinverse, logdet, matrix_power,
matrix_exp, cholesky_solve/inverse, triangular solves, cov/corrcoef, norms."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op, needs_torch, torch

pytestmark = needs_torch


def _spd(*batch_n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch_n)
    return a @ np.swapaxes(a, -1, -2) + batch_n[-1] * np.eye(batch_n[-1])


def _sym(x):
    return (x + x.mT) / 2


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_cholesky(upper, shape):
    a = _spd(*shape)
    check_op(lambda x: _sym(x).cholesky(upper), inputs=[a])
    check_op(lambda x: gg.linalg.cholesky(_sym(x), upper=upper), inputs=[a],
             torch_fn=lambda x: torch.linalg.cholesky(_sym(x), upper=upper))
    check_op(lambda x: gg.cholesky(_sym(x), upper), inputs=[a],
             torch_fn=lambda x: torch.cholesky(_sym(x), upper))


def test_cholesky_not_pd_names_op():
    with pytest.raises(ValueError, match="cholesky"):
        gg.tensor([[1.0, 2.0], [2.0, 1.0]]).cholesky()


def test_cholesky_solve_inverse():
    lo = np.linalg.cholesky(_spd(3, 3))
    for upper in (False, True):
        f = lo.T.copy() if upper else lo
        check_op(lambda b, f: b.cholesky_solve(f, upper), shapes=[(3, 2), f],  # noqa: B023 - called within the loop
                 inputs=[np.random.default_rng(1).standard_normal((3, 2)), f])
        check_op(lambda f: f.cholesky_inverse(upper), inputs=[f])  # noqa: B023 - called within the loop


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5, 2)])
def test_qr(shape):
    a = np.random.default_rng(2).standard_normal(shape)
    check_op(lambda x: tuple(x.qr()), inputs=[a])
    check_op(lambda x: tuple(gg.linalg.qr(x)), inputs=[a],
             torch_fn=lambda x: tuple(torch.linalg.qr(x)))
    q, r = gg.linalg.qr(gg.tensor(a), mode="complete")
    tq, tr = torch.linalg.qr(torch.tensor(a), mode="complete")
    np.testing.assert_allclose(q.numpy(), tq.numpy(), atol=1e-12)
    np.testing.assert_allclose(r.numpy(), tr.numpy(), atol=1e-12)


def test_qr_wide_gradient_is_refused():
    x = gg.randn(2, 4, requires_grad=True, dtype=gg.float64)
    q, r = gg.linalg.qr(x)
    with pytest.raises(NotImplementedError, match="qr"):
        (q.sum() + r.sum()).backward()


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 4, 3)])
def test_svd_gauge_invariant_gradients(shape):
    a = np.random.default_rng(3).standard_normal(shape)

    def recon(x, lib):
        if lib is gg:
            u, s, vh = gg.linalg.svd(x, full_matrices=False)
        else:
            u, s, vh = torch.linalg.svd(x, full_matrices=False)
        # quantities that do not depend on the signs of singular vectors
        return s, (u * u).sum(-1), (vh * vh.sin()).abs().sum(-2), u @ (s.unsqueeze(-1) * vh)

    check_op(lambda x: recon(x, gg), inputs=[a], torch_fn=lambda x: recon(x, torch),
             gradcheck_atol=1e-5)
    check_op(lambda x: gg.linalg.svdvals(x), inputs=[a], torch_fn=torch.linalg.svdvals)
    check_op(lambda x: (x.svd()[0] @ x.svd()[2].mT) * x.svd()[1].sum(), inputs=[a],
             torch_fn=lambda x: (x.svd()[0] @ x.svd()[2].mT) * x.svd()[1].sum())


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)])
def test_pinverse(shape):
    a = np.random.default_rng(4).standard_normal(shape)
    check_op(lambda x: x.pinverse(), inputs=[a], gradcheck_atol=1e-5)
    check_op(lambda x: gg.linalg.pinv(x), inputs=[a], torch_fn=torch.linalg.pinv,
             gradcheck_atol=1e-5)
    r = np.array([[1.0, 2.0], [2.0, 4.0]])  # rank 1
    np.testing.assert_allclose(gg.tensor(r).pinverse().numpy(),
                               torch.tensor(r).pinverse().numpy(), atol=1e-12)


def test_logdet_and_matrix_power():
    a = _spd(3, 3)
    check_op(lambda x: x.logdet(), inputs=[a])
    neg = np.diag([1.0, -2.0, 3.0])
    assert np.isnan(gg.tensor(neg).logdet().item()) and np.isnan(torch.tensor(neg).logdet().item())
    assert gg.zeros(2, 2).logdet().item() == torch.zeros(2, 2).logdet().item() == -np.inf
    for n in (0, 1, 2, 5, -1, -3):
        check_op(lambda x: x.matrix_power(n), inputs=[a / 3], torch_fn=lambda x: x.matrix_power(n))  # noqa: B023 - called within the loop
        check_op(lambda x: gg.linalg.matrix_power(x, n), inputs=[np.stack([a, a.T]) / 3],  # noqa: B023 - called within the loop
                 torch_fn=lambda x: torch.linalg.matrix_power(x, n))  # noqa: B023 - called within the loop
    m = np.array([[1, 2], [3, 4]])
    assert gg.tensor(m).matrix_power(3).tolist() == torch.tensor(m).matrix_power(3).tolist()
    with pytest.raises(ValueError, match="matrix_power"):
        gg.ones(2, 3).matrix_power(2)


@pytest.mark.parametrize("scale", [0.1, 1.0, 8.0])
def test_matrix_exp(scale):
    a = np.random.default_rng(5).standard_normal((2, 3, 3)) * scale
    check_op(lambda x: x.matrix_exp(), inputs=[a], rtol=1e-9, atol=1e-9,
             gradcheck_rtol=1e-3, dtypes=(np.float64,))
    # float32: ours is computed in float64 and rounded; PyTorch's float32 result has
    # errors of ~1e-5 of the largest entry, so compare to that scale
    big = float(np.abs(torch.matrix_exp(torch.tensor(a)).numpy()).max())
    check_op(lambda x: x.matrix_exp(), inputs=[a], atol=2e-5 * big, rtol=1e-5,
             gradcheck=False, dtypes=(np.float32,))
    check_op(lambda x: gg.matrix_exp(x), inputs=[a[0]], torch_fn=torch.matrix_exp,
             rtol=1e-9, atol=1e-9, gradcheck_rtol=1e-3, dtypes=(np.float64,))
    assert np.allclose(gg.zeros(2, 2).matrix_exp().numpy(), np.eye(2))


def test_triangular_solves():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((3, 2))
    for upper in (True, False):
        for tr in (False, True):
            for unit in (False, True):
                check_op(lambda b, a: b.triangular_solve(a, upper, tr, unit)[0], inputs=[b, a],  # noqa: B023 - called within the loop
                         torch_fn=lambda b, a: torch.triangular_solve(b, a, upper, tr, unit)[0])  # noqa: B023 - called within the loop
        for left in (True, False):
            bb = b if left else b.T
            check_op(lambda a, b: gg.linalg.solve_triangular(a, b, upper=upper, left=left),  # noqa: B023 - called within the loop
                     inputs=[a, bb],
                     torch_fn=lambda a, b: torch.linalg.solve_triangular(a, b, upper=upper,  # noqa: B023 - called within the loop
                                                                         left=left))  # noqa: B023 - called within the loop


def test_cov_corrcoef():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 6))
    fw = np.array([1, 2, 1, 3, 1, 1])
    aw = rng.uniform(0.5, 1.5, 6)
    check_op(lambda x: x.cov(), inputs=[x])
    check_op(lambda x: x.cov(correction=0), inputs=[x])
    check_op(lambda x: x.cov(fweights=gg.tensor(fw), aweights=gg.tensor(aw)), inputs=[x],
             torch_fn=lambda x: x.cov(fweights=torch.tensor(fw), aweights=torch.tensor(aw)))
    check_op(lambda x: gg.cov(x[0]), inputs=[x], torch_fn=lambda x: torch.cov(x[0]))
    check_op(lambda x: x.corrcoef(), inputs=[x])
    check_op(lambda x: gg.corrcoef(x), inputs=[x], torch_fn=torch.corrcoef)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf")])
def test_matrix_norms(ord):
    a = np.random.default_rng(8).standard_normal((2, 3, 4))
    check_op(lambda x: gg.linalg.matrix_norm(x, ord), inputs=[a],
             torch_fn=lambda x: torch.linalg.matrix_norm(x, ord), gradcheck_atol=1e-5)
    check_op(lambda x: gg.linalg.matrix_norm(x, ord, dim=(0, 2), keepdim=True), inputs=[a],
             torch_fn=lambda x: torch.linalg.matrix_norm(x, ord, dim=(0, 2), keepdim=True),
             gradcheck_atol=1e-5)


def test_vector_norm_vecdot_multi_dot_frobenius():
    a = np.random.default_rng(9).standard_normal((3, 4))
    for ord in (1, 2, 3.5, float("inf"), float("-inf")):
        check_op(lambda x: gg.linalg.vector_norm(x, ord, dim=1), inputs=[a],  # noqa: B023 - called within the loop
                 torch_fn=lambda x: torch.linalg.vector_norm(x, ord, dim=1))  # noqa: B023 - called within the loop
    check_op(lambda x, y: gg.linalg.vecdot(x, y), shapes=[(3, 4), (4,)],
             torch_fn=lambda x, y: torch.linalg.vecdot(x, y))
    check_op(lambda x, y, z: gg.linalg.multi_dot([x, y, z]), shapes=[(3,), (3, 4), (4,)],
             torch_fn=lambda x, y, z: torch.linalg.multi_dot([x, y, z]))
    check_op(lambda x: gg.frobenius_norm(x), inputs=[a], torch_fn=lambda x: torch.norm(x, "fro"))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (4, 3), (3, 5), (1, 1)])
def test_lu_family(shape):
    a = np.random.default_rng(10).standard_normal(shape)
    check_op(lambda x: tuple(gg.linalg.lu_factor(x)), inputs=[a],
             torch_fn=lambda x: tuple(torch.linalg.lu_factor(x)))
    check_op(lambda x: tuple(gg.linalg.lu(x)), inputs=[a],
             torch_fn=lambda x: tuple(torch.linalg.lu(x)))
    lu, piv = gg.tensor(a).lu()
    tlu, tpiv = torch.tensor(a).lu()
    assert piv.dtype == gg.int32 and piv.tolist() == tpiv.tolist()
    for u, v in zip(gg.lu_unpack(lu, piv), torch.lu_unpack(tlu, tpiv)):
        np.testing.assert_allclose(u.numpy(), v.numpy(), atol=1e-12)
    if shape[-1] == shape[-2]:
        b = np.random.default_rng(11).standard_normal(shape[:-1] + (2,))
        check_op(lambda x, b: gg.linalg.lu_solve(*gg.linalg.lu_factor(x), b), inputs=[a, b],
                 torch_fn=lambda x, b: torch.linalg.lu_solve(*torch.linalg.lu_factor(x), b))
        check_op(lambda x, b: b.lu_solve(*x.lu()), inputs=[a, b],
                 torch_fn=lambda x, b: b.lu_solve(*torch.linalg.lu_factor(x)))
        check_op(lambda x, b: gg.linalg.lu_solve(*gg.linalg.lu_factor(x), b.mT, left=False,
                                                  adjoint=True), inputs=[a, b],
                 torch_fn=lambda x, b: torch.linalg.lu_solve(*torch.linalg.lu_factor(x), b.mT,
                                                             left=False, adjoint=True))


def test_lu_singular_and_infos():
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    a, p, info = gg.tensor(s).lu(get_infos=True)
    ta, tp, tinfo = torch.tensor(s).lu(get_infos=True)
    np.testing.assert_allclose(a.numpy(), ta.numpy())
    assert info.tolist() == tinfo.tolist() == 2
    z = gg.zeros(2, 2).lu()[0]
    assert np.all(z.numpy() == 0)
