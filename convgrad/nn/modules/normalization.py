"""Normalisation layers: ``BatchNorm1d/2d/3d`` (per channel over the batch), ``InstanceNorm1d/2d/3d`` (per
channel of each sample), ``LayerNorm`` (over the last dims of each sample), ``GroupNorm`` (over groups of
channels of each sample), ``LocalResponseNorm``.

    y = (x - mean) / sqrt(var + eps) * weight + bias
"""

import warnings

from convgrad import _checks as checks
from convgrad import factories
from convgrad.nn import functional as F
from convgrad.nn import init
from convgrad.nn.modules.module import Module, _fast
from convgrad.nn.modules.utils import _shape
from convgrad.nn.parameter import Parameter
from convgrad.tensor_functions import tensor as _tensor


class _NormBase(Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = checks.integer(type(self).__name__, "num_features", num_features, low=0)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(factories.empty(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(factories.empty(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", factories.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", factories.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", _tensor(0, dtype="int64"))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean._data.fill(0)
            self.running_var._data.fill(1)
            self.num_batches_tracked._data.fill(0)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _short_repr(self):
        return f"{type(self).__name__}({self.num_features})"

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs, assign=False):
        # state dicts without the counter (written before PyTorch 0.4.1 added it, or by code that drops
        # it) load as in PyTorch, strict or not: the counter keeps its current value
        key = prefix + "num_batches_tracked"
        if self.track_running_stats and key not in state_dict:
            state_dict = {**state_dict, key: self.num_batches_tracked}
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs, assign)


class _BatchNorm(_NormBase):
    _dims = (4,)
    _layout = "(N, C, H, W)"

    def _check_input_dim(self, input):
        shape = _shape(input)
        if len(shape) not in self._dims:
            raise self._input_error(f"expected a {self._layout} input, got input of shape {shape}")
        if shape[1] != self.num_features:
            raise self._input_error(
                f"expected {self.num_features} channels (num_features), got input of shape {shape}"
            )

    def forward(self, input):
        """Training: normalise with the batch's statistics and update the running ones
        (running = (1 - momentum) running + momentum batch; momentum=None: cumulative average).
        Evaluation: normalise with the running statistics."""
        return F.batch_norm(input, *self._batch_norm_args(input))

    def _forward_relu(self, input):
        """relu(self(input)) as one fused node (``F.batch_norm_relu``), for a block whose ReLU follows
        this layer directly; the caller checks that no hook needs to see the output in between."""
        return F.batch_norm_relu(input, *self._batch_norm_args(input))

    def _batch_norm_args(self, input):
        """The arguments of ``F.batch_norm`` after the input (counting the batch in training)."""
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        running_mean, running_var = _fast(self, "running_mean"), _fast(self, "running_var")
        tracked = _fast(self, "num_batches_tracked")
        if self.training and self.track_running_stats and tracked is not None:
            tracked._data += 1
            tracked._bump_version()
            factor = 1.0 / float(tracked._data) if self.momentum is None else self.momentum
        bn_training = self.training or (running_mean is None and running_var is None)
        use_running = not self.training or self.track_running_stats
        return (running_mean if use_running else None, running_var if use_running else None,
                _fast(self, "weight"), _fast(self, "bias"), bn_training, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) per channel C."""

    _dims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) per channel C."""


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) per channel C."""

    _dims = (5,)
    _layout = "(N, C, D, H, W)"


class _InstanceNorm(_NormBase):
    """PyTorch's defaults differ from batch normalisation's: no affine parameters and no running
    statistics unless asked for. An input without the batch dimension is taken as one sample."""

    _dim = 2  # dims of an unbatched input
    _layout = "(N, C, L) or (C, L)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input):
        """Each (sample, channel) normalised over its own positions; in evaluation mode with
        ``track_running_stats`` the running statistics are used instead."""
        shape = _shape(input)
        if len(shape) not in (self._dim, self._dim + 1):
            raise self._input_error(f"expected a {self._layout} input, got input of shape {shape}")
        unbatched = len(shape) == self._dim
        channels = shape[0] if unbatched else shape[1]
        if channels != self.num_features:
            if self.affine:
                raise self._input_error(
                    f"expected {self.num_features} channels (num_features), got input of shape {shape}")
            # PyTorch normalises anyway when there are no per-channel parameters, and warns
            warnings.warn(f"{type(self).__name__}: input of shape {shape} has {channels} channels, "
                          f"num_features={self.num_features}; normalising anyway (affine=False)",
                          stacklevel=2)
        x = input.unsqueeze(0) if unbatched else input
        use_input_stats = self.training or not self.track_running_stats
        out = F.instance_norm(x, _fast(self, "running_mean"), _fast(self, "running_var"),
                              _fast(self, "weight"), _fast(self, "bias"), use_input_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L): each sample's channel over its L positions."""


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W): each sample's channel over its plane (style
    transfer)."""

    _dim = 3
    _layout = "(N, C, H, W) or (C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W)."""

    _dim = 4
    _layout = "(N, C, D, H, W) or (C, D, H, W)"


def _affine_parameters(module, shape, affine, bias, dtype, device):
    """The learned scale (``weight``) and shift (``bias``) of a normalisation, or None for each absent one."""
    weight = Parameter(factories.empty(*shape, dtype=dtype, device=device)) if affine else None
    shift = Parameter(factories.empty(*shape, dtype=dtype, device=device)) if affine and bias else None
    module.register_parameter("weight", weight)
    module.register_parameter("bias", shift)


def _reset_affine(module):
    """Scale 1, shift 0: a normalisation starts as the identity on its normalised values."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class LayerNorm(Module):
    """Normalises each sample over its last ``len(normalized_shape)`` dimensions."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None,
                 dtype=None):
        super().__init__()
        if checks.is_int(normalized_shape):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list)) or not all(checks.is_int(n) and n >= 0
                                                                      for n in normalized_shape):
            raise checks.error("LayerNorm", "normalized_shape to be an int or a sequence of ints >= 0",
                               f"normalized_shape={checks.show(normalized_shape)}", TypeError)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        shape = _shape(input)
        n = len(self.normalized_shape)
        if shape[len(shape) - n:] != self.normalized_shape or len(shape) < n:
            raise self._input_error(
                f"expected input with trailing shape {self.normalized_shape}, got input of shape {shape}"
            )
        weight, bias = _fast(self, "weight"), _fast(self, "bias")
        return F.layer_norm(input, self.normalized_shape, weight, bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalises each sample over groups of ``num_channels // num_groups`` channels (and all positions)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *,
                 bias=True):
        super().__init__()
        num_groups = checks.integer("GroupNorm", "num_groups", num_groups, low=1)
        num_channels = checks.integer("GroupNorm", "num_channels", num_channels, low=0)
        if num_channels % num_groups != 0:
            raise checks.error("GroupNorm", f"num_channels divisible by num_groups={num_groups}",
                               f"num_channels={num_channels}", ValueError)
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, (num_channels,), affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        shape = _shape(input)
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise self._input_error(f"expected {self.num_channels} channels, got input of shape {shape}")
        return F.group_norm(input, self.num_groups, _fast(self, "weight"), _fast(self, "bias"), self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """b_c = a_c / (k + alpha / size * sum over `size` neighbouring channels of a^2)^beta (AlexNet)."""

    _repr_args = ("size",)
    _repr_fields = ("alpha", "beta", "k")

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)
