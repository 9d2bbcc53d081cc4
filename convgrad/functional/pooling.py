"""Pooling over the last one or two (spatial) dims: max, average, adaptive, power-average, max unpooling.

A pooling window is read as ``prod(kernel)`` strided views of the (padded) input, one per kernel offset:
the view for offset ``a`` holds, for every output position ``i``, the input element ``i*s - p + a*d``.
Forward combines the views elementwise (max or sum), so no window array is ever materialised. Backward
writes the gradient back through the same views: by plain assignment for offsets whose views touch
disjoint input elements (all of them when the windows tile the input: the common 2x2/2 case), by
accumulation for the rest (overlapping windows, e.g. AlexNet's 3x3/2).

Max pooling keeps, per output, the number of the kernel offset that won (a uint8 "code"); its gradient
goes to that element only (for overlapping windows: added at the winners' flat positions, which measured
faster than one masked pass per offset). Ties go to the first maximum in row-major window order and NaN
wins, as in PyTorch; returned indices are flat ``h*W + w`` positions within each plane.
"""

import itertools

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.geometry import OutputSizeError, conv_transpose_out_size, int_tuple, pool_out_size, window_span
from convgrad.tensor import Tensor

__all__ = [
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool1d",
    "max_pool2d",
    "max_unpool1d",
    "max_unpool2d",
    "avg_pool1d",
    "avg_pool2d",
    "lp_pool1d",
    "lp_pool2d",
]


# --------------------------------------------------------------------------- argument checks
def _check_input(op, input, nsp, kinds="f"):
    """``input`` must be a Tensor of ``nsp + 1`` (unbatched) or ``nsp + 2`` dims, non-empty except batch."""
    checks.tensor(op, "input", input)
    sp = "H, W" if nsp == 2 else "L"
    checks.dims(op, "input", input, {nsp + 1: f"(C, {sp})", nsp + 2: f"(N, C, {sp})"})
    if 0 in tuple(input.shape)[-nsp - 1:]:
        raise checks.error(op, "an input non-empty except for the batch",
                           f"input of shape {tuple(input.shape)}")
    if input.dtype.kind not in kinds:
        what = {"f": "floating point", "fi": "floating point or signed integer"}.get(kinds, "numeric")
        raise checks.error(op, f"input of a {what} dtype (others are not implemented)",
                           f"input of dtype {input.dtype}", NotImplementedError)


def _ints(op, name, value, n, allow_none=False, low=None):
    """An int or a sequence of 1 or ``n`` ints, as an ``n``-tuple."""
    return checks.ints(op, name, value, n, allow_none=allow_none, low=low, exc=TypeError)


