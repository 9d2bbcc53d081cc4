"""Small helpers shared by layers: turning ``3`` into ``(3, 3)`` and friends."""

import collections.abc
from itertools import repeat


def _ntuple(n, name):
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")


def _reverse_repeat_tuple(t, n):
    """(a, b) -> (b, b, a, a) for n=2: F.pad's order (last dimension first) from per-dimension values."""
    return tuple(x for x in reversed(t) for _ in range(n))


def _shape(x):
    """The shape of a layer's input, which must be a Tensor (the caller's layer names itself in the error)."""
    from convgrad.tensor import Tensor

    if not isinstance(x, Tensor):
        if x is None:
            raise TypeError("expected the input to be a convgrad Tensor, got None")
        kind = "a NumPy array" if type(x).__module__ == "numpy" else f"a {type(x).__name__}"
        raise TypeError(f"expected the input to be a convgrad Tensor, got {kind} (wrap it with "
                        "convgrad.tensor(...) or convgrad.from_numpy(...))")
    return x._data.shape
