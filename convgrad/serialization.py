"""``convgrad.save`` / ``convgrad.load``: checkpoints in the safetensors format, never pickle.

A checkpoint is a safetensors file: every tensor (and NumPy array) of the saved object is stored under
its dotted path (``model.conv1.weight``, ``optimizer.state.0.exp_avg``), and the header's
``__metadata__`` holds a JSON description of the whole structure: the dicts, lists and tuples, their
keys (ints stay ints) and the non-tensor leaves (numbers, strings, booleans, None). ``load`` rebuilds
the object from that description; nothing in the file is ever executed. A plain safetensors file
without convgrad's metadata loads as a flat dict of tensors.

Writes are atomic: the bytes go to a temporary file in the same folder, are flushed and fsync'ed, and
replace the target with ``os.replace``; then the folder is fsync'ed. A crash at any moment leaves
either the old file or the new one.
"""

import json
import math
import os
import struct
import tempfile
from collections import Counter, OrderedDict

import numpy as np

from convgrad.devices import check_device, device

_FORMAT = "convgrad"
_VERSION = "1"
_MAX_HEADER = 100 * 1024 * 1024


def _safetensors():
    try:
        import safetensors.numpy as stn
    except ImportError:
        raise ImportError(
            "convgrad.save/convgrad.load need the 'safetensors' package (pip install safetensors)"
        ) from None
    return stn


