"""Convolution: ``conv1d``, ``conv2d``, their transposes, and ``unfold``/``fold`` (im2col/col2im).

Every convolution here is one computation. The padded input is cut into a column matrix with one row per
(input channel, kernel offset) and one column per output position (im2col), and the flattened weight
multiplies it: one BLAS GEMM per group. Gradients:

- weight: the output gradient (O, N*Ho*Wo) times the columns' transpose;
- input: col2im, a GEMM into columns then ``kh*kw`` strided adds back into the padded input, or, for
  stride 1, a "full" convolution of the padded output gradient with the flipped kernel (a forward
  convolution), whichever moves less memory for the shape;
- ``conv_transpose2d`` is conv2d's input gradient; its backward is conv2d's forward and weight gradient.
  ``conv1d`` is conv2d on a height-1 view; unbatched inputs are a batch of one.

How, for speed (each choice measured on the bench shapes, see bench/bench_conv.py):

- The columns are built and multiplied in blocks of output rows (``_BLOCK_BYTES`` of columns), so a block
  is still in cache when the GEMM reads what im2col wrote; backward rebuilds them block by block rather
  than keeping kh*kw copies of the input.
- The column matrix (K = C*kh*kw rows, one column per output position) is stored channels-first,
  (C, kh, kw, N, Ho, Wo), or channels-last, (N, Ho, Wo, kh, kw, C); col2im may also go batch-last,
  (C, kh, kw, Ho, Wo, N). im2col and col2im copy or add one kernel offset (or row) at a time, and their
  speed is set by the length of the contiguous runs: Wo floats channels-first, kw*C (copies) or C (adds)
  channels-last, Wo*N batch-last. Each GEMM is written in the orientation OpenBLAS runs fastest for the
  layout.
- GEMMs with a small weight matrix run per sample (BLAS is slow on one long, thin product).
- Large temporaries come from ``_scratch`` and go back to it: fresh large arrays cost page faults on first
  touch, often more than the copy that fills them.
"""

import math
import numbers
import threading
import weakref

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import saved_as_tensors
from convgrad.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold"]

# Bytes of columns per block of output rows: small enough to stay in cache between im2col and the GEMM,
# large enough that the per-block Python and BLAS overhead stays small.
_BLOCK_BYTES = 4 << 20
# Per-sample GEMMs when the weight matrix (M*K elements) is at most this large.
_PER_SAMPLE_MK = 1024
# Channels-last columns when their runs (kw*C floats) are this many times longer than channels-first's (Wo);
# col2im, adding one kernel offset at a time, compares C floats with Wo.
_CHANNELS_LAST_RUNS = 1.5
_COL2IM_CHANNELS_LAST_RUNS = 1
# Otherwise col2im goes batch-last when output rows are shorter than this (measured: LeNet conv2 2.1x).
_BATCH_LAST_MAX_WO = 32


# --------------------------------------------------------------------------- scratch buffers
class _Scratch:
    """Reusable large temporaries, by (shape, dtype). Only arrays handed out by ``take`` are taken back."""

    MIN_BYTES = 1 << 18  # smaller arrays come cheaply from malloc
    MAX_BYTES = 256 << 20  # most memory held between calls

    def __init__(self):
        self._free = {}
        self._held = 0
        self._lent = weakref.WeakValueDictionary()  # id -> array, while the caller holds it
        self._lock = threading.Lock()

    def take(self, shape, dtype):
        """An uninitialised array."""
        dtype = np.dtype(dtype)
        shape = tuple(shape)
        if math.prod(shape) * dtype.itemsize < self.MIN_BYTES:
            return np.empty(shape, dtype)
        key = (shape, dtype.str)
        with self._lock:
            free = self._free.get(key)
            a = free.pop() if free else None
            if a is not None:
                self._held -= a.nbytes
        if a is None:
            a = np.empty(shape, dtype)
        self._lent[id(a)] = a
        return a

    def give(self, *arrays):
        """Return arrays from ``take`` for reuse; anything else is ignored."""
        for a in arrays:
            if a is None or self._lent.get(id(a)) is not a:
                continue
            del self._lent[id(a)]
            with self._lock:
                if self._held + a.nbytes <= self.MAX_BYTES:
                    self._free.setdefault((a.shape, a.dtype.str), []).append(a)
                    self._held += a.nbytes

    def owns(self, a):
        return self._lent.get(id(a)) is a

    def clear(self):
        with self._lock:
            self._free.clear()
            self._held = 0


_scratch = _Scratch()


# --------------------------------------------------------------------------- geometry
def _out_size(size, k, s, pad_total, d):
    """floor((size + 2p - d(k-1) - 1) / s) + 1."""
    return (size + pad_total - d * (k - 1) - 1) // s + 1


