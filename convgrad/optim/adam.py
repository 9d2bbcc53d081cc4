"""Adam (Kingma & Ba, 2015) and AdamW (decoupled weight decay, Loshchilov & Hutter, 2019)."""

import numpy as np

from convgrad.optim.optimizer import Optimizer, _ascent_and_decay, _check_nonnegative, _new_state
from convgrad.tensor import Tensor


def _lerp_(a, b, w):
    """a <- a + w (b - a), in PyTorch's two-sided form (exact at w = 1)."""
    if abs(w) < 0.5:
        a += (b - a) * w
    else:
        a[...] = b - (b - a) * (1 - w)


class Adam(Optimizer):
    """t += 1;  g = grad (+ weight_decay p, or p *= 1 - lr weight_decay when decoupled);
    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2  (amsgrad: v_max = max(v_max, v));
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        if isinstance(lr, Tensor):
            lr = lr.item()
        _check_nonnegative(lr=lr, eps=eps)
        for i in (0, 1):
            if not 0.0 <= betas[i] < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
        _check_nonnegative(weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        lr, amsgrad = float(group["lr"]), group["amsgrad"]
        beta1, beta2 = (float(b) for b in group["betas"])
        state = self.state[p]
        if not state:
            state.update(_new_state(p, "exp_avg", "exp_avg_sq", *(["max_exp_avg_sq"] if amsgrad else [])))
        state["step"]._data += 1
        step = float(state["step"]._data)
        if group.get("decoupled_weight_decay", False):
            g = -grad if group["maximize"] else grad
            if group["weight_decay"] != 0:
                p._data *= 1 - lr * group["weight_decay"]
        else:
            g = _ascent_and_decay(p, grad, group)
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        _lerp_(m, g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        step_size = lr / bias_correction1
        if amsgrad:
            vmax = state["max_exp_avg_sq"]._data
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax) / bias_correction2_sqrt
        else:
            denom = np.sqrt(v) / bias_correction2_sqrt
        denom += group["eps"]
        p._data -= m * step_size / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr weight_decay before the Adam update (default 0.01)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
