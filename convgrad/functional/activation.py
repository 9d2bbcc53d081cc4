"""Activation functions: elementwise nonlinearities (ReLU and its relatives) and the softmax family.

Every op is a ``NumpyFunction``; relu, tanh and sigmoid are the core ops of ``convgrad.ops.elementwise``.
``inplace=True`` writes the result into ``input`` (as PyTorch, not allowed on a leaf that requires grad).
"""

import math

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.grad_mode import is_grad_enabled
from convgrad.ops.elementwise import ReLU, keep_where, select
from convgrad.ops.reduction import LogSoftmax, Softmax
from convgrad.random import rng

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_",
    "gelu", "silu", "mish", "hardswish", "hardsigmoid", "tanh", "sigmoid", "logsigmoid", "softplus",
    "softsign", "hardtanh", "hardtanh_", "prelu", "rrelu", "rrelu_", "threshold", "threshold_", "hardshrink",
    "softshrink", "tanhshrink", "glu", "softmax", "log_softmax", "softmin",
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
    """PyTorch's ``inplace=True``: the result of ``fn(input)`` written into ``input``. In a graph the op
    runs on a copy, so whatever it saved for backward is not overwritten by the write-back."""
    return input._inplace(lambda t: fn(t.clone() if t.requires_grad and is_grad_enabled() else t))


def _run(input, inplace, fn, numpy_inplace=None):
    """fn(input), or in place; outside a graph ``numpy_inplace(array)`` (if given) overwrites the data
    directly: no temporary, as an inference pass with ReLU(inplace=True) expects."""
    if not inplace:
        return fn(input)
    if numpy_inplace is not None and not (input.requires_grad and is_grad_enabled()):
        numpy_inplace(input._data)
        input._bump_version()
        return input
    return _inplace(input, fn)


# ---------------------------------------------------------------------- ReLU family
class Hardtanh(NumpyFunction):
    """y = min(max(x, lo), hi);  dy/dx = [lo < x < hi] (strict, as PyTorch: no gradient at the bounds)"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inside = (x > ctx.lo) & (x < ctx.hi)
        return keep_where(inside, g), None, None


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


@checks.typed
def relu(input, inplace=False):
    """y = max(x, 0)"""
    _check("relu", input, floating=False)
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
        raise checks.error("celu", "a non-zero alpha (CELU divides the input by alpha)", "alpha=0.0",
                           ZeroDivisionError)
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
    def forward(ctx, x, t, v):
        above = ~(x <= t)  # NaN (in x or t) passes through, as in PyTorch
        ctx.above = above
        return select(above, x, v, x.dtype)

    @staticmethod
    def backward(ctx, g):
        return keep_where(ctx.above, g), None, None


@checks.typed
def threshold(input, threshold, value, inplace=False):
    """y = x if x > threshold else value"""
    _check("threshold", input, floating=False)
    t, v = _number("threshold", "threshold", threshold), _number("threshold", "value", value)
    return _run(input, inplace, lambda x: Threshold.apply(x, t, v))


@checks.typed
def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, inplace=True)


class Shrink(NumpyFunction):
    """hard: y = x if |x| > l else 0;  soft: y = x - l sign(x) if |x| > l else 0;  dy/dx = [|x| > l]"""

    @staticmethod
    def forward(ctx, x, lambd, soft):
        outside = ~((x >= -lambd) & (x <= lambd))  # NaN (in x or lambd) stays, as in PyTorch
        ctx.outside = outside
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
    _check("tanhshrink", input)
    return Tanhshrink.apply(input)


class GLU(NumpyFunction):
    """y = a sigmoid(b), (a, b) the two halves of x along dim;  dL/da = g s,  dL/db = g a s (1 - s)"""

    @staticmethod
    def forward(ctx, x, dim):
        a, b = np.split(x, 2, axis=dim)
        s = _sigmoid(b)
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


# ---------------------------------------------------------------------- smooth activations
def _cheb_fit(f, a, b, deg):
    """Chebyshev coefficients of f on [a, b], interpolated at the Chebyshev nodes (computed at import)."""
    k = np.arange(deg + 1)
    t = np.cos(np.pi * (k + 0.5) / (deg + 1))
    return np.polynomial.chebyshev.chebfit(t, [f(0.5 * (b - a) * ti + 0.5 * (b + a)) for ti in t], deg)


def _cheb_eval(coef, a, b, x):
    """Clenshaw's recurrence for sum_k c_k T_k(t), t = x mapped from [a, b] to [-1, 1], in x's dtype.
    Coefficients below the dtype's resolution are dropped (float32 needs about half of them)."""
    tiny = np.finfo(x.dtype).eps * 0.05 * abs(coef[0])
    n = len(coef)
    while n > 1 and abs(coef[n - 1]) < tiny:
        n -= 1
    c = [x.dtype.type(v) for v in coef[:n]]
    t2 = x * (2.0 / (b - a))
    t2 -= (a + b) / (b - a)
    t2 *= 2  # 2t, what the recurrence multiplies by
    b1 = np.zeros_like(x)
    b2 = np.zeros_like(x)
    for ck in c[:0:-1]:
        b1, b2 = t2 * b1 - b2 + ck, b1
    return 0.5 * t2 * b1 - b2 + c[0]


