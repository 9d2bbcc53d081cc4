"""``Linear`` (y = x W^T + b) and ``Identity``."""

import math

from convgrad import _checks as checks
from convgrad import factories
from convgrad.nn import functional as F
from convgrad.nn import init
from convgrad.nn.modules.module import Module, _fast
from convgrad.nn.modules.utils import _shape
from convgrad.nn.parameter import Parameter


class Identity(Module):
    """Returns its input (arguments are accepted and ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


def reset_weight_and_bias(weight, bias):
    """PyTorch's default for Linear and Conv layers: weight ~ kaiming_uniform_(a=sqrt(5)), which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias ~ the same uniform."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def add_weight_and_bias(module, weight_shape, bias_size, device=None, dtype=None):
    """Register ``module.weight`` (uninitialised, ``weight_shape``) and ``module.bias`` (``bias_size``
    values; None when ``bias_size`` is None, i.e. the layer was built with ``bias=False``)."""
    module.weight = Parameter(factories.empty(*weight_shape, dtype=dtype, device=device))
    if bias_size is None:
        module.register_parameter("bias", None)
    else:
        module.bias = Parameter(factories.empty(bias_size, dtype=dtype, device=device))


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features); input (*, in_features) -> (*, out_features).

    Default initialisation: W ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and
    b ~ U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        in_features = checks.integer("Linear", "in_features", in_features, low=0)
        out_features = checks.integer("Linear", "out_features", out_features, low=0)
        self.in_features = in_features
        self.out_features = out_features
        add_weight_and_bias(self, (out_features, in_features), out_features if bias else None, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        shape = _shape(input)
        if shape[-1:] != (self.in_features,):
            raise self._input_error(
                f"expected input with last dimension {self.in_features}, got input of shape {shape}"
            )
        return F.linear(input, _fast(self, "weight"), _fast(self, "bias"))

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")

    def _short_repr(self):
        bias = "" if self.bias is not None else ", bias=False"
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}{bias})"
