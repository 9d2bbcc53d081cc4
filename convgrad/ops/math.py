"""More elementwise functions: the logarithm and exponential near zero, trigonometric and hyperbolic
functions, and the two remainders. Each is y = f(x) with dy/dx written beside it."""

import numpy as np

from convgrad.autograd.function import NumpyFunction


class Log1p(NumpyFunction):
    """y = ln(1 + x), exact for tiny x;  dy/dx = 1 / (1 + x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1 + x)


class Expm1(NumpyFunction):
    """y = e^x - 1, exact for tiny x;  dy/dx = y + 1"""

    @staticmethod
    def forward(ctx, x):
        y = np.expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y + 1)


class Tan(NumpyFunction):
    """y = tan x;  dy/dx = 1 + y^2"""

    @staticmethod
    def forward(ctx, x):
        y = np.tan(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 + y * y)


class Asin(NumpyFunction):
    """y = arcsin x;  dy/dx = 1 / sqrt(1 - x^2)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.arcsin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / np.sqrt(1 - x * x)


class Acos(NumpyFunction):
    """y = arccos x;  dy/dx = -1 / sqrt(1 - x^2)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.arccos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g / np.sqrt(1 - x * x)


class Atan(NumpyFunction):
    """y = arctan x;  dy/dx = 1 / (1 + x^2)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.arctan(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1 + x * x)


class Sinh(NumpyFunction):
    """y = sinh x;  dy/dx = cosh x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sinh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.cosh(x)


class Cosh(NumpyFunction):
    """y = cosh x;  dy/dx = sinh x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cosh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.sinh(x)


class Remainder(NumpyFunction):
    """y = a - floor(a / b) b (the sign of b, Python's %);  dy/da = 1, dy/db = -floor(a / b)"""

    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad and ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        return np.mod(a, b)

    @staticmethod
    def backward(ctx, g):
        need_a, need_b = ctx.needs_input_grad
        gb = None
        if need_b:
            a, b = ctx.saved_tensors
            gb = -g * np.floor_divide(a, b)
        return (g if need_a else None), gb


class Fmod(NumpyFunction):
    """y = a - trunc(a / b) b (the sign of a, C's fmod);  dy/da = 1, dy/db = -trunc(a / b)"""

    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad and ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        return np.fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        need_a, need_b = ctx.needs_input_grad
        gb = None
        if need_b:
            a, b = ctx.saved_tensors
            gb = -g * np.trunc(a / b)
        return (g if need_a else None), gb
