"""Small layers that wrap one functional op each: ``GLU``, ``RReLU``, ``Bilinear``, ``CosineSimilarity``,
``PairwiseDistance``, ``Unfold``, ``Fold`` and ``ChannelShuffle`` (ShuffleNet)."""

import math

from convgrad.nn import functional as F
from convgrad.nn import init
from convgrad.nn.modules.linear import add_weight_and_bias
from convgrad.nn.modules.module import Module, _FunctionalLayer


class GLU(Module):
    """a * sigmoid(b), a and b the two halves of the input along ``dim`` (that size halves)."""

    _repr_fields = ("dim",)

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)


class RReLU(Module):
    """x if x >= 0 else a x, a ~ U(lower, upper) per element in training, (lower + upper) / 2 in eval."""

    _repr_fields = ("lower", "upper", "inplace")

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)


class Bilinear(Module):
    """y_k = x1^T W_k x2 + b_k; W (out, in1, in2), both initialised U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        add_weight_and_bias(self, (out_features, in1_features, in2_features), out_features if bias else None,
                            device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class CosineSimilarity(Module):
    """x1 . x2 / max(||x1|| ||x2||, eps) along ``dim``."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dim."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class Unfold(_FunctionalLayer):
    """im2col: (N, C, H, W) -> (N, C kh kw, L), one column per sliding window position."""

    _repr_fields = ("kernel_size", "dilation", "padding", "stride")
    _function = staticmethod(F.unfold)

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__(kernel_size, dilation, padding, stride)


class Fold(_FunctionalLayer):
    """col2im, the adjoint of Unfold: (N, C kh kw, L) -> (N, C, *output_size), overlaps summed."""

    _repr_fields = ("output_size", "kernel_size", "dilation", "padding", "stride")
    _function = staticmethod(F.fold)

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__(output_size, kernel_size, dilation, padding, stride)


class ChannelShuffle(_FunctionalLayer):
    """(N, g k, *) -> channels reordered as (k, g): ShuffleNet's mixing of grouped convolutions' groups."""

    _repr_fields = ("groups",)
    _function = staticmethod(F.channel_shuffle)

    def __init__(self, groups):
        super().__init__(groups)
