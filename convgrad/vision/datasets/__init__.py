"""Datasets with torchvision's names, folder layouts and file formats (``convgrad.vision.datasets``
stands in for ``torchvision.datasets``), plus MNIST-1D."""

from convgrad import _unsupported

from .cifar import CIFAR10, CIFAR100
from .fakedata import FakeData
from .folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, pil_loader
from .mnist import MNIST, FashionMNIST
from .mnist1d import MNIST1D
from .utils import DatasetFileError
from .vision import VisionDataset

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "DatasetFileError",
    "DatasetFolder",
    "FakeData",
    "FashionMNIST",
    "IMG_EXTENSIONS",
    "ImageFolder",
    "MNIST",
    "MNIST1D",
    "VisionDataset",
    "default_loader",
    "pil_loader",
]


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torchvision.datasets", __name__, name)
