"""The remaining functional ops: padding, resizing (interpolate), pixel (un)shuffle, the fully connected
layer's linear map, flatten, one_hot and similarity measures."""

import math
import warnings

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import saved_as_tensors
from convgrad.ops.shape import PadConstant
from convgrad.tensor import Tensor, _promote, get_default_dtype

__all__ = [
    "pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
    "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "linear", "bilinear",
    "flatten", "one_hot", "cosine_similarity", "pairwise_distance",
]


_tensor = checks.tensor
_is_int = checks.is_int


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


@checks.typed
def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 axes: pad = (last_before, last_after, second_last_before, ...), as PyTorch.
    Modes: constant (value, default 0; negative pads crop), reflect (mirror without repeating the edge),
    replicate (repeat the edge), circular (wrap around); reflect, replicate and circular pad the last 1, 2
    or 3 axes of a batched or unbatched input."""
    _tensor("pad", "input", input)
    if not isinstance(pad, (tuple, list)) or not all(_is_int(p) for p in pad):
        raise checks.error("pad", "pad to be a tuple of ints", f"pad={checks.show(pad)}", TypeError)
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise checks.error("pad", "an even number of padding values", f"pad={tuple(pad)}")
    k = len(pad) // 2
    ndim = input.ndim
    if k > ndim:
        raise checks.error("pad", f"at most 2 * input.ndim = {2 * ndim} padding values",
                           f"pad={tuple(pad)} for input of shape {tuple(input.shape)}")
    checks.choice("pad", "mode", mode, ("constant", "reflect", "replicate", "circular"), NotImplementedError)
    if value is not None:
        value = checks.number("pad", "value", value, finite=False, allow_nan=True)
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(k)]  # pairs[i] pads axis ndim - 1 - i
    if mode == "constant":
        for i, (b, a) in enumerate(pairs):
            n = input.shape[ndim - 1 - i]
            if n + min(b, 0) + min(a, 0) < 0:  # PyTorch crops first: the crop alone must fit
                raise checks.error("pad", f"negative padding that crops at most the input size {n} at dim "
                                   f"{ndim - 1 - i}", f"padding ({b}, {a})")
            if n + b + a < 0:
                raise checks.error("pad", f"an output size >= 0 at dim {ndim - 1 - i} (input size {n})",
                                   f"padding ({b}, {a})")
        widths = [(0, 0)] * (ndim - k) + pairs[::-1]
        return PadConstant.apply(input, tuple(widths), 0 if value is None else value)
    if value is not None and value != 0:
        raise checks.error("pad", f"no value in mode {mode!r} (only 'constant' takes one)", f"value={value}")
    if (k, ndim) not in ((1, 2), (1, 3), (2, 3), (2, 4), (3, 4), (3, 5)):
        raise checks.error("pad", f"in mode {mode!r} 2 padding values for a 2-D or 3-D input, 4 for 3-D "
                           "or 4-D, 6 for 4-D or 5-D",
                           f"pad={tuple(pad)} for input of shape {tuple(input.shape)}", NotImplementedError)
    if 0 in input.shape[ndim - k - 1:]:
        raise checks.error("pad", f"non-empty channel and spatial dims in mode {mode!r}",
                           f"input of shape {tuple(input.shape)}")
    maps = []
    for i, (b, a) in enumerate(pairs):
        axis = ndim - 1 - i
        n = input.shape[axis]
        if mode == "reflect" and (b >= n or a >= n):
            raise checks.error("pad", f"padding smaller than the input size {n} at dim {axis} in mode "
                               "'reflect'",
                               f"padding ({b}, {a}) for input of shape {tuple(input.shape)}")
        if mode == "circular":
            kept = n - max(-b, 0) - max(-a, 0)
            if kept < 0 or max(b, 0) > kept or max(a, 0) > kept:
                raise checks.error("pad", f"padding at most the input size {n} at dim {axis} in mode "
                                   "'circular' (wrapping around once)",
                                   f"padding ({b}, {a}) for input of shape {tuple(input.shape)}")
        elif n + b + a < (1 if k == 1 else 0):  # PyTorch's 2-D and 3-D paddings allow an empty output
            raise checks.error("pad", f"an output size >= 1 at dim {axis} (input size {n})",
                               f"padding ({b}, {a})")
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


@checks.typed
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial axes of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to ``size``, or to
    floor(in * scale_factor). Modes: nearest (source index floor(j s)), nearest-exact (floor((j + 1/2) s)),
    linear / bilinear / trilinear (align_corners: whether the corner pixels' centres are aligned), area
    (adaptive average pooling; 3-D and 4-D inputs)."""
    name = "interpolate"
    _tensor(name, "input", input)
    for flag, v in (("align_corners", align_corners), ("recompute_scale_factor", recompute_scale_factor)):
        if v is not None:
            checks.boolean(name, flag, v)
    if not isinstance(mode, str):
        raise checks.error(name, "mode to be a string", f"mode={checks.show(mode)} ({checks.kind(mode)})",
                           TypeError)
    if scale_factor is not None and not isinstance(scale_factor, (tuple, list)) and \
            not checks.is_number(scale_factor):
        raise checks.error(name, "scale_factor to be a number or a sequence of numbers",
                           f"scale_factor={checks.show(scale_factor)}", TypeError)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise checks.error(name, f"align_corners=None in mode {mode!r} (only linear, bilinear, "
                               "bicubic and trilinear take it)", f"align_corners={align_corners!r}",
                               ValueError)
    else:
        align_corners = bool(align_corners)
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise checks.error(name, "only one of size and scale_factor", f"size={size!r}, "
                           f"scale_factor={scale_factor!r}", ValueError)
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * dim
        if isinstance(size, (list, tuple)) and len(sizes) != dim:
            raise checks.error(name, f"a size of {dim} entries (one per spatial dim of the input of shape "
                               f"{tuple(input.shape)}, (N, C, d1, ...))", f"size={checks.show(size)}",
                               ValueError)
        if not all(_is_int(s) for s in sizes):
            raise checks.error(name, "size to be an int or a tuple of ints", f"size={checks.show(size)}",
                               TypeError)
        scales = [None] * dim
    elif scale_factor is not None:
        scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * dim
        if len(scales) != dim:
            raise checks.error(name, f"a scale_factor of {dim} entries (one per spatial dim of the input of "
                               f"shape {tuple(input.shape)})", f"scale_factor={checks.show(scale_factor)}",
                               ValueError)
        scales = [checks.number(name, "scale_factor", s, low=0, low_open=True) for s in scales]
        sizes = [int(math.floor(float(n) * s)) for n, s in zip(input.shape[2:], scales)]
        if recompute_scale_factor:
            scales = [None] * dim
    else:
        raise checks.error(name, "size or scale_factor", "neither", ValueError)
    if recompute_scale_factor and size is not None:
        raise checks.error(name, "recompute_scale_factor only with scale_factor", f"size={size!r}",
                           ValueError)
    if antialias:
        if not (mode in ("bilinear", "bicubic") and input.ndim == 4):
            raise checks.error(name, "antialias only in mode 'bilinear' or 'bicubic' on a 4-D input",
                               f"mode={mode!r} and input of shape {tuple(input.shape)}", ValueError)
        raise checks.error(name, "antialias=False (convgrad has no antialiasing)", "antialias=True",
                           NotImplementedError)
    if mode in _LINEAR_MODES:
        if input.ndim != _LINEAR_MODES[mode]:
            raise checks.error(name, f"a {_LINEAR_MODES[mode]}-D input in mode {mode!r}",
                               f"input of shape {tuple(input.shape)}", NotImplementedError)
    else:
        checks.choice(name, "mode", mode, ("nearest", "nearest-exact", "area") + tuple(_LINEAR_MODES),
                      NotImplementedError)
    checks.dims(name, "input", input, {3: "(N, C, L)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"})
    checks.tensor(name, "input", input, floating=True)
    if min(input.shape[2:]) < 1 or min(sizes) < 1:
        raise checks.error(name, "input and output sizes >= 1",
                           f"input of shape {tuple(input.shape)} and output size {tuple(sizes)}")
    if mode == "area":  # adaptive average pooling to the output size, as PyTorch
        from convgrad.functional import adaptive_pooling

        if input.ndim == 5:
            raise checks.error(name, "a 3-D or 4-D input in mode 'area'",
                               f"input of shape {tuple(input.shape)}", NotImplementedError)
        pool = adaptive_pooling.adaptive_avg_pool1d if dim == 1 else adaptive_pooling.adaptive_avg_pool2d
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


