"""The remaining functional ops: padding, resizing (interpolate), the fully connected layer's linear map,
flatten, one_hot and similarity measures."""

import math
import numbers
import warnings

import numpy as np

from convgrad.autograd.function import NumpyFunction
from convgrad.ops.shape import PadConstant
from convgrad.tensor import Tensor, _promote, get_default_dtype

__all__ = [
    "pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "linear", "bilinear",
    "flatten", "one_hot", "cosine_similarity", "pairwise_distance",
]


def _tensor(name, arg, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be a Tensor, not {type(x).__name__}")


def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)


# ---------------------------------------------------------------------- pad
def _pad_index(n, before, after, mode):
    """For each output position along one axis, the input position it copies (negative pads crop)."""
    j = np.arange(n + before + after)
    if mode == "circular":  # crop first, then wrap around what is left
        lo = max(-before, 0)
        kept = n - lo - max(-after, 0)
        return lo + (j - max(before, 0)) % kept
    i = j - before
    if mode == "reflect":  # mirror about the first and last elements, which are not repeated
        i = np.abs(i)
        return np.where(i > n - 1, 2 * (n - 1) - i, i)
    return np.clip(i, 0, n - 1)  # replicate


def _gather_adjoint(g, idx, n, axis):
    """The gradient of ``np.take(x, idx, axis)`` (x has n places along axis): each slice of g added back to
    the place it was taken from. idx is cut into runs of consecutive places (+1 or -1 steps), one slice
    addition per run, so a padded axis costs a copy plus one addition per border element at most."""
    shape = list(g.shape)
    shape[axis] = n
    gx = np.zeros(shape, g.dtype)
    src, dst = np.moveaxis(g, axis, 0), np.moveaxis(gx, axis, 0)
    idx = idx.tolist()
    j, m = 0, len(idx)
    while j < m:
        k = j + 1
        step = idx[k] - idx[j] if k < m else 1
        if step in (1, -1):
            while k < m and idx[k] - idx[k - 1] == step:
                k += 1
        if step == 1 or k == j + 1:
            dst[idx[j]:idx[k - 1] + 1] += src[j:k]
        else:
            dst[idx[k - 1]:idx[j] + 1] += src[j:k][::-1]
        j = k
    return gx


