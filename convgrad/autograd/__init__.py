"""Reverse-mode automatic differentiation."""

from convgrad.autograd.engine import backward, grad
from convgrad.autograd.function import Function, NumpyFunction
from convgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from convgrad.autograd.gradcheck import GradcheckError, gradcheck

__all__ = ["Function", "NumpyFunction", "gradcheck", "GradcheckError", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "inference_mode", "grad", "backward"]
