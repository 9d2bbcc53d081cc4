"""Reductions over ``dim`` (an int, a tuple, or None for all), with ``keepdim``."""

import numpy as np

from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import saved_as_tensors


def _expand_back(g, shape, axis, keepdim):
    """Reinsert the reduced axes into ``g`` so it broadcasts against the input of ``shape``."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if not keepdim:
        g = np.expand_dims(g, axis)
    return g


def _expand_back_tensor(g, shape, axis, keepdim):
    """``_expand_back`` with Tensor ops (create_graph)."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if not keepdim:
        for a in sorted(axis) if isinstance(axis, tuple) else (axis,):
            g = g.unsqueeze(a)
    return g


class Sum(NumpyFunction):
    """y = sum_i x_i;  dy/dx_i = 1"""

    @staticmethod
    def forward(ctx, x, axis, keepdim, dtype=None):
        ctx.shape, ctx.axis, ctx.keepdim = x.shape, axis, keepdim
        return np.sum(x, axis=axis, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axis, ctx.keepdim)
        return np.broadcast_to(g, ctx.shape), None, None

    @staticmethod
    def tensor_backward(ctx, g):
        return _expand_back_tensor(g, ctx.shape, ctx.axis, ctx.keepdim).expand(ctx.shape), None, None


class Mean(NumpyFunction):
    """y = (1/n) sum_i x_i;  dy/dx_i = 1/n"""

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.shape, ctx.axis, ctx.keepdim = x.shape, axis, keepdim
        y = np.mean(x, axis=axis, keepdims=keepdim)
        ctx.n = x.size // max(y.size, 1) if x.size else 1
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axis, ctx.keepdim) / ctx.n
        return np.broadcast_to(g, ctx.shape), None, None

    @staticmethod
    def tensor_backward(ctx, g):
        g = _expand_back_tensor(g, ctx.shape, ctx.axis, ctx.keepdim) / ctx.n
        return g.expand(ctx.shape), None, None


class _ComparedWithInput(NumpyFunction):
    """A reduction whose gradient reads x beside y: ``reduce(x, axis=, keepdims=True)`` keeps the reduced
    axes (length 1) so y broadcasts against x; ``keepdim=False`` drops them from the output only."""

    reduce = None

    @classmethod
    def forward(cls, ctx, x, axis, keepdim):
        y = cls.reduce(x, axis=axis, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.axis, ctx.keepdim = axis, keepdim
        return y if keepdim else (y.reshape(()) if axis is None else np.squeeze(y, axis))


class MaxAll(_ComparedWithInput):
    """y = max(x) over the given axes; ties share the gradient equally (PyTorch's amax rule)."""

    reduce = staticmethod(np.max)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        g = _expand_back(g, x.shape, ctx.axis, ctx.keepdim)
        mask = x == y
        count = mask.sum(axis=ctx.axis, keepdims=True)
        return (mask * (g / count)).astype(g.dtype, copy=False), None, None

    @staticmethod
    def tensor_backward(ctx, g):
        x, y = ctx.saved_tensors
        g = _expand_back_tensor(g, x.shape, ctx.axis, ctx.keepdim)
        mask = x == y
        return g * (mask / mask.sum(axis=ctx.axis, keepdims=True)).astype(g.dtype), None, None


class MinAll(MaxAll):
    reduce = staticmethod(np.min)


class MaxDim(NumpyFunction):
    """(values, indices) = max(x, dim): the gradient goes to the arg-max only."""

    arg = staticmethod(np.argmax)

    @classmethod
    def forward(cls, ctx, x, dim, keepdim):
        idx = np.expand_dims(cls.arg(x, axis=dim), dim)
        vals = np.take_along_axis(x, idx, dim)
        ctx.shape, ctx.dim, ctx.idx = x.shape, dim, idx
        if not keepdim:
            vals, idx = np.squeeze(vals, dim), np.squeeze(idx, dim)
        idx = idx.astype(np.int64, copy=False)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, g, _gidx):
        gx = np.zeros(ctx.shape, g.dtype)
        if g.ndim < len(ctx.shape):
            g = np.expand_dims(g, ctx.dim)
        np.put_along_axis(gx, ctx.idx, g, ctx.dim)
        return gx, None, None

    @staticmethod
    def tensor_backward(ctx, g, _gidx):
        if g.ndim < len(ctx.shape):
            g = g.unsqueeze(ctx.dim)
        onehot = np.zeros(ctx.shape, g.dtype)
        np.put_along_axis(onehot, ctx.idx, 1, ctx.dim)
        return g * onehot, None, None


