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


def _needs_a_device(name):
    """torch.accelerator's function ``name``, which needs a device: it raises, as PyTorch's does on a
    machine without one, whatever it is given."""
    def needs_a_device(*args, **kwargs):
        _no_device(name)

    needs_a_device.__name__ = needs_a_device.__qualname__ = name
    return needs_a_device


current_stream = _needs_a_device("current_stream")
set_stream = _needs_a_device("set_stream")
synchronize = _needs_a_device("synchronize")
empty_cache = _needs_a_device("empty_cache")
empty_host_cache = _needs_a_device("empty_host_cache")
get_device_capability = _needs_a_device("get_device_capability")
get_memory_info = _needs_a_device("get_memory_info")
memory_stats = _needs_a_device("memory_stats")
memory_allocated = _needs_a_device("memory_allocated")
max_memory_allocated = _needs_a_device("max_memory_allocated")
memory_reserved = _needs_a_device("memory_reserved")
max_memory_reserved = _needs_a_device("max_memory_reserved")
reset_peak_memory_stats = _needs_a_device("reset_peak_memory_stats")
reset_accumulated_memory_stats = _needs_a_device("reset_accumulated_memory_stats")


class device_index:
    """``with accelerator.device_index(i):`` runs on accelerator ``i``; ``None`` does nothing."""

    def __init__(self, device, /):
        self.idx = device

    def __enter__(self):
        if self.idx is not None:
            _no_device("device_index")

    def __exit__(self, *exc):
        return False
