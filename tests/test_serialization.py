"""convgrad.save / convgrad.load: safetensors files that round-trip state dicts, optimiser and scheduler
state and plain metadata exactly; never pickle; atomic writes; clear errors for foreign files."""

import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
from collections import Counter, OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import convgrad
from convgrad import nn, optim


def _equal(a, b, path="root"):
    """Structural equality, tensors compared by dtype, shape and values."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, convgrad.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad, path
        np.testing.assert_array_equal(a._data, b._data, err_msg=path)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            _equal(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f"{path}.{i}")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 3))


def _trained():
    convgrad.manual_seed(0)
    net = _net()
    opt = optim.Adam(net.parameters(), lr=0.01, amsgrad=True)
    sched = optim.lr_scheduler.MultiStepLR(opt, [2, 4])
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt)
    for _ in range(2):
        loss = net(convgrad.randn(2, 1, 8, 8)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        plateau.step(loss.item())
    return net, opt, sched, plateau


def test_state_dict_round_trip(tmp_path):
    net = _net()
    sd = net.state_dict()
    path = tmp_path / "model.safetensors"
    convgrad.save(sd, path)
    loaded = convgrad.load(path)
    _equal(sd, loaded)
    assert isinstance(loaded, OrderedDict)
    assert loaded["1.num_batches_tracked"].dtype == np.int64
    fresh = _net()
    fresh.load_state_dict(loaded)
    _equal(fresh.state_dict(), sd)
    # the file is a plain safetensors file with the state dict's own keys
    arrays = safetensors.numpy.load_file(str(path))
    assert set(arrays) == set(sd)


def test_full_checkpoint_round_trip(tmp_path):
    net, opt, sched, plateau = _trained()
    ckpt = {
        "epoch": 7, "step": 2**40, "best_acc": 0.9375, "name": "lenet", "done": False, "note": None,
        "model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
        "plateau": plateau.state_dict(), "history": [0.5, 0.25, float("inf"), float("-inf")],
        "shape": (3, 32, 32), "rng": convgrad.get_rng_state(), "dtype": convgrad.float32,
        "array": np.arange(6, dtype=np.int16).reshape(2, 3), "scalar": np.float32(1.5),
        "nested": {1: {"a": [convgrad.ones(2), (convgrad.zeros(1, dtype=convgrad.float64),)]}, (1, 2): "t"},
        "nan": float("nan"),
    }
    path = tmp_path / "ckpt.safetensors"
    convgrad.save(ckpt, path)
    loaded = convgrad.load(path)
    _equal(ckpt, loaded)
    assert isinstance(loaded["scheduler"]["milestones"], Counter)
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(loaded["optimizer"]["state"]) == list(range(len(list(net.parameters()))))
    assert loaded["plateau"]["mode_worse"] == float("inf")
    assert isinstance(loaded["scalar"], np.float32)
    # everything loads back into fresh objects
    net2, opt2, sched2, _ = _trained()
    net2.load_state_dict(loaded["model"])
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    convgrad.set_rng_state(loaded["rng"])
    _equal(opt2.state_dict()["param_groups"], opt.state_dict()["param_groups"])


def test_tensor_kinds_and_sharing(tmp_path):
    w = nn.Parameter(convgrad.randn(3, 2))
    frozen = nn.Parameter(convgrad.randn(2), requires_grad=False)
    t = convgrad.randn(4, requires_grad=True)
    shared = convgrad.arange(5)
    obj = {"w": w, "frozen": frozen, "t": t, "a": shared, "b": shared,
           "big": convgrad.zeros(2, dtype="float16"), "flag": convgrad.tensor([True, False]),
           "empty": convgrad.zeros(0, 3), "scalar": convgrad.tensor(2.5)}
    path = tmp_path / "t.safetensors"
    convgrad.save(obj, path)
    out = convgrad.load(path)
    assert isinstance(out["w"], nn.Parameter) and out["w"].requires_grad
    assert isinstance(out["frozen"], nn.Parameter) and not out["frozen"].requires_grad
    assert type(out["t"]) is convgrad.Tensor and out["t"].requires_grad
    assert out["a"] is out["b"]  # saved once, shared again
    assert out["big"].dtype == np.float16 and out["flag"].dtype == bool and out["empty"].shape == (0, 3)
    assert out["scalar"].shape == () and out["scalar"].item() == 2.5
    out["t"].data[0] = 7  # loaded arrays are writable
    assert len(safetensors.numpy.load_file(str(path))) == len(obj) - 1


def test_key_collisions_and_odd_keys(tmp_path):
    obj = {"a": {"b": convgrad.ones(1)}, "a.b": convgrad.zeros(1), "": convgrad.ones(2), "x.y.": 3,
           "list": [convgrad.ones(1), {"0": convgrad.zeros(2)}]}
    convgrad.save(obj, tmp_path / "k")
    _equal(obj, convgrad.load(tmp_path / "k"))


def test_top_level_tensor_list_and_file_objects():
    for obj in (convgrad.randn(3, 3), [convgrad.ones(2), 1, "x"], (1.5, None), 42):
        buf = io.BytesIO()
        convgrad.save(obj, buf)
        buf.seek(0)
        _equal(obj, convgrad.load(buf))


def test_unsupported_values_are_refused(tmp_path):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match=r"function at 'cfg\.fn'.*never pickles"):
        convgrad.save({"cfg": {"fn": lambda x: x}}, path)
    with pytest.raises(TypeError, match=r"Linear.*Save its state_dict\(\) instead"):
        convgrad.save({"model": nn.Linear(2, 2)}, path)
    with pytest.raises(TypeError, match="set"):
        convgrad.save({"s": {1, 2}}, path)
    assert not path.exists() and not os.listdir(tmp_path)


def test_plain_safetensors_file_loads_as_tensors(tmp_path):
    path = tmp_path / "plain.safetensors"
    safetensors.numpy.save_file({"conv.weight": np.ones((2, 1, 3, 3), np.float32),
                                 "conv.bias": np.zeros(2, np.float32)}, str(path))
    sd = convgrad.load(path)
    assert set(sd) == {"conv.weight", "conv.bias"}
    assert all(isinstance(v, convgrad.Tensor) for v in sd.values())
    m = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3)))
    m.load_state_dict(sd)
    assert np.all(m.conv.weight._data == 1)


def _torch_checkpoint(path):
    import torch

    torch.save({"w": torch.ones(2)}, path)


@pytest.mark.parametrize("content,why", [
    (b"", "only 0 bytes"),
    (b"hello world, this is text", "no safetensors header"),
    (struct.pack("<Q", 10) + b"not json!!" + b"xx", "not valid JSON"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (struct.pack("<Q", 12) + b'{"a": "b"}  ', "not a tensor description"),
])
def test_foreign_files_give_a_clear_error(tmp_path, content, why):
    path = tmp_path / "weights.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a convgrad/safetensors checkpoint") as info:
        convgrad.load(path)
    assert str(path) in str(info.value) and why in str(info.value)


def test_torch_pickle_is_refused_without_unpickling(tmp_path):
    # a torch.save zip is read by the restricted unpickler (tests/test_torch_checkpoint.py has the rest)
    path = tmp_path / "model.pt"
    _torch_checkpoint(path)
    np.testing.assert_array_equal(convgrad.load(path)["w"].numpy(), np.ones(2, np.float32))
    # a bare pickle stream (not a torch.save zip) that would run code if unpickled: loading must refuse
    # without running it
    marker = tmp_path / "pwned"
    payload = b"\x80\x04cos\nsystem\n(V touch " + str(marker).encode() + b"\ntR."
    evil = tmp_path / "evil.pt"
    evil.write_bytes(payload)
    with pytest.raises(ValueError, match="never unpickles"):
        convgrad.load(evil)
    assert not marker.exists()


def test_truncated_file(tmp_path):
    path = tmp_path / "c.safetensors"
    convgrad.save({"w": convgrad.ones(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        convgrad.load(path)


def test_damaged_structure(tmp_path):
    path = tmp_path / "c.safetensors"
    arrays = {"w": np.ones(2, np.float32)}
    structure = json.dumps({"D": [["w", {"T": "v"}]]})
    meta = {"format": "convgrad", "convgrad_version": "1", "structure": structure}
    safetensors.numpy.save_file(arrays, str(path), metadata=meta)
    with pytest.raises(ValueError, match="damaged"):
        convgrad.load(path)


def test_map_location_and_missing_file(tmp_path):
    path = tmp_path / "c.safetensors"
    convgrad.save({"w": convgrad.ones(2)}, path)
    assert convgrad.load(path, map_location="cpu", weights_only=True)["w"].shape == (2,)
    with pytest.raises(RuntimeError, match="CPU only"):
        convgrad.load(path, map_location="cuda:0")
    with pytest.raises(FileNotFoundError):
        convgrad.load(tmp_path / "missing.safetensors")


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    convgrad.save({"v": convgrad.ones(3)}, path)
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    before = path.read_bytes()

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        convgrad.save({"v": convgrad.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    convgrad.save({"v": convgrad.zeros(3)}, str(path))  # replaces the old file
    assert convgrad.load(path)["v"].data.tolist() == [0, 0, 0]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_WRITER = """
import sys
import numpy as np
import convgrad
path = sys.argv[1]
i = 0
print("ready", flush=True)
while True:
    i += 1
    w, b = convgrad.full((1 << 21,), float(i)), convgrad.full((1000,), float(i))
    convgrad.save({"i": i, "w": w, "b": b}, path)
"""


def test_kill_during_save_leaves_a_valid_checkpoint(tmp_path):
    """SIGKILL a process that saves in a loop, at several moments: the file always loads, and its parts
    agree with each other (one complete write, never a mix)."""
    path = tmp_path / "ckpt.safetensors"
    convgrad.save({"i": 0, "w": convgrad.zeros(1 << 21), "b": convgrad.zeros(1000)}, path)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(convgrad.__file__)))
    rng = np.random.default_rng(0)
    last = 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, env=env)
        proc.stdout.readline()
        time.sleep(float(rng.uniform(0.05, 0.4)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        ckpt = convgrad.load(path)
        i = ckpt["i"]
        assert np.all(ckpt["w"]._data == i) and np.all(ckpt["b"]._data == i)
        last = max(last, i)
    assert last > 0  # some saves completed
