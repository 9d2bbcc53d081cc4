"""Matrix product with NumPy's ``matmul`` semantics (1-D operands promoted, batch dims broadcast)."""

import numpy as np

from convgrad.autograd.function import NumpyFunction
from convgrad.autograd.graph import saved_as_tensors


class MatMul(NumpyFunction):
    """Y = A B;  dL/dA = G B^T,  dL/dB = A^T G (batch dims summed back by the engine)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if need_a:
            ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = ga.reshape(-1, a.shape[0]).sum(0) if ga.ndim > 2 else ga[0]
        if need_b:
            if a2.ndim == 2 and g2.ndim > 2:
                # (k, m) x (..., m, n): fold the batch into one GEMM instead of a sum over products
                gb = a2.T @ np.moveaxis(g2, -2, 0).reshape(g2.shape[-2], -1)
                gb = gb.reshape(a2.shape[1], *g2.shape[:-2], g2.shape[-1])
                gb = np.moveaxis(gb, 0, -2)
            else:
                gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                gb = gb[..., 0]
                gb = gb.reshape(-1, b.shape[0]).sum(0) if gb.ndim > 1 else gb
        return ga, gb

    @staticmethod
    def tensor_backward(ctx, g):
        a, b = saved_as_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g.unsqueeze(-2) if a.ndim == 1 else g
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        ga = gb = None
        if need_a:
            ga = g2 @ b2.transpose(-1, -2)  # the engine sums broadcast batch dims back
            if a.ndim == 1:
                ga = ga.squeeze(-2)
        if need_b:
            gb = a2.transpose(-1, -2) @ g2
            if b.ndim == 1:
                gb = gb.squeeze(-1)
        return ga, gb
