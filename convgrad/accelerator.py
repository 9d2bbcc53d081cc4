"""``convgrad.accelerator``, as ``torch.accelerator``: PyTorch's device-agnostic way to ask for a GPU.
convgrad computes on the CPU, so there is no accelerator: ``is_available()`` is False,
``current_accelerator()`` is None, and what needs a device raises, as PyTorch on a machine without one.

    device = accelerator.current_accelerator() if accelerator.is_available() else device("cpu")
"""

_NONE = "Cannot access accelerator device when none is available (convgrad computes on the CPU)."


def _no_device(name):
    raise RuntimeError(f"accelerator.{name}: {_NONE}")


def is_available():
    return False


def current_accelerator(check_available=False):
    """The accelerator's device type (a ``device``), or None when there is none."""
    return None


def device_count():
    return 0


def current_device_index():
    _no_device("current_device_index")


current_device_idx = current_device_index


def set_device_index(device):
    _no_device("set_device_index")


set_device_idx = set_device_index


def current_stream(device=None):
    _no_device("current_stream")


def set_stream(stream):
    _no_device("set_stream")


def synchronize(device=None):
    _no_device("synchronize")


def empty_cache():
    _no_device("empty_cache")


def empty_host_cache():
    _no_device("empty_host_cache")


def get_device_capability(device=None):
    _no_device("get_device_capability")


def get_memory_info(device=None):
    _no_device("get_memory_info")


def memory_stats(device=None):
    _no_device("memory_stats")


def memory_allocated(device=None):
    _no_device("memory_allocated")


def max_memory_allocated(device=None):
    _no_device("max_memory_allocated")


def memory_reserved(device=None):
    _no_device("memory_reserved")


def max_memory_reserved(device=None):
    _no_device("max_memory_reserved")


def reset_peak_memory_stats(device=None):
    _no_device("reset_peak_memory_stats")


def reset_accumulated_memory_stats(device=None):
    _no_device("reset_accumulated_memory_stats")


class device_index:
    """``with accelerator.device_index(i):`` runs on accelerator ``i``; ``None`` does nothing."""

    def __init__(self, device, /):
        self.idx = device

    def __enter__(self):
        if self.idx is not None:
            _no_device("device_index")

    def __exit__(self, *exc):
        return False
