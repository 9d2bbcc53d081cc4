"""Elementwise operations. Broadcasting is left to NumPy; the engine sums each gradient back to its
input's shape, so no op here reduces over broadcast axes itself."""

import numpy as np

from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import constant, saved_as_tensors

# Selecting by a mask through the values' bits: np.where branches per element and, on the unpredictable
# masks of activations (ReLU of a conv output), runs ~10x slower than these three vectorised passes.
_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def keep_where(mask, a):
    """``np.where(mask, a, 0)`` for an array ``a`` of mask's shape, exactly (inf and nan kept where
    mask holds, +0 elsewhere), without branches."""
    u = _BITS[a.dtype.itemsize]
    m = np.array(mask, dtype=u)  # an array even for 0-d masks (comparisons of 0-d arrays give scalars)
    np.negative(m, out=m)  # 1 -> all ones, 0 -> 0
    np.bitwise_and(m, a.view(u), out=m)
    return m.view(a.dtype)


def select(mask, a, b, dtype):
    """``np.where(mask, a, b)`` in ``dtype`` (a, b arrays or scalars, broadcast), exactly, branch-free."""
    dtype = np.dtype(dtype)
    u = _BITS[dtype.itemsize]
    a = np.asarray(a, dtype)
    b = np.asarray(b, dtype)
    shape = np.broadcast_shapes(np.shape(mask), a.shape, b.shape)
    m = np.array(np.broadcast_to(mask, shape), dtype=u)
    np.negative(m, out=m)
    out = np.empty(shape, u)
    np.bitwise_and(m, a.view(u), out=out)
    np.invert(m, out=m)
    np.bitwise_and(m, b.view(u), out=m)
    np.bitwise_or(out, m, out=out)
    return out.view(dtype)


class Add(NumpyFunction):
    """y = a + b"""

    _scalar_operands = True  # x * 2: the 2 is an input, as in PyTorch's next_functions

    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g

    @staticmethod
    def tensor_backward(ctx, g):
        return g, g


class Sub(NumpyFunction):
    """y = a - b"""

    _scalar_operands = True

    @staticmethod
    def forward(ctx, a, b):
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)

    @staticmethod
    def tensor_backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(NumpyFunction):
    """y = a * b;  dy/da = b, dy/db = a"""

    _scalar_operands = True

    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:  # keep only what the gradients need (x * 2 saves nothing of x)
            need_a, need_b = ctx.needs_input_grad
            ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)

    @staticmethod
    def tensor_backward(ctx, g):
        a, b = saved_as_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(NumpyFunction):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b^2"""

    _scalar_operands = True

    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:
            ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return np.true_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g / b if need_a else None
        gb = -g * a / (b * b) if need_b else None
        return ga, gb

    @staticmethod
    def tensor_backward(ctx, g):
        a, b = saved_as_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)


class Neg(NumpyFunction):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def tensor_backward(ctx, g):
        return -g


class Pow(NumpyFunction):
    """y = a ** b;  dy/da = b a^(b-1), dy/db = y ln a"""

    @staticmethod
    def forward(ctx, a, b):
        y = np.power(a, b)
        # y only for the exponent's gradient: kept otherwise, it would tie x.pow_(2) to later writes of x
        ctx.save_for_backward(a, b, y if ctx.needs_input_grad and ctx.needs_input_grad[1] else None)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            ga = g * b * np.power(a, b - 1) if not (np.isscalar(b) and b == 2) else g * 2 * a
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * y * np.log(a)
            gb = np.where(a == 0, 0, gb).astype(g.dtype, copy=False)  # PyTorch's convention at a = 0
        return ga, gb

    @staticmethod
    def tensor_backward(ctx, g):
        a, b, y = saved_as_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            ga = g * 2 * a if (np.isscalar(b) and b == 2) else g * b * a ** (b - 1)
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * y * a.log()
            gb = gb.masked_fill(constant(a._data == 0), 0)  # PyTorch's convention at a = 0
        return ga, gb


class Exp(NumpyFunction):
    """y = e^x;  dy/dx = y"""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y

    @staticmethod
    def tensor_backward(ctx, g):
        (y,) = saved_as_tensors(ctx)
        return g * y


class Log(NumpyFunction):
    """y = ln x;  dy/dx = 1/x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x

    @staticmethod
    def tensor_backward(ctx, g):
        (x,) = saved_as_tensors(ctx)
        return g / x


