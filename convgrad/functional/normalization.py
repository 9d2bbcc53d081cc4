"""Normalisation layers: batch, layer, group and instance normalisation, AlexNet's local response
normalisation, and L_p normalisation of vectors.

Batch normalisation works on the input viewed as (N, C, L), L the product of the spatial sizes, so one
code path serves (N, C), (N, C, L) and (N, C, H, W). With M = N*L values per channel:

    x_hat = (x - mean) / sqrt(var + eps),   y = w * x_hat + b        (var biased)
    dx = (w / (M sigma)) * (M g - sum(g) - x_hat * sum(g * x_hat))  (per channel)

The backward is that one formula (two reductions, four elementwise passes), not a chain of ops. Layer,
group and instance normalisation normalise the rows of another view, (R, D): one row per (sample,
group); they share one op. Sums go through ``np.einsum`` and dot products along rows (``np.vecdot``):
3x faster than ``np.sum`` here, single-threaded (a threaded BLAS call stalls for milliseconds when the
cores are busy), and no product array is materialised.
"""


import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import saved_as_tensors

__all__ = [
    "batch_norm",
    "instance_norm",
    "layer_norm",
    "group_norm",
    "local_response_norm",
    "normalize",
]


def _check_tensor(op, name, t):
    checks.tensor(op, name, t, floating=True, exc=RuntimeError)


def _check_number(op, name, v, **limits):
    return checks.number(op, name, v, finite=False, allow_nan=True, **limits)


def _check_channel_vector(op, name, t, c):
    if t is None:
        return
    _check_tensor(op, name, t)
    if t.ndim != 1 or t.numel() != c:
        raise checks.error(op, f"{name} of one element per channel (C={c})",
                           f"{name} of shape {tuple(t.shape)}")


def _check_batched(op, input, min_ndim=2):
    if input.ndim < min_ndim:
        raise checks.error(op, f"an input of {min_ndim}+ dims (N, C, *)",
                           f"input of shape {tuple(input.shape)}")


def _as(a, dtype):
    return None if a is None else a.reshape(-1).astype(dtype, copy=False)


def _rowsum(a):
    """Sum over the last axis."""
    return np.einsum("...i->...", a)


def _rowdot(a, b):
    """sum(a * b) over the last axis, without the product array."""
    if _vecdot is not None:
        return _vecdot(a, b)
    return np.einsum("...i,...i->...", a, b)


_vecdot = getattr(np, "vecdot", None)  # NumPy >= 2


def _channel_sum(a):
    """(N, C, L) -> (C,): the sum over N and L."""
    return np.einsum("ncl->c", a)


def _channel_dot(a, b):
    """(N, C, L), (N, C, L) -> (C,): the sum over N and L of a * b."""
    return _rowdot(a, b).sum(axis=0) if a.shape[2] > 1 else np.einsum("nc,nc->c", a[:, :, 0], b[:, :, 0])


def _tile(v, length):
    """Per-channel values ``v`` (C,) as a (C, L) array to broadcast against (N, C, L): a contiguous
    operand lets NumPy run one SIMD loop over C*L elements per sample instead of a loop per (n, c) row
    with a stride-0 operand (1.5-2x faster; the tile is 1/N of the data)."""
    return np.repeat(v, length).reshape(-1, length)


