"""Helpers shared by the datasets: checksums, downloads, IDX files, safe pickle loading."""

import gzip
import hashlib
import io
import math
import os
import pickle
import pickletools
import shutil
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
import zlib

import numpy as np

__all__ = [
    "DatasetFileError",
    "calculate_md5",
    "check_md5",
    "check_integrity",
    "download_url",
    "extract_archive",
    "read_idx",
    "write_idx",
    "load_numpy_pickle",
]


class DatasetFileError(RuntimeError):
    """A dataset file exists but cannot be used (truncated, corrupt, wrong format)."""


# ----------------------------------------------------------------------------------------------------
# checksums and downloads


def calculate_md5(path, chunk_size=1 << 20):
    """Hex md5 of the file at ``path``."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def warn_if_unofficial(path, md5, dataset):
    """Warn, and go on, when the file at ``path`` does not have the official ``md5`` of ``dataset``'s file
    (``md5`` None: nothing known to compare with)."""
    if md5 is not None and calculate_md5(path) != md5:
        # stacklevel: past this function, the dataset's loader and its constructor, to the user's line
        warnings.warn(f"{path} does not match the md5 of the official {dataset} file ({md5}); "
                      "using it anyway", stacklevel=5)


def check_md5(path, md5):
    return calculate_md5(path) == md5


def check_integrity(path, md5=None):
    """Whether ``path`` is a file and, if ``md5`` is given, has that checksum."""
    if not os.path.isfile(path):
        return False
    return md5 is None or check_md5(path, md5)


def download_url(url, root, filename=None, md5=None, timeout=30):
    """Download ``url`` to ``root/filename`` (skipped when a file with the right ``md5`` is there).

    The file is written under a temporary name and moved into place only once complete and checked,
    so an interrupted download never leaves a truncated file behind. Raises ``urllib.error.URLError``
    (or ``OSError``) when the network fails and :class:`DatasetFileError` on a checksum mismatch.
    """
    filename = filename or os.path.basename(url)
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, filename)
    if check_integrity(path, md5) and md5 is not None:
        return path
    request = urllib.request.Request(url, headers={"User-Agent": "convgrad"})
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        if md5 is not None:
            got = calculate_md5(tmp)
            if got != md5:
                raise DatasetFileError(f"downloaded {url} has md5 {got}, expected {md5}; try again later")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def extract_archive(from_path, to_path=None):
    """Extract a ``.tar``/``.tar.gz``/``.tgz`` archive, or decompress a ``.gz`` file next to itself.
    Returns the destination folder (archives) or file (``.gz``)."""
    to_path = to_path or os.path.dirname(from_path)
    if tarfile.is_tarfile(from_path):
        with tarfile.open(from_path) as tar:
            tar.extractall(to_path, filter="data")
        return to_path
    if from_path.endswith(".gz"):
        out = os.path.join(to_path, os.path.basename(from_path)[: -len(".gz")])
        with gzip.open(from_path, "rb") as src, open(out + ".part", "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
        os.replace(out + ".part", out)
        return out
    raise ValueError(
        f"extract_archive: don't know how to extract {from_path!r} (expected .tar, .tar.gz, .tgz, .gz)"
    )


# ----------------------------------------------------------------------------------------------------
# IDX: the format of the MNIST family. A 4-byte magic number (two zero bytes, a type code, the number
# of dimensions), one big-endian uint32 per dimension, then the values in row-major order, big-endian.

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
_IDX_CODES[np.dtype(np.uint8)] = 0x08
_IDX_CODES[np.dtype(np.int8)] = 0x09


def _open_maybe_gz(path):
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")


# A dataset file may declare (and, compressed, inflate to) at most this many bytes: the largest file of the
# data sets convgrad reads is 220 MB, so this only stops hostile or damaged headers from asking for the
# machine's memory. Raise it for bigger data of your own.
MAX_DATASET_BYTES = 2 << 30
# deflate cannot expand data more than 1032 times: a gzip file declaring more is lying
_MAX_DEFLATE_RATIO = 1032


def _read_at_most(f, n, chunk=1 << 24):
    """Up to ``n`` bytes of ``f``, read in chunks: ``f.read(n)`` would allocate all ``n`` bytes before
    knowing how many there are."""
    parts, left = [], n
    while left > 0:
        part = f.read(min(chunk, left))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _gzip_isize(path):
    """The uncompressed size modulo 2**32 that a (single-member) gzip file records in its last 4 bytes."""
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return struct.unpack("<I", f.read(4))[0]


def read_idx(path, expected_magic=None, max_bytes=None):
    """Read an IDX file (optionally gzip-compressed) into a native-endian NumPy array.

    ``expected_magic`` (e.g. 2051 for MNIST images, 2049 for labels) is checked when given. The header is
    read first and the size it declares is checked against the file's (its compressed size and recorded
    length for gzip) and ``max_bytes`` (default :data:`MAX_DATASET_BYTES`) before anything is allocated or
    inflated. Raises :class:`DatasetFileError` naming the file when it is truncated, has trailing bytes,
    declares too much, or is not IDX.
    """
    limit = MAX_DATASET_BYTES if max_bytes is None else max_bytes
    try:
        size = os.path.getsize(path)
        with _open_maybe_gz(path) as f:
            compressed = isinstance(f, gzip.GzipFile)
            head = f.read(4)
            if len(head) < 4:
                raise DatasetFileError(f"{path}: file is {len(head)} bytes long, too short for an IDX header")
            magic = struct.unpack(">I", head)[0]
            zero, code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
            if expected_magic is not None and magic != expected_magic:
                raise DatasetFileError(
                    f"{path}: bad IDX magic number: expected {expected_magic}, got {magic}")
            if zero != 0 or code not in _IDX_TYPES or ndim == 0:
                raise DatasetFileError(f"{path}: not an IDX file (magic number {magic:#010x})")
            header = 4 + 4 * ndim
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DatasetFileError(
                    f"{path}: truncated IDX header: expected {header} bytes, got {4 + len(dims)}")
            shape = struct.unpack(f">{ndim}I", dims)
            dtype = _IDX_TYPES[code]
            nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            declared = f"header says shape {tuple(shape)} ({header + nbytes} bytes)"
            if nbytes > limit:
                raise DatasetFileError(
                    f"{path}: {declared}, more than the limit of {limit} bytes "
                    "(convgrad.vision.datasets.utils.MAX_DATASET_BYTES); damaged or not a data set file")
            if not compressed and header + nbytes != size:
                what = "truncated" if size < header + nbytes else "has trailing bytes"
                raise DatasetFileError(f"{path}: IDX file {what}: {declared}, file has {size} bytes")
            if compressed and (header + nbytes > size * _MAX_DEFLATE_RATIO
                               or (header + nbytes) % (1 << 32) != _gzip_isize(path)):
                raise DatasetFileError(
                    f"{path}: gzip IDX file does not match its header: {declared}, but the compressed "
                    f"file of {size} bytes records another length (truncated or damaged)")
            raw = _read_at_most(f, nbytes)  # inflates at most what the header declared
            extra = f.read(1)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetFileError(f"{path}: cannot read the file ({type(e).__name__}: {e})") from e
    if len(raw) != nbytes or extra:
        what = "truncated" if len(raw) < nbytes else "has trailing bytes"
        raise DatasetFileError(
            f"{path}: IDX file {what}: {declared}, file has "
            f"{header + len(raw)}{'+' if extra else ''} bytes")
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    arr = np.asarray(array)
    code = _IDX_CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"write_idx: unsupported dtype {arr.dtype} (IDX has uint8, int8, int16, int32, float32, float64)"
        )
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"write_idx: expected 1 to 255 dimensions, got {arr.ndim}")
    header = struct.pack(">I", (code << 8) | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    body = np.ascontiguousarray(arr, dtype=_IDX_TYPES[code]).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + body)


# ----------------------------------------------------------------------------------------------------
# pickles of NumPy arrays


def _safe_bytearray(*args):
    # bytearray(n) would allocate n bytes on a hostile file's say-so; pickles of arrays only ever
    # rebuild a bytearray from bytes
    if args and not isinstance(args[0], (bytes, bytearray, str)):
        raise pickle.UnpicklingError(
            f"refusing bytearray({type(args[0]).__name__}): not the data of an array")
    return bytearray(*args)


def _safe_reconstruct(subtype, shape, dtype):
    # NumPy pickles an array as an empty one (shape (0,)) filled by __setstate__ from the pickled bytes,
    # which NumPy checks against the shape; a larger shape here would be allocated unchecked
    from numpy._core.multiarray import _reconstruct

    if subtype is not np.ndarray or not isinstance(shape, tuple) or math.prod(shape) != 0:
        raise pickle.UnpicklingError(
            f"refusing _reconstruct({getattr(subtype, '__name__', subtype)}, {shape!r})")
    return _reconstruct(subtype, shape, dtype)


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and NumPy arrays: dataset pickles never need more, and refusing
    everything else keeps a tampered file from running code."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("codecs", "encode"),
        ("_codecs", "encode"),
        ("builtins", "bytearray"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: not a NumPy array")
        if name == "bytearray":
            return _safe_bytearray
        if name == "_reconstruct":
            return _safe_reconstruct
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core") :]
        return super().find_class(module, name)


_LENGTH_PREFIXES = {  # how an opcode argument of variable size gives its length: (bytes, signed)
    pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
    pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
    pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
    pickletools.TAKEN_FROM_ARGUMENT8U: (8, False),
}


def _check_pickle_sizes(data):
    """Walk the opcodes of the pickle ``data`` (described by ``pickletools``) and check that every length
    they declare fits in ``data`` and every memo index stays below the number of opcodes: the unpickler
    allocates what a length or an index says before reading anything. (``pickletools.genops`` checks
    lengths too, but copies every argument: seconds on a 200 MB pickle.)"""
    pos, count, end = 0, 0, len(data)
    while pos < end:
        op = pickletools.code2op.get(chr(data[pos]))
        if op is None:
            raise pickle.UnpicklingError(f"unknown opcode {data[pos]:#04x} at byte {pos}")
        start = pos = pos + 1
        arg = op.arg
        if arg is None:
            pass
        elif arg.n >= 0:
            pos += arg.n
        elif arg.n == pickletools.UP_TO_NEWLINE:
            for _ in range(2 if arg.name == "stringnl_noescape_pair" else 1):
                newline = data.find(b"\n", pos)
                pos = end + 1 if newline < 0 else newline + 1
        else:
            width, signed = _LENGTH_PREFIXES[arg.n]
            length = int.from_bytes(data[pos:pos + width], "little", signed=signed)
            pos += width + max(length, 0)
            if length < 0:
                raise pickle.UnpicklingError(f"{op.name} at byte {start - 1} declares a negative length")
        if pos > end:
            raise pickle.UnpicklingError(f"{op.name} at byte {start - 1} declares more bytes than the "
                                         f"{end} of the file (truncated or damaged)")
        if op.name in ("BINPUT", "LONG_BINPUT") and int.from_bytes(data[start:pos], "little") > count:
            raise pickle.UnpicklingError(f"{op.name} at byte {start - 1}: memo index out of range")
        if op.name == "FRAME" and int.from_bytes(data[start:pos], "little") > end - pos:
            raise pickle.UnpicklingError(f"FRAME at byte {start - 1} is longer than the file")
        if op.name == "STOP":
            return
        count += 1
    raise pickle.UnpicklingError("pickle data was truncated (no STOP opcode)")


def _read_limited(path, limit):
    """The bytes of ``path``, inflated if it is gzip, refusing to hold more than ``limit`` bytes (for gzip,
    more than it records as its length, or than deflate can expand it to)."""
    with _open_maybe_gz(path) as f:
        if isinstance(f, gzip.GzipFile):
            size = os.path.getsize(path)
            isize = _gzip_isize(path)  # the length modulo 2**32: a lower bound
            if isize > limit or isize > size * _MAX_DEFLATE_RATIO:
                raise DatasetFileError(f"{path}: gzip file records a length of {isize} bytes, more than "
                                       f"its {size} bytes can hold or the limit of {limit} bytes")
            limit = min(limit, size * _MAX_DEFLATE_RATIO)
        data = _read_at_most(f, limit + 1)
    if len(data) > limit:
        raise DatasetFileError(
            f"{path}: holds more than the limit of {limit} bytes "
            "(convgrad.vision.datasets.utils.MAX_DATASET_BYTES); damaged or not a data set file")
    return data


def load_numpy_pickle(path, max_bytes=None):
    """Load a (possibly gzip-compressed) pickle of containers and NumPy arrays, written by Python 2 or 3.
    Raises :class:`DatasetFileError` naming the file when it is truncated or not such a pickle.

    The whole file is read (at most ``max_bytes``, default :data:`MAX_DATASET_BYTES`) and its opcodes
    are checked before unpickling (:func:`_check_pickle_sizes`)."""
    limit = MAX_DATASET_BYTES if max_bytes is None else max_bytes
    try:
        data = _read_limited(path, limit)
        _check_pickle_sizes(data)
        return _NumpyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DatasetFileError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a damaged pickle makes the unpickler raise
        # (a bad encoding name gives LookupError, ...): the file is unusable, and its name is what helps
        raise DatasetFileError(f"{path}: cannot unpickle the file ({type(e).__name__}: {e})") from e
