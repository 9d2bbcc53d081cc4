"""Adagrad (Duchi et al., 2011): per-element learning rates shrinking with the sum of squared gradients."""

import numpy as np

from convgrad.optim.optimizer import Optimizer, _ascent_and_decay, _check_nonnegative, _scalar_state
from convgrad.tensor import Tensor


class Adagrad(Optimizer):
    """s += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # PyTorch fills Adagrad's state at construction, so a state_dict taken before any step has it
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    @staticmethod
    def _init_state(p, state, group):
        state["step"] = _scalar_state(0.0)
        state["sum"] = Tensor._make(np.full_like(p._data, group["initial_accumulator_value"]))

    def _update(self, p, grad, group):
        state = self.state[p]
        if not state:
            self._init_state(p, state, group)
        state["step"]._data += 1
        step = float(state["step"]._data)
        g = _ascent_and_decay(p, grad, group)
        clr = float(group["lr"]) / (1 + (step - 1) * group["lr_decay"])
        s = state["sum"]._data
        s += g * g
        std = np.sqrt(s)
        std += group["eps"]
        p._data -= g * clr / std
