"""Adaptive pooling: windows chosen so the output has a given size, whatever the input's (global average
pooling is the 1x1 case). Window i of n inputs -> o outputs spans [floor(i n / o), ceil((i + 1) n / o))."""

import itertools

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.functional.pooling import _AvgPool, _check_input, _MaxPool, _Windows
from convgrad.geometry import int_tuple

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices"]


def _adaptive_sizes(op, input, nsp, output_size):
    outs = int_tuple(op, "output_size", output_size, nsp, allow_none=True)
    sizes = tuple(input.shape[-nsp:])
    outs = tuple(n if o is None else o for o, n in zip(outs, sizes))
    if min(outs) < 0:
        raise checks.error(op, "output_size >= 0 in every dim", f"output_size={outs}")
    return sizes, outs


def _bounds(n, o):
    """Adaptive windows: [floor(i n / o), ceil((i + 1) n / o)) for i < o."""
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _averaging_matrix(n, o, dtype):
    """(o, n) matrix whose row i averages adaptive window i."""
    start, end = _bounds(n, o)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class _GlobalAvgPool(NumpyFunction):
    """y[n, c] = mean of x[n, c] over all spatial positions (kept as size-1 dims)."""

    @staticmethod
    def forward(ctx, x, nsp):
        count = int(np.prod(x.shape[x.ndim - nsp:]))
        ctx.shape, ctx.count = x.shape, count
        # einsum sums the rows 5x faster than np.mean, without a threaded BLAS call (which can stall
        # for milliseconds when the cores are busy)
        sums = np.einsum("ij->i", x.reshape(-1, count))
        sums /= count
        return sums.reshape(x.shape[: x.ndim - nsp] + (1,) * nsp)

    @staticmethod
    def backward(ctx, g):
        dx = np.empty(ctx.shape, g.dtype)
        np.copyto(dx.reshape(-1, ctx.count), (g / ctx.count).reshape(-1, 1))
        return dx, None


class _AdaptiveAvgPool(NumpyFunction):
    """y = A_h x A_w^T per plane, with A the (out, in) averaging matrices of the adaptive windows."""

    @staticmethod
    def forward(ctx, x, mats):
        ctx.mats = mats
        y = x
        for i, m in enumerate(mats):
            y = _apply_along(y, m, x.ndim - len(mats) + i)
        return np.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, g):
        dx = g
        nd = g.ndim
        for i, m in enumerate(ctx.mats):
            dx = _apply_along(dx, m.T, nd - len(ctx.mats) + i)
        return np.ascontiguousarray(dx), None


def _apply_along(x, m, axis):
    """Contract ``x``'s ``axis`` with the matrix ``m`` (out, in): result has size ``out`` there."""
    if axis == x.ndim - 1:
        return np.matmul(x, m.T)
    return np.moveaxis(np.matmul(m, np.moveaxis(x, axis, -2)), -2, axis)


def _adaptive_avg(op, nsp, input, output_size):
    _check_input(op, input, nsp, kinds="f")
    sizes, outs = _adaptive_sizes(op, input, nsp, output_size)
    if all(o == 1 for o in outs):
        return _GlobalAvgPool.apply(input, nsp)
    if all(o > 0 and n % o == 0 for n, o in zip(sizes, outs)):
        ks = tuple(n // o for n, o in zip(sizes, outs))
        geo = _Windows(sizes, ks, ks, (0,) * nsp, (1,) * nsp, False)
        return _AvgPool.apply(input, geo, int(np.prod(ks)))
    mats = tuple(_averaging_matrix(n, o, input.dtype) for n, o in zip(sizes, outs))
    return _AdaptiveAvgPool.apply(input, mats)


@checks.typed
def adaptive_avg_pool1d(input, output_size):
    """y[n, c, i] = mean of x[n, c, floor(iL/o) : ceil((i+1)L/o)]; output (N, C, o)."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


@checks.typed
def adaptive_avg_pool2d(input, output_size):
    """y[n, c, i, j] = mean of x over rows [floor(iH/oh), ceil((i+1)H/oh)) and the like columns;
    output (N, C, oh, ow); ``None`` keeps that input size. ``output_size=1`` is global average pooling."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


class _AdaptiveMaxPool(NumpyFunction):
    """y[i] = max over adaptive window i (windows may overlap); the gradient goes to the arg-max."""

    @staticmethod
    def forward(ctx, x, sizes, outs, want_indices):
        # per dim, the element each window reads at step t (clamped to the window's last element:
        # re-reading it never changes the first maximum)
        reads = []
        for n, o in zip(sizes, outs):
            start, end = _bounds(n, o)
            K = int((end - start).max()) if o else 1
            reads.append([np.minimum(start + t, end - 1) for t in range(K)])
        out = idx = None
        for steps in itertools.product(*reads):
            grids = np.ix_(*steps)
            v = x[(Ellipsis,) + grids]
            flat = np.zeros(outs, np.int64)
            for pos, n in zip(grids, sizes):
                flat = flat * n + pos
            if out is None:
                out = v.copy()
                idx = np.broadcast_to(flat, v.shape).copy()
                continue
            better = (v > out) | np.isnan(v) if v.dtype.kind == "f" else v > out
            np.copyto(out, v, where=better)
            np.copyto(idx, flat, where=better)
        ctx.shape, ctx.idx, ctx.outs = x.shape, idx, outs
        if want_indices:
            ctx.mark_non_differentiable(idx)
            ctx.set_materialize_grads(False)
            return out, idx
        return out

    @staticmethod
    def backward(ctx, g, *_):
        if g is None:
            return None, None, None, None
        return _scatter_flat(g, ctx.idx, ctx.shape, len(ctx.outs)), None, None, None


def _scatter_flat(g, idx, shape, nsp):
    """dx of ``shape`` with g[k] added at the flat in-plane position idx[k] (positions may repeat)."""
    plane = int(np.prod(shape[len(shape) - nsp:]))
    planes = int(np.prod(shape[: len(shape) - nsp]))
    dx = np.zeros(planes * plane, g.dtype)
    base = (np.arange(planes, dtype=np.int64) * plane).reshape((-1,) + (1,) * nsp)
    where = base + idx.reshape((planes,) + idx.shape[idx.ndim - nsp:])
    np.add.at(dx, where.reshape(-1), g.reshape(-1))
    return dx.reshape(shape)


def _adaptive_max(op, nsp, input, output_size, return_indices):
    _check_input(op, input, nsp, kinds="f")
    sizes, outs = _adaptive_sizes(op, input, nsp, output_size)
    if all(o > 0 and n % o == 0 for n, o in zip(sizes, outs)):
        ks = tuple(n // o for n, o in zip(sizes, outs))
        geo = _Windows(sizes, ks, ks, (0,) * nsp, (1,) * nsp, False)
        return _MaxPool.apply(input, geo, bool(return_indices))
    return _AdaptiveMaxPool.apply(input, sizes, outs, bool(return_indices))


@checks.typed
def adaptive_max_pool1d(input, output_size, return_indices=False):
    """y[n, c, i] = max of x[n, c, floor(iL/o) : ceil((i+1)L/o)]; output (N, C, o)."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


@checks.typed
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """y[n, c, i, j] = max of x over the adaptive window (i, j) (see adaptive_avg_pool2d);
    ``return_indices`` adds the flat arg-max ``h*W + w``."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """``adaptive_max_pool1d(..., return_indices=True)``: (output, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """``adaptive_max_pool2d(..., return_indices=True)``: (output, indices)."""
    return adaptive_max_pool2d(input, output_size, True)
