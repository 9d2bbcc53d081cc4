"""Stochastic gradient descent with optional momentum (heavy ball or Nesterov) and weight decay."""

import numpy as np

from convgrad.optim.optimizer import Optimizer, _ascent_and_decay
from convgrad.tensor import Tensor


class SGD(Optimizer):
    """g = grad + weight_decay p;  b = momentum b + (1 - dampening) g (b = g on the first step);
    g = g + momentum b (nesterov) or b;  p = p - lr g.  ``maximize`` ascends instead."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        # PyTorch's SGD tests `< 0`, not `not >= 0` like the others: a NaN passes
        for name, value in (("learning rate", lr), ("momentum value", momentum),
                            ("weight_decay value", weight_decay)):
            if value < 0.0:
                raise ValueError(f"Invalid {name}: {value}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        momentum = group["momentum"]
        g = _ascent_and_decay(p, grad, group)
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._make(np.array(g, copy=True))
            else:
                b = buf._data
                b *= momentum
                b += g * (1 - group["dampening"])
            g = g + buf._data * momentum if group["nesterov"] else buf._data
        p._data -= g * float(group["lr"])
