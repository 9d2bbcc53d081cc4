"""Computer vision on convgrad, in the place of torchvision: :mod:`.transforms` and :mod:`.datasets`."""

from . import datasets, transforms

__all__ = ["datasets", "transforms"]
