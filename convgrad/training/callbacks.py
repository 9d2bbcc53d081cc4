"""Callbacks: code the :class:`~convgrad.training.Trainer` runs at fixed points of training.

Every hook receives the trainer (its ``model``, ``optimizer``, ``epoch``, ``step``, ``history`` and a
``stop_training`` flag a callback may set). Hooks run in the order of each callback's ``order`` (lower
first), so that, at the end of an epoch, the scheduler has stepped and early stopping has decided before a
checkpoint records their states. ``state_dict``/``load_state_dict`` carry a callback's state through a
checkpoint, so a resumed run behaves as the uninterrupted one.
"""

import csv
import io
import json
import math
import os
import warnings

from convgrad.training.checkpoint import _epoch_of, atomic_write_bytes, atomic_write_text


class Callback:
    order = 0

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_before_backward(self, trainer, loss_value):
        pass

    def on_train_batch_end(self, trainer, batch_idx, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def _mode_for(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if any(s in monitor for s in ("acc", "top")) else "min"
    return mode


def _metric(logs, monitor, who):
    if monitor not in logs:
        known = ", ".join(k for k in logs if k not in ("epoch",))
        hint = " (validation metrics need a val_loader)" if monitor.startswith("val_") else ""
        raise KeyError(f"{who}: no metric '{monitor}' in this epoch's logs{hint}; known: {known}")
    return float(logs[monitor])


class _Best:
    """Tracks the best value of a metric: an improvement beats the best by more than ``min_delta``."""

    def __init__(self, mode, min_delta=0.0):
        self.mode, self.min_delta = mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def improved(self, value):
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class StopOnNaN(Callback):
    """Stop at the first loss that is NaN or infinite, before it reaches the weights: raises
    :class:`NonFiniteLossError` naming the step. Checkpoints written earlier are left as they are."""

    order = -100

    def on_before_backward(self, trainer, loss_value):
        if not math.isfinite(loss_value):
            ckpt = ""
            last = getattr(trainer, "last_checkpoint", None)
            if last:
                ckpt = f"; the last checkpoint, {last}, is intact"
            raise NonFiniteLossError(
                f"loss is {loss_value} at step {trainer.step + 1} (epoch {trainer.epoch + 1}, "
                f"batch {trainer.batch_in_epoch + 1}); training stopped before this step changed the weights"
                f"{ckpt}. Try a lower learning rate.",
                step=trainer.step + 1,
            )


class NonFiniteLossError(FloatingPointError):
    def __init__(self, message, step=None):
        super().__init__(message)
        self.step = step


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` 'min', 'max' or 'auto' (max for accuracies, min otherwise). With ``restore_best_weights``
    the model ends with the weights of its best epoch."""

    order = 0

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto", restore_best_weights=True,
                 verbose=True):
        self.monitor, self.patience = monitor, int(patience)
        self.mode = _mode_for(monitor, mode)
        self.tracker = _Best(self.mode, min_delta)
        self.restore_best_weights, self.verbose = restore_best_weights, verbose
        self.wait = 0
        self.best_epoch = None
        self.stopped_epoch = None
        self.best_weights = None

    @property
    def best(self):
        return self.tracker.best

    def on_epoch_end(self, trainer, epoch, logs):
        value = _metric(logs, self.monitor, "EarlyStopping")
        if self.tracker.improved(value):
            self.tracker.best = value
            self.best_epoch = epoch + 1
            self.wait = 0
            if self.restore_best_weights:
                model = getattr(trainer, "unwrapped_model", trainer.model)
                self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch + 1
                trainer.stop_training = True
                if self.verbose:
                    trainer.print(f"early stopping after epoch {epoch + 1}: {self.monitor} has not improved "
                                  f"for {self.wait} epochs (best {self.best:.4f} at epoch {self.best_epoch})")

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None and self.best_epoch != trainer.epoch:
            getattr(trainer, "unwrapped_model", trainer.model).load_state_dict(self.best_weights)
            if self.verbose:
                trainer.print(f"restored the weights of epoch {self.best_epoch} "
                              f"({self.monitor} {self.best:.4f})")

    def state_dict(self):
        state = {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch,
                 "stopped_epoch": self.stopped_epoch}
        if self.best_weights is not None:
            state["best_weights"] = self.best_weights
        return state

    def load_state_dict(self, state):
        self.tracker.best = float(state["best"])
        self.wait = int(state["wait"])
        self.best_epoch = state.get("best_epoch")
        self.stopped_epoch = state.get("stopped_epoch")
        self.best_weights = state.get("best_weights")


class ModelCheckpoint(Callback):
    """Write training checkpoints into ``dirpath``: ``last.pt`` every ``every_n_epochs`` epochs and, with
    ``every_n_steps``, every that many optimiser steps (mid-epoch too); ``best.pt`` whenever ``monitor``
    improves. Each write is atomic: a kill at any moment leaves the previous file intact. Either file
    resumes training (``fit(..., resume=path)``).

    At an improving epoch ``last.pt`` is written first and records the best epoch; a kill before
    ``best.pt`` follows is repaired when the run resumes (``best.pt`` becomes a copy of the checkpoint the
    run resumed from, which is that epoch's), and :func:`~convgrad.training.checkpoint.best_checkpoint`
    finds the right file meanwhile."""

    order = 100

    def __init__(self, dirpath, monitor="val_acc", mode="auto", save_last=True, save_best=True,
                 every_n_epochs=1, every_n_steps=None, last_name="last.pt", best_name="best.pt"):
        self.dirpath = os.fspath(dirpath)
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode) if monitor else None
        self.tracker = _Best(self.mode) if monitor else None
        self.save_last, self.save_best = save_last, save_best and bool(monitor)
        self.every_n_epochs, self.every_n_steps = every_n_epochs, every_n_steps
        self.last_path = os.path.join(self.dirpath, last_name)
        self.best_path = os.path.join(self.dirpath, best_name)
        self.best_epoch = None

    def on_train_begin(self, trainer):
        source = getattr(trainer, "last_checkpoint", None)
        if not getattr(trainer, "is_global_zero", True):
            return  # rank 0 repairs the file; the other ranks never read best.pt
        if not (self.save_best and self.best_epoch is not None and source and os.path.isfile(source)):
            return
        if (trainer.epoch, trainer.batch_in_epoch) != (self.best_epoch, 0):
            return
        current = _epoch_of(self.best_path)
        if current is None or current < self.best_epoch:
            # killed after last.pt recorded this best epoch, before best.pt was written: the checkpoint
            # this run resumed from holds exactly that epoch's state
            with open(source, "rb") as f:
                data = f.read()
            if os.path.abspath(source) != os.path.abspath(self.best_path):
                atomic_write_bytes(self.best_path, data)
                trainer.print(f"repaired {self.best_path}: it now holds epoch {self.best_epoch}, "
                              f"the best one (a kill had interrupted its write)")

    def on_train_batch_end(self, trainer, batch_idx, logs):
        if self.every_n_steps and trainer.step % self.every_n_steps == 0 and not trainer.epoch_done:
            trainer.save_checkpoint(self.last_path)

    def on_epoch_end(self, trainer, epoch, logs):
        is_best = False
        if self.save_best and self.monitor in logs:
            value = float(logs[self.monitor])
            if self.tracker.improved(value):
                self.tracker.best, self.best_epoch, is_best = value, epoch + 1, True
        periodic = self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0
        if self.save_last and (periodic or trainer.stop_training or epoch + 1 == trainer.epochs):
            trainer.save_checkpoint(self.last_path)
        if is_best:
            trainer.save_checkpoint(self.best_path)

    def state_dict(self):
        return {"best": self.tracker.best if self.tracker else None, "best_epoch": self.best_epoch}

    def load_state_dict(self, state):
        if self.tracker is not None and state.get("best") is not None:
            self.tracker.best = float(state["best"])
        self.best_epoch = state.get("best_epoch")


def _is_plateau(scheduler):
    return type(scheduler).__name__ == "ReduceLROnPlateau"


def _per_step(scheduler):
    """Schedulers whose period is counted in optimiser steps rather than epochs."""
    return type(scheduler).__name__ in ("OneCycleLR", "CyclicLR")


class LRSchedulerCallback(Callback):
    """Step ``scheduler`` after every epoch (``interval='epoch'``) or every optimiser step
    (``interval='step'``); 'auto' picks per step for OneCycleLR/CyclicLR. A ReduceLROnPlateau scheduler is
    stepped each epoch with the metric ``monitor``."""

    order = -50

    def __init__(self, scheduler, interval="auto", monitor="val_loss"):
        if interval not in ("auto", "epoch", "step"):
            raise ValueError(f"LRSchedulerCallback: interval must be 'auto', 'epoch' or 'step', "
                             f"got {interval!r}")
        if interval == "auto":
            interval = "step" if _per_step(scheduler) else "epoch"
        if interval == "step" and _is_plateau(scheduler):
            raise ValueError("LRSchedulerCallback: ReduceLROnPlateau steps once per epoch on a metric")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor

    def on_train_begin(self, trainer):
        total = getattr(self.scheduler, "total_steps", None)
        n = trainer._n_batches(trainer.train_loader)
        if self.interval == "step" and total is not None and n is not None and trainer.epochs * n > total:
            raise ValueError(
                f"{type(self.scheduler).__name__} was built for {total} steps but this run takes "
                f"{trainer.epochs} epochs x {n} batches = {trainer.epochs * n}; build it with "
                f"epochs={trainer.epochs}, steps_per_epoch={n} (a resumed run cannot extend its schedule)")

    def on_train_batch_end(self, trainer, batch_idx, logs):
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer, epoch, logs):
        if self.interval != "epoch":
            return
        if _is_plateau(self.scheduler):
            monitor = self.monitor if self.monitor in logs else "train_loss"
            self.scheduler.step(_metric(logs, monitor, "ReduceLROnPlateau"))
        else:
            self.scheduler.step()

    def state_dict(self):
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state):
        self.scheduler.load_state_dict(state["scheduler"])


def _rows(history):
    keys = []
    for row in history:
        keys += [k for k in row if k not in keys]
    return keys


class _HistoryLogger(Callback):
    """Rewrites the file at ``path`` from the whole history after every epoch (atomically, so a resumed
    run's file holds exactly its epochs); subclasses choose the format in ``write``."""

    order = 50

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_epoch_end(self, trainer, epoch, logs):
        if getattr(trainer, "is_global_zero", True):  # under DDP, rank 0 alone writes
            self.write(trainer.history)

    def write(self, history):
        raise NotImplementedError


class CSVLogger(_HistoryLogger):
    """The metrics of every epoch as a CSV table, one row per epoch, rewritten atomically each epoch (so a
    resumed run's file holds exactly its epochs)."""

    def write(self, history):
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=_rows(history), lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        atomic_write_text(self.path, buf.getvalue())


class JSONLogger(_HistoryLogger):
    """The metrics of every epoch as a JSON list of objects, rewritten atomically each epoch."""

    def write(self, history):
        atomic_write_text(self.path, json.dumps(history, indent=1) + "\n")


def sort_callbacks(callbacks):
    for cb in callbacks:
        if not isinstance(cb, Callback):
            warnings.warn(f"{type(cb).__name__} does not subclass convgrad.training.Callback; "
                          "missing hooks are skipped", stacklevel=3)
    return sorted(callbacks, key=lambda cb: getattr(cb, "order", 0))
