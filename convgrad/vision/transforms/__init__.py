"""Image transforms with torchvision's names and semantics (``convgrad.vision.transforms`` stands in for
``torchvision.transforms``). :mod:`.functional` has the underlying operations."""

from convgrad import _unsupported

from . import extra, functional, transforms, v2
from .extra import *
from .functional import InterpolationMode
from .transforms import *

__all__ = [*extra.__all__, *transforms.__all__, "InterpolationMode", "functional", "v2"]


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torchvision.transforms", __name__, name)
