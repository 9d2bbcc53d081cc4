"""``torchvision.transforms.v2``'s common names. The v1 classes serve under their v2 names (they take
PIL images, NumPy arrays and Tensors alike, one image per call); ``ToImage``, ``ToDtype`` and
``ToPureTensor`` are the v2 conversions: ``v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32,
scale=True), v2.Normalize(mean, std)])`` is ``Compose([ToTensor(), Normalize(mean, std)])``."""

import numpy as np

import convgrad
from convgrad import _unsupported

from . import functional as F
from .extra import RandomChoice, RandomErasing, RandomGrayscale, RandomResizedCrop
from .transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    ElasticTransform,
    Grayscale,
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandomAffine,
    RandomApply,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
    ToTensor,
)

__all__ = ["CenterCrop", "ColorJitter", "Compose", "ElasticTransform", "Grayscale", "Lambda", "Normalize",
           "Pad", "PILToTensor", "RandomAffine", "RandomApply", "RandomChoice", "RandomCrop",
           "RandomErasing", "RandomGrayscale", "RandomHorizontalFlip", "RandomResizedCrop", "RandomRotation",
           "RandomVerticalFlip", "Resize", "ToDtype", "ToImage", "ToPILImage", "ToPureTensor", "ToTensor"]


class ToImage:
    """A PIL image or an HWC NumPy array as a CHW Tensor of its own dtype (no scaling); a Tensor as is."""

    def __call__(self, img):
        if F._is_tensor(img):
            return img
        if isinstance(img, np.ndarray):
            arr = img[:, :, None] if img.ndim == 2 else img
            return convgrad.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
        return F.pil_to_tensor(img)

    def __repr__(self):
        return "ToImage()"


class ToDtype:
    """A Tensor converted to ``dtype``; ``scale=True`` rescales image values between integer [0, max]
    and float [0, 1] ranges (uint8 -> float32 divides by 255)."""

    def __init__(self, dtype, scale=False):
        self.dtype, self.scale = dtype, scale

    def __call__(self, img):
        if not F._is_tensor(img):
            return img  # v2 passes non-tensor inputs (labels, PIL images) through
        if self.scale:
            return F.convert_image_dtype(img, self.dtype)
        return convgrad.from_numpy(img._data.astype(self.dtype))

    def __repr__(self):
        return f"ToDtype(dtype={np.dtype(self.dtype)}, scale={self.scale})"


class ToPureTensor:
    """v2's tensor subclasses to plain tensors: convgrad has only plain Tensors, so the identity."""

    def __call__(self, img):
        return img

    def __repr__(self):
        return "ToPureTensor()"


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torchvision.transforms.v2", __name__, name)
