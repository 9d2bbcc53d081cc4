"""The ``convgrad`` command (also ``python -m convgrad``).

    convgrad train --model lenet5 --dataset mnist --epochs 4 --out runs/lenet5
    convgrad train --model mnist1d_cnn --dataset mnist1d
    convgrad evaluate runs/lenet5/best.pt
    convgrad summary lenet5
    convgrad arith --input 28 --kernel 5 --padding 2
    convgrad models
    convgrad env        convgrad --version

``train`` fills every option it is not given from the model's defaults (``MODEL_DEFAULTS``: tuned so each
model reaches its data set's usual accuracy quickly on a CPU), trains with :class:`convgrad.training.Trainer`
and leaves a run folder: config.json, metrics.json and metrics.csv (one row per epoch), last.pt and best.pt
(checkpoints that ``--resume`` continues and ``evaluate`` reads), results.json (test metrics, training time)
and PNG plots: learning curves, confusion matrix, the first convolution's filters and its feature maps.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

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
RESUME_FREE = {"out", "resume", "data_root", "num_workers", "threads", "no_progress", "no_plots", "epochs"}

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adadelta")
SCHEDULERS = ("none", "onecycle", "step", "cosine", "exponential", "plateau")


class CLIError(Exception):
    """A mistake in the command line: printed as one line, no traceback."""


# -- data sets -------------------------------------------------------------------------------------------
def _tensor_dataset(x, y):
    import convgrad
    from convgrad.utils.data import TensorDataset

    return TensorDataset(convgrad.from_numpy(np.ascontiguousarray(x)), convgrad.from_numpy(np.asarray(y)))


def _mnist_like(cls_name, mean, std):
    def load(root, train, augment):
        from convgrad.vision import datasets

        ds = getattr(datasets, cls_name)(root, train=train)
        # the whole split normalised at once: the per-image PIL path is needed only for augmentation
        x = (ds.data.numpy().astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)
        return _tensor_dataset(x[:, None], ds.targets.numpy()), list(ds.classes)
    return load


def _mnist1d(root, train, augment):
    from convgrad.vision import datasets

    ds = datasets.MNIST1D(root, train=train)
    return _tensor_dataset(ds.data.numpy().astype(np.float32)[:, None], ds.targets.numpy()), list(ds.classes)


def _cifar10(root, train, augment):
    from convgrad.vision import datasets, transforms

    norm = transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    steps = [transforms.ToTensor(), norm]
    if train and augment:
        steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] + steps
    ds = datasets.CIFAR10(root, train=train, transform=transforms.Compose(steps))
    return ds, list(ds.classes)


DATASETS = {
    "mnist": _mnist_like("MNIST", 0.1307, 0.3081),
    "fashion_mnist": _mnist_like("FashionMNIST", 0.2860, 0.3530),
    "mnist1d": _mnist1d,
    "cifar10": _cifar10,
}


def load_dataset(name, root, train, augment=False):
    """(dataset, class names) of split ``train`` of data set ``name``."""
    if name not in DATASETS:
        raise CLIError(f"unknown dataset '{name}'; known datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[name](root, train, augment)


# -- models ----------------------------------------------------------------------------------------------
def known_models():
    from convgrad.vision import models

    return sorted(models.list_models())


def build_model(name, num_classes=None):
    from convgrad.vision import models

    names = known_models()
    if name not in names:
        raise CLIError(f"unknown model '{name}'; known models: {', '.join(names)}")
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    return models.get_model(name, **kwargs)


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


def run_train(args, log=print):
    """Train as ``convgrad train`` does; returns a dict of results (also written to results.json)."""
    import convgrad
    from convgrad import training
    from convgrad.utils.data import DataLoader, Subset

    given = {k for k, v in vars(args).items() if v is not None}
    args = _resolve(args)
    resuming = _resume_options(args, given)
    if args.model not in known_models():
        raise CLIError(f"unknown model '{args.model}'; known models: {', '.join(known_models())}")
    if args.dataset not in DATASETS:
        raise CLIError(f"unknown dataset '{args.dataset}'; known datasets: {', '.join(sorted(DATASETS))}")
    os.makedirs(args.out, exist_ok=True)
    if args.threads:
        set_blas_threads(args.threads, op="convgrad train --threads")
    config = {k: v for k, v in vars(args).items() if k != "func"}
    config["convgrad_version"] = convgrad.__version__

    convgrad.manual_seed(args.seed)
    train_set, classes = load_dataset(args.dataset, args.data_root, True, args.augment)
    test_set, _ = load_dataset(args.dataset, args.data_root, False)
    if args.subset:
        train_set = Subset(train_set, list(range(min(args.subset, len(train_set)))))
    if args.val_fraction:
        train_set, val_set = _split(train_set, args.val_fraction, args.seed)
        config["validation"] = f"{args.val_fraction:.0%} of the training split"
    else:
        val_set = test_set
        config["validation"] = "the test split"
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)

    gen = convgrad.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=gen,
                              num_workers=args.num_workers, drop_last=False)
    val_loader = DataLoader(val_set, batch_size=512, num_workers=args.num_workers)
    test_loader = DataLoader(test_set, batch_size=512, num_workers=args.num_workers)

    model = build_model(args.model, num_classes=len(classes))
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum, args.weight_decay)
    steps = len(train_loader) if not args.steps_per_epoch else min(len(train_loader), args.steps_per_epoch)
    scheduler = make_scheduler(args.scheduler, optimizer, args.lr, args.epochs, steps, args.step_size,
                               args.gamma)
    callbacks = []
    if args.patience:
        callbacks.append(training.EarlyStopping(monitor="val_loss", patience=args.patience))
    trainer = training.Trainer(
        model, optimizer, scheduler=scheduler, callbacks=callbacks, out_dir=args.out, seed=args.seed,
        checkpoint_every_n_steps=args.checkpoint_every, steps_per_epoch=args.steps_per_epoch,
        progress=not args.no_progress, config=config)

    log(f"training {args.model} on {args.dataset} ({len(train_set)} training samples, validation on "
        f"{config['validation']}) for {args.epochs} epoch{'s' if args.epochs != 1 else ''}: "
        f"{args.optimizer} lr {args.lr:g}, "
        f"batch {args.batch_size}, scheduler {args.scheduler}; run folder {args.out}"
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
    p.set_defaults(func=_train_main)
    return p


# -- evaluate --------------------------------------------------------------------------------------------
def read_weights(path):
    """``(state_dict, config)`` from a training checkpoint (or its run folder: best.pt, or last.pt when a
    kill left best.pt behind it), a saved state_dict or a torch.save file (config then empty)."""
    import convgrad
    from convgrad import training

    if os.path.isdir(path):
        path = training.best_checkpoint(path)
    try:
        state = training.load_checkpoint(path)
        return state["model"], state.get("config", {})
    except training.CheckpointError as e:
        if not os.path.isfile(path):
            raise
        try:
            weights = convgrad.load(path)
        except Exception:
            raise e from None  # neither kind of file: the checkpoint reader's message says what it is
        if not isinstance(weights, dict):
            raise CLIError(f"'{path}' holds a {type(weights).__name__}, not a state_dict or a training "
                           "checkpoint") from None
        return weights, {}


def load_trained(checkpoint, model_name=None, dataset=None, data_root=None):
    """A trained model from a checkpoint written by ``convgrad train`` (or its run folder: best.pt, else
    last.pt; or a bare state_dict given ``model_name`` and ``dataset``), with its test split:
    ``(model, model_name, dataset, test_set, classes)``."""
    weights, config = read_weights(checkpoint)
    model_name = model_name or config.get("model")
    dataset = dataset or config.get("dataset")
    if model_name is None or dataset is None:
        raise CLIError("the checkpoint does not name its model/dataset: pass --model and --dataset")
    test_set, classes = load_dataset(dataset, data_root or config.get("data_root", "data"), False)
    model = build_model(model_name, num_classes=len(classes))
    model.load_state_dict(weights)
    model.eval()
    return model, model_name, dataset, test_set, classes


def run_evaluate(args, log=print):
    from convgrad import training
    from convgrad.utils.data import DataLoader

    model, model_name, dataset, test_set, classes = load_trained(args.checkpoint, args.model, args.dataset,
                                                                 args.data_root)
    trainer = training.Trainer(model, progress=not args.no_progress)
    loader = DataLoader(test_set, batch_size=args.batch_size)
    test, logits, targets = trainer.evaluate(loader, prefix="test_", return_outputs=True)
    cm = training.confusion_matrix(logits.argmax(1), targets, len(classes))
    top5 = f", top-5 {100 * test['test_top5']:.2f}%" if "test_top5" in test else ""
    log(f"{model_name} on {dataset} test split ({len(test_set)} samples): "
        f"accuracy {100 * test['test_acc']:.2f}%{top5}, loss {test['test_loss']:.4f}")
    if args.confusion:
        from convgrad import viz

        viz.plot_confusion_matrix(cm, args.confusion)
        log(f"confusion matrix: {args.confusion}")
    return {**test, "confusion_matrix": cm.tolist()}


def add_evaluate_cli(subparsers):
    p = subparsers.add_parser("evaluate", help="test accuracy of a checkpoint",
                              description="Evaluate a training checkpoint (or a run folder) on a test split.")
    p.add_argument("checkpoint", help="a .pt checkpoint written by `convgrad train`, or its run folder")
    p.add_argument("--dataset", help="default: the one the checkpoint was trained on")
    p.add_argument("--model", help="default: the checkpoint's (needed for a bare state_dict)")
    p.add_argument("--data-root", default=os.environ.get("CONVGRAD_DATA"))
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--confusion", metavar="PNG", help="also plot the confusion matrix to this file")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=lambda a: (run_evaluate(a), 0)[1])
    return p


# -- ONNX: export / import ------------------------------------------------------------------------------
def _onnx_module():
    import convgrad.onnx as connx
    from convgrad.onnx._common import _onnx

    try:
        _onnx()
    except ImportError as e:
        raise CLIError(str(e)) from None
    return connx


def run_export(args, log=print):
    import convgrad
    from convgrad.vision import models

    connx = _onnx_module()
    weights, config = read_weights(args.checkpoint)
    name = args.model or config.get("model")
    if name is None:
        raise CLIError("the checkpoint does not name its model: pass --model")
    num_classes = args.num_classes
    if num_classes is None:  # the classifier's output size: the first dim of the last float tensor
        floats = [v for v in weights.values() if hasattr(v, "dtype") and v.dtype.kind == "f" and v.ndim]
        num_classes = int(floats[-1].shape[0]) if floats else None
    model = build_model(name, num_classes=num_classes)
    model.load_state_dict(weights)
    model.eval()
    shape = tuple(args.input_shape) if args.input_shape else models.default_input_size(name)
    x = convgrad.randn(args.batch_size, *shape)
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}} if args.dynamic_batch else None
    proto = connx.export(model, x, args.onnx, opset_version=args.opset, dynamic_axes=dynamic)
    ops = sorted({n.op_type for n in proto.graph.node})
    log(f"exported {name} ({num_classes} classes, input {(args.batch_size,) + shape}) to {args.onnx}: "
        f"opset {args.opset}, {len(proto.graph.node)} nodes ({', '.join(ops)}), "
        f"{len(proto.graph.initializer)} initializers; onnx.checker passed")
    return proto


def add_export_cli(subparsers):
    p = subparsers.add_parser("export", help="write a checkpoint's model as an ONNX file",
                              description="Export a trained model (a training checkpoint, a run folder, a "
                                          "saved state_dict or a torch.save state dict) to ONNX.")
    p.add_argument("checkpoint", help="a .pt checkpoint, its run folder, or a state_dict file")
    p.add_argument("--onnx", required=True, metavar="PATH", help="the ONNX file to write")
    p.add_argument("--model", help="model name (default: the checkpoint's; needed for a bare state_dict)")
    p.add_argument("--num-classes", type=int, help="default: read from the classifier's weights")
    p.add_argument("--input-shape", type=int, nargs="+", metavar="N",
                   help="one input's shape without the batch, e.g. 3 32 32 (default: the model's)")
    p.add_argument("--batch-size", type=int, default=1, help="batch size of the traced example (default 1)")
    p.add_argument("--dynamic-batch", action="store_true", help="leave the batch axis free in the ONNX graph")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (13-21, default 17)")
    p.set_defaults(func=lambda a: (run_export(a), 0)[1])
    return p


def run_import(args, log=print):
    import convgrad

    connx = _onnx_module()
    module = connx.load(args.model_file)
    state = module.state_dict()
    convgrad.save(state, args.out)
    n = sum(int(np.prod(v.shape)) for v in state.values() if v.dtype.kind == "f")
    log(f"imported {args.model_file}: {len(module._nodes)} nodes, {len(state)} tensors ({n:,} float values) "
        f"saved to {args.out} (load with model.load_state_dict(convgrad.load(...)) or "
        "convgrad.onnx.load for the graph itself)")
    return state


def add_import_cli(subparsers):
    p = subparsers.add_parser("import", help="read an ONNX file's weights into a convgrad checkpoint",
                              description="Load an ONNX model with convgrad's ONNX backend and save its "
                                          "initializers (named by the graph) as a convgrad state_dict.")
    p.add_argument("model_file", metavar="MODEL.onnx")
    p.add_argument("--out", required=True, help="the .pt (safetensors) file to write")
    p.set_defaults(func=lambda a: (run_import(a), 0)[1])
    return p


def _models_main(args):
    print("models:  ", ", ".join(known_models()))
    print("datasets:", ", ".join(sorted(DATASETS)))
    return 0


def _env_main(args):
    from convgrad.env import report

    print(report())
    return 0


class _Version(argparse.Action):
    """``--version``: versions, BLAS kernel type and threads, read only when asked (not at parser build)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from convgrad.env import summary_line

        print(summary_line())
        parser.exit()