class PadIndexed(NumpyFunction):
    """y = x with each padded axis re-indexed by its index map (reflect, replicate or circular padding);
    dL/dx adds each output gradient back to the input position it was copied from."""

    @staticmethod
    def forward(ctx, x, maps):
        ctx.maps = maps
        if not maps:
            return x.copy()
        for axis, idx, _ in maps:
            x = np.take(x, idx, axis=axis)
        return x

    @staticmethod
    def backward(ctx, g):
        for axis, idx, n in reversed(ctx.maps):
            g = _gather_adjoint(g, idx, n, axis)
        return g, None


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 axes: pad = (last_before, last_after, second_last_before, ...), as PyTorch.
    Modes: constant (value, default 0; negative pads crop), reflect (mirror without repeating the edge),
    replicate (repeat the edge), circular (wrap around); reflect, replicate and circular pad the last 1, 2
    or 3 axes of a batched or unbatched input."""
    _tensor("pad", "input", input)
    if not isinstance(pad, (tuple, list)) or not all(_is_int(p) for p in pad):
        raise TypeError(f"pad(): argument 'pad' must be a tuple of ints, got {pad!r}")
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pad)} values")
    k = len(pad) // 2
    ndim = input.ndim
    if k > ndim:
        raise RuntimeError(f"pad: padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension {ndim}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r} (expected 'constant', 'reflect', "
                                  "'replicate' or 'circular')")
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(k)]  # pairs[i] pads axis ndim - 1 - i
    if mode == "constant":
        for i, (b, a) in enumerate(pairs):
            n = input.shape[ndim - 1 - i]
            if n + min(b, 0) + min(a, 0) < 0:  # PyTorch crops first: the crop alone must fit
                raise RuntimeError(f"pad: negative padding ({b}, {a}) crops more than the input size {n} at "
                                   f"dimension {ndim - 1 - i}")
            if n + b + a < 0:
                raise RuntimeError(f"pad: the input size {n}, plus negative padding {b} and {a} resulted in "
                                   "a negative output size, which is invalid. Check dimension "
                                   f"{ndim - 1 - i} of your input.")
        widths = [(0, 0)] * (ndim - k) + pairs[::-1]
        return PadConstant.apply(input, tuple(widths), 0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"pad: padding mode \"{mode}\" doesn't take in value argument")
    if (k, ndim) not in ((1, 2), (1, 3), (2, 3), (2, 4), (3, 4), (3, 5)):
        raise NotImplementedError(
            f"pad: padding size {len(pad)} is not supported for {ndim}D input tensor in mode {mode!r}: "
            "non-constant modes pad the last 1, 2 or 3 axes of a (batched or unbatched) input, i.e. padding "
            "size 2 for 2D or 3D input, 4 for 3D or 4D input, 6 for 4D or 5D input")
    if 0 in input.shape[ndim - k - 1:]:
        raise RuntimeError(f"pad: {mode} padding expects non-empty channel and spatial dimensions, got "
                           f"input of shape {list(input.shape)}")
    maps = []
    for i, (b, a) in enumerate(pairs):
        axis = ndim - 1 - i
        n = input.shape[axis]
        if mode == "reflect" and (b >= n or a >= n):
            raise RuntimeError(f"pad: padding size should be less than the corresponding input dimension in "
                               f"reflect mode, but got padding ({b}, {a}) at dimension {axis} of input "
                               f"{list(input.shape)}")
        if mode == "circular":
            kept = n - max(-b, 0) - max(-a, 0)
            if kept < 0 or max(b, 0) > kept or max(a, 0) > kept:
                raise RuntimeError(f"pad: padding ({b}, {a}) at dimension {axis} of input "
                                   f"{list(input.shape)} causes wrapping around more than once in circular "
                                   "mode")
        elif n + b + a < (1 if k == 1 else 0):  # PyTorch's 2-D and 3-D paddings allow an empty output
            raise RuntimeError(f"pad: input (size {n} at dimension {axis}) is too small for padding "
                               f"({b}, {a}): the output size would be {n + b + a}")
        if b or a:
            maps.append((axis, _pad_index(n, b, a, mode), n))
    return PadIndexed.apply(input, tuple(maps))


# ---------------------------------------------------------------------- interpolate
def _nearest_plan(n_in, n_out, scale, exact):
    """Source index per output index, computed in float32 as PyTorch does: floor(j s) (nearest) or
    floor((j + 1/2) s) (nearest-exact), s = 1 / scale_factor when given, else n_in / n_out. For nearest, an
    output as long as the input copies it and one twice as long repeats each element twice, whatever the
    scale_factor: PyTorch's 2-D forward and every backward do so (its 1-D and 3-D forwards do not)."""
    if not exact and n_out == n_in:
        return np.arange(n_in)
    if not exact and n_out == 2 * n_in:
        return np.arange(n_out) // 2
    f = np.float32
    s = f(1.0 / scale) if scale else f(n_in) / f(n_out)
    j = np.arange(n_out, dtype=f)
    if exact:
        j += f(0.5)
    return np.minimum(np.floor(j * s).astype(np.int64), n_in - 1)


def _linear_plan(n_in, n_out, scale, align_corners, dtype):
    """(i0, i1, w0, w1): y_j = w0_j x_(i0_j) + w1_j x_(i1_j). The source coordinate is
    j (n_in - 1) / (n_out - 1) with align_corners, else (j + 1/2) s - 1/2 clamped at 0, s = 1 / scale_factor
    or n_in / n_out; computed in the input's dtype, as PyTorch."""
    f = np.dtype(dtype).type
    j = np.arange(n_out, dtype=dtype)
    if n_out == n_in:
        idx = np.arange(n_in)
        return idx, idx, np.ones(n_out, dtype), np.zeros(n_out, dtype)
    if align_corners:
        s = f(n_in - 1) / f(n_out - 1) if n_out > 1 else f(0)
        src = s * j
    else:
        s = f(1.0 / scale) if scale else f(n_in) / f(n_out)
        src = np.maximum(s * (j + f(0.5)) - f(0.5), f(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    w1 = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype, copy=False)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, (f(1) - w1).astype(dtype, copy=False), w1


def _along(w, axis, ndim):
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis))


