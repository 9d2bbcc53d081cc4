"""convgrad.distributed, DistributedDataParallel and DistributedSampler. The multi-process tests run
tests/mpi_worker.py (and examples/ddp_mnist.py) under ``mpiexec -n 2`` or ``-n 3`` as subprocesses with a
timeout; every rank checks its own results there."""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import convgrad
import convgrad.distributed as dist
from convgrad.autograd.engine import queue_callback
from convgrad.utils.data import DistributedSampler

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "mpi_worker.py"


def _mpiexec():
    here = pathlib.Path(sys.executable).parent / "mpiexec"  # the MPICH wheel's, beside this Python
    return str(here) if here.exists() else shutil.which("mpiexec")


def _mpi_ready():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return _mpiexec() is not None


needs_mpi = pytest.mark.skipif(not _mpi_ready(),
                               reason="needs mpi4py and mpiexec: pip install 'convgrad[mpi]'")


def _run(n, *args, timeout=60, **env_vars):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **env_vars)
    return subprocess.run([_mpiexec(), "-n", str(n), sys.executable, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


# ---------------------------------------------------------------------- in one process
def test_post_accumulate_grad_hook_sees_the_accumulated_grad_and_callbacks_run_after_backward():
    w = convgrad.tensor([1.0, 2.0], requires_grad=True)
    log = []

    def hook(t):
        log.append(t.grad.tolist())
        queue_callback(lambda: log.append("end"))

    handle = w.register_post_accumulate_grad_hook(hook)
    (w * 3).sum().backward()
    (w * w).sum().backward()
    assert log == [[3.0, 3.0], "end", [5.0, 7.0], "end"]
    handle.remove()
    (w * 3).sum().backward()
    assert len(log) == 4
    with pytest.raises(RuntimeError, match="register_post_accumulate_grad_hook: expected a leaf"):
        (w * 2).register_post_accumulate_grad_hook(hook)
    with pytest.raises(RuntimeError, match="queue_callback: expected to be called during a backward"):
        queue_callback(lambda: None)


def test_without_mpi4py_init_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    assert not dist.is_mpi_available() and dist.is_available() and not dist.is_initialized()
    with pytest.raises(RuntimeError,
                       match=r"init_process_group: expected mpi4py .* pip install 'convgrad\[mpi\]'"):
        dist.init_process_group("mpi")


def test_errors_before_init_and_for_other_backends():
    with pytest.raises(RuntimeError, match="get_rank: expected an initialized default process group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="all_reduce: expected an initialized"):
        dist.all_reduce(convgrad.ones(2))
    with pytest.raises(RuntimeError, match="init_process_group: expected backend 'mpi', got 'nccl'"):
        dist.init_process_group("nccl")
    assert convgrad.distributed is dist


@pytest.mark.parametrize("n", [1, 2, 7, 10, 11, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shards_match_pytorch_without_shuffle(n, replicas, drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler

    if drop_last and n < replicas:
        return  # PyTorch gives empty shards there too, checked below
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("n, replicas", [(10, 3), (9, 3), (2, 3), (100, 4)])
def test_sampler_shuffles_per_epoch_into_disjoint_covering_shards(n, replicas):
    def shards(epoch, drop_last=False):
        out = []
        for rank in range(replicas):
            s = DistributedSampler(range(n), replicas, rank, seed=5, drop_last=drop_last)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    first = shards(0)
    assert len({len(s) for s in first}) == 1  # equal shards: the padding
    every = sum(first, [])
    assert set(every) == set(range(n)) and len(every) == replicas * -(-n // replicas)
    assert shards(0) == first
    if n > 3:  # two permutations of 2 items are often the same
        assert shards(1) != first
    dropped = sum(shards(0, drop_last=True), [])
    assert len(dropped) == len(set(dropped)) == n // replicas * replicas


def test_sampler_errors():
    with pytest.raises(ValueError, match=r"DistributedSampler: expected rank in \[0, 1\], got 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="DistributedSampler: expected num_replicas and rank, or an"):
        DistributedSampler(range(4))


# ---------------------------------------------------------------------- under mpiexec
@needs_mpi
def test_collectives_on_three_ranks():
    out = _ok(_run(3, WORKER, "collectives"))
    # mpiexec forwards each rank's output as it comes: lines of different ranks may run together
    assert sorted(re.findall(r"collectives ok rank (\d)", out)) == ["0", "1", "2"]


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_ddp_20_steps_equal_one_process_on_the_whole_batch(n):
    out = _ok(_run(n, WORKER, "ddp_equals_one_process"))
    assert out.count("ddp ok rank") == n


@needs_mpi
def test_ddp_after_a_backward_that_raised_on_every_rank():
    assert _ok(_run(2, WORKER, "ddp_recovers_from_a_backward_that_raised")).count("recovered rank") == 2


@needs_mpi
def test_ddp_detects_different_models_at_construction():
    out = _ok(_run(2, WORKER, "ddp_mismatch"))
    for r in range(2):
        assert (f"rank {r}: DistributedDataParallel: expected every rank to build the same model" in out), out
    assert "got rank 1 with ('4.weight', (5, 64), 'float64') where rank 0 has ('4.weight', (6, 64)" in out


@needs_mpi
def test_sampler_on_three_ranks():
    assert _ok(_run(3, WORKER, "sampler")).count("sampler ok rank") == 3


@needs_mpi
def test_a_rank_that_raises_ends_the_job_naming_it():
    start = time.monotonic()
    proc = _run(2, WORKER, "rank_raises", timeout=30)
    assert time.monotonic() - start < 20
    assert proc.returncode != 0
    assert "convgrad.distributed: rank 1 of 2 raised ValueError: boom on purpose" in proc.stderr, proc.stderr


@needs_mpi
def test_ddp_mnist_example_under_two_ranks(tmp_path):
    ckpt = tmp_path / "net.pt"
    out = _ok(_run(2, ROOT / "examples" / "ddp_mnist.py", "--fake", 128, "--epochs", 2, "--batch-size", 16,
                   "--log-interval", 2, "--save-model", ckpt, timeout=120))
    assert out.count("Test set (2 ranks)") == 2  # rank 0 alone prints
    assert out.count("Train Epoch: 1 [") == 2  # 4 batches per rank, logged every 2
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from ddp_mnist import Net
    finally:
        sys.path.remove(str(ROOT / "examples"))
    state = convgrad.load(ckpt)
    assert not any(k.startswith("module.") for k in state)
    net = Net()
    net.load_state_dict(state)  # strict: the plain model's keys
    assert np.isfinite(net.fc3.weight._data).all()



def test_sync_batchnorm_without_a_process_group_is_batchnorm():
    convgrad.manual_seed(0)
    net = convgrad.nn.Sequential(convgrad.nn.Conv2d(3, 4, 3), convgrad.nn.BatchNorm2d(4),
                                 convgrad.nn.Sequential(convgrad.nn.Flatten(), convgrad.nn.BatchNorm1d(64)))
    bn = net[1]
    ref = convgrad.nn.BatchNorm2d(4)
    ref.load_state_dict(bn.state_dict())
    converted = convgrad.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    sync = converted[1]
    assert isinstance(sync, convgrad.nn.SyncBatchNorm)
    assert isinstance(converted[2][1], convgrad.nn.SyncBatchNorm)
    assert sync.weight is bn.weight and sync.running_mean is bn.running_mean  # shared, as PyTorch's
    x = convgrad.randn(5, 4, 3, 3)
    np.testing.assert_allclose(sync(x)._data, ref(x)._data, rtol=1e-6)
    np.testing.assert_allclose(sync.running_var._data, ref.running_var._data, rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"SyncBatchNorm\(4\): expected 4 channels \(num_features\), "
                                           r"got input of shape \(2, 3, 4\)"):
        sync(convgrad.randn(2, 3, 4))


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_sync_batchnorm_under_ddp_equals_batchnorm_on_the_whole_batch(n):
    assert _ok(_run(n, WORKER, "sync_batchnorm")).count("syncbn ok rank") == n


def test_leaf_gradients_are_final_as_soon_as_their_layer_is_done():
    """What lets DDP's all-reduces overlap backward: the last layer's parameters are accumulated before
    backward reaches the first layer (not all at the end of the walk)."""
    nn = convgrad.nn
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    log = []
    for name, p in m.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, name=name: log.append(name))
    x = convgrad.randn(2, 3, requires_grad=True)
    h1 = m[0](x)
    h1.register_hook(lambda g: log.append("h1"))
    m[2:](h1).sum().backward()
    assert log.index("4.weight") < log.index("h1") and log.index("2.weight") < log.index("h1")
    assert log.index("h1") < log.index("0.weight")


# ---------------------------------------------------------------------- fit / Trainer under DDP
def _fit_in_process(out_dir, per_rank_batch, epochs, resume=None):
    from tests.mpi_worker import fit_trainer

    trainer, train_loader, val_loader = fit_trainer(per_rank_batch, out_dir)
    trainer.fit(train_loader, val_loader, epochs=epochs, resume=resume)
    return trainer


def _same_run(folder, ref_params, ref_history):
    """The run folder's last.pt holds ``ref_params`` and its metrics.json ``ref_history`` (times apart)."""
    import json

    state = convgrad.load(folder / "last.pt")["model"]
    assert list(state) == list(ref_params)  # the plain model's keys, no "module." prefix
    for name, value in ref_params.items():
        np.testing.assert_allclose(state[name]._data, value, rtol=1e-9, atol=1e-12, err_msg=name)
    history = json.loads((folder / "metrics.json").read_text())
    assert len(history) == len(ref_history)
    for row, ref in zip(history, ref_history):
        assert row.keys() == ref.keys()
        for k in ref:
            if k != "time":
                assert row[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-12), (k, row, ref)


@needs_mpi
def test_fit_under_ddp_equals_one_process_and_resumes_in_other_world_sizes(tmp_path):
    # one process, global batch 6: 2 epochs, then resumed for a 3rd
    ref = _fit_in_process(tmp_path / "ref", 6, 2)
    params2 = {k: v._data.copy() for k, v in ref.model.state_dict().items()}
    history2 = [dict(r) for r in ref.history]
    assert {r["val_acc"] * 11 for r in history2} <= set(range(12))  # 11 validation samples, none twice
    ref = _fit_in_process(tmp_path / "ref", 6, 3, resume=True)
    params3 = {k: v._data.copy() for k, v in ref.model.state_dict().items()}

    run = tmp_path / "two"
    proc = _run(2, WORKER, "fit", run, 3, 2, "new", 6, timeout=180)  # keeps the checkpoint of step 6
    out = _ok(proc)
    assert "fit rank 1 wrote 0 files" in out
    files = r"\['best.pt', 'last.pt', 'metrics.csv', 'metrics.json'\]"
    assert re.search(r"fit rank 0 wrote \d+ files " + files, out)
    assert proc.stderr.count("epoch 2/2") == 1  # rank 0 alone prints
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "metrics.csv", "metrics.json"]
    _same_run(run, params2, history2)

    for n in (1, 3):  # resumed in one process, and in three (global batch 6 kept: the same run)
        folder = tmp_path / f"from-two-to-{n}"
        shutil.copytree(run, folder)
        if n == 1:
            _fit_in_process(folder, 6, 3, resume=True)
        else:
            _ok(_run(3, WORKER, "fit", folder, 2, 3, "resume", timeout=180))
        _same_run(folder, params3, ref.history)
    # from the middle of epoch 2 (step 6 of 4 per epoch), in 2 processes again: epoch 2's metrics add the
    # sums the checkpoint holds (all ranks' batches before it) to the batches after it
    mid = tmp_path / "mid-two"
    shutil.copytree(run, mid)
    shutil.copy(tmp_path / "two-mid.pt", mid / "last.pt")
    assert convgrad.load(mid / "last.pt")["trainer"]["batch_in_epoch"] == 2
    _ok(_run(2, WORKER, "fit", mid, 3, 3, "resume", timeout=180))
    _same_run(mid, params3, ref.history)


def test_a_mid_epoch_checkpoint_resumes_only_in_as_many_processes(tmp_path):
    from convgrad.training import CheckpointError, load_checkpoint, save_checkpoint

    _fit_in_process(tmp_path, 6, 1)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["trainer"]["world_size"] == 1 and state["trainer"]["sampler_epoch"] == 0
    state["trainer"].update(batch_in_epoch=2, world_size=2, epoch_rng=state["trainer"]["rng"])
    save_checkpoint(state, tmp_path / "mid.pt")
    with pytest.raises(CheckpointError, match=r"written in the middle of epoch 2 by 2 process\(es\), and "
                                              r"this run has 1; resume with 2"):
        _fit_in_process(tmp_path, 6, 2, resume=tmp_path / "mid.pt")


# ---------------------------------------------------------------------- convgrad train on several processes
def _train(*args, n=None, timeout=180):
    """``convgrad train ARGS`` as a user runs it: under ``mpiexec -n n``, or plain (``--nproc`` then starts
    mpiexec itself); no thread variables, so the command's threads-per-rank default applies."""
    from convgrad.threads import THREAD_ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV_VARS}
    env["PYTHONPATH"] = str(ROOT)
    launcher = [_mpiexec(), "-n", str(n)] if n else []
    cmd = launcher + [sys.executable, "-m", "convgrad", "train", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@needs_mpi
def test_convgrad_train_nproc_then_resumed_under_mpiexec(tmp_path):
    import json

    from convgrad import cli

    run, data = tmp_path / "run", tmp_path / "data"
    common = ["--model", "mnist1d_cnn", "--subset", 256, "--steps-per-epoch", 3, "--scheduler", "step",
              "--seed", 1, "--out", run, "--data-root", data, "--no-progress", "--no-plots"]
    proc = _train("--nproc", 2, "--epochs", 1, *common)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("batch 64 (2 processes x 32)") == 1  # rank 0 alone prints
    assert proc.stdout.count("test accuracy") == 1
    assert sorted(os.listdir(run)) == ["best.pt", "config.json", "last.pt", "metrics.csv", "metrics.json",
                                       "results.json"]
    config = json.loads((run / "config.json").read_text())
    assert config["processes"] == 2 and config["threads"] == 1 and "nproc" not in config
    # the test metrics, summed over the ranks' shards, are one process's on the whole test split
    results = json.loads((run / "results.json").read_text())
    alone = cli.run_evaluate(cli.build_parser().parse_args(
        ["evaluate", str(run / "last.pt"), "--no-progress", "--data-root", str(data)]), log=lambda *a: None)
    assert alone["test_acc"] == results["test_acc"] and np.asarray(alone["confusion_matrix"]).sum() == 1000
    assert alone["test_loss"] == pytest.approx(results["test_loss"], rel=1e-5)

    proc = _train("--epochs", 2, "--resume", *common, n=2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("resuming with the options recorded in last.pt") == 1
    history = json.loads((run / "metrics.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2] and history[1]["step"] == 6


def test_nproc_errors_and_its_command_line(tmp_path, monkeypatch, capsys):
    from convgrad import cli
    from convgrad.cli import mpi

    argv = ["train", "--nproc", "2", "--model", "m", "--np=3", "--npro", "4", "--no-plots"]
    assert mpi._without_nproc(argv) == ["train", "--model", "m", "--no-plots"]
    base = ["train", "--model", "lenet5", "--out", str(tmp_path)]
    monkeypatch.setattr(mpi, "find_mpiexec", lambda: None)
    assert cli.main(base + ["--nproc", "2"]) == 2
    err = capsys.readouterr().err
    assert "--nproc 2: expected MPI's mpiexec beside" in err and "pip install 'convgrad[mpi]'" in err
    assert cli.main(base + ["--nproc", "0"]) == 2
    assert "--nproc: expected a positive number of processes, got 0" in capsys.readouterr().err
    monkeypatch.setenv("PMI_SIZE", "2")
    assert mpi.launched_size() == 2
    assert cli.main(base + ["--nproc", "2"]) == 2
    assert "give either mpiexec -n N or --nproc N, not both" in capsys.readouterr().err


def test_threads_per_rank_share_the_cores(monkeypatch):
    from convgrad.cli import mpi

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert mpi.threads_per_rank(2, 0) == 4 and mpi.threads_per_rank(3, 0) == 2
    assert mpi.threads_per_rank(16, 0) == 1 and mpi.threads_per_rank(2, 1) == 1


# ---------------------------------------------------------------------- failures: timeouts, killed ranks
def test_timeout_settings(monkeypatch):
    import datetime

    monkeypatch.delenv("CONVGRAD_DIST_TIMEOUT", raising=False)
    assert dist._timeout_seconds("op", None) == 1800
    assert dist._timeout_seconds("op", datetime.timedelta(minutes=2)) == 120
    monkeypatch.setenv("CONVGRAD_DIST_TIMEOUT", "7.5")
    assert dist._timeout_seconds("op", None) == 7.5
    monkeypatch.setenv("CONVGRAD_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="init_process_group: expected CONVGRAD_DIST_TIMEOUT to be a "
                                         "positive number of seconds, got 'soon'"):
        dist.init_process_group("mpi")
    with pytest.raises(ValueError, match="init_process_group: expected timeout to be a positive "
                                         r"datetime.timedelta, got 30"):
        dist.init_process_group("mpi", timeout=30)
    assert not dist.is_initialized()


@needs_mpi
def test_a_stuck_rank_ends_the_job_at_the_timeout():
    start = time.monotonic()
    proc = _run(2, WORKER, "rank_stuck", timeout=120)
    assert proc.returncode != 0
    assert "convgrad.distributed: rank 0 of 2: DistributedDataParallel gradient all-reduce: expected the " \
           "collective to complete within the timeout of 0:00:03" in proc.stderr, proc.stderr
    assert time.monotonic() - start < 60  # 3 s after both ranks started, not rank 1's 600 s sleep


@needs_mpi
def test_a_killed_rank_ends_the_job():
    start = time.monotonic()
    proc = _run(2, WORKER, "rank_killed", timeout=120)
    assert proc.returncode != 0
    assert "BAD TERMINATION" in proc.stdout + proc.stderr and "signal 9" in proc.stdout + proc.stderr
    assert time.monotonic() - start < 60
