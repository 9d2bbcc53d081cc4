"""convgrad.training: fit learns, the callbacks, the logs, NaN stops, checkpoints, and resuming a run
(at an epoch boundary and in the middle of an epoch) gives exactly the uninterrupted run."""

import csv
import json
import math
import os

import numpy as np
import pytest

import convgrad
import convgrad.nn.functional as F
from convgrad import nn, optim
from convgrad.training import (
    Callback,
    CheckpointError,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    NonFiniteLossError,
    Trainer,
    accuracy,
    confusion_matrix,
    fit,
    load_checkpoint,
    save_checkpoint,
    topk_correct,
)
from convgrad.utils.data import DataLoader, TensorDataset


def blobs(n=240, seed=0, classes=3):
    """Three Gaussian blobs in 2D: a problem a small MLP solves in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 3], [3, -2], [-3, -2]], np.float32)[:classes]
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.standard_normal((n, 2)).astype(np.float32)
    return TensorDataset(convgrad.from_numpy(x), convgrad.from_numpy(y.astype(np.int64)))


def mlp(dropout=0.0):
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def loaders(seed=0, batch=16):
    gen = convgrad.Generator().manual_seed(seed)
    return (DataLoader(blobs(), batch_size=batch, shuffle=True, generator=gen),
            DataLoader(blobs(90, seed=1), batch_size=32))


def params(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def quiet(**kw):
    return dict(progress=False, verbose=False, **kw)


def test_fit_learns_and_reports_metrics():
    convgrad.manual_seed(0)
    model = mlp()
    train, val = loaders()
    history = fit(model, train, val, epochs=4, optimizer=optim.Adam(model.parameters(), lr=0.02), **quiet())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    last = history[-1]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "time", "step"} <= set(last)
    assert "val_top5" not in last  # 3 classes: top-5 would always be 1
    assert last["val_acc"] > 0.9 and last["train_loss"] < history[0]["train_loss"]
    assert last["step"] == 4 * len(train)


def test_topk_and_confusion_against_numpy(rng):
    logits = rng.standard_normal((50, 10)).astype(np.float32)
    target = rng.integers(0, 10, 50)
    order = np.argsort(-logits, 1)
    for k in (1, 3, 5):
        expected = int((order[:, :k] == target[:, None]).any(1).sum())
        assert topk_correct(logits, target, (k,))[k] == expected
    assert accuracy(convgrad.tensor(logits), convgrad.tensor(target)) == pytest.approx(
        (logits.argmax(1) == target).mean())
    cm = confusion_matrix(logits.argmax(1), target, 10)
    assert cm.sum() == 50 and np.trace(cm) == (logits.argmax(1) == target).sum()
    assert cm[target[0], logits[0].argmax()] >= 1


class _Inject(Callback):
    """Puts a made-up metric into each epoch's logs, and snapshots the weights of every epoch."""

    order = -1

    def __init__(self, values):
        self.values, self.snapshots = values, []

    def on_epoch_end(self, trainer, epoch, logs):
        logs["fake"] = self.values[epoch]
        self.snapshots.append(params(trainer.model))


def test_early_stopping_stops_and_restores_best_weights():
    convgrad.manual_seed(0)
    model = mlp()
    train, _ = loaders()
    inject = _Inject([1.0, 0.5, 0.6, 0.7, 0.4, 0.3])
    stop = EarlyStopping(monitor="fake", patience=2, verbose=False)
    history = fit(model, train, epochs=6, optimizer=optim.SGD(model.parameters(), lr=0.05),
                  callbacks=[inject, stop], **quiet())
    assert len(history) == 4 and stop.stopped_epoch == 4 and stop.best_epoch == 2
    for k, v in params(model).items():
        np.testing.assert_array_equal(v, inject.snapshots[1][k])


def test_early_stopping_min_delta_and_mode():
    stop = EarlyStopping(monitor="val_acc", patience=1, min_delta=0.01, verbose=False,
                         restore_best_weights=False)
    assert stop.mode == "max"

    class T:
        stop_training = False
        model = None

    t = T()
    stop.on_epoch_end(t, 0, {"val_acc": 0.5})
    stop.on_epoch_end(t, 1, {"val_acc": 0.505})  # not better by more than min_delta
    assert t.stop_training
    with pytest.raises(KeyError, match="val_loss.*val_loader"):
        EarlyStopping(verbose=False).on_epoch_end(t, 0, {"train_loss": 1.0})


