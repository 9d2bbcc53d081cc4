"""Programs the distributed tests run under ``mpiexec -n N`` (tests/test_distributed.py): each checks its
own results with asserts, so a wrong answer on any rank fails the job, and prints one line per rank."""

import sys

import numpy as np

import convgrad
import convgrad.distributed as dist
from convgrad import nn


def collectives():
    r, w = dist.get_rank(), dist.get_world_size()
    total = sum(range(1, w + 1))
    t = convgrad.tensor([r + 1.0, 2.0 * (r + 1)])
    dist.all_reduce(t)
    assert t.tolist() == [total, 2.0 * total], t
    for op, want in ((dist.ReduceOp.AVG, total / w), (dist.ReduceOp.MAX, float(w)), (dist.ReduceOp.MIN, 1.0)):
        t = convgrad.tensor([r + 1.0], dtype=convgrad.float64)
        dist.all_reduce(t, op=op)
        assert t.tolist() == [want], (op, t)
    # not contiguous: the result still lands in the tensor's own storage
    base = convgrad.full((3, 4), float(r + 1))
    view = base.t()
    dist.all_reduce(view)
    assert np.all(base._data == total) and base.dtype == convgrad.float32
    work = dist.all_reduce(t := convgrad.ones(5), async_op=True)
    work.wait()
    assert t.tolist() == [float(w)] * 5
    b = convgrad.tensor([float(r), 7.0 * r])
    dist.broadcast(b, src=w - 1)
    assert b.tolist() == [w - 1.0, 7.0 * (w - 1)]
    out = [convgrad.zeros(2, dtype=convgrad.int64) for _ in range(w)]
    dist.all_gather(out, convgrad.tensor([r, 10 * r]))
    assert [o.tolist() for o in out] == [[i, 10 * i] for i in range(w)]
    t = convgrad.tensor([r + 1.0])
    dist.reduce(t, dst=1, op=dist.ReduceOp.SUM)
    assert t.tolist() == ([total] if r == 1 else [r + 1.0])
    dist.barrier()
    subgroup()
    print(f"collectives ok rank {r}", flush=True)


