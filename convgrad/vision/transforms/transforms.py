"""Transform classes with torchvision's names, arguments and semantics.

Each is a callable taking an image (a PIL image, an ``HWC`` NumPy array or a ``CHW`` Tensor, see
:mod:`convgrad.vision.transforms.functional`) and returning one. The random ones draw from
:func:`convgrad.utils.data.numpy_rng`: convgrad's global generator, or inside a DataLoader worker thread
that thread's generator seeded from it, so ``convgrad.manual_seed`` makes augmentation reproducible.
"""

import numbers

import numpy as np
from PIL import Image

import convgrad
from convgrad.utils.data.worker import numpy_rng

from . import functional as F
from .functional import InterpolationMode

__all__ = [
    "Compose",
    "ToTensor",
    "PILToTensor",
    "ToPILImage",
    "Normalize",
    "Resize",
    "CenterCrop",
    "Pad",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomAffine",
    "RandomRotation",
    "ElasticTransform",
    "ColorJitter",
    "Grayscale",
    "Lambda",
    "RandomApply",
    "PCAColorAugmentation",
]


class _Transform:
    """The transforms' repr: ``Name(field=value, ...)`` over the attributes named in ``_repr_fields``."""

    _repr_fields = ()

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)}" for name in self._repr_fields)
        return f"{type(self).__name__}({fields})"


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor(_Transform):
    """PIL image or ``HWC`` array to a ``CHW`` Tensor; ``uint8`` becomes ``float32`` in ``[0, 1]``."""

    def __call__(self, pic):
        return F.to_tensor(pic)


class PILToTensor(_Transform):
    """PIL image to a ``CHW`` Tensor of the image's own dtype (no scaling)."""

    def __call__(self, pic):
        return F.pil_to_tensor(pic)


class ToPILImage(_Transform):
    """``CHW`` Tensor or ``HWC`` array to a PIL image (float data in [0, 1] is scaled by 255)."""

    _repr_fields = ("mode",)

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)


class Normalize(_Transform):
    """``(x - mean[c]) / std[c]`` for each channel ``c`` of a float ``(..., C, H, W)`` Tensor."""

    _repr_fields = ("mean", "std")

    def __init__(self, mean, std, inplace=False):
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)


def _check_size(size, name):
    if isinstance(size, numbers.Integral):
        return size
    if isinstance(size, (list, tuple)) and len(size) in (1, 2):
        return list(size)
    raise TypeError(f"{name}: size should be an int or a sequence of 1 or 2 ints, got {size!r}")


