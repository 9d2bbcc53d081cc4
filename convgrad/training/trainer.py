"""The training loop, written once: :class:`Trainer` and :func:`fit`.

One epoch is: for each batch, ``zero_grad``, forward, loss, ``backward``, ``step`` (the loop a PyTorch user
writes by hand), with a progress bar showing the running loss and accuracy and the time left; then
validation (loss, top-1 and top-5 accuracy) and the callbacks (scheduler, early stopping, checkpoints,
logs). ``resume=`` a checkpoint continues a run exactly: model, optimiser, scheduler, epoch and step,
the position inside an interrupted epoch (the batches already done are skipped) and the random number
generators, so that a resumed run under a seed computes the same numbers as an uninterrupted one.

Under DistributedDataParallel (``convgrad.distributed`` initialised in every rank of an ``mpiexec`` job),
the same loop runs in every rank: rank 0 alone prints and writes files (checkpoints, metrics), the others
wait for it at a barrier; the logged metrics are sums over the ranks (see
:mod:`convgrad.training.distributed`); checkpoints hold the plain model and global counters, so a run
resumes in any number of processes (at the end of an epoch; mid-epoch only in as many as wrote it).
"""

import os
import sys
import time
import warnings

import numpy as np

import convgrad
from convgrad.nn.parallel import DistributedDataParallel
from convgrad.training import distributed as ranks
from convgrad.training.callbacks import (
    Callback,
    CSVLogger,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    StopOnNaN,
    sort_callbacks,
)
from convgrad.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from convgrad.training.metrics import RunningMetrics, _array

try:
    from tqdm.auto import tqdm
except ImportError:  # the progress bar is optional
    tqdm = None


def _default_loss():
    import convgrad.nn.functional as F

    return F.cross_entropy


def _split_batch(batch):
    """(inputs, targets) of a batch; NumPy arrays become tensors."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        x, y = batch
    else:
        raise TypeError(
            f"Trainer: expected every batch to be a pair (inputs, targets), got {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    if isinstance(x, np.ndarray):
        x = convgrad.as_tensor(x)
    if isinstance(y, np.ndarray):
        y = convgrad.as_tensor(y)
    return x, y


def _rng_state(loader):
    """The random states that decide what comes next: convgrad's global generator and the loader's own."""
    state = {"global": convgrad.random.get_rng_state()}
    gen = getattr(loader, "generator", None)
    if gen is not None and hasattr(gen, "get_state"):
        state["loader"] = gen.get_state()
    return state


def _set_rng_state(loader, state, rank=0):
    convgrad.random.set_rng_state(state["global"])
    gen = getattr(loader, "generator", None)
    if "loader" in state and gen is not None:
        gen.set_state(state["loader"])
    ranks.split_stream(rank)  # the checkpoint holds rank 0's states


def _same_kind(ours, theirs):
    """Whether a loaded hyper-parameter can stand where ours stands (a number for a number, ...)."""
    if ours is None:
        return True  # optional values: their users check them
    if isinstance(ours, bool):
        return isinstance(theirs, bool)
    if isinstance(ours, (int, float)):
        return isinstance(theirs, (int, float)) and not isinstance(theirs, bool)
    if isinstance(ours, (tuple, list)):
        return isinstance(theirs, (tuple, list)) and len(theirs) == len(ours) and \
            all(_same_kind(a, b) for a, b in zip(ours, theirs))
    return True


def _check_like(ours, theirs, where, bad, exact_keys=False):
    """``theirs`` (from a checkpoint) has the kinds of ``ours``: dicts hold like values under the keys
    they share (all of ours with ``exact_keys``), arrays and tensors have our shapes, numbers are numbers."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            raise bad(f"{where} to be a dict", theirs)
        if exact_keys and set(ours) != set(theirs):
            raise bad(f"{where} to have the entries {sorted(map(str, ours))}", sorted(map(str, theirs)))
        for k in ours:
            if k in theirs:
                _check_like(ours[k], theirs[k], f"{where}.{k}", bad, exact_keys)
        return
    if isinstance(ours, (convgrad.Tensor, np.ndarray)):
        shape, kind = tuple(ours.shape), np.dtype(ours.dtype).kind
        array = theirs._data if isinstance(theirs, convgrad.Tensor) else theirs
        if not isinstance(theirs, (convgrad.Tensor, np.ndarray, int, float)) or isinstance(theirs, bool) or \
                (shape and tuple(np.shape(array)) != shape) or \
                np.asarray(array).dtype.kind not in (kind + "iu" if kind == "f" else kind):
            raise bad(f"{where} to be a tensor of shape {shape} and dtype {ours.dtype}", theirs)
        return
    if not _same_kind(ours, theirs):
        raise bad(f"{where} of the kind of {ours!r}", theirs)