# erf(z) = z P(z^2) for z < 2, erfc(z) = e^(-z^2) Q(z) for z >= 2 (Q's asymptotic series past 6.5)
_ERF_P = _cheb_fit(lambda u: math.erf(math.sqrt(u)) / math.sqrt(u), 0.0, 4.0, 22)
_ERFC_Q = _cheb_fit(lambda z: math.erfc(z) * math.exp(z * z), 2.0, 6.5, 30)


def _normal_cdf(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, accurate to the dtype (erfc for the tails: no cancellation)."""
    shape = np.shape(x)
    x = np.reshape(x, -1)
    z = np.abs(x) * (1 / math.sqrt(2))
    erf_small = z * _cheb_eval(_ERF_P, 0.0, 4.0, np.minimum(z * z, 4))
    phi = 0.5 + np.copysign(erf_small, x) * 0.5
    tail = z >= 2
    if tail.any():
        zt = z[tail]
        q = _cheb_eval(_ERFC_Q, 2.0, 6.5, np.minimum(zt, 6.5))
        far = zt > 6.5
        if far.any():  # the asymptotic series, accurate to 1e-7 there
            r = 1 / (zt[far] * zt[far])
            q[far] = (1 - r * (0.5 - r * (0.75 - r * 1.875))) / (zt[far] * math.sqrt(math.pi))
        erfc = np.exp(-zt * zt) * q
        phi[tail] = np.where(x[tail] > 0, 1 - 0.5 * erfc, 0.5 * erfc)
    return phi.reshape(shape)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


class GELU(NumpyFunction):
    """y = x Phi(x), Phi the standard normal CDF;  dy/dx = Phi(x) + x phi(x).
    approximate='tanh': y = x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2"""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
            ctx.t = t
            return 0.5 * x * (1 + t)
        cdf = _normal_cdf(x)
        ctx.cdf = cdf
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = ctx.t
            inner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner), None
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return g * (ctx.cdf + x * pdf), None


@checks.typed
def gelu(input, approximate="none"):
    """y = x Phi(x) (Phi the standard normal CDF), or its tanh approximation"""
    _check("gelu", input)
    checks.choice("gelu", "approximate", approximate, ("none", "tanh"), exc=RuntimeError)
    return GELU.apply(input, approximate)


def _sigmoid(x):
    """1 / (1 + e^-x) as (1 + tanh(x/2)) / 2: never overflows."""
    s = np.tanh(x * 0.5)
    s += 1
    s *= 0.5
    return s


class SiLU(NumpyFunction):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s))"""

    @staticmethod
    def forward(ctx, x):
        s = _sigmoid(x)
        ctx.save_for_backward(x)
        ctx.s = s
        return x * s

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = ctx.s
        return g * (s * (1 + x * (1 - s)))


@checks.typed
def silu(input, inplace=False):
    """y = x sigmoid(x)"""
    _check("silu", input)
    return _run(input, inplace, SiLU.apply)


class Mish(NumpyFunction):
    """y = x tanh(softplus(x));  dy/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))"""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(np.logaddexp(0, x))
        ctx.save_for_backward(x)
        ctx.t = t
        return x * t

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        t = ctx.t
        return g * (t + x * _sigmoid(x) * (1 - t * t))


@checks.typed
def mish(input, inplace=False):
    """y = x tanh(ln(1 + e^x))"""
    _check("mish", input)
    return _run(input, inplace, Mish.apply)


class Hardswish(NumpyFunction):
    """y = x relu6(x + 3) / 6;  dy/dx = 0 for x <= -3, x/3 + 1/2 inside, 1 for x >= 3"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * np.clip(x + 3, 0, 6) * (1 / 6)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        d = np.where(x <= -3, 0, np.where(x >= 3, 1, x * (1 / 3) + 0.5)).astype(g.dtype, copy=False)
        return g * d


@checks.typed
def hardswish(input, inplace=False):
    """y = x relu6(x + 3) / 6"""
    _check("hardswish", input)
    return _run(input, inplace, Hardswish.apply)


class Hardsigmoid(NumpyFunction):
    """y = relu6(x + 3) / 6;  dy/dx = 1/6 for -3 < x < 3, else 0"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.clip(x + 3, 0, 6) * (1 / 6)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return np.where((x > -3) & (x < 3), g * (1 / 6), 0).astype(g.dtype, copy=False)


@checks.typed
def hardsigmoid(input, inplace=False):
    """y = relu6(x + 3) / 6"""
    _check("hardsigmoid", input)
    return _run(input, inplace, Hardsigmoid.apply)


class Softplus(NumpyFunction):
    """y = ln(1 + e^(b x)) / b, or x where b x > threshold;  dy/dx = sigmoid(b x) (1 past the threshold)"""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        z = x * beta
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.where(z > threshold, x, np.logaddexp(0, z) / beta)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        z = x * ctx.beta
        return np.where(z > ctx.threshold, g, g * _sigmoid(z)), None, None


@checks.typed
def softplus(input, beta=1.0, threshold=20.0):
    """y = ln(1 + e^(beta x)) / beta, linear (y = x) where beta x > threshold"""
    _check("softplus", input)
    beta, threshold = _number("softplus", "beta", beta), _number("softplus", "threshold", threshold)
    return Softplus.apply(input, beta, threshold)


class LogSigmoid(NumpyFunction):
    """y = ln sigmoid(x) = -softplus(-x);  dy/dx = sigmoid(-x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return -np.logaddexp(0, -x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _sigmoid(-x)


@checks.typed
def logsigmoid(input):
    """y = ln(1 / (1 + e^-x))"""
    _check("logsigmoid", input)
    return LogSigmoid.apply(input)


class Softsign(NumpyFunction):
    """y = x / (1 + |x|);  dy/dx = 1 / (1 + |x|)^2"""

    @staticmethod
    def forward(ctx, x):
        d = 1 + np.abs(x)
        ctx.d = d
        return x / d

    @staticmethod
    def backward(ctx, g):
        d = ctx.d
        return g / (d * d)


@checks.typed
def softsign(input):
    """y = x / (1 + |x|)"""
    _check("softsign", input, floating=False)
    if input.dtype.kind != "f":
        input = input.float()
    return Softsign.apply(input)


@checks.typed
def tanh(input):
    """y = tanh x"""
    _check("tanh", input, floating=False)
    return input.tanh()


@checks.typed
def sigmoid(input):
    """y = 1 / (1 + e^-x)"""
    _check("sigmoid", input, floating=False)
    return input.sigmoid()


# ---------------------------------------------------------------------- softmax family
def _softmax_call(name, op, input, dim, dtype, stacklevel):
    _check(name, input, floating=False)
    return input._softmax(name, op, dim, dtype, stacklevel + 1)


@checks.typed
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """y_i = e^(x_i) / sum_j e^(x_j) along dim (computed with the max subtracted)"""
    return _softmax_call("softmax", Softmax, input, dim, dtype, _stacklevel)


@checks.typed
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """y_i = x_i - ln sum_j e^(x_j) along dim (computed with the max subtracted)"""
    return _softmax_call("log_softmax", LogSoftmax, input, dim, dtype, _stacklevel)


@checks.typed
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """y = softmax(-x) along dim"""
    _check("softmin", input, floating=False)
    if dtype is not None:
        input = input.to(dtype)
    return _softmax_call("softmin", Softmax, -input, dim, None, _stacklevel)
