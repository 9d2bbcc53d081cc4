"""Kill anywhere: SIGKILL ``convgrad.save`` and a training run's checkpoint set (last.pt, best.pt and the
metric logs) at every stage of every write (the temporary file created, half written, fully written,
renamed into place), then check what a user finds: a file that loads, no temporary files once the next
write has run, ``best_checkpoint`` (what ``convgrad evaluate RUN/`` reads) holding the best epoch, and a
resumed run that ends bit for bit as the uninterrupted one.

The kill lands at an exact moment through the write-pause hook (``convgrad.serialization.PAUSE_ENV``);
the default run covers the moments that matter most, ``CONVGRAD_SLOW=1`` every stage of every file.
"""

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
from tests.conftest import SLOW

PAUSE_ENV = "CONVGRAD_TEST_PAUSE_IN_WRITE"  # convgrad.serialization.PAUSE_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ("created", "half", "written", "replaced")


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    env.pop(PAUSE_ENV, None)
    env.update(extra)
    return env


def _kill_when_paused(cmd, flag, env, timeout=120):
    """Start ``cmd``, wait for the hook's flag file, SIGKILL the process; returns the temporary file's name
    the writer had when it was killed."""
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not os.path.exists(flag):
        if proc.poll() is not None:
            raise AssertionError(f"the writer ended before pausing:\n{proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the writer never reached the pause")
        time.sleep(0.02)
    time.sleep(0.05)  # the flag is written just before the sleep
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    tmp = open(flag).read()
    os.remove(flag)
    return tmp


# ---------------------------------------------------------------------------------------------- convgrad.save
_SAVE = """
import sys
import convgrad
i = int(sys.argv[2])
w, b = convgrad.full((1 << 18,), float(i)), convgrad.full((10,), float(i))
convgrad.save({"i": i, "w": w, "b": b}, sys.argv[1])
"""


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("exists", [False, True])
def test_kill_save_at_every_stage(tmp_path, stage, exists):
    path = tmp_path / "model.pt"
    if exists:
        convgrad.save({"i": 1, "w": convgrad.full((1 << 18,), 1.0), "b": convgrad.full((10,), 1.0)}, path)
    flag = tmp_path / "paused"
    tmp = _kill_when_paused([sys.executable, "-c", _SAVE, str(path), "2"], flag,
                            _env(**{PAUSE_ENV: f"{stage}:model.pt:1:{flag}"}))
    if stage == "replaced":
        expected = 2
    else:
        expected = 1 if exists else None
        assert os.path.exists(tmp)  # what a killed writer leaves
    if expected is None:
        assert not path.exists()
    else:
        ckpt = convgrad.load(path)
        assert ckpt["i"] == expected
        assert np.all(ckpt["w"]._data == expected) and np.all(ckpt["b"]._data == expected)
    # the next save clears the dead writer's temporary file
    convgrad.save({"i": 3}, path)
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]
    assert convgrad.load(path) == {"i": 3}


_SAVE_LOOP = """
import sys
import convgrad
path = sys.argv[1]
i = 0
while True:
    i += 1
    w, b = convgrad.full((1 << 20,), float(i)), convgrad.full((1000,), float(i))
    convgrad.save({"i": i, "w": w, "b": b}, path)
    print(i, flush=True)
"""


