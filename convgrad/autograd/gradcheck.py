"""Numerical gradient check: compare autograd's gradients with float64 central differences."""

import numpy as np


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, (tuple, list)) else (x,)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check ``fn``'s analytic gradients against central differences
    ``(f(x + eps) - f(x - eps)) / (2 eps)`` for every element of every float64 input that requires grad.

    Outputs are reduced to a scalar with a fixed random weighting so every output element is checked.
    Raises ``GradcheckError`` naming the input and its worst element, or returns True.
    """
    from convgrad.autograd.grad_mode import no_grad
    from convgrad.tensor import Tensor

    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            raise GradcheckError(
                f"gradcheck: input {i} has dtype {x.dtype}; expected float64 (finite differences in "
                "float32 are too coarse to check anything)"
            )
    rng = np.random.default_rng(seed)
    with no_grad():
        outs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.dtype.kind == "f"]
    weights = [rng.standard_normal(o.shape) for o in outs]

    def scalar(*xs):
        res = [o for o in _as_tuple(fn(*xs)) if isinstance(o, Tensor) and o.dtype.kind == "f"]
        total = 0.0
        for o, w in zip(res, weights):
            total = total + (o * Tensor(w)).sum()
        return total

    for x in inputs:
        if isinstance(x, Tensor):
            x.grad = None
    out = scalar(*inputs)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise GradcheckError("gradcheck: the function's output does not require grad; nothing to check")
    out.backward()
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        analytic = x.grad._data if x.grad is not None else np.zeros(x.shape)
        numeric = np.zeros(x.shape)
        flat = x._data.reshape(-1)  # a view: perturbing it perturbs x
        if not np.shares_memory(flat, x._data):
            raise GradcheckError(f"gradcheck: input {i} must be contiguous")
        with no_grad():
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                plus = scalar(*inputs).item()
                flat[k] = orig - eps
                minus = scalar(*inputs).item()
                flat[k] = orig
                numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
        err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if (err > 0).any():
            k = np.unravel_index(np.argmax(err), x.shape)
            msg = (
                f"gradcheck: gradient of input {i} (shape {tuple(x.shape)}) does not match finite "
                f"differences; worst element {tuple(int(j) for j in k)}: analytic {analytic[k]:.8g}, "
                f"numerical {numeric[k]:.8g} (atol={atol}, rtol={rtol})"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
