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

How, for speed: ``im2col.py`` (the engine: scratch buffers, column layouts, blocks, kernels).
"""


import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.functional import depthwise, im2col, winograd
from convgrad.functional.im2col import ConvGeometry
from convgrad.functional.scratch import scratch
from convgrad.geometry import OutputSizeError, conv_out_size, conv_transpose_out_size, same_padding

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold"]


# --------------------------------------------------------------------------- autograd nodes
class _Conv(NumpyFunction):
    """y = conv(x, w) + b; dL/dw = g @ cols^T, dL/dx = col2im(w^T @ g) or full conv, dL/db = sum of g."""

    @staticmethod
    def forward(ctx, x, w, b, geo):
        x4 = x.reshape(geo.x4)
        xw = im2col.working(x4, geo)
        y = im2col.forward(x4, w.reshape(geo.w4), geo, b, xw)
        need = ctx.needs_input_grad
        ctx.xw = None
        if need and need[1] and scratch.owns(xw):
            ctx.xw = xw  # the padded copy, for the weight gradient
        else:
            scratch.give(xw)
        im2col.save(ctx, x, w, geo)
        return y.reshape(geo.out_shape)

    @staticmethod
    def backward(ctx, gy):
        x, w, geo, (need_x, need_w, need_b, _) = im2col.saved(ctx)
        gx = gw = gb = None
        g = np.ascontiguousarray(gy).reshape(geo.y4)
        g_cn = im2col.to_cn(g) if geo.needs_g_cn(need_x, need_w) else None
        if need_w:
            xw = ctx.xw if ctx.xw is not None else im2col.working(x.reshape(geo.x4), geo)
            gw = im2col.grad_weight(xw, g, geo, g_cn).reshape(w.shape)
            if xw is not ctx.xw:
                scratch.give(xw)
        if need_b:
            gb = g_cn.sum(axis=(1, 2, 3)) if g_cn is not None else g.sum(axis=(0, 2, 3))
        if need_x:
            gx = im2col.grad_input(g, w.reshape(geo.w4), geo, g_cn=g_cn).reshape(geo.in_shape)
        scratch.give(g_cn)
        return gx, gw, gb, None

    def _release(self):
        xw = self.__dict__.get("xw")
        super()._release()
        scratch.give(xw)

    @staticmethod
    def tensor_backward(ctx, g):
        """dL/dx is the transposed convolution of g, dL/dw a convolution of x with g over the batch
        (``_ConvWeightGrad``), dL/db the sum of g: all recorded ops, for create_graph."""
        return _recorded_grads(ctx, g, transposed=False)


class _ConvTranspose(NumpyFunction):
    """y = conv's input gradient applied to x (+ b); dL/dx = conv(g, w), dL/dw = x @ cols(g)^T."""

    @staticmethod
    def forward(ctx, x, w, b, geo):
        y = im2col.grad_input(x.reshape(geo.y4), w.reshape(geo.w4), geo, bias=b)
        im2col.save(ctx, x, w, geo)
        return y.reshape(geo.out_shape)

    @staticmethod
    def backward(ctx, gy):
        x, w, geo, (need_x, need_w, need_b, _) = im2col.saved(ctx)
        g = np.ascontiguousarray(gy).reshape(geo.x4)
        gb = g.sum(axis=(0, 2, 3)) if need_b else None
        gx = gw = None
        if need_x or need_w:
            gwork = im2col.working(g, geo)
            if need_x:
                gx = im2col.forward(g, w.reshape(geo.w4), geo, xw=gwork).reshape(geo.in_shape)
            if need_w:
                x4 = x.reshape(geo.y4)
                x_cn = im2col.to_cn(x4) if geo.wants_cn() else None
                gw = im2col.grad_weight(gwork, x4, geo, x_cn).reshape(w.shape)
                scratch.give(x_cn)
            scratch.give(gwork)
        return gx, gw, gb, None

    @staticmethod
    def tensor_backward(ctx, g):
        return _recorded_grads(ctx, g, transposed=True)


def _recorded_grads(ctx, g, transposed):
    """dL/dx, dL/dw, dL/db of a convolution, or of its transpose, as recorded ops: dL/dx is the other op of
    the pair applied to g, dL/dw the weight gradient of the convolution's (input, output gradient)."""
    x, w, geo, (need_x, need_w, need_b, _) = im2col.saved(ctx, tensors=True)
    op, conv_in, conv_out, out4 = (_Conv, g, x, geo.x4) if transposed else (_ConvTranspose, x, g, geo.y4)
    gx = op.apply(g, w, None, _swapped(geo)) if need_x else None
    gw = _ConvWeightGrad.apply(conv_in, conv_out, geo, w.shape) if need_w else None
    gb = g.reshape(out4).sum(dim=(0, 2, 3)) if need_b else None
    return gx, gw, gb, None


