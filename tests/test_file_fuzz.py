"""The file fuzzer: damaged and hostile files for every reader of files — ``convgrad.load``, training
checkpoints (resumed), IDX files plain and gzip (``read_idx`` and ``MNIST``), CIFAR-10 batches, gzip
pickles, images in an ``ImageFolder`` read through a ``DataLoader``, and the MNIST-1D cache.

Each valid seed file is mutated: truncated at every offset class (the empty file, each byte of the
first fields, each boundary between fields and its neighbours, fractions of the file; every offset under
``CONVGRAD_SLOW=1``), bit-flipped (in the header and anywhere), and given hostile headers (sizes of
gigabytes, overflowing dimensions, wrong types, deep nesting, lying lengths). The readers run in a
subprocess whose address space is capped at 1 GiB, so a file that makes a reader allocate what it
declares fails the test instead of the machine. Each outcome must be a success or a clear error: the
reader's own exception type with a message naming the file (MNIST-1D: a warning, then the same data
regenerated). Anything else — a raw exception, a message without the file, MemoryError, a crash or a
hang — fails the test and names the input.
"""

import gzip
import json
import os
import pickle
import struct
import zlib
from collections import Counter

import numpy as np
import pytest

import convgrad
from convgrad import nn, optim
from tests.conftest import SLOW
from tests.memcap import run_capped

N_FLIPS = 300 if SLOW else 24


# ---------------------------------------------------------------------------------------------- mutations
def _truncations(data, boundaries):
    if SLOW:
        return sorted(set(range(len(data))))
    cuts = set(range(min(len(data), 12)))
    for b in boundaries:
        cuts.update((b - 1, b, b + 1))
    cuts.update(len(data) * k // 8 for k in range(1, 8))
    cuts.add(len(data) - 1)
    return sorted(c for c in cuts if 0 <= c < len(data))


def _flips(data, header_end, rng):
    out = []
    for i in range(N_FLIPS):
        hi = header_end if i % 2 == 0 and header_end > 0 else len(data)
        pos = int(rng.integers(0, hi))
        b = bytearray(data)
        b[pos] ^= 1 << int(rng.integers(0, 8))
        out.append((f"flip@{pos}", bytes(b)))
    return out


def _mutants(data, boundaries, header_end, rng, hostile=()):
    out = [("seed", data)]  # the valid file itself: it must be read
    out += [(f"cut@{c}", data[:c]) for c in _truncations(data, boundaries)]
    out += _flips(data, header_end, rng)
    out += list(hostile)
    return out


# ---------------------------------------------------------------------------------------------- seed files
def _state_dict_file():
    convgrad.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    obj = {"model": net.state_dict(), "meta": [1, 2.5, "x", None, (1, 2), float("nan")],
           "counts": Counter(a=2), "ids": np.arange(3), 7: True}
    buf = __import__("io").BytesIO()
    convgrad.save(obj, buf)
    return buf.getvalue()


def _safetensors(header, body):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def _safetensors_hostile(data):
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    name = next(k for k in header if k != "__metadata__")
    out = [("hostile:len=2^63", struct.pack("<Q", 1 << 63) + data[8:]),
           ("hostile:len=body", struct.pack("<Q", len(data)) + data[8:]),
           ("hostile:not-json", struct.pack("<Q", 4) + b"\xff\xfe{[" + body),
           ("hostile:deep-list", _safetensors_raw(b"[" * 200000 + b"]" * 200000)),
           ("hostile:deep-dict", _safetensors_raw(b'{"a":' * 200000 + b"1" + b"}" * 200000))]
    entry_values = {
        "dtype": ["F128", "f32", 32, None, ["F32"], "BF16", "F8_E4M3"],
        "shape": [[2 ** 40, 2 ** 40], [-1], [1.5], "3", None, [[2]], [2 ** 64], []],
        "data_offsets": [["0", "8"], None, [0, 4, 8], [8, 0], [0, 2 ** 64], [0.0, 8.0], [-8, 0],
                         [0, 10 ** 30]],
    }
    for key, values in entry_values.items():
        for v in values:
            h = json.loads(json.dumps(header))
            h[name][key] = v
            out.append((f"hostile:{name}.{key}={v!r:.30}", _safetensors(h, body)))
    meta = header.get("__metadata__", {})
    structures = ['{"D": [[1]]}', '{"T": 5}', '{"T": "missing"}', '{"A": ["x"]}', '{"S": null}', '{"F": 1}',
                  '{"F": "1e999999"}', '{"dtype": "V99999999999"}', '{"dtype": 3}', '{"U": 5}', '{"D": 5}',
                  '{"D": [[[1, [2]], 0]]}', '{"Z": 1}', '"' + "x" * 1000 + '"', "[" * 100000 + "]" * 100000,
                  '{"D": [[{"T": "' + name + '"}, 1]]}', "nul\u0000l"]
    for s in structures:
        h = json.loads(json.dumps(header))
        h["__metadata__"] = dict(meta, structure=s)
        out.append((f"hostile:structure={s[:20]!r}", _safetensors(h, body)))
    for m in ({"format": 1}, ["x"], "convgrad", None):
        h = json.loads(json.dumps(header))
        h["__metadata__"] = m
        out.append((f"hostile:metadata={m!r}", _safetensors(h, body)))
    return out


def _safetensors_raw(raw):
    return struct.pack("<Q", len(raw)) + raw


def _checkpoint_file(tmp):
    from convgrad.training import Trainer
    from convgrad.utils.data import DataLoader, TensorDataset

    convgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 3))
    opt = optim.Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, opt, scheduler=optim.lr_scheduler.StepLR(opt, 1), progress=False, verbose=False,
                      seed=0)
    x, y = convgrad.randn(16, 4), convgrad.randint(0, 3, (16,))
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True,
                        generator=convgrad.Generator().manual_seed(0))
    trainer.fit(loader, loader, epochs=1)
    path = os.path.join(tmp, "seed.pt")
    trainer.save_checkpoint(path)
    return open(path, "rb").read()


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    else:
        yield path, obj


