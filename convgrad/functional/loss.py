"""Loss functions with PyTorch's formulas and reductions ('none' | 'mean' | 'sum').

cross_entropy is one fused op: log-softmax and the negative log-likelihood in a single forward, and the
softmax-minus-target gradient in a single backward. Class weights are constants (PyTorch does not
differentiate them either). Arguments are checked before anything is computed; errors name the loss.
"""

import warnings

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import saved_as_tensors
from convgrad.ops.elementwise import Where
from convgrad.tensor import _promote

__all__ = [
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "margin_ranking_loss",
]


# ---------------------------------------------------------------------- reductions
def _reduction(name, reduction, size_average=None, reduce=None, allowed=("none", "mean", "sum")):
    """The reduction string, from ``reduction`` or PyTorch's deprecated ``size_average``/``reduce``."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
        warnings.warn(f"{name}: size_average and reduce args are deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      stacklevel=3)
        reduction = "mean"
    return checks.choice(name, "reduction", reduction, allowed)


def _reduce(loss, reduction, denominator=None):
    """Sum or mean (sum / denominator, by default the element count) of the elementwise loss."""
    if reduction == "none":
        return loss
    total = np.sum(loss, dtype=loss.dtype)
    if reduction == "mean":
        n = loss.size if denominator is None else denominator
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty mean is nan, as in PyTorch
            total = total / loss.dtype.type(n)
    return np.asarray(total, loss.dtype)


def _grad_scale(g, reduction, denominator):
    """dL/d(elementwise loss): g itself, or g spread over the elements (divided by n for a mean). A mean
    over nothing (every target ignored) is nan, but its gradient is 0, as in PyTorch."""
    if reduction == "mean":
        if denominator == 0:
            return np.zeros_like(g)
        return g / g.dtype.type(denominator)
    return g


def _reduce_tensor(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


# ---------------------------------------------------------------------- argument checks
_tensor = checks.tensor


def _floating(name, arg, x):
    checks.tensor(name, arg, x, floating=True)


def _same_dtype(name, a, b):
    """Both in their common (PyTorch-promoted) floating point dtype."""
    dt = _promote(a, b)
    if dt.kind != "f":
        raise checks.error(name, "floating point tensors", f"dtypes {a.dtype} and {b.dtype}", TypeError)
    return (a if a.dtype == dt else a.to(dt)), (b if b.dtype == dt else b.to(dt))


def _warn_size(name, input, target):
    if input.shape != target.shape:
        warnings.warn(
            f"{name}: using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", stacklevel=3)


# ---------------------------------------------------------------------- regression losses
class PointwiseLoss(NumpyFunction):
    """l = f(x - t) elementwise, then reduced;  dL/dx = f'(x - t) dL/dl,  dL/dt = -dL/dx.
    mse: d^2;  l1: |d|;  smooth_l1 (b): d^2 / 2b if |d| < b else |d| - b/2;
    huber (k): d^2 / 2 if |d| < k else k (|d| - k/2)"""

    @staticmethod
    def forward(ctx, x, t, kind, param, reduction):
        d = np.subtract(x, t)
        if kind == "mse":
            loss = d * d
        elif kind == "l1" or (kind == "smooth_l1" and param == 0):
            loss = np.abs(d)
        elif kind == "smooth_l1":
            ad = np.abs(d)
            loss = np.where(ad < param, (0.5 / param) * d * d, ad - 0.5 * param)
        else:  # huber
            ad = np.abs(d)
            loss = np.where(ad < param, 0.5 * d * d, param * (ad - 0.5 * param))
        ctx.d, ctx.kind, ctx.param, ctx.reduction = d, kind, param, reduction
        if ctx.needs_input_grad:
            ctx.save_for_backward(x, t)  # for create_graph: the graph's x and t, not copies
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        d, kind, b = ctx.d, ctx.kind, ctx.param
        gs = _grad_scale(g, ctx.reduction, d.size)
        if kind == "mse":
            gd = (2 * gs) * d
        elif kind == "l1" or (kind == "smooth_l1" and b == 0):
            gd = np.sign(d) * gs
        elif kind == "smooth_l1":
            gd = np.where(np.abs(d) < b, d * (1 / b), np.sign(d)) * gs
        else:
            gd = np.where(np.abs(d) < b, d, b * np.sign(d)) * gs
        need_x, need_t = ctx.needs_input_grad[:2]
        return (gd if need_x else None), (-gd if need_t else None), None, None, None

    @staticmethod
    def tensor_backward(ctx, g):
        x, t = saved_as_tensors(ctx)[:2]
        d, kind, b = ctx.d, ctx.kind, ctx.param
        if ctx.reduction == "mean":
            g = g * (1 / d.size) if d.size else g * 0
        diff = x - t
        if kind == "mse":
            gd = 2 * g * diff
        elif kind == "l1" or (kind == "smooth_l1" and b == 0):
            gd = g * np.sign(d)
        elif kind == "smooth_l1":
            gd = g * Where.apply(np.abs(d) < b, diff * (1 / b), np.sign(d).astype(d.dtype))
        else:
            gd = g * Where.apply(np.abs(d) < b, diff, (b * np.sign(d)).astype(d.dtype))
        need_x, need_t = ctx.needs_input_grad[:2]
        return (gd if need_x else None), (-gd if need_t else None), None, None, None


def _pointwise(name, kind, param, input, target, reduction, weight=None, weighted_mean="sum"):
    _tensor(name, "input", input, numeric=True)
    _tensor(name, "target", target, numeric=True)
    _warn_size(name, input, target)
    checks.broadcast(name, input, target)
    input, target = _same_dtype(name, input, target)
    if weight is None:
        return PointwiseLoss.apply(input, target, kind, param, reduction)
    _tensor(name, "weight", weight)
    if weight.shape != input.shape:
        raise checks.error(name, f"weight of the input's shape {tuple(input.shape)}",
                           f"weight of shape {tuple(weight.shape)}", ValueError)
    loss = PointwiseLoss.apply(input, target, kind, param, "none") * weight
    if reduction == "mean":
        # PyTorch: the weighted mean of mse and l1 divides by the weights' sum, huber's by the count
        return loss.sum() / weight.sum() if weighted_mean == "sum" else loss.mean()
    return _reduce_tensor(loss, reduction)


@checks.typed
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """l = (x - t)^2 elementwise (times weight), reduced; the weighted mean is sum(w l) / sum(w)"""
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    return _pointwise("mse_loss", "mse", 0.0, input, target, reduction, weight)


@checks.typed
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """l = |x - t| elementwise (times weight), reduced; the weighted mean is sum(w l) / sum(w)"""
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    return _pointwise("l1_loss", "l1", 0.0, input, target, reduction, weight)


@checks.typed
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """l = (x - t)^2 / (2 beta) where |x - t| < beta, else |x - t| - beta / 2 (l1 for beta = 0)"""
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    beta = checks.number("smooth_l1_loss", "beta", beta, low=0, finite=False, exc=RuntimeError)
    return _pointwise("smooth_l1_loss", "smooth_l1", beta, input, target, reduction)


@checks.typed
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """l = (x - t)^2 / 2 where |x - t| < delta, else delta (|x - t| - delta / 2); weighted mean = mean(w l)"""
    reduction = _reduction("huber_loss", reduction)
    delta = checks.number("huber_loss", "delta", delta, low=0, low_open=True, finite=False, exc=RuntimeError)
    _floating("huber_loss", "input", input)
    return _pointwise("huber_loss", "huber", delta, input, target, reduction, weight, weighted_mean="count")


# ---------------------------------------------------------------------- classification
def _class_weight_view(weight, ndim):
    """Class weights (C,) shaped to broadcast along axis 1 of an (N, C, ...) array."""
    return weight.reshape((1, -1) + (1,) * (ndim - 2))


def _check_classes(name, input, target, weight, ignore_index, allow_probs):
    """Check (input, target, weight) as nll_loss / cross_entropy take them; True for probability targets."""
    _floating(name, "input", input)
    _tensor(name, "target", target)
    if input.ndim == 0:
        raise checks.error(name, "input of shape (C,) or (N, C, d1, ...)", "a 0-d input", ValueError)
    n_classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    probs = allow_probs and target.shape == input.shape
    if probs:
        if target.dtype.kind != "f":
            raise checks.error(name, f"class probabilities of a floating point dtype in a target of the "
                               f"input's shape {tuple(input.shape)}", f"target of dtype {target.dtype}")
        if ignore_index >= 0:
            raise checks.error(name, "no ignore_index with class-probability targets",
                               f"ignore_index={ignore_index}")
    else:
        if target.dtype not in (np.int64, np.uint8):
            hint = ""
            if target.dtype.kind == "f":
                hint = (" (a floating point target is read as class probabilities only when its shape "
                        f"equals the input's, {tuple(input.shape)})" if allow_probs else "")
            raise checks.error(name, f"class indices of dtype int64 (or uint8) as target{hint}",
                               f"target of dtype {target.dtype}")
        if input.ndim == 1:
            if target.shape not in ((), (1,)):  # PyTorch also takes a target of shape (1,) here
                raise checks.error(name, f"a 0-d target (one class index) for an unbatched input of shape "
                                   f"{tuple(input.shape)}", f"target of shape {tuple(target.shape)}")
        else:
            batch = target.shape[0] if target.ndim else None
            if batch != input.shape[0]:
                raise checks.error(name, f"a target of batch size {input.shape[0]} (the input's)",
                                   f"target of shape {tuple(target.shape)}", ValueError)
            expected = tuple(input.shape[:1] + input.shape[2:])
            if target.shape != expected:
                raise checks.error(name, f"a target of shape {expected} for input of shape "
                                   f"{tuple(input.shape)} (classes on axis 1)",
                                   f"target of shape {tuple(target.shape)}")
        t = target._data.astype(np.int64, copy=False)
        bad = t[(t != ignore_index) & ((t < 0) | (t >= n_classes))]
        if bad.size:
            raise checks.error(name, f"class indices in [0, {n_classes - 1}] for {n_classes} classes (or "
                               f"ignore_index={ignore_index})", f"target {bad.flat[0]}", IndexError)
    if weight is not None:
        _tensor(name, "weight", weight)
        if weight.ndim != 1 or weight.shape[0] != n_classes:
            raise checks.error(name, f"weight of shape ({n_classes},) (one per class)",
                               f"weight of shape {tuple(weight.shape)}")
        checks.same_dtype(name, "weight", weight, input)
    return probs


def _index_target(target, ignore_index, weight, dtype):
    """(class index with ignored places set to 0, per-place weight w_t, zero where ignored)."""
    t = target.astype(np.int64, copy=False)
    valid = t != ignore_index
    t = np.where(valid, t, 0)
    if weight is None:
        wt = valid.astype(dtype)
    else:
        wt = np.where(valid, weight[t], 0).astype(dtype, copy=False)
    return t, valid, wt


class NLLLoss(NumpyFunction):
    """l_n = -w_(t_n) x_(n, t_n) (0 where t_n = ignore_index); the mean divides by sum_n w_(t_n);
    dL/dx_(n, t_n) = -w_(t_n) dL/dl_n"""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        t, _, wt = _index_target(target, ignore_index, weight, x.dtype)
        ctx.t, ctx.wt, ctx.shape, ctx.reduction = t, wt, x.shape, reduction
        picked = np.take_along_axis(x, t[:, None], axis=1)[:, 0]
        ctx.denominator = np.sum(wt, dtype=x.dtype)
        return _reduce(-(wt * picked), reduction, ctx.denominator)

    @staticmethod
    def backward(ctx, g):
        gs = _grad_scale(g, ctx.reduction, ctx.denominator)
        gx = np.zeros(ctx.shape, g.dtype)
        np.put_along_axis(gx, ctx.t[:, None], (-(ctx.wt * gs))[:, None], axis=1)
        return gx, None, None, None, None

    @staticmethod
    def tensor_backward(ctx, g):
        # linear in g and constant in x: g times the gradient for g = 1
        unit = NLLLoss.backward(ctx, np.ones(g.shape, g.dtype))[0]
        if g.ndim:  # reduction='none': one g per sample, broadcast over the classes
            return g.unsqueeze(1) * unit, None, None, None, None
        return g * unit, None, None, None, None


class CrossEntropy(NumpyFunction):
    """Fused log-softmax + NLL over the classes (axis 1): l_n = -sum_c q_(n,c) log softmax(x_n)_c with q the
    weighted one-hot target (or the class probabilities), label-smoothed as (1 - e) q + e w / C.
    dL/dx_n = (sum_c q_(n,c) softmax(x_n) - q_n) dL/dl_n."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, smoothing):
        n_classes = x.shape[1]
        logp = x - np.max(x, axis=1, keepdims=True)
        p = np.exp(logp)
        s = np.sum(p, axis=1, keepdims=True)
        p /= s
        logp -= np.log(s)
        wb = None if weight is None else _class_weight_view(weight, x.ndim)
        ctx.p, ctx.reduction, ctx.smoothing, ctx.wb = p, reduction, smoothing, wb
        if ctx.needs_input_grad:
            ctx.save_for_backward(x)  # for create_graph
        eps_c = smoothing / n_classes
        if target.dtype.kind == "f":  # class probabilities
            ctx.probs = True
            q = target if smoothing == 0 else target * (1 - smoothing) + eps_c
            wq = q if wb is None else q * wb
            loss = -np.sum(wq * logp, axis=1)
            ctx.wq = wq
            if ctx.needs_input_grad and ctx.needs_input_grad[1]:
                ctx.logp = logp
            ctx.denominator = x.size // max(n_classes, 1)
            if x.size == 0:
                ctx.denominator = 0
            return _reduce(loss, reduction, ctx.denominator)
        ctx.probs = False
        t, valid, wt = _index_target(target, ignore_index, weight, x.dtype)
        ti = t[:, None]
        loss = -(wt * np.take_along_axis(logp, ti, axis=1)[:, 0])
        if smoothing > 0:
            smooth = -np.sum(logp if wb is None else logp * wb, axis=1)
            loss = (1 - smoothing) * loss + eps_c * np.where(valid, smooth, 0)
        ctx.ti, ctx.valid, ctx.wt = ti, valid, wt
        # PyTorch's mean divides by the weights of the counted targets, also for the smoothing term
        ctx.denominator = np.sum(wt, dtype=x.dtype)
        return _reduce(loss, reduction, ctx.denominator)

    @staticmethod
    def backward(ctx, g):
        p, e, wb = ctx.p, ctx.smoothing, ctx.wb
        n_classes = p.shape[1]
        gs = _grad_scale(g, ctx.reduction, ctx.denominator)
        if ctx.probs:
            gs = np.expand_dims(gs, 1) if np.ndim(gs) else gs
            wq = ctx.wq
            gx = np.sum(wq, axis=1, keepdims=True) * p
            gx -= wq
            gx *= gs
            gt = None
            if ctx.needs_input_grad[1]:
                gt = -(1 - e) * gs * ctx.logp
                if wb is not None:
                    gt *= wb
            return gx, gt, None, None, None, None
        gs = np.broadcast_to(gs, ctx.wt.shape)
        coef_t = (1 - e) * ctx.wt * gs  # weight of the one-hot part
        total = coef_t
        if e > 0:
            smooth = (e / n_classes) * np.where(ctx.valid, gs, 0)
            wsum = n_classes if wb is None else np.sum(wb)
            total = coef_t + smooth * wsum
        gx = p * total[:, None]
        if e > 0:
            gx -= smooth[:, None] if wb is None else smooth[:, None] * wb
        at_t = np.take_along_axis(gx, ctx.ti, axis=1)
        np.put_along_axis(gx, ctx.ti, at_t - coef_t[:, None], axis=1)
        return gx.astype(p.dtype, copy=False), None, None, None, None, None

    @staticmethod
    def tensor_backward(ctx, g):
        """dL/dx = g (softmax(x) A - C), A and C constant: A the per-sample weight of softmax(x) (from the
        NumPy backward with g = 1, which is p A - C)."""
        (x,) = saved_as_tensors(ctx)
        p, e, wb = ctx.p, ctx.smoothing, ctx.wb
        ones = np.ones(g.shape, g.dtype)
        gs = _grad_scale(ones, ctx.reduction, ctx.denominator)
        if ctx.probs:
            gs = np.expand_dims(gs, 1) if np.ndim(gs) else gs
            a = np.sum(ctx.wq, axis=1, keepdims=True) * gs
        else:
            gs = np.broadcast_to(gs, ctx.wt.shape)
            a = (1 - e) * ctx.wt * gs
            if e > 0:
                wsum = p.shape[1] if wb is None else np.sum(wb)
                a = a + (e / p.shape[1]) * np.where(ctx.valid, gs, 0) * wsum
            a = a[:, None]
        unit = CrossEntropy.backward(ctx, ones)[0]
        c = (p * a - unit).astype(p.dtype, copy=False)
        gb = g.unsqueeze(1) if g.ndim else g
        gx = gb * (x.softmax(1) * a.astype(p.dtype, copy=False) - c)
        gt = None
        if ctx.probs and ctx.needs_input_grad[1]:
            coef = -(1 - e) * gs * (1 if wb is None else wb)
            gt = gb * x.log_softmax(1) * np.asarray(coef, p.dtype)
        return gx, gt, None, None, None, None


