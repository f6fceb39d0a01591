"""gg.grad, jacobian/hessian/vjp/jvp against torch.autograd.functional, gradcheck's report
(and that it catches a wrong backward), and user-defined gg.Function subclasses."""

from __future__ import annotations

import re

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_double_backward, check_op

torch = pytest.importorskip("torch")
TAF = torch.autograd.functional


# ----------------------------------------------------------------------- gg.grad
def test_grad_basic_and_does_not_touch_dot_grad():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    w = gg.tensor([3.0, -1.0], requires_grad=True)
    y = (x * w).sum()
    gx, gw = gg.grad(y, [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, -1.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    (g,) = gg.grad((x * x).sum(), x)  # a single tensor input also works
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_grad_outputs_for_non_scalar_and_several_outputs():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match=r"grad: output 0 has shape \(3,\).*grad_outputs"):
        gg.grad(y, x, retain_graph=True)
    (g,) = gg.grad(y, x, grad_outputs=gg.tensor([1.0, 0.5, 0.0]))
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0, 0.0])
    a = x.sum()
    b = x * 3
    (g2,) = gg.grad([a, b], [x], grad_outputs=[None, gg.tensor([1.0, 1.0, -1.0])])
    np.testing.assert_allclose(g2.numpy(), [4.0, 4.0, -2.0])


def test_grad_retain_graph():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    (g1,) = gg.grad(y, x, retain_graph=True)
    (g2,) = gg.grad(y, x)
    np.testing.assert_allclose(g1.numpy(), g2.numpy())
    with pytest.raises(RuntimeError, match="second time"):
        gg.grad(y, x)


def test_grad_allow_unused():
    x = gg.tensor([1.0], requires_grad=True)
    z = gg.tensor([2.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match=r"input 1 .*not used.*allow_unused=True"):
        gg.grad(y, [x, z], retain_graph=True)
    gx, gz = gg.grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gz is None and gx.item() == 2.0
    gx, gz = gg.grad(y, [x, z], allow_unused=True, materialize_grads=True)
    assert gz.shape == (1,) and gz.item() == 0.0


def test_grad_create_graph_matches_torch():
    a = np.array([0.4, -0.3, 1.2])
    x = gg.tensor(a, requires_grad=True)
    (g,) = gg.grad((x.tanh() ** 3).sum(), x, create_graph=True)
    assert g.requires_grad
    (h,) = gg.grad((g * g).sum(), x)
    t = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad((t.tanh() ** 3).sum(), t, create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), t)
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-12)


def test_grad_of_intermediate_input():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    (gh,) = gg.grad(y, h)
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])


def test_gradient_penalty_pattern():
    # ||∂D/∂x||² as a loss on the weights (WGAN-GP style): needs create_graph
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((4, 3)), rng.standard_normal((3, 1))

    def run(lib, t):
        x = t(xa, requires_grad=True)
        w = t(wa, requires_grad=True)
        d = (x @ w).tanh().sum()
        grad = gg.grad if lib is gg else torch.autograd.grad
        (gx,) = grad(d, x, create_graph=True)
        pen = ((gx * gx).sum(1) - 1) ** 2
        pen.sum().backward()
        return w.grad.numpy()

    np.testing.assert_allclose(run(gg, gg.tensor), run(torch, torch.tensor), rtol=1e-10)


# ----------------------------------------------------------------------- jacobian & co
def test_jacobian_of_xW_has_documented_shape_and_contracts_to_xT_delta():
    n, m = 4, 3
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.standard_normal((1, n)))
    W = gg.tensor(rng.standard_normal((n, m)))
    J = gg.jacobian(lambda w: x @ w, W)
    assert J.shape == (1, m, n, m)
    delta = rng.standard_normal((1, m))
    contracted = np.einsum("ij,ijkl->kl", delta, J.numpy())
    np.testing.assert_allclose(contracted, x.numpy().T @ delta, rtol=1e-6)
    tJ = TAF.jacobian(lambda w: torch.tensor(x.numpy()) @ w, torch.tensor(W.numpy()))
    np.testing.assert_allclose(J.numpy(), tJ.numpy(), rtol=1e-6)