def _checkpoint_hostile(tmp, data, rng):
    """Every value of the checkpoint (weights aside) replaced by hostile ones, re-saved as a valid file."""
    import io

    state = convgrad.load(io.BytesIO(data))
    leaves = [p for p, v in _leaves(state) if not isinstance(v, (convgrad.Tensor, np.ndarray))]
    values = ["x", None, -1, 10 ** 30, [], {"a": 1}, 1.5, True]
    cases = [(p, v) for p in leaves for v in values]
    if not SLOW:
        cases = [cases[i] for i in rng.choice(len(cases), size=min(60, len(cases)), replace=False)]
    out = []
    for p, v in cases:
        s = convgrad.load(io.BytesIO(data))
        target = s
        for k in p[:-1]:
            target = target[k]
        if isinstance(target, tuple):
            continue
        target[p[-1]] = v
        buf = io.BytesIO()
        convgrad.save(s, buf)
        out.append((f"hostile:{'.'.join(map(str, p))}={v!r}", buf.getvalue()))
    for p in rng.choice(len(leaves), size=min(10, len(leaves)), replace=False):
        s = convgrad.load(io.BytesIO(data))
        target = s
        for k in leaves[p][:-1]:
            target = target[k]
        if isinstance(target, tuple):
            continue
        del target[leaves[p][-1]]
        buf = io.BytesIO()
        convgrad.save(s, buf)
        out.append((f"hostile:del {'.'.join(map(str, leaves[p]))}", buf.getvalue()))
    return out


def _idx_file():
    import tempfile

    from convgrad.vision.datasets.utils import write_idx

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x")
        write_idx(p, np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4))
        return open(p, "rb").read()