class Resize:
    """Resize to ``size`` (``(h, w)``, or an int for the smaller edge); see :func:`functional.resize`."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        self.size = _check_size(size, "Resize")
        self.interpolation = F._interp(interpolation)
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self):
        return f"Resize(size={self.size}, interpolation={self.interpolation.value}, max_size={self.max_size})"


class CenterCrop(_Transform):
    """The centred ``size`` region (an int for a square), zero-padding images that are smaller."""

    _repr_fields = ("size",)

    def __init__(self, size):
        self.size = F._pair(size, "CenterCrop")

    def __call__(self, img):
        return F.center_crop(img, self.size)


def _check_padding_mode(padding_mode):
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


class Pad(_Transform):
    """Pad the borders; see :func:`functional.pad`."""

    _repr_fields = ("padding", "fill", "padding_mode")

    def __init__(self, padding, fill=0, padding_mode="constant"):
        F._parse_padding(padding)
        _check_padding_mode(padding_mode)
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop(_Transform):
    """A ``size`` region at a uniformly random position.

    ``padding`` pads first (as :class:`Pad`); ``pad_if_needed`` pads an image smaller than ``size`` by
    the missing amount on both sides of the short dimension (torchvision's rule); ``fill`` and
    ``padding_mode`` are those of :func:`functional.pad`.
    """

    _repr_fields = ("size", "padding")

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = F._pair(size, "RandomCrop")
        if padding is not None:
            F._parse_padding(padding)
        _check_padding_mode(padding_mode)
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img, output_size):
        """Random ``(top, left, height, width)`` of a crop of ``output_size`` inside ``img``."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        rng = numpy_rng()
        i = int(rng.integers(0, h - th + 1))
        j = int(rng.integers(0, w - tw + 1))
        return i, j, th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = F.get_dimensions(img)
        if self.pad_if_needed and w < self.size[1]:
            img = F.pad(img, [self.size[1] - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < self.size[0]:
            img = F.pad(img, [0, self.size[0] - h], self.fill, self.padding_mode)
        i, j, th, tw = self.get_params(img, self.size)
        return F.crop(img, i, j, th, tw)


class _WithProbability(_Transform):
    """The random transforms that change an image with probability ``p`` (``_apply``) and else return
    it unchanged."""

    _repr_fields = ("p",)

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if numpy_rng().random() < self.p:
            return self._apply(img)
        return img


class RandomHorizontalFlip(_WithProbability):
    """Mirror left-right with probability ``p``."""

    _apply = staticmethod(F.hflip)


class RandomVerticalFlip(_WithProbability):
    """Mirror top-bottom with probability ``p``."""

    _apply = staticmethod(F.vflip)


def _range(value, name, center=0.0, bound=None, single="must be positive"):
    """A number ``v`` as ``(center - v, center + v)``; a pair as itself; checked against ``bound``."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it {single}.")
        out = [center - float(value), center + float(value)]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        out = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name} should be a single number or a sequence of length 2, got {value!r}")
    if bound is not None and not (bound[0] <= out[0] <= out[1] <= bound[1]):
        raise ValueError(f"{name} values should be between {bound}, got {out}")
    return out


def _fill_arg(fill):
    if fill is None:
        return 0
    if not isinstance(fill, (numbers.Number, list, tuple)):
        raise TypeError(f"fill should be a number or a sequence of numbers, got {type(fill).__name__}")
    return fill


class RandomRotation:
    """Rotate by an angle drawn uniformly from ``degrees`` (a number ``d`` means ``(-d, d)``),
    counter-clockwise for positive angles; see :func:`functional.rotate`."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
        self.degrees = _range(degrees, "degrees")
        self.interpolation = F._interp(interpolation)
        self.expand = expand
        self.center = center
        self.fill = _fill_arg(fill)

    @staticmethod
    def get_params(degrees):
        return float(numpy_rng().uniform(degrees[0], degrees[1]))

    def __call__(self, img):
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees}, interpolation={self.interpolation.value})"


class RandomAffine(_Transform):
    """Random affine map keeping the centre: rotation drawn from ``degrees``; shift up to
    ``translate = (a, b)`` times the width / height; scale drawn from ``scale = (lo, hi)``; shear (in
    degrees) drawn from ``shear`` (a number ``s`` means x-shear in ``(-s, s)``, 2 values an x range,
    4 values x and y ranges). Points from outside the image take ``fill``."""

    _repr_fields = ("degrees", "translate", "scale", "shear")

    def __init__(
        self,
        degrees,
        translate=None,
        scale=None,
        shear=None,
        interpolation=InterpolationMode.NEAREST,
        fill=0,
        center=None,
    ):
        self.degrees = _range(degrees, "degrees")
        if translate is not None:
            if not isinstance(translate, (list, tuple)) or len(translate) != 2:
                raise TypeError(f"translate should be a sequence of length 2, got {translate!r}")
            for t in translate:
                if not 0.0 <= t <= 1.0:
                    raise ValueError(f"translation values should be between 0 and 1, got {translate}")
        if scale is not None:
            if not isinstance(scale, (list, tuple)) or len(scale) != 2:
                raise TypeError(f"scale should be a sequence of length 2, got {scale!r}")
            for s in scale:
                if s <= 0:
                    raise ValueError(f"scale values should be positive, got {scale}")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _range(shear, "shear")
            elif isinstance(shear, (list, tuple)) and len(shear) in (2, 4):
                shear = [float(s) for s in shear]
            else:
                raise TypeError(f"shear should be a number or a sequence of length 2 or 4, got {shear!r}")
        self.translate = translate
        self.scale = scale
        self.shear = shear
        self.interpolation = F._interp(interpolation)
        self.fill = _fill_arg(fill)
        self.center = center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """Random ``(angle, (tx, ty), scale, (shear_x, shear_y))`` for an image of ``img_size`` (w, h)."""
        rng = numpy_rng()
        angle = float(rng.uniform(degrees[0], degrees[1]))
        if translate is not None:
            max_dx = float(translate[0] * img_size[0])
            max_dy = float(translate[1] * img_size[1])
            tx = int(round(float(rng.uniform(-max_dx, max_dx))))
            ty = int(round(float(rng.uniform(-max_dy, max_dy))))
            translations = (tx, ty)
        else:
            translations = (0, 0)
        scale = float(rng.uniform(scale_ranges[0], scale_ranges[1])) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = float(rng.uniform(shears[0], shears[1]))
            if len(shears) == 4:
                shear_y = float(rng.uniform(shears[2], shears[3]))
        return angle, translations, scale, (shear_x, shear_y)

    def __call__(self, img):
        w, h = F.get_image_size(img)
        angle, translations, scale, shear = self.get_params(
            self.degrees, self.translate, self.scale, self.shear, (w, h)
        )
        return F.affine(
            img, angle, list(translations), scale, list(shear), self.interpolation, self.fill, self.center
        )


class ElasticTransform(_Transform):
    """Elastic distortion (Simard et al. 2003): every pixel is moved by a smooth random field, uniform
    noise blurred by a Gaussian of std ``sigma`` and scaled by ``alpha`` (torchvision's parameters and
    scaling: ``alpha`` is relative to the image size in normalised coordinates)."""

    _repr_fields = ("alpha", "sigma")

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR, fill=0):
        self.alpha = self._pair(alpha, "alpha")
        self.sigma = self._pair(sigma, "sigma")
        self.interpolation = F._interp(interpolation)
        self.fill = _fill_arg(fill)

    @staticmethod
    def _pair(v, name):
        if isinstance(v, numbers.Number):
            v = [float(v), float(v)]
        elif isinstance(v, (list, tuple)) and len(v) in (1, 2):
            v = [float(v[0]), float(v[-1])]
        else:
            raise TypeError(f"{name} should be a number or a sequence of length 2, got {v!r}")
        if any(x < 0 for x in v):
            raise ValueError(f"{name} should be non-negative, got {v}")
        return v

    @staticmethod
    def get_params(alpha, sigma, size):
        """A displacement field ``(H, W, 2)`` in pixels for an image of ``size`` (h, w)."""
        return F.elastic_displacement(alpha, sigma, list(size), numpy_rng())

    def __call__(self, img):
        _, h, w = F.get_dimensions(img)
        disp = self.get_params(self.alpha, self.sigma, (h, w))
        return F.elastic_transform(img, disp, self.interpolation, self.fill)


