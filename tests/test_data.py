"""convgrad.utils.data against torch.utils.data: same batches, same types, same errors."""

import collections
import threading
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import convgrad
from convgrad.utils import data as cud


def _np(x):
    """A convgrad or torch tensor as a NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.numpy()
    return np.asarray(x._data)


class Range(cud.Dataset):
    """Item ``i`` is ``i`` (records which indices were fetched, and by which thread)."""

    def __init__(self, n):
        self.n = n
        self.fetched = []
        self.threads = set()

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        self.fetched.append(i)
        self.threads.add(threading.get_ident())
        return i

    def __len__(self):
        return self.n


class TorchRange(tud.Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return i

    def __len__(self):
        return self.n


def _batches(loader):
    return [_np(b).tolist() for b in loader]


# --------------------------------------------------------------------------------------------------
# batching and ordering


@pytest.mark.parametrize(
    "n,bs,drop_last",
    [
        (10, 3, False),
        (10, 3, True),
        (9, 3, False),
        (9, 3, True),
        (2, 5, False),
        (2, 5, True),
        (1, 1, False),
        (7, 7, True),
    ],
)
def test_sequential_batches_match_torch(n, bs, drop_last):
    ours = cud.DataLoader(Range(n), batch_size=bs, drop_last=drop_last)
    theirs = tud.DataLoader(TorchRange(n), batch_size=bs, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert _batches(ours) == _batches(theirs)


def test_sampler_lengths_match_torch():
    for n in (1, 5, 32, 33):
        assert len(cud.SequentialSampler(range(n))) == len(tud.SequentialSampler(range(n)))
        assert len(cud.RandomSampler(range(n))) == len(tud.RandomSampler(range(n)))
        for bs in (1, 2, 5, 40):
            for dl in (False, True):
                ours = cud.BatchSampler(cud.SequentialSampler(range(n)), bs, dl)
                theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, dl)
                assert len(ours) == len(theirs)
                assert list(ours) == list(theirs)


def test_shuffle_is_a_permutation_and_reproducible():
    ds = Range(50)
    convgrad.manual_seed(123)
    loader = cud.DataLoader(ds, batch_size=8, shuffle=True)
    epoch1 = sum(_batches(loader), [])
    epoch2 = sum(_batches(loader), [])
    assert sorted(epoch1) == list(range(50)) and sorted(epoch2) == list(range(50))
    assert epoch1 != list(range(50))
    assert epoch1 != epoch2  # a new order every epoch
    convgrad.manual_seed(123)
    assert sum(_batches(loader), []) == epoch1
    assert [len(b) for b in _batches(loader)] == [8] * 6 + [2]


def test_shuffle_with_generator_and_drop_last():
    g = convgrad.Generator().manual_seed(7)
    a = _batches(cud.DataLoader(Range(20), batch_size=6, shuffle=True, drop_last=True, generator=g))
    g.manual_seed(7)
    b = _batches(cud.DataLoader(Range(20), batch_size=6, shuffle=True, drop_last=True, generator=g))
    assert a == b and len(a) == 3 and all(len(x) == 6 for x in a)
    assert len(set(sum(a, []))) == 18


def test_random_sampler_replacement_and_num_samples():
    convgrad.manual_seed(0)
    idx = list(cud.RandomSampler(range(5), replacement=True, num_samples=100))
    assert len(idx) == 100 and set(idx) <= set(range(5))
    idx = list(cud.RandomSampler(range(5), num_samples=12))
    assert len(idx) == 12
    assert sorted(idx[:5]) == list(range(5)) and sorted(idx[5:10]) == list(range(5))
    with pytest.raises(ValueError, match="num_samples"):
        cud.RandomSampler(range(5), num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        cud.RandomSampler(range(5), replacement=1)


def test_subset_random_and_weighted_samplers():
    convgrad.manual_seed(1)
    assert sorted(cud.SubsetRandomSampler([3, 5, 9])) == [3, 5, 9]
    w = cud.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], num_samples=200)
    drawn = list(w)
    assert len(drawn) == 200 and set(drawn) == {1, 3}
    assert sorted(cud.WeightedRandomSampler([1, 1, 1], 3, replacement=False)) == [0, 1, 2]


def test_batch_sampler_argument_errors():
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        cud.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        cud.BatchSampler(range(3), 2, 0)


def test_loader_argument_errors_match_torch():
    ds = Range(4)
    cases = [
        dict(sampler=cud.SequentialSampler(ds), shuffle=True),
        dict(batch_sampler=[[0, 1]], batch_size=2),
        dict(batch_sampler=[[0, 1]], shuffle=True),
        dict(batch_sampler=[[0, 1]], drop_last=True),
        dict(batch_size=None, drop_last=True),
    ]
    for kwargs in cases:
        with pytest.raises(ValueError):
            tud.DataLoader(TorchRange(4), **kwargs)
        with pytest.raises(ValueError):
            cud.DataLoader(ds, **kwargs)
    with pytest.raises(ValueError, match="num_workers"):
        cud.DataLoader(ds, num_workers=-1)


def test_batch_sampler_and_no_batching():
    loader = cud.DataLoader(Range(6), batch_sampler=[[5, 0], [1, 2, 3]])
    assert _batches(loader) == [[5, 0], [1, 2, 3]] and len(loader) == 2
    items = list(cud.DataLoader(Range(3), batch_size=None))
    assert items == [0, 1, 2]  # default_convert leaves ints alone, as torch
    arrays = cud.TensorDataset(convgrad.tensor(np.arange(6).reshape(3, 2)))
    out = list(cud.DataLoader(arrays, batch_size=None))
    assert [_np(x[0]).tolist() for x in out] == [[0, 1], [2, 3], [4, 5]]


def test_custom_sampler_and_collate_fn():
    loader = cud.DataLoader(Range(10), batch_size=4, sampler=[9, 8, 7, 6, 5], collate_fn=lambda b: tuple(b))
    assert list(loader) == [(9, 8, 7, 6), (5,)]


# --------------------------------------------------------------------------------------------------
# datasets


def test_tensor_dataset():
    x = convgrad.tensor(np.arange(12, dtype=np.float32).reshape(6, 2))
    y = convgrad.tensor(np.arange(6))
    ds = cud.TensorDataset(x, y)
    assert len(ds) == 6
    a, b = ds[4]
    assert _np(a).tolist() == [8.0, 9.0] and int(_np(b)) == 4
    xb, yb = next(iter(cud.DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 2) and xb.dtype == np.float32 and yb.dtype == np.int64
    with pytest.raises(ValueError, match="Size mismatch"):
        cud.TensorDataset(x, convgrad.tensor(np.arange(5)))


def test_concat_and_subset_match_torch():
    ours = cud.ConcatDataset([Range(3), Range(0), Range(4)])
    theirs = tud.ConcatDataset([TorchRange(3), TorchRange(0), TorchRange(4)])
    assert len(ours) == len(theirs) == 7
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-7, 7):
        assert ours[i] == theirs[i]
    with pytest.raises(ValueError):
        ours[-8]
    both = Range(2) + Range(3)
    assert isinstance(both, cud.ConcatDataset) and len(both) == 5 and both[3] == 1
    sub = cud.Subset(Range(10), [7, 2, 5])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [7, 2, 5]
    assert _batches(cud.DataLoader(sub, batch_size=2)) == [[7, 2], [5]]
    with pytest.raises(ValueError):
        cud.ConcatDataset([])


def test_stack_and_chain_datasets():
    st = cud.StackDataset(Range(3), Range(3))
    assert st[2] == (2, 2) and len(st) == 3
    assert cud.StackDataset(a=Range(2), b=Range(2))[1] == {"a": 1, "b": 1}

    class Stream(cud.IterableDataset):
        def __init__(self, items):
            self.items = items

        def __iter__(self):
            return iter(self.items)

    assert list(cud.ChainDataset([Stream([1, 2]), Stream([3])])) == [1, 2, 3]
    assert list(Stream([1]) + Stream([2])) == [1, 2]


@pytest.mark.parametrize(
    "n,lengths",
    [
        (10, [0.5, 0.5]),
        (10, [0.3, 0.3, 0.4]),
        (11, [0.5, 0.5]),
        (7, [0.1, 0.2, 0.7]),
        (30, [0.8, 0.2]),
        (10, [3, 7]),
        (5, [1, 0]),
    ],
)
def test_random_split_lengths_match_torch(n, lengths):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = cud.random_split(Range(n), lengths)
        theirs = tud.random_split(TorchRange(n), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    all_idx = sum((list(s.indices) for s in ours), [])
    assert sorted(all_idx) == list(range(n))


def test_random_split_reproducible_and_errors():
    g = convgrad.Generator().manual_seed(42)
    a = [list(s.indices) for s in cud.random_split(Range(20), [0.25, 0.75], generator=g)]
    g.manual_seed(42)
    b = [list(s.indices) for s in cud.random_split(Range(20), [0.25, 0.75], generator=g)]
    assert a == b and len(a[0]) == 5
    with pytest.raises(ValueError, match="Sum of input lengths"):
        cud.random_split(Range(10), [3, 3])


# --------------------------------------------------------------------------------------------------
# collation, compared with torch's default_collate


def _same(ours, theirs):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, convgrad.Tensor), type(ours)
        a, b = _np(ours), theirs.numpy()
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_array_equal(a, b)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and ours.keys() == theirs.keys()
        for k in theirs:
            _same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert ours == theirs


Point = collections.namedtuple("Point", ["x", "y"])


@pytest.mark.parametrize(
    "batch",
    [
        [1, 2, 3],
        [1.5, 2.0],
        [True, False],
        [np.float32(1), np.float32(2.5)],
        [np.int32(4), np.int32(5)],
        [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
        [np.arange(3, dtype=np.uint8), np.arange(3, dtype=np.uint8)],
        [np.arange(4.0), np.arange(4.0)],
        [(1, 2.0), (3, 4.0)],
        [[1, 2], [3, 4]],
        [{"a": 1, "b": np.zeros(2, np.float32)}, {"a": 2, "b": np.ones(2, np.float32)}],
        [Point(1, 2.0), Point(3, 4.0)],
        ["a", "b"],
        [(np.zeros((1, 2), np.float32), 3), (np.ones((1, 2), np.float32), 4)],
    ],
)
def test_default_collate_matches_torch(batch):
    _same(cud.default_collate(batch), tud.default_collate(batch))


def test_default_collate_tensors_and_errors():
    batch = [convgrad.tensor(np.ones(3, np.float32)), convgrad.tensor(np.zeros(3, np.float32))]
    out = cud.default_collate(batch)
    assert out.shape == (2, 3) and out.dtype == np.float32
    with pytest.raises(RuntimeError, match="equal size"):
        cud.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        cud.default_collate([object(), object()])
    with pytest.raises(TypeError):
        cud.default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert_matches_torch():
    sample = (np.arange(3), {"k": np.float32(2)}, "s", 5)
    _same(cud.default_convert(sample), tud.default_convert(sample))


# --------------------------------------------------------------------------------------------------
# background prefetching and worker threads


def test_next_batch_is_prefetched_in_a_background_thread():
    ds = Range(40)
    it = iter(cud.DataLoader(ds, batch_size=4))
    first = next(it)
    assert _np(first).tolist() == [0, 1, 2, 3]
    deadline = time.monotonic() + 5
    while len(ds.fetched) < 8 and time.monotonic() < deadline:  # batch 2 is fetched while we do nothing
        time.sleep(0.005)
    assert set(range(4, 8)) <= set(ds.fetched)
    assert threading.get_ident() not in ds.threads


@pytest.mark.parametrize("num_workers", [0, 1, 3])
def test_order_is_kept_with_several_workers(num_workers):
    class Slow(Range):
        def __getitem__(self, i):
            time.sleep(0.002 * ((i * 7) % 3))
            return super().__getitem__(i)

    loader = cud.DataLoader(Slow(30), batch_size=4, num_workers=num_workers)
    assert _batches(loader) == _batches(tud.DataLoader(TorchRange(30), batch_size=4))


def test_worker_error_reaches_the_caller_with_its_type():
    class Bad(Range):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError("bad item 5")
            return i

    it = iter(cud.DataLoader(Bad(10), batch_size=2))
    assert _np(next(it)).tolist() == [0, 1]
    assert _np(next(it)).tolist() == [2, 3]
    with pytest.raises(KeyError, match="bad item 5"):
        next(it)


def test_abandoned_iterators_stop_their_threads():
    before = threading.active_count()
    for _ in range(5):
        for _batch in cud.DataLoader(Range(100), batch_size=2, num_workers=2):
            break
    import gc

    gc.collect()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before


def test_worker_info_and_init_fn():
    seen = []

    class Info(Range):
        def __getitem__(self, i):
            info = cud.get_worker_info()
            return (info.id, info.num_workers)

    assert cud.get_worker_info() is None
    out = list(cud.DataLoader(Info(4), batch_size=1, num_workers=2, worker_init_fn=seen.append))
    assert sorted(seen) == [0, 1]
    assert [(int(_np(a)[0]), int(_np(b)[0])) for a, b in out] == [(0, 2), (1, 2), (0, 2), (1, 2)]


def test_augmentation_randomness_is_reproducible_through_the_loader():
    class Noisy(Range):
        def __getitem__(self, i):
            return float(cud.numpy_rng().random())

    def run(workers):
        convgrad.manual_seed(5)
        return sum(_batches(cud.DataLoader(Noisy(12), batch_size=3, shuffle=True, num_workers=workers)), [])

    assert run(0) == run(0)
    assert run(2) == run(2)
    a = run(0)
    convgrad.manual_seed(6)
    assert sum(_batches(cud.DataLoader(Noisy(12), batch_size=3)), []) != a


def test_timeout():
    class Stuck(Range):
        def __getitem__(self, i):
            time.sleep(0.5)
            return i

    with pytest.raises(RuntimeError, match="timed out"):
        next(iter(cud.DataLoader(Stuck(2), batch_size=1, timeout=0.05)))


# --------------------------------------------------------------------------------------------------
# iterable-style datasets


class Stream(cud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class TorchStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("bs,drop_last", [(3, False), (3, True), (5, False), (20, True)])
def test_iterable_dataset_batches_match_torch(bs, drop_last):
    ours = cud.DataLoader(Stream(10), batch_size=bs, drop_last=drop_last)
    theirs = tud.DataLoader(TorchStream(10), batch_size=bs, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert _batches(ours) == _batches(theirs)


def test_iterable_dataset_rejects_shuffle_and_samplers():
    for kwargs in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="IterableDataset"):
            cud.DataLoader(Stream(3), **kwargs)
    assert list(cud.DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]


def test_iterable_dataset_error_propagates():
    class Broken(cud.IterableDataset):
        def __iter__(self):
            yield 1
            raise ValueError("stream broke")

    with pytest.raises(ValueError, match="stream broke"):
        list(cud.DataLoader(Broken(), batch_size=1))


def test_tensor_dataset_batches_by_one_gather_equal_per_item_collation():
    import convgrad
    from convgrad.utils.data import DataLoader, TensorDataset, default_collate

    x = convgrad.randn(37, 1, 4, 4)
    y = convgrad.randint(0, 10, (37,))
    ds = TensorDataset(x, y)
    fast = DataLoader(ds, batch_size=8, shuffle=True, generator=convgrad.Generator().manual_seed(5))
    slow = DataLoader(ds, batch_size=8, shuffle=True, generator=convgrad.Generator().manual_seed(5),
                      collate_fn=lambda items: default_collate(items))
    batches = list(zip(fast, slow))
    assert len(batches) == 5
    for (xf, yf), (xs, ys) in batches:
        assert xf.shape == xs.shape and xf.dtype == xs.dtype and xf.equal(xs)
        assert yf.dtype == ys.dtype and yf.equal(ys)
