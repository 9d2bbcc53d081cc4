"""Elementwise operations. Broadcasting is left to NumPy; the engine sums each gradient back to its
input's shape, so no op here reduces over broadcast axes itself."""

from operator import methodcaller

import numpy as np

from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import constant, saved_as_tensors
from convgrad.ops.shape import PassThrough, Rearrangement

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


class Add(PassThrough):
    """y = a + b;  dy/da = dy/db = 1"""

    _scalar_operands = True  # x * 2: the 2 is an input, as in PyTorch's next_functions

    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)


class Sub(NumpyFunction):
    """y = a - b"""

    _scalar_operands = True

    @staticmethod
    def forward(ctx, a, b):
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)

    tensor_backward = backward  # the same expression records Tensor ops (create_graph)


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

    tensor_backward = backward  # the same expression records Tensor ops (create_graph)


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


class _TensorMath:
    """NumPy's functions as Tensor methods (``m.cos(x)`` is ``x.cos()``): a derivative computed with them
    is recorded (create_graph)."""

    def __getattr__(self, name):
        return methodcaller(name)


_TENSOR_MATH = _TensorMath()


class UnaryOp(NumpyFunction):
    """y = f(x) elementwise. An op gives ``f`` (NumPy's function) and ``grad(g, s, m) = g dy/dx``, with ``s``
    the saved x, or y when ``of_output`` (the derivative is cheaper in y), and ``m`` the module of the
    functions it calls: NumPy in the NumPy backward, Tensor methods for create_graph, so that one formula
    gives both."""

    f = grad = None
    of_output = False

    @classmethod
    def forward(cls, ctx, x):
        y = cls.f(x)
        ctx.save_for_backward(y if cls.of_output else x)
        return y

    @classmethod
    def backward(cls, ctx, g):
        (s,) = ctx.saved_tensors
        return cls.grad(g, s, np)

    @classmethod
    def tensor_backward(cls, ctx, g):
        (s,) = saved_as_tensors(ctx)
        return cls.grad(g, s, _TENSOR_MATH)


def logistic(x):
    """1 / (1 + e^-x) as 0.5 (1 + tanh(x/2)): the same function, and it never overflows."""
    y = np.tanh(x * 0.5)
    y += 1
    y *= 0.5
    return y


class Exp(UnaryOp):
    """y = e^x;  dy/dx = y"""
    f, of_output = np.exp, True
    grad = lambda g, y, m: g * y


class Log(UnaryOp):
    """y = ln x;  dy/dx = 1/x"""
    f = np.log
    grad = lambda g, x, m: g / x


class Sqrt(UnaryOp):
    """y = sqrt(x);  dy/dx = 1 / (2 y)"""
    f, of_output = np.sqrt, True
    grad = lambda g, y, m: g / (2 * y)


class Abs(UnaryOp):
    """y = |x|;  dy/dx = sign(x) (0 at 0, as PyTorch)"""
    f = np.abs
    grad = lambda g, x, m: g * m.sign(x)  # sign is piecewise constant: no second derivative


class Sin(UnaryOp):
    """y = sin x;  dy/dx = cos x"""
    f = np.sin
    grad = lambda g, x, m: g * m.cos(x)


class Cos(UnaryOp):
    """y = cos x;  dy/dx = -sin x"""
    f = np.cos
    grad = lambda g, x, m: -g * m.sin(x)


class Tanh(UnaryOp):
    """y = tanh x;  dy/dx = 1 - y^2"""
    f, of_output = np.tanh, True
    grad = lambda g, y, m: g * (1 - y * y)


class Sigmoid(UnaryOp):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)"""
    f, of_output = logistic, True
    grad = lambda g, y, m: g * y * (1 - y)


# A zero of the array's own float type: np.maximum(x, 0) converts the Python 0 on every call, which
# doubles the cost of a small ReLU; the result (dtype and bits, -0.0 and nan kept) is the same.
_ZEROS = {}
for _t in (np.float16, np.float32, np.float64):
    _ZEROS[np.dtype(_t)] = _z = np.zeros((), _t)  # keyed by the dtype: quicker than by its .char
    _z.flags.writeable = False


class ReLU(NumpyFunction):
    """y = max(x, 0);  dy/dx = [x > 0]"""

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, _ZEROS.get(x.dtype, 0))
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


class _Extremum(NumpyFunction):
    """y = f(a, b) = the one of a, b that ``wins``;  dy/da = w = [a wins] + [a = b] / 2 (ties share the
    gradient equally, as PyTorch), dy/db = 1 - w."""

    f = wins = None

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return cls.f(a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors
        wa = (cls.wins(a, b) + 0.5 * (a == b)).astype(g.dtype)  # 0, 1/2 or 1: exact in any float dtype
        return g * wa, g * (1 - wa)

    tensor_backward = backward  # w is piecewise constant: the same formula, with g a Tensor


class Maximum(_Extremum):
    """y = max(a, b)"""
    f, wins = np.maximum, np.greater


class Minimum(_Extremum):
    """y = min(a, b)"""
    f, wins = np.minimum, np.less


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


class Cast(Rearrangement):
    """A copy in another dtype; the gradient is cast back."""
    f = lambda x, dtype: x.astype(dtype)
    inverse = lambda x, dtype: x.dtype


class Clone(PassThrough):
    """A copy in C order (``clone`` and ``contiguous``)."""

    @staticmethod
    def forward(ctx, x):
        return np.array(x, copy=True, order="C")


class Fill(NumpyFunction):
    """y = values (broadcast to x's shape, in x's dtype);  dy/dx = 0. The node of an in-place fill
    (``fill_``, ``zero_``, ``normal_``, ...) on a tensor in a graph: what it held before gets no gradient.
    ``torch_name``: PyTorch's name for the node (FillBackward0, ZeroBackward0, NormalBackward0, ...)."""

    @staticmethod
    def forward(ctx, x, values, torch_name):
        ctx.torch_name = torch_name
        return np.array(np.broadcast_to(values, x.shape), dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), None, None

    @staticmethod
    def tensor_backward(ctx, g):
        return constant(np.zeros(g.shape, g.dtype)), None, None