class ColorJitter(_Transform):
    """Random brightness, contrast, saturation and hue changes, applied in a random order.

    Each of ``brightness``, ``contrast``, ``saturation`` is a number ``v`` (factor drawn from
    ``[max(0, 1 - v), 1 + v]``) or a ``(min, max)`` range; ``hue`` is ``h`` in ``[0, 0.5]`` (shift drawn
    from ``[-h, h]``) or a range inside ``[-0.5, 0.5]``.
    """

    _repr_fields = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = self._check(brightness, "brightness")
        self.contrast = self._check(contrast, "contrast")
        self.saturation = self._check(saturation, "saturation")
        self.hue = self._check(hue, "hue", center=0.0, bound=(-0.5, 0.5), clip_first=False)

    @staticmethod
    def _check(value, name, center=1.0, bound=(0.0, float("inf")), clip_first=True):
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"If {name} is a single number, it must be non negative.")
            value = [center - float(value), center + float(value)]
            if clip_first:
                value[0] = max(value[0], 0.0)
        elif isinstance(value, (list, tuple)) and len(value) == 2:
            value = [float(value[0]), float(value[1])]
        else:
            raise TypeError(f"{name} should be a single number or a list/tuple with length 2, got {value!r}")
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"{name} values should be between {bound}, but got {value}.")
        if value[0] == value[1] == center:
            return None
        return value

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """A random order of the four adjustments and the factors (``None`` where not applied)."""
        rng = numpy_rng()
        order = rng.permutation(4).tolist()
        factors = [
            None if r is None else float(rng.uniform(r[0], r[1]))
            for r in (brightness, contrast, saturation, hue)
        ]
        return (order, *factors)

    def __call__(self, img):
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        for k in order:
            if k == 0 and b is not None:
                img = F.adjust_brightness(img, b)
            elif k == 1 and c is not None:
                img = F.adjust_contrast(img, c)
            elif k == 2 and s is not None:
                img = F.adjust_saturation(img, s)
            elif k == 3 and h is not None:
                img = F.adjust_hue(img, h)
        return img


class Grayscale(_Transform):
    """Luma of the image with ``num_output_channels`` (1 or 3) channels."""

    _repr_fields = ("num_output_channels",)

    def __init__(self, num_output_channels=1):
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)


