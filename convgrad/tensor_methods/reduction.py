"""Tensor reductions: ``sum``, ``mean``, ``max``/``min`` (with indices), ``var``, ``norm``, ``topk``."""


import warnings
from collections import namedtuple

import numpy as np

from convgrad import _checks as checks
from convgrad.dtypes import int64
from convgrad.ops import cumulative, reduction
from convgrad.tensor_methods.base import TensorBase


class ReductionMethods(TensorBase):
    __slots__ = ()

    def sum(self, dim=None, keepdim=False, dtype=None):
        if self._data.dtype.kind in "bi" and dtype is None:
            dtype = int64
        if self._data.dtype.kind not in "fc":
            axis = self._dims(dim, op="sum")
            return self._new(np.sum(self._data, axis=axis, keepdims=keepdim, dtype=dtype))
        return reduction.Sum.apply(self, self._dims(dim, op="sum"), keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind != "f":
            raise RuntimeError(
                f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                f"complex dtype. Got: {x._data.dtype}"
            )
        return reduction.Mean.apply(x, self._dims(dim, op="mean"), keepdim)

    def _max_min(self, dim, keepdim, all_op, dim_op, other_fn):
        if isinstance(dim, TensorBase):
            return other_fn(self, dim)
        if dim is None:
            if self._data.size == 0:
                raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() == 0.")
            return all_op.apply(self, None, False)
        vals, idx = dim_op.apply(self, self._dim(dim, op="_max_min"), keepdim)
        return _MaxResult(vals, idx)

    def max(self, dim=None, keepdim=False):
        return self._max_min(dim, keepdim, reduction.MaxAll, reduction.MaxDim, type(self).maximum)

    def min(self, dim=None, keepdim=False):
        return self._max_min(dim, keepdim, reduction.MinAll, reduction.MinDim, type(self).minimum)

    def amax(self, dim=(), keepdim=False):
        return reduction.MaxAll.apply(self, self._dims(dim, op="amax"), keepdim)

    def amin(self, dim=(), keepdim=False):
        return reduction.MinAll.apply(self, self._dims(dim, op="amin"), keepdim)

    def argmax(self, dim=None, keepdim=False):
        if dim is None:
            return self._new(np.asarray(np.argmax(self._data), np.int64))
        d = self._dim(dim, op="argmax")
        return self._new(np.argmax(self._data, axis=d, keepdims=keepdim).astype(np.int64))

    def argmin(self, dim=None, keepdim=False):
        if dim is None:
            return self._new(np.asarray(np.argmin(self._data), np.int64))
        d = self._dim(dim, op="argmin")
        return self._new(np.argmin(self._data, axis=d, keepdims=keepdim).astype(np.int64))

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        return reduction.Var.apply(self, self._dims(dim, op="var"), correction, keepdim)

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def softmax(self, dim, dtype=None):
        return self._softmax("softmax", reduction.Softmax, dim, dtype)

    def log_softmax(self, dim, dtype=None):
        return self._softmax("log_softmax", reduction.LogSoftmax, dim, dtype)

    def _softmax(self, name, op, dim, dtype, stacklevel=3):
        """``op`` (Softmax or LogSoftmax) along ``dim``; also the body of the functional forms."""
        if dim is None:
            # PyTorch's legacy rule for a missing dim: 0 for 0-, 1- and 3-D inputs, else 1
            warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                          "include dim=X as an argument.", stacklevel=stacklevel)
            dim = 0 if self.ndim in (0, 1, 3) else 1
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind != "f":
            raise checks.error(name, "input of a floating point dtype (pass dtype=convgrad.float32 to "
                               "convert)",
                               f"input of dtype {x.dtype}", TypeError)
        d = x._dim(dim, op=name)
        if x.ndim == 0:
            return op.apply(x.reshape(1), 0).reshape(())
        return op.apply(x, d)

    def logsumexp(self, dim, keepdim=False):
        return reduction.LogSumExp.apply(self, self._dims(dim, op="logsumexp"), keepdim)

    def prod(self, dim=None, keepdim=False):
        return reduction.Prod.apply(self, None if dim is None else self._dim(dim, op="prod"), keepdim)

    def norm(self, p=2, dim=None, keepdim=False):
        if p == 2 or p == "fro":
            return (self * self).sum(dim, keepdim).sqrt()
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if p == float("inf"):
            return self.abs().amax(dim if dim is not None else (), keepdim)
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        d = self._dim(dim, op="topk")
        if not 0 <= k <= self.shape[d]:
            raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size {self.shape[d]}")
        key = -self._data if largest else self._data
        idx = np.argsort(key, axis=d, kind="stable")
        idx = np.take(idx, np.arange(k), axis=d).astype(np.int64)
        return _TopkResult(self.gather(d, self._new(idx)), self._new(idx))

    def sort(self, dim=-1, descending=False):
        d = self._dim(dim, op="sort")
        key = -self._data if descending else self._data
        idx = np.argsort(key, axis=d, kind="stable").astype(np.int64)
        return _TopkResult(self.gather(d, self._new(idx)), self._new(idx))

    def argsort(self, dim=-1, descending=False):
        return self.sort(dim, descending)[1]

    def cumsum(self, dim, dtype=None):
        """y_i = x_0 + ... + x_i along ``dim`` (integers and bools sum in int64)."""
        d = self._dim(dim, op="cumsum")
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu":
            return self._new(np.cumsum(x._data, axis=d, dtype=np.int64))
        return cumulative.CumSum.apply(x, d, None)


# (values, indices), also readable by name, as PyTorch's torch.return_types
_MaxResult = namedtuple("_MaxResult", ["values", "indices"])
_TopkResult = _MaxResult
