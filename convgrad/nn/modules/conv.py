"""Convolution layers: ``Conv1d``, ``Conv2d`` and the transposed ``ConvTranspose1d``, ``ConvTranspose2d``.

Conv: weight (C_out, C_in / groups, *kernel); output size per spatial dim
    L_out = floor((L_in + 2 padding - dilation (k - 1) - 1) / stride) + 1.
ConvTranspose: weight (C_in, C_out / groups, *kernel);
    L_out = (L_in - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
"""


from convgrad import _checks as checks
from convgrad.geometry import conv_transpose_out_size, same_padding
from convgrad.nn import functional as F
from convgrad.nn.modules.linear import add_weight_and_bias, reset_weight_and_bias
from convgrad.nn.modules.module import Module, _fast
from convgrad.nn.modules.utils import _pair, _reverse_repeat_tuple, _shape, _single

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _n = 2  # spatial dimensions
    _layout = "(N, C, H, W)"

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        name, n = type(self).__name__, self._n
        in_channels = checks.integer(name, "in_channels", in_channels, low=0)
        out_channels = checks.integer(name, "out_channels", out_channels, low=0)
        groups = checks.integer(name, "groups", groups, low=1)
        kernel_size = checks.ints(name, "kernel_size", kernel_size, n, low=0, exc=ValueError)
        stride = checks.ints(name, "stride", stride, n, exc=ValueError)
        dilation = checks.ints(name, "dilation", dilation, n, exc=ValueError)
        for what, c in (("in_channels", in_channels), ("out_channels", out_channels)):
            if c % groups:
                raise checks.error(name, f"{what} divisible by groups={groups}", f"{what}={c}", ValueError)
        if not isinstance(padding, str):
            checks.ints(name, "padding", padding, n, low=0, exc=ValueError)
        if isinstance(padding, str):
            checks.choice(name, "padding", padding, ("same", "valid"))
            if padding == "same" and any(s != 1 for s in stride):
                raise checks.error(name, "stride 1 with padding='same'", f"stride={stride}", ValueError)
        checks.choice(name, "padding_mode", padding_mode, _PADDING_MODES)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's (last dim first) padding, used for non-zero padding modes and asymmetric 'same'
        if isinstance(padding, str):
            pads = [(0, 0)] * len(kernel_size)
            if padding == "same":
                pads = [same_padding(k, d) for k, d in zip(kernel_size, dilation)]
            self._reversed_padding_repeated_twice = tuple(q for pair in reversed(pads) for q in pair)
        else:
            self._reversed_padding_repeated_twice = _reverse_repeat_tuple(padding, 2)
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        add_weight_and_bias(self, shape, out_channels if bias else None, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        reset_weight_and_bias(self.weight, self.bias)

    def extra_repr(self, brief=False):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        if not brief or self.stride != (1,) * len(self.stride):
            s += f", stride={self.stride}"
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _short_repr(self):
        return f"{type(self).__name__}({self.extra_repr(brief=True)})"

    def _check_input(self, input):
        """Batched (N, C, *spatial) or unbatched (C, *spatial) input with ``in_channels`` channels."""
        shape = _shape(input)
        n = self._n
        if len(shape) not in (n + 1, n + 2):
            raise self._input_error(
                f"expected a {n + 2}-D input {self._layout} or an unbatched {n + 1}-D one, "
                f"got input of shape {shape}"
            )
        if shape[-n - 1] != self.in_channels:
            raise self._input_error(
                f"expected {self.in_channels} input channel{'s' if self.in_channels != 1 else ''}, "
                f"got input of shape {shape}"
            )

    def _conv_forward(self, input, weight, bias):
        conv = F.conv1d if self._n == 1 else F.conv2d
        if self.padding_mode != "zeros":
            mode = self.padding_mode
            return conv(F.pad(input, self._reversed_padding_repeated_twice, mode=mode), weight, bias,
                        self.stride, 0, self.dilation, self.groups)
        padding = self.padding
        if isinstance(padding, str):
            pads = self._reversed_padding_repeated_twice
            if all(pads[i] == pads[i + 1] for i in range(0, len(pads), 2)):
                padding = tuple(pads[::-2])
            else:  # 'same' with an even kernel: one more zero after than before
                input = F.pad(input, pads)
                padding = 0
        return conv(input, weight, bias, self.stride, padding, self.dilation, self.groups)

    def forward(self, input):
        self._check_input(input)  # unbatched input: the functional op's business
        return self._conv_forward(input, _fast(self, "weight"), _fast(self, "bias"))


class _PlainConvNd(_ConvNd):
    """Conv1d's and Conv2d's constructor: int arguments become ``_n``-tuples."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        n_tuple = _single if self._n == 1 else _pair
        super().__init__(in_channels, out_channels, n_tuple(kernel_size), n_tuple(stride),
                         padding if isinstance(padding, str) else n_tuple(padding), n_tuple(dilation),
                         False, n_tuple(0), groups, bias, padding_mode, device, dtype)


class Conv1d(_PlainConvNd):
    """1-D convolution over (N, C_in, L) -> (N, C_out, L_out)."""

    _n = 1
    _layout = "(N, C, L)"


class Conv2d(_PlainConvNd):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""


class _ConvTransposeNd(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        if padding_mode != "zeros":
            raise checks.error(type(self).__name__, "padding_mode='zeros' (the only one for a transposed "
                               "convolution)", f"padding_mode={padding_mode!r}", ValueError)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def _output_size_error(self, what, output_size):
        e = checks.error(self._error_name(), what, f"output_size={output_size}", ValueError)
        e._convgrad_module = self  # already named: the module does not prefix it again
        return e

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = tuple(output_size)
        non_spatial = 2 if input.ndim == n + 2 else 1
        if len(output_size) == non_spatial + n:
            output_size = output_size[non_spatial:]
        if len(output_size) != n:
            raise self._output_size_error(f"an output_size of {n} or {non_spatial + n} elements for input "
                                          f"of shape {tuple(input.shape)}", output_size)
        lo = [conv_transpose_out_size(input.shape[d + non_spatial], self.kernel_size[d], self.stride[d],
                                      self.padding[d], self.dilation[d]) for d in range(n)]
        hi = [size + s - 1 for size, s in zip(lo, self.stride)]
        for d in range(n):
            if not lo[d] <= output_size[d] <= hi[d]:
                raise self._output_size_error(f"an output_size between {tuple(lo)} and {tuple(hi)} (valid "
                                              f"sizes for input of shape {tuple(input.shape)})", output_size)
        return tuple(output_size[d] - lo[d] for d in range(n))

    def forward(self, input, output_size=None):
        self._check_input(input)
        output_padding = self._output_padding(input, output_size)
        conv_t = F.conv_transpose1d if self._n == 1 else F.conv_transpose2d
        return conv_t(input, _fast(self, "weight"), _fast(self, "bias"), self.stride, self.padding,
                      output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (Conv1d's gradient w.r.t. its input): (N, C_in, L) -> (N, C_out, L_out)."""

    _n = 1
    _layout = "(N, C, L)"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride), _single(padding),
                         _single(dilation), True, _single(output_padding), groups, bias, padding_mode,
                         device, dtype)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride), _pair(padding),
                         _pair(dilation), True, _pair(output_padding), groups, bias, padding_mode,
                         device, dtype)
