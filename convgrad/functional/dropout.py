"""dropout."""

__all__ = []
