"""Running sums and products along one dimension."""

import numpy as np

from convgrad.autograd.function import NumpyFunction


def _reverse_cumsum(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


class CumSum(NumpyFunction):
    """y_i = sum_{j <= i} x_j;  dL/dx_j = sum_{i >= j} g_i (a cumulative sum from the end)"""

    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim = dim
        return np.cumsum(x, axis=dim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return _reverse_cumsum(g, ctx.dim), None, None


class CumProd(NumpyFunction):
    """y_i = prod_{j <= i} x_j;  dL/dx_j = sum_{i >= j} g_i y_i / x_j, or, where x has zeros, the
    products with x_j left out, computed directly"""

    @staticmethod
    def forward(ctx, x, dim):
        y = np.cumprod(x, axis=dim)
        ctx.dim = dim
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        d = ctx.dim
        if np.all(x != 0):
            return _reverse_cumsum(g * y, d) / x, None
        # zeros make y / x undefined: for each j, the products of x_0..x_i with x_j replaced by 1
        xm = np.moveaxis(x, d, -1)
        gm = np.moveaxis(g, d, -1)
        n = xm.shape[-1]
        gx = np.empty_like(xm)
        for j in range(n):
            left = np.prod(xm[..., :j], axis=-1, keepdims=True)
            rest = np.cumprod(xm[..., j + 1:], axis=-1)
            terms = np.concatenate([np.ones_like(left), rest], axis=-1) * left
            gx[..., j] = np.sum(gm[..., j:] * terms, axis=-1)
        return np.moveaxis(gx, -1, d), None