# ---------------------------------------------------------------------- encoding
class _Encoder:
    """Walks the object: tensors go to ``self.tensors`` under dotted names, the rest becomes JSON."""

    def __init__(self):
        self.tensors = {}
        self.names = {}  # id(array) -> name: an array saved twice is stored once (and shared on load)
        self.keep = []  # keep encoded arrays alive so their ids stay unique

    def _store(self, array, path):
        if id(array) in self.names:
            return self.names[id(array)]
        name = path or "tensor"
        k = 1
        while name in self.tensors:
            k += 1
            name = f"{path or 'tensor'}#{k}"
        if array.dtype.kind not in "biuf":
            raise TypeError(
                "convgrad.save: expected a tensor of bool, integer or floating dtype at "
                f"'{path or '(root)'}', got dtype {array.dtype}"
            )
        # safetensors writes the raw buffer in C order: views (transposes, strided slices) and Fortran
        # arrays must be laid out in C order first or their values come back permuted
        stored = np.asarray(array, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        if stored.dtype.byteorder == ">":
            stored = stored.astype(stored.dtype.newbyteorder("<"))
        self.tensors[name] = stored
        self.names[id(array)] = name
        self.keep.append(array)
        return name

    def encode(self, obj, path):
        from convgrad.nn.parameter import Parameter
        from convgrad.tensor import Tensor

        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            if math.isfinite(obj):
                return obj
            return {"F": repr(obj)}
        if isinstance(obj, Tensor):
            node = {"T": self._store(obj._data, path)}
            if obj.requires_grad:
                node["rg"] = True
            if isinstance(obj, Parameter):
                node["P"] = True
            return node
        if isinstance(obj, np.ndarray):
            return {"A": self._store(obj, path)}
        if isinstance(obj, np.generic):
            return {"S": self._store(np.asarray(obj), path)}
        if isinstance(obj, np.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, float, bool, tuple)) and k is not None:
                    raise TypeError(
                        f"convgrad.save: dict keys must be strings, numbers, booleans, None or tuples; "
                        f"got a key of type {type(k).__name__} at '{path}'"
                    )
                key_path = f"{path}.{k}" if path else str(k)
                items.append([self.encode(k, key_path + ".key"), self.encode(v, key_path)])
            node = {"D": items}
            if isinstance(obj, Counter):
                node["t"] = "Counter"
            elif isinstance(obj, OrderedDict):
                node["t"] = "OrderedDict"
            return node
        if isinstance(obj, (list, tuple)):
            values = [self.encode(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]
            return values if isinstance(obj, list) else {"U": values}
        hint = ""
        if hasattr(obj, "state_dict"):
            hint = f" Save its state_dict() instead (a {type(obj).__name__} is code, not data)."
        raise TypeError(
            f"convgrad.save: cannot save a {type(obj).__name__} at '{path or '(root)'}': checkpoints hold "
            "tensors, NumPy arrays, numbers, strings, booleans, None and dicts/lists/tuples of these "
            f"(convgrad never pickles).{hint}"
        )


class _Decoder:
    def __init__(self, arrays, where):
        self.arrays = arrays
        self.where = where
        self.made = {}  # name -> Tensor, so a tensor saved twice comes back as one object

    def _array(self, name):
        if name not in self.arrays:
            raise ValueError(
                f"convgrad.load: {self.where} is damaged: tensor '{name}' is described but missing"
            )
        return self.arrays[name]

    def decode(self, node):
        from convgrad.nn.parameter import Parameter
        from convgrad.tensor import Tensor

        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            raise ValueError(f"convgrad.load: {self.where} has an unreadable structure entry {node!r}")
        if "T" in node:
            name = node["T"]
            key = (name, bool(node.get("rg")), bool(node.get("P")))
            if key not in self.made:
                array = self._array(name)
                if node.get("P"):
                    t = Parameter(Tensor._make(array), requires_grad=bool(node.get("rg")))
                else:
                    t = Tensor._make(array)
                    if node.get("rg"):
                        t.requires_grad_(True)
                self.made[key] = t
            return self.made[key]
        if "A" in node:
            return self._array(node["A"])
        if "S" in node:
            return self._array(node["S"])[()]
        if "F" in node:
            return float(node["F"])
        if "dtype" in node:
            return np.dtype(node["dtype"])
        if "U" in node:
            return tuple(self.decode(v) for v in node["U"])
        if "D" in node:
            kind = {"Counter": Counter, "OrderedDict": OrderedDict}.get(node.get("t"), dict)
            out = kind()
            for k, v in node["D"]:
                key = self.decode(k)
                out[tuple(key) if isinstance(key, list) else key] = self.decode(v)
            return out
        raise ValueError(f"convgrad.load: {self.where} has an unreadable structure entry {node!r}")


# ---------------------------------------------------------------------- files
def _umask():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows: directories cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Test hook (tests/test_file_faults.py, tests/test_checkpoint_kill.py): "STAGE:NAME:K:FLAG" makes the K-th
# write (counted from 1 in this process) to a file called NAME ("*": any file) stop at STAGE (created,
# half, written, replaced), create the file FLAG holding the temporary file's name and sleep, so a test
# can SIGKILL the process at that exact moment.
PAUSE_ENV = "CONVGRAD_TEST_PAUSE_IN_WRITE"
_write_counts = Counter()


def _pause_for(base, spec):
    """The (stage, flag) at which this write to ``base`` pauses under the test hook, or None."""
    if not spec:
        return None
    stage, name, k, flag = spec.split(":", 3)
    if name not in ("*", base):
        return None
    _write_counts[name] += 1
    return (stage, flag) if int(k) in (0, _write_counts[name]) else None


def _pause_here(stage, pause, tmp):
    if pause and pause[0] == stage:
        # the flag appears with its content (a test waiting for the file reads the path at once)
        with open(pause[1] + ".part", "w") as f:
            f.write(tmp)
        os.replace(pause[1] + ".part", pause[1])
        import time

        time.sleep(3600)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _clear_stale_temporaries(directory, base):
    """Remove the temporary files of writers of ``base`` that were killed mid-write: their names carry
    the writer's pid, and a file whose writer is gone is stale (a live writer's file is left alone)."""
    prefix = f".{base}."
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].partition(".")[0]
        if pid.isdigit() and (int(pid) == os.getpid() or _pid_alive(int(pid))):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _atomic_write(path, data, pause=None):
    """Write ``data`` to ``path`` so that ``path`` holds either its old content or all of ``data``, and
    clear the temporary files earlier writers left when they were killed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    pause = _pause_for(base, pause if pause is not None else os.environ.get(PAUSE_ENV))
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    _clear_stale_temporaries(directory, base)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=".tmp", dir=directory)
    try:
        _pause_here("created", pause, tmp)
        with os.fdopen(fd, "wb") as fh:
            if pause:
                half = len(data) // 2
                fh.write(memoryview(data)[:half])
                fh.flush()
                os.fsync(fh.fileno())
                _pause_here("half", pause, tmp)
                fh.write(memoryview(data)[half:])
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        _pause_here("written", pause, tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _pause_here("replaced", pause, tmp)
    _fsync_dir(directory)


def save(obj, f, **kwargs):
    """Save ``obj`` (a state dict, or nested dicts/lists of tensors, arrays and plain values, e.g.
    ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``) to ``f``, a path
    (written atomically) or a binary file object."""
    stn = _safetensors()
    enc = _Encoder()
    structure = enc.encode(obj, "")
    metadata = {"format": _FORMAT, "convgrad_version": _VERSION, "structure": json.dumps(structure)}
    data = stn.save(enc.tensors, metadata=metadata)
    if hasattr(f, "write"):
        f.write(data)
        if hasattr(f, "flush"):
            f.flush()
        return
    _atomic_write(f, data)


def _damaged(where, e):
    why = "nested too deeply" if isinstance(e, RecursionError) else f"{type(e).__name__}: {e}"
    return ValueError(f"convgrad.load: {where} is damaged: its structure description cannot be rebuilt "
                      f"({why})")


def _not_a_checkpoint(where, why, head=b""):
    hint = ""
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        hint = (" It looks like a PyTorch pickle checkpoint (torch.save); convgrad never unpickles files "
                "because loading a pickle can run arbitrary code. Re-save it with safetensors "
                "(safetensors.torch.save_file(state_dict, path)) and load that.")
    return ValueError(f"convgrad.load: {where} is not a convgrad/safetensors checkpoint ({why}).{hint}")


# safetensors dtype names NumPy can hold, with their item sizes
_DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "F16": 2, "U32": 4, "I32": 4, "F32": 4,
                "U64": 8, "I64": 8, "F64": 8}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_header(data, where):
    """The safetensors header (a dict) after checking the layout: 8-byte length, JSON, tensor entries
    whose dtype, shape and offsets agree with each other and with the file's size."""
    if len(data) < 8:
        raise _not_a_checkpoint(where, f"only {len(data)} bytes long", data)
    (n,) = struct.unpack("<Q", data[:8])
    if n == 0 or n > _MAX_HEADER or 8 + n > len(data):
        raise _not_a_checkpoint(where, "no safetensors header at the start of the file", data[:8])
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _not_a_checkpoint(where, "the header is not valid JSON", data[:8]) from None
    except RecursionError:
        raise _not_a_checkpoint(where, "the header is nested too deeply") from None
    if not isinstance(header, dict):
        raise _not_a_checkpoint(where, "the header is not a JSON object")
    meta = header.get("__metadata__")
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise _not_a_checkpoint(where, "expected '__metadata__' to map names to strings, got "
                                f"{_short(meta)}")
    body = len(data) - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
            raise _not_a_checkpoint(where, f"entry '{name}' is not a tensor description")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPE_SIZES:
            raise _not_a_checkpoint(where, f"tensor '{name}': expected a dtype among "
                                    f"{', '.join(_DTYPE_SIZES)}, got {_short(dtype)}")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise _not_a_checkpoint(where, f"tensor '{name}': expected a shape of non-negative integers, "
                                    f"got {_short(shape)}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
            raise _not_a_checkpoint(where, f"tensor '{name}': expected data_offsets [begin, end], got "
                                    f"{_short(offsets)}")
        lo, hi = offsets
        if not 0 <= lo <= hi <= body:
            raise _not_a_checkpoint(where, f"tensor '{name}' lies outside the file (truncated?)")
        size = math.prod(shape) * _DTYPE_SIZES[dtype]
        if hi - lo != size:
            raise _not_a_checkpoint(where, f"tensor '{name}': shape {tuple(shape)} of {dtype} needs "
                                    f"{size} bytes, its data_offsets span {hi - lo}")
    return header


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def load(f, map_location=None, weights_only=None, mmap=None, **kwargs):
    """Load what ``save`` wrote (from a path or a binary file object). Tensors come back as convgrad
    Tensors, arrays as arrays, and everything else as it was saved. ``map_location`` and
    ``weights_only`` are accepted for PyTorch compatibility (loading never runs code anyway)."""
    if isinstance(map_location, (str, device)):
        check_device(map_location, "load")
    if hasattr(f, "read"):
        where = f"'{getattr(f, 'name', '<file object>')}'"
        data = f.read()
    else:
        where = f"'{os.fspath(f)}'"
        with open(f, "rb") as fh:
            data = fh.read()
    from convgrad import serialization_torch

    if serialization_torch.is_torch_zip(data):  # torch.save's zip: a restricted unpickler, no code runs
        return serialization_torch.load_torch(data, where)
    header = _parse_header(data, where)
    stn = _safetensors()
    try:
        arrays = stn.load(bytes(data))
    except Exception as e:
        raise _not_a_checkpoint(where, f"safetensors could not read it: {e}") from None
    arrays = {k: (v if v.flags.writeable else v.copy()) for k, v in arrays.items()}
    meta = header.get("__metadata__") or {}
    if meta.get("format") == _FORMAT and "structure" in meta:
        try:
            structure = json.loads(meta["structure"])
        except (json.JSONDecodeError, RecursionError):
            raise ValueError(
                f"convgrad.load: {where} is damaged: its structure description is not JSON"
            ) from None
        try:
            return _Decoder(arrays, where).decode(structure)
        except ValueError as e:
            if str(e).startswith("convgrad.load:"):
                raise
            raise _damaged(where, e) from None
        except (RecursionError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
            raise _damaged(where, e) from None
    from convgrad.tensor import Tensor

    names = [k for k in header if k != "__metadata__"]
    return OrderedDict((k, Tensor._make(arrays[k])) for k in names)
