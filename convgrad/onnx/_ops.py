"""The ONNX operators convgrad runs: one function per operator, ``fn(inputs, attrs, module) -> Tensor or
list``, inputs being Tensors (None for an omitted optional input) and attrs the node's attributes as
Python values; ``_OPS`` maps operator names to them. Everything is built from convgrad ops, so the
results carry gradients."""

import math

import numpy as np

import convgrad
import convgrad.nn.functional as F
from convgrad.autograd.function import NumpyFunction
from convgrad.functional import misc as _misc
from convgrad.functional import smooth_activation as _smooth
from convgrad.tensor import Tensor

from ._common import BackendError, _onnx


# --------------------------------------------------------------------------- helpers
def _ints(t):
    """A Tensor of integers (an operator's shape/axes/pads input) as a list of Python ints."""
    return [int(v) for v in np.asarray(t._data).reshape(-1)]


def _scalar(t):
    return None if t is None else np.asarray(t._data).reshape(-1)[0].item()


def _const(array):
    return Tensor._make(np.asarray(array))


def _torch_pads(begins, ends):
    """ONNX's (x1_begin, x2_begin, ..., x1_end, ...) for trailing axes as F.pad's (last_begin, last_end,
    second_last_begin, ...)."""
    out = []
    for b, e in zip(reversed(begins), reversed(ends)):
        out += [int(b), int(e)]
    return out


def _spatial_pads(op, x, a, kernel, strides, dilations, nsp):
    """(begins, ends) from ``pads`` or ``auto_pad`` (SAME_UPPER/SAME_LOWER keep ceil(n / s) outputs)."""
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for n, k, s, d in zip(x.shape[2:], kernel, strides, dilations):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            small, big = total // 2, total - total // 2
            begins.append(small if auto == "SAME_UPPER" else big)
            ends.append(big if auto == "SAME_UPPER" else small)
        return begins, ends
    if auto == "VALID":
        return [0] * nsp, [0] * nsp
    pads = a.get("pads", [0] * (2 * nsp))
    return list(pads[:nsp]), list(pads[nsp:])


def _nsp(op, x, allowed=(1, 2)):
    nsp = x.ndim - 2
    if nsp not in allowed:
        kinds = " and ".join(f"{n}-D" for n in allowed)
        raise BackendError(f"{op}: convgrad runs {kinds} spatial inputs, got an input of shape "
                           f"{tuple(x.shape)}")
    return nsp


# --------------------------------------------------------------------------- convolutions
def _window(op, x, a, default_kernel=None):
    """A windowed node's spatial dimensions, kernel, strides and dilations, ONNX's defaults filled in (the
    kernel's: ``default_kernel``, the weight's shape for a convolution; a pooling node must give it)."""
    nsp = _nsp(op, x)
    k = list(a["kernel_shape"] if default_kernel is None else a.get("kernel_shape", default_kernel))
    s = list(a.get("strides", [1] * nsp))
    d = list(a.get("dilations", [1] * nsp))
    return nsp, k, s, d


def _conv(ins, a, m):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    nsp, k, s, d = _window("Conv", x, a, w.shape[2:])
    begins, ends = _spatial_pads("Conv", x, a, k, s, d, nsp)
    if begins != ends:
        x = F.pad(x, _torch_pads(begins, ends))
        begins = [0] * nsp
    fn = F.conv1d if nsp == 1 else F.conv2d
    return fn(x, w, b, stride=tuple(s), padding=tuple(begins), dilation=tuple(d), groups=a.get("group", 1))