class _Geometry:
    """A convolution in 2-D terms: input x4 (N, C, H, W), weight w4 (O, C/groups, kh, kw), output
    y4 (N, O, Ho, Wo); pads ((top, bottom), (left, right)). For a transposed convolution x4 is its output
    and y4 its input. ``in_shape``/``out_shape``: the op's own (1-D, unbatched) shapes."""

    __slots__ = ("x4", "w4", "y4", "stride", "pads", "dilation", "groups", "in_shape", "out_shape",
                 "layout")

    def __init__(self, x4, w4, y4, stride, pads, dilation, groups, in_shape=None, out_shape=None):
        self.x4, self.w4, self.y4 = x4, w4, y4
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.in_shape, self.out_shape = in_shape, out_shape
        # the columns' layout (see _TO_WORK); channels-last orders K as (i, j, c), so with groups a group's
        # rows would not be contiguous
        cl = groups == 1 and x4[1] * w4[3] >= _CHANNELS_LAST_RUNS * y4[3]
        self.layout = "cl" if cl else "cf"

    def with_layout(self, layout):
        geo = _Geometry(self.x4, self.w4, self.y4, self.stride, self.pads, self.dilation, self.groups,
                        self.in_shape, self.out_shape)
        geo.layout = layout
        return geo

    @property
    def channels_last(self):
        return self.layout == "cl"

    @property
    def padded_hw(self):
        (t, b), (l, r) = self.pads
        return self.x4[2] + t + b, self.x4[3] + l + r

    @property
    def k(self):
        """Rows of the column matrix, all groups: C*kh*kw."""
        return self.x4[1] * self.w4[2] * self.w4[3]

    def blocks(self, itemsize):
        """(samples, rows) slices of the output, each with about ``_BLOCK_BYTES`` of columns: several whole
        samples, or some rows of one sample (batch-last: some rows of all samples)."""
        N, _, Ho, Wo = self.y4
        row = max(1, Wo * self.k * itemsize)
        if self.layout == "bl":
            rb = max(1, _BLOCK_BYTES // (row * max(N, 1)))
            return [(slice(0, N), slice(r, min(Ho, r + rb))) for r in range(0, Ho, rb)] if N else []
        if Ho * row <= _BLOCK_BYTES:
            nb = _BLOCK_BYTES // (Ho * row)
            return [(slice(s, min(N, s + nb)), slice(0, Ho)) for s in range(0, N, nb)]
        rb = max(1, _BLOCK_BYTES // row)
        return [(slice(s, s + 1), slice(r, min(Ho, r + rb))) for s in range(N) for r in range(0, Ho, rb)]

    def block_shape(self, block):
        """Shape of the columns of a block: (C, kh, kw, m, r, Wo), (m, r, Wo, kh, kw, C) or
        (C, kh, kw, r, Wo, m)."""
        (ns, rs), (C, (kh, kw), Wo) = block, (self.x4[1], self.w4[2:], self.y4[3])
        m, r = ns.stop - ns.start, rs.stop - rs.start
        if self.layout == "cl":
            return (m, r, Wo, kh, kw, C)
        return (C, kh, kw, m, r, Wo) if self.layout == "cf" else (C, kh, kw, r, Wo, m)

    def full_conv(self):
        """The stride-1 convolution giving this one's input gradient: the output gradient padded by
        d(k-1) - p (the rest of the way to H + d(k-1)), with the flipped kernel, channels swapped per
        group."""
        N, C, H, W = self.x4
        O, Ho, Wo = self.y4[1:]
        kh, kw = self.w4[2:]
        (dh, dw), (pt, _), (pl, _) = self.dilation, *self.pads
        top, left = dh * (kh - 1) - pt, dw * (kw - 1) - pl
        pads = ((top, H + dh * (kh - 1) - Ho - top), (left, W + dw * (kw - 1) - Wo - left))
        return _Geometry(self.y4, (C, O // self.groups, kh, kw), self.x4, (1, 1), pads, self.dilation,
                         self.groups)

    def full_conv_cheaper(self):
        """For stride 1: the full convolution's im2col (O channels over H*W) against col2im's columns plus
        their strided adds (C channels over Ho*Wo, each read, added and written)."""
        N, C, H, W = self.x4
        O, Ho, Wo = self.y4[1:]
        return self.stride == (1, 1) and 2 * O * H * W <= 3 * C * Ho * Wo

    def col2im_layout(self):
        """col2im adds one kernel offset at a time: its runs are C floats channels-last, Wo channels-first,
        Wo*N batch-last (which costs two transposing copies)."""
        C, Wo = self.x4[1], self.y4[3]
        if self.groups == 1 and C >= _COL2IM_CHANNELS_LAST_RUNS * Wo:
            return "cl"
        return "bl" if Wo < _BATCH_LAST_MAX_WO else "cf"

    def weight_grad_per_sample(self):
        return (self.w4[0] // self.groups) * (self.k // self.groups) <= _PER_SAMPLE_MK

    def weight_matrix(self, w):
        """w (O, C/G, kh, kw) as (G, O/G, K/G) with K in the columns' row order: (c, i, j) or (i, j, c)."""
        G, (O, Cg, kh, kw) = self.groups, self.w4
        if self.channels_last:
            return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(1, O, Cg * kh * kw)
        return np.ascontiguousarray(w).reshape(G, O // G, Cg * kh * kw)

    def weight_from_matrix(self, wm):
        """Inverse of ``weight_matrix``: (G, O/G, K/G) -> a new (O, C/G, kh, kw) array."""
        O, Cg, kh, kw = self.w4
        if self.channels_last:
            return np.ascontiguousarray(wm.reshape(O, kh, kw, Cg).transpose(0, 3, 1, 2))
        return np.ascontiguousarray(wm).reshape(self.w4)


# --------------------------------------------------------------------------- array kernels
# Working layouts of the (padded) input and of the columns; each im2col/col2im copy's contiguous runs are
# Wo floats channels-first ("cf"), kw*C (copy) or C (add) channels-last ("cl"), Wo*N batch-last ("bl").
# Axis orders NCHW -> working layout, and back:
_TO_WORK = {"cf": (1, 0, 2, 3), "cl": (0, 2, 3, 1), "bl": (1, 2, 3, 0)}
_FROM_WORK = {"cf": (1, 0, 2, 3), "cl": (0, 3, 1, 2), "bl": (3, 0, 1, 2)}


def _padded(x, pads, layout):
    """Copy of x (N, C, H, W) in the working layout with ((top, bottom), (left, right)) zeros around;
    negative pads crop."""
    N, C, H, W = x.shape
    (t, b), (l, r) = pads
    Hp, Wp = H + t + b, W + l + r
    work = _scratch.take(tuple((N, C, Hp, Wp)[a] for a in _TO_WORK[layout]), x.dtype)
    out = work.transpose(_FROM_WORK[layout])  # (N, C, Hp, Wp) view
    t0, b0, l0, r0 = max(t, 0), max(b, 0), max(l, 0), max(r, 0)
    # zero the border only: the interior is overwritten
    for sl in (np.s_[:, :, :t0], np.s_[:, :, Hp - b0:], np.s_[:, :, t0:Hp - b0, :l0],
               np.s_[:, :, t0:Hp - b0, Wp - r0:]):
        if out[sl].size:
            out[sl] = 0
    out[:, :, t0:Hp - b0, l0:Wp - r0] = x[:, :, max(-t, 0):H - max(-b, 0), max(-l, 0):W - max(-r, 0)]
    return work


def _working(x, geo):
    """The convolution input x (N, C, H, W), padded, in the working layout: a copy from ``_scratch``, or
    a view of x when channels-first needs no padding (channels-last copies: its runs are C-contiguous)."""
    if geo.layout != "cf" or any(geo.pads[0] + geo.pads[1]):
        return _padded(x, geo.pads, geo.layout)
    return x.transpose(_TO_WORK["cf"])


def _windows(xw, geo, writeable=False):
    """View of the working-layout array xw (padded input) with the columns' axes:
    ``win[c, i, j, n, y, x] = xp[n, c, y*sh + i*dh, x*sw + j*dw]``, in the order (C, kh, kw, N, Ho, Wo),
    (N, Ho, Wo, kh, kw, C) or (C, kh, kw, Ho, Wo, N)."""
    xv = xw.transpose(_FROM_WORK[geo.layout])
    sn, sc, sh_, sw_ = xv.strides
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.w4[2:], geo.stride, geo.dilation, geo.y4[2:]
    N, C = xv.shape[:2]
    if geo.layout == "cl":
        shape, strides = (N, ho, wo, kh, kw, C), (sn, sh * sh_, sw * sw_, dh * sh_, dw * sw_, sc)
    elif geo.layout == "cf":
        shape, strides = (C, kh, kw, N, ho, wo), (sc, dh * sh_, dw * sw_, sn, sh * sh_, sw * sw_)
    else:
        shape, strides = (C, kh, kw, ho, wo, N), (sc, dh * sh_, dw * sw_, sh * sh_, sw * sw_, sn)
    return as_strided(xv, shape, strides, writeable=writeable)


def _in_block(a, block, layout):
    """The part of a windows view or a column matrix that belongs to a block of output rows."""
    ns, rs = block
    if layout == "cl":
        return a[ns, rs]
    return a[:, :, :, ns, rs] if layout == "cf" else a[:, :, :, rs, :, ns]


def _im2col(xw, geo, block=None, out=None):
    """The columns of the padded input xw (working layout), all or one block's; written into ``out``
    (flat, at least as large) or a scratch array. Channels-last: one copy, whose runs are a kernel row's
    kw*C values; otherwise one copy per kernel offset, whose runs are output rows (one 6-D copy would
    iterate over shorter runs)."""
    win = _windows(xw, geo)
    if block is not None:
        win = _in_block(win, block, geo.layout)
    out = _scratch.take(win.shape, xw.dtype) if out is None else out[:win.size].reshape(win.shape)
    if geo.channels_last:
        np.copyto(out, win)
        return out
    kh, kw = geo.w4[2:]
    for i in range(kh):
        for j in range(kw):
            out[:, i, j] = win[:, i, j]
    return out


def _col2im(xw, cols, geo, block=None):
    """Adjoint of ``_im2col``: add each column back where it was read from, into xw (working layout),
    one strided add per kernel offset (its targets never overlap)."""
    win = _windows(xw, geo, writeable=True)
    if block is not None:
        win = _in_block(win, block, geo.layout)
    kh, kw = geo.w4[2:]
    for i in range(kh):
        for j in range(kw):
            idx = (slice(None),) * 3 + (i, j) if geo.layout == "cl" else (slice(None), i, j)
            win[idx] += cols[idx]


def _to_cn(g):
    """(N, O, Ho, Wo) -> a (O, N, Ho, Wo) copy from ``_scratch``."""
    out = _scratch.take((g.shape[1], g.shape[0]) + g.shape[2:], g.dtype)
    np.copyto(out, g.transpose(1, 0, 2, 3))
    return out


def _rows(a, block, n_axis=0):
    """A block's output rows of a (N, O, Ho, Wo) array as (m, O, r*Wo), or of a (O, N, Ho, Wo) one
    (``n_axis`` 1) as (O, m*r*Wo): views, as a block is whole samples or rows of one."""
    ns, rs = block
    if n_axis == 0:
        part = a[ns, :, rs]
        return part.reshape(part.shape[0], part.shape[1], -1)
    part = a[:, ns, rs]
    return part.reshape(part.shape[0], -1)


def _forward(x, w, geo, bias=None, xw=None):
    """y[n, o] = sum over o's group of w[o] * columns[:, n] (+ bias), block by block: a new
    (N, O, Ho, Wo) array. ``xw``: x's working copy, if already made."""
    N, O, Ho, Wo = geo.y4
    G, cl = geo.groups, geo.channels_last
    own = xw is None
    if own:
        xw = _working(x, geo)
    wm = geo.weight_matrix(w)
    M, K = wm.shape[1:]
    y = np.empty(geo.y4, x.dtype)
    blocks = geo.blocks(x.dtype.itemsize)
    per_sample = M * K <= _PER_SAMPLE_MK
    if blocks:
        size = math.prod(geo.block_shape(blocks[0])) // geo.k
        buf = _scratch.take((size * geo.k,), x.dtype)
        tmp = _scratch.take((size * O,), x.dtype)
    for block in blocks:
        cols = _im2col(xw, geo, block, buf)
        out = y[block[0], :, block[1]]  # (m, O, r, Wo)
        m, r = out.shape[0], out.shape[2]
        ml = m * r * Wo
        if per_sample:  # per sample (M, K) @ (K, r*Wo), straight into y
            kml = cols.reshape(ml, G * K).T if cl else cols.reshape(G * K, ml)
            np.matmul(wm[None], kml.reshape(G, K, m, r * Wo).transpose(2, 0, 1, 3),
                      out=out.reshape(m, G, M, r * Wo))
            if bias is not None:
                out += bias[:, None, None]
            continue
        if cl:  # (m*r*Wo, K) @ (K, O)
            t = tmp[:ml * O].reshape(ml, O)
            np.matmul(cols.reshape(ml, K), wm[0].T, out=t)
            res = t.reshape(m, r, Wo, O).transpose(0, 3, 1, 2)
        else:  # per group (M, K) @ (K, m*r*Wo)
            t = tmp[:ml * O].reshape(G, M, ml)
            np.matmul(wm, cols.reshape(G, K, ml), out=t)
            res = t.reshape(O, m, r, Wo).transpose(1, 0, 2, 3)
        if bias is not None:
            np.add(res, bias[:, None, None], out=out)
        else:
            np.copyto(out, res)
    if blocks:
        _scratch.give(buf, tmp)
    if own:
        _scratch.give(xw)
    return y


def _grad_weight(xw, g, geo, g_cn=None):
    """dL/dw[g] = sum over blocks of g[g] (O/G, rows) @ columns[g]^T (rows, K/G), as a new
    (O, C/G, kh, kw) array. xw: the convolution input's working copy; ``g_cn``: g as (O, N, Ho, Wo), needed
    unless per sample."""
    N, O, Ho, Wo = geo.y4
    G, cl = geo.groups, geo.channels_last
    M, K = O // G, geo.k // G
    per_sample = geo.weight_grad_per_sample()
    blocks = geo.blocks(g.dtype.itemsize)
    acc = np.zeros((G, K, M) if not (per_sample or cl) else (G, M, K), g.dtype)
    if blocks:
        buf = _scratch.take((math.prod(geo.block_shape(blocks[0])),), g.dtype)
        part = np.empty((blocks[0][0].stop - blocks[0][0].start if per_sample else 1,) + acc.shape, g.dtype)
    for block in blocks:
        cols = _im2col(xw, geo, block, buf)
        m = block[0].stop - block[0].start
        ml = cols.size // geo.k
        if per_sample:  # per sample (M, r*Wo) @ (r*Wo, K), summed
            kml = cols.reshape(ml, G * K).T if cl else cols.reshape(G * K, ml)
            p = part[:m]
            np.matmul(_rows(g, block).reshape(m, G, M, -1),
                      kml.reshape(G, K, m, ml // m).transpose(2, 0, 3, 1), out=p)
            acc += p.sum(axis=0)
        elif cl:  # (M, rows) @ (rows, K)
            np.matmul(_rows(g_cn, block, 1)[None], cols.reshape(1, ml, K), out=part[0])
            acc += part[0]
        else:  # per group (K, rows) @ (rows, M): faster than (M, rows) @ (rows, K)
            np.matmul(cols.reshape(G, K, ml), _rows(g_cn, block, 1).reshape(G, M, ml).transpose(0, 2, 1),
                      out=part[0])
            acc += part[0]
    if blocks:
        _scratch.give(buf)
    return geo.weight_from_matrix(acc if per_sample or cl else acc.transpose(0, 2, 1))


def _grad_input(g, w, geo, bias=None, g_cn=None):
    """dL/dx (N, C, H, W) of the convolution for the output gradient g (N, O, Ho, Wo), plus ``bias``;
    also the transposed convolution's forward:
    dx[n, c, h, v] = sum_{o, i, j} w[o, c, i, j] * g[n, o, (h + pt - i*dh)/sh, (v + pl - j*dw)/sw]
    over the terms where both quotients are whole and in range. ``g_cn``: g as (O, N, Ho, Wo), if made."""
    N, C, H, W = geo.x4
    if geo.full_conv_cheaper():
        G, (O, Cg, kh, kw) = geo.groups, geo.w4
        wf = w.reshape(G, O // G, Cg, kh, kw)[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4)
        return _forward(g, wf.reshape(C, O // G, kh, kw), geo.full_conv(), bias)
    geo = geo.with_layout(geo.col2im_layout())
    layout, (O, Ho, Wo) = geo.layout, geo.y4[1:]
    own = g_cn is None or layout == "bl"
    if layout == "bl":  # g as (O, Ho, Wo, N)
        gt = _scratch.take((O, Ho, Wo, N), g.dtype)
        np.copyto(gt, g.transpose(1, 2, 3, 0))
    else:  # g as (O, N, Ho, Wo)
        gt = _to_cn(g) if own else g_cn
    wm = geo.weight_matrix(w)
    G, M, K = wm.shape
    (pt, _), (pl, _) = geo.pads
    shape = (N, C) + geo.padded_hw
    xw = _scratch.take(tuple(shape[a] for a in _TO_WORK[layout]), g.dtype)
    xw.fill(0)
    blocks = geo.blocks(g.dtype.itemsize)
    if blocks:
        buf = _scratch.take((math.prod(geo.block_shape(blocks[0])),), g.dtype)
    for block in blocks:
        gb = gt[:, block[1]].reshape(O, -1) if layout == "bl" else _rows(gt, block, 1)  # (O, rows)
        ml = gb.shape[1]
        if layout == "cl":  # (rows, O) @ (O, K): the columns' storage order
            d = buf[:ml * K].reshape(ml, K)
            np.matmul(gb.T, wm[0], out=d)
        else:
            d = buf[:ml * G * K].reshape(G, K, ml)
            np.matmul(wm.transpose(0, 2, 1), gb.reshape(G, M, ml), out=d)
        _col2im(xw, d.reshape(geo.block_shape(block)), geo, block)
    if blocks:
        _scratch.give(buf)
    if own:
        _scratch.give(gt)
    inner = xw.transpose(_FROM_WORK[layout])[:, :, pt:pt + H, pl:pl + W]
    dx = np.empty((N, C, H, W), g.dtype)
    if bias is not None:
        np.add(inner, bias[:, None, None], out=dx)
    else:
        np.copyto(dx, inner)
    _scratch.give(xw)
    return dx


# --------------------------------------------------------------------------- autograd nodes
class _Conv(NumpyFunction):
    """y = conv(x, w) + b; dL/dw = g @ cols^T, dL/dx = col2im(w^T @ g) or full conv, dL/db = sum of g."""

    @staticmethod
    def forward(ctx, x, w, b, geo):
        x4 = x.reshape(geo.x4)
        xw = _working(x4, geo)
        y = _forward(x4, w.reshape(geo.w4), geo, b, xw)
        need = ctx.needs_input_grad
        ctx.geo, ctx.xw = geo, None
        if need and need[1] and _scratch.owns(xw):
            ctx.xw = xw  # the padded copy, for the weight gradient
        else:
            _scratch.give(xw)
        if need:
            ctx.save_for_backward(x if need[1] else None, w)
        return y.reshape(geo.out_shape)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        geo = ctx.geo
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = np.ascontiguousarray(gy).reshape(geo.y4)
        gx = gw = gb = None
        col2im = need_x and not geo.full_conv_cheaper() and geo.col2im_layout() != "bl"
        g_cn = _to_cn(g) if col2im or (need_w and not geo.weight_grad_per_sample()) else None
        if need_w:
            xw = ctx.xw if ctx.xw is not None else _working(x.reshape(geo.x4), geo)
            gw = _grad_weight(xw, g, geo, g_cn).reshape(w.shape)
            if xw is not ctx.xw:
                _scratch.give(xw)
        if need_b:
            gb = g_cn.sum(axis=(1, 2, 3)) if g_cn is not None else g.sum(axis=(0, 2, 3))
        if need_x:
            gx = _grad_input(g, w.reshape(geo.w4), geo, g_cn=g_cn).reshape(geo.in_shape)
        _scratch.give(g_cn)
        return gx, gw, gb, None

    def _release(self):
        xw = self.__dict__.get("xw")
        super()._release()
        _scratch.give(xw)

    @staticmethod
    def tensor_backward(ctx, g):
        """dL/dx is the transposed convolution of g, dL/dw a convolution of x with g over the batch
        (``_ConvWeightGrad``), dL/db the sum of g: all recorded ops, for create_graph."""
        x, w = saved_as_tensors(ctx)
        geo = ctx.geo
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = _ConvTranspose.apply(g, w, None, _swapped(geo)) if need_x else None
        gw = _ConvWeightGrad.apply(x, g, geo, w.shape) if need_w else None
        gb = g.reshape(geo.y4).sum(dim=(0, 2, 3)) if need_b else None
        return gx, gw, gb, None


class _ConvTranspose(NumpyFunction):
    """y = conv's input gradient applied to x (+ b); dL/dx = conv(g, w), dL/dw = x @ cols(g)^T."""

    @staticmethod
    def forward(ctx, x, w, b, geo):
        y = _grad_input(x.reshape(geo.y4), w.reshape(geo.w4), geo, bias=b)
        need = ctx.needs_input_grad
        if need:
            ctx.geo = geo
            ctx.save_for_backward(x if need[1] else None, w)
        return y.reshape(geo.out_shape)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        geo = ctx.geo
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = np.ascontiguousarray(gy).reshape(geo.x4)
        gx = gw = gb = None
        if need_x or need_w:
            gwork = _working(g, geo)
            if need_x:
                gx = _forward(g, w.reshape(geo.w4), geo, xw=gwork).reshape(geo.in_shape)
            if need_w:
                x4 = x.reshape(geo.y4)
                x_cn = None if geo.weight_grad_per_sample() else _to_cn(x4)
                gw = _grad_weight(gwork, x4, geo, x_cn).reshape(w.shape)
                _scratch.give(x_cn)
            _scratch.give(gwork)
        if need_b:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb, None

    @staticmethod
    def tensor_backward(ctx, g):
        x, w = saved_as_tensors(ctx)
        geo = ctx.geo
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = _Conv.apply(g, w, None, _swapped(geo)) if need_x else None
        gw = _ConvWeightGrad.apply(g, x, geo, w.shape) if need_w else None
        gb = g.reshape(geo.x4).sum(dim=(0, 2, 3)) if need_b else None
        return gx, gw, gb, None


def _swapped(geo):
    """The same geometry with the op's input and output shapes exchanged: the transposed convolution
    that is a convolution's input gradient, or the convolution that is a transposed one's."""
    return _Geometry(geo.x4, geo.w4, geo.y4, geo.stride, geo.pads, geo.dilation, geo.groups,
                     geo.out_shape, geo.in_shape)


class _ConvWeightGrad(NumpyFunction):
    """dL/dw[o, c, i, j] = sum_(n, y, x) g[n, o, y, x] x_pad[n, c, y*s + i*d, x*s + j*d], the weight
    gradient of conv(x, w) as an op (create_graph). It is bilinear in (x, g): for an incoming v (weight
    shaped), dL/dx = conv_transpose(g, v) and dL/dg = conv(x, v)."""

    @staticmethod
    def forward(ctx, x, g, geo, wshape):
        x4 = x.reshape(geo.x4)
        g4 = np.ascontiguousarray(g).reshape(geo.y4)
        xw = _working(x4, geo)
        g_cn = None if geo.weight_grad_per_sample() else _to_cn(g4)
        gw = _grad_weight(xw, g4, geo, g_cn).reshape(wshape)
        _scratch.give(g_cn, xw)
        ctx.save_for_backward(x, g)
        ctx.geo = geo
        return gw

    @staticmethod
    def backward(ctx, v):
        x, g = ctx.saved_tensors
        geo = ctx.geo
        need_x, need_g = ctx.needs_input_grad[:2]
        v4 = v.reshape(geo.w4)
        gx = None
        if need_x:
            gx = _grad_input(np.ascontiguousarray(g).reshape(geo.y4), v4, geo).reshape(x.shape)
        gg = _forward(x.reshape(geo.x4), v4, geo).reshape(g.shape) if need_g else None
        return gx, gg, None, None

    @staticmethod
    def tensor_backward(ctx, v):
        x, g = saved_as_tensors(ctx)
        geo = ctx.geo
        need_x, need_g = ctx.needs_input_grad[:2]
        gx = _ConvTranspose.apply(g.reshape(geo.y4), v, None, _swapped(_four_d(geo))) if need_x else None
        gg = _Conv.apply(x.reshape(geo.x4), v, None, _four_d(geo)) if need_g else None
        return (None if gx is None else gx.reshape(x.shape)), (None if gg is None else gg.reshape(g.shape)), \
            None, None


def _four_d(geo):
    """The geometry on the (N, C, H, W) views themselves."""
    return _Geometry(geo.x4, geo.w4, geo.y4, geo.stride, geo.pads, geo.dilation, geo.groups, geo.x4, geo.y4)


class _Unfold(NumpyFunction):
    """y[n, (c, i, j), (y, x)] = x_pad[n, c, y*sh + i*dh, x*sw + j*dw]; dL/dx = fold(g)."""

    @staticmethod
    def forward(ctx, x, geo):
        ctx.geo = geo
        return _unfold(x, geo)

    @staticmethod
    def backward(ctx, g):
        return _fold(g, ctx.geo), None


class _Fold(NumpyFunction):
    """y = sum of the blocks of x placed at their windows (adjoint of unfold); dL/dx = unfold(g)."""

    @staticmethod
    def forward(ctx, x, geo):
        ctx.geo = geo
        return _fold(x, geo)

    @staticmethod
    def backward(ctx, g):
        return _unfold(g, ctx.geo), None


# unfold/fold are im2col/col2im of the image seen as one sample of N*C channels, channels-first: then
# the columns (N*C, kh, kw, 1, Ho, Wo) are exactly (N, C*kh*kw, L).
def _unfold(x, geo):
    """(N, C, H, W) -> (N, C*kh*kw, L)."""
    N, C, H, W = geo.x4
    one = _one_sample(geo)
    src = x.reshape(1, N * C, H, W)
    xw = _working(src, one)
    out = np.empty(one.block_shape((slice(0, 1), slice(0, one.y4[2]))), x.dtype)
    _im2col(xw, one, out=out.reshape(-1))
    _scratch.give(xw)
    return out.reshape(geo.out_shape if x.shape == geo.in_shape else geo.in_shape)


def _fold(cols, geo):
    """(N, C*kh*kw, L) -> (N, C, H, W): col2im, then the padding cut off."""
    N, C, H, W = geo.x4
    one = _one_sample(geo)
    blocks = cols.reshape(one.block_shape((slice(0, 1), slice(0, one.y4[2]))))
    if not any(geo.pads[0] + geo.pads[1]):
        out = np.zeros((N * C, 1, H, W), cols.dtype)
        _col2im(out, blocks, one)
    else:
        (pt, _), (pl, _) = geo.pads
        xw = _scratch.take((N * C, 1) + geo.padded_hw, cols.dtype)
        xw.fill(0)
        _col2im(xw, blocks, one)
        out = np.array(xw[:, :, pt:pt + H, pl:pl + W])
        _scratch.give(xw)
    return out.reshape(geo.out_shape if cols.shape == geo.in_shape else geo.in_shape)


def _one_sample(geo):
    N, C, H, W = geo.x4
    return _Geometry((1, N * C, H, W), (1, 1) + geo.w4[2:], (1, 1) + geo.y4[2:], geo.stride, geo.pads,
                     geo.dilation, 1).with_layout("cf")


# --------------------------------------------------------------------------- argument checks
def _shape(t):
    return tuple(t.shape)


def _ints(op, name, value, n, one_ok=True):
    """An int or a sequence of ``n`` ints (or of one, when ``one_ok``), as an ``n``-tuple."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in value
    ):
        if len(value) == n or (one_ok and len(value) == 1):
            return tuple(int(v) for v in value) * (n // len(value))
        raise RuntimeError(f"{op}: expected {name} to be an int or a sequence of {n} ints, got {name}="
                           f"{tuple(value)}")
    raise TypeError(f"{op}: expected {name} to be an int or a sequence of {n} ints, got {value!r}")


def _check_tensors(op, input, weight, bias, nd):
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: expected bias to be a Tensor or None, got {type(bias).__name__}")
    sp = "kH, kW" if nd == 2 else "kL"
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected a {nd + 2}-D weight (out_channels, in_channels/groups, {sp}), "
                           f"got weight of shape {_shape(weight)}")
    if input.ndim not in (nd + 1, nd + 2):
        sp = "H, W" if nd == 2 else "L"
        raise RuntimeError(f"{op}: expected {nd + 1}-D (C, {sp}) unbatched or {nd + 2}-D (N, C, {sp}) "
                           f"batched "
                           f"input, got input of shape {_shape(input)}")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"{op}: expected weight with the input's dtype {input.dtype}, got weight of dtype "
                           f"{weight.dtype}")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"{op}: expected bias with the input's dtype {input.dtype}, got bias of dtype "
                           f"{bias.dtype}")


def _check_groups(op, groups):
    if not isinstance(groups, (numbers.Integral, np.integer)) or isinstance(groups, (bool, np.bool_)):
        raise TypeError(f"{op}: expected groups to be an int, got {groups!r}")
    if groups <= 0:
        raise RuntimeError(f"{op}: expected groups >= 1, got groups={groups}")
    return int(groups)


def _as_2d(nd, values):
    """Lift 1-D hyper-parameters to 2-D ones acting on a height-1 view."""
    return values if nd == 2 else (1,) + values


def _convolution(op, nd, input, weight, bias, stride, padding, dilation, groups):
    _check_tensors(op, input, weight, bias, nd)
    groups = _check_groups(op, groups)
    stride = _ints(op, "stride", stride, nd)
    dilation = _ints(op, "dilation", dilation, nd)
    if min(stride) <= 0:
        raise RuntimeError(f"{op}: expected stride >= 1, got stride={stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op}: expected dilation >= 1, got dilation={dilation}")
    ksize = _shape(weight)[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if max(stride) > 1:
                raise RuntimeError(f"{op}: padding='same' needs stride 1 (the output keeps the input's "
                                   f"size), "
                                   f"got stride={stride}")
            # total d(k-1); the odd element goes to the end (right/bottom), as in PyTorch
            pads = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(ksize, dilation))
        else:
            raise RuntimeError(f"{op}: expected padding to be 'same', 'valid', an int or a sequence of {nd} "
                               f"ints, got padding={padding!r}")
    else:
        p = _ints(op, "padding", padding, nd)
        if min(p) < 0:
            raise RuntimeError(f"{op}: expected padding >= 0, got padding={p}")
        pads = tuple((q, q) for q in p)
    unbatched = input.ndim == nd + 1
    x_shape = (1,) + _shape(input) if unbatched else _shape(input)
    O, Cg = _shape(weight)[:2]
    if O % groups:
        raise RuntimeError(f"{op}: expected out_channels (weight.shape[0] = {O}) divisible by "
                           f"groups={groups}, "
                           f"got weight of shape {_shape(weight)}")
    if x_shape[1] != Cg * groups:
        raise RuntimeError(f"{op}: expected input with {Cg * groups} channels (weight {_shape(weight)}, "
                           f"groups={groups}), got input of shape {_shape(input)}")
    if bias is not None and _shape(bias) != (O,):
        raise RuntimeError(f"{op}: expected bias of shape ({O},) (weight {_shape(weight)}), got bias of "
                           f"shape "
                           f"{_shape(bias)}")
    padded = tuple(n + a + b for n, (a, b) in zip(x_shape[2:], pads))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(ksize, dilation))
    if any(e > n for e, n in zip(eff, padded)):
        raise RuntimeError(f"{op}: expected the (dilated) kernel {eff} to fit in the padded input {padded}, "
                           f"got input of shape {_shape(input)} and weight {_shape(weight)}")
    out_sp = tuple(_out_size(n, k, s, a + b, d)
                   for n, k, s, (a, b), d in zip(x_shape[2:], ksize, stride, pads, dilation))
    geo = _Geometry(
        x4=x_shape[:2] + _as_2d(nd, x_shape[2:]),
        w4=(O, Cg) + _as_2d(nd, ksize),
        y4=(x_shape[0], O) + _as_2d(nd, out_sp),
        stride=_as_2d(nd, stride),
        pads=pads if nd == 2 else ((0, 0),) + pads,
        dilation=_as_2d(nd, dilation),
        groups=groups,
        in_shape=_shape(input),
        out_shape=(O,) + out_sp if unbatched else (x_shape[0], O) + out_sp,
    )
    return _Conv.apply(input, weight, bias, geo)


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_tensors(op, input, weight, bias, nd)
    groups = _check_groups(op, groups)
    if isinstance(padding, str):
        raise TypeError(f"{op}: expected padding to be an int or a sequence of {nd} ints, got {padding!r} "
                        "(padding strings are for conv{1,2}d)")
    stride = _ints(op, "stride", stride, nd)
    padding = _ints(op, "padding", padding, nd)
    output_padding = _ints(op, "output_padding", output_padding, nd)
    dilation = _ints(op, "dilation", dilation, nd)
    if min(stride) <= 0:
        raise RuntimeError(f"{op}: expected stride >= 1, got stride={stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op}: expected dilation >= 1, got dilation={dilation}")
    if min(padding) < 0:
        raise RuntimeError(f"{op}: expected padding >= 0, got padding={padding}")
    if min(output_padding) < 0:
        raise RuntimeError(f"{op}: expected output_padding >= 0, got output_padding={output_padding}")
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"{op}: expected output_padding smaller than stride or dilation (in each "
                           f"dim), got "
                           f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    unbatched = input.ndim == nd + 1
    y_shape = (1,) + _shape(input) if unbatched else _shape(input)
    Cin, Cog = _shape(weight)[:2]
    ksize = _shape(weight)[2:]
    if Cin % groups:
        raise RuntimeError(f"{op}: expected in_channels (weight.shape[0] = {Cin}) divisible by "
                           f"groups={groups}, "
                           f"got weight of shape {_shape(weight)}")
    if y_shape[1] != Cin:
        raise RuntimeError(f"{op}: expected input with {Cin} channels (weight {_shape(weight)}, "
                           f"groups={groups}), got input of shape {_shape(input)}")
    Cout = Cog * groups
    if bias is not None and _shape(bias) != (Cout,):
        raise RuntimeError(f"{op}: expected bias of shape ({Cout},) (weight {_shape(weight)}, "
                           f"groups={groups}), "
                           f"got bias of shape {_shape(bias)}")
    # H_out = (H - 1) s - 2p + d(k-1) + output_padding + 1
    out_sp = tuple((n - 1) * s - 2 * p + d * (k - 1) + q + 1
                   for n, s, p, d, k, q in zip(y_shape[2:], stride, padding, dilation, ksize, output_padding))
    if min(out_sp) <= 0:
        raise RuntimeError(f"{op}: the output would be empty: (H - 1)*stride - 2*padding + dilation*(k "
                           f"- 1) + "
                           f"output_padding + 1 = {out_sp} for input of shape {_shape(input)}, weight "
                           f"{_shape(weight)}, stride={stride}, padding={padding}, dilation={dilation}")
    geo = _Geometry(
        x4=(y_shape[0], Cout) + _as_2d(nd, out_sp),
        w4=(Cin, Cog) + _as_2d(nd, ksize),
        y4=y_shape[:2] + _as_2d(nd, y_shape[2:]),
        stride=_as_2d(nd, stride),
        pads=tuple((p, p) for p in padding) if nd == 2 else ((0, 0), (padding[0],) * 2),
        dilation=_as_2d(nd, dilation),
        groups=groups,
        in_shape=_shape(input),
        out_shape=(Cout,) + out_sp if unbatched else (y_shape[0], Cout) + out_sp,
    )
    return _ConvTranspose.apply(input, weight, bias, geo)


def _fold_geometry(op, size_hw, kernel_size, dilation, padding, stride):
    ks = _ints(op, "kernel_size", kernel_size, 2, False)
    ds = _ints(op, "dilation", dilation, 2, False)
    ps = _ints(op, "padding", padding, 2, False)
    ss = _ints(op, "stride", stride, 2, False)
    if min(ks) <= 0:
        raise RuntimeError(f"{op}: expected kernel_size >= 1, got kernel_size={ks}")
    if min(ds) <= 0:
        raise RuntimeError(f"{op}: expected dilation >= 1, got dilation={ds}")
    if min(ps) < 0:
        raise RuntimeError(f"{op}: expected padding >= 0, got padding={ps}")
    if min(ss) <= 0:
        raise RuntimeError(f"{op}: expected stride >= 1, got stride={ss}")
    blocks = tuple(_out_size(n, k, s, 2 * p, d) for n, k, s, p, d in zip(size_hw, ks, ss, ps, ds))
    if min(blocks) <= 0:
        raise RuntimeError(f"{op}: expected the (dilated) kernel "
                           f"{tuple(d * (k - 1) + 1 for k, d in zip(ks, ds))}"
                           f" to fit in the padded {tuple(n + 2 * p for n, p in zip(size_hw, ps))} "
                           f"plane, got "
                           f"spatial size {tuple(size_hw)}, kernel_size={ks}, dilation={ds}, padding={ps}")
    return ks, ds, tuple((p, p) for p in ps), ss, blocks


# --------------------------------------------------------------------------- public functions
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation over channels: input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k).
    out[n, o, t] = bias[o] + sum_{c in o's group, i} weight[o, c, i] * input_pad[n, c, t*s + i*d];
    L_out = floor((L + 2p - d(k-1) - 1) / s) + 1. ``padding``: int, 1-tuple, 'valid' (0) or 'same'."""
    return _convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation over channels: input (N, C_in, H, W) or (C_in, H, W), weight
    (C_out, C_in/groups, kH, kW).
    out[n, o, y, x] = bias[o] + sum_{c in o's group, i, j} w[o, c, i, j] * in_pad[n, c, y*s + i*d, x*s + j*d];
    H_out = floor((H + 2p - d(k-1) - 1) / s) + 1, likewise W. ``padding``: int, pair, 'valid' (0) or
    'same' (stride 1; output size = input size; an odd total d(k-1) puts the extra row/column at the end)."""
    return _convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint (input gradient) of conv1d: input (N, C_in, L) or (C_in, L), weight
    (C_in, C_out/groups, k). Each input element scatters weight[c, :, :] * input to positions t*s - p + i*d.
    L_out = (L - 1) s - 2p + d(k-1) + output_padding + 1."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint (input gradient) of conv2d: input (N, C_in, H, W) or (C_in, H, W), weight
    (C_in, C_out/groups, kH, kW).
    out[n, :, y*s - p + i*d, x*s - p + j*d] += input[n, c, y, x] * weight[c, :, i, j] (+ bias);
    H_out = (H - 1) s - 2p + d(k-1) + output_padding + 1, likewise W."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: the sliding blocks of input (N, C, H, W) or (C, H, W) as columns (N, C*kH*kW, L),
    out[n, (c, i, j), (y, x)] = input_pad[n, c, y*sh + i*dh, x*sw + j*dw]; L = H_out * W_out with
    H_out = floor((H + 2p - d(k-1) - 1) / s) + 1."""
    op = "unfold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got input of shape "
                           f"{_shape(input)}")
    x_shape = (1,) + _shape(input) if input.ndim == 3 else _shape(input)
    N, C, H, W = x_shape
    ks, ds, pads, ss, blocks = _fold_geometry(op, (H, W), kernel_size, dilation, padding, stride)
    L = blocks[0] * blocks[1]
    out_shape = (N, C * ks[0] * ks[1], L) if input.ndim == 4 else (C * ks[0] * ks[1], L)
    geo = _Geometry(x_shape, (1, 1) + ks, (N, C * ks[0] * ks[1]) + blocks, ss, pads, ds, 1,
                    _shape(input), out_shape)
    return _Unfold.apply(input, geo)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: sums the columns of input (N, C*kH*kW, L) or (C*kH*kW, L) back into
    an (N, C, H, W) image of ``output_size`` (H, W); overlapping blocks add. L must equal H_out * W_out."""
    op = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}: expected 2-D (C*kH*kW, L) or 3-D (N, C*kH*kW, L) input, got input of "
                           f"shape "
                           f"{_shape(input)}")
    size = _ints(op, "output_size", output_size, 2, False)
    ks, ds, pads, ss, blocks = _fold_geometry(op, size, kernel_size, dilation, padding, stride)
    c_shape = (1,) + _shape(input) if input.ndim == 2 else _shape(input)
    N, CK, L = c_shape
    if CK % (ks[0] * ks[1]):
        raise RuntimeError(f"{op}: expected input.shape[-2] divisible by kH*kW = {ks[0] * ks[1]} "
                           f"(kernel_size={ks}), got input of shape {_shape(input)}")
    if L != blocks[0] * blocks[1]:
        raise RuntimeError(f"{op}: expected input.shape[-1] = {blocks[0] * blocks[1]} blocks "
                           f"({blocks[0]} x {blocks[1]} for output_size={size}, kernel_size={ks}, "
                           f"dilation={ds}, "
                           f"padding={tuple(p for p, _ in pads)}, stride={ss}), got input of shape "
                           f"{_shape(input)}")
    C = CK // (ks[0] * ks[1])
    out_shape = (N, C) + size if input.ndim == 3 else (C,) + size
    geo = _Geometry((N, C) + size, (1, 1) + ks, (N, CK) + blocks, ss, pads, ds, 1, _shape(input), out_shape)
    return _Fold.apply(input, geo)
