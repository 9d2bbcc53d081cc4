"""Shape operations and indexing. Forward returns views wherever NumPy can; backward undoes the
rearrangement (or scatters, for indexing)."""

import weakref

import numpy as np

from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.grad_mode import _off, _state


class View:
    """Mixin of the ops whose result may be a view of their input (PyTorch's view ops). An output that
    shares the input's memory shares its version counter (an in-place write through either is seen by
    the other's saved-tensor checks) and names the root of that memory as ``_base``, which in-place ops on
    the view rewrite through (``Tensor._rebase``)."""

    _multi_output = False  # Split's views: PyTorch forbids in-place ops on them in a graph

    @classmethod
    def apply(cls, *args):
        out = _apply(cls, *args)
        x = args[0]._data
        for o in out if type(out) is tuple else (out,):
            owner = o._data.base  # NumPy's view of a view names the array owning the memory
            if owner is not None and (owner is x or owner is x.base):
                _track_view(o, args[0], cls._multi_output)
        return out


_apply = NumpyFunction.apply.__func__


def _track_view(view, x, multi_output):
    root = x if x._base is None else x._base
    vc = root._vc
    if type(vc) is not list:
        vc = root._vc = [0]
    view._vc = vc
    view._base = root
    grad = not _off[0] or _state.enabled
    # PyTorch's rules follow a view's views: a view of split's output or of a no_grad view is one too
    kind = "multi-output" if multi_output else (
        "no_grad view's view" if x._view_kind == "no_grad" else x._view_kind or (None if grad else "no_grad"))
    if kind is not None:
        view._view_kind = kind
    if grad and (root.grad_fn is not None or not root.requires_grad):
        register_view(root, view)  # (a view of a leaf that requires grad cannot be written in a graph)


def register_view(root, view):
    """Keep a weak reference to ``view`` on ``root``, whose in-place ops renew the node of each live view
    they overlap. Keyed by id (a WeakSet would compare Tensors with ==, elementwise); dead references
    are dropped each time the dict reaches a power of two in size, so it stays within twice the live."""
    views = root._views
    if views is None:
        root._views = {id(view): weakref.ref(view)}
        return
    views[id(view)] = weakref.ref(view)
    n = len(views)
    if n >= 64 and not n & (n - 1):
        for key in [k for k, ref in views.items() if ref() is None]:
            del views[key]


def byte_extent(a):
    """The byte addresses [lo, hi) that array ``a`` spans (from its shape and strides; O(ndim))."""
    lo = hi = a.__array_interface__["data"][0]
    if a.size == 0:
        return lo, lo
    for n, stride in zip(a.shape, a.strides):
        lo, hi = lo + min(0, (n - 1) * stride), hi + max(0, (n - 1) * stride)
    return lo, hi + a.itemsize


def index_extent(a, index):
    """The byte extent of ``a[index]`` for a basic index; None (all of ``a``) for an advanced one."""
    if _is_advanced(index):
        return None
    return byte_extent(a[index] if Ellipsis in _as_tuple(index) else a[_as_tuple(index) + (Ellipsis,)])


def flat_positions(base, view):
    """The C-order flat index into ``base`` of each element of ``view``, a NumPy view of ``base``'s memory,
    from their addresses: each view address is taken apart along base's axes, largest stride first (exact
    for any layout NumPy's views and transposes make; checked, with a sort of base's addresses as the
    fallback)."""
    offsets = _addresses(view, view.__array_interface__["data"][0] - base.__array_interface__["data"][0])
    axes = sorted((d for d in range(base.ndim) if base.shape[d] > 1), key=lambda d: -base.strides[d])
    if all(base.strides[d] > 0 for d in axes):
        rest, pos = offsets.copy(), np.zeros_like(offsets)
        ok = True
        for d in axes:
            i = rest // base.strides[d]
            ok = ok and bool(((i >= 0) & (i < base.shape[d])).all())
            rest -= i * base.strides[d]
            pos += i * (int(np.prod(base.shape[d + 1:])))
        if ok and not rest.any():
            return pos.reshape(view.shape)
    ab = _addresses(base, 0)
    order = np.argsort(ab, kind="stable")
    sorted_ab = ab[order]
    pos = np.minimum(np.searchsorted(sorted_ab, offsets), max(len(ab) - 1, 0))
    if len(offsets) and (not len(ab) or not np.array_equal(sorted_ab[pos], offsets)):
        raise RuntimeError("in-place write through a view: the view's elements are not in its base's memory")
    return order[pos].reshape(view.shape)


def _addresses(a, offset):
    """Byte offset of each element of ``a`` (C order, flat) from ``a``'s first element, plus ``offset``."""
    addr = np.full((1,) * a.ndim, offset, np.int64)
    for d, (n, stride) in enumerate(zip(a.shape, a.strides)):
        along_d = (1,) * d + (n,) + (1,) * (a.ndim - d - 1)
        addr = addr + (np.arange(n, dtype=np.int64) * stride).reshape(along_d)
    return np.broadcast_to(addr, a.shape).reshape(-1)


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


class Reshape(View, Rearrangement):
    """A view with a new shape (a copy when the memory layout does not allow a view)."""
    f = lambda x, shape: x.reshape(shape)
    inverse = lambda x, shape: x.shape


class Permute(View, Rearrangement):
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


class Expand(View, PassThrough):
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


class Split(View, NumpyFunction):
    """Views of consecutive pieces of x along ``dim``; the gradient joins the pieces' gradients."""

    _multi_output = True

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


class GetItem(View, NumpyFunction):
    """y = x[index]; backward scatters g into zeros at the indexed places, adding where an integer-array
    index names a place twice. A view unless the index has an integer array or a mask (NumPy's rule, and
    PyTorch's); one element picked by integers is a 0-d view, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        ctx.advanced = _is_advanced(index)
        if ctx.advanced or Ellipsis in _as_tuple(index):
            return x[index]
        return x[_as_tuple(index) + (Ellipsis,)]  # the same view; x[i, j] alone would be a NumPy scalar copy

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


class AsStrided(GetItem):
    """y = x at flat positions ``index`` (an integer-array index): a view's node made anew from its base
    after an in-place op rewrote the base (PyTorch's AsStridedBackward0)."""


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

    @staticmethod
    def tensor_backward(ctx, g):
        return SetItem.apply(g, ctx.index, 0), None, GetItem.apply(g, ctx.index)


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
    """y = x reversed along ``dims``; so is the gradient. A copy, as PyTorch's (NumPy's flip is a view, so an
    in-place op on the result would write into x)."""
    f = lambda x, dims: np.flip(x, dims).copy()
    inverse = lambda x, dims: dims

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, ctx.inverse_arg), None  # a view will do: the engine copies before adding into it


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


def _as_tuple(index):
    return index if isinstance(index, tuple) else (index,)


def _is_advanced(index):
    if not isinstance(index, tuple):
        index = (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in index)
