"""The im2col engine behind every convolution: the plan of one convolution (``ConvGeometry``: sizes, the
columns' ``Layout``, blocks of output rows), the im2col/col2im kernels and the three products built on them
(forward, weight gradient, input gradient). Arrays in, arrays out; ``convolution.py`` holds the autograd
nodes and the API (``save``/``saved`` at the end are what every convolution node, here and in
``winograd.py``, keeps for its backward); ``scratch.py`` lends the large temporaries.

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
- Shifted rows, for stride 1 down the rows: channels-last columns of one kernel row only,
  cols[n, h, x, j, c] = xp[n, c, h, x*sw + j*dw] over every padded row h, kh times fewer than im2col
  writes. y[n, :, y0, x] = sum_i cols[n, y0 + i*dh, x] @ W_i, so the forward and the weight gradient are
  kh GEMMs per sample over row-shifted views of the same columns. On few channels, where im2col's columns
  are most of the traffic, a convolution runs 1.2-1.4x faster.
- Large temporaries come from ``scratch`` and go back to it: fresh large arrays cost page faults on first
  touch, often more than the copy that fills them.

``forced_paths`` pins the choices (tests run every path on the same shapes).
"""

import contextlib
import enum
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convgrad.autograd.graph import saved_as_tensors
from convgrad.functional.scratch import scratch
from convgrad.threads import Claims, OrderedSum, parallel, single_threaded_blas, usable_cores, worker_count

# Measured constants, one value for every machine: the two CPUs swept (Zen 5 and Zen 4, AVX-512, both with
# 1 MiB of L2 per core and 32 MiB of L3) agree on each, and having the same caches they cannot tell a
# cache-size rule from a constant. Zen 4 figures: `python -m bench.sweep_conv`, 2 threads, 2026-12-04
# (runs on a shared machine: candidates that take the same code path differed by up to 10 %).
# Bytes of columns per block of output rows: small enough to stay in cache between im2col and the GEMM,
# large enough that the per-block Python and BLAS overhead stays small. Zen 5: best of 0.5-8 MB. Zen 4:
# best on 6 of 9 bench shapes, within 7 % on two, 15 % behind 2 MiB on a stride-2 layer; 2 MiB is 3-20 %
# slower on the rest, 1 MiB and 16 MiB up to 1.5x.
_BLOCK_BYTES = 4 << 20
# Per-sample GEMMs when the weight matrix (M*K elements) is at most this large (Zen 4: 256 makes ResNet-20's
# first layer 12 % slower, 4096 LeNet-5's conv2 9 %).
_PER_SAMPLE_MK = 1024
# Channels-last columns when their runs (kw*C floats) are this many times longer than channels-first's (Wo);
# col2im, adding one kernel offset at a time, compares C floats with Wo (Zen 4: 0.5-2 within 6 %, 4 makes
# VGG's 64-channel layer 17 % slower; col2im: 0.5 makes LeNet-5's conv2 1.4x slower, 1 and 2 equal).
_CHANNELS_LAST_RUNS = 1.5
_COL2IM_CHANNELS_LAST_RUNS = 1
# Otherwise col2im goes batch-last when output rows are shorter than this (measured: LeNet conv2 2.1x;
# Zen 4: 16-64 equal, 8 makes LeNet-5's conv2 8 % slower).
_BATCH_LAST_MAX_WO = 32
# Shifted rows (see ``ConvGeometry``) when a sample's weight-gradient partials, kh*O*kw*C, are at most this
# many times its columns, (Ho + halo)*Wo*kw*C. Its products are per sample, each taking the whole weight, so
# the partials (and BLAS's packing of the weight) grow with O while the columns shrink with the image.
# docs/speed.md's table (Zen 4, 1 thread, fwd+bwd against im2col, 2026-12-04): 16 channels 32x32 1.40x
# faster, 64 8x8 (ratio 2.4) 1.13x, 128 28x28 (0.46) 1.01x, 512 7x7 (24) 0.82x, left to im2col.
_SHIFT_ROWS_PARTIALS = 3
# Convolutions with fewer floating-point operations than this (``ConvGeometry.flop``, 2 a multiply-add) run
# on one thread: below it, handing work to a thread costs more than it saves. Above it, blocks are cut small
# enough to give each core two.
_PARALLEL_MIN_FLOP = 100_000_000
# Layout-changing copies of at least this many bytes are shared among the workers. No measurement of these
# copies is recorded; docs/speed.md ("Threads") records an ad-hoc one of elementwise passes on two threads:
# slower below 4 MB (waking a worker costs about 0.1 ms), 1.3x faster at 8 MB.
_PARALLEL_MIN_COPY_BYTES = 4 << 20
# The cut of a large convolution into two blocks a core serves at most this many cores: the cut does not
# follow the thread count (the weight gradient keeps its bits on any number of workers), so on a host
# reporting many cores it would make blocks of a row or two whatever the threads. ResNet-18's 128-channel
# 28x28 layer, batch 8, fwd+bwd on 1 thread, best of 7 (2026-12-05, this repo's 2-core VM): cut for 2 or 8
# cores 44.9 ms (4 and 16 blocks), for 64 cores 80.4 ms (224 blocks of one row).
_MAX_CUT_CORES = 8