# -- summary, arith --------------------------------------------------------------------------------------
def _sizes(example):
    """argparse type: '7', '7x9' or '3,224,224' as a tuple of ints."""
    def parse(text):
        try:
            return tuple(int(v) for v in str(text).lower().replace(",", "x").split("x") if v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a size such as {example}, got {text!r}") from None
    return parse


def add_summary_cli(subparsers):
    """``convgrad summary MODEL [--input 3x224x224] [--batch-size N] [--num-classes K]``."""
    p = subparsers.add_parser("summary", help="layer-by-layer table of a model zoo network",
                              description="Output shapes, parameters, mult-adds, memory and receptive "
                                          "fields of a model from convgrad.vision.models.")
    p.add_argument("model", help="model name (see convgrad.vision.models.list_models())")
    p.add_argument("--input", "-i", type=_sizes("3x224x224"), default=None,
                   help="input shape without the batch dimension, e.g. 3x224x224 (default: the model's)")
    p.add_argument("--batch-size", "-b", type=int, default=1, help="batch for the memory totals")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--optimizer-states", type=int, default=1,
                   help="parameter-sized optimiser buffers in the training estimate (SGD momentum 1, Adam 2)")
    p.set_defaults(func=_summary_main)
    return p


def _summary_main(args):
    """Build ``args.model`` and print its summary; returns the exit code."""
    from convgrad.summary import summary
    from convgrad.vision import models

    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    try:
        model = models.get_model(args.model, **kwargs)
    except ValueError as e:
        print(e)
        return 2
    shape = args.input or models.default_input_size(args.model)
    try:
        s = summary(model, (1,) + tuple(shape), batch_size=args.batch_size,
                    optimizer_states=args.optimizer_states)
    except ValueError as e:
        print(e)
        return 1
    print(s)
    return 0