def subgroup():
    """On 3 ranks, a group of global ranks 0 and 2: collectives and DDP among them, rank 1 outside."""
    r = dist.get_rank()
    pair = dist.new_group([2, 0])
    if r == 1:
        assert pair is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(pair) == -1
        try:
            dist.all_reduce(convgrad.ones(1), group=pair)
        except RuntimeError as e:
            assert "all_reduce: expected a group this rank belongs to" in str(e) and "rank 1 is not" in str(e)
        else:
            raise AssertionError("a rank outside the group ran its collective")
        return
    assert dist.get_process_group_ranks(pair) == [0, 2] and dist.get_world_size(pair) == 2
    assert dist.get_rank(pair) == r // 2 and dist.get_global_rank(pair, 1) == 2
    t = convgrad.tensor([r + 1.0])
    dist.all_reduce(t, group=pair)
    assert t.tolist() == [4.0]  # 1 + 3: rank 1's 2 is not in it
    b = convgrad.tensor([float(r)])
    dist.broadcast(b, src=2, group=pair)  # src is a global rank, as in PyTorch
    assert b.tolist() == [2.0]
    try:
        dist.broadcast(b, src=1, group=pair)
    except ValueError as e:
        assert "broadcast: expected src to be a global rank among the group's ranks [0, 2], got 1" in str(e)
    else:
        raise AssertionError("broadcast accepted a source outside the group")
    ddp = nn.parallel.DistributedDataParallel(_net(seed=r), process_group=pair)
    ref = _net(seed=0)  # the group's first rank's model
    xs = np.random.default_rng(4).standard_normal((2, 2, 1, 8, 8))
    ddp(convgrad.tensor(xs[r // 2])).sum().backward()
    for x in xs:
        ref(convgrad.tensor(x)).sum().backward()  # the sum of both members' gradients
    for p, q in zip(ddp.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad._data, q.grad._data / 2, rtol=1e-9, atol=1e-12)
    try:  # a different model on global rank 2 is named by its global rank, not its place in the group
        nn.parallel.DistributedDataParallel(_net(seed=0, width=6 if r == 0 else 5), process_group=pair)
    except RuntimeError as e:
        assert "got rank 2 with" in str(e) and "where rank 0 has" in str(e), str(e)
    else:
        raise AssertionError("DistributedDataParallel accepted different models in a group")
    dist.destroy_process_group(pair)


def _net(seed, width=6):
    convgrad.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, width), nn.ReLU(), nn.Linear(width, 3)).double()


def ddp_equals_one_process():
    """20 SGD steps of DDP (each rank its slice of the batch) against one process on the whole batch; the
    last 4 steps accumulate two micro-batches, the first under no_sync."""
    r, w = dist.get_rank(), dist.get_world_size()
    per_rank = 4
    model = _net(seed=100 + r)  # different on every rank: DDP must start them all from rank 0's
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.002)  # several buckets
    assert len(ddp._buckets) > 1
    ref = _net(seed=100)
    opt = convgrad.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    ref_opt = convgrad.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)  # the same batches on every rank
    for step in range(20):
        micro = 2 if step >= 16 else 1
        opt.zero_grad()
        ref_opt.zero_grad()
        for m in range(micro):
            x = rng.standard_normal((w * per_rank, 1, 8, 8))
            y = rng.integers(0, 3, w * per_rank)
            mine = slice(r * per_rank, (r + 1) * per_rank)
            xs, ys = convgrad.tensor(x[mine]), convgrad.tensor(y[mine])
            if m < micro - 1:
                with ddp.no_sync():
                    loss_fn(ddp(xs), ys).backward()
            else:
                loss_fn(ddp(xs), ys).backward()
            loss_fn(ref(convgrad.tensor(x)), convgrad.tensor(y)).backward()
        opt.step()
        ref_opt.step()
    worst = 0.0
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        rel = np.abs(p._data - q._data).max() / np.abs(q._data).max()
        worst = max(worst, rel)
        assert rel <= 1e-6, (name, rel)
    moved = np.abs(model[0].weight._data - _net(seed=100)[0].weight._data).max()
    assert moved > 1e-3, moved  # training did change the parameters
    # checkpoints: PyTorch DDP's keys (module. prefix); a plain model's keys load too
    assert all(k.startswith("module.") for k in ddp.state_dict())
    ddp.load_state_dict(ref.state_dict())
    ddp.load_state_dict(ddp.state_dict())
    print(f"ddp ok rank {r} worst relative difference {worst:.2e}", flush=True)


def ddp_recovers_from_a_backward_that_raised():
    """Every rank's backward raises (from a hook) after the all-reduces started; the next step is right."""
    r, w = dist.get_rank(), dist.get_world_size()
    model, ref = _net(seed=1), _net(seed=1)
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.002)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2 * w, 1, 8, 8)), rng.integers(0, 3, 2 * w)
    mine = slice(2 * r, 2 * r + 2)
    xs = convgrad.tensor(x[mine], requires_grad=True)

    def fail(grad):
        raise KeyError("raised in a hook")

    xs.register_hook(fail)  # the input's gradient comes last: every bucket has started by then
    try:
        nn.functional.cross_entropy(ddp(xs), convgrad.tensor(y[mine])).backward()
    except KeyError:
        pass
    else:
        raise AssertionError("the hook did not raise")
    assert ddp._in_backward
    ddp.zero_grad()
    nn.functional.cross_entropy(ddp(convgrad.tensor(x[mine])), convgrad.tensor(y[mine])).backward()
    nn.functional.cross_entropy(ref(convgrad.tensor(x)), convgrad.tensor(y)).backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad._data, q.grad._data, rtol=1e-9, atol=1e-12)
    print(f"recovered rank {r}", flush=True)


