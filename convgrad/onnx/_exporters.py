"""One function per op family: ``fn(graph, record)`` writes the ONNX nodes of one recorded convgrad op and
returns the ONNX name of its output (or a list, one per output). ``EXPORTERS`` maps op classes to them."""

import math
from importlib import import_module

import numpy as np

from convgrad.tensor import Tensor

from ._common import ExportError, _onnx

# the op modules (by path: convgrad.functional re-exports functions under some of their names)
(_act, _smooth, _conv, _dw, _wino, _drop, _misc, _norm, _pool, _apool, _backward_hook, _ew, _mm, _red,
 _shape) = (
    import_module(m) for m in (
    "convgrad.functional.activation", "convgrad.functional.smooth_activation",
    "convgrad.functional.convolution", "convgrad.functional.depthwise", "convgrad.functional.winograd",
    "convgrad.functional.dropout",
    "convgrad.functional.misc", "convgrad.functional.normalization", "convgrad.functional.pooling",
    "convgrad.functional.adaptive_pooling",
    "convgrad.nn.modules._backward_hook", "convgrad.ops.elementwise", "convgrad.ops.matmul",
    "convgrad.ops.reduction", "convgrad.ops.shape"))


def _arr(v):
    return v._data if isinstance(v, Tensor) else v


def _dtype_of(rec):
    return rec.outs[0]._data.dtype


# --------------------------------------------------------------------------- one function per op family
def _batched(g, x, x_ndim, nsp, emit):
    """Run ``emit(name)`` on a batched view: an unbatched (C, *spatial) input gets a batch axis of 1."""
    if x_ndim == nsp + 1:
        return g.squeeze(emit(g.unsqueeze(x, [0])), [0])
    return emit(x)


def _convolution(g, rec):
    x, w, b, geo = rec.args
    nd = w.ndim - 2
    pads = geo.pads[-nd:]
    attrs = dict(kernel_shape=list(w.shape[2:]), strides=list(geo.stride[-nd:]),
                 dilations=list(geo.dilation[-nd:]), group=int(geo.groups),
                 pads=[int(p[0]) for p in pads] + [int(p[1]) for p in pads])
    inputs = [g.name(w)] + ([g.name(b)] if b is not None else [])
    if rec.op is _conv._ConvTranspose:
        ins, outs = geo.y4[-nd:], geo.x4[-nd:]
        ks, ss, ds = w.shape[2:], geo.stride[-nd:], geo.dilation[-nd:]
        attrs["output_padding"] = [int(o - ((n - 1) * s - (pb + pa) + d * (k - 1) + 1))
                                   for o, n, s, (pb, pa), d, k in zip(outs, ins, ss, pads, ds, ks)]
        op_type = "ConvTranspose"
    else:
        op_type = "Conv"
    return _batched(g, g.name(x), x.ndim, nd, lambda xn: g.node(op_type, [xn] + inputs, **attrs))


