"""``DistributedSampler``, as ``torch.utils.data.distributed``: each rank reads its own shard of the data."""

import math

import numpy as np

from convgrad import distributed as dist
from convgrad.utils.data.sampler import Sampler


class DistributedSampler(Sampler):
    """The indices of rank ``rank``'s shard: every ``num_replicas``-th index of one permutation (the same on
    every rank: ``seed + epoch`` seeds it), starting at ``rank``. Each rank gets
    ``ceil(N / num_replicas)`` indices, the list padded by repeating its first ones; with ``drop_last``,
    ``floor(N / num_replicas)``, the tail dropped. Call ``set_epoch(epoch)`` before each epoch, or every
    epoch reads the same order."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        op = "DistributedSampler"
        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise RuntimeError(f"{op}: expected num_replicas and rank, or an initialized process group "
                                   "(convgrad.distributed.init_process_group('mpi')), got neither")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"{op}: expected num_replicas to be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"{op}: expected rank in [0, {num_replicas - 1}], got {rank!r}")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.drop_last:
            indices = indices[: self.total_size]
        elif self.total_size > n:  # pad: repeat from the start (more than once if the data set is tiny)
            indices = np.resize(indices, self.total_size)
        return iter(indices[self.rank: self.total_size: self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Each epoch shuffles differently, and identically on every rank."""
        self.epoch = int(epoch)