def _swapped(geo):
    """The same geometry with the op's input and output shapes exchanged: the transposed convolution
    that is a convolution's input gradient, or the convolution that is a transposed one's."""
    return ConvGeometry(geo.x4, geo.w4, geo.y4, geo.stride, geo.pads, geo.dilation, geo.groups,
                        geo.out_shape, geo.in_shape)


class _ConvWeightGrad(NumpyFunction):
    """dL/dw[o, c, i, j] = sum_(n, y, x) g[n, o, y, x] x_pad[n, c, y*s + i*d, x*s + j*d], the weight
    gradient of conv(x, w) as an op (create_graph). It is bilinear in (x, g): for an incoming v (weight
    shaped), dL/dx = conv_transpose(g, v) and dL/dg = conv(x, v)."""

    @staticmethod
    def forward(ctx, x, g, geo, wshape):
        x4 = x.reshape(geo.x4)
        g4 = np.ascontiguousarray(g).reshape(geo.y4)
        xw = im2col.working(x4, geo)
        g_cn = im2col.to_cn(g4) if geo.wants_cn() else None
        gw = im2col.grad_weight(xw, g4, geo, g_cn).reshape(wshape)
        scratch.give(g_cn, xw)
        ctx.save_for_backward(x, g)
        ctx.geo = geo
        return gw

    @staticmethod
    def backward(ctx, v):
        x, g, geo, (need_x, need_g, _, _) = im2col.saved(ctx)
        v4 = v.reshape(geo.w4)
        gx = None
        if need_x:
            gx = im2col.grad_input(np.ascontiguousarray(g).reshape(geo.y4), v4, geo).reshape(x.shape)
        gg = im2col.forward(x.reshape(geo.x4), v4, geo).reshape(g.shape) if need_g else None
        return gx, gg, None, None

    @staticmethod
    def tensor_backward(ctx, v):
        x, g, geo, (need_x, need_g, _, _) = im2col.saved(ctx, tensors=True)
        gx = _ConvTranspose.apply(g.reshape(geo.y4), v, None, _swapped(_four_d(geo))) if need_x else None
        gg = _Conv.apply(x.reshape(geo.x4), v, None, _four_d(geo)) if need_g else None
        return (None if gx is None else gx.reshape(x.shape)), (None if gg is None else gg.reshape(g.shape)), \
            None, None


def _four_d(geo):
    """The geometry on the (N, C, H, W) views themselves."""
    return ConvGeometry(geo.x4, geo.w4, geo.y4, geo.stride, geo.pads, geo.dilation, geo.groups, geo.x4,
                        geo.y4)


class _Im2col(NumpyFunction):
    """y = f(x) for f im2col's unfold or its adjoint, fold; dL/dx = f^T(g), the other one."""

    f = adjoint = None

    @classmethod
    def forward(cls, ctx, x, geo):
        ctx.geo = geo
        return cls.f(x, geo)

    @classmethod
    def backward(cls, ctx, g):
        return cls.adjoint(g, ctx.geo), None


class _Unfold(_Im2col):
    """y[n, (c, i, j), (y, x)] = x_pad[n, c, y*sh + i*dh, x*sw + j*dw]; dL/dx = fold(g)."""
    f, adjoint = im2col.unfold, im2col.fold


class _Fold(_Im2col):
    """y = sum of the blocks of x placed at their windows (adjoint of unfold); dL/dx = unfold(g)."""
    f, adjoint = im2col.fold, im2col.unfold


# unfold/fold are im2col/col2im of the image seen as one sample of N*C channels, channels-first: then

# --------------------------------------------------------------------------- argument checks
_shape = checks.shape


