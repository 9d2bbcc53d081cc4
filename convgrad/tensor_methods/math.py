"""More of PyTorch's math on tensors: logarithms and exponentials near zero, trigonometric and
hyperbolic functions, remainders, the fused ``add*`` products (``addmm``, ``baddbmm``, ``addcmul``, ...),
running products, NaN-ignoring sums, medians and comparisons with tolerance."""

import math
import numbers
from collections import namedtuple

import numpy as np

from convgrad.ops import cumulative
from convgrad.ops import math as math_ops
from convgrad.tensor_methods.base import TensorBase

_LN2, _LN10 = math.log(2.0), math.log(10.0)


# (min, max), also readable by name (``aminmax``'s result)
_MinMax = namedtuple("_MinMax", ["min", "max"])


def _values_indices(values, indices):
    from convgrad.tensor_methods.reduction import _MaxResult

    return _MaxResult(values, indices)


def _matrix(op, name, t, ndim):
    if not isinstance(t, TensorBase):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise RuntimeError(f"{op}: expected {name} to be {ndim}-D, got shape {tuple(t.shape)}")


# the fused products: each operand's name and number of dimensions, and the product itself
_PRODUCTS = {
    "addmm": (("mat1", 2), ("mat2", 2), lambda a, b: a.mm(b)),
    "addmv": (("mat", 2), ("vec", 1), lambda a, b: a.mv(b)),
    "baddbmm": (("batch1", 3), ("batch2", 3), lambda a, b: a.bmm(b)),
    "addbmm": (("batch1", 3), ("batch2", 3), lambda a, b: a.bmm(b).sum(0)),
}


def _add_product(op, self, a, b, beta, alpha):
    """beta * self + alpha * product(a, b) with ``op``'s operands and product (``_PRODUCTS``); beta = 0
    ignores self (NaN in it included), as PyTorch."""
    (name_a, ndim_a), (name_b, ndim_b), product = _PRODUCTS[op]
    _matrix(op, name_a, a, ndim_a)
    _matrix(op, name_b, b, ndim_b)
    out = product(a, b)
    if alpha != 1:
        out = out * alpha
    try:
        shape = np.broadcast_shapes(self.shape, out.shape)
    except ValueError:
        shape = None
    if shape != tuple(out.shape):
        raise RuntimeError(f"{op}: expected input to broadcast to the product's shape {tuple(out.shape)}, "
                           f"got shape {tuple(self.shape)}")
    if beta == 0:
        return out
    return out + (self if beta == 1 else self * beta)


