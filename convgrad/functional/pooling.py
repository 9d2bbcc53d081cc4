"""pooling."""

__all__ = []
