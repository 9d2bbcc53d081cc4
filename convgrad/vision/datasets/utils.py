"""Helpers shared by the datasets: checksums, downloads, IDX files, safe pickle loading."""

import gzip
import hashlib
import os
import pickle
import shutil
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings

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


def read_idx(path, expected_magic=None):
    """Read an IDX file (optionally gzip-compressed) into a native-endian NumPy array.

    ``expected_magic`` (e.g. 2051 for MNIST images, 2049 for labels) is checked when given. Raises
    :class:`DatasetFileError` naming the file when it is truncated, has trailing bytes, or is not IDX.
    """
    try:
        with _open_maybe_gz(path) as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DatasetFileError(f"{path}: cannot read the file ({type(e).__name__}: {e})") from e
    if len(raw) < 4:
        raise DatasetFileError(f"{path}: file is {len(raw)} bytes long, too short for an IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    zero, code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if expected_magic is not None and magic != expected_magic:
        raise DatasetFileError(f"{path}: bad IDX magic number: expected {expected_magic}, got {magic}")
    if zero != 0 or code not in _IDX_TYPES or ndim == 0:
        raise DatasetFileError(f"{path}: not an IDX file (magic number {magic:#010x})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetFileError(f"{path}: truncated IDX header: expected {header} bytes, got {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DatasetFileError(
            f"{path}: IDX file {what}: header says shape {tuple(shape)} ({expected} bytes), "
            f"file has {len(raw)} bytes"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
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
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core") :]
        return super().find_class(module, name)


def load_numpy_pickle(path):
    """Load a (possibly gzip-compressed) pickle of containers and NumPy arrays, written by Python 2 or 3.
    Raises :class:`DatasetFileError` naming the file when it is truncated or not such a pickle."""
    try:
        with _open_maybe_gz(path) as f:
            return _NumpyUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError) as e:
        raise DatasetFileError(f"{path}: cannot unpickle the file ({type(e).__name__}: {e})") from e
