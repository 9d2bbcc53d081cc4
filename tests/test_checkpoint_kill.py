"""A training process killed with SIGKILL, once in the middle of an epoch and once in the middle of writing
a checkpoint, resumes from its last checkpoint and ends exactly where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import convgrad
from convgrad.training import load_checkpoint
from convgrad.training.checkpoint import _PAUSE_ENV

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cmd(out, data):
    return [sys.executable, "-m", "convgrad", "train", "--model", "mnist1d_cnn", "--dataset", "mnist1d",
            "--subset", "640", "--epochs", "4", "--batch-size", "32", "--lr", "5e-3",
            "--checkpoint-every", "5", "--seed", "3", "--no-progress", "--no-plots",
            "--data-root", str(data), "--out", str(out), "--resume"]


def _env(**extra):
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""), **extra)
    env.pop(_PAUSE_ENV, None)
    env.update(extra)
    return env


def _run(out, data, **env):
    r = subprocess.run(_cmd(out, data), env=_env(**env), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _start(out, data, **env):
    return subprocess.Popen(_cmd(out, data), env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for(cond, proc, what, timeout=120):
    t0 = time.time()
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {proc.stderr.read()[-3000:]}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def _same_result(a, b):
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time"} for r in rows]
    assert strip(json.load(open(a / "metrics.json"))) == strip(json.load(open(b / "metrics.json")))
    ra, rb = json.load(open(a / "results.json")), json.load(open(b / "results.json"))
    for k in ("test_acc", "test_loss", "steps"):
        assert ra[k] == rb[k], k
    ma, mb = load_checkpoint(a / "last.pt")["model"], load_checkpoint(b / "last.pt")["model"]
    for k in ma:
        np.testing.assert_array_equal(ma[k].numpy(), mb[k].numpy(), err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("kill")
    _run(base / "full", base / "data")
    state = load_checkpoint(base / "full" / "last.pt")
    assert state["trainer"]["epoch"] == 4 and state["trainer"]["step"] == 80
    return base


def test_sigkill_mid_epoch_then_resume(reference):
    out = reference / "killed"
    proc = _start(out, reference / "data")
    # the first mid-epoch checkpoint (step 5 of 20 in epoch 1) exists: the process is inside an epoch
    _wait_for(lambda: os.path.exists(out / "last.pt"), proc, "the first checkpoint")
    time.sleep(0.02)
    _kill(proc)
    state = load_checkpoint(out / "last.pt")
    assert state["trainer"]["step"] % 5 == 0 and state["trainer"]["batch_in_epoch"] > 0
    assert not os.path.exists(out / "results.json")
    r = _run(out, reference / "data")
    assert "resumed from" in r.stderr
    _same_result(out, reference / "full")


def test_sigkill_while_writing_checkpoint_then_resume(reference):
    out = reference / "killed_in_write"
    flag = reference / "writing.flag"
    proc = _start(out, reference / "data", **{_PAUSE_ENV: str(flag)})
    # the second checkpoint write (replacing the first) stops half-way through its temporary file
    _wait_for(lambda: os.path.exists(flag), proc, "the paused checkpoint write")
    partial = flag.read_text()
    _kill(proc)
    assert os.path.exists(partial) and os.path.getsize(partial) > 0  # the half-written temporary file
    with pytest.raises(Exception):  # noqa: B017  (whatever the reader raises on a truncated file)
        convgrad.load(partial)
    state = load_checkpoint(out / "last.pt")  # the previous checkpoint, intact
    assert state["trainer"]["step"] == 5 and state["trainer"]["batch_in_epoch"] == 5
    r = _run(out, reference / "data")
    assert "resumed from" in r.stderr
    assert not os.path.exists(partial)  # the next write cleared the leftover
    _same_result(out, reference / "full")
