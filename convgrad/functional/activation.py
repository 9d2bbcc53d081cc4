"""Piecewise activation functions: ReLU and its relatives (leaky, ELU, SELU, PReLU, thresholds, shrinks,
GLU). The smooth ones (GELU, SiLU, softplus, ...) and the softmax family are in ``smooth_activation``.

Every op is a ``NumpyFunction``; relu, tanh and sigmoid are the core ops of ``convgrad.ops.elementwise``.
``inplace=True`` writes the result into ``input`` (as PyTorch, not allowed on a leaf that requires grad).
"""

import math

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.grad_mode import is_grad_enabled
from convgrad.autograd.graph import pointwise_tensor_backward
from convgrad.ops.elementwise import ReLU, keep_where, logistic, select
from convgrad.random import rng

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_",
    "hardtanh", "hardtanh_", "prelu", "rrelu", "rrelu_", "threshold", "threshold_", "hardshrink",
    "softshrink", "tanhshrink", "glu",
]

# SELU's constants (Klambauer et al. 2017): the fixed point of mean 0, variance 1.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------- argument checks
def _check(name, input, floating=True):
    checks.tensor(name, "input", input, floating=floating, numeric=True)


def _number(name, arg, value):
    return checks.number(name, arg, value, finite=False, allow_nan=True)


def _inplace(input, fn):
    """PyTorch's ``inplace=True``: the result of ``fn(input)`` written into ``input``. In a graph, an op that
    saved its input for backward gets a copy of it before the write-back (``Tensor._rebase``)."""
    return input._inplace(fn)


def _run(input, inplace, fn, numpy_inplace=None):
    """fn(input), or in place; outside a graph ``numpy_inplace(array)`` (if given) overwrites the data
    directly: no temporary, as an inference pass with ReLU(inplace=True) expects."""
    if not inplace:
        return fn(input)
    if numpy_inplace is not None and not (input.requires_grad and is_grad_enabled()):
        input._check_inplace(False)
        numpy_inplace(input._data)
        input._bump_version()
        return input
    return _inplace(input, fn)


