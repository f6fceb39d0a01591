"""Movement ops: reshape/view/flatten, permute/transpose, expand, squeeze/unsqueeze,
cat/stack/split/chunk, pad, repeat/tile, flip, repeat_interleave, and the sliding-window
view — values and gradients equal to PyTorch, gradcheck, edge shapes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("shape, new", [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((2, 3, 4), (4, -1)),
                                        ((), (1, 1)), ((1,), ()), ((0, 3), (3, 0)), ((0, 3), (-1, 3)),
                                        ((6,), (2, 1, 3))], ids=str)
def test_reshape_view(shape, new):
    check_op(lambda x: x.reshape(new), shapes=[shape])
    check_op(lambda x: x.view(*new) if new else x.view(new), shapes=[shape], gradcheck=False)
    check_op(lambda x: (x * 2).reshape(*new) if new else x.reshape(()), shapes=[shape],
             gradcheck=False)


def test_reshape_error_is_clear():
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*6 elements.*\(4, 2\)"):
        gg.randn(2, 3).reshape(4, 2)


@pytest.mark.parametrize("s, e", [(0, -1), (1, -1), (0, 1), (1, 2), (2, 2)])
def test_flatten(s, e):
    check_op(lambda x: x.flatten(s, e), shapes=[(2, 3, 4)])
    check_op(lambda x: x.flatten(s, e), shapes=[(2, 0, 4)], gradcheck=False)


def test_flatten_0d_and_unflatten():
    check_op(lambda x: x.flatten(), shapes=[()])
    check_op(lambda x: x.unflatten(1, (2, 2)), shapes=[(3, 4)])


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
def test_permute(perm):
    check_op(lambda x: x.permute(perm), shapes=[(2, 3, 4)])
    check_op(lambda x: x.permute(*perm), shapes=[(2, 3, 4)], gradcheck=False)


def test_permute_negative_and_errors():
    check_op(lambda x: x.permute(-1, 0, 1), shapes=[(2, 3, 4)])
    with pytest.raises(ValueError, match="permute"):
        gg.randn(2, 3).permute(0, 0)
    with pytest.raises(ValueError, match="permute"):
        gg.randn(2, 3).permute(0, 1, 2)


@pytest.mark.parametrize("d0, d1", [(0, 1), (-1, -2), (0, 2), (1, 1)])
def test_transpose(d0, d1):
    check_op(lambda x: x.transpose(d0, d1), shapes=[(2, 3, 4)])
    check_op(lambda x: x.swapaxes(d0, d1), shapes=[(2, 3, 4)],
             torch_fn=lambda x: x.transpose(d0, d1), gradcheck=False)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch deprecates .T on non-2-D tensors
def test_T_mT_t():
    check_op(lambda x: x.T, shapes=[(3, 4)])
    check_op(lambda x: x.T, shapes=[(5,)])
    check_op(lambda x: x.mT, shapes=[(2, 3, 4)])
    check_op(lambda x: x.t(), shapes=[(3, 4)])
    with pytest.raises(ValueError, match="mT"):
        gg.randn(3).mT


@pytest.mark.parametrize("shape, target", [((3, 1), (3, 4)), ((1,), (2, 3, 1)), ((), (2, 2)),
                                           ((2, 1, 3), (4, 2, 5, 3)), ((1, 3), (0, 3)),
                                           ((3, 1), (-1, 4)), ((3, 4), (3, 4))], ids=str)
def test_expand_broadcast_to(shape, target):
    check_op(lambda x: x.expand(target), shapes=[shape])
    check_op(lambda x: x.expand(*target), shapes=[shape], gradcheck=False)
    if -1 not in target:
        check_op(lambda x: gg.broadcast_to(x, target), shapes=[shape],
                 torch_fn=lambda x: torch.broadcast_to(x, target), gradcheck=False)


def test_expand_error():
    with pytest.raises(ValueError, match=r"expand.*\(3, 2\).*\(3, 4\)"):
        gg.randn(3, 2).expand(3, 4)


@pytest.mark.parametrize("shape, dim", [((1, 3, 1), None), ((1, 3, 1), 0), ((1, 3, 1), -1),
                                        ((1, 3, 1), 1), ((1, 3, 1), (0, 2)), ((), None), ((1,), 0)],
                         ids=str)
def test_squeeze(shape, dim):
    check_op(lambda x: x.squeeze() if dim is None else x.squeeze(dim), shapes=[shape])


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_unsqueeze(dim):
    check_op(lambda x: x.unsqueeze(dim), shapes=[(2, 3)])
    check_op(lambda x: x.unsqueeze(0), shapes=[()])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat(dim):
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    sh = [list(s) for s in shapes]
    for i, s in enumerate(sh):
        s[dim] = i + 1
    sh = [tuple(s) for s in sh]
    check_op(lambda a, b, c: gg.cat([a, b, c], dim), shapes=sh,
             torch_fn=lambda a, b, c: torch.cat([a, b, c], dim))
    check_op(lambda a, b, c: gg.concatenate((a, b, c), axis=dim), shapes=sh,
             torch_fn=lambda a, b, c: torch.cat([a, b, c], dim), gradcheck=False)


def test_cat_edge_cases():
    # an empty piece, a single tensor, a tensor that does not require grad
    check_op(lambda a, b: gg.cat([a, b], 0), shapes=[(0, 3), (2, 3)],
             torch_fn=lambda a, b: torch.cat([a, b], 0))
    check_op(lambda a: gg.cat([a], 1), shapes=[(2, 3)], torch_fn=lambda a: torch.cat([a], 1))
    b = np.ones((1, 3))
    check_op(lambda a, c: gg.cat([a, c], 0), inputs=[np.arange(6.0).reshape(2, 3), b],
             grad=[True, False], torch_fn=lambda a, c: torch.cat([a, c], 0))
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\)"):
        gg.cat([gg.zeros(2, 3), gg.zeros(2, 4)])
    with pytest.raises(ValueError, match="cat"):
        gg.cat([])


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim):
    check_op(lambda a, b: gg.stack([a, b], dim), shapes=[(2, 3), (2, 3)],
             torch_fn=lambda a, b: torch.stack([a, b], dim))


def test_stack_edge_cases():
    check_op(lambda a, b: gg.stack([a, b]), shapes=[(), ()], torch_fn=lambda a, b: torch.stack([a, b]))
    check_op(lambda a: gg.stack([a, a * 2, a]), shapes=[(0, 2)],
             torch_fn=lambda a: torch.stack([a, a * 2, a]))
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(3, 2\)"):
        gg.stack([gg.zeros(2, 3), gg.zeros(3, 2)])


@pytest.mark.parametrize("size, dim", [(2, 0), (3, 1), ([1, 4], 1), ([2, 0, 3], -1), (5, 1), (1, 0)],
                         ids=str)
def test_split(size, dim):
    shape = (4, 5) if dim != -1 else (2, 5)
    check_op(lambda x: x.split(size, dim), shapes=[shape], torch_fn=lambda x: x.split(size, dim))
    check_op(lambda x: gg.split(x, size, dim), shapes=[shape],
             torch_fn=lambda x: torch.split(x, size, dim), gradcheck=False)


def test_split_only_some_outputs_used():
    # outputs that receive no gradient count as zeros
    check_op(lambda x: x.split(2, 1)[1], shapes=[(3, 5)], torch_fn=lambda x: x.split(2, 1)[1])
    check_op(lambda x: x.split(2, 1)[0] * x.split(2, 1)[2].sum(), shapes=[(3, 5)],
             torch_fn=lambda x: x.split(2, 1)[0] * x.split(2, 1)[2].sum())
    with pytest.raises(ValueError, match="split"):
        gg.zeros(4).split([1, 2])


@pytest.mark.parametrize("n, dim", [(2, 0), (3, 0), (5, 1), (4, 1), (1, 1), (6, 1)])
def test_chunk(n, dim):
    check_op(lambda x: x.chunk(n, dim), shapes=[(5, 4)], torch_fn=lambda x: x.chunk(n, dim))


def test_unbind():
    check_op(lambda x: x.unbind(1), shapes=[(2, 3)], torch_fn=lambda x: x.unbind(1))


@pytest.mark.parametrize("pad", [(1, 2), (0, 1, 2, 0), (1, 1, 1, 1, 1, 1), (0, 0)], ids=str)
def test_pad(pad):
    check_op(lambda x: gg.pad(x, pad), shapes=[(2, 3, 4)], torch_fn=lambda x: F.pad(x, pad))
    check_op(lambda x: gg.pad(x, pad, value=1.5), shapes=[(2, 3, 4)],
             torch_fn=lambda x: F.pad(x, pad, value=1.5), gradcheck=False)


def test_pad_errors():
    x = gg.zeros(2, 3)
    with pytest.raises(ValueError, match="pad"):
        gg.pad(x, (1,))
    with pytest.raises(ValueError, match="pad"):
        gg.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="negative"):
        gg.pad(x, (-1, 0))
    with pytest.raises(NotImplementedError, match="reflect"):
        gg.pad(x, (1, 1), mode="reflect")


@pytest.mark.parametrize("shape, reps", [((2, 3), (2, 1)), ((2, 3), (1, 3)), ((2, 3), (2, 2, 2)),
                                         ((3,), (4,)), ((), (3,)), ((2, 3), (0, 1))], ids=str)
def test_repeat_tile(shape, reps):
    check_op(lambda x: x.repeat(*reps), shapes=[shape])
    check_op(lambda x: x.repeat(reps), shapes=[shape], gradcheck=False)


def test_tile_fewer_reps_than_dims():
    check_op(lambda x: x.tile((2,)), shapes=[(2, 3)], torch_fn=lambda x: x.tile((2,)))
    check_op(lambda x: gg.tile(x, (2, 1, 2)), shapes=[(2, 3)],
             torch_fn=lambda x: torch.tile(x, (2, 1, 2)))
    with pytest.raises(ValueError, match="repeat"):
        gg.zeros(2, 3).repeat(2)


def test_repeat_interleave_and_flip():
    check_op(lambda x: x.repeat_interleave(3, 1), shapes=[(2, 3)],
             torch_fn=lambda x: x.repeat_interleave(3, 1))
    check_op(lambda x: x.repeat_interleave(2), shapes=[(2, 3)],
             torch_fn=lambda x: x.repeat_interleave(2))
    check_op(lambda x: x.flip(0, 2), shapes=[(2, 3, 4)], torch_fn=lambda x: x.flip(0, 2))
    check_op(lambda x: x.flip(-1), shapes=[(2, 3)], torch_fn=lambda x: x.flip(-1))


# ----------------------------------------------------------------------- sliding windows
def _windows_loop(x: np.ndarray, window, stride, dilation) -> np.ndarray:
    """Reference: z[..., i, j, p, q] = x[..., i*sh + p*dh, j*sw + q*dw], by explicit loops."""
    k = len(window)
    sp = x.shape[-k:]
    out_sp = [(n - d * (w - 1) - 1) // s + 1 for n, w, s, d in zip(sp, window, stride, dilation)]
    z = np.zeros(x.shape[:-k] + tuple(out_sp) + tuple(window), dtype=x.dtype)
    for o in itertools.product(*[range(n) for n in out_sp]):
        for w in itertools.product(*[range(n) for n in window]):
            src = tuple(oi * s + wi * d for oi, wi, s, d in zip(o, w, stride, dilation))
            z[(Ellipsis,) + o + w] = x[(Ellipsis,) + src]
    return z


WINDOW_CASES = [
    ((2, 5, 6), (3, 3), (1, 1), (1, 1)),
    ((1, 2, 7, 7), (3, 2), (2, 3), (1, 1)),
    ((2, 6, 6), (2, 2), (1, 1), (2, 2)),
    ((3, 9), (4,), (2,), (2,)),
    ((4, 4), (4, 4), (1, 1), (1, 1)),
    ((2, 5, 5), (1, 1), (2, 2), (1, 1)),
    ((2, 3, 4, 5), (2, 2, 2), (1, 2, 1), (1, 1, 2)),
]


@pytest.mark.parametrize("shape, window, stride, dilation", WINDOW_CASES, ids=str)
def test_unfold_windows_against_loop_and_gradcheck(shape, window, stride, dilation):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape)
    ref = _windows_loop(a, window, stride, dilation)
    x = gg.tensor(a, requires_grad=True)
    z = x.unfold_windows(window, stride, dilation)
    assert z.shape == ref.shape
    np.testing.assert_array_equal(z.detach().numpy(), ref)
    # backward: each input element gets the sum of the upstream gradient over every
    # window position that read it (computed here by the same loops)
    g = rng.standard_normal(ref.shape)
    z.backward(gg.tensor(g))
    k = len(window)
    out_sp = ref.shape[-2 * k:-k]
    dx = np.zeros(shape)
    for o in itertools.product(*[range(n) for n in out_sp]):
        for w in itertools.product(*[range(n) for n in window]):
            src = tuple(oi * s + wi * d for oi, wi, s, d in zip(o, w, stride, dilation))
            dx[(Ellipsis,) + src] += g[(Ellipsis,) + o + w]
    np.testing.assert_allclose(x.grad.numpy(), dx, rtol=1e-12, atol=1e-12)
    gg.gradcheck(lambda t: t.unfold_windows(window, stride, dilation), [gg.tensor(a, requires_grad=True)])


def test_unfold_windows_float32_and_default_stride():
    x = gg.randn(2, 5, 5)
    z = x.unfold_windows((2, 2))
    assert z.dtype == gg.float32 and z.shape == (2, 4, 4, 2, 2)
    # matches torch's Tensor.unfold applied on each axis
    t = torch.tensor(x.numpy()).unfold(1, 2, 1).unfold(2, 2, 1)
    np.testing.assert_array_equal(z.numpy(), t.numpy())


def test_unfold_windows_errors():
    with pytest.raises(ValueError, match="sliding_window"):
        gg.randn(2, 3, 3).unfold_windows((4, 4))
    with pytest.raises(ValueError, match="sliding_window"):
        gg.randn(3).unfold_windows((2, 2))


def test_shape_argument_errors_are_clear():
    with pytest.raises(ValueError, match="expand.*-1 is not allowed"):
        gg.randn(3).expand(-1, 3)
    with pytest.raises(ValueError, match="expand.*fewer dimensions"):
        gg.randn(2, 3).expand(3)
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        gg.randn(2, 3).flatten(1, 0)
    with pytest.raises(ValueError, match="chunk"):
        gg.randn(2, 3).chunk(0)
    with pytest.raises(ValueError, match="sliding_window"):
        gg.randn(2, 3).unfold_windows((2,), (0,))
    with pytest.raises(ValueError, match="split"):
        gg.randn(2, 3).split(0)
    assert gg.tensor(1.0).transpose(0, 0).shape == ()  # allowed by torch on 0-d tensors


def test_cat_stack_promote_mixed_dtypes_like_torch():
    a, b = np.array([1.5, 2.5], np.float32), np.array([1, 2])
    for gfn, tfn in [(gg.cat, torch.cat), (gg.stack, torch.stack)]:
        r = gfn([gg.tensor(a), gg.tensor(b)])
        tr = tfn([torch.tensor(a), torch.tensor(b)])
        assert str(r.dtype) == str(tr.dtype).replace("torch.", "")
        np.testing.assert_array_equal(r.numpy(), tr.numpy())
    x = gg.tensor(a, requires_grad=True)
    y = gg.tensor(a.astype(np.float64), requires_grad=True)
    z = gg.cat([x, y])
    assert z.dtype == gg.float64
    z.sum().backward()
    assert x.grad.dtype == gg.float32 and y.grad.dtype == gg.float64


def test_view_dtype_reinterprets_bits_like_torch():
    a = np.array([1.0, -2.0], np.float32)
    np.testing.assert_array_equal(gg.tensor(a).view(gg.int32).numpy(),
                                  torch.tensor(a).view(torch.int32).numpy())
    with pytest.raises(RuntimeError, match=r"view\(dtype\).*not differentiable"):
        gg.tensor(a, requires_grad=True).view(gg.int32)
    with pytest.raises(ValueError, match="view"):
        gg.randn(3).view(gg.float64)


def test_repeat_interleave_arguments():
    check_op(lambda x: x.repeat_interleave(gg.tensor(2), 0), shapes=[(2, 3)],
             torch_fn=lambda x: x.repeat_interleave(torch.tensor(2), 0))
    check_op(lambda x: x.repeat_interleave(0, 1), shapes=[(2, 3)],
             torch_fn=lambda x: x.repeat_interleave(0, 1))
    with pytest.raises(NotImplementedError, match="repeat_interleave"):
        gg.zeros(3).repeat_interleave(gg.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="repeat_interleave"):
        gg.zeros(3).repeat_interleave(-1)
