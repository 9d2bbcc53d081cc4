"""Fused operations: two ops that follow each other in every conv-BN-ReLU block, computed as one node.

``batch_norm_relu(x, ...) = relu(batch_norm(x, ...))``, exactly (the same NumPy operations in the same
order, so the values are bit-identical to the two ops run one after the other). In training, the unfused
pair costs the ReLU's own output array and, with ``ReLU(inplace=True)`` in a graph, a copy of the batch
norm output and a copy back; the fused node writes ``max(y, 0)`` into the batch norm's fresh output and
its backward masks the incoming gradient by ``[y > 0]`` before the batch norm's one-formula backward:

    y = relu(w (x - mean) / sqrt(var + eps) + b),   dL/d(bn) = dL/dy * [y > 0]
"""

import numpy as np

from convgrad.autograd.graph import constant
from convgrad.functional.activation import relu
from convgrad.functional.normalization import _BatchNormTrain, batch_norm
from convgrad.ops.elementwise import keep_where

__all__ = ["batch_norm_relu"]


class _BatchNormReLUTrain(_BatchNormTrain):
    """relu(batch norm with the batch's statistics); ``stats`` receives (mean, biased var)."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps, stats):
        y = _BatchNormTrain.forward(ctx, x, weight, bias, eps, stats)  # a new array: ours to overwrite
        np.maximum(y, np.zeros((), y.dtype), out=y)
        if ctx.needs_input_grad:
            ctx.save_for_backward(x, weight, y)  # y: the ReLU's mask, checked against in-place changes
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[2]
        return _BatchNormTrain.backward(ctx, keep_where(y > 0, g))

    @staticmethod
    def tensor_backward(ctx, g):
        y = ctx.saved_tensors[2]
        mask = constant((y > 0).astype(g.dtype))  # piecewise constant: no second derivative through it
        return _BatchNormTrain.tensor_backward(ctx, g * mask)


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                    eps=1e-5):
    """relu(batch_norm(input, ...)), as one node in training (see the module's docstring); output shape =
    input's. Arguments and checks are ``batch_norm``'s."""
    if not training:
        return relu(batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps))
    return batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps,
                      _train_node=_BatchNormReLUTrain)
