"""glassgrad.data: datasets, samplers, default_collate and the DataLoader (fast and slow paths)."""

from __future__ import annotations

import collections
import math
import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)


def _xy(n=23, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, 5, n).astype(np.int64)


class ListDataset(Dataset):
    """A plain map-style dataset (no gather): forces the per-sample path."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.X[i], int(self.y[i])

    def __len__(self):
        return len(self.y)


def _cat(batches, k):
    return np.concatenate([b[k].numpy() for b in batches])


# ---------------------------------------------------------------------- TensorDataset
def test_tensor_dataset_items_and_errors():
    X, y = _xy()
    ds = TensorDataset(gg.tensor(X), gg.tensor(y))
    assert len(ds) == 23
    x5, y5 = ds[5]
    np.testing.assert_array_equal(x5.numpy(), X[5])
    assert y5.item() == y[5] and y5.dtype == np.int64
    np.testing.assert_array_equal(ds[-1][0].numpy(), X[-1])
    np.testing.assert_array_equal(ds[2:5][0].numpy(), X[2:5])
    np.testing.assert_array_equal(ds[[4, 0]][1].numpy(), y[[4, 0]])
    with pytest.raises(IndexError, match="out of range"):
        ds[23]
    with pytest.raises(ValueError, match=r"same first dimension.*\(23, 3\), \(22,\)"):
        TensorDataset(gg.tensor(X), gg.tensor(y[:22]))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(gg.tensor(1.0))
    with pytest.raises(TypeError, match="argument 1 is a list"):
        TensorDataset(gg.tensor(X), [1, 2])
    # NumPy arrays accepted, dtype kept
    ds64 = TensorDataset(X.astype(np.float64), y)
    assert ds64[0][0].dtype == np.float64


def test_gather_equals_getitem_and_does_not_alias():
    X, y = _xy()
    ds = TensorDataset(gg.tensor(X), gg.tensor(y))
    for idx in ([3, 1, 4, 1, 5], [4, 5, 6, 7], [-1, 0]):
        xb, yb = ds.gather(np.array(idx))
        np.testing.assert_array_equal(xb.numpy(), X[idx])
        np.testing.assert_array_equal(yb.numpy(), y[idx])
        assert yb.dtype == np.int64
    xb, _ = ds.gather(np.arange(4, 8))  # contiguous slice path
    xb.array[:] = 99.0
    assert not np.any(ds.tensors[0].numpy() == 99.0)
    with pytest.raises(IndexError, match="index 23 is out of range"):
        ds.gather(np.array([0, 23]))
    with pytest.raises(TypeError, match="integers"):
        ds.gather(np.array([0.5]))


def test_gather_keeps_graph_for_tensors_that_require_grad():
    X = gg.tensor(_xy()[0], requires_grad=True)
    ds = TensorDataset(X)
    (xb,) = ds.gather(np.array([2, 2, 7]))
    xb.sum().backward()
    g = np.zeros_like(X.numpy(force=True))
    g[2], g[7] = 2.0, 1.0
    np.testing.assert_array_equal(X.grad.numpy(), g)


# ---------------------------------------------------------------------- DataLoader
@pytest.mark.parametrize("n,bs,drop", [(23, 5, False), (23, 5, True), (20, 5, False), (20, 5, True),
                                       (3, 5, False), (3, 5, True), (1, 1, False)])
def test_len_and_sequential_batches(n, bs, drop):
    X, y = _xy(n)
    loader = DataLoader(TensorDataset(X, y), batch_size=bs, drop_last=drop)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // bs if drop else math.ceil(n / bs))
    m = len(batches) * bs if drop else n
    if batches:
        np.testing.assert_array_equal(_cat(batches, 0), X[:m])
        np.testing.assert_array_equal(_cat(batches, 1), y[:m])
        assert all(b[0].shape[0] == bs for b in batches[:-1])


@pytest.mark.parametrize("n,bs,drop", [(23, 5, False), (23, 5, True), (3, 5, True), (128, 128, False)])
def test_len_matches_torch(n, bs, drop):
    torch = pytest.importorskip("torch")
    X, y = _xy(n)
    ours = DataLoader(TensorDataset(X, y), batch_size=bs, shuffle=True, drop_last=drop)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X)), batch_size=bs,
                                         shuffle=True, drop_last=drop)
    assert len(ours) == len(theirs)
    assert [b[0].shape[0] for b in ours] == [b[0].shape[0] for b in theirs]


def test_shuffle_is_a_permutation_each_epoch_and_seedable():
    X, y = _xy(50)
    ds = TensorDataset(X, np.arange(50))
    loader = DataLoader(ds, batch_size=8, shuffle=True, generator=gg.Generator(123))
    e1 = _cat(list(loader), 1)
    e2 = _cat(list(loader), 1)
    assert sorted(e1.tolist()) == list(range(50)) and sorted(e2.tolist()) == list(range(50))
    assert not np.array_equal(e1, np.arange(50)) and not np.array_equal(e1, e2)
    again = DataLoader(ds, batch_size=8, shuffle=True, generator=gg.Generator(123))
    np.testing.assert_array_equal(_cat(list(again), 1), e1)
    np.testing.assert_array_equal(_cat(list(again), 1), e2)
    other = DataLoader(ds, batch_size=8, shuffle=True, generator=gg.Generator(124))
    assert not np.array_equal(_cat(list(other), 1), e1)
    # rows stay paired with their labels
    xb, ib = next(iter(loader))
    np.testing.assert_array_equal(xb.numpy(), X[ib.numpy()])


def test_shuffle_uses_global_seed_without_generator():
    ds = TensorDataset(np.arange(40))
    loader = DataLoader(ds, batch_size=16, shuffle=True)
    gg.manual_seed(7)
    a = [_cat(list(loader), 0) for _ in range(2)]
    gg.manual_seed(7)
    b = [_cat(list(loader), 0) for _ in range(2)]
    gg.manual_seed(8)
    c = _cat(list(loader), 0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c)


def test_resume_from_generator_state():
    ds = TensorDataset(np.arange(30))
    g = gg.Generator(5)
    loader = DataLoader(ds, batch_size=7, shuffle=True, generator=g)
    list(loader)
    state = g.get_state()
    expected = [_cat(list(loader), 0) for _ in range(2)]
    g2 = gg.Generator(999)
    g2.set_state(state)
    resumed = DataLoader(ds, batch_size=7, shuffle=True, generator=g2)
    for e in expected:
        np.testing.assert_array_equal(_cat(list(resumed), 0), e)


@pytest.mark.parametrize("shuffle", [False, True])
def test_fast_path_equals_per_sample_path(shuffle):
    X, y = _xy(37)
    ds = TensorDataset(gg.tensor(X), gg.tensor(y))
    fast = DataLoader(ds, batch_size=6, shuffle=shuffle, generator=gg.Generator(3))
    slow = DataLoader(ds, batch_size=6, shuffle=shuffle, generator=gg.Generator(3),
                      collate_fn=lambda b: default_collate(b))
    plain = DataLoader(ListDataset(X, y), batch_size=6, shuffle=shuffle, generator=gg.Generator(3))
    assert fast._uses_gather() and not slow._uses_gather() and not plain._uses_gather()
    for bf, bs, bp in zip(fast, slow, plain, strict=True):
        for a, b, c in zip(bf, bs, bp):
            assert a.dtype == b.dtype == c.dtype and a.shape == b.shape == c.shape
            np.testing.assert_array_equal(a.numpy(), b.numpy())
            np.testing.assert_array_equal(a.numpy(), c.numpy())


def test_subset_concat_random_split():
    X, y = _xy(30)
    ds = TensorDataset(X, y)
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=gg.Generator(0))
    assert [len(p) for p in parts] == [15, 9, 6]
    allidx = sorted(i for p in parts for i in p.indices)
    assert allidx == list(range(30))
    again = random_split(ds, [15, 9, 6], generator=gg.Generator(0))
    assert [p.indices for p in again] == [p.indices for p in parts]
    sub = parts[1]
    np.testing.assert_array_equal(sub[2][0].numpy(), X[sub.indices[2]])
    xb, yb = sub.gather(np.array([0, 8, 3]))
    np.testing.assert_array_equal(xb.numpy(), X[[sub.indices[i] for i in (0, 8, 3)]])
    cat = ConcatDataset([parts[2], parts[0]])
    assert len(cat) == 21 and cat.can_gather()
    order = [20, 0, 5, 6, 19, 1]
    xb, yb = cat.gather(np.array(order))
    ref = np.stack([cat[i][0].numpy() for i in order])
    np.testing.assert_array_equal(xb.numpy(), ref)
    np.testing.assert_array_equal(yb.numpy(), [cat[i][1].item() for i in order])
    assert len(parts[0] + parts[1]) == 24
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(ds, [10, 10])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])
    with pytest.raises(IndexError, match="out of range"):
        Subset(ds, [0, 30])
    # a Subset of a plain Dataset goes sample by sample
    plain = Subset(ListDataset(X, y), [1, 2, 3])
    assert not plain.can_gather()
    xb, yb = next(iter(DataLoader(plain, batch_size=3)))
    np.testing.assert_array_equal(xb.numpy(), X[1:4])


@pytest.mark.parametrize("n,fracs", [(10, [0.3, 0.3, 0.4]), (7, [0.5, 0.5]), (101, [0.1] * 10),
                                     (5, [1 / 3, 1 / 3, 1 / 3])])
def test_random_split_fraction_lengths_match_torch(n, fracs):
    torch = pytest.importorskip("torch")
    ours = [len(p) for p in random_split(TensorDataset(np.arange(n)), fracs)]
    theirs = [len(p) for p in torch.utils.data.random_split(range(n), fracs)]
    assert ours == theirs


def test_default_collate_rules():
    Point = collections.namedtuple("Point", "x y")
    batch = [{"img": np.full((2, 2), i, np.float64), "label": i, "w": 0.5 * i, "flag": i % 2 == 0,
              "name": f"s{i}", "p": Point(np.float32(i), [i, i + 1]), "f32": np.float32(i)}
             for i in range(3)]
    out = default_collate(batch)
    assert out["img"].dtype == np.float64 and out["img"].shape == (3, 2, 2)
    assert out["label"].dtype == np.int64 and out["label"].tolist() == [0, 1, 2]
    assert out["w"].dtype == np.float32  # Python floats -> the default dtype
    assert out["flag"].dtype == np.bool_ and out["flag"].tolist() == [True, False, True]
    assert out["name"] == ["s0", "s1", "s2"]
    assert isinstance(out["p"], Point) and out["p"].x.dtype == np.float32
    assert [t.tolist() for t in out["p"].y] == [[0, 1, 2], [1, 2, 3]]
    assert out["f32"].dtype == np.float32
    tup = default_collate([(gg.ones(2), 1), (gg.zeros(2), 2)])
    assert isinstance(tup, tuple) and tup[0].shape == (2, 2)
    with pytest.raises(ValueError, match=r"sample 0 has shape \(2,\), sample 1 has shape \(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="keys"):
        default_collate([{"a": 1}, {"b": 1}])
    with pytest.raises(ValueError, match="same number of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="found None"):
        default_collate([None, None])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])


def test_default_collate_structure_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as tc

    batch = [{"a": np.arange(3) + i, "b": (np.ones(2, np.float32) * i, i)} for i in range(4)]
    ours, theirs = default_collate(batch), tc(batch)
    assert set(ours) == set(theirs)
    np.testing.assert_array_equal(ours["a"].numpy(), theirs["a"].numpy())
    assert ours["a"].dtype == np.int64 and theirs["a"].dtype == torch.int64
    np.testing.assert_array_equal(ours["b"][0].numpy(), theirs["b"][0].numpy())
    np.testing.assert_array_equal(ours["b"][1].numpy(), theirs["b"][1].numpy())


def test_loader_options_and_errors():
    X, y = _xy(10)
    ds = TensorDataset(X, y)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=4, batch_sampler=[[0, 1]])
    with pytest.raises(TypeError, match="unexpected keyword"):
        DataLoader(ds, batchsize=4)
    with pytest.raises(TypeError, match="must be a glassgrad.Generator"):
        DataLoader(ds, shuffle=True, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="random_split: generator"):
        random_split(ds, [5, 5], generator=np.random.default_rng(0))
    assert gg.data.DataLoader is DataLoader  # the lazy sub-package attribute
    with pytest.warns(UserWarning, match="main process"):
        DataLoader(ds, num_workers=2)
    # batch_size=None: single samples, not stacked
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 10 and items[0][0].shape == (3,)
    # batch_sampler
    bl = DataLoader(ds, batch_sampler=[[0, 2], [9, 1, 3]])
    got = [b[1].tolist() for b in bl]
    assert got == [y[[0, 2]].tolist(), y[[9, 1, 3]].tolist()] and len(bl) == 2
    # a custom sampler (plain iterable of ints)
    sl = DataLoader(ds, sampler=[9, 8, 7, 6, 5], batch_size=2)
    assert [b[1].tolist() for b in sl] == [y[[9, 8]].tolist(), y[[7, 6]].tolist(), [y[5]]]
    # a custom collate_fn gets the list of samples
    seen = []
    list(DataLoader(ds, batch_size=4, collate_fn=lambda b: seen.append(len(b)) or b))
    assert seen == [4, 4, 2]


def test_subclass_overriding_getitem_is_not_bypassed():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    X, y = _xy(6)
    ds = Doubled(X, y)
    loader = DataLoader(ds, batch_size=3)
    assert not ds.can_gather() and not loader._uses_gather()
    xb, _ = next(iter(loader))
    np.testing.assert_allclose(xb.numpy(), 2 * X[:3])
    assert TensorDataset(X, y).can_gather()


def test_getitems_hook_is_used():
    class Batched(ListDataset):
        calls = 0

        def __getitems__(self, idx):
            Batched.calls += 1
            return [self[i] for i in idx]

    X, y = _xy(10)
    out = list(DataLoader(Batched(X, y), batch_size=4))
    assert Batched.calls == 3 and out[2][1].tolist() == y[8:].tolist()


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            for i in range(7):
                yield np.float32(i), i

    out = list(DataLoader(Stream(), batch_size=3))
    assert [b[1].tolist() for b in out] == [[0, 1, 2], [3, 4, 5], [6]]
    assert out[0][0].dtype == np.float32
    assert len(list(DataLoader(Stream(), batch_size=3, drop_last=True))) == 2
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)
    with pytest.raises(TypeError, match="without __len__"):
        len(DataLoader(Stream(), batch_size=2))


def test_empty_dataset():
    ds = TensorDataset(np.zeros((0, 2), np.float32))
    for shuffle in (False, True):
        loader = DataLoader(ds, batch_size=4, shuffle=shuffle)
        assert len(loader) == 0 and list(loader) == []


def test_samplers():
    ds = TensorDataset(np.arange(10))
    g = gg.Generator(0)
    rs = RandomSampler(ds, replacement=True, num_samples=25, generator=g)
    idx = list(rs)
    assert len(idx) == len(rs) == 25 and all(0 <= i < 10 for i in idx)
    rs2 = RandomSampler(ds, num_samples=25, generator=g)
    idx2 = rs2.epoch_indices()
    assert len(idx2) == 25 and sorted(idx2[:10].tolist()) == list(range(10))
    srs = SubsetRandomSampler([1, 3, 5, 7], generator=g)
    assert sorted(srs) == [1, 3, 5, 7]
    w = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000, generator=gg.Generator(1))
    counts = np.bincount(w.epoch_indices(), minlength=3)
    assert counts[0] == 0 and abs(counts[2] / counts[1] - 3.0) < 0.3
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([-1.0, 1.0], 3)
    bs = BatchSampler(SequentialSampler(ds), 4, drop_last=False)
    assert list(bs) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(bs) == 3
    assert list(BatchSampler(range(10), 4, drop_last=True)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    loader = DataLoader(ds, sampler=rs, batch_size=5)
    assert len(loader) == 5 and sum(b[0].shape[0] for b in loader) == 25


def test_no_warning_on_normal_use():
    X, y = _xy(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True):
            pass


def test_chain_and_stack_datasets_and_worker_info_match_torch():
    torch = pytest.importorskip("torch")
    tud = torch.utils.data
    from glassgrad.utils import data as gud

    class Count(gud.IterableDataset):
        def __init__(self, a, b):
            self.a, self.b = a, b

        def __iter__(self):
            return iter(range(self.a, self.b))

        def __len__(self):
            return self.b - self.a

    class TCount(tud.IterableDataset):
        def __init__(self, a, b):
            self.a, self.b = a, b

        def __iter__(self):
            return iter(range(self.a, self.b))

        def __len__(self):
            return self.b - self.a

    g = gud.ChainDataset([Count(0, 3), Count(10, 12)])
    t = tud.ChainDataset([TCount(0, 3), TCount(10, 12)])
    assert list(g) == list(t) and len(g) == len(t) == 5
    assert [int(b[0]) for b in gud.DataLoader(g, batch_size=2)] == [0, 2, 11]
    with pytest.raises(TypeError, match="ChainDataset: dataset 1 is a TensorDataset"):
        list(gud.ChainDataset([Count(0, 1), gud.TensorDataset(gg.zeros(2))]))

    x, y = np.arange(6.0).reshape(3, 2), np.array([1, 0, 1])
    gs = gud.StackDataset(gud.TensorDataset(gg.tensor(x)), gud.TensorDataset(gg.tensor(y)))
    ts = tud.StackDataset(tud.TensorDataset(torch.tensor(x)), tud.TensorDataset(torch.tensor(y)))
    assert len(gs) == len(ts) == 3
    np.testing.assert_array_equal(gs[1][0][0].numpy(), ts[1][0][0].numpy())
    gd = gud.StackDataset(img=gud.TensorDataset(gg.tensor(x)), label=gud.TensorDataset(gg.tensor(y)))
    assert set(gd[2]) == {"img", "label"} and int(gd[2]["label"][0]) == 1
    batch = next(iter(gud.DataLoader(gd, batch_size=3)))
    assert tuple(batch["img"][0].shape) == (3, 2)
    with pytest.raises(ValueError, match="same length"):
        gud.StackDataset(gud.TensorDataset(gg.zeros(2)), gud.TensorDataset(gg.zeros(3)))
    with pytest.raises(ValueError, match="not both"):
        gud.StackDataset(gud.TensorDataset(gg.zeros(2)), y=gud.TensorDataset(gg.zeros(2)))
    with pytest.raises(ValueError, match="at least one"):
        gud.StackDataset()
    with pytest.raises(IndexError):
        gs[3]
    assert gud.get_worker_info() is None and tud.get_worker_info() is None
