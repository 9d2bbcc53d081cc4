"""Shape operations and indexing. Forward returns views wherever NumPy can; backward undoes the
rearrangement (or scatters, for indexing)."""

import numpy as np

from convgrad.autograd.function import NumpyFunction


class Rearrangement(NumpyFunction):
    """y = f(x, arg) for an invertible rearrangement f; dL/dx = f(g, inverse(x, arg)), the same op again
    (recorded, for create_graph). An op gives ``f`` and ``inverse``."""

    f = inverse = None

    @classmethod
    def forward(cls, ctx, x, arg):
        if ctx.needs_input_grad:  # inference skips it (Permute's argsort)
            ctx.inverse_arg = cls.inverse(x, arg)
        return cls.f(x, arg)

    @classmethod
    def backward(cls, ctx, g):
        return cls.f(g, ctx.inverse_arg), None

    @classmethod
    def tensor_backward(cls, ctx, g):
        return cls.apply(g, ctx.inverse_arg), None


class Reshape(Rearrangement):
    """A view with a new shape (a copy when the memory layout does not allow a view)."""
    f = lambda x, shape: x.reshape(shape)
    inverse = lambda x, shape: x.shape


class Permute(Rearrangement):
    """y = x with axes reordered by ``dims``; the gradient is permuted back by the inverse order."""
    f = np.transpose
    inverse = lambda x, dims: tuple(int(d) for d in np.argsort(dims))


class PassThrough(NumpyFunction):
    """Base of the ops whose gradient reaches each tensor input unchanged: dL/dx = g (the engine sums it
    back to the input's shape where forward broadcast). An op gives ``forward``."""

    @staticmethod
    def backward(ctx, g):
        return (g,) * len(ctx.needs_input_grad)  # the engine routes only those with an edge

    tensor_backward = backward  # the same expression records Tensor ops (create_graph)


class Expand(PassThrough):
    """A broadcast view; the engine sums the gradient back to the input's shape."""

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)


class Repeat(NumpyFunction):
    """y = x tiled ``reps`` times along each axis; the gradient sums the tiles."""

    @staticmethod
    def forward(ctx, x, reps):
        ctx.shape = (1,) * (len(reps) - x.ndim) + x.shape
        ctx.reps = reps
        return np.tile(x, reps)

    @staticmethod
    def backward(ctx, g):
        split = []
        for r, n in zip(ctx.reps, ctx.shape):
            split += [r, n]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g, None

    @staticmethod
    def tensor_backward(ctx, g):
        split = []
        for r, n in zip(ctx.reps, ctx.shape):
            split += [r, n]
        return g.reshape(split).sum(dim=tuple(range(0, len(split), 2))), None


class Cat(NumpyFunction):
    """y = [x_1, x_2, ...] joined along ``dim``; each gradient is its slice of g."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.bounds = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *np.split(g, ctx.bounds, axis=ctx.dim))

    @staticmethod
    def tensor_backward(ctx, g):
        return (None, *Split.apply(g, [int(b) for b in ctx.bounds], ctx.dim))


class Stack(NumpyFunction):
    """y = [x_1, x_2, ...] stacked along a new axis ``dim``."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        return np.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *(np.take(g, i, axis=ctx.dim) for i in range(g.shape[ctx.dim])))

    @staticmethod
    def tensor_backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        return (None, *(g[lead + (i,)] for i in range(g.shape[ctx.dim])))