# ---------------------------------------------------------------------- ReLU family
class Hardtanh(NumpyFunction):
    """y = min(max(x, lo), hi);  dy/dx = not (x <= lo or x >= hi) (as PyTorch: no gradient at the bounds,
    a NaN input passes its gradient)"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return keep_where(Hardtanh.derivative(ctx, x), g), None, None

    @staticmethod
    def derivative(ctx, x):
        return ~((x <= ctx.lo) | (x >= ctx.hi))

    @staticmethod
    def second_derivative(ctx, x):
        return np.zeros_like(x)

    tensor_backward = staticmethod(pointwise_tensor_backward)


class LeakyReLU(NumpyFunction):
    """y = x if x > 0 else a x;  dy/dx = 1 if x > 0 else a"""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return select(x > 0, x, x * slope, x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return select(x > 0, g, g * ctx.slope, g.dtype), None

    @staticmethod
    def derivative(ctx, x):
        return select(x > 0, 1, ctx.slope, x.dtype)

    @staticmethod
    def second_derivative(ctx, x):
        return np.zeros_like(x)

    tensor_backward = staticmethod(pointwise_tensor_backward)


class ELU(NumpyFunction):
    """y = s x if x > 0 else s a (e^(c x) - 1);  dy/dx = s if x > 0 else s a c e^(c x).
    ELU is (a, 1, 1), SELU (1.6733, 1.0507, 1), CELU (a, 1, 1/a)."""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        neg = np.expm1(np.minimum(x, 0) * input_scale)  # the min keeps exp from overflowing where unused
        neg *= alpha * scale
        ctx.save_for_backward(x)
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale
        return select(x > 0, x * scale, neg, x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        a, s, c = ctx.alpha, ctx.scale, ctx.input_scale
        d = np.exp(np.minimum(x, 0) * c)
        d *= a * s * c
        return g * select(x > 0, s, d, g.dtype), None, None, None

    @staticmethod
    def derivative(ctx, x):
        a, s, c = ctx.alpha, ctx.scale, ctx.input_scale
        return select(x > 0, s, np.exp(np.minimum(x, 0) * c) * (a * s * c), x.dtype)

    @staticmethod
    def second_derivative(ctx, x):
        a, s, c = ctx.alpha, ctx.scale, ctx.input_scale
        return select(x > 0, 0, np.exp(np.minimum(x, 0) * c) * (a * s * c * c), x.dtype)

    tensor_backward = staticmethod(pointwise_tensor_backward)


@checks.typed
def relu(input, inplace=False):
    """y = max(x, 0)"""
    _check("relu", input, floating=False)
    if not inplace:
        return ReLU._apply_one(input)
    return _run(input, inplace, ReLU.apply, lambda a: np.maximum(a, 0, out=a))


@checks.typed
def relu_(input):
    return relu(input, inplace=True)


@checks.typed
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """y = min(max(x, min_val), max_val)"""
    _check("hardtanh", input, floating=False)
    lo, hi = _number("hardtanh", "min_val", min_val), _number("hardtanh", "max_val", max_val)
    if lo > hi:
        raise checks.error("hardtanh", "min_val <= max_val", f"min_val={lo}, max_val={hi}", ValueError)
    if input.dtype.kind != "f":
        lo, hi = math.ceil(lo), math.floor(hi)
    return _run(input, inplace, lambda x: Hardtanh.apply(x, lo, hi), lambda a: np.clip(a, lo, hi, out=a))


@checks.typed
def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


@checks.typed
def relu6(input, inplace=False):
    """y = min(max(x, 0), 6)"""
    _check("relu6", input, floating=False)
    return hardtanh(input, 0.0, 6.0, inplace)


@checks.typed
def leaky_relu(input, negative_slope=0.01, inplace=False):
    """y = x if x > 0 else negative_slope * x"""
    _check("leaky_relu", input)
    slope = _number("leaky_relu", "negative_slope", negative_slope)
    return _run(input, inplace, lambda x: LeakyReLU.apply(x, slope))


@checks.typed
def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


@checks.typed
def elu(input, alpha=1.0, inplace=False):
    """y = x if x > 0 else alpha (e^x - 1)"""
    _check("elu", input)
    alpha = _number("elu", "alpha", alpha)
    return _run(input, inplace, lambda x: ELU.apply(x, alpha, 1.0, 1.0))


@checks.typed
def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


@checks.typed
def selu(input, inplace=False):
    """y = 1.0507 (x if x > 0 else 1.6733 (e^x - 1))"""
    _check("selu", input)
    return _run(input, inplace, lambda x: ELU.apply(x, _SELU_ALPHA, _SELU_SCALE, 1.0))


@checks.typed
def selu_(input):
    return selu(input, inplace=True)


@checks.typed
def celu(input, alpha=1.0, inplace=False):
    """y = max(0, x) + min(0, alpha (e^(x/alpha) - 1))"""
    _check("celu", input)
    alpha = _number("celu", "alpha", alpha)
    if alpha == 0:
        # PyTorch raises RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
        raise checks.error("celu", "a non-zero alpha (CELU divides the input by alpha)", "alpha=0.0",
                           RuntimeError)
    return _run(input, inplace, lambda x: ELU.apply(x, alpha, 1.0, 1.0 / alpha))


@checks.typed
def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


class PReLU(NumpyFunction):
    """y = x if x > 0 else w_c x, one slope per channel (axis 1) or one shared;
    dL/dw_c = sum over the other axes of g x [x <= 0]"""

    @staticmethod
    def forward(ctx, x, w):
        wb = w.reshape((1, -1) + (1,) * (x.ndim - 2)) if w.size > 1 else w.reshape(())
        ctx.save_for_backward(x, w)
        ctx.wb = wb
        return np.where(x > 0, x, x * wb)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        pos = x > 0
        gx = np.where(pos, g, g * ctx.wb) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gxw = np.where(pos, 0, g * x).astype(g.dtype, copy=False)
            axes = tuple(a for a in range(x.ndim) if not (w.size > 1 and a == 1))
            gw = gxw.sum(axis=axes).reshape(w.shape)
        return gx, gw


@checks.typed
def prelu(input, weight):
    """y = x if x > 0 else weight[c] x, with c the channel (axis 1); weight has 1 or C elements"""
    _check("prelu", input)
    checks.tensor("prelu", "weight", weight)
    checks.dims("prelu", "weight", weight, {0: "(a scalar)", 1: "(one per channel or one)"})
    if weight.numel() != 1:
        if input.ndim == 0:
            raise checks.error("prelu", "a weight of one element for a 0-d input",
                               f"weight of shape {tuple(weight.shape)}")
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.numel() != channels:
            raise checks.error("prelu", f"a weight of 1 or {channels} elements (the channels on axis 1 of "
                               f"the input's shape {tuple(input.shape)})",
                               f"weight of shape {tuple(weight.shape)}")
    checks.same_dtype("prelu", "weight", weight, input)
    return PReLU.apply(input, weight)


class RReLU(NumpyFunction):
    """y = x if x > 0 else r x, with one slope r per element;  dy/dx = 1 if x > 0 else r"""

    @staticmethod
    def forward(ctx, x, slopes):
        factor = np.where(x > 0, 1, slopes).astype(x.dtype, copy=False)
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, g):
        return g * ctx.factor, None


@checks.typed
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """y = x if x > 0 else r x: r ~ U(lower, upper) per element in training (from the global generator),
    r = (lower + upper) / 2 in evaluation"""
    _check("rrelu", input)
    lower = checks.number("rrelu", "lower", lower, exc=RuntimeError)
    upper = checks.number("rrelu", "upper", upper, exc=RuntimeError)
    if lower > upper:
        raise checks.error("rrelu", "lower <= upper", f"lower={lower}, upper={upper}", ValueError)
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    slopes = rng().uniform(lower, upper, input.shape).astype(input.dtype)
    return _run(input, inplace, lambda x: RReLU.apply(x, slopes))


@checks.typed
def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


class Threshold(NumpyFunction):
    """y = x if x > t else v;  dy/dx = [x > t]"""

    @staticmethod
    def forward(ctx, x, t, v, inplace):
        above = ~(x <= t)  # NaN (in x or t) passes through, as in PyTorch
        ctx.above = above
        ctx.inplace = inplace  # PyTorch's threshold_ is another node: ThresholdBackward1
        return select(above, x, v, x.dtype)

    @staticmethod
    def backward(ctx, g):
        return keep_where(ctx.above, g), None, None, None


@checks.typed
def threshold(input, threshold, value, inplace=False):
    """y = x if x > threshold else value"""
    _check("threshold", input, floating=False)
    t, v = _number("threshold", "threshold", threshold), _number("threshold", "value", value)
    return _run(input, inplace, lambda x: Threshold.apply(x, t, v, inplace))


@checks.typed
def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, inplace=True)


class Shrink(NumpyFunction):
    """hard: y = x if |x| > l else 0;  soft: y = x - l sign(x) if |x| > l else 0;  dy/dx = [|x| > l]"""

    @staticmethod
    def forward(ctx, x, lambd, soft):
        outside = ~((x >= -lambd) & (x <= lambd))  # NaN (in x or lambd) stays, as in PyTorch
        ctx.outside, ctx.soft = outside, soft
        y = x - np.copysign(x.dtype.type(lambd), x) if soft else x
        return keep_where(outside, y.astype(x.dtype, copy=False))

    @staticmethod
    def backward(ctx, g):
        return keep_where(ctx.outside, g), None, None


@checks.typed
def hardshrink(input, lambd=0.5):
    """y = x if |x| > lambd else 0"""
    _check("hardshrink", input)
    return Shrink.apply(input, _number("hardshrink", "lambd", lambd), False)


@checks.typed
def softshrink(input, lambd=0.5):
    """y = x - lambd if x > lambd, x + lambd if x < -lambd, else 0"""
    _check("softshrink", input)
    lambd = checks.number("softshrink", "lambd", lambd, low=0, exc=RuntimeError)
    return Shrink.apply(input, lambd, True)


class Tanhshrink(NumpyFunction):
    """y = x - tanh x;  dy/dx = tanh^2 x"""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(x)
        ctx.t = t
        return x - t

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.t * ctx.t)


@checks.typed
def tanhshrink(input):
    """y = x - tanh x"""
    _check("tanhshrink", input, floating=False)
    if input.dtype.kind != "f":  # PyTorch promotes an integer input to the default float dtype
        input = input.float()
    return Tanhshrink.apply(input)


class GLU(NumpyFunction):
    """y = a sigmoid(b), (a, b) the two halves of x along dim;  dL/da = g s,  dL/db = g a s (1 - s)"""

    @staticmethod
    def forward(ctx, x, dim):
        a, b = np.split(x, 2, axis=dim)
        s = logistic(b)
        ctx.a, ctx.s, ctx.dim = a, s, dim
        return a * s

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.a, ctx.s
        gs = g * s
        return np.concatenate([gs, gs * a * (1 - s)], axis=ctx.dim), None


@checks.typed
def glu(input, dim=-1):
    """y = a sigmoid(b) with a, b the first and second halves of input along dim"""
    _check("glu", input)
    if input.ndim == 0:
        raise checks.error("glu", "an input of at least 1 dim (glu halves one)", "a 0-d input")
    d = input._dim(dim, op="glu")
    if input.shape[d] % 2:
        raise checks.error("glu", f"an even size along dim {d} (glu halves it)",
                           f"input of shape {tuple(input.shape)}")
    return GLU.apply(input, d)