class Lambda(_Transform):
    """Apply a user function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class RandomApply(_Transform):
    """Apply the list of ``transforms`` (in order) with probability ``p``, else none of them."""

    _repr_fields = ("p", "transforms")

    def __init__(self, transforms, p=0.5):
        self.transforms = list(transforms)
        self.p = p

    def __call__(self, img):
        if self.p < numpy_rng().random():
            return img
        for t in self.transforms:
            img = t(img)
        return img

# RGB covariance eigen-decomposition of ImageNet pixels scaled to [0, 1], the values widely used for
# AlexNet-style lighting noise (eigenvalues descending; eigenvectors are the columns).
_IMAGENET_EIGVAL = np.array([0.2175, 0.0188, 0.0045])
_IMAGENET_EIGVEC = np.array(
    [
        [-0.5675, 0.7192, 0.4009],
        [-0.5808, -0.0045, -0.8140],
        [-0.5836, -0.6948, 0.4203],
    ]
)


class PCAColorAugmentation(_Transform):
    """AlexNet's "lighting" noise (Krizhevsky et al. 2012, section 4.1): add to every pixel the RGB
    offset ``eigvec @ (alpha * eigval)`` with ``alpha ~ N(0, alphastd)`` drawn once per image, where
    ``eigval``/``eigvec`` are the eigenvalues/eigenvectors (columns) of the covariance of the RGB pixel
    values of the training set. The default is ImageNet's, for images scaled to ``[0, 1]``;
    :meth:`from_images` computes them from your own data.

    Float arrays and tensors (``CHW``, values in [0, 1]) get the offset as it is; ``uint8`` images
    (PIL or arrays) get it scaled by 255, rounded and clipped to [0, 255].
    """

    _repr_fields = ("alphastd",)

    def __init__(self, alphastd=0.1, eigval=None, eigvec=None):
        if alphastd < 0:
            raise ValueError(f"alphastd should be non-negative, got {alphastd}")
        self.alphastd = float(alphastd)
        self.eigval = np.asarray(_IMAGENET_EIGVAL if eigval is None else eigval, dtype=np.float64)
        self.eigvec = np.asarray(_IMAGENET_EIGVEC if eigvec is None else eigvec, dtype=np.float64)
        if self.eigval.shape != (3,) or self.eigvec.shape != (3, 3):
            raise ValueError(
                f"PCAColorAugmentation: expected eigval of shape (3,) and eigvec of shape (3, 3), "
                f"got {self.eigval.shape} and {self.eigvec.shape}"
            )

    @classmethod
    def from_images(cls, images, alphastd=0.1):
        """Fit ``eigval``/``eigvec`` to images: a ``(N, 3, H, W)`` Tensor or array of floats, or a list
        of PIL RGB images / ``HWC`` arrays (whose ``uint8`` values are scaled to [0, 1])."""
        if isinstance(images, convgrad.Tensor) or (isinstance(images, np.ndarray) and images.ndim == 4):
            arr = np.asarray(getattr(images, "_data", images), dtype=np.float64)
            if arr.ndim != 4 or arr.shape[1] != 3:
                raise ValueError(f"from_images: expected shape (N, 3, H, W), got {arr.shape}")
            pixels = arr.transpose(0, 2, 3, 1).reshape(-1, 3)
        else:
            chunks = []
            for im in images:
                a = np.asarray(im.convert("RGB") if isinstance(im, Image.Image) else im)
                scale = 255.0 if a.dtype == np.uint8 else 1.0
                chunks.append(a.reshape(-1, 3).astype(np.float64) / scale)
            pixels = np.concatenate(chunks)
        cov = np.cov(pixels, rowvar=False)
        eigval, eigvec = np.linalg.eigh(cov)
        order = np.argsort(eigval)[::-1]
        return cls(alphastd, eigval[order], eigvec[:, order])

    def get_params(self):
        """The RGB offset for one image (in [0, 1] units)."""
        if self.alphastd == 0:
            return np.zeros(3)
        alpha = numpy_rng().normal(0.0, self.alphastd, size=3)
        return self.eigvec @ (alpha * self.eigval)

    def __call__(self, img):
        rgb = self.get_params()
        c = F.get_image_num_channels(img)
        if c != 3:
            raise ValueError(f"PCAColorAugmentation: expected an RGB image with 3 channels, got {c}")
        arr, back = F._planes(img)
        if np.issubdtype(arr.dtype, np.floating):
            return back(arr + rgb.astype(arr.dtype).reshape(3, 1, 1))
        out = arr.astype(np.float64) + 255.0 * rgb.reshape(3, 1, 1)
        return back(np.clip(np.round(out), 0, 255).astype(arr.dtype))