def ddp_mismatch():
    r = dist.get_rank()
    try:
        nn.parallel.DistributedDataParallel(_net(seed=0, width=6 if r == 0 else 5))
    except RuntimeError as e:
        print(f"rank {r}: {e}", flush=True)
        return
    raise AssertionError("DistributedDataParallel accepted different models")


def sampler():
    """Every rank's shard, gathered: equal lengths, disjoint (apart from the padding) and covering."""
    r, w = dist.get_rank(), dist.get_world_size()
    for n in (10, 11, 2):
        for drop_last in (False, True):
            s = convgrad.utils.data.DistributedSampler(range(n), shuffle=True, seed=3, drop_last=drop_last)
            s.set_epoch(1)
            mine = convgrad.tensor(list(s), dtype=convgrad.int64)
            shards = [convgrad.zeros(len(s), dtype=convgrad.int64) for _ in range(w)]
            dist.all_gather(shards, mine)
            every = np.concatenate([t._data for t in shards])
            if drop_last:
                assert len(s) == n // w and len(set(every.tolist())) == len(every), (n, every)
            else:
                assert len(s) == -(-n // w) and set(every.tolist()) == set(range(n)), (n, every)
                assert len(every) - len(set(every.tolist())) == len(every) - n  # repeats: the padding only
    print(f"sampler ok rank {r}", flush=True)


def sync_batchnorm():
    """A SyncBatchNorm model under DDP for 5 steps against one process with BatchNorm on the whole batch:
    outputs, parameters and running statistics."""
    r, w = dist.get_rank(), dist.get_world_size()
    per_rank = 3

    def net():
        convgrad.manual_seed(7)
        return nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                             nn.Linear(4 * 4 * 4, 5), nn.BatchNorm1d(5, momentum=None)).double()

    model = nn.SyncBatchNorm.convert_sync_batchnorm(net())
    assert isinstance(model[1], nn.SyncBatchNorm) and isinstance(model[5], nn.SyncBatchNorm)
    ddp = nn.parallel.DistributedDataParallel(model)
    ref = net()
    opt = convgrad.optim.SGD(ddp.parameters(), lr=0.1)
    ref_opt = convgrad.optim.SGD(ref.parameters(), lr=0.1)
    rng = np.random.default_rng(1)
    for _ in range(5):
        x = rng.standard_normal((w * per_rank, 2, 6, 6)) * 3 + 1
        target = rng.standard_normal((w * per_rank, 5))
        mine = slice(r * per_rank, (r + 1) * per_rank)
        opt.zero_grad()
        ref_opt.zero_grad()
        out = ddp(convgrad.tensor(x[mine]))
        full = ref(convgrad.tensor(x))
        np.testing.assert_allclose(out._data, full._data[mine], rtol=1e-10, atol=1e-12)
        ((out - convgrad.tensor(target[mine])) ** 2).mean().backward()
        ((full - convgrad.tensor(target)) ** 2).mean().backward()
        opt.step()
        ref_opt.step()
    for (name, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_allclose(a._data, b._data, rtol=1e-9, atol=1e-12, err_msg=name)
    model.eval()
    ref.eval()
    x = convgrad.tensor(rng.standard_normal((2, 2, 6, 6)))
    np.testing.assert_allclose(model(x)._data, ref(x)._data, rtol=1e-9, atol=1e-12)
    print(f"syncbn ok rank {r}", flush=True)


def fit_trainer(per_rank_batch, out_dir, checkpoint_every=None, callbacks=()):
    """The run the fit tests share: 24 training samples, a shuffling DistributedSampler, a global batch of
    ``per_rank_batch`` x ranks, validation on 11 samples (DistributedSampler padding on 2 and 3 ranks),
    SGD with momentum and a StepLR; without a process group, one process with a one-replica sampler, so
    ``fit`` reads the same global batches. Returns (trainer, train loader, val loader)."""
    from convgrad.training import Trainer
    from convgrad.utils.data import DataLoader, DistributedSampler, TensorDataset

    rank, size = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    rng = np.random.default_rng(0)
    train = TensorDataset(convgrad.tensor(rng.standard_normal((24, 1, 8, 8))),
                          convgrad.tensor(rng.integers(0, 3, 24)))
    val = TensorDataset(convgrad.tensor(rng.standard_normal((11, 1, 8, 8))),
                        convgrad.tensor(rng.integers(0, 3, 11)))
    model = _net(seed=100 + rank)  # DDP starts every rank from rank 0's parameters
    if size > 1:
        model = nn.parallel.DistributedDataParallel(model)
    train_loader = DataLoader(train, batch_size=per_rank_batch,
                              sampler=DistributedSampler(train, size, rank, seed=3))
    val_loader = DataLoader(val, batch_size=4, sampler=DistributedSampler(val, size, rank, shuffle=False))
    opt = convgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = convgrad.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    trainer = Trainer(model, opt, scheduler=sched, out_dir=out_dir, seed=0, progress=False,
                      checkpoint_every_n_steps=checkpoint_every, callbacks=callbacks)
    return trainer, train_loader, val_loader


def fit(out_dir, per_rank_batch, epochs, resume, keep_step=None):
    """``fit`` under DDP; every rank counts the files it wrote (rank 0 alone may write). With ``keep_step``,
    last.pt is also checkpointed every that many steps, and the first mid-epoch one is kept beside the run
    folder as ``OUT-mid.pt``."""
    import shutil

    from convgrad.training import Callback, checkpoint

    class KeepMidEpoch(Callback):
        order = 200  # after ModelCheckpoint wrote last.pt

        def on_train_batch_end(self, trainer, batch_idx, logs):
            if trainer.step == int(keep_step) and not trainer.epoch_done and trainer.is_global_zero:
                shutil.copy(f"{out_dir}/last.pt", f"{out_dir}-mid.pt")

    writes = []
    write = checkpoint._atomic_write

    def counting(path, *args, **kwargs):
        writes.append(path)
        return write(path, *args, **kwargs)

    checkpoint._atomic_write = counting
    every = int(keep_step) if keep_step else None
    trainer, train_loader, val_loader = fit_trainer(int(per_rank_batch), out_dir, every,
                                                    [KeepMidEpoch()] if keep_step else [])
    trainer.fit(train_loader, val_loader, epochs=int(epochs), resume=resume == "resume")
    names = sorted({p.rsplit("/", 1)[-1] for p in writes})
    print(f"fit rank {dist.get_rank()} wrote {len(writes)} files {names}", flush=True)


def rank_stuck():
    """Rank 1 sleeps before its backward; rank 0 waits in DDP's gradient all-reduce until the timeout."""
    import datetime
    import time

    r = dist.get_rank()
    ddp = nn.parallel.DistributedDataParallel(_net(seed=0))
    out = ddp(convgrad.tensor(np.ones((2, 1, 8, 8))))
    # both ranks got here (on a loaded machine that may take longer than the short timeout): from now on
    # the timeout is 3 s
    dist.barrier()
    dist.destroy_process_group()
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=3))
    if r == 1:
        time.sleep(600)
    out.sum().backward()
    raise AssertionError("the backward returned without rank 1")


def rank_killed():
    import os
    import signal

    if dist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    dist.barrier()  # rank 0 waits for a rank that is gone


def rank_raises():
    r = dist.get_rank()
    if r == 1:
        raise ValueError("boom on purpose")
    dist.barrier()  # rank 0 waits for a rank that never comes


if __name__ == "__main__":
    dist.init_process_group("mpi")
    globals()[sys.argv[1]](*sys.argv[2:])
    dist.destroy_process_group()
