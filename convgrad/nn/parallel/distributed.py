"""``DistributedDataParallel``: one model replica per MPI rank, gradients averaged during backward."""

import contextlib

import numpy as np

from convgrad import distributed as dist
from convgrad.autograd.engine import queue_callback
from convgrad.nn.modules.module import Module
from convgrad.tensor import Tensor

OP = "DistributedDataParallel"


class _Bucket:
    """Parameters whose gradients travel in one ``Iallreduce``: a flat buffer and each one's slice."""

    def __init__(self, params, dtype):
        self.params = params
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.buf = np.zeros(int(self.offsets[-1]), dtype)
        self.ready = [False] * len(params)
        self.pending = len(params)
        self.request = None

    def reset(self):
        self.ready = [False] * len(self.params)
        self.pending = len(self.params)
        self.request = None

    def put(self, j, grad):
        """Copy parameter ``j``'s gradient (None: zeros) into its slice; True when the bucket is full."""
        view = self.buf[self.offsets[j]:self.offsets[j + 1]]
        if grad is None:
            view[...] = 0
        else:
            view[...] = grad.reshape(-1)
        if not self.ready[j]:
            self.ready[j] = True
            self.pending -= 1
        return self.pending == 0


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module)``: ``forward`` is ``module(*inputs)`` on this rank's batch; backward
    leaves in every parameter's ``.grad`` the average of all ranks' gradients, so each rank's optimizer takes
    the same step: grad = (1/W) * sum_r grad_r over the W ranks.

    At construction the ranks check they hold the same parameter and buffer shapes, then take rank 0's
    values (with ``process_group`` from ``new_group``: the group's ranks only, from its first member).
    Gradients travel in buckets of about ``bucket_cap_mb`` MB (parameters in reverse order, the
    order backward produces them); a bucket's non-blocking all-reduce starts from a gradient hook as soon
    as its last gradient is accumulated, buckets start in the same order on every rank (as MPI requires),
    and all are waited for when backward ends.

    ``state_dict`` keys start with ``module.``, as PyTorch's DDP: its checkpoints load into it and back.
    Save ``ddp.module.state_dict()`` to load into a plain model (as PyTorch's tutorials do);
    ``ddp.load_state_dict`` accepts both, with or without the prefix."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"{OP}: expected module to be an nn.Module, got {type(module).__name__}")
        for name, value in (("device_ids", device_ids), ("output_device", output_device)):
            if value not in (None, [], "cpu"):
                raise RuntimeError(f"{OP}: expected {name}=None (one CPU process per rank), got {value!r}")
        if not dist.is_initialized():
            raise RuntimeError(f"{OP}: expected an initialized default process group, got none: call "
                               "convgrad.distributed.init_process_group('mpi') first, under mpiexec -n N")
        cap = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        if not cap > 0:
            raise ValueError(f"{OP}: expected bucket_cap_mb > 0, got {bucket_cap_mb!r}")
        self._comm = dist._comm(OP, process_group)
        self.module = module
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        self.process_group = process_group
        self._source = dist.get_process_group_ranks(process_group)[0]  # the group's first rank
        self._check_same_model(process_group)
        for _, t in self._state_items():
            dist.broadcast(t, self._source, process_group)
        self._make_buckets(int(cap * 2**20))

    # ------------------------------------------------------------------ construction
    def _state_items(self):
        return list(self.module.named_parameters()) + list(self.module.named_buffers())

    def _check_same_model(self, process_group):
        mine = [(name, tuple(t.shape), str(t.dtype)) for name, t in self._state_items()]
        every = [None] * self._comm.Get_size()
        dist.all_gather_object(every, mine, process_group)
        ranks = dist.get_process_group_ranks(process_group)  # the group's positions as global ranks
        for rank, theirs in zip(ranks[1:], every[1:]):
            if theirs == every[0]:
                continue
            for i in range(max(len(theirs), len(every[0]))):
                a = every[0][i] if i < len(every[0]) else "nothing"
                b = theirs[i] if i < len(theirs) else "nothing"
                if a != b:
                    break
            raise RuntimeError(
                f"{OP}: expected every rank to build the same model (parameters and buffers: name, shape, "
                f"dtype), got rank {rank} with {b} where rank {ranks[0]} has {a}")

    def _make_buckets(self, cap_bytes):
        params = [p for p in self.module.parameters() if p.requires_grad]
        self._buckets, self._where = [], {}
        current, size, dtype = [], 0, None
        for p in reversed(params):  # backward meets the last layers first
            nbytes = p._data.nbytes
            if current and (p._data.dtype != dtype or size + nbytes > cap_bytes):
                self._buckets.append(_Bucket(current, dtype))
                current, size = [], 0
            current.append(p)
            size += nbytes
            dtype = p._data.dtype
        if current:
            self._buckets.append(_Bucket(current, dtype))
        for b, bucket in enumerate(self._buckets):
            for j, p in enumerate(bucket.params):
                self._where[id(p)] = (b, j)
                p.register_post_accumulate_grad_hook(self._grad_ready)
        self._next = 0  # the next bucket to start: buckets start in index order on every rank
        self._in_backward = False

    # ------------------------------------------------------------------ forward and backward
    def forward(self, *inputs, **kwargs):
        """``module(*inputs)``; in training mode the buffers (BatchNorm statistics) of the process group's
        first rank first replace the others' (``broadcast_buffers``). Not in eval mode, so that rank may
        evaluate alone without a hang."""
        if self._in_backward:  # the last backward raised before it ended: drop its half-done all-reduces
            self._abandon_backward()
        if self.broadcast_buffers and self.module.training:
            self._sync_buffers()
        return self.module(*inputs, **kwargs)

    def _sync_buffers(self):
        """Every rank's buffers (BatchNorm statistics) replaced by the source rank's, over the model's group;
        also what the Trainer calls before a sharded evaluation."""
        for _, buf in self.module.named_buffers():
            dist.broadcast(buf, self._source, self.process_group)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward inside accumulates this rank's gradients without communicating (gradient accumulation);
        the first backward outside averages the accumulated ``.grad``."""
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    def _grad_ready(self, p):
        if not self.require_backward_grad_sync:
            return
        if not self._in_backward:
            self._in_backward = True
            queue_callback(self._finish_backward)
        b, j = self._where[id(p)]
        if self._buckets[b].put(j, p.grad._data):
            self._start_ready()

    def _start_ready(self):
        mpi = dist._state["mpi"]
        while self._next < len(self._buckets) and self._buckets[self._next].pending == 0:
            bucket = self._buckets[self._next]
            bucket.request = self._comm.Iallreduce(mpi.IN_PLACE, bucket.buf, mpi.SUM)
            self._next += 1

    def _finish_backward(self):
        # parameters backward did not reach on this rank contribute their .grad as it is (or zeros)
        for bucket in self._buckets[self._next:]:
            for j, p in enumerate(bucket.params):
                if not bucket.ready[j]:
                    bucket.put(j, None if p.grad is None else p.grad._data)
        self._start_ready()
        world = self._comm.Get_size()
        for bucket in self._buckets:
            dist._wait(bucket.request, f"{OP} gradient all-reduce")
            np.divide(bucket.buf, world, out=bucket.buf)
            for j, p in enumerate(bucket.params):
                avg = bucket.buf[bucket.offsets[j]:bucket.offsets[j + 1]].reshape(p._data.shape)
                if p.grad is None:
                    p.grad = Tensor._make(avg.copy())
                else:
                    p.grad._data[...] = avg
            bucket.reset()
        self._next = 0
        self._in_backward = False

    def _abandon_backward(self):
        for bucket in self._buckets:
            if bucket.request is not None:
                dist._wait(bucket.request, f"{OP} gradient all-reduce")
            bucket.reset()
        self._next = 0
        self._in_backward = False

    # ------------------------------------------------------------------ checkpoints
    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Keys with PyTorch DDP's ``module.`` prefix, or a plain model's keys without it."""
        keys = list(state_dict)
        if keys and not any(k.startswith("module.") for k in keys):
            return self.module.load_state_dict(state_dict, strict=strict, assign=assign)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