def _check_tensors(op, input, weight, bias, nd):
    checks.tensor(op, "input", input)
    checks.tensor(op, "weight", weight)
    checks.tensor(op, "bias", bias, optional=True)
    sp, ksp = ("H, W", "kH, kW") if nd == 2 else ("L", "kL")
    checks.dims(op, "weight", weight, {nd + 2: f"(out_channels, in_channels/groups, {ksp})"})
    checks.dims(op, "input", input, {nd + 1: f"(C, {sp}) unbatched", nd + 2: f"(N, C, {sp}) batched"})
    if 0 in _shape(weight):  # a zero-sized kernel or no channels: nothing to convolve
        raise checks.error(op, "a weight with no zero-sized dim", f"weight of shape {_shape(weight)}")
    checks.same_dtype(op, "weight", weight, input)
    checks.same_dtype(op, "bias", bias, input)


def _check_groups(op, groups):
    return checks.integer(op, "groups", groups, low=1, exc=RuntimeError)


_NOT_GIVEN = object()


def _check_sizes(op, nd, stride, dilation, padding=_NOT_GIVEN, output_padding=_NOT_GIVEN):
    """The hyper-parameters as ``nd``-tuples: stride and dilation >= 1, paddings >= 0."""
    out = [checks.ints(op, "stride", stride, nd, low=1), checks.ints(op, "dilation", dilation, nd, low=1)]
    for name, value in (("padding", padding), ("output_padding", output_padding)):
        if value is not _NOT_GIVEN:
            out.append(checks.ints(op, name, value, nd, low=0))
    return out


def _as_2d(nd, values):
    """Lift 1-D hyper-parameters to 2-D ones acting on a height-1 view."""
    return values if nd == 2 else (1,) + values