def _ceil_attr(geo):
    """ONNX's ceil mode lets the last window start in the right padding; PyTorch's does not. Emit
    ceil_mode only where it changes the output size, and check the size matches."""
    floor = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                  for n, k, s, p, d in zip(geo.sizes, geo.ks, geo.ss, geo.ps, geo.ds))
    if floor == geo.outs:
        return 0
    onnx_ceil = tuple(-(-(n + 2 * p - d * (k - 1) - 1) // s) + 1
                      for n, k, s, p, d in zip(geo.sizes, geo.ks, geo.ss, geo.ps, geo.ds))
    if onnx_ceil != geo.outs:
        raise ExportError(f"pooling: ceil_mode output size {geo.outs} has no ONNX equivalent (ONNX gives "
                          f"{onnx_ceil}) for input {geo.sizes}, kernel {geo.ks}, stride {geo.ss}, "
                          f"padding {geo.ps}")
    return 1


def _pooling(g, rec):
    x = rec.args[0]
    if rec.op is _apool._GlobalAvgPool:
        nsp = rec.args[1]
        if x.ndim == nsp + 2:
            return g.node("GlobalAveragePool", [g.name(x)])
        return g.reduce("ReduceMean", g.name(x), list(range(x.ndim - nsp, x.ndim)), True)
    if rec.op is _apool._AdaptiveAvgPool:
        # y = A_h x A_w^T: MatMul broadcasts the (out, in) averaging matrices over (N, C)
        mats = rec.args[1]
        y = g.node("MatMul", [g.name(x), g.const(np.ascontiguousarray(mats[-1].T), "pool_matrix")])
        if len(mats) == 2:
            y = g.node("MatMul", [g.const(mats[0], "pool_matrix"), y])
        return y
    geo = rec.args[1]
    nsp = len(geo.ks)
    attrs = dict(kernel_shape=list(geo.ks), strides=list(geo.ss), pads=list(geo.ps) * 2,
                 ceil_mode=_ceil_attr(geo))
    if rec.op is _pool._MaxPool:
        if rec.args[2]:
            raise ExportError("max_pool: return_indices=True is not exported (ONNX's indices count over "
                              "the whole tensor, convgrad's within each plane)")
        attrs["dilations"] = list(geo.ds)
        return _batched(g, g.name(x), x.ndim, nsp, lambda xn: g.node("MaxPool", [xn], **attrs))
    div = rec.args[2]
    extra = 1.0
    if np.array_equal(div, _pool._avg_divisor(geo, True, None, x.dtype)):
        attrs["count_include_pad"] = 1
    elif np.array_equal(div, _pool._avg_divisor(geo, False, None, x.dtype)):
        attrs["count_include_pad"] = 0
    elif np.ndim(div) == 0 and np.ndim(_pool._avg_divisor(geo, True, None, x.dtype)) == 0:
        attrs["count_include_pad"] = 1  # divisor_override: rescale the window mean
        extra = _pool._avg_divisor(geo, True, None, x.dtype) / float(div)
    else:
        raise ExportError(f"avg_pool: the divisor {div} has no ONNX AveragePool equivalent")
    y = _batched(g, g.name(x), x.ndim, nsp, lambda xn: g.node("AveragePool", [xn], **attrs))
    if extra != 1.0:
        y = g.node("Mul", [y, g.const(np.asarray(extra, x.dtype))])
    return y


def _batch_norm(g, rec):
    x, w, b, rm, rv, eps = rec.args
    c = x.shape[1]
    scale = g.name(w) if w is not None else g.const(np.ones(c, x.dtype), "ones")
    bias = g.name(b) if b is not None else g.const(np.zeros(c, x.dtype), "zeros")
    return g.node("BatchNormalization", [g.name(x), scale, bias, g.name(rm), g.name(rv)], epsilon=float(eps))


def _lrn(g, rec):
    x, size, alpha, beta, k = rec.args
    if size % 2 == 0:
        raise ExportError(f"local_response_norm: an even size ({size}) places its window differently in "
                          "ONNX's LRN; only odd sizes export")
    return g.node("LRN", [g.name(x)], size=int(size), alpha=float(alpha), beta=float(beta), bias=float(k))


def _activation(g, rec):
    op, x = rec.op, rec.args[0]
    xn = g.name(x)
    simple = {_ew.ReLU: "Relu", _ew.Sigmoid: "Sigmoid", _ew.Tanh: "Tanh", _ew.Exp: "Exp", _ew.Log: "Log",
              _ew.Sqrt: "Sqrt", _ew.Abs: "Abs", _ew.Neg: "Neg", _smooth.Softsign: "Softsign",
              _smooth.Hardswish: "HardSwish", _ew.Sin: "Sin", _ew.Cos: "Cos"}
    if op in simple:
        return g.node(simple[op], [xn])
    if op is _act.LeakyReLU:
        return g.node("LeakyRelu", [xn], alpha=float(rec.args[1]))
    if op is _smooth.Hardsigmoid:
        return g.node("HardSigmoid", [xn], alpha=1 / 6, beta=0.5)
    if op in (_act.Hardtanh, _ew.Clamp):
        lo, hi = rec.args[1], rec.args[2]
        return g.node("Clip", [xn, g.name(lo, x.dtype) if lo is not None else "",
                               g.name(hi, x.dtype) if hi is not None else ""])
    if op is _smooth.SiLU:
        return g.node("Mul", [xn, g.node("Sigmoid", [xn])])
    if op is _act.ELU:
        alpha, scale, input_scale = rec.args[1:]
        if input_scale == 1.0 and scale == 1.0:
            return g.node("Elu", [xn], alpha=float(alpha))
        selu = math.isclose(scale, _act._SELU_SCALE) and math.isclose(alpha, _act._SELU_ALPHA)
        if input_scale == 1.0 and selu:
            return g.node("Selu", [xn], alpha=float(alpha), gamma=float(scale))
        if scale == 1.0 and math.isclose(input_scale * alpha, 1.0):
            return g.node("Celu", [xn], alpha=float(alpha))
        raise ExportError(f"ELU with alpha={alpha}, scale={scale}, input_scale={input_scale} has no ONNX op")
    if op is _smooth.GELU:
        approximate = rec.args[1]
        if g.opset >= 20:
            return g.node("Gelu", [xn], approximate=approximate)
        dt = x.dtype
        half = g.const(np.asarray(0.5, dt), "half")
        one = g.const(np.asarray(1.0, dt), "one")
        if approximate == "tanh":  # x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
            cube = g.node("Mul", [g.node("Mul", [xn, xn]), xn])
            inner = g.node("Add", [xn, g.node("Mul", [cube, g.const(np.asarray(_smooth._GELU_CUBIC, dt))])])
            t = g.node("Tanh", [g.node("Mul", [inner, g.const(np.asarray(_smooth._SQRT_2_OVER_PI, dt))])])
        else:  # x (1 + erf(x / sqrt 2)) / 2
            t = g.node("Erf", [g.node("Mul", [xn, g.const(np.asarray(1 / math.sqrt(2), dt))])])
        return g.node("Mul", [g.node("Mul", [xn, half]), g.node("Add", [t, one])])
    if op in (_red.Softmax, _red.LogSoftmax):
        return g.node("Softmax" if op is _red.Softmax else "LogSoftmax", [xn], axis=int(rec.args[1]))
    raise AssertionError(op)


def _dropout(g, rec):
    # in evaluation mode dropout runs no op; one recorded here ran with training=True (a functional call),
    # and the mask it drew while tracing would be baked into the graph
    raise ExportError(f"{rec.op.__name__}: dropout ran in training mode while tracing; call it with "
                      "training=self.training (nn.Dropout does) so the exported model has the identity")


def _linear(g, rec):
    x, w, b = rec.args
    if x.ndim == 2 and w.ndim == 2:
        return g.node("Gemm", [g.name(x), g.name(w)] + ([g.name(b)] if b is not None else []), transB=1)
    wt = g.node("Transpose", [g.name(w)], perm=[1, 0]) if w.ndim == 2 else g.name(w)
    y = g.node("MatMul", [g.name(x), wt])
    return g.node("Add", [y, g.name(b)]) if b is not None else y


_BINARY = {_ew.Add: "Add", _ew.Sub: "Sub", _ew.Mul: "Mul", _ew.Div: "Div", _ew.Pow: "Pow",
           _ew.Maximum: "Max", _ew.Minimum: "Min", _mm.MatMul: "MatMul"}


def _binary(g, rec):
    dt = _dtype_of(rec)
    names = []
    for a in rec.args[:2]:
        n = g.name(a, dt)
        if isinstance(a, (Tensor, np.ndarray)) and _arr(a).dtype != dt and rec.op is not _ew.Pow:
            n = g.node("Cast", [n], to=_onnx().helper.np_dtype_to_tensor_dtype(dt))
        names.append(n)
    return g.node(_BINARY[rec.op], names)


def _where(g, rec):
    c, a, b = rec.args
    dt = _dtype_of(rec)
    return g.node("Where", [g.name(c, bool), g.name(a, dt), g.name(b, dt)])


def _cast(g, rec):
    to = _onnx().helper.np_dtype_to_tensor_dtype(np.dtype(rec.args[1]))
    return g.node("Cast", [g.name(rec.args[0])], to=to)


def _identity(g, rec):
    return g.node("Identity", [g.name(rec.args[0])])


def _reshape(g, rec):
    x, out = rec.args[0], rec.outs[0]
    in_shape, shape = x.shape, out.shape
    if len(in_shape) >= 2 and shape == (in_shape[0], int(np.prod(in_shape[1:]))):
        return g.node("Flatten", [g.name(x)], axis=1)
    target = list(shape)
    if g.dynamic_batch and target and in_shape and target[0] == in_shape[0]:
        target[0] = 0  # ONNX: copy the input's (batch) size
    return g.node("Reshape", [g.name(x), g.ints(target)])


def _permute(g, rec):
    return g.node("Transpose", [g.name(rec.args[0])], perm=[int(d) for d in rec.args[1]])


def _expand(g, rec):
    return g.node("Expand", [g.name(rec.args[0]), g.ints(rec.outs[0].shape)])


def _repeat(g, rec):
    x, reps = rec.args
    xn = g.name(x)
    if len(reps) > x.ndim:
        xn = g.unsqueeze(xn, list(range(len(reps) - x.ndim)))
    return g.node("Tile", [xn, g.ints(reps)])


def _concat(g, rec):
    dim, *xs = rec.args
    if rec.op is _shape.Stack:
        return g.node("Concat", [g.unsqueeze(g.name(x), [dim]) for x in xs], axis=int(dim))
    return g.node("Concat", [g.name(x) for x in xs], axis=int(dim))


def _split(g, rec):
    x, bounds, dim = rec.args
    sizes = np.diff([0, *bounds, x.shape[dim]])
    return g.node("Split", [g.name(x), g.ints(sizes)], n_outputs=len(rec.outs), axis=int(dim))


def _pad(g, rec):
    x = rec.args[0]
    if rec.op is _shape.PadConstant:
        widths, value = rec.args[1], rec.args[2]
        pads = [int(b) for b, _ in widths] + [int(a) for _, a in widths]
        return g.node("Pad", [g.name(x), g.ints(pads, "pads"), g.const(np.asarray(value, x.dtype))],
                      mode="constant")
    y = g.name(x)
    for axis, idx, n in rec.args[1]:  # PadIndexed: find the mode whose index map this is
        mode = _pad_mode(idx, n)
        if mode is None or (mode[0] == "wrap" and g.opset < 19):
            y = g.node("Gather", [y, g.ints(idx, "index")], axis=int(axis))
            continue
        pads = [0] * (2 * x.ndim)
        pads[axis], pads[x.ndim + axis] = mode[1], mode[2]
        y = g.node("Pad", [y, g.ints(pads, "pads")], mode=mode[0])
    return y


def _pad_mode(idx, n):
    extra = len(idx) - n
    for before in range(0, extra + 1):
        for torch_mode, onnx_mode in (("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")):
            if np.array_equal(_misc._pad_index(n, before, extra - before, torch_mode), idx):
                return onnx_mode, before, extra - before
    return None


def _resize(g, rec):
    x, plans = rec.args
    out_shape = rec.outs[0].shape
    if not plans:
        return g.node("Identity", [g.name(x)])
    nearest = plans[0][3] is None
    attrs = None
    for axis, n_in, i0, i1, w0, w1 in plans:
        n_out = out_shape[axis]
        if nearest:
            if np.array_equal(i0, _misc._nearest_plan(n_in, n_out, None, False)):
                a = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            elif np.array_equal(i0, _misc._nearest_plan(n_in, n_out, None, True)):
                a = dict(mode="nearest", coordinate_transformation_mode="half_pixel",
                         nearest_mode="round_prefer_ceil")
            else:
                a = None
        else:
            a = None
            for ac, ctm in ((True, "align_corners"), (False, "pytorch_half_pixel")):
                p = _misc._linear_plan(n_in, n_out, None, ac, x.dtype)
                if all(np.array_equal(u, v) if u.dtype.kind == "i" else np.allclose(u, v, atol=1e-6)
                       for u, v in zip(p, (i0, i1, w0, w1))):
                    a = dict(mode="linear", coordinate_transformation_mode=ctm)
                    break
        if a is None or (attrs is not None and a != attrs):
            return _resample_by_gather(g, x, plans)
        attrs = a
    sizes = g.ints(out_shape, "sizes")
    return g.node("Resize", [g.name(x), "", "", sizes], **attrs)


def _resample_by_gather(g, x, plans):
    """The exact resampling as gathers and weighted sums (a scale_factor whose plan no Resize mode gives)."""
    y = g.name(x)
    for axis, _, i0, i1, w0, w1 in plans:
        if w0 is None:
            y = g.node("Gather", [y, g.ints(i0, "index")], axis=int(axis))
            continue
        shape = (-1,) + (1,) * (x.ndim - 1 - axis)
        a = g.node("Mul", [g.node("Gather", [y, g.ints(i0, "index")], axis=int(axis)),
                           g.const(w0.reshape(shape), "weight")])
        b = g.node("Mul", [g.node("Gather", [y, g.ints(i1, "index")], axis=int(axis)),
                           g.const(w1.reshape(shape), "weight")])
        y = g.node("Add", [a, b])
    return y


def _reduction(g, rec):
    x, dims, keepdim = rec.args[:3]
    if isinstance(dims, (int, np.integer)):
        dims = (int(dims),)
    op_type = {_red.Sum: "ReduceSum", _red.Mean: "ReduceMean", _red.MaxAll: "ReduceMax"}[rec.op]
    if op_type == "ReduceMax" and g.opset < 18:
        if dims is None:
            return g.node("ReduceMax", [g.name(x)], keepdims=int(keepdim))
        return g.node("ReduceMax", [g.name(x)], axes=[int(d) for d in dims], keepdims=int(keepdim))
    return g.reduce(op_type, g.name(x), dims, keepdim)


def _getitem(g, rec):
    x, index = rec.args
    if not isinstance(index, tuple):
        index = (index,)
    y = g.name(x)
    arrays = [(i, v) for i, v in enumerate(index) if isinstance(v, np.ndarray)]
    if any(v is None or v is Ellipsis for v in index) or len(arrays) > 1:
        raise ExportError(f"indexing with {index!r} is not exported (slices, integers and one index "
                          "array are)")
    starts, ends, axes, steps, squeeze = [], [], [], [], []
    for axis, v in enumerate(index):
        if isinstance(v, slice):
            if v == slice(None):
                continue
            start, stop, step = v.indices(x.shape[axis])
            if step < 0 and v.stop is None:
                stop = -(2 ** 63)
            starts.append(start)
            ends.append(stop)
            axes.append(axis)
            steps.append(step)
        elif isinstance(v, (int, np.integer)):
            i = int(v) % x.shape[axis]
            starts.append(i)
            ends.append(i + 1)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
    if starts:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if arrays:
        axis, idx = arrays[0]
        if idx.dtype == bool:
            raise ExportError("indexing with a boolean mask is not exported (its output size depends on "
                              "the data)")
        y = g.node("Gather", [y, g.ints(idx, "index")], axis=axis)
        squeeze = [a if a < axis else a + idx.ndim - 1 for a in squeeze]
    if squeeze:
        y = g.squeeze(y, squeeze)
    return y


def _gather(g, rec):
    x, dim, index = rec.args
    return g.node("GatherElements", [g.name(x), g.name(index)], axis=int(dim))


def _pass_through(g, rec):
    return [g.name(a) for a in rec.args if isinstance(a, Tensor)]


EXPORTERS = {
    _conv._Conv: _convolution, _dw.DepthwiseConv: _convolution, _conv._ConvTranspose: _convolution,
    _wino.WinogradConv: _convolution,
    _pool._MaxPool: _pooling, _pool._AvgPool: _pooling, _apool._GlobalAvgPool: _pooling,
    _apool._AdaptiveAvgPool: _pooling,
    _norm._BatchNormEval: _batch_norm, _norm._LocalResponseNorm: _lrn,
    _drop.Dropout: _dropout, _drop.AlphaDropout: _dropout,
    _misc.Linear: _linear,
    _shape.Reshape: _reshape, _shape.Permute: _permute, _shape.Expand: _expand, _shape.Repeat: _repeat,
    _shape.Cat: _concat, _shape.Stack: _concat, _shape.Split: _split,
    _shape.PadConstant: _pad, _misc.PadIndexed: _pad, _misc.Interpolate: _resize,
    _shape.GetItem: _getitem, _shape.Gather: _gather,
    _red.Sum: _reduction, _red.Mean: _reduction, _red.MaxAll: _reduction,
    _ew.Where: _where, _ew.Cast: _cast, _ew.Clone: _identity,
    _backward_hook._InputIdentity: _pass_through, _backward_hook._OutputIdentity: _pass_through,
}
EXPORTERS.update({op: _binary for op in _BINARY})
EXPORTERS.update({op: _activation for op in (
    _ew.ReLU, _ew.Sigmoid, _ew.Tanh, _ew.Exp, _ew.Log, _ew.Sqrt, _ew.Abs, _ew.Neg, _ew.Sin, _ew.Cos,
    _ew.Clamp, _act.LeakyReLU, _smooth.Hardsigmoid, _act.Hardtanh, _smooth.Hardswish, _smooth.SiLU, _act.ELU,
    _smooth.GELU, _smooth.Softsign, _red.Softmax, _red.LogSoftmax)})


def supported_ops():
    """The convgrad op classes the exporter writes, by name."""
    return sorted(op.__name__ for op in EXPORTERS)