def _cut_cores():
    return min(usable_cores() or 1, _MAX_CUT_CORES)


_CORES = _cut_cores()


class Layout(enum.Enum):
    """Axis order of the working (padded) input and of the columns; each im2col/col2im copy's contiguous
    runs are Wo floats channels-first, kw*C (copy) or C (add) channels-last, Wo*N batch-last."""

    CHANNELS_FIRST = "cf"  # columns (C, kh, kw, N, Ho, Wo)
    CHANNELS_LAST = "cl"  # columns (N, Ho, Wo, kh, kw, C)
    BATCH_LAST = "bl"  # columns (C, kh, kw, Ho, Wo, N); col2im only


CF, CL, BL = Layout.CHANNELS_FIRST, Layout.CHANNELS_LAST, Layout.BATCH_LAST

# What ``forced_paths`` pins; None: chosen by the thresholds above.
_forced = {"layout": None, "per_sample": None, "full_conv": None, "block_bytes": None, "workers": None,
           "shift_rows": None}


@contextlib.contextmanager
def forced_paths(layout=None, per_sample=None, full_conv=None, block_bytes=None, workers=None,
                 shift_rows=None):
    """Pin the engine's choices inside the block: ``layout`` (a ``Layout``; channels-last falls back to
    channels-first with groups, batch-last applies to col2im only), ``per_sample`` GEMMs (bool),
    ``full_conv`` for the stride-1 input gradient (bool; strided ones always use col2im),
    ``block_bytes`` of columns per block, ``workers``, the threads that claim blocks in turn (1: all
    on the calling thread, BLAS threading each GEMM) and ``shift_rows`` (bool: channels-last columns of
    one kernel row, shifted per kernel row, where it applies). Not thread-safe: for tests and benchmarks."""
    saved = dict(_forced)
    _forced.update(layout=layout, per_sample=per_sample, full_conv=full_conv, block_bytes=block_bytes,
                   workers=workers, shift_rows=shift_rows)
    try:
        yield
    finally:
        _forced.update(saved)


def _block_bytes():
    return _BLOCK_BYTES if _forced["block_bytes"] is None else _forced["block_bytes"]


def _per_sample(mk):
    return mk <= _PER_SAMPLE_MK if _forced["per_sample"] is None else _forced["per_sample"]


