"""Reading ``torch.save`` files (the zip format) without PyTorch and without pickle's code execution.

A ``torch.save`` file is a zip archive: ``<name>/data.pkl`` is a pickle of the saved object whose tensors
refer to raw storages stored beside it (``<name>/data/<key>``). The pickle is read by a restricted
unpickler that resolves only an allow-list of globals, the ones ``torch.load(weights_only=True)`` accepts
for plain state dicts: the tensor and parameter rebuild functions, the storage types, dtypes,
``torch.Size``/``torch.device``, ``collections.OrderedDict``/``Counter`` and the builtin containers. Each
is replaced by a NumPy-side stand-in; anything else (``os.system``, a model class, ...) is refused before
it can be called, with a message naming the global. Tensors come back as convgrad Tensors (parameters as
``nn.Parameter``), so ``model.load_state_dict(convgrad.load("resnet18.pth"))`` works.
"""

import collections
import io
import pickle
import zipfile

import numpy as np

# storage class -> NumPy dtype ("bfloat16" is widened to float32 on load: NumPy has no bfloat16)
_STORAGES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "UntypedStorage": np.uint8,
}
_DTYPES = {
    "float64": np.float64, "double": np.float64, "float32": np.float32, "float": np.float32,
    "float16": np.float16, "half": np.float16, "bfloat16": "bfloat16", "int64": np.int64,
    "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16, "short": np.int16,
    "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list (it would run code to load)."""


class _StorageType:
    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


class _Storage:
    """A flat NumPy array: one storage of the archive."""

    def __init__(self, array, dtype):
        self.array, self.dtype = array, dtype


def _as_dtype(dtype, raw):
    """``raw`` (a 1-D array read as ``dtype``; "bfloat16" read as uint16) in a NumPy dtype."""
    if isinstance(dtype, str):  # bfloat16: the upper half of a float32
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, *rest, dtype=None):
    from convgrad.tensor import Tensor

    flat = storage.array
    target = storage.dtype if dtype is None else dtype
    if dtype is not None and flat.dtype == np.uint8 and target is not np.uint8:
        # an untyped storage: view its bytes as the tensor's dtype
        flat = flat.view(np.uint16 if isinstance(target, str) else target)
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(offset)
    if len(size) != len(stride) or min(stride, default=0) < 0:
        raise ValueError(f"convgrad.load: a tensor has an invalid layout (size {size}, stride {stride})")
    if 0 not in size:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if offset < 0 or last >= flat.size:
            raise ValueError(f"convgrad.load: a tensor of size {size} reaches past its storage "
                             f"({flat.size} elements): the file is damaged")
        view = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * flat.itemsize for s in stride])
        array = np.array(view)
    else:
        array = np.zeros(size, flat.dtype)
    array = _as_dtype(target, array)
    t = Tensor._make(np.ascontiguousarray(array))
    if requires_grad and t.dtype.kind == "f":
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
    return _rebuild_tensor(storage, offset, size, stride, requires_grad, dtype=dtype)


def _rebuild_parameter(data, requires_grad, *rest):
    from convgrad.nn.parameter import Parameter

    return Parameter(data, requires_grad=bool(requires_grad))


def _rebuild_from_type_v2(func, new_type, args, state):
    return func(*args)


def _tensor_type(*args):
    raise UnsafeCheckpointError("convgrad.load: the pickle builds a tensor subclass directly; only "
                                "tensors rebuilt from storages are read")


def _size(values=()):
    return tuple(values)


def _device(*args):
    return str(args[0]) if args else "cpu"


def _layout(name=None):
    return name


def _allowed():
    table = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "slice"): slice,
        ("builtins", "range"): range, ("builtins", "complex"): complex, ("builtins", "bytearray"): bytearray,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch.nn.parameter", "Parameter"): _rebuild_parameter,
        ("torch", "Tensor"): _tensor_type,
        ("torch", "Size"): _size,
        ("torch", "device"): _device,
        ("torch.serialization", "_get_layout"): _layout,
    }
    for name, dtype in _STORAGES.items():
        table[("torch", name)] = _StorageType(name, dtype)
        table[("torch.storage", name)] = _StorageType(name, dtype)
    for name, dtype in _DTYPES.items():
        table[("torch", name)] = dtype
    return table


_ALLOWED = _allowed()


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data, archive, prefix, where, big_endian):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.where, self.big_endian = archive, prefix, where, big_endian
        self.storages = {}

    def find_class(self, module, name):
        fn = _ALLOWED.get((module, name))
        if fn is None:
            raise UnsafeCheckpointError(
                f"convgrad.load: {self.where} was refused: its pickle asks for the global '{module}.{name}', "
                "which is not on the allow-list (tensors, storages, dtypes, OrderedDict and plain "
                "containers: the rules of torch.load(weights_only=True)). Loading it would run code. If "
                "you trust the file, re-save its state_dict in PyTorch (or with safetensors) and load that."
            )
        return fn

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"convgrad.load: {self.where} has an unknown persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"convgrad.load: {self.where}: storage {key} has no storage type")
        if key not in self.storages:
            member = f"{self.prefix}data/{key}"
            try:
                raw = self.archive.read(member)
            except KeyError:
                raise ValueError(f"convgrad.load: {self.where} is damaged: storage '{member}' is "
                                 "missing") from None
            dtype = storage_type.dtype
            read_as = np.dtype(np.uint16 if isinstance(dtype, str) else dtype)
            if self.big_endian:
                read_as = read_as.newbyteorder(">")
            if len(raw) % read_as.itemsize:
                raise ValueError(f"convgrad.load: {self.where} is damaged: storage '{member}' has "
                                 f"{len(raw)} bytes, not a whole number of {read_as} elements")
            array = np.frombuffer(raw, read_as)
            if self.big_endian:
                array = array.astype(read_as.newbyteorder("="))
            self.storages[key] = _Storage(array, dtype)
        return self.storages[key]


def is_torch_zip(data):
    """Whether ``data`` (bytes) is a zip archive holding a ``data.pkl``: a ``torch.save`` file."""
    if data[:4] != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return any(n.endswith("data.pkl") for n in z.namelist())
    except zipfile.BadZipFile:
        return False


def load_torch(data, where="<bytes>"):
    """The object a ``torch.save`` zip file (given as bytes) holds, read without running code."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValueError(f"convgrad.load: {where} is not a readable zip archive (a damaged torch.save "
                         "file?)") from None
    with archive:
        pkls = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pkls) != 1:
            raise ValueError(f"convgrad.load: {where} is a zip archive but not a torch.save file (expected "
                             f"one data.pkl, found {len(pkls)})")
        prefix = pkls[0][: -len("data.pkl")]
        big_endian = False
        if f"{prefix}byteorder" in archive.namelist():
            order = archive.read(f"{prefix}byteorder").decode().strip()
            if order not in ("little", "big"):
                raise ValueError(f"convgrad.load: {where} has an unknown byte order {order!r}")
            big_endian = order == "big"
        unpickler = _RestrictedUnpickler(archive.read(pkls[0]), archive, prefix, where, big_endian)
        try:
            return unpickler.load()
        except UnsafeCheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, IndexError) as e:
            raise ValueError(f"convgrad.load: {where} could not be read as a torch.save file: {e}") from None


def load(f):
    """``convgrad.load`` for a ``torch.save`` file: a path or a binary file object."""
    if hasattr(f, "read"):
        return load_torch(f.read(), f"'{getattr(f, 'name', '<file object>')}'")
    with open(f, "rb") as fh:
        return load_torch(fh.read(), f"'{f}'")
