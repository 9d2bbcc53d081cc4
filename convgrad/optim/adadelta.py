"""Adadelta (Zeiler, 2012): step sizes from running averages of squared gradients and squared updates."""

import numpy as np

from convgrad.optim.optimizer import Optimizer, _ascent_and_decay, _check_nonnegative, _new_state


class Adadelta(Optimizer):
    """v = rho v + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho u + (1 - rho) d^2;
    p -= lr d."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonnegative(eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        rho, eps = group["rho"], group["eps"]
        state = self.state[p]
        if not state:
            state.update(_new_state(p, "square_avg", "acc_delta"))
        state["step"]._data += 1
        g = _ascent_and_decay(p, grad, group)
        v, u = state["square_avg"]._data, state["acc_delta"]._data
        v *= rho
        v += (1 - rho) * g * g
        std = np.sqrt(v + eps)
        delta = np.sqrt(u + eps) / std * g
        u *= rho
        u += (1 - rho) * delta * delta
        p._data -= delta * float(group["lr"])