def test_jacobian_several_inputs_and_shapes_vs_torch():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3,))

    def f(x, y):
        return (x * y).sin().sum(0)

    Ja, Jb = gg.jacobian(f, (gg.tensor(a), gg.tensor(b)))
    tJa, tJb = TAF.jacobian(f, (torch.tensor(a), torch.tensor(b)))
    assert Ja.shape == (3, 2, 3) and Jb.shape == (3, 3)
    np.testing.assert_allclose(Ja.numpy(), tJa.numpy(), rtol=1e-12)
    np.testing.assert_allclose(Jb.numpy(), tJb.numpy(), rtol=1e-12)
    # scalar output and scalar input
    J0 = gg.jacobian(lambda x: (x * x).sum(), gg.tensor(a))
    assert J0.shape == (2, 3)
    np.testing.assert_allclose(J0.numpy(), 2 * a)
    # output independent of the input: zeros of the right shape
    Jz = gg.jacobian(lambda x: gg.ones(2, dtype=gg.float64), gg.tensor(a))
    assert Jz.shape == (2, 2, 3) and not Jz.numpy().any()


def test_jacobian_leaves_user_tensor_alone():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    gg.jacobian(lambda t: t * t, x)
    assert x.grad is None


def test_hessian_vs_torch():
    a = np.array([0.5, -1.0, 2.0])

    def f(x):
        return (x.exp() * x[0] + x.sin() * x[2]).sum() + (x * x).sum() ** 2

    H = gg.hessian(f, gg.tensor(a))
    tH = TAF.hessian(f, torch.tensor(a))
    assert H.shape == (3, 3)
    np.testing.assert_allclose(H.numpy(), tH.numpy(), rtol=1e-10)
    np.testing.assert_allclose(H.numpy(), H.numpy().T, rtol=1e-10)
    M = np.array([[2.0, 1.0], [1.0, 3.0]])
    Hq = gg.hessian(lambda x: (x * (gg.tensor(M) @ x)).sum() * 0.5, gg.tensor(np.array([1.0, -1.0])))
    np.testing.assert_allclose(Hq.numpy(), M)
    with pytest.raises(RuntimeError, match="scalar"):
        gg.hessian(lambda x: x * x, gg.tensor(a))


def test_hessian_matrix_input():
    a = np.random.default_rng(0).standard_normal((2, 2))
    H = gg.hessian(lambda x: (x @ x).tanh().sum(), gg.tensor(a))
    tH = TAF.hessian(lambda x: (x @ x).tanh().sum(), torch.tensor(a))
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(H.numpy(), tH.numpy(), rtol=1e-10, atol=1e-12)


def test_vjp_jvp_vs_torch():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 2))
    v_out = rng.standard_normal((2,))
    v_in = rng.standard_normal((3, 2))

    def f(x):
        return (x.exp() * x).sum(0) + x[0] * x[1]

    out, vj = gg.vjp(f, gg.tensor(a), gg.tensor(v_out))
    tout, tvj = TAF.vjp(f, torch.tensor(a), torch.tensor(v_out))
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-12)
    np.testing.assert_allclose(vj.numpy(), tvj.numpy(), rtol=1e-12)
    out, jv = gg.jvp(f, gg.tensor(a), gg.tensor(v_in))
    tout, tjv = TAF.jvp(f, torch.tensor(a), torch.tensor(v_in))
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-12)
    np.testing.assert_allclose(jv.numpy(), tjv.numpy(), rtol=1e-12)
    # J v equals the Jacobian contracted with v
    J = gg.jacobian(f, gg.tensor(a)).numpy()
    np.testing.assert_allclose(jv.numpy(), np.einsum("oij,ij->o", J, v_in), rtol=1e-12)


def test_vjp_jvp_several_inputs():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    v = rng.standard_normal(3)

    def f(x, y):
        return x * y.sin()

    _, (va, vb) = gg.vjp(f, (gg.tensor(a), gg.tensor(b)), gg.tensor(v))
    _, (tva, tvb) = TAF.vjp(f, (torch.tensor(a), torch.tensor(b)), torch.tensor(v))
    np.testing.assert_allclose(va.numpy(), tva.numpy(), rtol=1e-12)
    np.testing.assert_allclose(vb.numpy(), tvb.numpy(), rtol=1e-12)
    _, jv = gg.jvp(f, (gg.tensor(a), gg.tensor(b)), (gg.tensor(v), gg.tensor(v * 2)))
    _, tjv = TAF.jvp(f, (torch.tensor(a), torch.tensor(b)), (torch.tensor(v), torch.tensor(v * 2)))
    np.testing.assert_allclose(jv.numpy(), tjv.numpy(), rtol=1e-12)


