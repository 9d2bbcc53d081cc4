"""The :class:`DataLoader`: batches of a dataset, in order or shuffled, prepared in background threads.

Batches are fetched and collated ahead of time by worker threads, so the next batch is usually ready
when the training step asks for it (NumPy and PIL release the GIL for their heavy work). The indices
are drawn in the calling thread in the sampler's order, the batches come back in that order whatever
the number of workers, and each worker draws its randomness from its own generator seeded from
convgrad's global one (see :mod:`convgrad.utils.data.worker`), so ``convgrad.manual_seed`` makes a whole
run repeat.
"""

import itertools
import queue
import threading

import numpy as np

from convgrad import _checks as checks
from convgrad.tensor import Tensor

from .collate import default_collate, default_convert
from .dataset import IterableDataset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .worker import _enter_worker, numpy_rng

__all__ = ["DataLoader"]


class _InfiniteConstantSampler(Sampler):
    """The placeholder sampler of an iterable-style dataset: ``None`` forever."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Args:
        dataset: a map-style :class:`Dataset` (anything with ``__getitem__`` and ``__len__``) or an
            :class:`IterableDataset`.
        batch_size: samples per batch (default 1); ``None`` turns batching off and each item is only
            passed through ``collate_fn`` (default :func:`default_convert`).
        shuffle: a new random order every epoch (a :class:`RandomSampler`); not with ``sampler``.
        sampler: the order of the indices (a :class:`Sampler` or any iterable of indices).
        batch_sampler: yields whole lists of indices; excludes ``batch_size``, ``shuffle``, ``sampler``
            and ``drop_last``.
        num_workers: number of background threads fetching batches (0 and 1 both mean one thread:
            the loader always prefetches).
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`).
        pin_memory: accepted for compatibility; there is no device memory to pin.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch before raising (0: wait forever).
        worker_init_fn: called with the worker id at the start of each worker thread.
        generator: a ``convgrad.Generator`` for the shuffle order and the worker seeds.
        prefetch_factor: batches each worker keeps ready ahead (default 2).
        persistent_workers: accepted for compatibility; threads are cheap to start each epoch.

    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                f"num_workers option should be a non-negative integer, got num_workers={num_workers!r}; "
                "use num_workers=0 for the default single prefetch thread"
            )
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got timeout={timeout!r}")
        if prefetch_factor is None:
            prefetch_factor = 2
        prefetch_factor = checks.integer("DataLoader", "prefetch_factor", prefetch_factor, low=1)

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = generator

        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            if shuffle not in (None, False):
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                    f"but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
            )

        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self):
        base_seed = int(numpy_rng(self.generator).integers(0, 2**62))
        if self._is_iterable:
            return _IterableIter(self, base_seed)
        return _MapIter(self, base_seed)

    def __repr__(self):
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size}, "
            f"num_workers={self.num_workers}, drop_last={self.drop_last})"
        )


def _fetcher(loader):
    """The function a worker applies to one item of the index sampler."""
    dataset, collate_fn = loader.dataset, loader.collate_fn
    if not loader._auto_collation:
        return lambda index: collate_fn(dataset[index])
    if (type(dataset) is TensorDataset and collate_fn is default_collate
            and all(type(t) is Tensor for t in dataset.tensors)):
        # rows of in-memory tensors: one gather per tensor gives the collated batch directly
        return lambda indices: [t[np.asarray(indices, dtype=np.int64)] for t in dataset.tensors]
    getitems = getattr(dataset, "__getitems__", None)
    if callable(getitems):
        return lambda indices: collate_fn(getitems(list(indices)))
    return lambda indices: collate_fn([dataset[i] for i in indices])


def _run_init(loader, worker_id, num_workers, seed):
    _enter_worker(worker_id, num_workers, seed, loader.dataset)
    if loader.worker_init_fn is not None:
        loader.worker_init_fn(worker_id)


def _get(q, timeout):
    try:
        return q.get(timeout=timeout if timeout > 0 else None)
    except queue.Empty:
        raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting for a batch") from None


def _map_worker(loader, worker_id, num_workers, seed, fetch, index_queue, results, done):
    """Body of a map-style worker thread: fetch each index list it is sent, until told to stop.
    (It holds no reference to the iterator, so an abandoned iterator is collected and stops it.)"""
    init_error = None
    try:
        _run_init(loader, worker_id, num_workers, seed)
    except BaseException as e:  # reported with the first task
        init_error = e
    while True:
        task = index_queue.get()
        if task is None or done.is_set():
            break
        idx, index = task
        if init_error is not None:
            results.put((idx, False, init_error))
            continue
        try:
            results.put((idx, True, fetch(index)))
        except BaseException as e:
            results.put((idx, False, e))


class _MapIter:
    """Iterator over a map-style dataset: the calling thread walks the index sampler and hands the
    indices round-robin to the workers; results are put back in order."""

    def __init__(self, loader, base_seed):
        self._loader = loader
        self._timeout = loader.timeout
        self._fetch = _fetcher(loader)
        self._index_iter = iter(loader._index_sampler)
        self._n_workers = max(1, loader.num_workers)
        self._index_queues = [queue.SimpleQueue() for _ in range(self._n_workers)]
        self._results = queue.SimpleQueue()
        self._done = threading.Event()
        self._workers = []
        for wid in range(self._n_workers):
            t = threading.Thread(
                target=_map_worker,
                args=(
                    loader,
                    wid,
                    self._n_workers,
                    base_seed + wid,
                    self._fetch,
                    self._index_queues[wid],
                    self._results,
                    self._done,
                ),
                name=f"convgrad-DataLoader-worker-{wid}",
                daemon=True,
            )
            t.start()
            self._workers.append(t)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._pending = {}
        self._exhausted = False
        self._shut = False
        for _ in range(loader.prefetch_factor * self._n_workers):
            self._put_index()

    def _put_index(self):
        if self._exhausted:
            return
        try:
            index = next(self._index_iter)
        except StopIteration:
            self._exhausted = True
            return
        self._index_queues[self._send_idx % self._n_workers].put((self._send_idx, index))
        self._send_idx += 1

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        if self._rcvd_idx >= self._send_idx:
            self._shutdown()
            raise StopIteration
        while self._rcvd_idx not in self._pending:
            idx, ok, payload = _get(self._results, self._timeout)
            self._pending[idx] = (ok, payload)
        ok, payload = self._pending.pop(self._rcvd_idx)
        self._rcvd_idx += 1
        if not ok:
            self._shutdown()
            raise payload
        self._put_index()
        return payload

    def _shutdown(self):
        if self._shut:
            return
        self._shut = True
        self._done.set()
        for q in self._index_queues:
            q.put(None)

    def __del__(self):
        if hasattr(self, "_index_queues"):
            self._shutdown()


_END = object()


def _put_unless_done(results, done, item):
    while not done.is_set():
        try:
            results.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _iterable_worker(loader, seed, results, done):
    """Body of the iterable-style worker thread: run the dataset's iterator, batch, collate, queue."""
    try:
        _run_init(loader, 0, 1, seed)
        it = iter(loader.dataset)
        if loader._auto_collation:
            while True:
                batch = list(itertools.islice(it, loader.batch_size))
                if not batch or (loader.drop_last and len(batch) < loader.batch_size):
                    break
                if not _put_unless_done(results, done, (True, loader.collate_fn(batch))):
                    return
        else:
            for item in it:
                if not _put_unless_done(results, done, (True, loader.collate_fn(item))):
                    return
    except BaseException as e:
        _put_unless_done(results, done, (False, e))
        return
    _put_unless_done(results, done, (True, _END))


class _IterableIter:
    """Iterator over an iterable-style dataset: one worker thread runs the dataset's iterator, groups
    and collates the samples, and keeps ``prefetch_factor`` batches ready in a bounded queue."""

    def __init__(self, loader, base_seed):
        self._loader = loader
        self._timeout = loader.timeout
        self._results = queue.Queue(maxsize=loader.prefetch_factor)
        self._done = threading.Event()
        self._finished = False
        self._thread = threading.Thread(
            target=_iterable_worker,
            args=(loader, base_seed, self._results, self._done),
            name="convgrad-DataLoader-worker-0",
            daemon=True,
        )
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        ok, payload = _get(self._results, self._timeout)
        if not ok:
            self._finish()
            raise payload
        if payload is _END:
            self._finish()
            raise StopIteration
        return payload

    def _finish(self):
        self._finished = True
        self._done.set()

    def __del__(self):
        if hasattr(self, "_done"):
            self._done.set()
