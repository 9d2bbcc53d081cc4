"""Image transforms with torchvision's names and semantics (``convgrad.vision.transforms`` stands in for
``torchvision.transforms``). :mod:`.functional` has the underlying operations."""

from convgrad import _unsupported

from . import functional, v2
from .extra import (
    ConvertImageDtype,
    RandomChoice,
    RandomErasing,
    RandomGrayscale,
    RandomOrder,
    RandomResizedCrop,
)
from .functional import InterpolationMode
from .transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    ElasticTransform,
    Grayscale,
    Lambda,
    Normalize,
    Pad,
    PCAColorAugmentation,
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

__all__ = [
    "ConvertImageDtype",
    "RandomChoice",
    "RandomErasing",
    "RandomGrayscale",
    "RandomOrder",
    "RandomResizedCrop",
    "v2",
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "ElasticTransform",
    "Grayscale",
    "InterpolationMode",
    "Lambda",
    "Normalize",
    "PCAColorAugmentation",
    "PILToTensor",
    "Pad",
    "RandomAffine",
    "RandomApply",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "ToPILImage",
    "ToTensor",
    "functional",
]


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torchvision.transforms", __name__, name)
