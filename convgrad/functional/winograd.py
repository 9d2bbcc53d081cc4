"""Winograd minimal filtering F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin & Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016). Each 2x2 output tile Y comes from the 4x4 input tile d around it:

    Y = A^T [ (G w G^T) . (B^T d B) ] A        (. elementwise; 16 multiplications instead of 36)

    B^T = [[1, 0, -1, 0],   G = [[1,    0,   0],   A^T = [[1, 1,  1,  0],
           [0, 1,  1, 0],        [1/2,  1/2, 1/2],        [0, 1, -1, -1]]
           [0, -1, 1, 0],        [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]       [0,    0,   1]]

Over channels the products are 16 GEMMs, one per tile position (a, b): M[ab] (O, P) = U[ab] (O, C) @ V[ab]
(C, P), with U = G w G^T, V = B^T d B and P = N * ceil(Ho/2) * ceil(Wo/2) tiles; output (N, O, Ho, Wo),
Ho = H + pad_top + pad_bottom - 2. The gradients are this computation's adjoint: with Z = A g A^T (g a 2x2
output-gradient tile), dL/dU[ab] = Z[ab] @ V[ab]^T, so dL/dw = G^T (sum over tiles of Z . V) G, and
dL/dV[ab] = U[ab]^T @ Z[ab], so dL/dd = B (U^T Z) B^T, added back at each tile's place in the padded input.
The transforms are a few strided NumPy passes over the (C, N, tile row, tile col) layout, so each GEMM
operand is one contiguous matrix.

F(4x4, 3x3) (4x fewer multiplications) is not here: it was not built or checked for float32 accuracy in
this change.

Which algorithm runs is ``convgrad.backends.convolution.algorithm``; "auto" measures both once per shape.
On the 2026-12-04 afternoon machine (AVX-512 OpenBLAS kernels, ~170 GFLOP/s on cached 64x64 GEMMs, shared
and loaded) Winograd was slower than im2col on every ResNet-20/VGG layer (1.3-2x per layer, fwd+bwd): the
16 small GEMMs per chunk (K = C channels) run far below the large im2col GEMM's rate and the transforms
cost several passes over 4x the input, so "auto" chose im2col. A CPU with a slower GEMM against its memory
may choose otherwise; that is what the measurement is for.
"""

import time

import numpy as np

from convgrad.autograd.function import NumpyFunction
from convgrad.backends import convolution as backend
from convgrad.functional import im2col
from convgrad.functional.scratch import scratch

__all__ = []


def eligible(geo, dtype):
    """Whether Winograd F(2x2, 3x3) computes this convolution: groups 1, 3x3 kernel, stride 1, dilation 1,
    a non-empty batch, float32/float64 (in float16 the transforms' rounding would cost too much)."""
    return (geo.groups == 1 and geo.w4[2:] == (3, 3) and geo.stride == (1, 1) and geo.dilation == (1, 1)
            and geo.x4[0] > 0 and np.dtype(dtype) in (np.float32, np.float64))


def applies(geo, dtype):
    """Whether to run the Winograd op for this convolution: forced by the backend flag, or, in "auto", the
    faster of the two in a measurement on this machine (``_calibrate``), kept per shape."""
    algo = backend.current()
    if algo == "im2col" or not eligible(geo, dtype):
        return False
    if algo == "winograd":
        return True
    key = (geo.x4, geo.w4, geo.pads, np.dtype(dtype).str)
    choice = _CHOICES.get(key)
    if choice is None:
        if len(_CHOICES) >= _MAX_CHOICES:  # many shapes (a test suite, variable image sizes): start over
            _CHOICES.clear()
        choice = _CHOICES[key] = _calibrate(geo, np.dtype(dtype))
    return choice


# Measured choices, per (input shape, weight shape, pads, dtype). No constant decides: the relative speed of
# the two depends on the CPU's GEMM rate against its memory bandwidth (Winograd moves ~4x the input through
# its transforms to save 2.25x of the multiplications), which changes from machine to machine.
_CHOICES = {}
_MAX_CHOICES = 512
_CALIBRATION_RUNS = 2