def _callback_keys(callbacks):
    seen, keys = {}, []
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return keys


def _fmt(logs):
    parts = []
    for k, v in logs.items():
        if k in ("epoch", "step"):
            continue
        if k == "time":
            parts.append(f"{v:.1f}s")
        elif k == "lr":
            parts.append(f"lr {v:.3g}")
        elif "acc" in k or "top" in k:
            parts.append(f"{k} {100 * v:.2f}%")
        else:
            parts.append(f"{k} {v:.4f}")
    return "  ".join(parts)


class Trainer:
    """Trains ``model`` with ``optimizer`` on ``loss_fn(model(inputs), targets)``.

    Args:
        model: a ``convgrad.nn.Module``.
        optimizer: a ``convgrad.optim`` optimiser (default ``Adam(model.parameters(), lr=1e-3)``).
        loss_fn: ``loss_fn(output, target)`` -> scalar tensor (default ``F.cross_entropy``).
        scheduler: a learning-rate scheduler, stepped per epoch, or per step for OneCycleLR/CyclicLR
            (``scheduler_interval`` overrides); ReduceLROnPlateau is stepped with ``val_loss`` (``train_loss``
            without validation; ``LRSchedulerCallback(scheduler, monitor=...)`` for another metric).
        callbacks: :class:`Callback` objects (``StopOnNaN`` is added unless ``check_nan=False``).
        out_dir: a run folder; adds ``ModelCheckpoint`` (last.pt, best.pt), ``CSVLogger`` (metrics.csv)
            and ``JSONLogger`` (metrics.json) unless callbacks of these types are given.
        seed: ``convgrad.manual_seed(seed)`` at the start of a new (not resumed) run.
        monitor: the metric that decides the best checkpoint (default ``val_acc``).
        checkpoint_every_n_steps: with ``out_dir``, also checkpoint every that many steps, mid-epoch.
        steps_per_epoch: use at most that many batches of each epoch.
        progress: show a tqdm progress bar and a line per epoch; ``verbose=False`` prints nothing.
        config: a JSON-able dict stored in every checkpoint (the CLI puts the model and data set names there).

    Under DistributedDataParallel, ``seed`` seeds ``seed + rank`` (dropout and augmentation differ between
    ranks), ``rank``/``world_size``/``is_global_zero`` tell a callback where it runs, and a loader whose
    sampler has ``set_epoch`` (DistributedSampler) is given the epoch before each epoch.
    """

    def __init__(self, model, optimizer=None, loss_fn=None, scheduler=None, callbacks=(), out_dir=None,
                 seed=None, monitor="val_acc", scheduler_interval="auto", checkpoint_every_n_steps=None,
                 steps_per_epoch=None, topk=(1, 5), check_nan=True, progress=True, verbose=True, config=None):
        self.model = model
        if optimizer is None:
            from convgrad import optim

            optimizer = optim.Adam(model.parameters(), lr=1e-3)
        self.optimizer = optimizer
        self.loss_fn = loss_fn if loss_fn is not None else _default_loss()
        self.scheduler = scheduler
        self.out_dir = os.fspath(out_dir) if out_dir is not None else None
        self.seed = seed
        self.monitor = monitor
        self.steps_per_epoch = steps_per_epoch
        self.topk = tuple(topk)
        self.verbose = verbose
        self.progress = progress and verbose and tqdm is not None
        self.config = dict(config or {})

        callbacks = list(callbacks or [])
        if check_nan and not any(isinstance(cb, StopOnNaN) for cb in callbacks):
            callbacks.append(StopOnNaN())
        if scheduler is not None and not any(
            isinstance(cb, LRSchedulerCallback) and cb.scheduler is scheduler for cb in callbacks
        ):
            callbacks.append(LRSchedulerCallback(scheduler, scheduler_interval))
        if self.out_dir is not None:
            if not any(isinstance(cb, ModelCheckpoint) for cb in callbacks):
                callbacks.append(ModelCheckpoint(self.out_dir, monitor=monitor,
                                                 every_n_steps=checkpoint_every_n_steps))
            if not any(isinstance(cb, CSVLogger) for cb in callbacks):
                callbacks.append(CSVLogger(os.path.join(self.out_dir, "metrics.csv")))
            if not any(isinstance(cb, JSONLogger) for cb in callbacks):
                callbacks.append(JSONLogger(os.path.join(self.out_dir, "metrics.json")))
        self.callbacks = sort_callbacks(callbacks)

        self.epoch = 0            # epochs completed
        self.step = 0             # optimiser steps taken
        self.batch_in_epoch = 0   # batches done in the current epoch
        self.epochs = 0
        self.history = []
        self.stop_training = False
        self.epoch_done = False
        self.last_checkpoint = None
        self.running = RunningMetrics(self.topk)
        self.train_loader = None
        self._epoch_rng = None    # RNG states at the start of the current epoch (to replay its data order)
        self._resume_rng = None   # RNG states to install once a resumed run reaches its position
        self._epoch_lr = None     # learning rate at the start of the current epoch (what its log row shows)
        self.rank, self.world_size = ranks.world()

    @property
    def is_global_zero(self):
        """Whether this process is the one that prints and writes files (rank 0, or the only process)."""
        return self.rank == 0

    @property
    def unwrapped_model(self):
        """The model inside a DistributedDataParallel wrapper (what checkpoints hold), else ``model``."""
        return ranks.unwrap(self.model)

    # -- output ---------------------------------------------------------------------------------------
    def print(self, msg):
        if not self.verbose or not self.is_global_zero:
            return
        if self.progress:
            tqdm.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def _keyed_callbacks(self):
        return zip(_callback_keys(self.callbacks), self.callbacks)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(self, *args)

    # -- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self):
        """Everything a checkpoint holds (see :meth:`save_checkpoint`)."""
        return {
            "model": self.unwrapped_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "trainer": {
                "epoch": self.epoch,
                "step": self.step,
                "batch_in_epoch": self.batch_in_epoch,
                "epochs": self.epochs,
                "stop_training": self.stop_training,
                "history": self.history,
                "running": self.running.state_dict(),
                "rng": _rng_state(self.train_loader),
                "epoch_rng": self._epoch_rng if self.batch_in_epoch else None,
                "epoch_lr": self._epoch_lr,
                "batch_size": getattr(self.train_loader, "batch_size", None),
                "n_batches": self._n_batches(self.train_loader) if self.train_loader is not None else None,
                "world_size": self.world_size,
                "sampler_epoch": getattr(getattr(self.train_loader, "sampler", None), "epoch", None),
            },
            "callbacks": {key: cb.state_dict() for key, cb in self._keyed_callbacks()
                          if hasattr(cb, "state_dict")},
            "config": self.config,
        }

    def save_checkpoint(self, path):
        """Write a training checkpoint to ``path`` atomically; ``fit(..., resume=path)`` continues from it.
        Under DDP every rank calls it: rank 0 writes (the epoch's metric sums over all ranks), the others
        wait at a barrier until the file is there."""
        # reduced() is a collective: every rank calls it, rank 0 alone writes
        running = ranks.reduced(self.running) if self.world_size > 1 else self.running
        if self.is_global_zero:
            state = self.state_dict()
            state["trainer"]["running"] = running.state_dict()
            save_checkpoint(state, path)
        if self.world_size > 1:
            convgrad.distributed.barrier()
        self.last_checkpoint = os.fspath(path)

    def load_state_dict(self, state):
        self.unwrapped_model.load_state_dict(state["model"])
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        t = state["trainer"]
        self.epoch, self.step = int(t["epoch"]), int(t["step"])
        self.batch_in_epoch = int(t["batch_in_epoch"])
        self.stop_training = bool(t.get("stop_training", False))
        self.history = [dict(row) for row in t.get("history", [])]
        self.running.load_state_dict(t["running"])
        if self.rank:  # the checkpoint's sums are all ranks': rank 0 carries them, the others add theirs
            self.running.loss_sum, self.running.count = 0.0, 0
            self.running.correct = {k: 0 for k in self.running.correct}
        self._resume_rng = t["rng"]
        self._epoch_rng = t.get("epoch_rng")
        self._epoch_lr = t.get("epoch_lr")
        saved = state.get("callbacks", {})
        for key, cb in self._keyed_callbacks():
            if key in saved and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(saved[key])
            elif isinstance(cb, Callback) and cb.state_dict():
                warnings.warn(f"resume: the checkpoint has no state for callback {key}; it starts afresh",
                              stacklevel=3)

    def _check_state(self, state, path):
        """Check what a resumed run will use later (random states, trainer counters, optimiser
        hyper-parameters), so that a damaged or tampered checkpoint fails now, naming the file, rather
        than with a raw error some steps into training."""
        def bad(what, value):
            text = repr(value)
            text = text if len(text) <= 80 else text[:80] + "..."
            if what.startswith(("optimizer", "callbacks")):
                # another optimiser or schedule, or a damaged one: either way it cannot continue this run
                return CheckpointError(f"cannot resume from '{path}': it does not match this model/optimiser/"
                                       f"callbacks (expected {what}, got {text})")
            return CheckpointError(f"cannot resume from '{path}': expected {what}, got {text}")

        if not isinstance(state.get("model"), dict):
            raise bad("a 'model' state_dict", type(state.get("model")).__name__)
        t = state.get("trainer")
        if not isinstance(t, dict):
            raise bad("a 'trainer' dict", type(t).__name__)
        for key in ("epoch", "step", "batch_in_epoch"):
            v = t.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise bad(f"trainer.{key} to be a non-negative integer", v)
        history = t.get("history", [])
        if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
            raise bad("trainer.history to be a list of dicts", t.get("history"))
        if not isinstance(t.get("running"), dict):
            raise bad("trainer.running to be a dict", t.get("running"))
        rng_states = [("trainer.rng", t.get("rng"))]
        if t.get("epoch_rng") is not None or t["batch_in_epoch"]:
            rng_states.append(("trainer.epoch_rng", t.get("epoch_rng")))
        for where, rng in rng_states:
            if not isinstance(rng, dict) or "global" not in rng:
                raise bad(f"{where} to hold random generator states", rng)
            for part, value in rng.items():
                try:
                    convgrad.Generator().set_state(value)
                except Exception:
                    raise bad(f"{where}.{part} to be a random generator state", value) from None
        opt = state.get("optimizer")
        if opt is not None:
            groups = opt.get("param_groups") if isinstance(opt, dict) else None
            mine = self.optimizer.param_groups
            if not isinstance(groups, list) or len(groups) != len(mine):
                raise bad(f"optimizer.param_groups to be a list of {len(mine)} groups", groups)
            my_ids = [g["params"] for g in self.optimizer.state_dict()["param_groups"]]
            for i, (theirs, ours) in enumerate(zip(groups, mine)):
                if not isinstance(theirs, dict):
                    raise bad(f"optimizer.param_groups[{i}] to be a dict", theirs)
                for key, value in ours.items():
                    if key == "params":
                        if theirs.get("params") != my_ids[i]:
                            raise bad(f"optimizer.param_groups[{i}].params to be {my_ids[i]}",
                                      theirs.get("params"))
                        continue
                    if key not in theirs:
                        raise bad(f"optimizer.param_groups[{i}] to have '{key}'", sorted(theirs))
                    if not _same_kind(value, theirs[key]):
                        raise bad(f"optimizer.param_groups[{i}].{key} of the kind of {value!r}", theirs[key])
            self._check_optimizer_state(groups, opt.get("state"), bad)
        saved = state.get("callbacks") or {}
        if not isinstance(saved, dict):
            raise bad("'callbacks' to be a dict", saved)
        for key, cb in self._keyed_callbacks():
            if key in saved and hasattr(cb, "state_dict"):
                _check_like(cb.state_dict(), saved[key], f"callbacks.{key}", bad)

    def _check_optimizer_state(self, groups, theirs, bad):
        """The saved hyper-parameters must be ones this optimiser accepts, and each parameter's saved state
        must have the entries (and shapes) the optimiser makes with them: a probe optimiser of the same
        kind is built with the saved hyper-parameters (its constructor checks their ranges) and takes one
        step on zero copies of the parameters to show its state."""
        if theirs is not None and not isinstance(theirs, dict):
            raise bad("optimizer.state to be a dict", theirs)
        copies = [[convgrad.zeros(p.shape, dtype=p.dtype, requires_grad=True) for p in g["params"]]
                  for g in self.optimizer.param_groups]
        settings = [{k: saved[k] for k in ours if k != "params"}
                    for ours, saved in zip(self.optimizer.param_groups, groups)]
        try:
            probe = type(self.optimizer)([dict(h, params=c) for h, c in zip(settings, copies)])
        except (ValueError, TypeError) as e:
            raise bad("optimizer.param_groups hyper-parameters this optimiser accepts", str(e)) from None
        except Exception:  # an optimiser the probe cannot build: its own load_state_dict decides
            return
        try:
            for c in sum(copies, []):
                c.grad = convgrad.zeros(c.shape, dtype=c.dtype)
            probe.step()
            expected = probe.state_dict()["state"]
        except Exception as e:
            raise bad("optimizer.param_groups hyper-parameters an optimiser step accepts",
                      f"{type(e).__name__}: {e}") from None
        if theirs is None:
            return
        for pid, entry in theirs.items():
            if pid not in expected:
                raise bad(f"optimizer.state keys among {sorted(expected)}", pid)
            _check_like(expected[pid], entry, f"optimizer.state.{pid}", bad, exact_keys=True)


    def resume(self, path):
        """Load a checkpoint written by :meth:`save_checkpoint` (``path=True``: ``out_dir/last.pt`` if it
        exists). Returns whether a checkpoint was loaded."""
        if path is True:
            if self.out_dir is None:
                raise ValueError("resume=True needs out_dir (it resumes from out_dir/last.pt)")
            path = os.path.join(self.out_dir, "last.pt")
            if not os.path.exists(path):
                return False
        state = load_checkpoint(path)
        self._check_state(state, path)
        self._check_position(state["trainer"], path)
        try:
            self.load_state_dict(state)
        except (KeyError, ValueError, RuntimeError, TypeError, AttributeError, IndexError,
                OverflowError) as e:
            raise CheckpointError(f"cannot resume from '{path}': it does not match this model/optimiser "
                                  f"({type(e).__name__}: {e})") from e
        self.last_checkpoint = os.fspath(path)
        where = f"epoch {self.epoch + 1}, batch {self.batch_in_epoch}" if self.batch_in_epoch else \
            f"the end of epoch {self.epoch}"
        self.print(f"resumed from {path} at {where} (step {self.step})")
        return True

    def _check_position(self, t, path):
        """A checkpoint written mid-epoch replays that epoch's order up to its batch: only the same
        batching can continue it."""
        done = t["batch_in_epoch"]
        if not done or self.train_loader is None:
            return
        if t.get("world_size", 1) != self.world_size:
            raise CheckpointError(
                f"cannot resume from '{path}': it was written in the middle of epoch {t['epoch'] + 1} by "
                f"{t.get('world_size', 1)} process(es), and this run has {self.world_size}; resume with "
                f"{t.get('world_size', 1)}, or from a checkpoint written at the end of an epoch")
        size, n = getattr(self.train_loader, "batch_size", None), self._n_batches(self.train_loader)
        old_size, old_n = t.get("batch_size"), t.get("n_batches")
        if (old_size is not None and old_size != size) or (old_n is not None and old_n != n) or \
                (n is not None and done > n):
            was = f"batch_size {old_size}, {old_n} batches per epoch" if old_size is not None else \
                f"{done} batches done"
            raise CheckpointError(
                f"cannot resume from '{path}': it was written in the middle of epoch {t['epoch'] + 1} "
                f"({was}), and this loader has batch_size {size}, {n} batches per epoch; resume with the "
                "same batch size, or from a checkpoint written at the end of an epoch")

    # -- the loop -------------------------------------------------------------------------------------
    def fit(self, train_loader, val_loader=None, epochs=1, resume=None):
        """Train for ``epochs`` epochs in total (a resumed run continues up to the same number).
        Returns :attr:`history`, one dict of metrics per epoch."""
        self.train_loader, self.epochs = train_loader, int(epochs)
        self.rank, self.world_size = ranks.world()
        resumed = False
        if resume is not None and resume is not False:
            resumed = self.resume(resume)
        if not resumed and self.seed is not None:
            convgrad.manual_seed(self.seed + self.rank)
        if self.out_dir is not None:
            os.makedirs(self.out_dir, exist_ok=True)
        self._call("on_train_begin")
        try:
            while self.epoch < self.epochs and not self.stop_training:
                self._train_epoch(train_loader, val_loader)
        finally:
            self._resume_rng = None
        self._call("on_train_end")
        if self.world_size > 1:  # rank 0's files are complete before any rank goes on
            convgrad.distributed.barrier()
        return self.history

    def _n_batches(self, loader):
        try:
            n = len(loader)
        except TypeError:
            n = None
        if self.steps_per_epoch is not None:
            n = self.steps_per_epoch if n is None else min(n, self.steps_per_epoch)
        return n

    def _train_epoch(self, loader, val_loader):
        epoch, skip = self.epoch, self.batch_in_epoch
        self.model.train()
        self.epoch_done = False
        if skip:
            # replay the interrupted epoch's data order up to where it stopped
            if self._epoch_rng is None:
                raise CheckpointError("resume: a mid-epoch checkpoint without the epoch's RNG state")
            _set_rng_state(loader, self._epoch_rng, self.rank)
        else:
            if self._resume_rng is not None:
                _set_rng_state(loader, self._resume_rng, self.rank)
                self._resume_rng = None
            self.running.reset()
            self._epoch_rng = _rng_state(loader)
            self._epoch_lr = self.optimizer.param_groups[0]["lr"]
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # DistributedSampler: a new order each epoch, the same on all ranks
            sampler.set_epoch(epoch)
        self._call("on_epoch_begin", epoch)
        n = self._n_batches(loader)
        t0 = time.perf_counter()
        it = iter(loader)
        for done in range(skip):
            try:
                next(it)
            except StopIteration:
                raise CheckpointError(
                    f"resume: the checkpoint was written after batch {skip} of epoch {epoch + 1}, but this "
                    f"loader has only {done} batches per epoch (a different batch size or data set?)"
                ) from None
        if self._resume_rng is not None:
            _set_rng_state(loader, self._resume_rng, self.rank)
            self._resume_rng = None
        bar = None
        if self.progress and self.is_global_zero:
            bar = tqdm(total=n, initial=skip, desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch",
                       dynamic_ncols=True, leave=False, file=sys.stderr)
        try:
            while n is None or self.batch_in_epoch < n:
                try:
                    batch = next(it)
                except StopIteration:
                    break
                self._train_step(batch)
                if bar is not None:
                    post = {"loss": f"{self.running.loss:.4f}"}
                    acc = self.running.acc(1)
                    if acc is not None:
                        post["acc"] = f"{100 * acc:.2f}%"
                    post["lr"] = f"{self.optimizer.param_groups[0]['lr']:.3g}"
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
                self.epoch_done = n is not None and self.batch_in_epoch >= n
                self._call("on_train_batch_end", self.batch_in_epoch - 1,
                            {"loss": self._last_loss, "step": self.step})
                if self.stop_training:
                    break
        finally:
            if bar is not None:
                bar.close()
            del it

        running = ranks.reduced(self.running) if self.world_size > 1 else self.running
        logs = {"epoch": epoch + 1, "step": self.step, **running.summary("train_")}
        if val_loader is not None:
            logs.update(self.evaluate(val_loader, prefix="val_"))
        logs["lr"] = self._epoch_lr
        logs["time"] = time.perf_counter() - t0
        self.epoch, self.batch_in_epoch, self.epoch_done = epoch + 1, 0, True
        self.history.append(logs)
        self._call("on_epoch_end", epoch, logs)
        self.print(f"epoch {epoch + 1}/{self.epochs}  {_fmt(logs)}")

    def _train_step(self, batch):
        x, y = _split_batch(batch)
        self.optimizer.zero_grad()
        out = self.model(x)
        loss = self.loss_fn(out, y)
        value = float(loss.item())
        self._last_loss = value
        self._call("on_before_backward", value)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        self.batch_in_epoch += 1
        self.running.update(value, out, y)

    def evaluate(self, loader, prefix="", progress=None, return_outputs=False):
        """Mean loss and top-1/top-5 accuracy of the model on ``loader`` (eval mode, no gradients); with
        ``return_outputs`` also the logits and targets of the whole loader as NumPy arrays.

        Under DDP with a DistributedSampler over all ranks, every rank must call it: each evaluates its
        shard and the results are those of the whole set (the sampler's padding left out)."""
        m = RunningMetrics(self.topk)
        outs, targets = [], []
        keep, seen = ranks.sharded(loader), 0
        ddp = isinstance(self.model, DistributedDataParallel)
        if keep is not None and ddp and self.model.broadcast_buffers:
            # each rank's last training forward updated its BatchNorm statistics with its own batch: evaluate
            # the source rank's, which DDP's next training forward would install anyway
            self.model._sync_buffers()
        was_training = self.model.training
        self.model.eval()
        show = self.progress if progress is None else (progress and tqdm is not None)
        show = show and self.is_global_zero
        bar = tqdm(loader, desc="evaluate", unit="batch", leave=False, dynamic_ncols=True,
                   file=sys.stderr) if show else loader
        try:
            with convgrad.no_grad():
                for batch in bar:
                    x, y = _split_batch(batch)
                    out = self.model(x)
                    if keep is not None:  # DistributedSampler's padding: the end of the shard
                        take, seen = min(len(y), keep - seen), seen + len(y)
                        if take <= 0:
                            continue
                        if take < len(y):
                            out, y = out[:take], y[:take]
                    m.update(float(self.loss_fn(out, y).item()), out, y)
                    if return_outputs:
                        outs.append(_array(out))
                        targets.append(_array(y))
        finally:
            self.model.train(was_training)
            if show:
                bar.close()
        if return_outputs:
            outs = np.concatenate(outs) if outs else None
            targets = np.concatenate(targets) if targets else None
        if keep is not None:
            m = ranks.reduced(m)
            if return_outputs:
                outs, targets = ranks.gathered(outs, targets, loader)
        if return_outputs:
            return m.summary(prefix), outs, targets
        return m.summary(prefix)


def fit(model, train_loader, val_loader=None, epochs=1, optimizer=None, loss_fn=None, scheduler=None,
        callbacks=(), resume=None, seed=None, out_dir=None, **kwargs):
    """Train ``model`` (see :class:`Trainer` for the arguments); returns the per-epoch metrics.

    Example::

        history = fit(model, train_loader, val_loader, epochs=5,
                      optimizer=optim.Adam(model.parameters(), 1e-3), out_dir="runs/lenet")
    """
    trainer = Trainer(model, optimizer, loss_fn, scheduler, callbacks, out_dir, seed, **kwargs)
    return trainer.fit(train_loader, val_loader, epochs=epochs, resume=resume)
