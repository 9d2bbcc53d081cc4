"""Smooth activation functions (GELU, SiLU, Mish, softplus, sigmoid-like, tanh) and the softmax family.

Every op is a ``NumpyFunction``; tanh, sigmoid, softmax and log_softmax are core ops (``convgrad.ops``).
``inplace=True`` writes the result into ``input`` (as PyTorch, not allowed on a leaf that requires grad).
"""

import math

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import pointwise_tensor_backward
from convgrad.functional.activation import _check, _number, _run
from convgrad.ops.elementwise import UnaryOp, logistic
from convgrad.ops.reduction import LogSoftmax, Softmax

__all__ = [
    "gelu", "silu", "mish", "hardswish", "hardsigmoid", "tanh", "sigmoid", "logsigmoid", "softplus",
    "softsign", "softmax", "log_softmax", "softmin",
]


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


def _inplace_activation(name, op, equation):
    """The public function ``name(input, inplace=False)`` of an elementwise op whose only option is
    ``inplace``; ``equation`` is its docstring."""

    def activation(input, inplace=False):
        _check(name, input)
        return _run(input, inplace, op.apply)

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = equation
    return checks.typed(activation)


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

    @staticmethod
    def derivative(ctx, x):
        if ctx.approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * (_SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x))
        return _normal_cdf(x) + x * np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))

    @staticmethod
    def second_derivative(ctx, x):
        """phi(x) (2 - x^2); tanh form: (1 - t^2) (u' - x t u'^2 + x u''/2), u = k (x + c x^3)"""
        if ctx.approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
            du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
            ddu = _SQRT_2_OVER_PI * 6 * _GELU_CUBIC * x
            return (1 - t * t) * (du - x * t * du * du + 0.5 * x * ddu)
        return np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi)) * (2 - x * x)

    tensor_backward = staticmethod(pointwise_tensor_backward)


@checks.typed
def gelu(input, approximate="none"):
    """y = x Phi(x) (Phi the standard normal CDF), or its tanh approximation"""
    _check("gelu", input)
    checks.choice("gelu", "approximate", approximate, ("none", "tanh"), exc=RuntimeError)
    return GELU.apply(input, approximate)


class _SelfGated(NumpyFunction):
    """y = x h(x), x times a gate h of itself: an op gives ``gate(x)`` = h(x) and ``slope(x, h)`` = dy/dx,
    which backward evaluates with the h that forward kept."""

    gate = slope = None

    @classmethod
    def forward(cls, ctx, x):
        h = cls.gate(x)
        ctx.save_for_backward(x)
        ctx.h = h
        return x * h

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        return g * cls.slope(x, ctx.h)


class SiLU(_SelfGated):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)"""
    gate = logistic
    slope = lambda x, s: s * (1 + x * (1 - s))

    @staticmethod
    def derivative(ctx, x):
        return SiLU.slope(x, logistic(x))

    @staticmethod
    def second_derivative(ctx, x):
        s = logistic(x)
        return s * (1 - s) * (2 + x * (1 - 2 * s))

    tensor_backward = staticmethod(pointwise_tensor_backward)


silu = _inplace_activation("silu", SiLU, "y = x sigmoid(x)")


class Mish(_SelfGated):
    """y = x tanh(softplus(x));  dy/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))"""
    gate = lambda x: np.tanh(np.logaddexp(0, x))
    slope = lambda x, t: t + x * logistic(x) * (1 - t * t)


mish = _inplace_activation("mish", Mish, "y = x tanh(ln(1 + e^x))")


class Hardswish(UnaryOp):
    """y = x relu6(x + 3) / 6;  dy/dx = 0 for x <= -3, x/3 + 1/2 inside, 1 for x >= 3"""
    f = lambda x: x * np.clip(x + 3, 0, 6) * (1 / 6)
    grad = lambda g, x, m: g * np.where(x <= -3, 0, np.where(x >= 3, 1, x * (1 / 3) + 0.5)).astype(
        g.dtype, copy=False)
    tensor_backward = None  # piecewise, in NumPy only: not differentiable twice


hardswish = _inplace_activation("hardswish", Hardswish, "y = x relu6(x + 3) / 6")


class Hardsigmoid(UnaryOp):
    """y = relu6(x + 3) / 6;  dy/dx = 1/6 for -3 < x < 3, else 0"""
    f = lambda x: np.clip(x + 3, 0, 6) * (1 / 6)
    grad = lambda g, x, m: np.where((x > -3) & (x < 3), g * (1 / 6), 0).astype(g.dtype, copy=False)
    tensor_backward = None  # piecewise, in NumPy only: not differentiable twice


hardsigmoid = _inplace_activation("hardsigmoid", Hardsigmoid, "y = relu6(x + 3) / 6")


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
        return np.where(z > ctx.threshold, g, g * logistic(z)), None, None

    @staticmethod
    def derivative(ctx, x):
        z = x * ctx.beta
        return np.where(z > ctx.threshold, 1, logistic(z))

    @staticmethod
    def second_derivative(ctx, x):
        z = x * ctx.beta
        s = logistic(z)
        return np.where(z > ctx.threshold, 0, ctx.beta * s * (1 - s))

    tensor_backward = staticmethod(pointwise_tensor_backward)


@checks.typed
def softplus(input, beta=1.0, threshold=20.0):
    """y = ln(1 + e^(beta x)) / beta, linear (y = x) where beta x > threshold"""
    _check("softplus", input)
    beta, threshold = _number("softplus", "beta", beta), _number("softplus", "threshold", threshold)
    return Softplus.apply(input, beta, threshold)


class LogSigmoid(UnaryOp):
    """y = ln sigmoid(x) = -softplus(-x);  dy/dx = sigmoid(-x)"""
    f = lambda x: -np.logaddexp(0, -x)
    grad = lambda g, x, m: g * logistic(-x)
    tensor_backward = None  # in NumPy only: not differentiable twice


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