def add_arith_cli(subparsers):
    """``convgrad arith --input 7 --kernel 3 [--stride --padding --dilation --transposed --pool ...]``."""
    size = _sizes("7 or 7x7")
    p = subparsers.add_parser(
        "arith", help="output size of a convolution / pooling / transposed convolution, and why",
        description="Convolution arithmetic: output size, whether it fits, 'same' padding.")
    p.add_argument("--input", "-i", type=size, required=True, help="input size: 7 or 7x9")
    p.add_argument("--kernel", "-k", type=size, required=True)
    p.add_argument("--stride", "-s", type=size, default=None, help="default 1 (pooling: the kernel)")
    p.add_argument("--padding", "-p", type=size, default=0)
    p.add_argument("--dilation", "-d", type=size, default=1)
    p.add_argument("--output-padding", type=size, default=0)
    p.add_argument("--transposed", action="store_true", help="transposed convolution")
    p.add_argument("--pool", action="store_true", help="pooling window (stride defaults to the kernel)")
    p.add_argument("--ceil-mode", action="store_true", help="pooling with ceil_mode=True")
    p.set_defaults(func=_arith_main)
    return p


def _arith_main(args):
    """Print ``arithmetic.explain`` for the arguments; returns the exit code (1 if impossible)."""
    from convgrad.arithmetic import explain

    # one size: an int, as explain reports it for every dimension
    one = {k: (v[0] if isinstance(v, tuple) and len(v) == 1 else v) for k, v in vars(args).items()}
    stride = one["stride"] if one["stride"] is not None else (None if args.pool else 1)
    ex = explain(one["input"], one["kernel"], stride, one["padding"], one["dilation"], one["output_padding"],
                 transposed=args.transposed, pool=args.pool, ceil_mode=args.ceil_mode)
    print(ex)
    return 0 if ex.ok else 1