# --------------------------------------------------------------------------- batch normalisation
class _BatchNormTrain(NumpyFunction):
    """Batch statistics: y = w (x - mean) / sqrt(var + eps) + b per channel; ``stats`` receives
    (mean, biased var) for the running-statistics update."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps, stats):
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        L = x3.shape[2]
        m = n * L
        w, b = _as(weight, x.dtype), _as(bias, x.dtype)
        mean = _channel_sum(x3) / m
        xc = x3 - _tile(mean, L)
        var = _channel_dot(xc, xc) / m
        invstd = 1 / np.sqrt(var + eps)
        scale = invstd if w is None else w * invstd
        y = np.empty(x.shape, x.dtype)  # not a view: the engine would copy a view it hands to a leaf
        y3 = y.reshape(xc.shape)
        np.multiply(xc, _tile(scale, L), out=y3)
        if b is not None:
            y3 += _tile(b, L)
        stats.extend((mean, var))
        if ctx.needs_input_grad:
            ctx.xc, ctx.invstd, ctx.scale, ctx.shape, ctx.eps = xc, invstd, scale, x.shape, eps
            ctx.wshape = None if weight is None else weight.shape
            ctx.bshape = None if bias is None else bias.shape
            ctx.save_for_backward(x, weight)  # for create_graph (and the in-place check)
        return y

    @staticmethod
    def backward(ctx, g):
        xc, invstd, scale = ctx.xc, ctx.invstd, ctx.scale
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g3 = g.reshape(xc.shape)
        L = xc.shape[2]
        m = xc.shape[0] * L
        sg = _channel_sum(g3)
        sgx = _channel_dot(g3, xc)  # = sigma * sum(g * x_hat)
        dx = dw = db = None
        if need_x:
            # dx = scale * (g - sum(g)/M - xc * invstd^2 * sum(g*xc)/M): four passes, no temporary
            dx = np.empty(ctx.shape, g.dtype)
            dx3 = dx.reshape(xc.shape)
            np.multiply(xc, _tile(invstd * invstd * sgx / m, L), out=dx3)
            np.subtract(g3, dx3, out=dx3)
            dx3 -= _tile(sg / m, L)
            dx3 *= _tile(scale, L)
        if need_w:
            dw = (sgx * invstd).reshape(ctx.wshape)
        if need_b:
            db = sg.reshape(ctx.bshape)
        return dx, dw, db, None, None

    @staticmethod
    def tensor_backward(ctx, g):
        """The same gradients from x with Tensor ops: x_hat = (x - mean) invstd per channel,
        dx = w invstd (g - mean(g) - x_hat mean(g x_hat)), dw = sum(g x_hat), db = sum(g)."""
        x, w = saved_as_tensors(ctx)[:2]  # a fused node saves its output after them
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n, c = ctx.shape[:2]
        x3, g3 = x.reshape(n, c, -1), g.reshape(n, c, -1)
        xc = x3 - x3.mean(dim=(0, 2), keepdim=True)
        invstd = ((xc * xc).mean(dim=(0, 2), keepdim=True) + ctx.eps) ** -0.5
        xhat = xc * invstd
        dx = dw = db = None
        if need_x:
            scale = invstd if w is None else w.reshape(1, c, 1) * invstd
            dx = scale * (g3 - g3.mean(dim=(0, 2), keepdim=True)
                          - xhat * (g3 * xhat).mean(dim=(0, 2), keepdim=True))
            dx = dx.reshape(ctx.shape)
        if need_w:
            dw = (g3 * xhat).sum(dim=(0, 2)).reshape(ctx.wshape)
        if need_b:
            db = g3.sum(dim=(0, 2)).reshape(ctx.bshape)
        return dx, dw, db, None, None


class _BatchNormEval(NumpyFunction):
    """Running statistics: y = x * scale + shift per channel, scale = w / sqrt(running_var + eps)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps):
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        L = x3.shape[2]
        w, b = _as(weight, x.dtype), _as(bias, x.dtype)
        rm, rv = _as(running_mean, x.dtype), _as(running_var, x.dtype)
        invstd = 1 / np.sqrt(rv + eps)
        scale = invstd if w is None else w * invstd
        shift = -rm * scale if b is None else b - rm * scale
        y = np.empty(x.shape, x.dtype)
        y3 = y.reshape(x3.shape)
        np.multiply(x3, _tile(scale, L), out=y3)
        y3 += _tile(shift, L)
        if ctx.needs_input_grad:
            ctx.save_for_backward(x)
            ctx.scale, ctx.invstd, ctx.rm = scale, invstd, rm
            ctx.wshape = None if weight is None else weight.shape
            ctx.bshape = None if bias is None else bias.shape
        return y

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n, c = x.shape[:2]
        g3 = g.reshape(n, c, -1)
        dx = dw = db = None
        if need_x:
            dx = np.empty(x.shape, g.dtype)
            np.multiply(g3, _tile(ctx.scale, g3.shape[2]), out=dx.reshape(g3.shape))
        if need_w or need_b:
            sg = _channel_sum(g3)
            db = sg.reshape(ctx.bshape) if need_b else None
            if need_w:
                dw = ((_channel_dot(g3, x.reshape(n, c, -1)) - ctx.rm * sg) * ctx.invstd).reshape(ctx.wshape)
        return dx, dw, db, None, None, None