def _geometry(op, input, nsp, kernel_size, stride, padding, dilation, ceil_mode):
    ks = int_tuple(op, "kernel_size", kernel_size, nsp)
    ss = ks if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _ints(op, "stride", stride, nsp)
    ps = _ints(op, "padding", padding, nsp)
    ds = _ints(op, "dilation", dilation, nsp)
    for name, v in (("kernel_size", ks), ("stride", ss), ("dilation", ds)):
        if min(v) <= 0:
            raise checks.error(op, f"{name} >= 1", f"{name}={v}")
    if min(ps) < 0 or any(p > k // 2 for p, k in zip(ps, ks)):
        raise checks.error(op, f"padding between 0 and half the kernel size (kernel_size // 2 = "
                           f"{tuple(k // 2 for k in ks)})", f"padding={ps} for kernel_size={ks}")
    sizes = tuple(input.shape[-nsp:])
    geo = _Windows(sizes, ks, ss, ps, ds, bool(ceil_mode))
    if min(geo.outs) <= 0:
        raise OutputSizeError(
            f"{op}: expected an output size of at least 1 per spatial dim, got output size {geo.outs} for "
            f"input size {sizes} with kernel_size={ks}, stride={ss}, padding={ps}, dilation={ds}",
            sizes, tuple((p, p) for p in ps), tuple(window_span(k, d) for k, d in zip(ks, ds)))
    return geo


class _Windows:
    """Where the windows lie, per spatial dim: input size n, kernel k, stride s, padding p, dilation d,
    output size o; the padded extent the windows reach; which kernel offsets write disjoint elements."""

    def __init__(self, sizes, ks, ss, ps, ds, ceil):
        self.sizes, self.ks, self.ss, self.ps, self.ds = sizes, ks, ss, ps, ds
        self.outs = tuple(pool_out_size(n, k, s, p, d, ceil) for n, k, s, p, d in zip(sizes, ks, ss, ps, ds))
        if min(self.outs) <= 0:
            return
        # ceil mode lets the last window run past the right padding: pad further (it never wins a max
        # and, as in PyTorch, counts for nothing in an average)
        reach = tuple((o - 1) * s + d * (k - 1) + 1 for o, k, s, d in zip(self.outs, ks, ss, ds))
        self.extra = tuple(max(0, r - p - n) for r, p, n in zip(reach, ps, sizes))
        self.padded_sizes = tuple(p + n + e for p, n, e in zip(ps, sizes, self.extra))
        self.padded = any(ps) or any(self.extra)
        self.offsets = list(itertools.product(*(range(k) for k in ks)))
        # per dim: offsets whose positions {a*d + i*s} are pairwise disjoint (greedy, in order)
        disjoint, covered = [], True
        for k, s, d, o, size in zip(ks, ss, ds, self.outs, self.padded_sizes):
            seen, keep = set(), []
            for a in range(k):
                pos = set(range(a * d, a * d + s * (o - 1) + 1, s))
                if not pos & seen:
                    keep.append(a)
                    seen |= pos
            disjoint.append(set(keep))
            covered = covered and len(seen) == size
        # (code, offset, assign): assignments first, then accumulations
        plan = [(j, off, all(a in dj for a, dj in zip(off, disjoint))) for j, off in enumerate(self.offsets)]
        self.plan = sorted(plan, key=lambda t: not t[2])
        self.covered = covered  # the assigned offsets write every element of the padded extent
        self.overlaps = not all(t[2] for t in plan)

    def view(self, arr, offset):
        """The elements of (padded) ``arr`` that kernel offset ``offset`` reads, shape (..., *outs)."""
        sl = tuple(slice(a * d, a * d + s * (o - 1) + 1, s)
                   for a, d, s, o in zip(offset, self.ds, self.ss, self.outs))
        return arr[(Ellipsis,) + sl]

    def pad(self, x, value):
        """``x`` with ``value`` around it: p before, p (+ ceil-mode overhang) after each spatial dim."""
        nsp = len(self.ks)
        lead = x.shape[:-nsp]
        xp = np.empty(lead + self.padded_sizes, x.dtype)
        for i, (p, n) in enumerate(zip(self.ps, self.sizes)):
            ax = len(lead) + i
            before = [slice(None)] * xp.ndim
            before[ax] = slice(0, p)
            after = [slice(None)] * xp.ndim
            after[ax] = slice(p + n, None)
            xp[tuple(before)] = value
            xp[tuple(after)] = value
        xp[(Ellipsis,) + tuple(slice(p, p + n) for p, n in zip(self.ps, self.sizes))] = x
        return xp

    def crop(self, xp):
        return xp[(Ellipsis,) + tuple(slice(p, p + n) for p, n in zip(self.ps, self.sizes))]

    def valid(self, offset):
        """Mask (broadcastable to the output) of outputs whose element at ``offset`` is inside the input."""
        nsp = len(self.ks)
        mask = True
        for i, (a, n, s, p, d, o) in enumerate(zip(offset, self.sizes, self.ss, self.ps, self.ds, self.outs)):
            pos = np.arange(o) * s - p + a * d
            shape = [1] * nsp
            shape[i] = o
            mask = mask & ((pos >= 0) & (pos < n)).reshape(shape)
        return mask

    def padded_positions(self, code, lead_shape):
        """Flat positions in the padded array (all planes) of the winning offsets."""
        nsp = len(self.ks)
        plane = int(np.prod(self.padded_sizes))
        strides = np.cumprod((1,) + self.padded_sizes[:0:-1])[::-1]  # element strides of a plane
        table = np.array([sum(a * d * st for a, d, st in zip(off, self.ds, strides)) for off in self.offsets],
                         np.intp)
        pos = np.take(table, code)
        inner = np.zeros(self.outs, np.intp)
        for i, (s, o, st) in enumerate(zip(self.ss, self.outs, strides)):
            shape = [1] * nsp
            shape[i] = o
            inner = inner + (np.arange(o, dtype=np.intp) * (s * st)).reshape(shape)
        pos += inner
        planes = int(np.prod(lead_shape))
        pos += (np.arange(planes, dtype=np.intp) * plane).reshape(lead_shape + (1,) * nsp)
        return pos

    def flat_indices(self, code, lead_shape):
        """Flat positions ``h*W + w`` (or ``l``) in the unpadded input of the winning offsets; -1 for a
        window with no element inside the input (possible with dilation: it reads padding only)."""
        nsp = len(self.ks)
        per_dim = np.unravel_index(code, self.ks) if code is not None else [0] * nsp
        idx = np.zeros(lead_shape + self.outs, np.int64)
        outside = None
        dims = zip(per_dim, self.sizes, self.ss, self.ps, self.ds, self.outs)
        for i, (a, n, s, p, d, o) in enumerate(dims):
            shape = [1] * nsp
            shape[i] = o
            pos = (np.arange(o, dtype=np.int64) * s - p).reshape(shape) + np.asarray(a, np.int64) * d
            idx *= n
            idx += pos
            if self.padded:
                out_i = (pos < 0) | (pos >= n)
                outside = out_i if outside is None else outside | out_i
        if outside is not None and outside.any():
            idx[np.broadcast_to(outside, idx.shape)] = -1
        return idx


def _scatter(write, geo, lead_shape, dtype):
    """The input gradient of a window gather: ``write(code, view, accumulate)`` fills (or adds to) the
    view of kernel offset ``code`` in a padded gradient array; returns it without the padding. Offsets
    with disjoint views are assigned first (no zero fill needed when they cover everything)."""
    shape = lead_shape + geo.padded_sizes
    dxp = np.empty(shape, dtype) if geo.covered else np.zeros(shape, dtype)
    for j, off, assign in geo.plan:
        write(j, geo.view(dxp, off), not assign)
    return geo.crop(dxp) if geo.padded else dxp


# --------------------------------------------------------------------------- max pooling
def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _code_dtype(n):
    return np.uint8 if n <= 256 else (np.uint16 if n <= 65536 else np.int32)


def _max_forward(x, geo, need_code):
    """(max over each window, code of the winning offset or None)."""
    src = geo.pad(x, _lowest(x.dtype)) if geo.padded else x
    views = [geo.view(src, off) for off in geo.offsets]
    out = views[0].copy()
    if not need_code or len(views) == 1:
        for v in views[1:]:
            np.maximum(out, v, out=out)
        return out, None
    cdt = _code_dtype(len(views))
    code = np.zeros(out.shape, cdt)
    better = np.empty(out.shape, bool)
    step = np.empty(out.shape, cdt)
    buf = np.empty(out.shape, x.dtype)
    for j, v in enumerate(views[1:], 1):
        # one strided read into a contiguous buffer, then two contiguous (SIMD) passes: NumPy's loops
        # over short strided rows cost several times more than the copy
        np.copyto(buf, v)
        np.greater(buf, out, out=better)
        np.maximum(out, buf, out=out)
        # code <= j - 1 so far: where(better, j, code) == max(code, better * j)
        np.multiply(better, cdt(j), out=step)
        np.maximum(code, step, out=code)
    if out.size and (
        (x.dtype.kind == "f" and np.isnan(out.min()))
        or (geo.padded and (out == _lowest(x.dtype)).any())
    ):
        code = _exact_code(views, geo, out.shape, cdt)
    return out, code


def _exact_code(views, geo, shape, cdt):
    """PyTorch's scan, for the rare windows the fast path may get wrong: NaN wins (the last NaN), and a
    window whose maximum equals the padding value points at its first element inside the input."""
    cur = np.full(shape, _lowest(views[0].dtype), views[0].dtype)
    code = np.zeros(shape, cdt)
    started = np.zeros(shape, bool)
    for j, (v, off) in enumerate(zip(views, geo.offsets)):
        valid = np.broadcast_to(geo.valid(off), shape)
        better = valid & (~started | (v > cur) | (np.isnan(v) if v.dtype.kind == "f" else False))
        np.copyto(cur, v, where=better)
        code[better] = j
        started |= valid
    return code


def _max_backward(g, code, geo, lead_shape):
    if code is not None and geo.overlaps:
        return _max_backward_overlapping(g, code, geo, lead_shape)
    finite = g.dtype.kind != "f" or bool(np.isfinite(g).all())
    mask = np.empty(g.shape, bool)
    zero = np.zeros((), g.dtype)

    def write(j, view, accumulate):
        # windows don't overlap here: every offset's view is written once, no accumulation
        if code is None:
            view[...] = g
        elif finite:
            np.equal(code, j, out=mask)
            np.multiply(g, mask, out=view)
        else:
            np.equal(code, j, out=mask)
            view[...] = np.where(mask, g, zero)  # inf * 0 would be NaN

    return _scatter(write, geo, lead_shape, g.dtype)


def _max_backward_overlapping(g, code, geo, lead_shape):
    """Overlapping windows (e.g. 3x3/2): each gradient added at its arg-max's flat position. The
    positions come in window order, nearly sorted, and np.add.at on them measured 4x faster here than
    adding into one strided view per kernel offset (0.6 vs 2.4 ms for 3x3/2 on (128, 16, 28, 28))."""
    pos = geo.padded_positions(code, lead_shape)
    dxp = np.zeros(lead_shape + geo.padded_sizes, g.dtype)
    np.add.at(dxp.reshape(-1), pos.reshape(-1), g.reshape(-1))
    return geo.crop(dxp) if geo.padded else dxp


class _MaxPool(NumpyFunction):
    """y[i] = max over the window of x; dy/dx routes each gradient to the window's arg-max only."""

    @staticmethod
    def forward(ctx, x, geo, want_indices):
        need_grad = bool(ctx.needs_input_grad) and ctx.needs_input_grad[0]
        out, code = _max_forward(x, geo, need_grad or want_indices)
        lead = x.shape[: x.ndim - len(geo.ks)]
        if need_grad:
            ctx.geo, ctx.code, ctx.lead = geo, code, lead
        if not want_indices:
            return out
        idx = geo.flat_indices(code, lead)
        ctx.mark_non_differentiable(idx)
        ctx.set_materialize_grads(False)
        return out, idx

    @staticmethod
    def backward(ctx, g, *_):
        if g is None:
            return None, None, None
        return _max_backward(g, ctx.code, ctx.geo, ctx.lead), None, None


def _max_pool(op, nsp, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, input, nsp, kinds="fiu" if nsp == 2 else "f")  # PyTorch's 1-D max pool takes floats only
    geo = _geometry(op, input, nsp, kernel_size, stride, padding, dilation, ceil_mode)
    return _MaxPool.apply(input, geo, bool(return_indices))


@checks.typed
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """y[n, c, i] = max_a x[n, c, i*s - p + a*d] (padding never wins);
    L_out = floor((L + 2p - d(k-1) - 1) / s) + 1 (ceil in ceil_mode). Input (N, C, L) or (C, L)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


@checks.typed
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """y[n, c, i, j] = max_{a,b} x[n, c, i*s - p + a*d, j*s - p + b*d];
    H_out = floor((H + 2p - d(k-1) - 1) / s) + 1 (ceil in ceil_mode), likewise W_out.
    Input (N, C, H, W) or (C, H, W); ``return_indices`` adds the flat arg-max ``h*W + w`` (int64)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# --------------------------------------------------------------------------- average pooling
def _avg_divisor(geo, count_include_pad, divisor_override, dtype):
    """Scalar or (*outs) array: the number each window sum is divided by."""
    if divisor_override is not None:
        return divisor_override
    nsp = len(geo.ks)
    div, const = np.ones((1,) * nsp, np.int64), True
    for i, (n, k, s, p, o) in enumerate(zip(geo.sizes, geo.ks, geo.ss, geo.ps, geo.outs)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)  # a window may hang over the padding in ceil mode
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        cnt = end - start
        shape = [1] * nsp
        shape[i] = o
        div = div * cnt.reshape(shape)
        const = const and bool((cnt == cnt[0]).all())
    if const:
        return int(div.reshape(-1)[0])
    return div.astype(dtype) if dtype.kind == "f" else div


def _divide(total, div):
    if total.dtype.kind == "f":
        np.divide(total, div, out=total, casting="unsafe")
        return total
    # integer inputs: C's truncating division, as PyTorch
    return (np.sign(total) * np.sign(div) * (np.abs(total) // np.abs(div))).astype(total.dtype)


class _AvgPool(NumpyFunction):
    """y[i] = (sum over the window of x) / divisor; dy/dx shares each gradient equally over the window."""

    @staticmethod
    def forward(ctx, x, geo, div):
        src = geo.pad(x, 0) if geo.padded else x
        views = [geo.view(src, off) for off in geo.offsets]
        total = views[0].copy()
        for v in views[1:]:
            np.add(total, v, out=total)
        ctx.geo, ctx.div, ctx.lead = geo, div, x.shape[: x.ndim - len(geo.ks)]
        return _divide(total, div)

    @staticmethod
    def backward(ctx, g):
        gs = g / ctx.div if not isinstance(ctx.div, np.ndarray) else np.divide(g, ctx.div)
        gs = gs.astype(g.dtype, copy=False)

        def write(j, view, accumulate):
            if accumulate:
                view += gs
            else:
                view[...] = gs

        return _scatter(write, ctx.geo, ctx.lead, g.dtype), None, None


def _avg_pool(op, nsp, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_input(op, input, nsp, kinds="fi")
    geo = _geometry(op, input, nsp, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if checks.integer(op, "divisor_override", divisor_override) == 0:
            raise checks.error(op, "a non-zero divisor_override", "divisor_override=0")
    div = _avg_divisor(geo, bool(count_include_pad), divisor_override, input.dtype)
    return _AvgPool.apply(input, geo, div)


@checks.typed
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """y[n, c, i] = (1/k) sum_a x[n, c, i*s - p + a] (padding counts as 0; without count_include_pad
    the divisor counts only elements inside the input); L_out as max_pool1d with d = 1."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


@checks.typed
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """y[n, c, i, j] = (1/(kh kw)) sum_{a,b} x[n, c, i*s - p + a, j*s - p + b], divided instead by
    ``divisor_override`` when given; H_out, W_out as max_pool2d with d = 1."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# --------------------------------------------------------------------------- power-average pooling
def _lp_pool(op, nsp, input, norm_type, kernel_size, stride, ceil_mode):
    _check_input(op, input, nsp, kinds="f")
    if checks.number(op, "norm_type", norm_type, finite=False) == 0:
        raise checks.error(op, "a non-zero norm_type (p of the p-norm)", "norm_type=0", ValueError)
    pool = max_pool1d if nsp == 1 else max_pool2d
    if norm_type == float("inf"):
        return pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    geo = _geometry(op, input, nsp, kernel_size, stride, 0, 1, ceil_mode)
    div = _avg_divisor(geo, True, None, input.dtype)
    out = _AvgPool.apply(input.pow(norm_type), geo, div)
    # PyTorch's definition: the window average times the kernel area (a window cut short by ceil mode
    # is still scaled by the full area), its sign kept, then the 1/p-th power
    return (out.sign() * out.abs().relu() * int(np.prod(geo.ks))).pow(1.0 / norm_type)


@checks.typed
def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """y[n, c, i] = (sum_a x[n, c, i*s + a]^p)^(1/p) (no padding); L_out as avg_pool1d."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


@checks.typed
def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """y[n, c, i, j] = (sum over the kh x kw window of x^p)^(1/p) (no padding); H_out, W_out as avg_pool2d.
    p = inf is max pooling of |x|."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


# --------------------------------------------------------------------------- max unpooling
class _MaxUnpool(NumpyFunction):
    """y = zeros with y[idx[k]] = x[k] per plane (a partial inverse of max pooling); dy/dx gathers."""

    @staticmethod
    def forward(ctx, x, idx, outs):
        nsp = len(outs)
        lead = x.shape[: x.ndim - nsp]
        planes = int(np.prod(lead))
        idx2 = idx.reshape(planes, -1)
        ctx.idx2, ctx.shape = idx2, x.shape
        y = np.zeros((planes, int(np.prod(outs))), x.dtype)
        np.put_along_axis(y, idx2, x.reshape(planes, -1), axis=1)
        return y.reshape(lead + tuple(outs))

    @staticmethod
    def backward(ctx, g):
        g2 = g.reshape(ctx.idx2.shape[0], -1)
        return np.take_along_axis(g2, ctx.idx2, axis=1).reshape(ctx.shape), None, None


def _max_unpool(op, nsp, input, indices, kernel_size, stride, padding, output_size):
    _check_input(op, input, nsp, kinds="f")
    checks.tensor(op, "indices", indices)
    if indices.dtype != np.int64:
        raise checks.error(op, "int64 indices (as max pooling returns them)",
                           f"indices of dtype {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise checks.error(op, f"indices of the input's shape {tuple(input.shape)}",
                           f"indices of shape {tuple(indices.shape)}")
    ks = _ints(op, "kernel_size", kernel_size, nsp, low=1)
    ss = ks if stride is None else _ints(op, "stride", stride, nsp, low=1)
    ps = _ints(op, "padding", padding, nsp, low=0)
    default = tuple(conv_transpose_out_size(n, k, s, p) for n, s, p, k in zip(input.shape[-nsp:], ss, ps, ks))
    if output_size is None:
        outs = default
    else:
        size = output_size.tolist() if isinstance(output_size, Tensor) else output_size
        if not isinstance(size, (tuple, list)) or not all(checks.is_int(v) for v in size):
            raise checks.error(op, "output_size to be a sequence of ints", f"output_size={checks.show(size)}",
                               TypeError)
        size = list(size)
        if len(size) == input.ndim:
            size = size[-nsp:]
        if len(size) != nsp:
            raise checks.error(op, f"an output_size of {nsp} (spatial) or {input.ndim} entries",
                               f"output_size={checks.show(output_size)}", ValueError)
        outs = tuple(int(v) for v in size)
        for i, (o, dflt, s) in enumerate(zip(outs, default, ss)):
            if not dflt - s < o < dflt + s:
                raise checks.error(op, f"output_size[{i}] between {dflt - s} and {dflt + s} (exclusive) "
                                   "for this input, kernel, stride and padding", f"output_size={outs}",
                                   ValueError)
    if min(outs) <= 0:
        raise checks.error(op, "an output size of at least 1 per spatial dim", f"output size {outs}")
    plane = int(np.prod(outs))
    if indices._data.size:
        lo, hi = int(indices._data.min()), int(indices._data.max())
        if lo < 0 or hi >= plane:
            bad = lo if lo < 0 else hi
            raise checks.error(op, f"0 <= index < {plane} (output planes of size {outs})",
                               f"an invalid max index {bad}")
    return _MaxUnpool.apply(input, indices, outs)


@checks.typed
def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """y[n, c, indices[n, c, i]] = x[n, c, i], zero elsewhere; L_out = (L - 1) s - 2p + k unless
    ``output_size`` is given."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


@checks.typed
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """y[n, c, h, w] = x[n, c, i, j] where indices[n, c, i, j] = h*W_out + w, zero elsewhere;
    H_out = (H - 1) s - 2p + k (likewise W_out) unless ``output_size`` is given."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """``max_pool1d(..., return_indices=True)``: (output, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """``max_pool2d(..., return_indices=True)``: (output, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)
