"""Indexing: __getitem__ in all its forms (slices, ints, None, Ellipsis, integer arrays with
duplicates, boolean masks), setitem, gather/take_along_dim, one_hot."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from oracle import check_op

torch = pytest.importorskip("torch")

IDX = np.array([0, 2, 2, 1, 0, 2])  # duplicates: gradients must accumulate


def _key(kind):
    """Index keys built for both libraries (arrays become int64/bool tensors)."""
    return {
        "int": (1,),
        "neg_int": (-1,),
        "slice": (slice(1, 3),),
        "step_slice": (slice(None, None, 2), slice(1, None)),
        "neg_step": (slice(None, None, -1),),
        "int_slice": (1, slice(0, 2)),
        "none": (None, slice(None), None),
        "ellipsis": (Ellipsis, 0),
        "ellipsis_mid": (0, Ellipsis, None),
        "empty_slice": (slice(2, 2),),
        "int_array_dup": ("arr", IDX),
        "int_array_2d": ("arr", np.array([[0, 1], [2, 2]])),
        "two_arrays": ("arr2", np.array([0, 2, 2]), np.array([1, 1, 3])),
        "array_and_slice": ("arrslice", np.array([2, 0, 2])),
        "bool_mask_row": ("mask", np.array([True, False, True])),
        "int_all": (1, 2, 3),
    }[kind]


def _build(key, lib):
    if not key or not isinstance(key[0], str):
        return key
    tag = key[0]
    wrap = (lambda a: gg.tensor(a)) if lib == "gg" else (lambda a: torch.tensor(a))
    if tag == "arr":
        return (wrap(key[1]),)
    if tag == "arr2":
        return (wrap(key[1]), wrap(key[2]))
    if tag == "arrslice":
        return (slice(None), wrap(key[1]))
    if tag == "mask":
        return (wrap(key[1]),)
    raise AssertionError(tag)


KINDS = ["int", "neg_int", "slice", "step_slice", "int_slice", "none", "ellipsis", "ellipsis_mid",
         "empty_slice", "int_array_dup", "int_array_2d", "two_arrays", "array_and_slice",
         "bool_mask_row", "int_all"]


@pytest.mark.parametrize("kind", KINDS)
def test_getitem(kind):
    key = _key(kind)
    gk, tk = _build(key, "gg"), _build(key, "torch")
    check_op(lambda x: x[gk], shapes=[(3, 4, 5)], torch_fn=lambda x: x[tk])


def test_getitem_negative_step_slice_numpy_only():
    # torch has no negative steps; compare against NumPy and gradcheck
    a = np.arange(12.0).reshape(3, 4)
    x = gg.tensor(a, requires_grad=True)
    y = x[::-1, 1::2]
    np.testing.assert_array_equal(y.detach().numpy(), a[::-1, 1::2])
    gg.gradcheck(lambda t: t[::-1, 1::2] * 2, [gg.tensor(a, requires_grad=True)])


def test_getitem_duplicates_accumulate():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[gg.tensor([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    # python lists as indices too
    y = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (y[[1, 1]] * gg.tensor([2.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 7.0, 0.0])


def test_boolean_mask_full_and_partial():
    a = np.random.default_rng(0).standard_normal((3, 4))
    m = a > 0
    check_op(lambda x: x[gg.tensor(m)], inputs=[a], torch_fn=lambda x: x[torch.tensor(m)])
    check_op(lambda x: x[x > 0.1], inputs=[a], torch_fn=lambda x: x[x > 0.1], gradcheck=False)
    check_op(lambda x: x[gg.tensor(np.zeros(3, bool))], inputs=[a],
             torch_fn=lambda x: x[torch.tensor(np.zeros(3, bool))])


def test_getitem_edge_shapes():
    check_op(lambda x: x[...], shapes=[()], torch_fn=lambda x: x[...])
    check_op(lambda x: x[None], shapes=[()], torch_fn=lambda x: x[None])
    check_op(lambda x: x[:, 0], shapes=[(0, 3)], torch_fn=lambda x: x[:, 0])
    check_op(lambda x: x[gg.tensor(np.zeros(0, np.int64))], shapes=[(3, 2)],
             torch_fn=lambda x: x[torch.tensor(np.zeros(0, np.int64))])


def test_getitem_errors():
    x = gg.randn(3, 4)
    with pytest.raises(IndexError, match=r"getitem.*\(3, 4\)"):
        x[5]
    with pytest.raises(IndexError, match="getitem"):
        x[gg.tensor([0.5])]
    with pytest.raises(IndexError, match="getitem"):
        x[0, 0, 0]


def test_iteration_and_unbind():
    x = gg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    rows = list(x)
    assert len(rows) == 3 and rows[1].shape == (2,)
    sum(r.sum() * (i + 1) for i, r in enumerate(rows)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1], [2, 2], [3, 3]])


def test_setitem_out_of_place_in_graph_and_in_place_outside():
    a = np.random.default_rng(0).standard_normal((3, 4))

    def f(x, v):
        y = x * 1.0
        y[1] = v
        y[:, 0] = 0.5
        return y * y

    def tf(x, v):
        y = x * 1.0
        y[1] = v
        y[:, 0] = 0.5
        return y * y

    check_op(f, inputs=[a, np.array([1.0, 2.0, 3.0, 4.0])], torch_fn=tf)
    leaf = gg.zeros(3)
    leaf[1] = 5.0
    np.testing.assert_array_equal(leaf.numpy(), [0, 5, 0])
    req = gg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        req[0] = 1.0
    with gg.no_grad():
        req[0] = 1.0
    assert req.detach().numpy()[0] == 1.0


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim):
    rng = np.random.default_rng(1)
    idx_shape = [3, 4]
    idx_shape[dim] = 5
    idx = rng.integers(0, 3 if dim == 0 else 4, size=idx_shape)  # duplicates likely
    check_op(lambda x: x.gather(dim, gg.tensor(idx)), shapes=[(3, 4)],
             torch_fn=lambda x: x.gather(dim, torch.tensor(idx)))
    check_op(lambda x: gg.take_along_dim(x, gg.tensor(idx), dim), shapes=[(3, 4)],
             torch_fn=lambda x: torch.take_along_dim(x, torch.tensor(idx), dim), gradcheck=False)


def test_gather_smaller_index_and_errors():
    idx = np.array([[0], [2]])
    check_op(lambda x: x.gather(1, gg.tensor(idx)), shapes=[(2, 4)],
             torch_fn=lambda x: x.gather(1, torch.tensor(idx)))
    x = gg.randn(2, 4)
    with pytest.raises(TypeError, match="gather"):
        x.gather(1, gg.tensor([[0.5]]))
    with pytest.raises(ValueError, match="gather"):
        x.gather(1, gg.tensor([0, 1]))
    with pytest.raises(IndexError, match="gather"):
        x.gather(1, gg.tensor([[7]]))


def test_one_hot():
    y = np.array([2, 0, 1, 2])
    a = gg.one_hot(gg.tensor(y), 4)
    b = torch.nn.functional.one_hot(torch.tensor(y), 4)
    assert a.dtype == gg.int64 and a.shape == (4, 4)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(gg.one_hot(gg.tensor(y)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(y)).numpy())
    y2 = np.array([[1, 0], [0, 1]])
    np.testing.assert_array_equal(gg.one_hot(gg.tensor(y2), 3).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(y2), 3).numpy())
    assert not a.requires_grad
    with pytest.raises(ValueError, match="one_hot"):
        gg.one_hot(gg.tensor([3]), 3)
    with pytest.raises(TypeError, match="one_hot"):
        gg.one_hot(gg.tensor([1.0]), 3)


def test_gather_index_smaller_than_input_in_other_dims():
    idx = np.array([[0, 1], [3, 3]])
    check_op(lambda x: x.gather(1, gg.tensor(idx)), shapes=[(3, 4)],
             torch_fn=lambda x: x.gather(1, torch.tensor(idx)))
    idx0 = np.array([[2], [0]])
    check_op(lambda x: x.gather(0, gg.tensor(idx0)), shapes=[(3, 4)],
             torch_fn=lambda x: x.gather(0, torch.tensor(idx0)))
    with pytest.raises(IndexError, match="gather.*larger"):
        gg.randn(3, 4).gather(1, gg.tensor([[0], [1], [2], [0]]))