def _batched(input, target, probs):
    """An unbatched (C,) input with its 0-d (or (C,) probability) target as a batch of one."""
    if input.ndim == 1:
        return input.reshape(1, -1), (target.reshape(1, -1) if probs else target.reshape(1)), True
    return input, target, False


@checks.typed
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """l_n = -weight[t_n] input[n, t_n], skipping t_n = ignore_index; the mean divides by the sum of the
    counted targets' weights. input: (N, C), (N, C, d1, ...) or (C,) log-probabilities."""
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    _check_classes("nll_loss", input, target, weight, ignore_index, allow_probs=False)
    x, t, unbatched = _batched(input, target, False)
    out = NLLLoss.apply(x, t._data, None if weight is None else weight._data, ignore_index, reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


@checks.typed
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """l_n = -sum_c q_(n,c) log softmax(input_n)_c over the classes (axis 1), with q the one-hot of the class
    index target (weighted, ignore_index skipped; the mean divides by the counted weights) or the given
    class probabilities (same shape as input; the mean divides by N d1 ...), smoothed by label_smoothing."""
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    smoothing = checks.number("cross_entropy", "label_smoothing", label_smoothing, high=1.0, exc=RuntimeError)
    smoothing = max(smoothing, 0.0)  # PyTorch ignores a negative label_smoothing
    probs = _check_classes("cross_entropy", input, target, weight, ignore_index, allow_probs=True)
    if probs and target.dtype != input.dtype:
        target = target.to(input.dtype)
    x, t, unbatched = _batched(input, target, probs)
    out = CrossEntropy.apply(x, t if probs else t._data, None if weight is None else weight._data,
                             ignore_index, reduction, smoothing)
    return out.reshape(()) if unbatched and reduction == "none" else out


# ---------------------------------------------------------------------- binary classification
class BinaryCrossEntropy(NumpyFunction):
    """l = -w (t ln x + (1 - t) ln(1 - x)), each log clamped at -100 (as PyTorch);
    dl/dx = w (x - t) / max(x (1 - x), 1e-12),  dl/dt = w ln((1 - x) / x)"""

    @staticmethod
    def forward(ctx, x, t, w, reduction):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log(1 - x), -100)
        loss = log_x - log_1mx
        loss *= t
        loss += log_1mx
        np.negative(loss, out=loss)
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, t)
        ctx.w, ctx.reduction = w, reduction
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        gs = _grad_scale(g, ctx.reduction, x.size)
        if ctx.w is not None:
            gs = gs * ctx.w
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = (x - t) / np.maximum(x * (1 - x), 1e-12) * gs
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = (np.log(1 - x) - np.log(x)) * gs
        return gx, gt, None, None