class Split(NumpyFunction):
    """Views of consecutive pieces of x along ``dim``; the gradient joins the pieces' gradients."""

    @staticmethod
    def forward(ctx, x, bounds, dim):
        ctx.dim = dim
        return tuple(np.split(x, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *gs):
        return np.concatenate(gs, axis=ctx.dim), None, None

    @staticmethod
    def tensor_backward(ctx, *gs):
        return Cat.apply(ctx.dim, *gs), None, None


class PadConstant(NumpyFunction):
    """Pad with a constant; ``widths`` is NumPy's ((before, after), ...), negative widths crop."""

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.in_shape = x.shape
        ctx.crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(widths, x.shape))
        x = x[ctx.crop]
        ctx.pos = tuple((max(b, 0), max(a, 0)) for b, a in widths)
        ctx.shape = x.shape
        return np.pad(x, ctx.pos, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        g = g[tuple(slice(b, b + n) for (b, _), n in zip(ctx.pos, ctx.shape))]
        if ctx.shape != ctx.in_shape:  # the cropped border gets no gradient
            gx = np.zeros(ctx.in_shape, g.dtype)
            gx[ctx.crop] = g
            g = gx
        return g, None, None

    @staticmethod
    def tensor_backward(ctx, g):
        g = g[tuple(slice(b, b + n) for (b, _), n in zip(ctx.pos, ctx.shape))]
        if ctx.shape != ctx.in_shape:  # back into the cropped border, as zeros
            widths = tuple((c.start, n - c.stop) for c, n in zip(ctx.crop, ctx.in_shape))
            g = PadConstant.apply(g, widths, 0)
        return g, None, None


class GetItem(NumpyFunction):
    """y = x[index]; backward scatters g into zeros at the indexed places, adding where an integer-array
    index names a place twice."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        ctx.advanced = _is_advanced(index)
        return x[index]

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.shape, g.dtype)
        if ctx.advanced:
            np.add.at(gx, ctx.index, g)
        else:
            gx[ctx.index] = g
        return gx, None

    @staticmethod
    def tensor_backward(ctx, g):
        return IndexBackward.apply(g, ctx.shape, ctx.index, ctx.advanced), None


class SetItem(NumpyFunction):
    """y = x with y[index] = v;  dL/dx is g with zeros at index, dL/dv is g[index]."""

    @staticmethod
    def forward(ctx, x, index, v):
        ctx.index = index
        ctx.vshape = np.shape(v)
        y = x.copy()
        y[index] = v
        return y

    @staticmethod
    def backward(ctx, g):
        gx = g.copy()
        gx[ctx.index] = 0
        gv = g[ctx.index]
        return gx, None, gv


class Gather(NumpyFunction):
    """y[i][j] = x[i][index[i][j]] along ``dim``; backward adds g back at the gathered places."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return np.take_along_axis(x, index, dim)

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.shape, g.dtype)
        idx = [np.arange(n).reshape([-1 if k == a else 1 for k in range(g.ndim)])
               for a, n in enumerate(g.shape)]
        idx[ctx.dim] = ctx.index
        np.add.at(gx, tuple(idx), g)
        return gx, None, None

    @staticmethod
    def tensor_backward(ctx, g):
        return GatherBackward.apply(g, ctx.shape, ctx.dim, ctx.index), None, None


class Flip(Rearrangement):
    """y = x reversed along ``dims``; so is the gradient."""
    f = np.flip
    inverse = lambda x, dims: dims


class IndexBackward(NumpyFunction):
    """y = zeros(shape) with g put (added, for integer-array indices) at ``index``: GetItem's backward as
    an op of its own, for create_graph; its gradient is GetItem again."""

    @staticmethod
    def forward(ctx, g, shape, index, advanced):
        ctx.index = index
        gx = np.zeros(shape, g.dtype)
        if advanced:
            np.add.at(gx, index, g)
        else:
            gx[index] = g
        return gx

    @staticmethod
    def backward(ctx, gg):
        return gg[ctx.index], None, None, None

    @staticmethod
    def tensor_backward(ctx, gg):
        return GetItem.apply(gg, ctx.index), None, None, None


class GatherBackward(NumpyFunction):
    """y = zeros(shape) with g added at the places Gather took along ``dim`` (Gather's backward as an op,
    for create_graph); its gradient is Gather again."""

    @staticmethod
    def forward(ctx, g, shape, dim, index):
        ctx.dim, ctx.index = dim, index
        gx = np.zeros(shape, g.dtype)
        idx = [np.arange(n).reshape([-1 if k == a else 1 for k in range(g.ndim)])
               for a, n in enumerate(g.shape)]
        idx[dim] = index
        np.add.at(gx, tuple(idx), g)
        return gx

    @staticmethod
    def backward(ctx, gg):
        return np.take_along_axis(gg, ctx.index, ctx.dim), None, None, None

    @staticmethod
    def tensor_backward(ctx, gg):
        return Gather.apply(gg, ctx.dim, ctx.index), None, None, None


def _is_advanced(index):
    if not isinstance(index, tuple):
        index = (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in index)
