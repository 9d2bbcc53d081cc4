"""``convgrad.cuda``, as ``torch.cuda`` in a PyTorch built without CUDA: scripts may ask
(``is_available()`` is False, ``device_count()`` is 0), seed (no-ops) and read memory counters (0);
what needs a GPU raises."""

from convgrad import _unsupported
from convgrad.cuda import amp  # noqa: F401


def _no_cuda(name):
    raise AssertionError(
        f"cuda.{name}: convgrad has no CUDA support (it computes on the CPU); check "
        f"convgrad.cuda.is_available() before using the GPU"
    )


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def is_bf16_supported(including_emulation=True):
    return False


def is_tf32_supported():
    return False


def get_arch_list():
    return []


def manual_seed(seed):
    """Seeds the GPU generator in PyTorch; there is none (seed the CPU with ``convgrad.manual_seed``)."""


manual_seed_all = manual_seed


def seed():
    pass


seed_all = seed


def empty_cache():
    pass


def memory_allocated(device=None):
    return 0


max_memory_allocated = memory_reserved = max_memory_reserved = memory_allocated
memory_cached = max_memory_cached = memory_allocated


def memory_stats(device=None):
    return {}


def _raiser(name):
    def fn(*args, **kwargs):
        _no_cuda(name)

    fn.__name__ = name
    fn.__doc__ = f"Raises: ``cuda.{name}`` needs a CUDA device."
    return fn


for _name in ("init current_device set_device synchronize get_device_name get_device_properties "
              "get_device_capability get_rng_state get_rng_state_all set_rng_state set_rng_state_all "
              "initial_seed mem_get_info ipc_collect current_stream default_stream stream "
              "reset_peak_memory_stats memory_summary").split():
    globals()[_name] = _raiser(_name)
del _name


class device:
    """``with cuda.device(i):`` selects GPU ``i``: there is none."""

    def __init__(self, device):
        self.idx = device

    def __enter__(self):
        _no_cuda("device")

    def __exit__(self, *exc):
        return False


class Stream:
    def __init__(self, *args, **kwargs):
        _no_cuda("Stream")


class Event:
    def __init__(self, *args, **kwargs):
        _no_cuda("Event")


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torch.cuda", __name__, name)