@checks.typed
def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated PyTorch alias of interpolate."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


@checks.typed
def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated PyTorch alias of interpolate(..., mode='nearest')."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


@checks.typed
def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated PyTorch alias of interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------- linear maps
# ---------------------------------------------------------------------- pixel shuffle
def _shuffle(x, r):
    """(*, C r^2, H, W) -> (*, C, H r, W r): out[c, h r + i, w r + j] = in[c r^2 + i r + j, h, w]."""
    *batch, c, h, w = x.shape
    y = x.reshape(*batch, c // (r * r), r, r, h, w)
    k = len(batch)
    y = y.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return np.ascontiguousarray(y).reshape(*batch, c // (r * r), h * r, w * r)


def _unshuffle(x, r):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``_shuffle``."""
    *batch, c, h, w = x.shape
    y = x.reshape(*batch, c, h // r, r, w // r, r)
    k = len(batch)
    y = y.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return np.ascontiguousarray(y).reshape(*batch, c * r * r, h // r, w // r)


class PixelShuffle(NumpyFunction):
    """A permutation of elements: the gradient is the inverse permutation of the output's gradient."""

    @staticmethod
    def forward(ctx, x, r, inverse):
        ctx.r, ctx.inverse = r, inverse
        return _unshuffle(x, r) if inverse else _shuffle(x, r)

    @staticmethod
    def backward(ctx, g):
        return (_shuffle(g, ctx.r) if ctx.inverse else _unshuffle(g, ctx.r)), None, None


def _pixel_args(op, input, factor, name):
    _tensor(op, "input", input)
    if not _is_int(factor) or factor <= 0:
        raise ValueError(f"{op}: expected {name} to be a positive int, got {factor!r}")
    if input.ndim < 3:
        raise RuntimeError(f"{op}: expected an input of 3+ dims (*, C, H, W), got shape {tuple(input.shape)}")
    return int(factor)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r), r = upscale_factor: out[c, h r + i, w r + j] =
    in[c r^2 + i r + j, h, w] (sub-pixel convolution's rearrangement)."""
    op = "pixel_shuffle"
    r = _pixel_args(op, input, upscale_factor, "upscale_factor")
    c = input.shape[-3]
    if c % (r * r):
        raise RuntimeError(f"{op}: expected the channels (dim -3) divisible by upscale_factor^2 = {r * r}, "
                           f"got shape {tuple(input.shape)}")
    return PixelShuffle.apply(input, r, False)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), r = downscale_factor: the inverse of ``pixel_shuffle``."""
    op = "pixel_unshuffle"
    r = _pixel_args(op, input, downscale_factor, "downscale_factor")
    h, w = input.shape[-2:]
    if h % r or w % r:
        raise RuntimeError(f"{op}: expected height and width divisible by downscale_factor = {r}, got shape "
                           f"{tuple(input.shape)}")
    return PixelShuffle.apply(input, r, True)


def channel_shuffle(input, groups):
    """(N, g k, *) -> (N, k g, *): channel c = i k + j moves to j g + i (ShuffleNet), a reshape, a
    transpose and a reshape (the gradient follows through them)."""
    op = "channel_shuffle"
    _tensor(op, "input", input)
    if not _is_int(groups) or groups <= 0:
        raise ValueError(f"{op}: expected groups to be a positive int, got {groups!r}")
    if input.ndim < 3:
        raise RuntimeError(f"{op}: expected an input of 3+ dims (N, C, *), got shape {tuple(input.shape)}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"{op}: expected the channels divisible by groups={groups}, got shape "
                           f"{tuple(input.shape)}")
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle


class Linear(NumpyFunction):
    """y = x W^T + b over the last axis: one GEMM on the (batch, in) view of x, b added in place into it;
    dL/dx = G W,  dL/dW = G^T x,  dL/db = G summed over the batch (G the (batch, out) view of g)."""

    @staticmethod
    def forward(ctx, x, w, b):
        w2 = w.reshape(1, -1) if w.ndim == 1 else w
        y = (x.reshape(-1, x.shape[-1]) @ w2.T).reshape(x.shape[:-1] + w.shape[:-1])
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

    @staticmethod
    def tensor_backward(ctx, g):
        x, w = saved_as_tensors(ctx)
        need_x, need_w, need_b = ctx.needs_input_grad
        w2 = w.reshape(1, -1) if w.ndim == 1 else w
        g2 = g.reshape(-1, w2.shape[0])
        gx = (g2 @ w2).reshape(x.shape) if need_x else None
        gw = (g2.t() @ x.reshape(-1, x.shape[-1])).reshape(w.shape) if need_w else None
        gb = (g2.sum(dim=0) if ctx.bias_per_feature else g) if need_b else None
        return gx, gw, gb


@checks.typed
def linear(input, weight, bias=None):
    """y = input weight^T + bias: input (*, in_features), weight (out_features, in_features), bias
    (out_features,) -> (*, out_features)"""
    name = "linear"
    _tensor(name, "input", input)
    _tensor(name, "weight", weight)
    if input.ndim == 0 or weight.ndim not in (1, 2):
        raise checks.error(name, "input of shape (*, in_features) and weight of shape (out_features, "
                           "in_features)", f"input of shape {tuple(input.shape)} and weight of shape "
                           f"{tuple(weight.shape)}")
    if input.shape[-1] != weight.shape[-1]:
        raise checks.error(name, f"input.shape[-1] equal to the weight's in_features = {weight.shape[-1]}",
                           f"input of shape {tuple(input.shape)} and weight of shape {tuple(weight.shape)}")
    checks.tensor(name, "input", input, floating=True, exc=RuntimeError)
    checks.same_dtype(name, "weight", weight, input)
    out_shape = tuple(input.shape[:-1] + weight.shape[:-1])
    if bias is not None:
        _tensor(name, "bias", bias)
        if bias.dtype != input.dtype:
            raise checks.error(name, f"bias of the input's dtype {input.dtype}",
                               f"bias of dtype {bias.dtype}")
        try:
            ok = np.broadcast_shapes(bias.shape, out_shape) == out_shape
        except ValueError:
            ok = False
        if not ok:
            raise checks.error(name, f"a bias that broadcasts to the output's shape {out_shape}",
                               f"bias of shape {tuple(bias.shape)}")
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


@checks.typed
def bilinear(input1, input2, weight, bias=None):
    """y_k = input1^T weight_k input2 + bias_k: input1 (*, in1), input2 (*, in2), weight (out, in1, in2)"""
    name = "bilinear"
    for arg, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        _tensor(name, arg, t)
    if weight.ndim != 3 or input1.ndim == 0 or input2.ndim == 0:
        raise checks.error(name, "weight (out, in1, in2) and inputs (*, in1), (*, in2)",
                           f"weight of shape {tuple(weight.shape)}, input1 of shape {tuple(input1.shape)}, "
                           f"input2 of shape {tuple(input2.shape)}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise checks.error(name, "input1 and input2 with the same batch dims",
                           f"input1 of shape {tuple(input1.shape)}, input2 of shape {tuple(input2.shape)}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise checks.error(name, f"input sizes (in1, in2) = ({weight.shape[1]}, {weight.shape[2]}) as the "
                           "weight's", f"({input1.shape[-1]}, {input2.shape[-1]})")
    if bias is not None:
        _tensor(name, "bias", bias)
        if bias.shape != (weight.shape[0],):
            raise checks.error(name, f"bias of shape ({weight.shape[0]},)",
                               f"bias of shape {tuple(bias.shape)}")
    if not (input1.dtype == input2.dtype == weight.dtype) or input1.dtype.kind != "f" or \
            (bias is not None and bias.dtype != input1.dtype):
        dts = (input1.dtype, input2.dtype, weight.dtype) + (() if bias is None else (bias.dtype,))
        raise checks.error(name, "inputs, weight and bias of one floating point dtype",
                           f"dtypes {tuple(str(d) for d in dts)}")
    return Bilinear.apply(input1, input2, weight, bias)


# ---------------------------------------------------------------------- shapes and encodings
@checks.typed
def flatten(input, start_dim=0, end_dim=-1):
    """Axes start_dim..end_dim merged into one (a view when possible), as torch.flatten."""
    _tensor("flatten", "input", input)
    return input.flatten(start_dim, end_dim)


@checks.typed
def one_hot(tensor, num_classes=-1):
    """(*,) int64 class indices -> (*, num_classes) int64, 1 at each index (num_classes = -1: max + 1)"""
    name = "one_hot"
    _tensor(name, "tensor", tensor)
    if tensor.dtype != np.int64:
        raise checks.error(name, "class indices of dtype int64", f"tensor of dtype {tensor.dtype}")
    num_classes = checks.integer(name, "num_classes", num_classes)
    t = tensor._data
    if t.size == 0:
        if num_classes == -1:
            raise checks.error(name, "num_classes for an empty tensor (it cannot be inferred)",
                               "num_classes=-1")
    else:
        if t.min() < 0:
            raise checks.error(name, "class values >= 0", f"{t.min()}")
        if num_classes == -1:
            num_classes = int(t.max()) + 1
        elif t.max() >= num_classes:
            raise checks.error(name, f"class values < num_classes = {num_classes}", f"{t.max()}")
    if num_classes < 0:
        raise checks.error(name, "num_classes >= 0 or -1", f"num_classes={num_classes}")
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


@checks.typed
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """y = x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along dim (the inputs broadcast)"""
    name = "cosine_similarity"
    _tensor(name, "x1", x1, numeric=True)
    _tensor(name, "x2", x2, numeric=True)
    eps = checks.number(name, "eps", eps, low=0, finite=False, exc=RuntimeError)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise checks.error(name, "x1 and x2 of shapes that broadcast",
                           f"{tuple(x1.shape)} and {tuple(x2.shape)}") from None
    dt = _promote(x1, x2)
    if dt.kind != "f":
        dt = get_default_dtype()
    x1, x2 = (x if x.dtype == dt else x.to(dt) for x in (x1, x2))
    d = x1._dim(dim, len(shape), op=name)
    if not shape:
        return CosineSimilarity.apply(x1.reshape(1), x2.reshape(1), 0, float(eps))
    return CosineSimilarity.apply(x1, x2, d, float(eps))


@checks.typed
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """y = || x1 - x2 + eps ||_p over the last axis"""
    name = "pairwise_distance"
    _tensor(name, "x1", x1, numeric=True)
    _tensor(name, "x2", x2, numeric=True)
    p = checks.number(name, "p (of the p-norm)", p, low=0, low_open=True, finite=False)
    checks.number(name, "eps", eps, finite=False)
    try:
        np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise checks.error(name, "x1 and x2 of shapes that broadcast",
                           f"{tuple(x1.shape)} and {tuple(x2.shape)}") from None
    d = x1 - x2 + eps
    if d.ndim == 0:
        return d.abs()
    return d.norm(p, dim=-1, keepdim=keepdim)