def _scatter_sorted(g, idx, n, axis):
    """Sum the slices of g along axis into n places by the non-decreasing index idx (np.add.reduceat over
    each run of equal indices: no np.add.at)."""
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    sums = np.add.reduceat(g, starts, axis=axis)
    if len(starts) == n:  # every input place received something (idx covers 0..n-1 in order)
        return sums
    shape = list(g.shape)
    shape[axis] = n
    out = np.zeros(shape, g.dtype)
    out[(slice(None),) * axis + (idx[starts],)] = sums
    return out


class Interpolate(NumpyFunction):
    """Resampling, one spatial axis at a time (the last first): y_j = x_(i_j) (nearest) or
    y_j = w0_j x_(i0_j) + w1_j x_(i1_j) (linear, i1 = i0 + 1); dL/dx sends g back along the same weights."""

    @staticmethod
    def forward(ctx, x, plans):
        ctx.plans = plans
        if not plans:
            return x.copy()
        for axis, _, i0, i1, w0, w1 in plans:
            if w0 is None:
                x = np.take(x, i0, axis=axis)
            else:
                y = np.take(x, i0, axis=axis)
                y *= _along(w0, axis, x.ndim)
                y += np.take(x, i1, axis=axis) * _along(w1, axis, x.ndim)
                x = y
        return x

    @staticmethod
    def backward(ctx, g):
        for axis, n_in, i0, i1, w0, w1 in reversed(ctx.plans):
            if w0 is None:
                g = _scatter_sorted(g, i0, n_in, axis)
            else:
                gx = _scatter_sorted(g * _along(w0, axis, g.ndim), i0, n_in, axis)
                gx += _scatter_sorted(g * _along(w1, axis, g.ndim), i1, n_in, axis)
                g = gx
        return g, None


_LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial axes of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to ``size``, or to
    floor(in * scale_factor). Modes: nearest (source index floor(j s)), nearest-exact (floor((j + 1/2) s)),
    linear / bilinear / trilinear (align_corners: whether the corner pixels' centres are aligned), area
    (adaptive average pooling; 3-D and 4-D inputs)."""
    name = "interpolate"
    _tensor(name, "input", input)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("interpolate: align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    else:
        align_corners = bool(align_corners)
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * dim
        if isinstance(size, (list, tuple)) and len(sizes) != dim:
            raise ValueError("interpolate: input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of {list(input.shape[2:])} "
                             f"and output size of {size}. Please provide input tensor in "
                             "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.")
        if not all(_is_int(s) for s in sizes):
            raise TypeError(f"interpolate: expected size to be an int or a tuple of ints, got {size!r}")
        scales = [None] * dim
    elif scale_factor is not None:
        scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * dim
        if len(scales) != dim:
            raise ValueError("interpolate: input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of {list(input.shape[2:])} "
                             f"and scale_factor of shape {scale_factor}.")
        scales = [float(s) for s in scales]
        sizes = [int(math.floor(float(n) * s)) for n, s in zip(input.shape[2:], scales)]
        if recompute_scale_factor:
            scales = [None] * dim
    else:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size.")
    if antialias:
        if not (mode in ("bilinear", "bicubic") and input.ndim == 4):
            raise ValueError("interpolate: anti-alias option is restricted to bilinear and bicubic modes and "
                             "requires a 4-D tensor as input")
        raise NotImplementedError("interpolate: antialias=True is not supported by convgrad")
    if mode in _LINEAR_MODES:
        if input.ndim != _LINEAR_MODES[mode]:
            raise NotImplementedError(f"interpolate: got {input.ndim}D input, but {mode} mode needs "
                                      f"{_LINEAR_MODES[mode]}D input")
    elif mode not in ("nearest", "nearest-exact", "area"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (convgrad has nearest, "
                                  "nearest-exact, area, linear, bilinear, trilinear)")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"interpolate: input error: only 3D, 4D and 5D input tensors are supported "
                                  f"(got {input.ndim}D) for the mode {mode}")
    if input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating point input, got dtype {input.dtype}")
    if min(input.shape[2:]) < 1 or min(sizes) < 1:
        raise RuntimeError(f"interpolate: input and output sizes should be greater than 0, but got input "
                           f"{tuple(input.shape[2:])} and output {tuple(sizes)}")
    if mode == "area":  # adaptive average pooling to the output size, as PyTorch
        from convgrad.functional import pooling

        if input.ndim == 5:
            raise NotImplementedError("interpolate: mode 'area' on 5-D input is not supported by convgrad")
        pool = pooling.adaptive_avg_pool1d if dim == 1 else pooling.adaptive_avg_pool2d
        return pool(input, tuple(sizes) if dim > 1 else sizes[0])
    plans = []
    for i in reversed(range(dim)):
        axis, n_in, n_out = i + 2, input.shape[i + 2], sizes[i]
        if mode in ("nearest", "nearest-exact"):
            idx = _nearest_plan(n_in, n_out, scales[i], mode == "nearest-exact")
            if n_in == n_out and np.array_equal(idx, np.arange(n_in)):
                continue
            plans.append((axis, n_in, idx, None, None, None))
        else:
            if n_in == n_out:
                continue
            plans.append((axis, n_in) + _linear_plan(n_in, n_out, scales[i], align_corners, input.dtype))
    return Interpolate.apply(input, tuple(plans))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated PyTorch alias of interpolate."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated PyTorch alias of interpolate(..., mode='nearest')."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated PyTorch alias of interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------- linear maps
class Linear(NumpyFunction):
    """y = x W^T + b over the last axis: one GEMM on the (batch, in) view of x, b added in place into it;
    dL/dx = G W,  dL/dW = G^T x,  dL/db = G summed over the batch (G the (batch, out) view of g)."""

    @staticmethod
    def forward(ctx, x, w, b):
        w2 = w.reshape(1, -1) if w.ndim == 1 else w
        y = x.reshape(-1, x.shape[-1]) @ w2.T
        y = y.reshape(x.shape[:-1] + w.shape[:-1])
        if b is not None:
            y += b
        ctx.save_for_backward(x, w)
        ctx.bias_per_feature = b is not None and w.ndim == 2 and b.shape == w.shape[:1]
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        w2 = w.reshape(1, -1) if w.ndim == 1 else w
        g2 = g.reshape(-1, w2.shape[0])
        gx = (g2 @ w2).reshape(x.shape) if need_x else None
        gw = (g2.T @ x.reshape(-1, x.shape[-1])).reshape(w.shape) if need_w else None
        gb = None
        if need_b:  # a bias of another broadcastable shape: the engine sums g down to it
            gb = g2.sum(axis=0) if ctx.bias_per_feature else g
        return gx, gw, gb


def linear(input, weight, bias=None):
    """y = input weight^T + bias: input (*, in_features), weight (out_features, in_features), bias
    (out_features,) -> (*, out_features)"""
    name = "linear"
    _tensor(name, "input", input)
    _tensor(name, "weight", weight)
    if input.ndim == 0 or weight.ndim not in (1, 2):
        raise RuntimeError("linear: expected input of shape (*, in_features) and weight of shape "
                           f"(out_features, in_features), got input {tuple(input.shape)} and weight "
                           f"{tuple(weight.shape)}")
    if input.shape[-1] != weight.shape[-1]:
        rows = int(np.prod(input.shape[:-1]))
        wt = "x".join(map(str, weight.shape[::-1])) if weight.ndim == 2 else f"{weight.shape[0]}x1"
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{wt}): the input's last dimension ({input.shape[-1]}) must equal the weight's "
                           f"in_features ({weight.shape[-1]})")
    if input.dtype != weight.dtype or input.dtype.kind != "f":
        raise RuntimeError(f"linear: input and weight must have the same floating point dtype, but got "
                           f"{input.dtype} and {weight.dtype}")
    out_shape = tuple(input.shape[:-1] + weight.shape[:-1])
    if bias is not None:
        _tensor(name, "bias", bias)
        if bias.dtype != input.dtype:
            raise RuntimeError(f"linear: bias has dtype {bias.dtype}; expected the input's {input.dtype}")
        try:
            ok = np.broadcast_shapes(bias.shape, out_shape) == out_shape
        except ValueError:
            ok = False
        if not ok:
            raise RuntimeError(f"linear: bias of shape {tuple(bias.shape)} does not broadcast to the "
                               f"output's shape {out_shape}")
    return Linear.apply(input, weight, bias)


class Bilinear(NumpyFunction):
    """y_k = x1^T W_k x2 + b_k;  U = x1 W (one GEMM, (batch, out, in2)), y = sum_j U_kj x2_j;
    dL/dx2 = sum_k g_k U_k,  dL/dx1 = (g x2) W^T,  dL/dW = x1^T (g x2)"""

    @staticmethod
    def forward(ctx, x1, x2, w, b):
        out, in1, in2 = w.shape
        a = x1.reshape(-1, in1)
        c = x2.reshape(-1, in2)
        wt = w.transpose(1, 0, 2).reshape(in1, out * in2)
        u = (a @ wt).reshape(-1, out, in2)
        y = np.einsum("mkj,mj->mk", u, c)
        if b is not None:
            y += b
        ctx.save_for_backward(x1, x2, w)
        ctx.u = u
        return y.reshape(x1.shape[:-1] + (out,))

    @staticmethod
    def backward(ctx, g):
        x1, x2, w = ctx.saved_tensors
        out, in1, in2 = w.shape
        need1, need2, need_w, need_b = ctx.needs_input_grad
        g2 = g.reshape(-1, out)
        a = x1.reshape(-1, in1)
        c = x2.reshape(-1, in2)
        gu = (g2[:, :, None] * c[:, None, :]).reshape(-1, out * in2)  # dL/dU
        wt = w.transpose(1, 0, 2).reshape(in1, out * in2)
        g1 = (gu @ wt.T).reshape(x1.shape) if need1 else None
        gc = np.einsum("mk,mkj->mj", g2, ctx.u).reshape(x2.shape) if need2 else None
        gw = (a.T @ gu).reshape(in1, out, in2).transpose(1, 0, 2) if need_w else None
        gb = g2.sum(axis=0) if need_b else None
        return g1, gc, gw, gb


def bilinear(input1, input2, weight, bias=None):
    """y_k = input1^T weight_k input2 + bias_k: input1 (*, in1), input2 (*, in2), weight (out, in1, in2)"""
    name = "bilinear"
    for arg, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        _tensor(name, arg, t)
    if weight.ndim != 3 or input1.ndim == 0 or input2.ndim == 0:
        raise RuntimeError("bilinear: expected weight (out, in1, in2) and inputs (*, in1), (*, in2), got "
                           f"weight {tuple(weight.shape)}, input1 {tuple(input1.shape)}, input2 "
                           f"{tuple(input2.shape)}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear: input batch dimensions do not match: input1 {tuple(input1.shape)}, "
                           f"input2 {tuple(input2.shape)}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear: input sizes ({input1.shape[-1]}, {input2.shape[-1]}) do not match the "
                           f"weight's (in1, in2) = ({weight.shape[1]}, {weight.shape[2]})")
    if bias is not None:
        _tensor(name, "bias", bias)
        if bias.shape != (weight.shape[0],):
            raise RuntimeError(f"bilinear: bias should have shape ({weight.shape[0]},), got "
                               f"{tuple(bias.shape)}")
    if not (input1.dtype == input2.dtype == weight.dtype) or input1.dtype.kind != "f" or \
            (bias is not None and bias.dtype != input1.dtype):
        raise RuntimeError("bilinear: inputs, weight and bias must have the same floating point dtype")
    return Bilinear.apply(input1, input2, weight, bias)


# ---------------------------------------------------------------------- shapes and encodings
def flatten(input, start_dim=0, end_dim=-1):
    """Axes start_dim..end_dim merged into one (a view when possible), as torch.flatten."""
    _tensor("flatten", "input", input)
    return input.flatten(start_dim, end_dim)


def one_hot(tensor, num_classes=-1):
    """(*,) int64 class indices -> (*, num_classes) int64, 1 at each index (num_classes = -1: max + 1)"""
    name = "one_hot"
    _tensor(name, "tensor", tensor)
    if tensor.dtype != np.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor (int64), got "
                           f"{tensor.dtype}")
    if not _is_int(num_classes):
        raise TypeError(f"one_hot(): num_classes must be an int, got {type(num_classes).__name__}")
    t = tensor._data
    if t.size == 0:
        if num_classes == -1:
            raise RuntimeError("one_hot: can not infer total number of classes from empty tensor.")
    else:
        if t.min() < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {t.min()}")
        if num_classes == -1:
            num_classes = int(t.max()) + 1
        elif t.max() >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes ({num_classes}), got "
                               f"{t.max()}")
    if num_classes < 0:
        raise RuntimeError(f"one_hot: num_classes should be -1 or non-negative, got {num_classes}")
    return Tensor._make((t[..., None] == np.arange(num_classes)).astype(np.int64))


# ---------------------------------------------------------------------- similarity
class CosineSimilarity(NumpyFunction):
    """y = x1 . x2 / (max(|x1|, eps) max(|x2|, eps)) along dim;
    dy/dx1 = x2 / (c1 c2) - y x1 / (c1 |x1|)  (the norm's gradient is taken unclamped, as PyTorch)"""

    @staticmethod
    def forward(ctx, a, b, dim, eps):
        a, b = np.broadcast_arrays(a, b)
        na = np.sqrt(np.sum(a * a, axis=dim, keepdims=True))
        nb = np.sqrt(np.sum(b * b, axis=dim, keepdims=True))
        ca, cb = np.maximum(na, eps), np.maximum(nb, eps)
        y = np.sum(a * b, axis=dim, keepdims=True) / (ca * cb)
        ctx.a, ctx.b, ctx.na, ctx.nb, ctx.ca, ctx.cb, ctx.y, ctx.dim = a, b, na, nb, ca, cb, y, dim
        return np.squeeze(y, dim)

    @staticmethod
    def backward(ctx, g):
        g = np.expand_dims(g, ctx.dim)
        a, b, y = ctx.a, ctx.b, ctx.y
        gy = g / (ctx.ca * ctx.cb)
        with np.errstate(divide="ignore", invalid="ignore"):
            ra = np.where(ctx.na > 0, g * y / (ctx.ca * ctx.na), 0)
            rb = np.where(ctx.nb > 0, g * y / (ctx.cb * ctx.nb), 0)
        ga = b * gy - a * ra if ctx.needs_input_grad[0] else None
        gb = a * gy - b * rb if ctx.needs_input_grad[1] else None
        return ga, gb, None, None


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """y = x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along dim (the inputs broadcast)"""
    name = "cosine_similarity"
    _tensor(name, "x1", x1)
    _tensor(name, "x2", x2)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"{name}: the shapes {tuple(x1.shape)} and {tuple(x2.shape)} do not "
                           "broadcast") from None
    dt = _promote(x1, x2)
    if dt.kind != "f":
        dt = get_default_dtype()
    x1, x2 = (x if x.dtype == dt else x.to(dt) for x in (x1, x2))
    d = x1._dim(dim, len(shape))
    if not shape:
        return CosineSimilarity.apply(x1.reshape(1), x2.reshape(1), 0, float(eps))
    return CosineSimilarity.apply(x1, x2, d, float(eps))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """y = || x1 - x2 + eps ||_p over the last axis"""
    name = "pairwise_distance"
    _tensor(name, "x1", x1)
    _tensor(name, "x2", x2)
    try:
        np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"{name}: the shapes {tuple(x1.shape)} and {tuple(x2.shape)} do not "
                           "broadcast") from None
    d = x1 - x2 + eps
    if d.ndim == 0:
        return d.abs()
    return d.norm(p, dim=-1, keepdim=keepdim)
