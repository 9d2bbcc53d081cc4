"""The root class of ``Tensor``'s method groups."""


class TensorBase:
    """What the method groups know of a tensor: ``isinstance(x, TensorBase)`` is ``isinstance(x, Tensor)``
    (they cannot import ``Tensor``, which is built from them), and ``self._new(array)`` wraps a result."""

    __slots__ = ()

    @staticmethod
    def _new(array):
        """A plain Tensor around ``array`` (``convgrad.tensor.Tensor`` defines it)."""
        raise NotImplementedError
