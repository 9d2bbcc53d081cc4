"""Padding layers: constant (zero), reflection, replication and circular padding of 1-D and 2-D inputs.

``padding`` is an int (every side) or (left, right[, top, bottom]), F.pad's order."""

from convgrad import _checks as checks
from convgrad.nn import functional as F
from convgrad.nn.modules.module import Module


def _sides(layer, padding, n):
    """int -> 2n equal sides; a tuple must already have 2n entries."""
    return checks.ints(layer, "padding", padding, 2 * n, one_ok=False, exc=ValueError)


class _PadNd(Module):
    _n = 2
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _sides(type(self).__name__, padding, self._n)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    _n = 1


class ConstantPad2d(_ConstantPadNd):
    pass


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    _n = 1
    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    _mode = "reflect"


class ReplicationPad1d(_PadNd):
    _n = 1
    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    _mode = "replicate"


class CircularPad1d(_PadNd):
    _n = 1
    _mode = "circular"


class CircularPad2d(_PadNd):
    _mode = "circular"