def _check_binary(name, input, target, weight, extra=()):
    _floating(name, "input", input)
    _tensor(name, "target", target)
    if target.shape != input.shape:
        raise checks.error(name, f"target of the input's shape {tuple(input.shape)}",
                           f"target of shape {tuple(target.shape)}", ValueError)
    if target.dtype.kind != "f":
        raise checks.error(name, "a floating point target (probabilities)", f"target of dtype {target.dtype}")
    for arg, w in (("weight", weight),) + extra:
        if w is None:
            continue
        _tensor(name, arg, w)
        try:
            shape = np.broadcast_shapes(w.shape, input.shape)
        except ValueError:
            shape = None
        if shape != input.shape:
            raise checks.error(name, f"{arg} that broadcasts to the input's shape {tuple(input.shape)}",
                               f"{arg} of shape {tuple(w.shape)}")


@checks.typed
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """l = -weight (t ln x + (1 - t) ln(1 - x)) for probabilities x, t in [0, 1]; logs clamped at -100"""
    reduction = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    _check_binary("binary_cross_entropy", input, target, weight)
    checks.same_dtype("binary_cross_entropy", "target", target, input)  # PyTorch does not promote here
    x, t = input._data, target._data
    for arg, a in (("input", x), ("target", t)):
        outside = ~((a >= 0) & (a <= 1))
        if outside.any():
            hint = "" if arg == "target" else \
                " (probabilities; for logits use binary_cross_entropy_with_logits)"
            raise checks.error("binary_cross_entropy", f"{arg} values between 0 and 1{hint}",
                               f"{a[outside].flat[0].item()}")
    target = target if target.dtype == input.dtype else target.to(input.dtype)
    w = None if weight is None else weight._data.astype(input.dtype, copy=False)
    return BinaryCrossEntropy.apply(input, target, w, reduction)