def _idx_hostile(gz):
    def pack(magic, dims, body=b"\0" * 80):
        raw = struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + body
        return gzip.compress(raw, mtime=0) if gz else raw

    out = [("hostile:dims=max", pack(0x0803, [0xFFFFFFFF] * 3)),
           ("hostile:dims=2^16^3", pack(0x0803, [1 << 16] * 3)),
           ("hostile:ndim=255", pack(0x08FF, [1] * 3)),
           ("hostile:ndim=0", pack(0x0800, [])),
           ("hostile:code=0x0A", pack(0x0A03, [5, 4, 4])),
           ("hostile:float64", pack(0x0E03, [5, 4, 4])),
           ("hostile:magic", pack(0x01080803, [5, 4, 4])),
           ("hostile:big-but-consistent", pack(0x0801, [1 << 24], b"\0" * (1 << 24)))]
    if gz:
        bomb = gzip.compress(struct.pack(">I", 0x0801) + struct.pack(">I", 1 << 26) + bytes(1 << 26), mtime=0)
        lie = bytearray(gzip.compress(struct.pack(">II", 0x0801, 1 << 20) + bytes(1 << 20)))
        lie[-4:] = struct.pack("<I", 100)
        out += [("hostile:gzip-64MB", bomb), ("hostile:gzip-isize-lies", bytes(lie)),
                ("hostile:two-members", gzip.compress(b"\0\0\x08\x01", mtime=0)
                 + gzip.compress(struct.pack(">I", 80) + bytes(80), mtime=0))]
    return out


def _pickle_file():
    rng = np.random.default_rng(0)
    entry = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [1, 2, 3, 4],
             "batch_label": "testing batch 1 of 1"}
    return pickle.dumps(entry, protocol=2)


def _pickle_hostile():
    glob = lambda mod, name: b"c" + mod + b"\n" + name + b"\n"
    out = [
        ("hostile:binbytes8=3GiB", b"\x80\x04\x8e" + struct.pack("<Q", 3 << 30) + b"xx."),
        ("hostile:binunicode8=3GiB", b"\x80\x04\x8d" + struct.pack("<Q", 3 << 30) + b"xx."),
        ("hostile:bytearray(3GiB)", b"\x80\x04\x8c\x08builtins\x8c\tbytearray\x93J\x00\x00\x00\xc0\x85R."),
        ("hostile:os.system", glob(b"os", b"system") + b"(S'true'\ntR."),
        ("hostile:eval", glob(b"builtins", b"eval") + b"(S'1'\ntR."),
        ("hostile:memo=2^31", b"\x80\x02]r\xff\xff\xff\x7f."),
        ("hostile:deep-lists", b"\x80\x02" + b"]" * 10 + b"(" * 200000 + b"."),
        ("hostile:reconstruct-huge", glob(b"numpy.core.multiarray", b"_reconstruct")
         + b"(" + glob(b"numpy", b"ndarray") + b"(J\x00\x00\x00\x40J\x00\x00\x00\x40tS'b'\ntR."),
        ("hostile:setstate-huge", pickle.dumps(np.zeros(4, np.uint8), protocol=2).replace(
            b"K\x04\x85", b"J\x00\x00\x00\x40\x85")),
        ("hostile:object-array", pickle.dumps({"data": np.array([1, "a"], dtype=object), "labels": [0]},
                                              protocol=2)),
        ("hostile:labels-str", pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": ["1"]})),
        ("hostile:labels-bool", pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [True]})),
        ("hostile:labels-float", pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [1.5]})),
        ("hostile:labels-99", pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [99]})),
        ("hostile:labels-int", pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": 5})),
        ("hostile:data-float", pickle.dumps({"data": np.zeros((1, 3072)), "labels": [1]})),
        ("hostile:data-list", pickle.dumps({"data": [[0] * 3072], "labels": [1]})),
        ("hostile:not-dict", pickle.dumps([1, 2, 3])),
        ("hostile:keys-bytes", pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [1]})),
    ]
    return out


def _png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _image_files():
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    files = {}
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        img.save(buf, fmt)
        files[fmt] = buf.getvalue()
    return files


