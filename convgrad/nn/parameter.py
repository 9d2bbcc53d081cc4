"""``Parameter``: a Tensor that a ``Module`` registers as one of its learnable weights."""

import numpy as np

from convgrad.tensor import Tensor, get_default_dtype


def _rebuild_parameter(array, requires_grad):
    return Parameter(Tensor._make(array), requires_grad)


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default; assigning one to a Module attribute registers it.

    ``Parameter(t)`` shares ``t``'s memory, as in PyTorch."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            array = np.zeros((0,), get_default_dtype())
        elif isinstance(data, Tensor):
            array = data._data
        else:
            array = np.asarray(data)
        p = cls._make(array)
        if isinstance(data, Tensor):
            p._vc = data.detach()._vc  # one version counter, as the memory is shared
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass  # all done in __new__ (Tensor.__init__ would copy the data)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(Tensor._make(self._data.copy()), self.requires_grad)
        if self.grad is not None:
            result.grad = Tensor._make(self.grad._data.copy())
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return _rebuild_parameter, (self._data, self.requires_grad)


class Buffer(Tensor):
    """PyTorch's ``nn.Buffer``: assigning one to a Module attribute registers it as a buffer."""

    def __new__(cls, data=None, *, persistent=True):
        array = data._data if isinstance(data, Tensor) else (
            np.zeros((0,), get_default_dtype()) if data is None else np.asarray(data))
        b = cls._make(array)
        b.persistent = persistent
        return b

    def __init__(self, data=None, *, persistent=True):
        pass


def zero_grads(params, set_to_none=True):
    """Clear the gradients of ``params``: to None (the default), or to zeros in place, detached."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.grad_fn = None
            p.grad._data.fill(0)
