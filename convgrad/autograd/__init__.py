"""Reverse-mode automatic differentiation."""

from convgrad.autograd.function import Function, NumpyFunction
from convgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from convgrad.autograd.gradcheck import GradcheckError, gradcheck


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, allow_unused=False):
    """Gradients of ``outputs`` w.r.t. ``inputs``, returned instead of added to ``.grad``."""
    from convgrad.tensor import Tensor

    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    saved = [t.grad for t in inputs]
    for t in inputs:
        t.grad = None
    try:
        outputs.backward(grad_outputs, retain_graph=retain_graph)
        result = tuple(t.grad for t in inputs)
    finally:
        for t, g in zip(inputs, saved):
            t.grad = g
    if not allow_unused and any(r is None for r in result):
        raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                           "Set allow_unused=True if this is the desired behavior.")
    return result


__all__ = ["Function", "NumpyFunction", "gradcheck", "GradcheckError", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "inference_mode", "grad"]
