"""What the :class:`~convgrad.training.Trainer` does differently when it runs in every rank of an MPI job
(``convgrad.distributed`` initialised, world size > 1): metric sums added over the ranks, evaluation
shards without :class:`~convgrad.utils.data.DistributedSampler`'s padding, rank-derived random streams.

A validation loader whose sampler is a ``DistributedSampler`` over all ranks is sharded: each rank
evaluates its shard and the sums (loss x count, top-k hits, count) are added, so the result is that of one
process evaluating the whole set. The sampler pads the shards to equal length by repeating the first
indices; those repeats are the last samples of the shards they land in (global positions >= N) and are
left out, so no sample counts twice. Any other loader is evaluated whole by every rank (the same answer on
each, no communication)."""

import numpy as np

import convgrad
from convgrad import distributed as dist
from convgrad.nn.parallel import DataParallel, DistributedDataParallel
from convgrad.training.metrics import RunningMetrics
from convgrad.utils.data import DistributedSampler


def world():
    """(rank, world size) of this process: (0, 1) outside an initialised process group."""
    if not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def unwrap(model):
    """The model a DistributedDataParallel/DataParallel wrapper holds (its checkpoints load into a plain
    model, and a plain model's into it), or ``model`` itself."""
    return model.module if isinstance(model, (DataParallel, DistributedDataParallel)) else model


def sharded(loader):
    """This rank's number of real samples (the padding left out) when ``loader`` reads one shard per rank
    of an initialised process group through a DistributedSampler; None otherwise."""
    sampler = getattr(loader, "sampler", None)
    rank, size = world()
    if size < 2 or not isinstance(sampler, DistributedSampler) or sampler.num_replicas != size:
        return None
    if sampler.drop_last:
        return sampler.num_samples  # the tail is dropped, nothing repeated
    # shard r holds global positions r, r + W, r + 2W, ...; those >= N repeat the first indices
    return len(range(sampler.rank, len(sampler.dataset), size))


def reduced(metrics):
    """A :class:`RunningMetrics` holding the sums of ``metrics`` over all ranks (a collective)."""
    ks = list(metrics.topk)
    sums = np.array([metrics.loss_sum, metrics.count, float(bool(metrics.correct))]
                    + [metrics.correct.get(k, 0) for k in ks], np.float64)
    dist.all_reduce(convgrad.from_numpy(sums))
    most = convgrad.tensor([metrics.num_classes], dtype=convgrad.int64)
    dist.all_reduce(most, op=dist.ReduceOp.MAX)
    out = RunningMetrics(metrics.topk)
    out.loss_sum, out.count, out.num_classes = float(sums[0]), int(sums[1]), int(most.item())
    classification = sums[2] == dist.get_world_size()  # every rank saw class scores and labels
    out.correct = {k: int(v) for k, v in zip(ks, sums[3:])} if classification else {}
    return out


def gathered(outputs, targets, loader):
    """Every rank's evaluation outputs and targets (NumPy arrays, padding left out), in the sampler's order
    of the whole set (the data set's order when it does not shuffle); on every rank."""
    size = dist.get_world_size()
    parts = [None] * size
    dist.all_gather_object(parts, (outputs, targets))
    full = []
    for i in range(2):
        pieces = [p[i] for p in parts]
        sample = next((a for a in pieces if a is not None and len(a)), None)
        total = sum(len(a) for a in pieces if a is not None)
        if sample is None:
            full.append(np.empty((0,), np.float32))
            continue
        out = np.empty((total,) + sample.shape[1:], sample.dtype)
        for rank, a in enumerate(pieces):
            if a is not None and len(a):
                out[rank::size] = a  # shard r's j-th sample sits at global position r + j * W
        full.append(out)
    return full[0], full[1]


def split_stream(rank):
    """Give rank ``rank`` > 0 a random stream of its own after all ranks loaded rank 0's (a resumed run):
    rank 0 continues its stream exactly, the others reseed from it, offset by their rank."""
    if rank:
        seed = int(convgrad.randint(0, 2**31 - 1, (1,)).item())
        convgrad.manual_seed(seed + rank)