class BinaryCrossEntropyWithLogits(NumpyFunction):
    """l = w ((1 - t) x + (1 + (p - 1) t) softplus(-x)) = -w (p t ln s(x) + (1 - t) ln(1 - s(x))), s the
    sigmoid, p the pos_weight; stable for any x. dl/dx = w (s(x) (p t + 1 - t) - p t),
    dl/dt = w (p softplus(-x) - softplus(x))"""

    @staticmethod
    def forward(ctx, x, t, w, pw, reduction):
        sp_neg = np.logaddexp(0, -x)  # -ln s(x)
        coef = 1 if pw is None else 1 + (pw - 1) * t
        loss = (1 - t) * x + coef * sp_neg
        if w is not None:
            loss *= w
        ctx.save_for_backward(x, t)
        ctx.sp_neg, ctx.w, ctx.pw, ctx.reduction = sp_neg, w, pw, reduction
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        pw = 1 if ctx.pw is None else ctx.pw
        gs = _grad_scale(g, ctx.reduction, x.size)
        if ctx.w is not None:
            gs = gs * ctx.w
        gx = gt = None
        if ctx.needs_input_grad[0]:
            s = np.tanh(x * 0.5)
            s += 1
            s *= 0.5
            pt = pw * t
            gx = (s * (pt + 1 - t) - pt) * gs
        if ctx.needs_input_grad[1]:
            sp_neg = ctx.sp_neg
            gt = (pw * sp_neg - (sp_neg + x)) * gs
        return gx, gt, None, None, None


