"""convolution."""

__all__ = []