def _conv_transpose(ins, a, m):
    """The full transposed convolution (no padding), then cropped by the pads (negative: grown by the
    output padding) and the bias added."""
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    nsp, k, s, d = _window("ConvTranspose", x, a, w.shape[2:])
    op = list(a.get("output_padding", [0] * nsp))
    groups = a.get("group", 1)
    fn = F.conv_transpose1d if nsp == 1 else F.conv_transpose2d
    y = fn(x, w, None, stride=tuple(s), padding=0, output_padding=0, groups=groups, dilation=tuple(d))
    auto = a.get("auto_pad", "NOTSET")
    out_shape = a.get("output_shape")
    if out_shape is None and auto in ("SAME_UPPER", "SAME_LOWER"):
        out_shape = [n * st for n, st in zip(x.shape[2:], s)]
    if out_shape is not None:
        out_shape = list(out_shape)[-nsp:]
        begins, ends = [], []
        for n, st, kk, dd, o, out in zip(x.shape[2:], s, k, d, op, out_shape):
            total = st * (n - 1) + o + (kk - 1) * dd + 1 - out
            if auto == "SAME_UPPER":
                begins.append(total // 2)
                ends.append(total - total // 2)
            else:
                begins.append(total - total // 2)
                ends.append(total // 2)
    else:
        pads = a.get("pads", [0] * (2 * nsp))
        begins, ends = list(pads[:nsp]), list(pads[nsp:])
    y = F.pad(y, _torch_pads([-p for p in begins], [o - e for o, e in zip(op, ends)]))
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nsp)
    return y


# --------------------------------------------------------------------------- pooling
def _lowest(dtype):
    return -math.inf if dtype.kind == "f" else int(np.iinfo(dtype).min)


def _max_pool(ins, a, m, n_outputs=1):
    x = ins[0]
    nsp, k, s, d = _window("MaxPool", x, a)
    begins, ends = _spatial_pads("MaxPool", x, a, k, s, d, nsp)
    fn = F.max_pool1d if nsp == 1 else F.max_pool2d
    ceil = bool(a.get("ceil_mode", 0))
    want = n_outputs > 1
    symmetric = begins == ends and all(p <= kk // 2 for p, kk in zip(begins, k))
    if not symmetric:
        if want:
            raise BackendError("MaxPool: indices with asymmetric padding are not supported")
        x = F.pad(x, _torch_pads(begins, ends), value=_lowest(x.dtype))
        begins = [0] * nsp
    out = fn(x, tuple(k), tuple(s), tuple(begins), tuple(d), ceil, want)
    if not want:
        return out
    y, idx = out
    # convgrad's indices count within each (H, W) plane; ONNX's over the whole (N, C, H, W) tensor
    plane = int(np.prod(x.shape[2:]))
    flat = idx._data
    if a.get("storage_order", 0) == 1:
        if nsp != 2:
            raise BackendError("MaxPool: storage_order=1 is for 2-D pooling")
        H, W = x.shape[2:]
        flat = (flat % W) * H + flat // W
    lead = np.arange(x.shape[0] * x.shape[1], dtype=np.int64).reshape(x.shape[:2] + (1,) * nsp) * plane
    return [y, _const(flat + lead)]


def _avg_pool(ins, a, m):
    x = ins[0]
    nsp, k, s, d = _window("AveragePool", x, a)
    begins, ends = _spatial_pads("AveragePool", x, a, k, s, d, nsp)
    ceil = bool(a.get("ceil_mode", 0))
    include = bool(a.get("count_include_pad", 0))
    if any(dd != 1 for dd in d):
        return _dilated_avg_pool(x, k, s, d, begins, ends, ceil, include)
    fn = F.avg_pool1d if nsp == 1 else F.avg_pool2d
    if begins == ends and all(p <= kk // 2 for p, kk in zip(begins, k)):
        return fn(x, tuple(k), tuple(s), tuple(begins), ceil, include)
    # asymmetric (or large) padding: pad with zeros, and divide by the count of real elements unless
    # the padding counts
    pads = _torch_pads(begins, ends)
    total = fn(F.pad(x, pads), tuple(k), tuple(s), 0, ceil, True)
    if include:
        return total
    count = fn(F.pad(convgrad.ones_like(x), pads), tuple(k), tuple(s), 0, ceil, True)
    return total / count


def _dilated_avg_pool(x, k, s, d, begins, ends, ceil, include):
    """Average pooling with dilated windows, as window sums over counts: a depthwise convolution with a
    dilated all-ones kernel, applied to the zero-padded input and to the mask of the positions that count
    (the input, plus the explicit padding when count_include_pad; never the ceil-mode overhang)."""
    nsp = len(k)
    outs, extra = [], []
    for n, kk, st, dd, pb, pe in zip(x.shape[2:], k, s, d, begins, ends):
        span = n + pb + pe - dd * (kk - 1) - 1
        o = (-(-span // st) if ceil else span // st) + 1
        if ceil and (o - 1) * st >= n + pb:
            o -= 1
        outs.append(o)
        extra.append(max(0, (o - 1) * st + dd * (kk - 1) + 1 - (n + pb + pe)))
    N, C = x.shape[:2]
    pads = _torch_pads(begins, [e + x_ for e, x_ in zip(ends, extra)])
    planes = F.pad(x.reshape((N * C, 1) + tuple(x.shape[2:])), pads)
    mask = np.zeros((1, 1) + tuple(planes.shape[2:]), x.dtype)
    inner = tuple(slice(0, n + pb + pe) if include else slice(pb, pb + n)
                  for n, pb, pe in zip(x.shape[2:], begins, ends))
    mask[(0, 0) + inner] = 1
    ones = convgrad.ones((1, 1) + tuple(k), dtype=x.dtype)
    conv = F.conv1d if nsp == 1 else F.conv2d
    total = conv(planes, ones, stride=tuple(s), dilation=tuple(d))
    count = conv(_const(mask), ones, stride=tuple(s), dilation=tuple(d))
    return (total / count).reshape((N, C) + tuple(outs))


def _global_avg_pool(ins, a, m):
    x = ins[0]
    if x.ndim in (3, 4):  # the op the exported layer ran: same sums, same rounding
        return (F.adaptive_avg_pool1d if x.ndim == 3 else F.adaptive_avg_pool2d)(x, 1)
    return x.mean(tuple(range(2, x.ndim)), keepdim=True)


def _global_max_pool(ins, a, m):
    x = ins[0]
    return x.amax(tuple(range(2, x.ndim)), keepdim=True)


# --------------------------------------------------------------------------- normalisation
def _batch_norm(ins, a, m, n_outputs=1):
    x, scale, bias, mean, var = ins[:5]
    eps = a.get("epsilon", 1e-5)
    if not a.get("training_mode", 0):
        return F.batch_norm(x, mean, var, scale, bias, training=False, eps=eps)
    # training mode: the batch's statistics (biased variance), and ONNX's running-statistics outputs
    # r = momentum * r + (1 - momentum) * batch statistic
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axes)
    centred = x - mu.reshape(shape)
    var_b = (centred * centred).mean(axes)
    y = centred / (var_b.reshape(shape) + eps).sqrt() * scale.reshape(shape) + bias.reshape(shape)
    momentum = a.get("momentum", 0.9)
    outs = [y, mean * momentum + mu * (1 - momentum), var * momentum + var_b * (1 - momentum)]
    return outs[:n_outputs] if n_outputs > 1 else y


def _lrn(ins, a, m):
    x = ins[0]
    size = int(a["size"])
    args = (size, a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0))
    if size % 2:
        return F.local_response_norm(x, *args)
    # ONNX's window is [c - (size-1)//2, c + size//2], PyTorch's [c - size//2, c + (size-1)//2]: the
    # same window read from the other end of the channel axis
    return F.local_response_norm(x.flip(1), *args).flip(1)


# --------------------------------------------------------------------------- activations
class _Erf(NumpyFunction):
    """y = erf(x) = 2 Phi(x sqrt 2) - 1;  dy/dx = 2/sqrt(pi) e^(-x^2)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        y = _smooth._normal_cdf(x * np.asarray(math.sqrt(2), x.dtype))
        return (2 * y - 1).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (np.exp(-x * x) * (2 / math.sqrt(math.pi))).astype(g.dtype, copy=False)


def _clip(ins, a, m):
    x = ins[0]
    if len(ins) > 1 or "min" not in a and "max" not in a:
        lo = _scalar(ins[1]) if len(ins) > 1 else None
        hi = _scalar(ins[2]) if len(ins) > 2 else None
    else:  # opset < 11: attributes
        lo, hi = a.get("min"), a.get("max")
    if lo is None and hi is None:
        return x.clone()
    if lo is not None and hi is not None and lo > hi:
        return convgrad.full_like(x, hi)  # ONNX: every value becomes max
    return x.clamp(lo, hi)


def _hard_sigmoid(ins, a, m):
    return (ins[0] * a.get("alpha", 0.2) + a.get("beta", 0.5)).clamp(0, 1)


def _softmax(kind):
    def fn(ins, a, m):
        x = ins[0]
        f = F.softmax if kind == "Softmax" else F.log_softmax
        if m.opset >= 13:
            return f(x, dim=a.get("axis", -1))
        axis = a.get("axis", 1) % max(x.ndim, 1)  # before opset 13: over the flattened trailing axes
        shape = x.shape
        return f(x.reshape(int(np.prod(shape[:axis])), -1), dim=1).reshape(shape)

    return fn


def _gelu(ins, a, m):
    return F.gelu(ins[0], approximate=a.get("approximate", "none"))


# --------------------------------------------------------------------------- linear algebra, arithmetic
def _gemm(ins, a, m):
    A, B = ins[0], ins[1]
    C = ins[2] if len(ins) > 2 else None
    plain = a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0
    if a.get("transB", 0) and not a.get("transA", 0) and plain and (C is None or C.shape == B.shape[:1]):
        return F.linear(A, B, C)  # nn.Linear's op, as exported
    if a.get("transA", 0):
        A = A.t()
    if a.get("transB", 0):
        B = B.t()
    y = A @ B
    if a.get("alpha", 1.0) != 1.0:
        y = y * a["alpha"]
    if C is not None:
        y = y + (C * a["beta"] if a.get("beta", 1.0) != 1.0 else C)
    return y


def _binary(fn):
    return lambda ins, a, m: fn(ins[0], ins[1])


# --------------------------------------------------------------------------- shapes
def _flatten(ins, a, m):
    x = ins[0]
    axis = a.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))


def _reshape(ins, a, m):
    x = ins[0]
    shape = _ints(ins[1]) if len(ins) > 1 else list(a["shape"])
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(tuple(shape))


def _concat(ins, a, m):
    return convgrad.cat([t for t in ins if t is not None], a["axis"])


def _transpose(ins, a, m):
    x = ins[0]
    return x.permute(*a.get("perm", list(range(x.ndim))[::-1]))


def _squeeze(ins, a, m):
    x = ins[0]
    axes = _ints(ins[1]) if len(ins) > 1 and ins[1] is not None else a.get("axes")
    if axes is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    axes = {v % x.ndim for v in axes}
    return x.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def _unsqueeze(ins, a, m):
    x = ins[0]
    axes = _ints(ins[1]) if len(ins) > 1 else list(a["axes"])
    nd = x.ndim + len(axes)
    axes = sorted(v % nd for v in axes)
    shape = list(x.shape)
    for v in axes:
        shape.insert(v, 1)
    return x.reshape(tuple(shape))


def _expand(ins, a, m):
    x, shape = ins[0], _ints(ins[1])
    nd = max(x.ndim, len(shape))
    xs = (1,) * (nd - x.ndim) + tuple(x.shape)
    shape = (1,) * (nd - len(shape)) + tuple(shape)
    return x.reshape(xs).expand(*[max(p, q) for p, q in zip(xs, shape)])


def _tile(ins, a, m):
    return ins[0].repeat(*_ints(ins[1]))


def _split(ins, a, m, n_outputs=1):
    x = ins[0]
    axis = a.get("axis", 0) % x.ndim
    if len(ins) > 1 and ins[1] is not None:
        sizes = _ints(ins[1])
    elif "split" in a:
        sizes = list(a["split"])
    else:
        n = a.get("num_outputs", n_outputs)
        chunk = -(-x.shape[axis] // n)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(n)]
    return list(convgrad.split(x, sizes, axis))


def _slice(ins, a, m):
    x = ins[0]
    starts, ends = _ints(ins[1]), _ints(ins[2])
    axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        n = x.shape[ax]
        st = min(max(st + n if st < 0 else st, 0), n - (sp < 0))
        if en < -n:
            en = None if sp < 0 else 0
        else:
            en = min(en + n if en < 0 else en, n)
        index[ax % x.ndim] = slice(st, en, sp)
    return x[tuple(index)]


def _gather(ins, a, m):
    x, idx = ins
    axis = a.get("axis", 0) % x.ndim
    i = np.asarray(idx._data).astype(np.int64)
    i = np.where(i < 0, i + x.shape[axis], i)
    return x[(slice(None),) * axis + (i,)]


def _gather_elements(ins, a, m):
    x, idx = ins
    axis = a.get("axis", 0) % x.ndim
    i = np.asarray(idx._data).astype(np.int64)
    return x.gather(axis, _const(np.where(i < 0, i + x.shape[axis], i)))


def _cast(ins, a, m):
    onnx = _onnx()
    return ins[0].to(onnx.helper.tensor_dtype_to_np_dtype(a["to"]))


def _constant(ins, a, m):
    onnx = _onnx()
    if "value" in a:
        return _const(onnx.numpy_helper.to_array(a["value"]).copy())
    for key, dt in (("value_float", np.float32), ("value_int", np.int64)):
        if key in a:
            return _const(np.asarray(a[key], dt))
    for key, dt in (("value_floats", np.float32), ("value_ints", np.int64)):
        if key in a:
            return _const(np.asarray(list(a[key]), dt))
    raise BackendError(f"Constant: attributes {sorted(a)} are not supported")


def _dropout(ins, a, m, n_outputs=1):
    x = ins[0]
    training = len(ins) > 2 and ins[2] is not None and bool(_scalar(ins[2]))
    if training:
        raise BackendError("Dropout: training_mode=True is not supported (inference only)")
    if n_outputs == 1:
        return x.clone()
    return [x.clone(), _const(np.ones(x.shape, bool))]


def _pad(ins, a, m):
    x = ins[0]
    mode = a.get("mode", "constant")
    if len(ins) > 1:
        pads = _ints(ins[1])
        value = _scalar(ins[2]) if len(ins) > 2 and ins[2] is not None else 0
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(x.ndim))
    else:  # opset < 11
        pads, value, axes = list(a["pads"]), a.get("value", 0.0), list(range(x.ndim))
    axes = [v % x.ndim for v in axes]
    k = len(axes)
    before, after = [0] * x.ndim, [0] * x.ndim
    for i, ax in enumerate(axes):
        before[ax], after[ax] = pads[i], pads[k + i]
    if mode == "constant":
        return F.pad(x, _torch_pads(before, after), value=value)
    torch_mode = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(mode)
    if torch_mode is None:
        raise BackendError(f"Pad: mode {mode!r} is not supported")
    y = x
    for ax in range(x.ndim):
        if before[ax] or after[ax]:
            y = y.index_select(ax, _const(_misc._pad_index(x.shape[ax], before[ax], after[ax], torch_mode)))
    return y


# --------------------------------------------------------------------------- resampling
def _source_coords(ctm, j, n_in, n_out, scale, roi):
    """Where output index j reads in the input, by ONNX's coordinate_transformation_mode."""
    if ctm == "half_pixel":
        return (j + 0.5) / scale - 0.5
    if ctm == "half_pixel_symmetric":
        adjustment = n_out / (scale * n_in)
        offset = n_in / 2 * (1 - adjustment)
        return offset + (j + 0.5) / scale - 0.5
    if ctm == "pytorch_half_pixel":
        return (j + 0.5) / scale - 0.5 if n_out > 1 else np.zeros_like(j)
    if ctm == "align_corners":  # ONNX divides by the unrounded output length, n_in * scale
        return j * (n_in - 1) / (n_in * scale - 1) if n_in * scale != 1 else np.zeros_like(j)
    if ctm == "asymmetric":
        return j / scale
    if ctm == "tf_crop_and_resize":
        start, end = roi
        if n_out > 1:
            return start * (n_in - 1) + j * (end - start) * (n_in - 1) / (n_out - 1)
        return np.full_like(j, 0.5 * (start + end) * (n_in - 1))
    raise BackendError(f"Resize: coordinate_transformation_mode {ctm!r} is not supported")


def _cubic_weights(t, A):
    t = np.abs(t)
    return np.where(t <= 1, ((A + 2) * t - (A + 3)) * t * t + 1,
                    np.where(t < 2, ((A * t - 5 * A) * t + 8 * A) * t - 4 * A, 0.0))


def _resample_axis(y, axis, n_in, n_out, scale, a, roi):
    """y resampled along ``axis`` as a weighted sum of index_select gathers (taps)."""
    mode = a.get("mode", "nearest")
    ctm = a.get("coordinate_transformation_mode", "half_pixel")
    j = np.arange(n_out, dtype=np.float64)
    x = _source_coords(ctm, j, n_in, n_out, scale, roi)
    outside = (x < 0) | (x > n_in - 1)
    if mode == "nearest":
        nm = a.get("nearest_mode", "round_prefer_floor")
        rounding = {"round_prefer_floor": lambda v: np.ceil(v - 0.5),
                    "round_prefer_ceil": lambda v: np.floor(v + 0.5), "floor": np.floor, "ceil": np.ceil}[nm]
        taps = [(np.clip(rounding(x), 0, n_in - 1).astype(np.int64), None)]
    elif mode == "linear":
        xc = np.clip(x, 0, n_in - 1)
        i0 = np.floor(xc).astype(np.int64)
        w1 = xc - i0
        taps = [(i0, 1 - w1), (np.minimum(i0 + 1, n_in - 1), w1)]
    elif mode == "cubic":
        A = a.get("cubic_coeff_a", -0.75)
        base = np.floor(x).astype(np.int64)
        taps = []
        ws = []
        for t in (-1, 0, 1, 2):
            idx = base + t
            w = _cubic_weights(x - idx, A)
            if a.get("exclude_outside", 0):
                w = np.where((idx < 0) | (idx > n_in - 1), 0.0, w)
            taps.append(np.clip(idx, 0, n_in - 1))
            ws.append(w)
        total = np.sum(ws, axis=0)
        taps = [(i, w / total) for i, w in zip(taps, ws)]
    else:
        raise BackendError(f"Resize: mode {mode!r} is not supported")
    shape = (-1,) + (1,) * (y.ndim - 1 - axis)
    out = None
    for idx, w in taps:
        part = y.index_select(axis, _const(idx))
        if w is not None:
            part = part * _const(w.astype(y.dtype).reshape(shape))
        out = part if out is None else out + part
    if ctm == "tf_crop_and_resize" and outside.any():
        fill = _const(np.asarray(a.get("extrapolation_value", 0.0), y.dtype))
        out = convgrad.where(_const(outside.reshape(shape)), fill, out)
    return out


def _resize(ins, a, m, upsample=False):
    x = ins[0]
    if a.get("antialias", 0):
        raise BackendError("Resize: antialias=1 is not supported")
    if upsample:  # Upsample (deprecated): scales, asymmetric coordinates, floor rounding
        scales = list(a["scales"]) if "scales" in a else [float(v) for v in np.asarray(ins[1]._data)]
        a = dict(mode=a.get("mode", "nearest"), coordinate_transformation_mode="asymmetric",
                 nearest_mode="floor")
        roi, sizes = None, None
    else:
        roi = np.asarray(ins[1]._data, np.float64) if len(ins) > 1 and ins[1] is not None else None
        scales = [float(v) for v in np.asarray(ins[2]._data)] if len(ins) > 2 and ins[2] is not None else None
        sizes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else None
        if scales is not None and len(scales) == 0:
            scales = None
    axes = [v % x.ndim for v in a.get("axes", list(range(x.ndim)))]
    n_in = [x.shape[ax] for ax in axes]
    if sizes is not None:
        policy = a.get("keep_aspect_ratio_policy", "stretch")
        ratios = [o / n for o, n in zip(sizes, n_in)]
        if policy != "stretch":
            r = min(ratios) if policy == "not_larger" else max(ratios)
            ratios = [r] * len(axes)
            sizes = [int(math.floor(r * n + 0.5)) for n in n_in]
        scales = ratios
    else:
        sizes = [int(math.floor(n * s)) for n, s in zip(n_in, scales)]
    y = x
    for i, ax in enumerate(axes):
        if sizes[i] == n_in[i] and scales[i] == 1.0:
            continue
        r = None if roi is None or roi.size == 0 else (roi[i], roi[len(axes) + i])
        y = _resample_axis(y, ax, n_in[i], sizes[i], scales[i], a, r)
    return y if y is not x else x.clone()


# --------------------------------------------------------------------------- reductions
def _reduce(kind):
    def fn(ins, a, m):
        x = ins[0]
        if len(ins) > 1 and ins[1] is not None:
            axes = _ints(ins[1])
        else:
            axes = a.get("axes")
        keep = bool(a.get("keepdims", 1))
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                return x.clone()
            axes = list(range(x.ndim))
        axes = tuple(v % x.ndim for v in axes)
        if kind == "sum":
            return x.sum(axes, keepdim=keep)
        if kind == "mean":
            return x.mean(axes, keepdim=keep)
        return x.amax(axes, keepdim=keep)

    return fn


_OPS = {
    "Conv": _conv, "ConvTranspose": _conv_transpose,
    "MaxPool": _max_pool, "AveragePool": _avg_pool, "GlobalAveragePool": _global_avg_pool,
    "GlobalMaxPool": _global_max_pool,
    "BatchNormalization": _batch_norm, "LRN": _lrn,
    "Relu": lambda ins, a, m: F.relu(ins[0]),
    "LeakyRelu": lambda ins, a, m: F.leaky_relu(ins[0], a.get("alpha", 0.01)),
    "Sigmoid": lambda ins, a, m: ins[0].sigmoid(),
    "Tanh": lambda ins, a, m: ins[0].tanh(),
    "Gelu": _gelu, "HardSigmoid": _hard_sigmoid, "Clip": _clip,
    "HardSwish": lambda ins, a, m: F.hardswish(ins[0]),
    "Elu": lambda ins, a, m: F.elu(ins[0], a.get("alpha", 1.0)),
    "Selu": lambda ins, a, m: F.selu(ins[0]),
    "Celu": lambda ins, a, m: F.celu(ins[0], a.get("alpha", 1.0)),
    "Softsign": lambda ins, a, m: F.softsign(ins[0]),
    "Erf": lambda ins, a, m: _Erf.apply(ins[0]),
    "Exp": lambda ins, a, m: ins[0].exp(), "Log": lambda ins, a, m: ins[0].log(),
    "Sqrt": lambda ins, a, m: ins[0].sqrt(), "Abs": lambda ins, a, m: ins[0].abs(),
    "Neg": lambda ins, a, m: -ins[0], "Sin": lambda ins, a, m: ins[0].sin(),
    "Cos": lambda ins, a, m: ins[0].cos(),
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Gemm": _gemm, "MatMul": _binary(convgrad.matmul),
    "Add": _binary(lambda p, q: p + q), "Sub": _binary(lambda p, q: p - q),
    "Mul": _binary(lambda p, q: p * q), "Div": _binary(lambda p, q: p / q),
    "Pow": _binary(lambda p, q: p ** q),
    "Sum": lambda ins, a, m: _fold(lambda p, q: p + q, ins),
    "Max": lambda ins, a, m: _fold(convgrad.maximum, ins),
    "Min": lambda ins, a, m: _fold(convgrad.minimum, ins),
    "Where": lambda ins, a, m: convgrad.where(ins[0], ins[1], ins[2]),
    "CastLike": lambda ins, a, m: ins[0].to(ins[1].dtype),
    "Less": _binary(lambda p, q: p < q), "Greater": _binary(lambda p, q: p > q),
    "LessOrEqual": _binary(lambda p, q: p <= q), "GreaterOrEqual": _binary(lambda p, q: p >= q),
    "Equal": _binary(lambda p, q: p == q), "Not": lambda ins, a, m: ins[0].logical_not(),
    "Flatten": _flatten, "Reshape": _reshape, "Concat": _concat, "Transpose": _transpose,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Expand": _expand, "Tile": _tile, "Split": _split,
    "Slice": _slice, "Gather": _gather, "GatherElements": _gather_elements, "Cast": _cast,
    "Identity": lambda ins, a, m: ins[0], "Constant": _constant,
    "Dropout": _dropout, "Pad": _pad,
    "Resize": _resize, "Upsample": lambda ins, a, m: _resize(ins, a, m, upsample=True),
    "ReduceSum": _reduce("sum"), "ReduceMean": _reduce("mean"), "ReduceMax": _reduce("max"),
}
_MULTI_OUTPUT = {"MaxPool": _max_pool, "Split": _split, "Dropout": _dropout,
                 "BatchNormalization": _batch_norm}


def _fold(fn, ins):
    out = ins[0]
    for t in ins[1:]:
        out = fn(out, t)
    return out


def supported_operators():
    """The ONNX operators the backend runs."""
    return sorted(_OPS)
