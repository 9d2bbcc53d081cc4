"""``SyncBatchNorm``: batch normalisation whose statistics are those of the batches of every rank together.

    mean = sum_r sum(x_r) / N,  var = sum_r sum((x_r - mean)^2) / N   (N: elements per channel, all ranks)
"""

import numpy as np

from convgrad import distributed as dist
from convgrad.autograd.function import NumpyFunction
from convgrad.nn.modules.module import _fast
from convgrad.nn.modules.normalization import _BatchNorm


def _allreduce(comm, array):
    return dist._allreduce_array(array, comm, "SyncBatchNorm all-reduce")


class _SyncBatchNormFunction(NumpyFunction):
    """Forward: two all-reduces (per-channel sums and counts, then squared deviations); backward: one (the
    sums of dy and dy * x_hat), so each rank's input gradient includes the other ranks' losses through the
    shared statistics. The weight and bias gradients stay local: DistributedDataParallel averages them."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, factor, eps, comm):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        first = np.concatenate([x.sum(axis=axes), [x.size // x.shape[1]]]).astype(x.dtype)
        first = _allreduce(comm, first)
        count = first[-1]
        mean = first[:-1] / count
        centred = x - mean.reshape(shape)
        squares = _allreduce(comm, np.square(centred).sum(axis=axes))
        var = squares / count
        invstd = 1.0 / np.sqrt(var + eps)
        xhat = centred * invstd.reshape(shape)
        if running_mean is not None:
            running_mean *= 1 - factor
            running_mean += factor * mean
            running_var *= 1 - factor
            running_var += factor * squares / max(count - 1, 1)  # unbiased, as BatchNorm's
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.count, ctx.comm, ctx.axes, ctx.shape = count, comm, axes, shape
        y = xhat * weight.reshape(shape) if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(shape)
        return y

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, weight = ctx.saved_tensors
        axes, shape = ctx.axes, ctx.shape
        local = np.concatenate([g.sum(axis=axes), (g * xhat).sum(axis=axes)])
        dbias, dweight = local[: len(invstd)].copy(), local[len(invstd):].copy()
        both = _allreduce(ctx.comm, local)
        g_sum, g_xhat = both[: len(invstd)], both[len(invstd):]
        scale = invstd if weight is None else invstd * weight
        dx = (g - (g_sum / ctx.count).reshape(shape) - xhat * (g_xhat / ctx.count).reshape(shape))
        dx *= scale.reshape(shape)
        return dx, dweight, dbias, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of (N, C, *) per channel C with statistics over every rank's batch (training,
    in a process group); otherwise it is BatchNorm. ``convert_sync_batchnorm`` swaps a model's BatchNorms
    for it."""

    _dims = (2, 3, 4, 5)
    _layout = "(N, C, *)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input):
        if not (self.training and dist.is_initialized()):
            return super().forward(input)
        self._check_input_dim(input)
        comm = dist._comm(type(self).__name__, self.process_group)
        factor = 0.0 if self.momentum is None else self.momentum
        running_mean, running_var = _fast(self, "running_mean"), _fast(self, "running_var")
        tracked = _fast(self, "num_batches_tracked")
        if self.track_running_stats and tracked is not None:
            tracked._data += 1
            tracked._bump_version()
            factor = 1.0 / float(tracked._data) if self.momentum is None else self.momentum
        track = self.track_running_stats and running_mean is not None
        stats = (running_mean._data, running_var._data) if track else (None, None)
        return _SyncBatchNormFunction.apply(input, _fast(self, "weight"), _fast(self, "bias"), *stats,
                                            factor, self.eps, comm)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm sharing its parameters and
        running statistics (``module`` itself when it is one)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(out, name, getattr(module, name))
            out.train(module.training)
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out

