"""Computer vision on convgrad, in the place of torchvision: :mod:`.transforms`, :mod:`.datasets`,
:mod:`.utils` (image grids) and :mod:`.models` (imported on first use)."""

import importlib

from . import datasets, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]


def __getattr__(name):
    if name == "models":
        return importlib.import_module(".models", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
