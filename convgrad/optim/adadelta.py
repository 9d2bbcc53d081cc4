"""Adadelta (Zeiler, 2012): step sizes from running averages of squared gradients and squared updates."""

import numpy as np

from convgrad.autograd.grad_mode import no_grad
from convgrad.optim.optimizer import Optimizer, _params_with_grad, _scalar_state
from convgrad.tensor import Tensor


class Adadelta(Optimizer):
    """v = rho v + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho u + (1 - rho) d^2;
    p -= lr d."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = float(group["lr"]), group["rho"], group["eps"], group["weight_decay"]
            for p, grad in _params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = _scalar_state(0.0)
                    state["square_avg"] = Tensor._make(np.zeros_like(p._data))
                    state["acc_delta"] = Tensor._make(np.zeros_like(p._data))
                state["step"]._data += 1
                g = -grad if group["maximize"] else grad
                if wd != 0:
                    g = g + p._data * wd
                v, u = state["square_avg"]._data, state["acc_delta"]._data
                v *= rho
                v += (1 - rho) * g * g
                std = np.sqrt(v + eps)
                delta = np.sqrt(u + eps) / std * g
                u *= rho
                u += (1 - rho) * delta * delta
                p._data -= delta * lr
                p._bump_version()
        return loss