@checks.typed
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """l = -weight (pos_weight t ln sigmoid(x) + (1 - t) ln(1 - sigmoid(x))), computed stably from logits x;
    pos_weight broadcasts along the last (class) axis"""
    name = "binary_cross_entropy_with_logits"
    reduction = _reduction(name, reduction, size_average, reduce)
    _check_binary(name, input, target, weight, (("pos_weight", pos_weight),))
    target = target if target.dtype == input.dtype else target.to(input.dtype)
    w = None if weight is None else weight._data.astype(input.dtype, copy=False)
    pw = None if pos_weight is None else pos_weight._data.astype(input.dtype, copy=False)
    return BinaryCrossEntropyWithLogits.apply(input, target, w, pw, reduction)


# ---------------------------------------------------------------------- divergences and ranking
class KLDiv(NumpyFunction):
    """l = t (ln t - x) (0 where t = 0), or e^t (t - x) with log_target (x and t log-probabilities);
    dl/dx = -t (-e^t),  dl/dt = ln t + 1 - x (e^t (t - x + 1))"""

    @staticmethod
    def forward(ctx, x, t, log_target, reduction, denominator):
        with np.errstate(divide="ignore", invalid="ignore"):
            if log_target:
                et = np.exp(t)
                loss = et * (t - x)
                ctx.et = et
            else:
                loss = np.where(t == 0, 0, t * np.log(t)) - t * x
        ctx.save_for_backward(x, t)
        ctx.log_target, ctx.reduction = log_target, reduction
        ctx.denominator = loss.size if denominator is None else denominator
        return _reduce(loss, reduction, ctx.denominator)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        gs = _grad_scale(g, ctx.reduction, ctx.denominator)
        need_x, need_t = ctx.needs_input_grad[:2]
        gx = gt = None
        if ctx.log_target:
            et = ctx.et
            gx = -(et * gs) if need_x else None
            gt = et * (t - x + 1) * gs if need_t else None
        else:
            gx = -(t * gs) if need_x else None
            if need_t:
                with np.errstate(divide="ignore", invalid="ignore"):
                    gt = (np.log(t) + 1 - x) * gs
        return gx, gt, None, None, None


