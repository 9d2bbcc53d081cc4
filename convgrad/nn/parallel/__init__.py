"""``convgrad.nn.parallel``, as ``torch.nn.parallel``: running one model on several GPUs. On the CPU,
``DataParallel`` wraps the module and calls it unchanged, as PyTorch does without GPUs."""

from convgrad import _unsupported
from convgrad.devices import as_device
from convgrad.nn.modules.module import Module
from convgrad.nn.parallel.distributed import DistributedDataParallel


class DataParallel(Module):
    """``DataParallel(module)``: ``forward`` is ``module(*inputs)``; the wrapped module is ``.module``
    (state-dict keys start with ``module.``, as in PyTorch)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected module to be an nn.Module, got {type(module).__name__}")
        _check_no_gpus("DataParallel", device_ids, output_device)
        self.module = module
        self.device_ids = []
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """The functional ``DataParallel``: ``module(*inputs, **module_kwargs)`` on the CPU.

    PyTorch without a GPU raises here ("device type could not be determined"); convgrad evaluates the
    module, the result PyTorch computes on GPUs."""
    _check_no_gpus("data_parallel", device_ids, output_device)
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))


def _check_no_gpus(op, device_ids, output_device):
    ids = list(device_ids) if device_ids is not None else []
    if output_device is not None and output_device != -1:
        ids.append(output_device)
    for d in ids:
        dev = as_device(d, op) if not isinstance(d, int) else None
        if dev is None or dev.type != "cpu":
            raise RuntimeError(
                f"{op}: expected no GPU device ids, got {d!r}: convgrad computes on the CPU only "
                f"(check convgrad.cuda.device_count() before listing GPUs)"
            )


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torch.nn.parallel", __name__, name)
