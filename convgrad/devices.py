"""``device``: names where a tensor lives, as ``torch.device``. Any device can be named (scripts build
``device("cuda")`` before asking ``cuda.is_available()``); convgrad computes on the CPU, so only moving
data to another device fails, through ``check_device``."""

import numbers

# PyTorch's device types, in its order: the names a device string may start with.
DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
                "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


def _parse(text):
    """'cuda:1' -> ('cuda', 1); 'cuda' -> ('cuda', None), with PyTorch's errors for malformed strings."""
    kind, sep, idx = text.partition(":")
    if kind not in DEVICE_TYPES:
        if not kind.isalnum():
            raise RuntimeError(f"Invalid device string: '{text}'")
        raise RuntimeError(
            f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device string: {text}"
        )
    if not sep:
        return kind, None
    if not idx.isdigit() or (len(idx) > 1 and idx[0] == "0"):
        raise RuntimeError(f"Invalid device string: '{text}'")
    return kind, int(idx)


class device:
    """``device(type, index=None)``, ``device("cuda:0")``, ``device(other_device)``: a device type and an
    optional index, compared, hashed and printed as PyTorch does."""

    __slots__ = ("_type", "_index")

    def __init__(self, type, index=None):  # noqa: A002  (PyTorch's argument name)
        if isinstance(type, device):
            if index is not None:
                raise TypeError(f"device: expected no index with a device object, got index={index!r}")
            kind, idx = type.type, type.index
        elif isinstance(type, numbers.Integral) and not isinstance(type, bool):
            # PyTorch reads a bare integer as an index on the current accelerator; there is none here.
            raise RuntimeError("Cannot access accelerator device when none is available.")
        elif isinstance(type, str):
            kind, idx = _parse(type)
            if index is not None:
                if idx is not None:
                    raise RuntimeError(
                        f"type (string) must not include an index because index was passed explicitly: {type}"
                    )
                if not isinstance(index, numbers.Integral) or isinstance(index, bool):
                    raise TypeError(f"device: expected index to be an int, got {index!r}")
                if index < 0:
                    raise RuntimeError("Device index must not be negative")
                idx = int(index)
        else:
            raise TypeError(f"device: expected a device string, device or int, got {type!r}")
        object.__setattr__(self, "_type", kind)
        object.__setattr__(self, "_index", idx)

    @property
    def type(self):
        return self._type

    @property
    def index(self):
        return self._index

    def __setattr__(self, name, value):
        raise AttributeError(f"device: attribute '{name}' is read-only")

    def __repr__(self):
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __eq__(self, other):
        # as PyTorch: a device equals only a device (device("cpu") != "cpu"; compare .type for that)
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self):
        return hash((self._type, self._index))

    def __reduce__(self):
        return device, (self._type, self._index)


cpu = device("cpu")


def as_device(d, op="to"):
    """``d`` (a string, device or None) as a device, with ``op`` named in the error for a bad value."""
    if d is None or isinstance(d, device):
        return d
    if isinstance(d, str):
        return device(d)
    raise TypeError(f"{op}: expected a device (a string such as 'cpu' or a convgrad.device), got {d!r}")


def check_device(d, op="to"):
    """Raise unless ``d`` is None or a CPU device: convgrad has no other device to put data on."""
    if d is None:
        return
    dev = as_device(d, op)
    if dev.type != "cpu":
        raise RuntimeError(
            f"{op}: expected device 'cpu', got '{dev}': convgrad computes on the CPU only (there is no "
            f"{dev.type} backend); use 'cpu', or choose the device with convgrad.accelerator.is_available()"
        )