# ----------------------------------------------------------------------- gradcheck
class _WrongSigmoid(gg.Function):
    """sigmoid with a deliberately wrong backward (forgets the (1 - z) factor)."""

    @staticmethod
    def forward(ctx, x):
        z = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * z


def test_gradcheck_catches_wrong_backward_and_reports_where():
    x = gg.tensor(np.array([[0.5, -1.0], [2.0, 0.1]]), requires_grad=True)
    w = gg.tensor(np.array([1.0, 3.0]), requires_grad=True)
    with pytest.raises(gg.GradcheckError, match=r"input 0 \(2, 2\): max abs err .* -> FAIL"):
        gg.gradcheck(lambda a, b: _WrongSigmoid.apply(a) * b, [x, w])
    res = gg.gradcheck(lambda a, b: _WrongSigmoid.apply(a) * b, [x, w], raise_exception=False)
    assert not res
    r0, r1 = res.inputs
    assert not r0.ok and r1.ok
    assert r0.index == 0 and r0.shape == (2, 2)
    # the largest error: element 2 (x = 2.0), where the missing factor matters most for w = 1
    z = 1 / (1 + np.exp(-x.detach().numpy()))
    err = np.abs(z * z * w.detach().numpy())  # |analytic - numeric| = |z·w - z(1-z)·w| = z²·w
    assert r0.where == (int(np.argmax(err)), int(np.argmax(err)))
    np.testing.assert_allclose(r0.max_abs_err, err.max(), rtol=1e-5)
    np.testing.assert_allclose(r0.analytic - r0.numeric, err.max(), rtol=1e-5)
    assert r0.max_rel_err > 0.1
    assert r1.max_abs_err < 1e-8
    assert "input 0 (2, 2)" in str(res) and "FAIL" in str(res) and "ok" in str(res)
    k = int(np.argmax(err))
    assert f"input element {k} {[k // 2, k % 2]}" in str(r0)


def test_gradcheck_passes_and_reports_small_errors():
    x = gg.tensor(np.array([0.3, -0.2, 1.5]), requires_grad=True)
    res = gg.gradcheck(lambda t: (t.sigmoid() * t).sum(), [x])
    assert res and res.inputs[0].ok and res.inputs[0].max_abs_err < 1e-8
    # float32 inputs are checked in float64 copies
    x32 = gg.tensor([0.3, -0.2], requires_grad=True)
    assert gg.gradcheck(lambda t: t.tanh(), [x32])
    with pytest.raises(ValueError, match="requires_grad"):
        gg.gradcheck(lambda t: t, [gg.tensor([1.0])])


def test_gradcheck_with_non_tensor_and_integer_inputs():
    idx = gg.tensor([2, 0, 0])
    x = gg.tensor(np.arange(3.0) + 0.5, requires_grad=True)
    assert gg.gradcheck(lambda t, i, s: t[i] * s, [x, idx, 2.5])


# ----------------------------------------------------------------------- custom Functions
class Cube(gg.Function):
    """A user-defined op: z = x³, dz/dx = 3x² (written with operators: twice differentiable)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


def test_custom_function_user_op():
    check_op(lambda x: Cube.apply(x), shapes=[(3, 4)], torch_fn=lambda x: x ** 3)
    check_double_backward(lambda x: Cube.apply(x), shapes=[(3,)], torch_fn=lambda x: x ** 3)
    y = Cube.apply(gg.tensor([2.0], requires_grad=True))
    assert y.grad_fn.name() == "CubeBackward"


class ScaledAdd(gg.Function):
    """Several inputs, a non-tensor argument and needs_input_grad."""

    @staticmethod
    def forward(ctx, a, b, alpha):
        ctx.alpha = alpha
        return a + alpha * b

    @staticmethod
    def backward(ctx, g):
        da = g if ctx.needs_input_grad[0] else None
        db = g * ctx.alpha if ctx.needs_input_grad[1] else None
        return da, db, None


def test_custom_function_several_inputs():
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    b = gg.tensor([3.0, 4.0])
    y = ScaledAdd.apply(a, b, 0.5)
    assert y.grad_fn.needs_input_grad == (True, False, False)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0])
    assert b.grad is None
    check_op(lambda x, z: ScaledAdd.apply(x, z, 2.0), shapes=[(3,), (3,)], torch_fn=lambda x, z: x + 2 * z)


class StraightThroughRelu(gg.Function):
    """A user replacing a built-in gradient rule: relu forward, identity backward."""

    @staticmethod
    def forward(ctx, x):
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, g):
        return g


class ClippedGradExp(gg.Function):
    """exp whose backward clips the gradient (a custom rule replacing exp's)."""

    @staticmethod
    def forward(ctx, x):
        z = np.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return np.clip(g * z, -1.0, 1.0)


def test_custom_function_replacing_builtin_gradient():
    x = gg.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)
    StraightThroughRelu.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 1.0, 1.0])  # built-in relu: [0, 0, 1, 1]
    x.grad = None
    ClippedGradExp.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.clip(np.exp([-2.0, -0.5, 0.5, 3.0]), -1, 1), rtol=1e-6)
    # gradcheck notices that the rule is not the true derivative
    assert not gg.gradcheck(lambda t: StraightThroughRelu.apply(t), [x], raise_exception=False)


