"""Tensor methods that make new tensors like this one (``new_zeros``, ``new_tensor``, ...: this tensor's
dtype unless told otherwise), casts to the small integer types, and the in-place random fills beyond
``normal_``/``uniform_``."""

import numbers

import numpy as np

from convgrad.devices import check_device
from convgrad.random import rng
from convgrad.tensor_methods.base import TensorBase


def _sizes(op, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (numbers.Integral, np.integer)) or isinstance(s, bool) or s < 0:
            raise TypeError(f"{op}: expected a size of non-negative ints, got {tuple(size)}")
    return tuple(int(s) for s in size)


class CreationMethods(TensorBase):
    __slots__ = ()

    def _like(self, op, array, dtype, device, requires_grad):
        check_device(device, op)
        t = self._new(array)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def _dtype_or_own(self, dtype):
        return self._data.dtype if dtype is None else np.dtype(dtype)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A copy of ``data`` outside any graph, in this tensor's dtype unless ``dtype`` is given."""
        arr = data._data if isinstance(data, TensorBase) else np.asarray(data)
        arr = np.array(arr, dtype=self._dtype_or_own(dtype), copy=True)
        return self._like("new_tensor", arr, dtype, device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        arr = np.zeros(_sizes("new_zeros", size), self._dtype_or_own(dtype))
        return self._like("new_zeros", arr, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        arr = np.ones(_sizes("new_ones", size), self._dtype_or_own(dtype))
        return self._like("new_ones", arr, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        arr = np.empty(_sizes("new_empty", size), self._dtype_or_own(dtype))
        return self._like("new_empty", arr, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        arr = np.full(_sizes("new_full", (size,)), fill_value, self._dtype_or_own(dtype))
        return self._like("new_full", arr, dtype, device, requires_grad)

    # ------------------------------------------------------------------ random fills
    def random_(self, *args, generator=None):
        """``random_(to)``: integers uniform on [0, to); ``random_(from, to)`` on [from, to);
        ``random_()``: on [0, 2^mantissa bits] for floats, the dtype's range for integers."""
        if len(args) == 2:
            lo, hi = args
        elif len(args) == 1:
            lo, hi = 0, args[0]
        else:
            dt = self._data.dtype
            lo = 0
            hi = 2 ** (np.finfo(dt).nmant + 1) + 1 if dt.kind == "f" else \
                2 if dt.kind == "b" else int(np.iinfo(dt).max) + 1
        if hi is None or hi <= lo:
            raise RuntimeError(f"random_: expected from < to, got from={lo} and to={hi}")
        name = ("RandomBackward2", "RandomBackward1", "RandomBackward0")[len(args)]
        return self._fill(rng(generator).integers(lo, hi, self._data.shape), name)

    def exponential_(self, lambd=1.0, generator=None):
        return self._fill(rng(generator).exponential(1.0 / lambd, self._data.shape), "ExponentialBackward0")

    def geometric_(self, p, generator=None):
        return self._fill(rng(generator).geometric(p, self._data.shape), "GeometricBackward0")

    def log_normal_(self, mean=1.0, std=2.0, generator=None):
        return self._fill(rng(generator).lognormal(mean, std, self._data.shape), "LogNormalBackward0")

    def cauchy_(self, median=0.0, sigma=1.0, generator=None):
        values = median + sigma * rng(generator).standard_cauchy(self._data.shape)
        return self._fill(values, "CauchyBackward0")