class MathMethods(TensorBase):
    __slots__ = ()

    # ------------------------------------------------------------------ elementwise
    def log2(self):
        return self.log() * (1 / _LN2)

    def log10(self):
        return self.log() * (1 / _LN10)

    def exp2(self):
        return (self.float() if self._data.dtype.kind != "f" else self).mul(_LN2).exp()

    def frac(self):
        return self - self.trunc()

    def negative(self):
        return -self

    def floor_divide(self, other):
        return self // other

    def remainder(self, other):
        return self % other

    def fmod(self, other):
        return self._binary(other, math_ops.Fmod)

    def __rfloordiv__(self, other):
        return self._new(np.floor_divide(other, self._data))

    def __rmod__(self, other):
        return self._new(np.mod(other, self._data))

    def lerp(self, end, weight):
        """start + weight (end - start)"""
        return self + weight * (end - self)

    # ------------------------------------------------------------------ fused products
    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """beta * input + alpha * (mat1 @ mat2);  (n, m) @ (m, p) -> (n, p)"""
        return _add_product("addmm", self, mat1, mat2, beta, alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        """beta * input + alpha * (mat @ vec);  (n, m) @ (m,) -> (n,)"""
        return _add_product("addmv", self, mat, vec, beta, alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * input + alpha * (batch1 @ batch2) per batch;  (b, n, m) @ (b, m, p) -> (b, n, p)"""
        return _add_product("baddbmm", self, batch1, batch2, beta, alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * input + alpha * sum_b (batch1[b] @ batch2[b]);  -> (n, p)"""
        return _add_product("addbmm", self, batch1, batch2, beta, alpha)

    def addcmul(self, tensor1, tensor2, *, value=1):
        """input + value * tensor1 * tensor2"""
        prod = tensor1 * tensor2
        return self + (prod if value == 1 else prod * value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        """input + value * tensor1 / tensor2"""
        quot = tensor1 / tensor2
        return self + (quot if value == 1 else quot * value)

    def mv(self, vec):
        """(n, m) @ (m,) -> (n,)"""
        _matrix("mv", "input", self, 2)
        _matrix("mv", "vec", vec, 1)
        return self.matmul(vec)

    def dot(self, other):
        """sum_i x_i y_i of two 1-D tensors of one size"""
        _matrix("dot", "input", self, 1)
        _matrix("dot", "tensor", other, 1)
        if self.shape != other.shape:
            raise RuntimeError(f"dot: expected tensors of one size, got shapes {tuple(self.shape)} and "
                               f"{tuple(other.shape)}")
        return (self * other).sum()

    inner = None
    del inner

    def outer(self, vec2):
        """y_ij = x_i v_j;  (n,), (m,) -> (n, m)"""
        _matrix("outer", "input", self, 1)
        _matrix("outer", "vec2", vec2, 1)
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    ger = outer

    # ------------------------------------------------------------------ running products, NaN-free sums
    def cumprod(self, dim, dtype=None):
        d = self._dim(dim)
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu":
            return self._new(np.cumprod(x._data, axis=d, dtype=np.int64))
        return cumulative.CumProd.apply(x, d)

    def nansum(self, dim=None, keepdim=False):
        if self._data.dtype.kind != "f":
            return self.sum(dim, keepdim)
        return self.masked_fill(self.isnan(), 0).sum(dim, keepdim)

    def nanmean(self, dim=None, keepdim=False):
        if self._data.dtype.kind != "f":
            raise RuntimeError(f"nanmean: expected a floating point tensor, got dtype {self._data.dtype}")
        kept = (~self.isnan()).sum(dim, keepdim)
        return self.nansum(dim, keepdim) / kept.to(self.dtype)

    def count_nonzero(self, dim=None):
        return self._new(np.asarray(np.count_nonzero(self._data, axis=self._dims(dim)), np.int64))

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """out[i] = x[i + 1] - x[i] along ``dim``, ``n`` times (after joining prepend and append)."""
        from convgrad.tensor_functions import cat

        d = self._dim(dim)
        x = self
        if prepend is not None or append is not None:
            parts = [p if p.ndim == self.ndim else p.expand(self.shape[:d] + (-1,) + self.shape[d + 1:])
                     for p in (prepend, append) if p is not None]
            x = cat(([parts.pop(0)] if prepend is not None else []) + [x] + parts, d)
        for _ in range(n):
            m = x.shape[d]
            if m == 0:
                break
            hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
            x = hi.logical_xor(lo) if x.dtype == np.bool_ else hi - lo
        return x

    def median(self, dim=None, keepdim=False):
        """The lower median (element (n - 1) // 2 of the sorted values), as PyTorch; with ``dim``,
        (values, indices)."""
        if dim is None:
            flat = self.reshape(-1)
            if flat.numel() == 0:
                raise RuntimeError("median: expected a non-empty tensor, got shape (0,)")
            return flat.sort()[0][(flat.numel() - 1) // 2]
        d = self._dim(dim)
        return self.kthvalue((self.shape[d] - 1) // 2 + 1, d, keepdim) if self.ndim else \
            _values_indices(self.clone(), self._new(np.zeros((), np.int64)))

    def kthvalue(self, k, dim=-1, keepdim=False):
        """(values, indices) of the k-th smallest element (k from 1) along ``dim``."""
        if self.ndim == 0:
            return _values_indices(self.clone(), self._new(np.zeros((), np.int64)))
        d = self._dim(dim)
        n = self.shape[d]
        if not isinstance(k, numbers.Integral) or not 1 <= k <= n:
            raise RuntimeError(f"kthvalue: expected k in [1, {n}] (the size of dimension {d}), got {k}")
        values, indices = self.sort(d)
        values, indices = values.narrow(d, k - 1, 1), indices.narrow(d, k - 1, 1)
        if not keepdim:
            values, indices = values.squeeze(d), indices.squeeze(d)
        return _values_indices(values, indices)

    def aminmax(self, *, dim=None, keepdim=False):
        if dim is None:
            return _MinMax(self.amin(), self.amax()) if not keepdim else \
                _MinMax(self.amin(tuple(range(self.ndim)), True), self.amax(tuple(range(self.ndim)), True))
        return _MinMax(self.amin(dim, keepdim), self.amax(dim, keepdim))

    # ------------------------------------------------------------------ comparisons
    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        """|x - y| <= atol + rtol |y|"""
        o = other._data if isinstance(other, TensorBase) else other
        return self._new(np.isclose(self._data, o, rtol=rtol, atol=atol, equal_nan=equal_nan))

    # ------------------------------------------------------------------ in place
    def clip_(self, min=None, max=None):
        return self._inplace(lambda s: s.clamp(min, max))

    def lerp_(self, end, weight):
        return self._inplace(lambda s, e: s.lerp(e, weight), end)

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return self._inplace(lambda s, a, b: s.addcmul(a, b, value=value), tensor1, tensor2)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return self._inplace(lambda s, a, b: s.addcdiv(a, b, value=value), tensor1, tensor2)

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        return self._inplace(lambda s, a, b: s.addmm(a, b, beta=beta, alpha=alpha), mat1, mat2)

    def remainder_(self, other):
        return self._inplace(lambda s, o: s.remainder(o), other)

    def fmod_(self, other):
        return self._inplace(lambda s, o: s.fmod(o), other)

    def floor_divide_(self, other):
        return self._inplace(lambda s, o: s // o, other)