class OnceCube(gg.Function):
    """x³ with an array-only backward marked once_differentiable."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    @gg.once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        assert isinstance(g, np.ndarray) and isinstance(x, np.ndarray)
        return g * 3 * x ** 2


def test_once_differentiable():
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    OnceCube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    # first-order works under create_graph too; differentiating again raises clearly
    x.grad = None
    (g,) = gg.grad(OnceCube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="double backward through OnceCubeBackward is not supported"):
        g.sum().backward()


def test_custom_function_forward_errors_are_named():
    class Boom(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.reshape(7)

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(ValueError, match=r"boom: invalid inputs \(\(2, 3\) float32\)"):
        Boom.apply(gg.zeros(2, 3, requires_grad=True))


def test_custom_function_mark_dirty_free_of_surprises_on_views():
    # forward returning its input unchanged: the output is a new tensor in the graph
    class Ident(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = Ident.apply(x)
    assert y is not x and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_hessian_several_inputs_vs_torch():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(3), rng.standard_normal((2, 3))

    def f(x, w):
        return ((w @ x).tanh() ** 2).sum() + (x * x * x).sum()

    H = gg.hessian(f, (gg.tensor(a), gg.tensor(b)))
    tH = TAF.hessian(f, (torch.tensor(a), torch.tensor(b)))
    for i in range(2):
        for j in range(2):
            assert H[i][j].shape == tuple(tH[i][j].shape)
            np.testing.assert_allclose(H[i][j].numpy(), tH[i][j].numpy(), rtol=1e-10, atol=1e-12)


def test_functional_api_names_exist():
    from glassgrad import functional_api

    for name in functional_api.__all__:
        assert callable(getattr(gg, name)), name


def test_anomaly_mode_names_the_op():
    x = gg.tensor([1.0, -1.0], requires_grad=True)
    with gg.detect_anomaly():
        with pytest.raises(gg.AnomalyError, match="Log"), np.errstate(invalid="ignore"):
            x.log()
        y = (x * 0).sqrt().sum()
        with pytest.raises(gg.AnomalyError, match="SqrtBackward"), np.errstate(divide="ignore"):
            y.backward()


def test_functional_edge_cases():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = gg.grad(x, x, gg.tensor([3.0, 4.0]))  # output is the input itself
    np.testing.assert_allclose(g.numpy(), [3.0, 4.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.grad((x * 2).sum(), gg.tensor([1.0]))
    np.testing.assert_allclose(gg.jacobian(lambda t: t, gg.tensor([1.0, 2.0])).numpy(), np.eye(2))
    out, v = gg.vjp(lambda t: gg.ones(2), gg.tensor([1.0, 2.0]), gg.ones(2))
    assert v.shape == (2,) and not v.numpy().any()
    out, jv = gg.jvp(lambda t: gg.ones(2), gg.tensor([1.0, 2.0]), gg.ones(2))
    assert jv.shape == (2,) and not jv.numpy().any()
    out, jv = gg.jvp(lambda t: t.sum(), gg.tensor([1.0, 2.0]), gg.tensor([1.0, 5.0]))
    assert jv.shape == () and jv.item() == 6.0


def test_gradcheck_reports_the_real_relative_error_of_passing_entries():
    # analytic and numeric differ far below atol: the check passes, and the report still
    # gives the relative error (it used to say 0)
    class Nudged(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3.0

        @staticmethod
        def backward(ctx, g):
            return g * (3.0 * (1 + 1e-9))

    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    res = gg.gradcheck(lambda t: Nudged.apply(t), [x])
    assert res
    rep = res.inputs[0]
    assert 5e-10 < rep.max_rel_err < 5e-9
    pattern = r"max rel err 1\.\d+e-09 at output \d, input element \d \(analytic 3\.00000000"
    assert re.search(pattern, str(res))
