"""RMSprop (Hinton): divide the gradient by a running root-mean-square of recent gradients."""

import numpy as np

from convgrad.autograd.grad_mode import no_grad
from convgrad.optim.adam import _lerp_
from convgrad.optim.optimizer import Optimizer, _params_with_grad, _scalar_state
from convgrad.tensor import Tensor


class RMSprop(Optimizer):
    """v = alpha v + (1 - alpha) g^2;  centered: m = alpha m + (1 - alpha) g, avg = sqrt(v - m^2) + eps,
    else avg = sqrt(v) + eps;  momentum: b = momentum b + g / avg, p -= lr b;  else p -= lr g / avg."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = float(group["lr"]), group["alpha"], group["eps"]
            wd, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
            for p, grad in _params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = _scalar_state(0.0)
                    state["square_avg"] = Tensor._make(np.zeros_like(p._data))
                    if momentum > 0:
                        state["momentum_buffer"] = Tensor._make(np.zeros_like(p._data))
                    if centered:
                        state["grad_avg"] = Tensor._make(np.zeros_like(p._data))
                g = -grad if group["maximize"] else grad
                state["step"]._data += 1
                if wd != 0:
                    g = g + p._data * wd
                v = state["square_avg"]._data
                v *= alpha
                v += (1 - alpha) * g * g
                if centered:
                    m = state["grad_avg"]._data
                    _lerp_(m, g, 1 - alpha)
                    avg = np.sqrt(v - m * m)
                else:
                    avg = np.sqrt(v)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    buf += g / avg
                    p._data -= buf * lr
                else:
                    p._data -= g * lr / avg
                p._bump_version()
        return loss
