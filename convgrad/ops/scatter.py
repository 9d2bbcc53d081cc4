"""Writing values at indexed places: ``scatter`` (along one dimension, per element) and ``index_add`` /
``index_copy`` (whole slices). Backward sends each written place's gradient to what was written there,
and zero to the overwritten values."""

import numpy as np

from convgrad.autograd.function import NumpyFunction


def along(index, dim):
    """The NumPy index that names, for every position p of ``index``, the place p with its ``dim``-th
    coordinate replaced by index[p]."""
    idx = list(np.indices(index.shape, sparse=True))
    idx[dim] = index
    return tuple(idx)


class Scatter(NumpyFunction):
    """y = x, then y[.., index[p], ..] = src[p] (``reduce='add'``: += src[p]) along ``dim``.
    dL/dx = g with zeros where written (unchanged for 'add'); dL/dsrc[p] = g at the place p went to."""

    @staticmethod
    def forward(ctx, x, dim, index, src, add):
        where = along(index, dim)
        part = src[tuple(slice(0, n) for n in index.shape)] if np.ndim(src) else src
        y = x.copy()
        if add:
            np.add.at(y, where, part)
        else:
            y[where] = part
        ctx.where, ctx.add, ctx.src_shape = where, add, np.shape(src)
        return y

    @staticmethod
    def backward(ctx, g):
        need_x, need_src = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        gx = gsrc = None
        if need_x:
            gx = g
            if not ctx.add:
                gx = g.copy()
                gx[ctx.where] = 0
        if need_src:
            gsrc = np.zeros(ctx.src_shape, g.dtype)
            part = g[ctx.where]
            gsrc[tuple(slice(0, n) for n in part.shape)] = part
        return gx, None, None, gsrc, None


class IndexAdd(NumpyFunction):
    """y = x, then y[.., index[i], ..] += alpha source[.., i, ..] along ``dim``;
    dL/dx = g, dL/dsource = alpha g[.., index[i], ..]"""

    @staticmethod
    def forward(ctx, x, dim, index, source, alpha):
        where = (slice(None),) * dim + (index,)
        y = x.copy()
        np.add.at(y, where, source * alpha if alpha != 1 else source)
        ctx.where, ctx.alpha = where, alpha
        return y

    @staticmethod
    def backward(ctx, g):
        gs = g[ctx.where] if ctx.needs_input_grad[3] else None
        if gs is not None and ctx.alpha != 1:
            gs = gs * ctx.alpha
        return g, None, None, gs, None


class IndexCopy(NumpyFunction):
    """y = x, then y[.., index[i], ..] = source[.., i, ..] along ``dim``;
    dL/dx = g with zeros at the copied slices, dL/dsource = g[.., index[i], ..]"""

    @staticmethod
    def forward(ctx, x, dim, index, source):
        where = (slice(None),) * dim + (index,)
        y = x.copy()
        y[where] = source
        ctx.where = where
        return y

    @staticmethod
    def backward(ctx, g):
        gx = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[ctx.where] = 0
        gs = g[ctx.where] if ctx.needs_input_grad[3] else None
        return gx, None, None, gs