def add_lab_cli(subparsers):
    p = subparsers.add_parser("lab", help="the lectures' claims as experiments, with reports")
    p.add_argument("name", help="mnist1d, invariance, activations, init, or all")
    p.add_argument("--quick", action="store_true", help="seconds on small data (direction only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="lab", help="reports go to OUT/NAME/report.md (default: lab)")
    from convgrad.lab import main as lab_main  # the runner imports nothing heavy until a run starts

    p.set_defaults(func=lab_main)


def build_parser():
    parser = argparse.ArgumentParser(prog="convgrad", description="convgrad: CNNs from first principles.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="versions of convgrad, Python and NumPy, the BLAS kernel type and thread count")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train_cli(sub)
    add_evaluate_cli(sub)
    add_export_cli(sub)
    add_import_cli(sub)
    from convgrad.cli_viz import add_viz_cli

    add_viz_cli(sub)
    p = sub.add_parser("models", help="list the models and data sets `train` knows")
    p.set_defaults(func=_models_main)
    p = sub.add_parser("env", help="what convgrad runs on (versions, BLAS, CPU, env vars): for bug reports")
    p.set_defaults(func=_env_main)
    add_summary_cli(sub)
    add_arith_cli(sub)
    add_lab_cli(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    if os.environ.get("CONVGRAD_DEBUG"):
        return args.func(args) or 0
    from convgrad.training import CheckpointError, NonFiniteLossError
    from convgrad.viz import VizError

    try:
        return args.func(args) or 0
    except (CLIError, CheckpointError, NonFiniteLossError, VizError) as e:
        print(f"convgrad {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, TypeError, KeyError, OSError) as e:
        # the library's own messages (a layer given an input of the wrong size, a missing file, ...)
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"convgrad {args.command}: error: {type(e).__name__}: {msg}\n"
              "(set CONVGRAD_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"convgrad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
