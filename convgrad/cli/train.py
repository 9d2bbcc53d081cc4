"""``convgrad train``: fill the options not given from the model's defaults, train with
:class:`convgrad.training.Trainer`, and leave a run folder (see :mod:`convgrad.cli`).

Under ``mpiexec -n N`` (or ``--nproc N``) every rank runs it: the model is wrapped in DistributedDataParallel,
each rank reads its shard of every split through a DistributedSampler, ``--batch-size`` stays the global
batch (each rank takes ceil(B / N) samples), and rank 0 alone prints and writes the run folder."""

import argparse
import json
import os
import time

import numpy as np

from convgrad.cli import mpi
from convgrad.cli.common import DATASETS, CLIError, build_model, known_models, load_dataset
from convgrad.threads import set_blas_threads, threads_set_by_user

# Per model: the data set it is made for and the training recipe its defaults follow. The small networks run
# with one BLAS thread: their matrix products are too small to share, and OpenBLAS threads that wait for
# each other slow down many times over when other processes hold the cores.
MODEL_DEFAULTS = {
    "lenet5": dict(dataset="mnist", epochs=8, batch_size=128, optimizer="adam", lr=3e-3, weight_decay=0.0,
                   scheduler="onecycle", threads=1),
    "mnist1d_cnn": dict(dataset="mnist1d", epochs=60, batch_size=64, optimizer="adam", lr=1e-2,
                        weight_decay=0.0, scheduler="onecycle", threads=1),
    "resnet20": dict(dataset="cifar10", epochs=30, batch_size=128, optimizer="sgd", lr=0.1, momentum=0.9,
                     weight_decay=5e-4, scheduler="onecycle", augment=True),
}
FALLBACK_DEFAULTS = dict(dataset="mnist", epochs=5, batch_size=128, optimizer="adam", lr=1e-3, momentum=0.9,
                         weight_decay=0.0, scheduler="none", augment=False, threads=0, seed=0,
                         val_fraction=0.0, patience=0)
# options that do not change what a run computes: a resumed run may be given other values
RESUME_FREE = {"out", "resume", "data_root", "num_workers", "threads", "no_progress", "no_plots", "epochs",
               "nproc"}

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adadelta")
SCHEDULERS = ("none", "onecycle", "step", "cosine", "exponential", "plateau")


# -- optimisers and schedulers ---------------------------------------------------------------------------
def make_optimizer(name, params, lr, momentum=0.9, weight_decay=0.0):
    from convgrad import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adadelta":
        return optim.Adadelta(params, lr=lr, weight_decay=weight_decay)
    raise CLIError(f"unknown optimizer '{name}'; known: {', '.join(OPTIMIZERS)}")


