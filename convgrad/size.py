"""``Size``: a tensor's shape, as ``torch.Size``: a tuple of ints with ``numel()``."""

import numbers
from math import prod


class Size(tuple):
    """``Size([2, 3])`` is the tuple ``(2, 3)``; slicing and ``+`` give a Size; ``numel()`` = product."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        sizes = tuple(sizes)
        for s in sizes:
            if not isinstance(s, numbers.Integral) or isinstance(s, bool):
                raise TypeError(f"Size: expected a sequence of ints, got {type(s).__name__} {s!r}")
        return super().__new__(cls, (int(s) for s in sizes))

    def numel(self):
        return prod(self)

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return tuple.__new__(Size, r) if isinstance(i, slice) else r

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        return tuple.__new__(Size, tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __repr__(self):
        return f"convgrad.Size({list(self)})"

    def __reduce__(self):
        return Size, (tuple(self),)