@checks.typed
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """l = target (ln target - input) elementwise, input being log-probabilities (target too with
    log_target); reduction 'batchmean' divides the sum by the batch size (the KL divergence's definition),
    'mean' by the element count"""
    name = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = _reduction(name, reduction, size_average, reduce)
    else:
        reduction = _reduction(name, reduction, allowed=("none", "mean", "sum", "batchmean"))
        if reduction == "mean":
            warnings.warn("kl_div: reduction 'mean' divides the total loss by both the batch size and the "
                          "support size. 'batchmean' divides only by the batch size, and aligns with the KL "
                          "div math definition.", stacklevel=2)
    _floating(name, "input", input)
    _floating(name, "target", target)
    checks.broadcast(name, input, target)
    input, target = _same_dtype(name, input, target)
    denominator = None
    if reduction == "batchmean":
        reduction = "mean"
        denominator = input.shape[0] if input.ndim else 1
    return KLDiv.apply(input, target, bool(log_target), reduction, denominator)


@checks.typed
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """l = max(0, -target (input1 - input2) + margin), target in {1, -1} saying which should rank higher"""
    name = "margin_ranking_loss"
    reduction = _reduction(name, reduction, size_average, reduce)
    for arg, t in (("input1", input1), ("input2", input2), ("target", target)):
        _tensor(name, arg, t, numeric=True)
    if not input1.ndim == input2.ndim == target.ndim:
        raise checks.error(name, "input1, input2 and target with the same number of dims",
                           f"shapes {tuple(input1.shape)}, {tuple(input2.shape)} and {tuple(target.shape)}")
    checks.broadcast(name, input1, input2, target)
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce_tensor(loss, reduction)
