"""Stochastic gradient descent with optional momentum (heavy ball or Nesterov) and weight decay."""

import numpy as np

from convgrad.autograd.grad_mode import no_grad
from convgrad.optim.optimizer import Optimizer, _params_with_grad
from convgrad.tensor import Tensor


class SGD(Optimizer):
    """g = grad + weight_decay p;  b = momentum b + (1 - dampening) g (b = g on the first step);
    g = g + momentum b (nesterov) or b;  p = p - lr g.  ``maximize`` ascends instead."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, momentum, dampening = float(group["lr"]), group["momentum"], group["dampening"]
            wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            for p, grad in _params_with_grad(group):
                g = -grad if maximize else grad
                if wd != 0:
                    g = g + p._data * wd
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = Tensor._make(np.array(g, copy=True))
                    else:
                        b = buf._data
                        b *= momentum
                        b += g * (1 - dampening)
                    g = g + buf._data * momentum if nesterov else buf._data
                p._data -= g * lr
                p._bump_version()
        return loss