class MinDim(MaxDim):
    arg = staticmethod(np.argmin)


class Var(NumpyFunction):
    """v = sum (x - mean)^2 / (n - correction);  dv/dx = 2 (x - mean) / (n - correction)"""

    @staticmethod
    def forward(ctx, x, axis, correction, keepdim):
        mean = np.mean(x, axis=axis, keepdims=True)
        d = x - mean
        n = x.size // max(mean.size, 1)
        denom = max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.sum(d * d, axis=axis, keepdims=keepdim) / x.dtype.type(denom)
        ctx.save_for_backward(d)
        ctx.axis, ctx.keepdim, ctx.denom = axis, keepdim, denom
        return v.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        g = _expand_back(g, d.shape, ctx.axis, ctx.keepdim)
        with np.errstate(divide="ignore"):
            scale = d.dtype.type(2) / d.dtype.type(ctx.denom)  # inf when n <= correction, as PyTorch
        return g * d * scale, None, None, None


def _logsumexp(x, axis, keepdims=True):
    """ln sum e^x along ``axis``, the reduced axes kept (``_ComparedWithInput`` asks only for that)."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # all -inf (or an inf) along the axis: no shift
    s = np.sum(np.exp(x - m), axis=axis, keepdims=True)
    return np.log(s) + m


class LogSumExp(_ComparedWithInput):
    """y = m + ln sum_i e^(x_i - m) with m = max x (stable);  dy/dx_i = softmax(x)_i = e^(x_i - y)"""

    reduce = staticmethod(_logsumexp)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        g = _expand_back(g, x.shape, ctx.axis, ctx.keepdim)
        return g * np.exp(x - y), None, None

    @staticmethod
    def tensor_backward(ctx, g):
        (x, _) = saved_as_tensors(ctx)
        g = _expand_back_tensor(g, x.shape, ctx.axis, ctx.keepdim)
        axis = tuple(range(x.ndim)) if ctx.axis is None else ctx.axis
        return g * (x - x.logsumexp(axis, keepdim=True)).exp(), None, None


class Prod(NumpyFunction):
    """y = prod x;  dy/dx_i = prod_{j != i} x_j (computed without dividing, so zeros are fine)"""

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.save_for_backward(x)
        ctx.axis, ctx.keepdim = axis, keepdim
        return np.prod(x, axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        axis = ctx.axis
        g = _expand_back(g, x.shape, axis, ctx.keepdim)
        flat = axis is None
        xx = x.reshape(-1) if flat else np.moveaxis(x, axis, -1)
        ones = np.ones_like(xx[..., :1])
        left = np.cumprod(np.concatenate([ones, xx[..., :-1]], -1), -1)
        right = np.cumprod(np.concatenate([ones, xx[..., :0:-1]], -1), -1)[..., ::-1]
        others = left * right
        others = others.reshape(x.shape) if flat else np.moveaxis(others, -1, axis)
        return g * others, None, None


def _minus_max(x, dim):
    """x - max_j x_j along ``dim``, so that exp of it stays finite (a new array; an empty x gives one)."""
    if x.size == 0:
        return np.empty_like(x)
    with np.errstate(invalid="ignore"):  # a slice of only +inf gives nan, silently as in PyTorch
        return x - np.max(x, axis=dim, keepdims=True)


class Softmax(NumpyFunction):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m), m = max_j x_j (the shift keeps exp finite);
    dL/dx = y (g - sum_j g_j y_j)"""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = _minus_max(x, dim)
        np.exp(y, out=y)
        y /= np.sum(y, axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        gy -= y * np.sum(gy, axis=ctx.dim, keepdims=True)
        return gy, None

    @staticmethod
    def tensor_backward(ctx, g):
        (y,) = saved_as_tensors(ctx)
        gy = g * y
        return gy - y * gy.sum(dim=ctx.dim, keepdim=True), None


class LogSoftmax(NumpyFunction):
    """y_i = x_i - m - ln sum_j e^(x_j - m), m = max_j x_j;  dL/dx = g - e^y sum_j g_j"""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = _minus_max(x, dim)
        with np.errstate(invalid="ignore", divide="ignore"):
            y -= np.log(np.sum(np.exp(y), axis=dim, keepdims=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - np.exp(y) * np.sum(g, axis=ctx.dim, keepdims=True), None

    @staticmethod
    def tensor_backward(ctx, g):
        (y,) = saved_as_tensors(ctx)
        return g - y.exp() * g.sum(dim=ctx.dim, keepdim=True), None
