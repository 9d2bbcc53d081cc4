"""Adagrad (Duchi et al., 2011): per-element learning rates shrinking with the sum of squared gradients."""

import numpy as np

from convgrad.autograd.grad_mode import no_grad
from convgrad.optim.optimizer import Optimizer, _params_with_grad, _scalar_state
from convgrad.tensor import Tensor


class Adagrad(Optimizer):
    """s += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _scalar_state(0.0)
                state["sum"] = Tensor._make(np.full_like(p._data, group["initial_accumulator_value"]))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lr_decay, eps, wd = float(group["lr"]), group["lr_decay"], group["eps"], group["weight_decay"]
            for p, grad in _params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = _scalar_state(0.0)
                    state["sum"] = Tensor._make(np.full_like(p._data, group["initial_accumulator_value"]))
                state["step"]._data += 1
                step = float(state["step"]._data)
                g = -grad if group["maximize"] else grad
                if wd != 0:
                    g = g + p._data * wd
                clr = lr / (1 + (step - 1) * lr_decay)
                s = state["sum"]._data
                s += g * g
                std = np.sqrt(s)
                std += eps
                p._data -= g * clr / std
                p._bump_version()
        return loss