def _image_hostile():
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = lambda w, h: _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    idat = _png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
    end = _png_chunk(b"IEND", b"")
    return [("hostile:png-100000^2", sig + ihdr(100000, 100000) + idat + end),
            ("hostile:png-10000^2", sig + ihdr(10000, 10000) + idat + end),
            ("hostile:png-0x0", sig + ihdr(0, 0) + idat + end),
            ("hostile:png-2^31", sig + ihdr(1 << 31, 1) + idat + end),
            ("hostile:png-no-idat", sig + ihdr(8, 8) + end),
            ("hostile:not-an-image", b"GIF89a" + b"\xff" * 20),
            ("hostile:empty", b"")]


def _npz_hostile(data):
    import io
    import zipfile

    out = []
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
    for shape in [(10 ** 9,), (2 ** 40, 2 ** 40), (-1,)]:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            npy = io.BytesIO()
            np.lib.format.write_array_header_1_0(npy, dict(header, shape=shape)) if shape[0] >= 0 else \
                npy.write(b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"
                          + b" " * 50 + b"\n")
            z.writestr("x.npy", npy.getvalue() + b"\0" * 64)
        out.append((f"hostile:npy-shape={shape}", buf.getvalue()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        npy = io.BytesIO()
        np.save(npy, np.array([1, "a"], dtype=object), allow_pickle=True)
        z.writestr("x.npy", npy.getvalue())
    out.append(("hostile:npy-object", buf.getvalue()))
    return out


# ---------------------------------------------------------------------------------------------- the worker
_WORKER = r'''
import json, os, sys, warnings, traceback
import numpy as np
manifest = json.load(open(sys.argv[1]))
kind, root = manifest["kind"], manifest["root"]
progress = open(sys.argv[2], "w")
import convgrad
from convgrad.training import CheckpointError, NonFiniteLossError
from convgrad.vision.datasets.utils import DatasetFileError

def run_load(path):
    try:
        convgrad.load(path)
    except ValueError as e:
        return str(e).startswith("convgrad.load:") and path in str(e), e
    return None, None

def run_checkpoint(path):
    from convgrad import nn, optim
    from convgrad.training import Trainer
    from convgrad.utils.data import DataLoader, TensorDataset
    convgrad.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 3))
    opt = optim.Adam(model.parameters(), lr=0.01)
    x, y = convgrad.randn(16, 4), convgrad.randint(0, 3, (16,))
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True,
                        generator=convgrad.Generator().manual_seed(0))
    trainer = Trainer(model, opt, scheduler=optim.lr_scheduler.StepLR(opt, 1), progress=False, verbose=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(loader, loader, epochs=2, resume=path)
    except CheckpointError as e:
        return path in str(e), e
    except NonFiniteLossError as e:   # damaged weights: a clear convgrad error naming the step
        return True, e
    return None, None

def run_idx(path):
    from convgrad.vision.datasets.utils import read_idx
    try:
        read_idx(path)
    except DatasetFileError as e:
        return path in str(e), e
    return None, None

def run_mnist(path):
    from convgrad.vision import datasets
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            datasets.MNIST(root, train=False)
    except DatasetFileError as e:
        return path in str(e), e
    return None, None

def run_cifar(path):
    from convgrad.vision import datasets
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            datasets.CIFAR10(root, train=False)
    except DatasetFileError as e:
        return path in str(e), e
    return None, None

def run_pickle(path):
    from convgrad.vision.datasets.utils import load_numpy_pickle
    try:
        load_numpy_pickle(path)
    except DatasetFileError as e:
        return path in str(e), e
    return None, None

def run_image(path):
    from convgrad.vision import datasets
    from convgrad.utils.data import DataLoader
    ds = datasets.ImageFolder(root, transform=lambda im: np.asarray(im, dtype=np.float32)[:4, :4])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in DataLoader(ds, batch_size=1, num_workers=2):
                pass
    except DatasetFileError as e:
        return path in str(e), e
    return None, None

def run_mnist1d(path):
    from convgrad.vision import datasets
    from convgrad.vision.datasets import mnist1d
    mnist1d._cache.clear()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = datasets.MNIST1D(root, num_samples=50, seed=5)
    ref = np.load(manifest["reference"])
    if not np.array_equal(ds.data._data, ref):
        return False, AssertionError("regenerated data differs")
    warned = [x for x in w if "regenerating" in str(x.message)]
    if warned:
        return path in str(warned[0].message), warned[0].message
    return None, None

run = globals()["run_" + kind]
counts = {"inputs": 0, "ok": 0, "clear": 0}
bad = []
for label, src in manifest["inputs"]:
    path = manifest["target"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(src, "rb") as f, open(path, "wb") as g:
        g.write(f.read())
    progress.write(label + "\n"); progress.flush()
    counts["inputs"] += 1
    try:
        clear, err = run(path)
    except BaseException as e:
        clear, err = False, e
    if label == "seed" and clear is not None:
        bad.append([label, f"the valid seed file was not read: {type(err).__name__}: {str(err)[:300]}"])
    elif clear is None:
        counts["ok"] += 1
    elif clear:
        counts["clear"] += 1
    else:
        bad.append([label, f"{type(err).__name__}: {str(err)[:300]}"])
print(json.dumps({"counts": counts, "bad": bad}))
'''


def _fuzz(tmp_path, kind, target, mutants, root=None, reference=None):
    """Write the mutants, run them through ``kind``'s reader under the memory cap; returns the counts and
    fails naming every unclear outcome."""
    src = tmp_path / "inputs"
    src.mkdir(exist_ok=True)
    inputs = []
    for i, (label, data) in enumerate(mutants):
        p = src / f"{kind}-{i}"
        p.write_bytes(data)
        inputs.append([label, str(p)])
    manifest = tmp_path / f"{kind}.json"
    manifest.write_text(json.dumps({"kind": kind, "root": str(root or tmp_path), "target": str(target),
                                    "inputs": inputs, "reference": str(reference) if reference else None}))
    progress = tmp_path / f"{kind}.progress"
    result = run_capped(_WORKER, manifest, progress, timeout=1800)
    if result.returncode != 0:
        seen = progress.read_text().splitlines() if progress.exists() else []
        pytest.fail(f"{kind}: the reader process died (code {result.returncode}) on input "
                    f"{seen[-1] if seen else '?'}:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    counts = report["counts"]
    print(f"file fuzzer {kind}: {counts['inputs']} inputs, {counts['ok']} read, {counts['clear']} clear "
          f"errors, {len(report['bad'])} unclear")
    unclear = "\n".join(f"{a}: {b}" for a, b in report["bad"])
    assert not report["bad"], f"{kind}: unclear outcomes:\n{unclear}"
    assert counts["inputs"] == len(mutants) and counts["clear"] > 0
    return counts


# ---------------------------------------------------------------------------------------------- the tests
def test_fuzz_convgrad_load(tmp_path):
    rng = np.random.default_rng(1)
    data = _state_dict_file()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    bounds = [8, 8 + n] + [8 + n + e["data_offsets"][0] for k, e in header.items() if k != "__metadata__"]
    _fuzz(tmp_path, "load", tmp_path / "f" / "model.pt",
          _mutants(data, bounds, 8 + n, rng, _safetensors_hostile(data)))


def test_fuzz_training_checkpoint(tmp_path):
    rng = np.random.default_rng(2)
    data = _checkpoint_file(str(tmp_path))
    n = struct.unpack("<Q", data[:8])[0]
    hostile = _checkpoint_hostile(str(tmp_path), data, rng)
    mutants = _mutants(data, [8, 8 + n], 8 + n, rng, hostile)
    if not SLOW:  # each input resumes a training run: a sample in the default run
        keep = {0} | set(rng.choice(len(mutants) - len(hostile), size=40, replace=False).tolist())
        mutants = [m for i, m in enumerate(mutants) if i in keep or i >= len(mutants) - len(hostile)]
    _fuzz(tmp_path, "checkpoint", tmp_path / "run" / "last.pt", mutants)


@pytest.mark.parametrize("gz", [False, True])
def test_fuzz_idx(tmp_path, gz):
    rng = np.random.default_rng(3)
    raw = _idx_file()
    data = gzip.compress(raw, mtime=0) if gz else raw
    bounds = [2, 4, 10, 16, len(data) - 8, len(data) - 4] if gz else [4, 8, 12, 16]
    _fuzz(tmp_path, "idx", tmp_path / "f" / ("x.gz" if gz else "x"),
          _mutants(data, bounds, 16 if not gz else 10, rng, _idx_hostile(gz)))


def test_fuzz_mnist_files(tmp_path):
    from convgrad.vision.datasets.utils import write_idx

    rng = np.random.default_rng(4)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([1, 2, 3, 4, 5], np.uint8))
    data = _idx_file()
    mutants = _mutants(data, [4, 8, 12, 16], 16, rng, _idx_hostile(False))
    _fuzz(tmp_path, "mnist", raw / "t10k-images-idx3-ubyte", mutants, root=tmp_path)


def test_fuzz_cifar_batches(tmp_path):
    rng = np.random.default_rng(5)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        (folder / name).write_bytes(_pickle_file())
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    data = _pickle_file()
    at = data.index(b"labels")
    mutants = _mutants(data, [2, 20, 40, at, len(data) - 40], 120, rng, _pickle_hostile())
    _fuzz(tmp_path, "cifar", folder / "test_batch", mutants, root=tmp_path)


def test_fuzz_gzip_pickle(tmp_path):
    rng = np.random.default_rng(6)
    data = gzip.compress(_pickle_file(), mtime=0)
    hostile = [(label, gzip.compress(p, mtime=0)) for label, p in _pickle_hostile()]
    bomb = bytearray(gzip.compress(bytes(1 << 24), mtime=0))
    bomb[-4:] = struct.pack("<I", 10)  # records 10 bytes, inflates to 16 MB
    hostile += [("hostile:isize-lies", bytes(bomb))]
    _fuzz(tmp_path, "pickle", tmp_path / "f" / "x.pkl.gz",
          _mutants(data, [2, 10, len(data) - 8, len(data) - 4], 40, rng, hostile))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_fuzz_images_through_a_dataloader(tmp_path, fmt):
    from PIL import Image

    rng = np.random.default_rng(7)
    root = tmp_path / "imgs"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        Image.new("RGB", (6, 6), (9, 9, 9)).save(root / c / "ok.png")
    data = _image_files()[fmt]
    bounds = [8, 16, 33, 41] if fmt == "PNG" else [2, 4, 20, data.index(b"\xff\xda")]
    mutants = _mutants(data, bounds, 64, rng, _image_hostile())
    _fuzz(tmp_path, "image", root / "b" / f"fuzzed.{fmt.lower()}", mutants, root=root)


def test_fuzz_mnist1d_cache(tmp_path):
    pytest.importorskip("mnist1d")
    from convgrad.vision import datasets
    from convgrad.vision.datasets import mnist1d

    rng = np.random.default_rng(8)
    mnist1d._cache.clear()
    ds = datasets.MNIST1D(str(tmp_path / "gen"), num_samples=50, seed=5)
    mnist1d._cache.clear()
    np.save(tmp_path / "ref.npy", ds.data._data)
    data = open(ds.cache_file, "rb").read()
    global N_FLIPS
    flips, N_FLIPS = N_FLIPS, (60 if SLOW else 8)
    try:
        mutants = _mutants(data, [4, 30, len(data) - 22], 120, rng, _npz_hostile(data))
    finally:
        N_FLIPS = flips
    if not SLOW:  # each damaged cache is regenerated: a sample in the default run
        mutants = mutants[:1] + mutants[1::3]
    target = tmp_path / "root" / "MNIST1D" / os.path.basename(ds.cache_file)
    _fuzz(tmp_path, "mnist1d", target, mutants, root=tmp_path / "root", reference=tmp_path / "ref.npy")