def _convolution(op, nd, input, weight, bias, stride, padding, dilation, groups):
    _check_tensors(op, input, weight, bias, nd)
    groups = _check_groups(op, groups)
    stride, dilation = _check_sizes(op, nd, stride, dilation)
    ksize = _shape(weight)[2:]
    if isinstance(padding, str):
        checks.choice(op, "padding", padding, ("same", "valid"), exc=RuntimeError)
        if padding == "valid":
            pads = ((0, 0),) * nd
        else:
            if max(stride) > 1:
                raise checks.error(op, "stride 1 with padding='same' (the output keeps the input's size)",
                                   f"stride={stride}")
            pads = tuple(same_padding(k, d) for k, d in zip(ksize, dilation))
    else:
        p = checks.ints(op, "padding", padding, nd, low=0)
        pads = tuple((q, q) for q in p)
    unbatched = input.ndim == nd + 1
    x_shape = (1,) + _shape(input) if unbatched else _shape(input)
    O, Cg = _shape(weight)[:2]
    if O % groups:
        raise checks.error(op, f"out_channels (weight.shape[0]) divisible by groups={groups}",
                           f"weight of shape {_shape(weight)}")
    if x_shape[1] != Cg * groups:
        raise checks.error(op, f"input with {Cg * groups} channels (weight {_shape(weight)}, "
                           f"groups={groups})", f"input of shape {_shape(input)}")
    if bias is not None and _shape(bias) != (O,):
        raise checks.error(op, f"bias of shape ({O},) (weight {_shape(weight)})",
                           f"bias of shape {_shape(bias)}")
    padded = tuple(n + a + b for n, (a, b) in zip(x_shape[2:], pads))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(ksize, dilation))
    if any(e > n for e, n in zip(eff, padded)):
        raise OutputSizeError(f"{op}: expected the (dilated) kernel {eff} to fit in the padded input "
                              f"{padded}, got input of shape {_shape(input)} and weight {_shape(weight)}",
                              x_shape[2:], pads, eff)
    out_sp = tuple(conv_out_size(n, k, s, a, d, b)
                   for n, k, s, (a, b), d in zip(x_shape[2:], ksize, stride, pads, dilation))
    geo = ConvGeometry(
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
    return _conv_node(geo, input.dtype).apply(input, weight, bias, geo)


def _conv_node(geo, dtype):
    """The op that computes the convolution: depthwise ones (one filter per channel) have their own
    kernel, without im2col (see ``depthwise``); 3x3 stride-1 ones may use Winograd's (see ``winograd``)."""
    if depthwise.applies(geo):
        return depthwise.DepthwiseConv
    return winograd.WinogradConv if winograd.applies(geo, dtype) else _Conv


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_tensors(op, input, weight, bias, nd)
    groups = _check_groups(op, groups)
    if isinstance(padding, str):
        raise checks.error(op, f"padding to be an int or a sequence of {nd} ints (padding strings are for "
                           "conv1d/conv2d)", f"padding={padding!r}", TypeError)
    stride, dilation, padding, output_padding = _check_sizes(op, nd, stride, dilation, padding,
                                                              output_padding)
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        raise checks.error(op, "output_padding smaller than stride or dilation (in each dim)",
                           f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    unbatched = input.ndim == nd + 1
    y_shape = (1,) + _shape(input) if unbatched else _shape(input)
    Cin, Cog = _shape(weight)[:2]
    ksize = _shape(weight)[2:]
    if Cin % groups:
        raise checks.error(op, f"in_channels (weight.shape[0]) divisible by groups={groups}",
                           f"weight of shape {_shape(weight)}")
    if y_shape[1] != Cin:
        raise checks.error(op, f"input with {Cin} channels (weight {_shape(weight)}, groups={groups})",
                           f"input of shape {_shape(input)}")
    if y_shape[0] and 0 in y_shape[2:]:
        raise checks.error(op, "an input with no zero-sized spatial dim (only the batch may be empty)",
                           f"input of shape {_shape(input)}")
    Cout = Cog * groups
    if bias is not None and _shape(bias) != (Cout,):
        raise checks.error(op, f"bias of shape ({Cout},) (weight {_shape(weight)}, groups={groups})",
                           f"bias of shape {_shape(bias)}")
    out_sp = tuple(conv_transpose_out_size(n, k, s, p, d, q)
                   for n, s, p, d, k, q in zip(y_shape[2:], stride, padding, dilation, ksize, output_padding))
    # an empty batch may have an empty output, as in PyTorch
    if min(out_sp) < 0 or min(out_sp) == 0 and y_shape[0]:
        raise checks.error(op, "an output size >= 1 in every dim ((H - 1) stride - 2 padding "
                           "+ dilation (k - 1) + output_padding + 1)",
                           f"{out_sp} for input of shape {_shape(input)}, weight {_shape(weight)}, "
                           f"stride={stride}, padding={padding}, dilation={dilation}")
    out_shape = (Cout,) + out_sp if unbatched else (y_shape[0], Cout) + out_sp
    if 0 in out_sp:
        return _EmptyOutput.apply(input, weight, bias, out_shape)
    geo = ConvGeometry(
        x4=(y_shape[0], Cout) + _as_2d(nd, out_sp),
        w4=(Cin, Cog) + _as_2d(nd, ksize),
        y4=y_shape[:2] + _as_2d(nd, y_shape[2:]),
        stride=_as_2d(nd, stride),
        pads=tuple((p, p) for p in padding) if nd == 2 else ((0, 0), (padding[0],) * 2),
        dilation=_as_2d(nd, dilation),
        groups=groups,
        in_shape=_shape(input),
        out_shape=out_shape,
    )
    return _ConvTranspose.apply(input, weight, bias, geo)


class _EmptyOutput(NumpyFunction):
    """The output of an empty batch whose spatial output size is 0 too (PyTorch returns it); every gradient
    is zero."""

    @staticmethod
    def forward(ctx, x, w, b, shape):
        ctx.like = [None if a is None else (a.shape, a.dtype) for a in (x, w, b)]
        return np.zeros(shape, x.dtype)

    @staticmethod
    def backward(ctx, g):
        return tuple(None if a is None else np.zeros(*a) for a in ctx.like) + (None,)


def _fold_geometry(op, size_hw, kernel_size, dilation, padding, stride):
    ks = checks.ints(op, "kernel_size", kernel_size, 2, one_ok=False, low=1)
    ds = checks.ints(op, "dilation", dilation, 2, one_ok=False, low=1)
    ps = checks.ints(op, "padding", padding, 2, one_ok=False, low=0)
    ss = checks.ints(op, "stride", stride, 2, one_ok=False, low=1)
    blocks = tuple(conv_out_size(n, k, s, p, d) for n, k, s, p, d in zip(size_hw, ks, ss, ps, ds))
    if min(blocks) <= 0:
        eff = tuple(d * (k - 1) + 1 for k, d in zip(ks, ds))
        padded = tuple(n + 2 * p for n, p in zip(size_hw, ps))
        raise checks.error(op, f"the (dilated) kernel {eff} to fit in the padded {padded} plane",
                           f"spatial size {tuple(size_hw)}, kernel_size={ks}, dilation={ds}, padding={ps}")
    return ks, ds, tuple((p, p) for p in ps), ss, blocks


# --------------------------------------------------------------------------- public functions
@checks.typed
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation over channels: input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k).
    out[n, o, t] = bias[o] + sum_{c in o's group, i} weight[o, c, i] * input_pad[n, c, t*s + i*d];
    L_out = floor((L + 2p - d(k-1) - 1) / s) + 1. ``padding``: int, 1-tuple, 'valid' (0) or 'same'."""
    return _convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@checks.typed
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation over channels: input (N, C_in, H, W) or (C_in, H, W), weight
    (C_out, C_in/groups, kH, kW).
    out[n, o, y, x] = bias[o] + sum_{c in o's group, i, j} w[o, c, i, j] * in_pad[n, c, y*s + i*d, x*s + j*d];
    H_out = floor((H + 2p - d(k-1) - 1) / s) + 1, likewise W. ``padding``: int, pair, 'valid' (0) or
    'same' (stride 1; output size = input size; an odd total d(k-1) puts the extra row/column at the end)."""
    return _convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@checks.typed
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint (input gradient) of conv1d: input (N, C_in, L) or (C_in, L), weight
    (C_in, C_out/groups, k). Each input element scatters weight[c, :, :] * input to positions t*s - p + i*d.
    L_out = (L - 1) s - 2p + d(k-1) + output_padding + 1."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


@checks.typed
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint (input gradient) of conv2d: input (N, C_in, H, W) or (C_in, H, W), weight
    (C_in, C_out/groups, kH, kW).
    out[n, :, y*s - p + i*d, x*s - p + j*d] += input[n, c, y, x] * weight[c, :, i, j] (+ bias);
    H_out = (H - 1) s - 2p + d(k-1) + output_padding + 1, likewise W."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


@checks.typed
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: the sliding blocks of input (N, C, H, W) or (C, H, W) as columns (N, C*kH*kW, L),
    out[n, (c, i, j), (y, x)] = input_pad[n, c, y*sh + i*dh, x*sw + j*dw]; L = H_out * W_out with
    H_out = floor((H + 2p - d(k-1) - 1) / s) + 1."""
    op = "unfold"
    checks.tensor(op, "input", input, floating=True, exc=NotImplementedError)
    checks.dims(op, "input", input, {3: "(C, H, W)", 4: "(N, C, H, W)"})
    x_shape = (1,) + _shape(input) if input.ndim == 3 else _shape(input)
    N, C, H, W = x_shape
    ks, ds, pads, ss, blocks = _fold_geometry(op, (H, W), kernel_size, dilation, padding, stride)
    L = blocks[0] * blocks[1]
    out_shape = (N, C * ks[0] * ks[1], L) if input.ndim == 4 else (C * ks[0] * ks[1], L)
    geo = ConvGeometry(x_shape, (1, 1) + ks, (N, C * ks[0] * ks[1]) + blocks, ss, pads, ds, 1,
                    _shape(input), out_shape)
    return _Unfold.apply(input, geo)


@checks.typed
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: sums the columns of input (N, C*kH*kW, L) or (C*kH*kW, L) back into
    an (N, C, H, W) image of ``output_size`` (H, W); overlapping blocks add. L must equal H_out * W_out."""
    op = "fold"
    checks.tensor(op, "input", input, floating=True, exc=NotImplementedError)
    checks.dims(op, "input", input, {2: "(C*kH*kW, L)", 3: "(N, C*kH*kW, L)"})
    size = checks.ints(op, "output_size", output_size, 2, one_ok=False)
    ks, ds, pads, ss, blocks = _fold_geometry(op, size, kernel_size, dilation, padding, stride)
    c_shape = (1,) + _shape(input) if input.ndim == 2 else _shape(input)
    N, CK, L = c_shape
    if CK % (ks[0] * ks[1]):
        raise checks.error(op, f"input.shape[-2] divisible by kH*kW = {ks[0] * ks[1]} (kernel_size={ks})",
                           f"input of shape {_shape(input)}")
    if L != blocks[0] * blocks[1]:
        raise checks.error(op, f"input.shape[-1] = {blocks[0] * blocks[1]} blocks ({blocks[0]} x {blocks[1]} "
                           f"for output_size={size}, kernel_size={ks}, dilation={ds}, "
                           f"padding={tuple(p for p, _ in pads)}, stride={ss})",
                           f"input of shape {_shape(input)}")
    C = CK // (ks[0] * ks[1])
    out_shape = (N, C) + size if input.ndim == 3 else (C,) + size
    geo = ConvGeometry((N, C) + size, (1, 1) + ks, (N, CK) + blocks, ss, pads, ds, 1, _shape(input),
                       out_shape)
    return _Fold.apply(input, geo)
