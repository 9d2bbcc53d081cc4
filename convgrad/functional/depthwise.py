"""Depthwise convolution (groups = in_channels = out_channels: one k x k filter per channel), as
kh*kw shifted multiply-adds instead of im2col and a GEMM:

    y[n, c, y, x] = sum_{i, j} w[c, 0, i, j] * xp[n, c, y*sh + i*dh, x*sw + j*dw] (+ b[c])

Each channel's product has only K = kh*kw terms, so the GEMM path runs one (1, K) @ (K, H*W) product
per sample and channel: thousands of tiny BLAS calls. Here each kernel tap is one vectorised pass over
the whole output, channels last (N, H, W, C), so the per-channel weights are a contiguous operand along
the innermost axis. It is used when output rows are short (width <= 8: the late stages of a CIFAR
EfficientNet or MobileNet), where it wins; on long rows the GEMM path is as fast or faster. Measured,
batch 2, ms (this kernel / GEMM path, noisy shared machine): 480ch 8x8 k5 0.72-0.78 / 1.39-1.82,
1152ch 4x4 k3 0.23 / 0.67-0.81; but 96ch 32x32 k3 1.1-1.9 / 0.65-1.08.
"""

import numpy as np

from convgrad.autograd.function import NumpyFunction

__all__ = []


_SHORT_ROWS = 8  # output widths up to this use this kernel (measured, see above)


def applies(geo):
    """Whether the convolution described by ``geo`` (see ``convolution._Geometry``) is depthwise with
    channel multiplier 1."""
    N, C = geo.x4[:2]
    O, Cg = geo.w4[:2]
    return (geo.groups == C == O and Cg == 1 and C > 1 and geo.y4[3] <= _SHORT_ROWS
            and min(p for pair in geo.pads for p in pair) >= 0)


def _taps(geo):
    """(k, slices) per kernel tap k = i*kw + j: the output-shaped view of the padded input (in the
    working layout) that tap multiplies."""
    kh, kw = geo.w4[2:]
    (sh, sw), (dh, dw), (ho, wo) = geo.stride, geo.dilation, geo.y4[2:]
    for i in range(kh):
        for j in range(kw):
            yield i * kw + j, (slice(None), slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                               slice(j * dw, j * dw + sw * (wo - 1) + 1, sw), slice(None))


def _padded(x4, pads):
    """x4 (N, C, H, W) as a new padded (N, Hp, Wp, C) array, zeros around."""
    N, C, H, W = x4.shape
    (t, b), (l, r) = pads
    xp = np.empty((N, H + t + b, W + l + r, C), x4.dtype)
    v = xp.transpose(0, 3, 1, 2)  # (N, C, Hp, Wp) view
    if t or b or l or r:
        v[:, :, :t] = 0
        v[:, :, H + t:] = 0
        v[:, :, t:H + t, :l] = 0
        v[:, :, t:H + t, W + l:] = 0
    v[:, :, t:H + t, l:W + l] = x4
    return xp


class DepthwiseConv(NumpyFunction):
    """y = sum over taps of w_tap * shifted x (+ b); dL/dw_tap = sum g * shifted x,
    dL/dx = the taps' g * w_tap added back at their shifts; dL/db = sum of g."""

    @staticmethod
    def forward(ctx, x, w, b, geo):
        xp = _padded(x.reshape(geo.x4), geo.pads)
        C = geo.x4[1]
        wt = np.ascontiguousarray(w.reshape(C, -1).T)  # (K, C): one contiguous row of weights per tap
        N, _, Ho, Wo = geo.y4
        y = np.empty((N, Ho, Wo, C), x.dtype)
        tmp = np.empty_like(y)
        for k, sl in _taps(geo):
            if k == 0:
                np.multiply(xp[sl], wt[0], out=y)
            else:
                np.multiply(xp[sl], wt[k], out=tmp)
                y += tmp
        if b is not None:
            y += b
        if ctx.needs_input_grad:
            ctx.geo, ctx.wt = geo, wt
            ctx.xp = xp if ctx.needs_input_grad[1] else None
            ctx.wshape = w.shape
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2)).reshape(geo.out_shape)

    @staticmethod
    def backward(ctx, gy):
        geo, wt = ctx.geo, ctx.wt
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        N, C, H, W = geo.x4
        g4 = gy.reshape(geo.y4)
        g = np.ascontiguousarray(g4.transpose(0, 2, 3, 1))  # (N, Ho, Wo, C)
        gx = gw = gb = None
        if need_w:
            gw = np.empty(wt.shape, wt.dtype)
            for k, sl in _taps(geo):
                # sum over n, y, x of g * the shifted input, per channel, without the product array
                gw[k] = np.einsum("nyxc,nyxc->c", g, ctx.xp[sl])
            gw = np.ascontiguousarray(gw.T).reshape(ctx.wshape)
        if need_b:
            gb = np.einsum("ncyx->c", g4)
        if need_x:
            (t, b), (l, r) = geo.pads
            gxp = np.zeros((N, H + t + b, W + l + r, C), g.dtype)
            tmp = np.empty_like(g)
            for k, sl in _taps(geo):
                np.multiply(g, wt[k], out=tmp)
                gxp[sl] += tmp
            gx = np.ascontiguousarray(gxp[:, t:H + t, l:W + l].transpose(0, 3, 1, 2)).reshape(geo.in_shape)
        return gx, gw, gb, None