@checks.typed
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, *, _train_node=None):
    """y = weight * (x - mean_c) / sqrt(var_c + eps) + bias, per channel c = dim 1; output shape = input's.

    training: mean_c, var_c (biased) over N and the spatial dims, and the running statistics (if given)
    are updated in place: r = (1 - momentum) r + momentum * stat, with the unbiased variance for
    running_var. Otherwise running_mean and running_var are used. (``_train_node``: the node of a fused
    variant, see ``convgrad.functional.fused``.)"""
    op = "batch_norm"
    _check_tensor(op, "input", input)
    _check_batched(op, input)
    if input.numel() == 0:
        raise checks.error(op, "a non-empty input", f"input of shape {tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_channel_vector(op, name, t, c)
        checks.same_dtype(op, name, t, input)
    _check_number(op, "momentum", momentum)
    # PyTorch's rule: eps > 0 in training, eps >= 0 in evaluation
    _check_number(op, "eps", eps, low=0, low_open=bool(training))
    if not training:
        if running_mean is None or running_var is None:
            raise checks.error(op, "running_mean and running_var in evaluation mode (training=False)",
                               "None", RuntimeError)
        return _BatchNormEval.apply(input, weight, bias, running_mean._data, running_var._data, eps)
    per_channel = input.numel() // c if c else 0
    if per_channel <= 1:
        raise checks.error(op, "more than 1 value per channel when training",
                           f"input of shape {tuple(input.shape)}", ValueError)
    stats = []
    out = (_train_node or _BatchNormTrain).apply(input, weight, bias, eps, stats)
    mean, var = stats
    _update_running(running_mean, running_var, mean, var * (per_channel / (per_channel - 1)), momentum)
    return out


def _update_running(running_mean, running_var, mean, var_unbiased, momentum):
    for r, stat in ((running_mean, mean), (running_var, var_unbiased)):
        if r is None:
            continue
        d = r._data
        flat = d.reshape(-1)
        flat *= 1 - momentum
        flat += (momentum * stat).astype(d.dtype, copy=False)
        r._bump_version()


# --------------------------------------------------------------------------- layer / group / instance
class _RowNorm(NumpyFunction):
    """x viewed as (R, D): each row to zero mean and unit (biased) variance; then y = x_hat * w + b with
    w, b broadcast as ``wview`` against x viewed as ``view``. ``stats`` receives (mean, var) per row."""

    @staticmethod
    def forward(ctx, x, weight, bias, rows, view, wview, eps, stats):
        d = x.size // rows if rows else 0
        x2 = x.reshape(rows, d)
        mean = _rowsum(x2) / d if d else np.zeros(rows, x.dtype)
        xhat = x2 - mean[:, None]
        var = _rowdot(xhat, xhat) / d if d else np.zeros(rows, x.dtype)
        invstd = 1 / np.sqrt(var + eps)
        xhat *= invstd[:, None]
        if stats is not None:
            stats.extend((mean, var))
        y = xhat.reshape(view)
        if weight is not None:
            y = y * weight.astype(x.dtype, copy=False).reshape(wview)
        if bias is not None:
            y = y + bias.astype(x.dtype, copy=False).reshape(wview)
        elif weight is None:
            y = y.copy()  # xhat is kept for backward
        if ctx.needs_input_grad:
            ctx.xhat, ctx.invstd, ctx.view, ctx.wview, ctx.shape = xhat, invstd, view, wview, x.shape
            ctx.w = None if weight is None else weight.astype(x.dtype, copy=False)
            ctx.bshape = None if bias is None else bias.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, view, wview = ctx.xhat, ctx.invstd, ctx.view, ctx.wview
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gv = g.reshape(view)
        axes = tuple(i for i, n in enumerate(wview) if n == 1)
        dx = dw = db = None
        if need_w:
            dw = np.multiply(gv, xhat.reshape(view)).sum(axis=axes).reshape(ctx.w.shape)
        if need_b:
            db = gv.sum(axis=axes).reshape(ctx.bshape)
        if need_x:
            dxhat = gv if ctx.w is None else gv * ctx.w.reshape(wview)
            dxhat = dxhat.reshape(xhat.shape)
            d = xhat.shape[1]
            mean_g = _rowsum(dxhat) / d
            mean_gx = _rowdot(dxhat, xhat) / d
            dx = dxhat - mean_g[:, None]
            dx -= xhat * mean_gx[:, None]
            dx *= invstd[:, None]
            dx = dx.reshape(ctx.shape)
        return dx, dw, db, None, None, None, None, None


def _spatial(t):
    return int(np.prod(t.shape[2:]))


@checks.typed
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, mean and var (biased) over the last
    len(normalized_shape) dims; weight and bias have shape normalized_shape; output shape = input's."""
    op = "layer_norm"
    _check_tensor(op, "input", input)
    if checks.is_int(normalized_shape):
        normalized_shape = (int(normalized_shape),)
    if not isinstance(normalized_shape, (tuple, list)) or not all(checks.is_int(n) for n in normalized_shape):
        raise checks.error(op, "normalized_shape to be an int or a sequence of ints",
                           f"normalized_shape={checks.show(normalized_shape)}", TypeError)
    normalized_shape = tuple(int(n) for n in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise checks.error(op, f"input of shape (*, {', '.join(map(str, normalized_shape))}) for "
                           f"normalized_shape={normalized_shape}", f"input of shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            _check_tensor(op, name, t)
            checks.same_dtype(op, name, t, input)
            if tuple(t.shape) != normalized_shape:
                raise checks.error(op, f"{name} of shape normalized_shape={normalized_shape}",
                                   f"{name} of shape {tuple(t.shape)}")
    _check_number(op, "eps", eps)
    d = int(np.prod(normalized_shape))
    rows = input.numel() // d if d else 0
    return _RowNorm.apply(input, weight, bias, rows, (rows, d), (1, d), eps, None)


@checks.typed
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Channels split into num_groups groups; y = (x - mean) / sqrt(var + eps) * weight_c + bias_c with
    mean and var (biased) over each (sample, group): its C/G channels and all spatial positions."""
    op = "group_norm"
    _check_tensor(op, "input", input)
    _check_batched(op, input)
    n, c = input.shape[:2]
    num_groups = checks.integer(op, "num_groups", num_groups, low=1, exc=RuntimeError)
    if c % num_groups:
        raise checks.error(op, f"num_groups dividing the number of channels C={c}",
                           f"num_groups={num_groups} for input of shape {tuple(input.shape)}")
    _check_channel_vector(op, "weight", weight, c)
    _check_channel_vector(op, "bias", bias, c)
    checks.same_dtype(op, "weight", weight, input)
    checks.same_dtype(op, "bias", bias, input)
    _check_number(op, "eps", eps)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.ndim != 1:
            raise checks.error(op, f"{name} of shape ({c},)", f"{name} of shape {tuple(t.shape)}")
    rows = n * int(num_groups)
    return _RowNorm.apply(input, weight, bias, rows, (n, c, _spatial(input)), (1, c, 1), eps, None)


@checks.typed
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Each (sample, channel) plane normalised by its own mean and (biased) variance over the spatial
    dims, then weight_c, bias_c. Running statistics, if given, are updated with the batch averages of
    the per-plane mean and unbiased variance; ``use_input_stats=False`` normalises by them instead."""
    op = "instance_norm"
    _check_tensor(op, "input", input)
    _check_batched(op, input)
    n, c = input.shape[:2]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_channel_vector(op, name, t, c)
    if (running_mean is None) != (running_var is None):
        raise checks.error(op, "running_mean and running_var both given or both None",
                           f"only {'running_var' if running_mean is None else 'running_mean'}", ValueError)
    _check_number(op, "momentum", momentum)
    _check_number(op, "eps", eps)
    if not use_input_stats and running_mean is None:
        raise checks.error(op, "running_mean and running_var with use_input_stats=False", "None")
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    spatial = _spatial(input)
    if spatial <= 1:
        raise checks.error(op, "more than 1 spatial element per channel when using input statistics",
                           f"input of shape {tuple(input.shape)}", ValueError)
    stats = [] if running_mean is not None or running_var is not None else None
    out = _RowNorm.apply(input, weight, bias, n * c, (n, c, spatial), (1, c, 1), eps, stats)
    if stats:
        mean, var = (s.reshape(n, c) for s in stats)
        _update_running(running_mean, running_var, mean.mean(axis=0),
                        (var * (spatial / (spatial - 1))).mean(axis=0), momentum)
    return out


# --------------------------------------------------------------------------- local response normalisation
def _channel_window_sum(a, before, after):
    """s[:, c] = sum of a[:, c - before : c + after + 1] (channels outside [0, C) count as zero)."""
    s = a.copy()
    c = a.shape[1]
    for o in range(1, before + 1):
        if o < c:
            s[:, o:] += a[:, : c - o]
    for o in range(1, after + 1):
        if o < c:
            s[:, : c - o] += a[:, o:]
    return s


class _LocalResponseNorm(NumpyFunction):
    """y_c = x_c / (k + alpha/size * sum_{c' in window(c)} x_c'^2)^beta, window(c) = [c - size//2,
    c + (size-1)//2]. With D_c the denominator base and T_c = g_c y_c / D_c:
    dx_c = g_c D_c^-beta - (2 alpha beta / size) x_c sum_{c': c in window(c')} T_c'."""

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        before, after = size // 2, (size - 1) // 2
        d = _channel_window_sum(x * x, before, after)
        d *= alpha / size
        d += k
        scale = np.power(d, -beta)
        y = x * scale
        if ctx.needs_input_grad:
            ctx.save_for_backward(x)
            ctx.d, ctx.scale, ctx.params = d, scale, (size, alpha, beta)
        return y

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        size, alpha, beta = ctx.params
        before, after = size // 2, (size - 1) // 2
        t = g * x
        t *= ctx.scale
        t /= ctx.d
        # channel c received x_c from the denominators of channels c - after ... c + before
        r = _channel_window_sum(t, after, before)
        r *= x
        r *= -2 * alpha * beta / size
        r += g * ctx.scale
        return r, None, None, None, None


@checks.typed
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """b_c = a_c / (k + alpha/size * sum of a_c'^2 over channels c' in [c - size//2, c + (size-1)//2])^beta,
    channels on dim 1 (AlexNet's LRN, with PyTorch's alpha/size scaling); output shape = input's."""
    op = "local_response_norm"
    _check_tensor(op, "input", input)
    if input.ndim < 3:
        raise checks.error(op, "an input of 3+ dims (N, C, *)", f"input of shape {tuple(input.shape)}",
                           ValueError)
    size = checks.integer(op, "size", size, low=1, exc=RuntimeError)
    for name, v in (("alpha", alpha), ("beta", beta), ("k", k)):
        _check_number(op, name, v)
    if input.numel() == 0:
        return input
    return _LocalResponseNorm.apply(input, int(size), float(alpha), float(beta), float(k))


# --------------------------------------------------------------------------- L_p normalisation
class _Normalize(NumpyFunction):
    """y = x / max(||x||_p, eps) along ``dim``. With n = ||x||_p, d = max(n, eps) and S = sum(g x):
    dx = g / d - [n > eps] S / d^2 * dn/dx,  dn/dx = sign(x) |x|^(p-1) / n^(p-1)."""

    @staticmethod
    def forward(ctx, x, p, dim, eps):
        a = np.abs(x)
        if p == np.inf:
            n = a.max(axis=dim, keepdims=True) if x.shape[dim] else np.zeros_like(a.sum(dim, keepdims=True))
        elif p == 2:
            n = np.sqrt(np.sum(x * x, axis=dim, keepdims=True))
        elif p == 1:
            n = a.sum(axis=dim, keepdims=True)
        else:
            n = np.power(np.sum(np.power(a, p), axis=dim, keepdims=True), 1 / p)
        d = np.maximum(n, np.asarray(eps, x.dtype))
        y = x / d
        if ctx.needs_input_grad:
            ctx.save_for_backward(x, n, d)
            ctx.params = p, dim, eps
        return y

    @staticmethod
    def backward(ctx, g):
        x, n, d = ctx.saved_tensors
        p, dim, eps = ctx.params
        dx = g / d
        s = np.sum(g * x, axis=dim, keepdims=True)
        active = n > eps
        if not active.any():
            return dx, None, None, None
        coef = np.where(active, s / (d * d), 0).astype(x.dtype)
        if p == np.inf:
            top = (np.abs(x) == n) & active
            dn = np.sign(x) * top / np.maximum(top.sum(axis=dim, keepdims=True), 1)
        elif p == 2:
            dn = x / np.where(active, n, 1)
        elif p == 1:
            dn = np.sign(x)
        else:
            dn = np.sign(x) * np.power(np.abs(x) / np.where(active, n, 1), p - 1)
        dx -= coef * dn.astype(x.dtype, copy=False)
        return dx, None, None, None


@checks.typed
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """y = x / max(||x||_p, eps), the p-norm taken along ``dim``; output shape = input's."""
    op = "normalize"
    _check_tensor(op, "input", input)
    if out is not None:
        raise checks.error(op, "out=None (use the returned tensor)", "an out tensor", NotImplementedError)
    p = _check_number(op, "p", p, low=0, low_open=True)
    _check_number(op, "eps", eps)
    nd = max(input.ndim, 1)
    dim = checks.integer(op, "dim", dim)
    if not -nd <= dim < nd:
        raise checks.error(op, f"dim in [{-nd}, {nd - 1}]", f"dim={dim}", IndexError)
    if input.ndim == 0:
        raise checks.error(op, "an input of 1+ dims", "a 0-d input")
    return _Normalize.apply(input, float(p), int(dim) % input.ndim, float(eps))
