"""More elementwise functions: the logarithm and exponential near zero, trigonometric and hyperbolic
functions, and the two remainders. Each is y = f(x) with dy/dx written beside it."""

import numpy as np

from convgrad.autograd.function import NumpyFunction
from convgrad.ops.elementwise import UnaryOp


class Log1p(UnaryOp):
    """y = ln(1 + x), exact for tiny x;  dy/dx = 1 / (1 + x)"""
    f = np.log1p
    grad = lambda g, x, m: g / (1 + x)


class Expm1(UnaryOp):
    """y = e^x - 1, exact for tiny x;  dy/dx = y + 1"""
    f, of_output = np.expm1, True
    grad = lambda g, y, m: g * (y + 1)


class Tan(UnaryOp):
    """y = tan x;  dy/dx = 1 + y^2"""
    f, of_output = np.tan, True
    grad = lambda g, y, m: g * (1 + y * y)


class Asin(UnaryOp):
    """y = arcsin x;  dy/dx = 1 / sqrt(1 - x^2)"""
    f = np.arcsin
    grad = lambda g, x, m: g / m.sqrt(1 - x * x)


class Acos(UnaryOp):
    """y = arccos x;  dy/dx = -1 / sqrt(1 - x^2)"""
    f = np.arccos
    grad = lambda g, x, m: -g / m.sqrt(1 - x * x)


class Atan(UnaryOp):
    """y = arctan x;  dy/dx = 1 / (1 + x^2)"""
    f = np.arctan
    grad = lambda g, x, m: g / (1 + x * x)


class Sinh(UnaryOp):
    """y = sinh x;  dy/dx = cosh x"""
    f = np.sinh
    grad = lambda g, x, m: g * m.cosh(x)


class Cosh(UnaryOp):
    """y = cosh x;  dy/dx = sinh x"""
    f = np.cosh
    grad = lambda g, x, m: g * m.sinh(x)


class _Modulo(NumpyFunction):
    """y = a - q(a / b) b for a rounding q;  dy/da = 1, dy/db = -q(a / b). An op gives ``f`` (NumPy's
    remainder) and ``quotient(a, b) = q(a / b)``."""

    f = quotient = None

    @classmethod
    def forward(cls, ctx, a, b):
        if ctx.needs_input_grad and ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        return cls.f(a, b)

    @classmethod
    def backward(cls, ctx, g):
        need_a, need_b = ctx.needs_input_grad
        gb = None
        if need_b:
            a, b = ctx.saved_tensors
            gb = -g * cls.quotient(a, b)
        return (g if need_a else None), gb


class Remainder(_Modulo):
    """y = a - floor(a / b) b (the sign of b, Python's %)"""
    f, quotient = np.mod, np.floor_divide


class Fmod(_Modulo):
    """y = a - trunc(a / b) b (the sign of a, C's fmod)"""
    f = np.fmod
    quotient = lambda a, b: np.trunc(a / b)
