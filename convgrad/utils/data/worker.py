"""Where data-pipeline randomness comes from, and what a loader thread knows about itself.

A :class:`~convgrad.utils.data.DataLoader` fetches batches in background threads. If the transforms in
those threads drew from convgrad's global generator while the main thread also draws from it (dropout,
initialisers), the interleaving of the two would decide the numbers and runs would not repeat. So each
loader thread gets its own NumPy generator, seeded from a value the main thread draws from the global
generator when iteration starts; code in the data pipeline asks :func:`numpy_rng` for its generator and
gets the thread's one inside a loader, the global one everywhere else. ``convgrad.manual_seed`` therefore
makes both the model and the data augmentation repeat exactly.
"""

import threading

import numpy as np

import convgrad

_local = threading.local()


class WorkerInfo:
    """What :func:`get_worker_info` returns inside a loader thread.

    Attributes:
        id: index of this worker, ``0 <= id < num_workers``.
        num_workers: how many workers the loader runs.
        seed: the seed of this worker's random generator (the loader's base seed plus ``id``).
        dataset: the dataset the worker fetches from.
    """

    def __init__(self, id, num_workers, seed, dataset):
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


def get_worker_info():
    """The :class:`WorkerInfo` of the loader thread calling this, or ``None`` outside a loader thread."""
    return getattr(_local, "info", None)


def numpy_rng(generator=None):
    """The ``numpy.random.Generator`` data-pipeline code should draw from.

    ``generator``'s own if one is given; else the current loader thread's; else convgrad's global one.
    """
    return convgrad.random.rng(generator)


def _enter_worker(worker_id, num_workers, seed, dataset):
    """Make the calling thread a loader worker: its own info and its own seeded generator."""
    _local.info = WorkerInfo(worker_id, num_workers, seed, dataset)
    convgrad.random.set_thread_rng(np.random.default_rng(seed))