def make_scheduler(name, optimizer, lr, epochs, steps_per_epoch, step_size=None, gamma=None):
    from convgrad.optim import lr_scheduler as S

    if name in (None, "none"):
        return None
    if name == "onecycle":
        return S.OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    if name == "step":
        return S.StepLR(optimizer, step_size=step_size or max(1, epochs // 3), gamma=gamma or 0.1)
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=gamma or 0.9)
    if name == "plateau":
        return S.ReduceLROnPlateau(optimizer, mode="min", factor=gamma or 0.1, patience=step_size or 2)
    raise CLIError(f"unknown scheduler '{name}'; known: {', '.join(SCHEDULERS)}")


# -- train -----------------------------------------------------------------------------------------------
def _resolve(args):
    """Fill the options not given on the command line from the model's defaults."""
    defaults = dict(FALLBACK_DEFAULTS)
    defaults.update(MODEL_DEFAULTS.get(args.model, {}))
    if threads_set_by_user():  # the user's OMP_NUM_THREADS / OPENBLAS_NUM_THREADS win over a model default
        defaults["threads"] = 0
    for k, v in defaults.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    if args.out is None:
        args.out = os.path.join("runs", f"{args.model}-{args.dataset}")
    return args


def _resume_options(args, given):
    """``--resume`` continues the run recorded in OUT/last.pt with the options it was started with: options
    not given now are taken from the checkpoint; one given now with another value is refused (naming
    it, with both values) rather than recorded but not applied. ``--epochs`` may change (the run then
    continues to the new count)."""
    from convgrad import training

    path = os.path.join(args.out, "last.pt")
    if not (args.resume and os.path.exists(path)):
        return False
    recorded = training.load_checkpoint(path).get("config") or {}
    changed = []
    for key, old in recorded.items():
        if key in RESUME_FREE or not hasattr(args, key):
            continue
        new = getattr(args, key)
        if key in given and new != old:
            changed.append(f"--{key.replace('_', '-')} {old} -> {new}")
        else:
            setattr(args, key, old)
    if changed:
        raise CLIError(
            f"--resume: {path} was trained with other options ({'; '.join(changed)}). A resumed run keeps "
            "the options it started with: drop these options (or give the recorded values), or train "
            "into a new --out folder")
    return True


def _first_conv(model):
    for name, m in model.named_modules():
        if type(m).__name__ in ("Conv2d", "Conv1d"):
            return name, m
    return None, None


def _split(dataset, fraction, seed):
    from convgrad.utils.data import Subset

    n = len(dataset)
    n_val = int(round(n * fraction))
    order = np.random.default_rng(seed).permutation(n)
    return Subset(dataset, order[n_val:].tolist()), Subset(dataset, order[:n_val].tolist())


def _plots(args, model, history, cm, classes, test_set):
    """The run's PNGs: learning curves, confusion matrix, first convolution's filters and feature maps."""
    from convgrad import viz

    plots = {name: os.path.join(args.out, f"{name}.png") for name in ("curves", "confusion")}
    viz.plot_history(history, plots["curves"], title=f"{args.model} on {args.dataset}")
    viz.plot_confusion_matrix(cm, plots["confusion"], class_names=[str(c).split(" ")[0] for c in classes])
    name, conv = _first_conv(model)
    if conv is not None:
        plots["filters"] = os.path.join(args.out, "filters.png")
        plots["feature_maps"] = os.path.join(args.out, "feature_maps.png")
        viz.plot_filters(conv, plots["filters"], title=f"{args.model} {name} filters")
        viz.plot_feature_maps(model, name, test_set[0][0].unsqueeze(0), plots["feature_maps"])
    return plots


def _loaders(args, train_set, val_set, test_set, world):
    """Train, validation and test loaders: under DDP each reads this rank's shard (DistributedSampler)."""
    import convgrad
    from convgrad.utils.data import DataLoader, DistributedSampler

    workers = args.num_workers
    if world == 1:
        gen = convgrad.Generator().manual_seed(args.seed)
        return (DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=gen,
                           num_workers=workers, drop_last=False),
                DataLoader(val_set, batch_size=512, num_workers=workers),
                DataLoader(test_set, batch_size=512, num_workers=workers))
    per_rank = -(-args.batch_size // world)
    return (DataLoader(train_set, batch_size=per_rank, sampler=DistributedSampler(train_set, seed=args.seed),
                       num_workers=workers),
            DataLoader(val_set, batch_size=512, sampler=DistributedSampler(val_set, shuffle=False),
                       num_workers=workers),
            DataLoader(test_set, batch_size=512, sampler=DistributedSampler(test_set, shuffle=False),
                       num_workers=workers))


def _load_splits(args, rank, world):
    """(train set, test set, class names); under DDP rank 0 first (it downloads or generates and caches the
    files), then the others read what it left."""
    from convgrad import distributed as dist

    if rank:
        dist.barrier()
    train_set, classes = load_dataset(args.dataset, args.data_root, True, args.augment)
    test_set, _ = load_dataset(args.dataset, args.data_root, False)
    if world > 1 and not rank:
        dist.barrier()
    return train_set, test_set, classes


def run_train(args, log=print):
    """Train as ``convgrad train`` does; returns a dict of results (also written to results.json)."""
    import convgrad
    from convgrad import training
    from convgrad.utils.data import Subset

    given = {k for k, v in vars(args).items() if v is not None}
    args = _resolve(args)
    resuming = _resume_options(args, given)
    if args.model not in known_models():
        raise CLIError(f"unknown model '{args.model}'; known models: {', '.join(known_models())}")
    if args.dataset not in DATASETS:
        raise CLIError(f"unknown dataset '{args.dataset}'; known datasets: {', '.join(sorted(DATASETS))}")
    rank, world = mpi.join()
    if rank:
        def log(*_, **__):
            pass
    if world > 1 and "threads" not in given and not threads_set_by_user():
        args.threads = mpi.threads_per_rank(world, args.threads)
    os.makedirs(args.out, exist_ok=True)
    if args.threads:
        set_blas_threads(args.threads, op="convgrad train --threads")
    config = {k: v for k, v in vars(args).items() if k not in ("func", "nproc") and not k.startswith("_")}
    config["convgrad_version"] = convgrad.__version__
    config["processes"] = world

    convgrad.manual_seed(args.seed)
    train_set, test_set, classes = _load_splits(args, rank, world)
    if args.subset:
        train_set = Subset(train_set, list(range(min(args.subset, len(train_set)))))
    if args.val_fraction:
        train_set, val_set = _split(train_set, args.val_fraction, args.seed)
        config["validation"] = f"{args.val_fraction:.0%} of the training split"
    else:
        val_set = test_set
        config["validation"] = "the test split"
    if not rank:
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
    train_loader, val_loader, test_loader = _loaders(args, train_set, val_set, test_set, world)

    model = build_model(args.model, num_classes=len(classes))
    net = model if world == 1 else convgrad.nn.parallel.DistributedDataParallel(model)
    optimizer = make_optimizer(args.optimizer, net.parameters(), args.lr, args.momentum, args.weight_decay)
    steps = len(train_loader) if not args.steps_per_epoch else min(len(train_loader), args.steps_per_epoch)
    scheduler = make_scheduler(args.scheduler, optimizer, args.lr, args.epochs, steps, args.step_size,
                               args.gamma)
    callbacks = []
    if args.patience:
        callbacks.append(training.EarlyStopping(monitor="val_loss", patience=args.patience))
    trainer = training.Trainer(
        net, optimizer, scheduler=scheduler, callbacks=callbacks, out_dir=args.out, seed=args.seed,
        checkpoint_every_n_steps=args.checkpoint_every, steps_per_epoch=args.steps_per_epoch,
        progress=not args.no_progress, config=config)

    batch = f"batch {args.batch_size}" if world == 1 else \
        f"batch {train_loader.batch_size * world} ({world} processes x {train_loader.batch_size})"
    log(f"training {args.model} on {args.dataset} ({len(train_set)} training samples, validation on "
        f"{config['validation']}) for {args.epochs} epoch{'s' if args.epochs != 1 else ''}: "
        f"{args.optimizer} lr {args.lr:g}, "
        f"{batch}, scheduler {args.scheduler}; run folder {args.out}"
        + ("; resuming with the options recorded in last.pt" if resuming else ""))
    t0 = time.perf_counter()
    trainer.fit(train_loader, val_loader, epochs=args.epochs, resume=True if args.resume else None)
    train_time = time.perf_counter() - t0

    test, logits, targets = trainer.evaluate(test_loader, prefix="test_", progress=False, return_outputs=True)
    pred = logits.argmax(1)
    results = {"model": args.model, "dataset": args.dataset, "epochs": trainer.epoch, "steps": trainer.step,
               **test, "train_time_s": train_time,
               "train_time_note": "wall time of this invocation's fit (resumed runs: this part only)"}
    cm = training.confusion_matrix(pred, targets, len(classes))
    if rank:  # rank 0 writes the plots and results.json
        return results
    plots = {}
    if not args.no_plots:
        try:
            plots = _plots(args, model, trainer.history, cm, classes, test_set)
        except ImportError as e:  # matplotlib is optional: the run's results stand without the pictures
            log(f"plots skipped: {e}")
    results["plots"] = plots
    results["checkpoints"] = {k: os.path.join(args.out, f"{k}.pt") for k in ("last", "best")
                              if os.path.exists(os.path.join(args.out, f"{k}.pt"))}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    top5 = f", top-5 {100 * test['test_top5']:.2f}%" if "test_top5" in test else ""
    log(f"test accuracy {100 * test['test_acc']:.2f}%{top5}, test loss {test['test_loss']:.4f}; "
        f"training time {train_time:.1f} s")
    files = ["config.json", "metrics.csv", "metrics.json", "results.json"] + \
        [os.path.basename(p) for p in list(results["checkpoints"].values()) + list(plots.values())]
    log(f"run folder: {args.out} ({', '.join(files)})")
    return results


def _train_main(args):
    argv = getattr(args, "_argv", None)
    if args.nproc is not None and args.nproc < 1:
        raise CLIError(f"--nproc: expected a positive number of processes, got {args.nproc}")
    if args.nproc and args.nproc > 1:
        if argv is None:
            raise CLIError("--nproc: expected to be given on the command line (convgrad train --nproc N ...)")
        return mpi.relaunch(args.nproc, argv)
    run_train(args)
    return 0


def add_train_cli(subparsers):
    p = subparsers.add_parser("train", help="train a model from the zoo on a data set",
                              description="Train a model; options not given follow the model's defaults.")
    p.add_argument("--model", required=True, help="model name (e.g. lenet5, mnist1d_cnn, resnet20)")
    p.add_argument("--dataset", help=f"one of {', '.join(sorted(DATASETS))} (default: the model's)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate (the peak rate with --scheduler onecycle)")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--scheduler", choices=SCHEDULERS)
    p.add_argument("--step-size", type=int, help="StepLR period in epochs / ReduceLROnPlateau patience")
    p.add_argument("--gamma", type=float, help="StepLR/ExponentialLR factor, ReduceLROnPlateau factor")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="data augmentation where the data set has one")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--out", help="run folder (default runs/MODEL-DATASET)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/last.pt if it exists, with the options recorded in it")
    p.add_argument("--data-root", default=os.environ.get("CONVGRAD_DATA", "data"))
    p.add_argument("--val-fraction", type=float,
                   help="hold out this part of the training split for validation (default: validate on test)")
    p.add_argument("--patience", type=int,
                   help="early stopping on val_loss after N flat epochs (default: off)")
    p.add_argument("--checkpoint-every", type=int, help="also checkpoint every N steps, mid-epoch")
    p.add_argument("--steps-per-epoch", type=int, help="at most N batches per epoch")
    p.add_argument("--subset", type=int, help="train on the first N training samples only (quick tries)")
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--threads", type=int,
                   help="BLAS threads (0: the library's default; small models: 1 unless OMP_NUM_THREADS or "
                        "OPENBLAS_NUM_THREADS is set)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--nproc", type=int,
                   help="train in N processes (data-parallel, MPI): runs mpiexec -n N convgrad train ... "
                        "for you; under mpiexec -n N, leave it out")
    p.set_defaults(func=_train_main)
    return p
