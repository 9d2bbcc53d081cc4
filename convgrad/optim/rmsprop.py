"""RMSprop (Hinton): divide the gradient by a running root-mean-square of recent gradients."""

import numpy as np

from convgrad.optim.adam import _lerp_
from convgrad.optim.optimizer import Optimizer, _ascent_and_decay, _check_nonnegative, _new_state


class RMSprop(Optimizer):
    """v = alpha v + (1 - alpha) g^2;  centered: m = alpha m + (1 - alpha) g, avg = sqrt(v - m^2) + eps,
    else avg = sqrt(v) + eps;  momentum: b = momentum b + g / avg, p -= lr b;  else p -= lr g / avg."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        lr, alpha, momentum = float(group["lr"]), group["alpha"], group["momentum"]
        state = self.state[p]
        if not state:
            state.update(_new_state(p, "square_avg", *(["momentum_buffer"] if momentum > 0 else []),
                                    *(["grad_avg"] if group["centered"] else [])))
        g = _ascent_and_decay(p, grad, group)
        state["step"]._data += 1
        v = state["square_avg"]._data
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            m = state["grad_avg"]._data
            _lerp_(m, g, 1 - alpha)
            avg = np.sqrt(v - m * m)
        else:
            avg = np.sqrt(v)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]._data
            buf *= momentum
            buf += g / avg
            p._data -= buf * lr
        else:
            p._data -= g * lr / avg
