"""Pooling layers: max, average, adaptive (output size fixed, windows adapt) and max-unpooling.

Output size per spatial dim: floor((L + 2 padding - dilation (k - 1) - 1) / stride) + 1 (ceil with ceil_mode).
"""

from convgrad.nn import functional as F
from convgrad.nn.modules.module import Module
from convgrad.nn.modules.utils import _pair, _single


class _PoolNd(Module):
    """The functional ops check the input (the module puts the layer's name in front of their errors)."""

    _n = 2
    _repr_fields = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride, padding, n_tuple=None, **options):
        """Store the window: ``kernel_size``, ``stride`` (None: the kernel size, PyTorch's default) and
        ``padding``, as given or made ``n_tuple``s (the layers whose PyTorch counterparts store tuples);
        then the layer's other ``options``, each under its name."""
        super().__init__()
        as_stored = n_tuple or (lambda v: v)
        self.kernel_size = as_stored(kernel_size)
        self.stride = as_stored(stride if stride is not None else kernel_size)
        self.padding = as_stored(padding)
        for name, value in options.items():
            setattr(self, name, value)


class _MaxPoolNd(_PoolNd):
    _repr_fields = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__(kernel_size, stride, padding, dilation=dilation, return_indices=return_indices,
                         ceil_mode=ceil_mode)

    def forward(self, input):
        max_pool = F.max_pool1d if self._n == 1 else F.max_pool2d
        return max_pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                        ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of (N, C, L)."""

    _n = 1


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of (N, C, H, W)."""


class AvgPool1d(_PoolNd):
    """Mean over sliding windows of (N, C, L)."""

    _n = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, _single, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(_PoolNd):
    """Mean over sliding windows of (N, C, H, W)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad, divisor_override=divisor_override)

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptivePoolNd(Module):
    _n = 2
    _repr_fields = ("output_size",)

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices


class _AdaptiveAvgPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size):
        super().__init__(output_size)

    def forward(self, input):
        avg_pool = F.adaptive_avg_pool1d if self._n == 1 else F.adaptive_avg_pool2d
        return avg_pool(input, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def forward(self, input):
        max_pool = F.adaptive_max_pool1d if self._n == 1 else F.adaptive_max_pool2d
        return max_pool(input, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Mean pooling of (N, C, L) to (N, C, output_size)."""

    _n = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Mean pooling of (N, C, H, W) to (N, C, *output_size); ``AdaptiveAvgPool2d(1)``: global average."""


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, L) to (N, C, output_size)."""

    _n = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, H, W) to (N, C, *output_size)."""


class MaxUnpool2d(_PoolNd):
    """The partial inverse of MaxPool2d: puts each value back at its max position (``indices`` from
    ``MaxPool2d(return_indices=True)``), zeros elsewhere. H_out = (H - 1) stride - 2 padding + k."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(kernel_size, stride, padding, _pair)

    def forward(self, input, indices, output_size=None):
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size)