class Sqrt(NumpyFunction):
    """y = sqrt(x);  dy/dx = 1 / (2 y)"""

    @staticmethod
    def forward(ctx, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (2 * y)

    @staticmethod
    def tensor_backward(ctx, g):
        (y,) = saved_as_tensors(ctx)
        return g / (2 * y)


class Abs(NumpyFunction):
    """y = |x|;  dy/dx = sign(x) (0 at 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.sign(x)

    @staticmethod
    def tensor_backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.sign(x)


class Sin(NumpyFunction):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.cos(x)

    @staticmethod
    def tensor_backward(ctx, g):
        (x,) = saved_as_tensors(ctx)
        return g * x.cos()


class Cos(NumpyFunction):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * np.sin(x)

    @staticmethod
    def tensor_backward(ctx, g):
        (x,) = saved_as_tensors(ctx)
        return -g * x.sin()


class Tanh(NumpyFunction):
    """y = tanh x;  dy/dx = 1 - y^2"""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)

    @staticmethod
    def tensor_backward(ctx, g):
        (y,) = saved_as_tensors(ctx)
        return g * (1 - y * y)


class Sigmoid(NumpyFunction):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)"""

    @staticmethod
    def forward(ctx, x):
        # 0.5 (1 + tanh(x/2)) equals the logistic function and never overflows
        y = np.tanh(x * 0.5)
        y += 1
        y *= 0.5
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)

    @staticmethod
    def tensor_backward(ctx, g):
        (y,) = saved_as_tensors(ctx)
        return g * y * (1 - y)


# A zero of the array's own float type: np.maximum(x, 0) converts the Python 0 on every call, which
# doubles the cost of a small ReLU; the result (dtype and bits, -0.0 and nan kept) is the same.
_ZEROS = {}
for _t in (np.float16, np.float32, np.float64):
    _ZEROS[np.dtype(_t).char] = _z = np.zeros((), _t)
    _z.flags.writeable = False


class ReLU(NumpyFunction):
    """y = max(x, 0);  dy/dx = [x > 0]"""

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, _ZEROS.get(x.dtype.char, 0))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return keep_where(y > 0, g)

    @staticmethod
    def tensor_backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y > 0).astype(g.dtype)  # the mask is piecewise constant: no second derivative


class Clamp(NumpyFunction):
    """y = min(max(x, lo), hi);  dy/dx = [lo <= x <= hi] (PyTorch passes the gradient at the bounds)"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi) if (lo is not None or hi is not None) else x.copy()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = np.ones(x.shape, bool)
        if ctx.lo is not None:
            mask &= x >= ctx.lo
        if ctx.hi is not None:
            mask &= x <= ctx.hi
        return keep_where(mask, g), None, None

    @staticmethod
    def tensor_backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = np.ones(x.shape, g.dtype)
        if ctx.lo is not None:
            mask *= x >= ctx.lo
        if ctx.hi is not None:
            mask *= x <= ctx.hi
        return g * mask, None, None


class Maximum(NumpyFunction):
    """y = max(a, b); ties share the gradient equally, as PyTorch."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        wa = (a > b) + 0.5 * (a == b)
        return (g * wa).astype(g.dtype, copy=False), (g * (1 - wa)).astype(g.dtype, copy=False)

    @staticmethod
    def tensor_backward(ctx, g):
        a, b = ctx.saved_tensors
        wa = ((a > b) + 0.5 * (a == b)).astype(g.dtype)
        return g * wa, g * (1 - wa)


class Minimum(NumpyFunction):
    """y = min(a, b); ties share the gradient equally, as PyTorch."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        wa = (a < b) + 0.5 * (a == b)
        return (g * wa).astype(g.dtype, copy=False), (g * (1 - wa)).astype(g.dtype, copy=False)

    @staticmethod
    def tensor_backward(ctx, g):
        a, b = ctx.saved_tensors
        wa = ((a < b) + 0.5 * (a == b)).astype(g.dtype)
        return g * wa, g * (1 - wa)


class Where(NumpyFunction):
    """y = cond ? a : b"""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return select(cond, a, b, np.result_type(a, b))

    @staticmethod
    def backward(ctx, g):
        return None, select(ctx.cond, g, 0, g.dtype), select(ctx.cond, 0, g, g.dtype)

    @staticmethod
    def tensor_backward(ctx, g):
        return None, Where.apply(ctx.cond, g, 0), Where.apply(ctx.cond, 0, g)


class Cast(NumpyFunction):
    """A copy in another dtype; the gradient is cast back."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype), None

    @staticmethod
    def tensor_backward(ctx, g):
        return Cast.apply(g, ctx.dtype), None


class Clone(NumpyFunction):
    """A copy in C order (``clone`` and ``contiguous``)."""

    @staticmethod
    def forward(ctx, x):
        return np.array(x, copy=True, order="C")

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def tensor_backward(ctx, g):
        return g