# --------------------------------------------------------------------------- geometry
class ConvGeometry:
    """A convolution in 2-D terms: input x4 (N, C, H, W), weight w4 (O, C/groups, kh, kw), output
    y4 (N, O, Ho, Wo); pads ((top, bottom), (left, right)). For a transposed convolution x4 is its output
    and y4 its input. ``in_shape``/``out_shape``: the op's own (1-D, unbatched) shapes."""

    __slots__ = ("x4", "w4", "y4", "stride", "pads", "dilation", "groups", "in_shape", "out_shape",
                 "layout", "shift_rows")

    def __init__(self, x4, w4, y4, stride, pads, dilation, groups, in_shape=None, out_shape=None):
        self.x4, self.w4, self.y4 = x4, w4, y4
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.in_shape, self.out_shape = in_shape, out_shape
        # channels-last orders K as (i, j, c), so with groups a group's rows would not be contiguous
        forced = _forced["layout"]
        if forced is None:
            cl = groups == 1 and x4[1] * w4[3] >= _CHANNELS_LAST_RUNS * y4[3]
        else:
            cl = groups == 1 and forced is CL
        self.layout = CL if cl else CF
        # Shifted rows: channels-last columns of one kernel row, (N, Hp, Wo, kw, C), kh times smaller than
        # im2col's; output row y takes kernel row i from columns row y + i*dh, so the product is kh GEMMs
        # over row-shifted views of the same columns (stride 1 down the rows keeps each view contiguous).
        shifts = cl and stride[0] == 1 and w4[2] > 1 and not _per_sample(w4[0] * self.k)
        forced = _forced["shift_rows"]
        if forced is None:  # a sample's partials (kh, O, kw*C): within the factor of its columns
            shifts = shifts and w4[2] * w4[0] <= _SHIFT_ROWS_PARTIALS * (y4[2] + self.halo) * y4[3]
        self.shift_rows = shifts and forced is not False

    def with_layout(self, layout):
        """The same convolution with columns in ``layout`` (col2im's; never shifted rows)."""
        geo = ConvGeometry(self.x4, self.w4, self.y4, self.stride, self.pads, self.dilation, self.groups,
                           self.in_shape, self.out_shape)
        geo.layout, geo.shift_rows = layout, False
        return geo

    @property
    def padded_hw(self):
        (t, b), (l, r) = self.pads
        return self.x4[2] + t + b, self.x4[3] + l + r

    @property
    def channels_last(self):
        return self.layout is CL

    @property
    def k(self):
        """Rows of the column matrix, all groups: C*kh*kw."""
        return self.x4[1] * self.w4[2] * self.w4[3]

    @property
    def halo(self):
        """Shifted rows: the columns' rows beyond a block's output rows, dh*(kh-1)."""
        return self.dilation[0] * (self.w4[2] - 1)

    def wants_cn(self):
        """Whether ``grad_weight`` reads the output gradient as (O, N, Ho, Wo)."""
        return not (self.shift_rows or self.weight_grad_per_sample())

    def needs_g_cn(self, need_x, need_w):
        """Whether a backward wanting the input (``need_x``) and weight (``need_w``) gradients should make
        the output gradient as (O, N, Ho, Wo) (``to_cn``) once, for both: col2im's input gradient reads it
        (not the full convolution's, nor batch-last col2im's), and so does ``grad_weight`` if it
        ``wants_cn``."""
        col2im = need_x and not self.full_conv_cheaper() and self.col2im_layout() is not BL
        return col2im or (need_w and self.wants_cn())

    def blocks(self, itemsize):
        """(samples, rows) slices of the output, each with about ``_BLOCK_BYTES`` of columns (or less, to give
        each core, up to ``_MAX_CUT_CORES``, two): several whole samples, or some rows of one sample
        (batch-last: some rows of all samples)."""
        N, _, Ho, Wo = self.y4
        row = max(1, Wo * (self.x4[1] * self.w4[3] if self.shift_rows else self.k) * itemsize)
        block_bytes = _block_bytes()
        if self.layout is BL:
            rb = max(1, block_bytes // (row * max(N, 1)))
            return [(slice(0, N), slice(r, min(Ho, r + rb))) for r in range(0, Ho, rb)] if N else []
        if self.flop >= _PARALLEL_MIN_FLOP and _forced["block_bytes"] is None:
            # two blocks for each core (up to _MAX_CUT_CORES), whatever the thread count: the same blocks,
            # and so the same order of the weight gradient's sums, on any number of workers
            block_bytes = min(block_bytes, max(row, N * Ho * row // (2 * _CORES)))
        if Ho * row <= block_bytes:
            nb = block_bytes // (Ho * row)
            return [(slice(s, min(N, s + nb)), slice(0, Ho)) for s in range(0, N, nb)]
        rb = max(1, block_bytes // row)
        return [(slice(s, s + 1), slice(r, min(Ho, r + rb))) for s in range(N) for r in range(0, Ho, rb)]

    def workers(self):
        """Threads to run this convolution's blocks on (``convgrad.threads``): the user's thread count, or
        one when the convolution is too small to gain from threads; one for batch-last col2im, whose
        blocks each span every sample and so add into each other's rows."""
        if self.layout is BL:
            return 1
        if _forced["workers"] is not None:
            return _forced["workers"]
        return worker_count() if self.flop >= _PARALLEL_MIN_FLOP else 1

    @property
    def flop(self):
        """Floating-point operations of the product, 2 a multiply-add: 2*N*Ho*Wo*O*(C/G)*kh*kw."""
        N, O, Ho, Wo = self.y4
        return 2 * N * Ho * Wo * self.k * O // self.groups

    def block_shape(self, block):
        """Shape of the columns of a block: (C, kh, kw, m, r, Wo), (m, r, Wo, kh, kw, C),
        (C, kh, kw, r, Wo, m) or, shifted rows, (m, r + halo, Wo, kw, C)."""
        (ns, rs), (C, (kh, kw), Wo) = block, (self.x4[1], self.w4[2:], self.y4[3])
        m, r = ns.stop - ns.start, rs.stop - rs.start
        if self.shift_rows:
            return (m, r + self.halo, Wo, kw, C)
        if self.layout is CL:
            return (m, r, Wo, kh, kw, C)
        return (C, kh, kw, m, r, Wo) if self.layout is CF else (C, kh, kw, r, Wo, m)

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
        return ConvGeometry(self.y4, (C, O // self.groups, kh, kw), self.x4, (1, 1), pads, self.dilation,
                            self.groups)

    def full_conv_cheaper(self):
        """For stride 1: the full convolution's im2col (O channels over H*W) against col2im's columns plus
        their strided adds (C channels over Ho*Wo, each read, added and written)."""
        N, C, H, W = self.x4
        O, Ho, Wo = self.y4[1:]
        if self.stride != (1, 1):
            return False
        forced = _forced["full_conv"]
        return 2 * O * H * W <= 3 * C * Ho * Wo if forced is None else forced

    def col2im_layout(self):
        """col2im adds one kernel offset at a time: its runs are C floats channels-last, Wo channels-first,
        Wo*N batch-last (which costs two transposing copies)."""
        forced = _forced["layout"]
        if forced is not None:
            return CF if forced is CL and self.groups != 1 else forced
        C, Wo = self.x4[1], self.y4[3]
        if self.groups == 1 and C >= _COL2IM_CHANNELS_LAST_RUNS * Wo:
            return CL
        return BL if Wo < _BATCH_LAST_MAX_WO else CF

    def weight_grad_per_sample(self):
        return _per_sample((self.w4[0] // self.groups) * (self.k // self.groups))

    def weight_matrix(self, w):
        """w (O, C/G, kh, kw) as (G, O/G, K/G) with K in the columns' row order: (c, i, j) or (i, j, c);
        shifted rows: (kh, kw*C, O), one matrix per kernel row."""
        G, (O, Cg, kh, kw) = self.groups, self.w4
        if self.shift_rows:
            return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(kh, kw * Cg, O)
        if self.channels_last:
            return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(1, O, Cg * kh * kw)
        return np.ascontiguousarray(w).reshape(G, O // G, Cg * kh * kw)

    def weight_from_matrix(self, wm):
        """Inverse of ``weight_matrix``: (G, O/G, K/G) -> a new (O, C/G, kh, kw) array."""
        O, Cg, kh, kw = self.w4
        if self.shift_rows:
            return np.ascontiguousarray(wm.reshape(kh, kw, Cg, O).transpose(3, 2, 0, 1))
        if self.channels_last:
            return np.ascontiguousarray(wm.reshape(O, kh, kw, Cg).transpose(0, 3, 1, 2))
        return np.ascontiguousarray(wm).reshape(self.w4)


# --------------------------------------------------------------------------- array kernels
# Axis orders NCHW -> working layout, and back:
_TO_WORK = {CF: (1, 0, 2, 3), CL: (0, 2, 3, 1), BL: (1, 2, 3, 0)}
_FROM_WORK = {CF: (1, 0, 2, 3), CL: (0, 3, 1, 2), BL: (3, 0, 1, 2)}


def _padded(x, pads, layout):
    """Copy of x (N, C, H, W) in the working layout with ((top, bottom), (left, right)) zeros around;
    negative pads crop."""
    N, C, H, W = x.shape
    (t, b), (l, r) = pads
    Hp, Wp = H + t + b, W + l + r
    work = scratch.take(tuple((N, C, Hp, Wp)[a] for a in _TO_WORK[layout]), x.dtype)
    out = work.transpose(_FROM_WORK[layout])  # (N, C, Hp, Wp) view
    t0, b0, l0, r0 = max(t, 0), max(b, 0), max(l, 0), max(r, 0)
    inner = x[:, :, max(-t, 0):H - max(-b, 0), max(-l, 0):W - max(-r, 0)]

    def copy(n):  # samples n: zero the border only (the interior is overwritten), copy the interior
        o = out[n]
        for sl in (np.s_[:, :, :t0], np.s_[:, :, Hp - b0:], np.s_[:, :, t0:Hp - b0, :l0],
                   np.s_[:, :, t0:Hp - b0, Wp - r0:]):
            if o[sl].size:
                o[sl] = 0
        o[:, :, t0:Hp - b0, l0:Wp - r0] = inner[n]

    _by_samples(copy, N, x.nbytes if layout is not CF else 0)
    return work


def _run_blocks(run, geo, blocks):
    """run(i) on each worker i, which claims blocks until none are left. Each worker gets two blocks at
    least (with fewer, one would wait on the other's last block), so there are at most half as many workers
    as blocks; with fewer than two the calling thread runs them all, with BLAS single-threaded all the same.
    Threaded BLAS is slower on small products, and its threads, once woken, spin on the cores the workers
    need (ad-hoc measurements recorded in docs/speed.md, "Threads": MNIST-1D's conv2 1.0 ms with threaded
    BLAS against 0.6 ms; ResNet-18 inference's convolutions, alternating with threaded products, up to 1.8x
    slower). ``forced_paths(workers=1)``: BLAS threads each GEMM, the engine's old path."""
    T = geo.workers()
    if _forced["workers"] is None:
        T = min(T, len(blocks) // 2)
    if _forced["workers"] == 1:
        run(0)
    elif T > 1:
        parallel(run, range(T))
    else:
        with single_threaded_blas():
            run(0)


def _by_samples(fn, N, nbytes):
    """fn(samples) over the N samples, shared among the workers when ``nbytes`` are a layout-changing copy
    large enough: such a copy gathers short runs, slow enough that two cores may do it faster."""
    T = worker_count() if nbytes >= _PARALLEL_MIN_COPY_BYTES else 1
    T = max(1, min(T if _forced["workers"] is None else _forced["workers"], N))
    parallel(fn, [slice(N * i // T, N * (i + 1) // T) for i in range(T)])


def working(x, geo):
    """The convolution input x (N, C, H, W), padded, in the working layout: a copy from ``scratch``, or
    a view of x when channels-first needs no padding (channels-last copies: its runs are C-contiguous)."""
    if geo.layout is not CF or any(geo.pads[0] + geo.pads[1]):
        return _padded(x, geo.pads, geo.layout)
    return x.transpose(_TO_WORK[CF])


def _windows(xw, geo, writeable=False):
    """View of the working-layout array xw (padded input) with the columns' axes:
    ``win[c, i, j, n, y, x] = xp[n, c, y*sh + i*dh, x*sw + j*dw]``, in the order (C, kh, kw, N, Ho, Wo),
    (N, Ho, Wo, kh, kw, C) or (C, kh, kw, Ho, Wo, N)."""
    xv = xw.transpose(_FROM_WORK[geo.layout])
    sn, sc, sh_, sw_ = xv.strides
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.w4[2:], geo.stride, geo.dilation, geo.y4[2:]
    N, C = xv.shape[:2]
    if geo.shift_rows:  # every padded row (stride 1 down the rows)
        shape, strides = (N, xv.shape[2], wo, kw, C), (sn, sh_, sw * sw_, dw * sw_, sc)
    elif geo.layout is CL:
        shape, strides = (N, ho, wo, kh, kw, C), (sn, sh * sh_, sw * sw_, dh * sh_, dw * sw_, sc)
    elif geo.layout is CF:
        shape, strides = (C, kh, kw, N, ho, wo), (sc, dh * sh_, dw * sw_, sn, sh * sh_, sw * sw_)
    else:
        shape, strides = (C, kh, kw, ho, wo, N), (sc, dh * sh_, dw * sw_, sh * sh_, sw * sw_, sn)
    return as_strided(xv, shape, strides, writeable=writeable)


def _in_block(a, block, layout):
    """The part of a windows view or a column matrix that belongs to a block of output rows."""
    ns, rs = block
    if layout is CL:
        return a[ns, rs]
    return a[:, :, :, ns, rs] if layout is CF else a[:, :, :, rs, :, ns]


def _im2col(xw, geo, block=None, out=None):
    """The columns of the padded input xw (working layout), all or one block's; written into ``out``
    (flat, at least as large) or a scratch array. Channels-last: one copy, whose runs are a kernel row's
    kw*C values; otherwise one copy per kernel offset, whose runs are output rows (one 6-D copy would
    iterate over shorter runs)."""
    win = _windows(xw, geo)
    if block is not None and geo.shift_rows:  # the block's rows and the halo below them
        win = win[block[0], block[1].start:block[1].stop + geo.halo]
    elif block is not None:
        win = _in_block(win, block, geo.layout)
    out = scratch.take(win.shape, xw.dtype) if out is None else out[:win.size].reshape(win.shape)
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
            idx = (slice(None),) * 3 + (i, j) if geo.layout is CL else (slice(None), i, j)
            win[idx] += cols[idx]


def to_cn(g):
    """(N, O, Ho, Wo) -> a (O, N, Ho, Wo) copy from ``scratch``."""
    out = scratch.take((g.shape[1], g.shape[0]) + g.shape[2:], g.dtype)
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


def forward(x, w, geo, bias=None, xw=None):
    """y[n, o] = sum over o's group of w[o] * columns[:, n] (+ bias), block by block: a new
    (N, O, Ho, Wo) array. ``xw``: x's working copy, if already made."""
    N, O, Ho, Wo = geo.y4
    G, cl = geo.groups, geo.channels_last
    own = xw is None
    if own:
        xw = working(x, geo)
    wm = geo.weight_matrix(w)
    M, K = wm.shape[1:]
    y = np.empty(geo.y4, x.dtype)
    shifts, kh, dh = geo.shift_rows, geo.w4[2], geo.dilation[0]
    per_sample = not shifts and _per_sample(M * K)  # shifted rows' wm is (kh, kw*C, O): not the rule's M*K

    blocks = geo.blocks(x.dtype.itemsize)
    claims = Claims(blocks)

    def run(_):  # one worker: blocks as it claims them, into columns of its own
        ns, rs = blocks[0]
        most = (ns.stop - ns.start) * (rs.stop - rs.start) * Wo  # output rows of the largest block
        buf = scratch.take((math.prod(geo.block_shape(blocks[0])),), x.dtype)
        tmp = None if per_sample else scratch.take((most * O * (2 if shifts else 1),), x.dtype)
        for block in claims:
            cols = _im2col(xw, geo, block, buf)
            out = y[block[0], :, block[1]]  # (m, O, r, Wo)
            m, r = out.shape[0], out.shape[2]
            ml = m * r * Wo
            if shifts:  # sum over kernel rows i of (r*Wo, kw*C) @ (kw*C, O), rows shifted by i*dh
                c4 = cols.reshape(m, r + geo.halo, Wo, -1)
                t, part = tmp[:ml * O].reshape(m, r * Wo, O), tmp[ml * O:2 * ml * O].reshape(m, r * Wo, O)
                for i in range(kh):
                    np.matmul(c4[:, i * dh:i * dh + r].reshape(m, r * Wo, -1), wm[i], out=part if i else t)
                    if i:
                        t += part
                res = t.reshape(m, r, Wo, O).transpose(0, 3, 1, 2)
            elif per_sample:  # per sample (M, K) @ (K, r*Wo), straight into y
                kml = cols.reshape(ml, G * K).T if cl else cols.reshape(G * K, ml)
                np.matmul(wm[None], kml.reshape(G, K, m, r * Wo).transpose(2, 0, 1, 3),
                          out=out.reshape(m, G, M, r * Wo))
                if bias is not None:
                    out += bias[:, None, None]
                continue
            elif cl:  # (m*r*Wo, K) @ (K, O)
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
        scratch.give(buf, tmp)

    if blocks:
        _run_blocks(run, geo, blocks)
    if own:
        scratch.give(xw)
    return y


def grad_weight(xw, g, geo, g_cn=None):
    """dL/dw[g] = sum over blocks of g[g] (O/G, rows) @ columns[g]^T (rows, K/G), as a new
    (O, C/G, kh, kw) array. xw: the convolution input's working copy; ``g_cn``: g as (O, N, Ho, Wo), needed
    when ``geo.wants_cn()``."""
    N, O, Ho, Wo = geo.y4
    G, cl = geo.groups, geo.channels_last
    M, K = O // G, geo.k // G
    shifts, kh, dh = geo.shift_rows, geo.w4[2], geo.dilation[0]
    per_sample = shifts or geo.weight_grad_per_sample()
    shape = (kh, M, K // kh) if shifts else (G, K, M) if not (per_sample or cl) else (G, M, K)

    blocks = geo.blocks(g.dtype.itemsize)
    acc = OrderedSum(np.zeros(shape, g.dtype))  # the blocks' products in block order, on any threads
    claims = Claims(enumerate(blocks))

    def run(_):  # one worker: blocks as it claims them, into columns of its own
        buf = scratch.take((math.prod(geo.block_shape(blocks[0])),), g.dtype)
        most = blocks[0][0].stop - blocks[0][0].start  # samples of the largest block
        part = scratch.take((most,) + shape, g.dtype) if per_sample else None
        for i, block in claims:
            cols = _im2col(xw, geo, block, buf)
            m = block[0].stop - block[0].start
            ml = cols.size // geo.k
            if shifts:  # per kernel row j and sample (O, r*Wo) @ (r*Wo, kw*C), rows shifted by j*dh
                r = block[1].stop - block[1].start
                c4, p = cols.reshape(m, r + geo.halo, Wo, -1), part[:m]
                for j in range(kh):
                    np.matmul(_rows(g, block), c4[:, j * dh:j * dh + r].reshape(m, r * Wo, -1), out=p[:, j])
                acc.add(i, p.sum(axis=0))
            elif per_sample:  # per sample (M, r*Wo) @ (r*Wo, K), summed
                kml = cols.reshape(ml, G * K).T if cl else cols.reshape(G * K, ml)
                p = part[:m]
                np.matmul(_rows(g, block).reshape(m, G, M, -1),
                          kml.reshape(G, K, m, ml // m).transpose(2, 0, 3, 1), out=p)
                acc.add(i, p.sum(axis=0))
            elif cl:  # (M, rows) @ (rows, K)
                acc.add(i, np.matmul(_rows(g_cn, block, 1)[None], cols.reshape(1, ml, K)))
            else:  # per group (K, rows) @ (rows, M): faster than (M, rows) @ (rows, K)
                acc.add(i, np.matmul(cols.reshape(G, K, ml),
                                     _rows(g_cn, block, 1).reshape(G, M, ml).transpose(0, 2, 1)))
        scratch.give(buf, part)  # acc holds p.sum's new arrays, never part

    if blocks:
        _run_blocks(run, geo, blocks)
    acc = acc.total  # (kh, O, kw*C), (G, K, M) or (G, M, K)
    return geo.weight_from_matrix(acc.transpose(0, 2, 1) if shifts or not (per_sample or cl) else acc)


def grad_input(g, w, geo, bias=None, g_cn=None):
    """dL/dx (N, C, H, W) of the convolution for the output gradient g (N, O, Ho, Wo), plus ``bias``;
    also the transposed convolution's forward:
    dx[n, c, h, v] = sum_{o, i, j} w[o, c, i, j] * g[n, o, (h + pt - i*dh)/sh, (v + pl - j*dw)/sw]
    over the terms where both quotients are whole and in range. ``g_cn``: g as (O, N, Ho, Wo), if made."""
    N, C, H, W = geo.x4
    if geo.full_conv_cheaper():
        G, (O, Cg, kh, kw) = geo.groups, geo.w4
        wf = w.reshape(G, O // G, Cg, kh, kw)[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4)
        return forward(g, wf.reshape(C, O // G, kh, kw), geo.full_conv(), bias)
    geo = geo.with_layout(geo.col2im_layout())
    layout, (O, Ho, Wo) = geo.layout, geo.y4[1:]
    own = g_cn is None or layout is BL
    if layout is BL:  # g as (O, Ho, Wo, N)
        gt = scratch.take((O, Ho, Wo, N), g.dtype)
        np.copyto(gt, g.transpose(1, 2, 3, 0))
    else:  # g as (O, N, Ho, Wo)
        gt = to_cn(g) if own else g_cn
    wm = geo.weight_matrix(w)
    G, M, K = wm.shape
    (pt, _), (pl, _) = geo.pads
    shape = (N, C) + geo.padded_hw
    xw = scratch.take(tuple(shape[a] for a in _TO_WORK[layout]), g.dtype)
    xw.fill(0)

    blocks = geo.blocks(g.dtype.itemsize)
    # blocks of rows of one sample add into each other's edge rows: a worker claims all of a sample's
    claims = Claims([list(same) for _, same in itertools.groupby(blocks, lambda b: (b[0].start, b[0].stop))])

    def run(_):  # one worker: samples as it claims them, with columns of its own
        buf = scratch.take((math.prod(geo.block_shape(blocks[0])),), g.dtype)
        for block in itertools.chain.from_iterable(claims):
            gb = gt[:, block[1]].reshape(O, -1) if layout is BL else _rows(gt, block, 1)  # (O, rows)
            ml = gb.shape[1]
            if layout is CL:  # (rows, O) @ (O, K): the columns' storage order
                d = buf[:ml * K].reshape(ml, K)
                np.matmul(gb.T, wm[0], out=d)
            else:
                d = buf[:ml * G * K].reshape(G, K, ml)
                np.matmul(wm.transpose(0, 2, 1), gb.reshape(G, M, ml), out=d)
            _col2im(xw, d.reshape(geo.block_shape(block)), geo, block)
        scratch.give(buf)

    if blocks:
        _run_blocks(run, geo, blocks)
    if own:
        scratch.give(gt)
    inner = xw.transpose(_FROM_WORK[layout])[:, :, pt:pt + H, pl:pl + W]
    dx = np.empty((N, C, H, W), g.dtype)

    def copy(n):
        if bias is not None:
            np.add(inner[n], bias[:, None, None], out=dx[n])
        else:
            np.copyto(dx[n], inner[n])

    _by_samples(copy, N, dx.nbytes if layout is CL else 0)
    scratch.give(xw)
    return dx


# --------------------------------------------------------------------------- unfold / fold
# unfold/fold are im2col/col2im of the image seen as one sample of N*C channels, channels-first: then
# the columns (N*C, kh, kw, 1, Ho, Wo) are exactly (N, C*kh*kw, L).
def unfold(x, geo):
    """(N, C, H, W) -> (N, C*kh*kw, L)."""
    N, C, H, W = geo.x4
    one = _one_sample(geo)
    src = x.reshape(1, N * C, H, W)
    xw = working(src, one)
    out = np.empty(one.block_shape((slice(0, 1), slice(0, one.y4[2]))), x.dtype)
    _im2col(xw, one, out=out.reshape(-1))
    scratch.give(xw)
    return out.reshape(geo.out_shape if x.shape == geo.in_shape else geo.in_shape)


def fold(cols, geo):
    """(N, C*kh*kw, L) -> (N, C, H, W): col2im, then the padding cut off."""
    N, C, H, W = geo.x4
    one = _one_sample(geo)
    blocks = cols.reshape(one.block_shape((slice(0, 1), slice(0, one.y4[2]))))
    if not any(geo.pads[0] + geo.pads[1]):
        out = np.zeros((N * C, 1, H, W), cols.dtype)
        _col2im(out, blocks, one)
    else:
        (pt, _), (pl, _) = geo.pads
        xw = scratch.take((N * C, 1) + geo.padded_hw, cols.dtype)
        xw.fill(0)
        _col2im(xw, blocks, one)
        out = np.array(xw[:, :, pt:pt + H, pl:pl + W])
        scratch.give(xw)
    return out.reshape(geo.out_shape if cols.shape == geo.in_shape else geo.in_shape)


def _one_sample(geo):
    N, C, H, W = geo.x4
    return ConvGeometry((1, N * C, H, W), (1, 1) + geo.w4[2:], (1, 1) + geo.y4[2:], geo.stride, geo.pads,
                        geo.dilation, 1).with_layout(CF)


# --------------------------------------------------------------------------- what a node keeps
def save(ctx, x, w, geo):
    """Keeps what a convolution node's backward reads: x only when the weight gradient is wanted."""
    if ctx.needs_input_grad:
        ctx.geo = geo
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, w)


def saved(ctx, tensors=False):
    """(a, b, geo, needs_input_grad) of a convolution node with saved inputs a, b; the saved inputs as
    Tensors when ``tensors`` (a create_graph backward records ops on them)."""
    a, b = saved_as_tensors(ctx) if tensors else ctx.saved_tensors
    return a, b, ctx.geo, ctx.needs_input_grad
