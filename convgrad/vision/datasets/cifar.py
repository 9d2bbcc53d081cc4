"""CIFAR-10 from the official "python version" batches (``root/cifar-10-batches-py/``): each batch is a
pickled dict with ``data`` (``uint8`` N x 3072, the red, green and blue 32 x 32 planes of each image
one after the other) and ``labels`` (N ints); ``batches.meta`` holds ``label_names``."""

import os
import urllib.error

import numpy as np
from PIL import Image

from .utils import (
    DatasetFileError,
    calculate_md5,
    download_url,
    extract_archive,
    load_numpy_pickle,
    warn_if_unofficial,
)
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images of 32 x 32 pixels in ten classes.

    Args:
        root: folder holding ``cifar-10-batches-py/`` (``data_batch_1`` ... ``data_batch_5``,
            ``test_batch``, ``batches.meta``).
        train: the five training batches (else the test batch).
        transform: applied to the PIL RGB image of each item.
        target_transform: applied to the integer label.
        download: fetch and unpack the official tarball (md5-checked) if the batches are missing;
            needs a network.

    The batch files are checked against the official md5s; a file that differs but parses (a subset,
    say) is used with a warning, one that does not parse raises an error naming it.

    Attributes: ``data`` (``uint8`` NumPy array N x 32 x 32 x 3, HWC), ``targets`` (list of ints),
    ``classes``, ``class_to_idx``.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    ]
    test_list = [("test_batch", "40351d587109b95175f43aff81a1287e")]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": "5ff9c542aee3614f3951f8cda6e48888"}
    _num_classes = 10

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        missing = [
            f
            for f, _ in self.train_list + self.test_list + [(self.meta["filename"], None)]
            if not self._has(f)
        ]
        if missing:
            raise RuntimeError(
                f"Dataset {type(self).__name__} not found: missing {', '.join(missing)} in {self._folder}. "
                f"Use download=True on a machine with a network, or unpack {self.url} into {self.root}."
            )
        data, targets = [], []
        for name, md5 in self.train_list if train else self.test_list:
            x, y = self._load_batch(name, md5)
            data.append(x)
            targets.extend(y)
        self.data = np.concatenate(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        self.targets = targets
        self._load_meta()

    @property
    def _folder(self):
        return os.path.join(self.root, self.base_folder)

    def _has(self, name):
        return os.path.isfile(os.path.join(self._folder, name))

    def _fix(self):
        return f"delete it and run again with download=True (needs a network), or unpack {self.url} again"

    def _load_pickle(self, name, md5):
        path = os.path.join(self._folder, name)
        warn_if_unofficial(path, md5, type(self).__name__)
        try:
            entry = load_numpy_pickle(path)
        except DatasetFileError as e:
            raise DatasetFileError(f"{type(self).__name__}: {e}; {self._fix()}") from None
        if not isinstance(entry, dict):
            raise DatasetFileError(
                f"{path}: expected a pickled dict, got {type(entry).__name__}; {self._fix()}"
            )
        return path, entry

    def _load_batch(self, name, md5):
        path, entry = self._load_pickle(name, md5)
        labels = entry.get("labels", entry.get("fine_labels"))
        data = entry.get("data")
        if not isinstance(data, np.ndarray) or labels is None:
            raise DatasetFileError(f"{path}: expected keys 'data' (array) and 'labels'; {self._fix()}")
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DatasetFileError(
                f"{path}: expected 'data' as uint8 (N, 3072), got {data.dtype} {data.shape}; {self._fix()}"
            )
        labels = [int(v) for v in labels]
        if len(labels) != data.shape[0]:
            raise DatasetFileError(f"{path}: {data.shape[0]} images but {len(labels)} labels; {self._fix()}")
        if labels and not 0 <= min(labels) <= max(labels) < self._num_classes:
            raise DatasetFileError(f"{path}: labels outside 0..{self._num_classes - 1}; {self._fix()}")
        return data, labels

    def _load_meta(self):
        path, entry = self._load_pickle(self.meta["filename"], self.meta["md5"])
        names = entry.get(self.meta["key"])
        if not isinstance(names, list) or not names:
            raise DatasetFileError(
                f"{path}: expected a non-empty list under {self.meta['key']!r}; {self._fix()}"
            )
        self.classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _check_integrity(self):
        for name, md5 in self.train_list + self.test_list + [(self.meta["filename"], self.meta["md5"])]:
            path = os.path.join(self._folder, name)
            if not os.path.isfile(path) or calculate_md5(path) != md5:
                return False
        return True

    def download(self):
        """Fetch the official tarball (md5-checked) into ``root`` and unpack it."""
        if self._check_integrity():
            return
        try:
            path = download_url(self.url, self.root, self.filename, self.tgz_md5)
        except (urllib.error.URLError, OSError, DatasetFileError) as e:
            raise RuntimeError(
                f"could not download {type(self).__name__} from {self.url} ({e}). "
                "Without a network, place the "
                f"unpacked {self.base_folder}/ folder in {self.root}."
            ) from e
        extract_archive(path, self.root)

    def __getitem__(self, index):
        img = Image.fromarray(self.data[index])
        return self._apply(img, self.targets[index])

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: 50,000 training and 10,000 test colour images of 32 x 32 pixels in 100 classes (the
    ``fine_labels``), stored as CIFAR-10's batches are, in ``root/cifar-100-python/`` (``train``,
    ``test``, ``meta``). Arguments and attributes as CIFAR10's."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [("train", "16019d7e3df5f24257cddd939b257f8d")]
    test_list = [("test", "f0ef6b0ae62326f3e7ffdfab6717acfc")]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": "7973b15100ade9c7d40fb424638fde48"}
    _num_classes = 100
