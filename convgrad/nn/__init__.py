"""Neural network layers (``Module`` and friends), PyTorch's ``torch.nn``."""

from convgrad.nn import functional  # noqa: F401
