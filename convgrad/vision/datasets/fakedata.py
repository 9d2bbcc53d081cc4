"""``FakeData``: random images with random labels, for trying a training script without its data set
(the ``--dummy`` / ``--dataset fake`` options of common training scripts)."""

import numbers

import numpy as np
from PIL import Image

from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """``size`` random PIL images of ``image_size`` = (C, H, W) (C = 1: mode "L", 3: "RGB") with labels in
    [0, num_classes). Item i depends only on i + random_offset: the same index always gives the same image
    and label, and the global random state is not touched."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        super().__init__(None, transform=transform, target_transform=target_transform)
        op = "FakeData"
        for name, v, low in (("size", size, 0), ("num_classes", num_classes, 1),
                             ("random_offset", random_offset, 0)):
            if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)) or v < low:
                raise ValueError(f"{op}: expected {name} to be an int >= {low}, got {v!r}")
        image_size = tuple(image_size)
        if len(image_size) != 3 or image_size[0] not in (1, 3) or min(image_size) < 1:
            raise ValueError(f"{op}: expected image_size (C, H, W) with C 1 or 3, got {image_size}")
        self.size = int(size)
        self.image_size = image_size
        self.num_classes = int(num_classes)
        self.random_offset = int(random_offset)

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, (numbers.Integral, np.integer)):
            raise TypeError(f"FakeData: expected an int index, got {type(index).__name__}")
        if not -self.size <= index < self.size:
            raise IndexError(f"FakeData: index out of range (size {self.size}), got {index}")
        index = int(index) % self.size
        rng = np.random.default_rng(index + self.random_offset)
        c, h, w = self.image_size
        pixels = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        img = Image.fromarray(pixels[:, :, 0] if c == 1 else pixels, mode="L" if c == 1 else "RGB")
        return self._apply(img, target)
