"""Activation layers: each calls its ``convgrad.nn.functional`` op (equations there)."""

import warnings

from convgrad import _checks as checks
from convgrad import factories
from convgrad.nn import functional as F
from convgrad.nn import init
from convgrad.nn.modules.module import Module, _FunctionalLayer
from convgrad.nn.parameter import Parameter


class _InplaceActivation(_FunctionalLayer):
    """An elementwise activation whose one option is ``inplace`` (overwrite the input); ``_function`` is
    its functional op."""

    _repr_fields = ("inplace",)

    def __init__(self, inplace=False):
        super().__init__(inplace)

    def forward(self, input):  # _FunctionalLayer's, for its one setting: no list of settings per call
        return self._function(input, self.inplace)


class ReLU(_InplaceActivation):
    """max(0, x)."""

    _function = staticmethod(F.relu)


class Hardtanh(_FunctionalLayer):
    """clamp(x, min_val, max_val)."""

    _repr_fields = ("min_val", "max_val", "inplace")
    _function = staticmethod(F.hardtanh)

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        checks.number("Hardtanh", "min_val", min_val, finite=False, allow_nan=True)
        checks.number("Hardtanh", "max_val", max_val, finite=False, allow_nan=True)
        if max_val <= min_val:  # PyTorch asserts it in the constructor (F.hardtanh allows equal bounds)
            raise checks.error("Hardtanh", "max_val > min_val", f"min_val={min_val}, max_val={max_val}",
                               AssertionError)
        super().__init__(min_val, max_val, inplace)


class ReLU6(Hardtanh):
    """min(max(0, x), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""  # the bounds are fixed: PyTorch shows only inplace


class LeakyReLU(_FunctionalLayer):
    """x if x >= 0 else negative_slope * x."""

    _repr_fields = ("negative_slope", "inplace")
    _function = staticmethod(F.leaky_relu)

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(negative_slope, inplace)


class ELU(_FunctionalLayer):
    """x if x > 0 else alpha (e^x - 1)."""

    _repr_fields = ("alpha", "inplace")
    _function = staticmethod(F.elu)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(alpha, inplace)


class CELU(ELU):
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1))."""

    _function = staticmethod(F.celu)


class SELU(_InplaceActivation):
    """scale * ELU(x, alpha) with the self-normalising constants."""

    _function = staticmethod(F.selu)


class GELU(Module):
    """x Phi(x) (``approximate='tanh'``: the tanh approximation)."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(_InplaceActivation):
    """x sigmoid(x) (swish)."""

    _function = staticmethod(F.silu)


class Mish(_InplaceActivation):
    """x tanh(softplus(x))."""

    _function = staticmethod(F.mish)


class Hardswish(_InplaceActivation):
    """x relu6(x + 3) / 6."""

    _function = staticmethod(F.hardswish)

    def extra_repr(self):
        return ""  # PyTorch prints no options for Hardswish and Hardsigmoid, inplace or not


class Hardsigmoid(_InplaceActivation):
    """relu6(x + 3) / 6."""

    _function = staticmethod(F.hardsigmoid)
    extra_repr = Hardswish.extra_repr


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input):
        return input.tanh()


class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, input):
        return input.sigmoid()


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, input):
        return F.tanhshrink(input)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input):
        return F.softsign(input)


class LogSigmoid(Module):
    """log(sigmoid(x))."""

    def forward(self, input):
        return F.logsigmoid(input)


class Softplus(_FunctionalLayer):
    """log(1 + e^(beta x)) / beta (linear above ``threshold``)."""

    _repr_fields = ("beta", "threshold")
    _function = staticmethod(F.softplus)

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__(beta, threshold)


class Threshold(_FunctionalLayer):
    """x if x > threshold else value."""

    _repr_fields = ("threshold", "value", "inplace")
    _function = staticmethod(F.threshold)

    def __init__(self, threshold, value, inplace=False):
        super().__init__(threshold, value, inplace)


class _Shrink(_FunctionalLayer):
    _repr_fields = ("lambd",)

    def __init__(self, lambd=0.5):
        super().__init__(lambd)

    def extra_repr(self):
        return str(self.lambd)  # PyTorch shows the bare value: Hardshrink(0.5)


class Hardshrink(_Shrink):
    """x if |x| > lambd else 0."""

    _function = staticmethod(F.hardshrink)


class Softshrink(_Shrink):
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0."""

    _function = staticmethod(F.softshrink)


def _softmax_dim(ndim):
    # PyTorch's legacy choice when dim is not given
    warnings.warn("Implicit dimension choice for softmax has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=4)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """e^x_i / sum_j e^x_j along ``dim``."""

    _repr_fields = ("dim",)

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self._dim(input))

    def _dim(self, input):
        return self.dim if self.dim is not None else _softmax_dim(input.ndim)


class Softmin(Softmax):
    """softmax(-x) along ``dim``."""

    def forward(self, input):
        return F.softmax(-input, self._dim(input))


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably."""

    def forward(self, input):
        return F.log_softmax(input, self._dim(input))


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W)."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise self._input_error(f"expected a 3-D or 4-D input, got input of shape {tuple(input.shape)}")
        return F.softmax(input, -3)


class PReLU(Module):
    """x if x >= 0 else a x with a learnt slope ``a`` (one, or one per channel)."""

    _repr_fields = ("num_parameters",)

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(factories.empty(num_parameters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        if self.num_parameters > 1:
            shape = tuple(input.shape)
            ch = shape[1] if len(shape) >= 2 else (shape[0] if shape else 1)
            if ch != self.num_parameters:
                raise self._input_error(
                    f"expected {self.num_parameters} channels (dimension 1), got input of shape {shape}"
                )
        return F.prelu(input, self.weight)
