"""Datasets read from a folder per class: :class:`DatasetFolder` (any files) and :class:`ImageFolder`
(images, opened with PIL)::

    root/dog/xxx.png
    root/dog/nested/xxy.jpeg
    root/cat/123.png
"""

import os

from PIL import Image

from .utils import DatasetFileError
from .vision import VisionDataset

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader", "pil_loader", "find_classes"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path):
    """Open an image file as an RGB PIL image (the file is closed before returning). A file PIL cannot
    decode (truncated, damaged, not an image) raises :class:`DatasetFileError` naming it."""
    with open(path, "rb") as f:
        try:
            img = Image.open(f)
            return img.convert("RGB")
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError, Image.DecompressionBombError) as e:
            # PIL's messages ("image file is truncated") do not say which file, and a DataLoader
            # re-raises them far from the path
            raise DatasetFileError(f"{path}: cannot read the image ({type(e).__name__}: {e})") from e


default_loader = pil_loader


def find_classes(directory):
    """The sorted sub-folder names of ``directory`` and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
    """``[(path, class_index), ...]`` for the valid files under each class folder, walked in sorted
    order (sub-folders included, symbolic links followed, each real folder once: a link to a folder
    already walked or to one above it, a loop, is skipped)."""
    directory = os.path.expanduser(directory)
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the same time")
    if is_valid_file is None:
        lowered = tuple(e.lower() for e in extensions)

        def is_valid_file(path):
            return path.lower().endswith(lowered)

    samples, seen = [], set()
    for cls in sorted(class_to_idx):
        folder = os.path.join(directory, cls)
        if not os.path.isdir(folder):
            continue
        visited, walked = {os.path.realpath(folder)}, []
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            # os.walk descends into the names left in dirnames: drop folders already walked and links
            # to a folder above this one (loops, which would also bring other classes' files in)
            here, kept = os.path.realpath(dirpath), []
            for d in sorted(dirnames):
                real = os.path.realpath(os.path.join(dirpath, d))
                if real not in visited and os.path.commonpath([real, here]) != real:
                    visited.add(real)
                    kept.append(d)
            dirnames[:] = kept
            walked.append((dirpath, filenames))
        for dirpath, filenames in sorted(walked):
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[cls]))
                    seen.add(cls)
    empty = set(class_to_idx) - seen
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}."
        if extensions is not None:
            msg += f" Supported extensions are: {', '.join(extensions)}"
        raise FileNotFoundError(msg)
    return samples


class DatasetFolder(VisionDataset):
    """Items are ``(loader(path), class_index)`` for the files in ``root/<class>/...``.

    Attributes: ``classes`` (sorted folder names), ``class_to_idx``, ``samples`` (``[(path, index)]``),
    ``targets`` (the indices).
    """

    def __init__(
        self,
        root,
        loader,
        extensions=None,
        transform=None,
        target_transform=None,
        is_valid_file=None,
        allow_empty=False,
    ):
        super().__init__(root, transform=transform, target_transform=target_transform)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"{type(self).__name__}: root folder {self.root} does not exist")
        classes, class_to_idx = self.find_classes(self.root)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = make_dataset(self.root, class_to_idx, extensions, is_valid_file, allow_empty)
        self.targets = [s[1] for s in self.samples]

    def find_classes(self, directory):
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self):
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """A :class:`DatasetFolder` of image files (``IMG_EXTENSIONS``), loaded as RGB PIL images by default.
    ``imgs`` is another name for ``samples``."""

    def __init__(
        self,
        root,
        transform=None,
        target_transform=None,
        loader=default_loader,
        is_valid_file=None,
        allow_empty=False,
    ):
        super().__init__(
            root,
            loader,
            IMG_EXTENSIONS if is_valid_file is None else None,
            transform=transform,
            target_transform=target_transform,
            is_valid_file=is_valid_file,
            allow_empty=allow_empty,
        )
        self.imgs = self.samples