def test_nan_loss_raises_naming_the_step_and_keeps_checkpoint(tmp_path):
    convgrad.manual_seed(0)
    model = mlp()
    train, _ = loaders()
    calls = [0]

    def loss_fn(out, y):
        calls[0] += 1
        loss = F.cross_entropy(out, y)
        return loss * float("nan") if calls[0] == 23 else loss

    with pytest.raises(NonFiniteLossError, match=r"step 23 \(epoch 2, batch 8\)") as err:
        fit(model, train, epochs=3, optimizer=optim.SGD(model.parameters(), lr=0.05), loss_fn=loss_fn,
            out_dir=tmp_path, checkpoint_every_n_steps=5, **quiet())
    assert err.value.step == 23 and "last.pt" in str(err.value)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["trainer"]["step"] == 20
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())  # not stepped with NaN


def test_logs_and_checkpoints_in_out_dir(tmp_path):
    convgrad.manual_seed(0)
    model = mlp()
    train, val = loaders()
    fit(model, train, val, epochs=3, optimizer=optim.Adam(model.parameters(), lr=0.01), out_dir=tmp_path,
        **quiet())
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_acc", "lr"} <= set(rows[0])
    data = json.load(open(tmp_path / "metrics.json"))
    assert len(data) == 3 and data[2]["val_acc"] == pytest.approx(float(rows[2]["val_acc"]), rel=1e-5)
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["trainer"]["history"][-1]["val_acc"] == max(r["val_acc"] for r in data)
    # explicit loggers elsewhere
    other = tmp_path / "other"
    fit(mlp(), train, epochs=1, callbacks=[CSVLogger(other / "m.csv"), JSONLogger(other / "m.json")],
        **quiet())
    assert os.path.exists(other / "m.csv") and json.load(open(other / "m.json"))[0]["epoch"] == 1


def test_scheduler_per_step_and_per_epoch_and_plateau():
    from convgrad.optim import lr_scheduler

    convgrad.manual_seed(0)
    train, val = loaders()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=len(train))
    trainer = Trainer(model, opt, scheduler=sched, **quiet())
    trainer.fit(train, epochs=2)
    assert sched.last_epoch == 2 * len(train)  # stepped once per batch

    opt = optim.SGD(model.parameters(), lr=0.1)
    step = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(model, train, epochs=3, optimizer=opt, scheduler=step, **quiet())
    assert [h["lr"] for h in history] == pytest.approx([0.1, 0.05, 0.025])

    # mode 'max' on a falling val_loss: after the first epoch no improvement, so the rate is cut
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0)
    history = fit(model, train, val, epochs=3, optimizer=opt, callbacks=[LRSchedulerCallback(plateau)],
                  **quiet())
    assert [h["lr"] for h in history] == pytest.approx([0.1, 0.1, 0.05])
    assert history[1]["val_loss"] < history[0]["val_loss"]


def test_plateau_scheduler_given_to_fit_watches_val_loss():
    from convgrad.optim import lr_scheduler

    convgrad.manual_seed(0)
    train, val = loaders()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.05)
    plateau = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)  # mode 'min'
    history = fit(model, train, val, epochs=3, optimizer=opt, scheduler=plateau, **quiet())
    assert history[2]["val_loss"] < history[1]["val_loss"] < history[0]["val_loss"]
    assert opt.param_groups[0]["lr"] == 0.05  # the loss kept falling: no cut


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    """Stands in for a kill: raises after the checkpoint of step ``step`` was written (mid-epoch, or at
    the start of the next epoch when ``step`` ends one)."""

    order = 1000

    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, batch_idx, logs):
        if trainer.step == self.step and not trainer.epoch_done:
            raise _Crash()

    def on_epoch_begin(self, trainer, epoch):
        if trainer.step == self.step:
            raise _Crash()


def _run(tmp_path, epochs=3, crash_at=None, resume=None, every=None):
    convgrad.manual_seed(123)
    model = mlp(dropout=0.3)  # dropout: the resumed run must also replay the random masks
    train, val = loaders(seed=7)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    # stepped every batch: a resumed run must restore it mid-epoch too
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=3, steps_per_epoch=len(train))
    callbacks = [EarlyStopping("val_loss", patience=10, verbose=False)]
    if crash_at:
        callbacks.append(_CrashAt(crash_at))
    trainer = Trainer(model, opt, scheduler=sched, callbacks=callbacks, out_dir=tmp_path, seed=5,
                      checkpoint_every_n_steps=every, **quiet())
    trainer.fit(train, val, epochs=epochs, resume=resume)
    return trainer