def test_kill_save_at_random_moments(tmp_path):
    """SIGKILL a process saving in a loop at random moments (after its first save has completed): the file
    always loads whole, one write's parts together, and temporary files never pile up."""
    path = tmp_path / "ckpt.pt"
    rng = np.random.default_rng(0)
    for _ in range(12 if SLOW else 3):
        proc = subprocess.Popen([sys.executable, "-c", _SAVE_LOOP, str(path)], stdout=subprocess.PIPE,
                                env=_env(), cwd=ROOT)
        assert proc.stdout.readline().strip() == b"1"
        time.sleep(float(rng.uniform(0.0, 0.3)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        ckpt = convgrad.load(path)
        i = ckpt["i"]
        assert i >= 1 and np.all(ckpt["w"]._data == i) and np.all(ckpt["b"]._data == i)
        assert len(os.listdir(tmp_path)) <= 2  # the file and at most the one killed writer's temporary
    convgrad.save({"i": 0}, path)
    assert os.listdir(tmp_path) == ["ckpt.pt"]


# ------------------------------------------------------------------------------------------- checkpoint set
_TRAIN = """
import sys
import convgrad
from convgrad import nn, optim
from convgrad.training import ModelCheckpoint, Trainer
from convgrad.utils.data import DataLoader, TensorDataset

out = sys.argv[1]
convgrad.manual_seed(0)
x, y = convgrad.randn(48, 4), convgrad.randint(0, 3, (48,))
model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
opt = optim.Adam(model.parameters(), lr=0.05)
gen = convgrad.Generator().manual_seed(0)
loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=gen)
# monitor the epoch number: every epoch is a new best, so every epoch writes last.pt then best.pt
best_every_epoch = ModelCheckpoint(out, monitor="epoch", mode="max")
trainer = Trainer(model, opt, scheduler=optim.lr_scheduler.StepLR(opt, 1, 0.5), out_dir=out, seed=0,
                  progress=False, verbose=False, callbacks=[best_every_epoch])
trainer.fit(loader, loader, epochs=3, resume=True)
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    subprocess.run([sys.executable, "-c", _TRAIN, str(out)], env=_env(), cwd=ROOT, check=True)
    return out


def _weights(path):
    return {k: v._data for k, v in load_checkpoint(path)["model"].items()}


def _kill_points():
    names = ("last.pt", "best.pt", "metrics.csv", "metrics.json")
    if SLOW:
        return [(n, s, k) for n in names for s in STAGES for k in (1, 2)]
    return [("best.pt", "created", 2), ("last.pt", "half", 2), ("best.pt", "replaced", 1),
            ("metrics.json", "written", 2)]


@pytest.mark.parametrize("name, stage, k", _kill_points())
def test_kill_the_checkpoint_set_anywhere(tmp_path, reference, name, stage, k):
    from convgrad.training import best_checkpoint

    out = tmp_path / "run"
    flag = tmp_path / "paused"
    _kill_when_paused([sys.executable, "-c", _TRAIN, str(out)], flag,
                      _env(**{PAUSE_ENV: f"{stage}:{name}:{k}:{flag}"}))
    last = out / "last.pt"
    if last.exists():
        state = load_checkpoint(last)
        recorded = state["callbacks"]["ModelCheckpoint"]["best_epoch"]
        chosen = best_checkpoint(str(out))  # what `convgrad evaluate RUN/` reads
        chosen_state = load_checkpoint(chosen)
        assert chosen_state["trainer"]["epoch"] == recorded, (chosen, recorded)
        assert chosen_state["trainer"]["batch_in_epoch"] == 0
        best = out / "best.pt"
        if best.exists():
            load_checkpoint(best)  # never half a file
    # resume to the end: the same files as the uninterrupted run, and no temporary files left
    subprocess.run([sys.executable, "-c", _TRAIN, str(out)], env=_env(), cwd=ROOT, check=True)
    assert sorted(os.listdir(out)) == sorted(os.listdir(reference))
    for f in ("last.pt", "best.pt"):
        ours, theirs = _weights(out / f), _weights(reference / f)
        assert ours.keys() == theirs.keys()
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=f"{f}: {key}")
        assert load_checkpoint(out / f)["trainer"]["epoch"] == 3
    assert json.load(open(out / "metrics.json")) == _without_time(json.load(open(reference / "metrics.json")),
                                                                  json.load(open(out / "metrics.json")))


def _without_time(ref, ours):
    """The reference history with the wall times of ``ours`` (the only values allowed to differ)."""
    return [dict(r, time=o["time"]) for r, o in zip(ref, ours)]


# ---------------------------------------------------------------------------------------------- evaluate RUN/
def test_evaluate_run_folder_reads_the_best_epoch_after_a_kill(tmp_path, capsys):
    """The state a kill between last.pt and best.pt of an improving epoch leaves: `convgrad evaluate RUN/`
    evaluates last.pt (the best epoch), not the stale best.pt."""
    from convgrad import cli
    from convgrad.training.checkpoint import save_checkpoint

    out = tmp_path / "run"
    base = ["train", "--model", "mnist1d_cnn", "--subset", "300", "--scheduler", "none", "--out", str(out),
            "--no-progress", "--no-plots", "--data-root", str(tmp_path / "data")]
    assert cli.main(base + ["--epochs", "1"]) == 0
    stale = (out / "best.pt").read_bytes()  # epoch 1
    assert cli.main(base + ["--epochs", "2", "--resume"]) == 0
    state = load_checkpoint(out / "last.pt")  # epoch 2, recorded as the best (as an improving epoch is)
    state["callbacks"]["ModelCheckpoint"]["best_epoch"] = 2
    save_checkpoint(state, out / "last.pt")
    (out / "best.pt").write_bytes(stale)
    capsys.readouterr()

    def evaluate(path):
        args = cli.build_parser().parse_args(["evaluate", str(path), "--no-progress", "--data-root",
                                              str(tmp_path / "data")])
        return cli.run_evaluate(args, log=lambda m: None)["test_loss"]

    assert evaluate(out) == evaluate(out / "last.pt") != evaluate(out / "best.pt")
