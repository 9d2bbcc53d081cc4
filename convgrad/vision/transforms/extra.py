"""More torchvision transforms: the ImageNet/CIFAR training-recipe ones (``RandomResizedCrop``,
``RandomErasing``, ``RandomGrayscale``), ``RandomChoice``/``RandomOrder`` and ``ConvertImageDtype``.
Random draws come from :func:`convgrad.utils.data.numpy_rng`, as the other transforms'."""

import math
import numbers

import numpy as np

import convgrad
from convgrad.utils.data.worker import numpy_rng

from . import functional as F
from .functional import InterpolationMode
from .transforms import _Transform, _WithProbability

__all__ = ["RandomResizedCrop", "RandomErasing", "RandomGrayscale", "RandomChoice", "RandomOrder",
           "ConvertImageDtype"]


def _pair_range(value, name):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name}: expected a (min, max) pair, got {value!r}")
    if value[0] > value[1]:
        raise ValueError(f"{name}: expected min <= max, got {tuple(value)}")
    return tuple(float(v) for v in value)


def _random_rectangles(rng, area, scale, ratio, tries=10):
    """``tries`` draws of torchvision's random rectangle: an area a uniform in ``scale`` times ``area``, an
    aspect ratio r log-uniform in ``ratio``; yields the rounded sides (sqrt(a r), sqrt(a / r))."""
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(tries):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        yield int(round(math.sqrt(target_area * aspect))), int(round(math.sqrt(target_area / aspect)))


class RandomResizedCrop:
    """A crop of random area (a ``scale`` fraction of the image's) and aspect ratio (in ``ratio``,
    drawn log-uniformly), resized to ``size``; after 10 failed draws, the central crop with the ratio
    clamped into ``ratio`` (torchvision's rule)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.size = F._pair(size, "RandomResizedCrop")
        self.scale = _pair_range(scale, "RandomResizedCrop: scale")
        self.ratio = _pair_range(ratio, "RandomResizedCrop: ratio")
        self.interpolation = F._interp(interpolation)
        self.antialias = antialias

    @staticmethod
    def get_params(img, scale, ratio):
        """Random ``(top, left, height, width)`` of the crop."""
        _, height, width = F.get_dimensions(img)
        rng = numpy_rng()
        for w, h in _random_rectangles(rng, height * width, scale, ratio):
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation, self.antialias)

    def __repr__(self):
        return (f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio}, "
                f"interpolation={self.interpolation.value})")


class RandomErasing(_Transform):
    """With probability ``p``, set a random rectangle of a Tensor image (area a ``scale`` fraction,
    aspect ratio in ``ratio``) to ``value``: a number, one per channel, or ``"random"`` (normal noise).
    No rectangle fits in 10 draws: the image is returned unchanged."""

    _repr_fields = ("p", "scale", "ratio", "value")

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError(f"RandomErasing: expected value to be a number, a sequence or 'random', got "
                            f"{value!r}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: expected value 'random' if a string, got {value!r}")
        if not 0 <= p <= 1:
            raise ValueError(f"RandomErasing: expected p in [0, 1], got {p}")
        self.p = p
        self.scale = _pair_range(scale, "RandomErasing: scale")
        self.ratio = _pair_range(ratio, "RandomErasing: ratio")
        self.value = value
        self.inplace = inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        """``(i, j, h, w, v)``: the rectangle and what fills it (``value`` None: normal noise)."""
        c, img_h, img_w = img.shape[-3:]
        rng = numpy_rng()
        for h, w in _random_rectangles(rng, img_h * img_w, scale, ratio):
            if not (h < img_h and w < img_w):
                continue
            if value is None:
                v = convgrad.from_numpy(rng.standard_normal((c, h, w)).astype(img.dtype))
            else:
                v = np.asarray(value, dtype=img.dtype).reshape(-1, 1, 1)
            return int(rng.integers(0, img_h - h + 1)), int(rng.integers(0, img_w - w + 1)), h, w, v
        return 0, 0, img_h, img_w, img

    def __call__(self, img):
        if not F._is_tensor(img):
            raise TypeError(f"RandomErasing: expected a Tensor image (after ToTensor), got "
                            f"{type(img).__name__}")
        if numpy_rng().random() >= self.p:
            return img
        value = None if self.value == "random" else self.value
        if isinstance(value, (tuple, list)) and len(value) not in (1, img.shape[-3]):
            raise ValueError(f"RandomErasing: expected one value or one per channel ({img.shape[-3]}), got "
                             f"{len(value)} values")
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        if v is img:
            return img
        return F.erase(img, i, j, h, w, v, self.inplace)


class RandomGrayscale(_WithProbability):
    """With probability ``p``, the image's luma in as many channels as it had."""

    def __init__(self, p=0.1):
        super().__init__(p)

    def __call__(self, img):
        F.get_dimensions(img)  # a non-image is an error whatever the draw
        return super().__call__(img)

    def _apply(self, img):
        return F.rgb_to_grayscale(img, num_output_channels=F.get_dimensions(img)[0])


class RandomChoice(_Transform):
    """One transform of the list, drawn with probabilities ``p`` (uniform by default)."""

    _repr_fields = ("transforms", "p")

    def __init__(self, transforms, p=None):
        self.transforms = list(transforms)
        if p is not None and len(p) != len(self.transforms):
            raise ValueError(f"RandomChoice: expected one probability per transform "
                             f"({len(self.transforms)}), got {len(p)}")
        self.p = None if p is None else [float(v) / sum(p) for v in p]

    def __call__(self, *args):
        k = int(numpy_rng().choice(len(self.transforms), p=self.p))
        return self.transforms[k](*args)


class RandomOrder(_Transform):
    """All the transforms, in a random order."""

    _repr_fields = ("transforms",)

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for k in numpy_rng().permutation(len(self.transforms)):
            img = self.transforms[int(k)](img)
        return img


class ConvertImageDtype:
    """A Tensor image converted to ``dtype`` with its values rescaled (see
    :func:`functional.convert_image_dtype`)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __call__(self, image):
        return F.convert_image_dtype(image, self.dtype)

    def __repr__(self):
        return f"ConvertImageDtype(dtype={np.dtype(self.dtype)})"
