"""What every ``convgrad`` command shares: the error a command-line mistake raises, the data sets and models
the commands know by name, and the size syntax of ``summary``/``arith``."""

import argparse

import numpy as np


class CLIError(Exception):
    """A mistake in the command line: printed as one line, no traceback."""


def add_command(subparsers, name, run, help, description):
    """A subcommand that calls ``run(args)``, which returns its result (for callers from Python); the
    command's exit status is 0."""
    def main(args):
        run(args)
        return 0

    p = subparsers.add_parser(name, help=help, description=description)
    p.set_defaults(func=main)
    return p


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


# (mean, std) each 28x28 grayscale data set is normalised with, also by `convgrad serve` for drawn digits
NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}
DATASETS = {
    "mnist": _mnist_like("MNIST", *NORMALIZATION["mnist"]),
    "fashion_mnist": _mnist_like("FashionMNIST", *NORMALIZATION["fashion_mnist"]),
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


def sizes(example):
    """argparse type: '7', '7x9' or '3,224,224' as a tuple of ints."""
    def parse(text):
        try:
            return tuple(int(v) for v in str(text).lower().replace(",", "x").split("x") if v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a size such as {example}, got {text!r}") from None
    return parse