@pytest.mark.parametrize("crash_at", [7, 30])  # mid-epoch (15 batches an epoch), and at an epoch's end
def test_resume_equals_uninterrupted_run(tmp_path, crash_at):
    full = _run(tmp_path / "full")
    with pytest.raises(_Crash):
        _run(tmp_path / "cut", crash_at=crash_at, every=7 if crash_at == 7 else None)
    state = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert state["trainer"]["step"] == crash_at
    resumed = _run(tmp_path / "cut", resume=tmp_path / "cut" / "last.pt")
    assert resumed.step == full.step
    for k, v in params(full.model).items():
        np.testing.assert_array_equal(params(resumed.model)[k], v, err_msg=k)
    strip = lambda h: [{k: v for k, v in row.items() if k != "time"} for row in h]
    assert strip(resumed.history) == strip(full.history)
    assert strip(json.load(open(tmp_path / "cut" / "metrics.json"))) == strip(full.history)


def test_resume_true_starts_fresh_without_checkpoint(tmp_path):
    trainer = _run(tmp_path, epochs=1, resume=True)
    assert trainer.epoch == 1
    again = _run(tmp_path, epochs=2, resume=True)  # continues the first run
    assert again.epoch == 2 and len(again.history) == 2


def test_not_a_checkpoint_gives_clear_errors(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a convgrad checkpoint"):
        load_checkpoint(junk)
    sd = tmp_path / "weights.pt"
    convgrad.save(mlp().state_dict(), sd)
    with pytest.raises(CheckpointError, match="not a training checkpoint.*load_state_dict"):
        load_checkpoint(sd)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="not a convgrad checkpoint"):
        fit(mlp(), loaders()[0], epochs=1, resume=junk, **quiet())


def test_checkpoint_of_other_model_is_a_clear_error(tmp_path):
    _run(tmp_path, epochs=1)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(CheckpointError, match="does not match"):
        fit(model, loaders()[0], epochs=2, resume=tmp_path / "last.pt", **quiet())


def test_checkpoint_write_keeps_old_file_when_it_fails(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint({"a": convgrad.ones(3)}, path)
    before = path.read_bytes()

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"a": convgrad.zeros(3)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left


def test_model_checkpoint_every_n_steps(tmp_path):
    saved = []

    class Spy(ModelCheckpoint):
        def on_train_batch_end(self, trainer, batch_idx, logs):
            before = trainer.last_checkpoint
            trainer.last_checkpoint = None
            super().on_train_batch_end(trainer, batch_idx, logs)
            if trainer.last_checkpoint:
                saved.append(trainer.step)
            else:
                trainer.last_checkpoint = before

    model = mlp()
    train, _ = loaders()
    fit(model, train, epochs=2, callbacks=[Spy(tmp_path, monitor=None, every_n_steps=4)], **quiet())
    assert saved == [4, 8, 12, 16, 20, 24, 28]  # step 15/30 end an epoch: the epoch-end save covers them
    assert load_checkpoint(tmp_path / "last.pt")["trainer"]["epoch"] == 2
    assert not os.path.exists(tmp_path / "best.pt")


def test_plain_pytorch_style_loop_still_works():
    convgrad.manual_seed(0)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train, _ = loaders()
    first = last = None
    for _ in range(3):
        model.train()
        total = 0.0
        for x, y in train:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item()
        first = total if first is None else first
        last = total
    assert last < first and math.isfinite(last)


def test_bad_batch_is_a_clear_error():
    with pytest.raises(TypeError, match=r"pair \(inputs, targets\)"):
        fit(mlp(), [convgrad.zeros(4, 2)], epochs=1, **quiet())


def test_a_wrapped_model_checkpoints_and_resumes_as_the_plain_model(tmp_path):
    convgrad.manual_seed(0)
    model = mlp()
    wrapped = nn.DataParallel(model)
    trainer = Trainer(wrapped, optim.SGD(wrapped.parameters(), lr=0.1), **quiet())
    assert trainer.unwrapped_model is model
    trainer.fit(loaders()[0], epochs=1)
    trainer.save_checkpoint(tmp_path / "last.pt")
    state = load_checkpoint(tmp_path / "last.pt")["model"]
    assert set(state) == set(model.state_dict())  # no "module." prefix: it loads into the plain model
    plain = mlp()
    Trainer(plain, optim.SGD(plain.parameters(), lr=0.1), **quiet()).load_state_dict(
        load_checkpoint(tmp_path / "last.pt"))
    assert all(np.array_equal(a, params(model)[k]) for k, a in params(plain).items())
