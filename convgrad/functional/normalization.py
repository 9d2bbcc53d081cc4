"""normalization."""

__all__ = []