def _calibrate(geo, dtype):
    """True if a forward + backward of Winograd ran faster than im2col's on random data of this shape (the
    best of ``_CALIBRATION_RUNS`` runs each, interleaved: on a loaded machine a single run can mislead)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(geo.x4, dtype=np.float32).astype(dtype, copy=False)
    w = rng.standard_normal(geo.w4, dtype=np.float32).astype(dtype, copy=False)
    g = rng.standard_normal(geo.y4, dtype=np.float32).astype(dtype, copy=False)
    best = [np.inf, np.inf]
    for _ in range(_CALIBRATION_RUNS):
        for i, run in enumerate((_im2col_step, _winograd_step)):
            t0 = time.perf_counter()
            run(x, w, g, geo)
            best[i] = min(best[i], time.perf_counter() - t0)
    return best[1] < best[0]


def _im2col_step(x, w, g, geo):
    """What the im2col op (``convolution._Conv``) does in a training step: forward and both gradients."""
    xw = im2col.working(x, geo)
    im2col.forward(x, w, geo, None, xw)
    g_cn = im2col.to_cn(g) if geo.needs_g_cn(True, True) else None
    im2col.grad_weight(xw, g, geo, g_cn)
    im2col.grad_input(g, w, geo, g_cn=g_cn)
    scratch.give(xw, g_cn)


def _winograd_step(x, w, g, geo):
    u = weight_transform(w)
    forward(x, u, None, geo)
    backward(x, u, g, geo, True, True)


# --------------------------------------------------------------------------- transforms
# The large temporaries come from im2col's scratch pool: fresh pages of this size cost more in page faults
# than the passes that fill them.
def _gemms(a, b, out):
    """out[k] = a[k] @ b[k] for the 16 tile positions, one BLAS call each (np.matmul on the stacked
    operands ran 1.5-3x slower here than this loop)."""
    for k in range(16):
        np.matmul(a[k], b[k], out=out[k])
    return out


def weight_transform(w):
    """U = G w G^T for w (O, C, 3, 3): (16, O, C), tile position (a, b) first."""
    O, C = w.shape[:2]
    rows = np.empty((4, O, C, 3), w.dtype)  # G w: over the kernel rows i
    w0, w1, w2 = w[:, :, 0], w[:, :, 1], w[:, :, 2]
    np.copyto(rows[0], w0)
    np.add(w0, w2, out=rows[1])
    np.subtract(rows[1], w1, out=rows[2])
    rows[1] += w1
    rows[1:3] *= 0.5
    np.copyto(rows[3], w2)
    u = np.empty((4, 4, O, C), w.dtype)  # (G w) G^T: over the kernel columns j
    r0, r1, r2 = rows[..., 0], rows[..., 1], rows[..., 2]
    np.copyto(u[:, 0], r0)
    np.add(r0, r2, out=u[:, 1])
    np.subtract(u[:, 1], r1, out=u[:, 2])
    u[:, 1] += r1
    u[:, 1:3] *= 0.5
    np.copyto(u[:, 3], r2)
    return u.reshape(16, O, C)


def input_transform(x, pads, out_hw):
    """V = B^T d B for every 4x4 tile d (stride 2) of the zero-padded x (N, C, H, W): (16, C, P) (a scratch
    buffer) and the tile counts (th, tw); P = N * th * tw, tiles ordered (n, tile row, tile col)."""
    N, C, H, W = x.shape
    (t, b), (l, r) = pads
    th, tw = (out_hw[0] + 1) // 2, (out_hw[1] + 1) // 2
    Hp, Wp = 2 * th + 2, 2 * tw + 2  # >= H + t + b: one extra zero row/column when Ho/Wo is odd
    xp = scratch.take((C, N, Hp, Wp), x.dtype)  # channels first: each V[ab] is then one (C, P) matrix
    xp[:, :, :t] = 0
    xp[:, :, t + H:] = 0
    xp[:, :, t:t + H, :l] = 0
    xp[:, :, t:t + H, l + W:] = 0
    xp[:, :, t:t + H, l:l + W] = x.transpose(1, 0, 2, 3)
    d = [xp[:, :, k:k + 2 * th - 1:2] for k in range(4)]  # row k of every tile: (C, N, th, Wp)
    rows = scratch.take((4, C, N, th, Wp), x.dtype)
    np.subtract(d[0], d[2], out=rows[0])
    np.add(d[1], d[2], out=rows[1])
    np.subtract(d[2], d[1], out=rows[2])
    np.subtract(d[1], d[3], out=rows[3])
    scratch.give(xp)
    c = [rows[..., k:k + 2 * tw - 1:2] for k in range(4)]  # column k of every tile: (4, C, N, th, tw)
    v = scratch.take((16, C, N * th * tw), x.dtype)
    v6 = v.reshape(4, 4, C, N, th, tw)
    np.subtract(c[0], c[2], out=v6[:, 0])
    np.add(c[1], c[2], out=v6[:, 1])
    np.subtract(c[2], c[1], out=v6[:, 2])
    np.subtract(c[1], c[3], out=v6[:, 3])
    scratch.give(rows)
    return v, (th, tw)


def output_transform(m, out, tiles):
    """Y = A^T M A for the products m (16, O, P): written into ``out`` (N, O, Ho, Wo), tiles put in place."""
    N, O, Ho, Wo = out.shape
    th, tw = tiles
    m = m.reshape(4, 4, O, N, th, tw)
    s = scratch.take((2, 4, O, N, th, tw), m.dtype)  # A^T M: over the tile rows a
    np.add(m[0], m[1], out=s[0])
    s[0] += m[2]
    np.subtract(m[1], m[2], out=s[1])
    s[1] -= m[3]
    even = (2 * th, 2 * tw) == (Ho, Wo)
    y = out if even else scratch.take((N, O, 2 * th, 2 * tw), m.dtype)
    yv = y.reshape(N, O, th, 2, tw, 2).transpose(3, 5, 1, 0, 2, 4)  # (row, column in tile, O, N, th, tw)
    np.add(s[:, 0], s[:, 1], out=yv[:, 0])
    yv[:, 0] += s[:, 2]
    np.subtract(s[:, 1], s[:, 2], out=yv[:, 1])
    yv[:, 1] -= s[:, 3]
    scratch.give(s)
    if not even:
        out[...] = y[:, :, :Ho, :Wo]
        scratch.give(y)
    return out


def grad_transform(g, tiles):
    """Z = A g A^T for every 2x2 tile of the output gradient g (N, O, Ho, Wo), zeros past its edge:
    (16, O, P), a scratch buffer."""
    N, O, Ho, Wo = g.shape
    th, tw = tiles
    gp = scratch.take((O, N, 2 * th, 2 * tw), g.dtype)
    gp[:, :, Ho:] = 0
    gp[:, :, :, Wo:] = 0
    gp[:, :, :Ho, :Wo] = g.transpose(1, 0, 2, 3)
    g0, g1 = gp[:, :, 0::2], gp[:, :, 1::2]  # (O, N, th, 2 tw)
    rows = scratch.take((4, O, N, th, 2 * tw), g.dtype)
    np.copyto(rows[0], g0)
    np.add(g0, g1, out=rows[1])
    np.subtract(g0, g1, out=rows[2])
    np.negative(g1, out=rows[3])
    scratch.give(gp)
    c0, c1 = rows[..., 0::2], rows[..., 1::2]
    z = scratch.take((16, O, N * th * tw), g.dtype)
    z6 = z.reshape(4, 4, O, N, th, tw)
    np.copyto(z6[:, 0], c0)
    np.add(c0, c1, out=z6[:, 1])
    np.subtract(c0, c1, out=z6[:, 2])
    np.negative(c1, out=z6[:, 3])
    scratch.give(rows)
    return z


def weight_grad(mw):
    """dL/dw = G^T M G for M = sum over tiles of Z V^T (16, O, C): (O, C, 3, 3)."""
    O, C = mw.shape[1:]
    mw = mw.reshape(4, 4, O, C)
    # G^T = [[1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]], over the tile rows, then the columns
    q = np.empty((3, 4, O, C), mw.dtype)
    np.add(mw[1], mw[2], out=q[1])
    q[1] *= 0.5
    np.add(mw[0], q[1], out=q[0])
    np.add(q[1], mw[3], out=q[2])
    np.subtract(mw[1], mw[2], out=q[1])
    q[1] *= 0.5
    gw = np.empty((O, C, 3, 3), mw.dtype)
    gv = gw.transpose(2, 3, 0, 1)  # (i, j, O, C) view
    np.add(q[:, 1], q[:, 2], out=gv[:, 1])
    gv[:, 1] *= 0.5
    np.add(q[:, 0], gv[:, 1], out=gv[:, 0])
    np.add(gv[:, 1], q[:, 3], out=gv[:, 2])
    np.subtract(q[:, 1], q[:, 2], out=gv[:, 1])
    gv[:, 1] *= 0.5
    return gw


def input_grad(u, z, pads, tiles, out):
    """dL/dx: B (U^T Z) B^T per tile, added at the tile's place in the padded input, padding cut off, written
    into ``out`` (N, C, H, W). B = (B^T)^T maps a tile's 4 values e to d = (e0, e1 - e2 + e3, e1 + e2 - e0,
    -e3)."""
    N, C, H, W = out.shape
    th, tw = tiles
    (t, b), (l, r) = pads
    Hp, Wp = 2 * th + 2, 2 * tw + 2
    e = _gemms(u.transpose(0, 2, 1), z, scratch.take((16, C, N * th * tw), z.dtype))
    e6 = e.reshape(4, 4, C, N, th, tw)
    # over the tile columns first, each added at its place: column k of tile j is padded column 2j + k
    cols = scratch.take((4, C, N, th, Wp), e.dtype)
    tmp = scratch.take((4, C, N, th, tw), e.dtype)
    odd = cols[..., 1:2 * tw:2]
    np.add(e6[:, 1], e6[:, 3], out=odd)
    odd -= e6[:, 2]
    np.copyto(cols[..., 0:2 * tw:2], e6[:, 0])
    cols[..., 2 * tw:] = 0
    np.add(e6[:, 1], e6[:, 2], out=tmp)
    tmp -= e6[:, 0]
    cols[..., 2::2] += tmp
    cols[..., 3::2] -= e6[:, 3]
    scratch.give(e, tmp)
    # then over the tile rows, the same way
    gxp = scratch.take((C, N, Hp, Wp), e.dtype)
    tmp = scratch.take((C, N, th, Wp), e.dtype)
    odd = gxp[:, :, 1:2 * th:2]
    np.add(cols[1], cols[3], out=odd)
    odd -= cols[2]
    np.copyto(gxp[:, :, 0:2 * th:2], cols[0])
    gxp[:, :, 2 * th:] = 0
    np.add(cols[1], cols[2], out=tmp)
    tmp -= cols[0]
    gxp[:, :, 2::2] += tmp
    gxp[:, :, 3::2] -= cols[3]
    out[...] = gxp[:, :, t:t + H, l:l + W].transpose(1, 0, 2, 3)
    scratch.give(cols, tmp, gxp)
    return out


# --------------------------------------------------------------------------- the algorithm
def _chunks(geo, itemsize):
    """Sample ranges whose transformed tiles (16 x channels x tiles floats) fit in im2col's block size: each
    chunk's transforms and GEMMs then run in cache (on the whole batch at once, the 16 GEMMs streamed their
    operands from memory and ran 4-8x slower than on cached ones)."""
    N, C, H, W = geo.x4
    O, Ho, Wo = geo.y4[1:]
    per_sample = 16 * max(C, O) * ((Ho + 1) // 2) * ((Wo + 1) // 2) * itemsize
    step = max(1, im2col._block_bytes() // per_sample)
    return [(n, min(n + step, N)) for n in range(0, N, step)]


def forward(x4, u, b, geo):
    """y (N, O, Ho, Wo) = conv(x4, w) + b, with u = weight_transform(w)."""
    O = geo.y4[1]
    y = np.empty(geo.y4, x4.dtype)
    for n0, n1 in _chunks(geo, x4.dtype.itemsize):
        v, tiles = input_transform(x4[n0:n1], geo.pads, geo.y4[2:])
        m = _gemms(u, v, scratch.take((16, O, v.shape[2]), v.dtype))
        output_transform(m, y[n0:n1], tiles)
        scratch.give(m, v)
        if b is not None:
            y[n0:n1] += b.reshape(O, 1, 1)
    return y


def backward(x4, u, g4, geo, need_x, need_w):
    """(dL/dx, dL/dw) for the output gradient g4; the transformed input is recomputed chunk by chunk (storing
    it would hold 4x the input's memory from forward to backward)."""
    gx = np.empty(geo.x4, g4.dtype) if need_x else None
    mw = np.zeros(u.shape, g4.dtype) if need_w else None
    part = np.empty(u.shape, g4.dtype) if need_w else None
    for n0, n1 in _chunks(geo, g4.dtype.itemsize):
        z = grad_transform(g4[n0:n1], ((geo.y4[2] + 1) // 2, (geo.y4[3] + 1) // 2))
        if need_w:
            v, tiles = input_transform(x4[n0:n1], geo.pads, geo.y4[2:])
            mw += _gemms(z, v.transpose(0, 2, 1), part)
            scratch.give(v)
        if need_x:
            input_grad(u, z, geo.pads, ((geo.y4[2] + 1) // 2, (geo.y4[3] + 1) // 2), gx[n0:n1])
        scratch.give(z)
    return gx, (weight_grad(mw) if need_w else None)


class WinogradConv(NumpyFunction):
    """y = conv(x, w) + b by Winograd F(2x2, 3x3); dL/dw = G^T (sum of Z V^T) G, dL/dx = B (U^T Z) B^T added
    back per tile, dL/db = sum of g (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, w, b, geo):
        u = weight_transform(w.reshape(geo.w4))
        y = forward(x.reshape(geo.x4), u, b, geo)
        im2col.save(ctx, x, w, geo)
        ctx.u = u
        return y.reshape(geo.out_shape)

    @staticmethod
    def backward(ctx, gy):
        x, _, geo, (need_x, need_w, need_b, _) = im2col.saved(ctx)
        g = gy.reshape(geo.y4)
        gx, gw = backward(None if x is None else x.reshape(geo.x4), ctx.u, g, geo, need_x, need_w)
        gb = g.sum(axis=(0, 2, 3)) if need_b else None
        return (None if gx is None else gx.reshape(geo.in_shape)), \
            (None if gw is None else gw.reshape(geo.w4)), gb, None

    @staticmethod
    def tensor_backward(ctx, g):
        """As any convolution's: recorded ops, for create_graph."""
        from convgrad.functional.convolution import _Conv  # convolution imports this module

        return _Conv.tensor_backward(ctx, g)
