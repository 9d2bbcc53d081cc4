"""PyTorch checkpoints both ways: torch.save files read by convgrad.load's restricted unpickler (and a
malicious pickle refused without running), and convgrad.save files read by safetensors.torch."""

import collections
import io
import os
import zipfile

import numpy as np
import pytest
import torch

import convgrad
from convgrad.nn import Parameter
from convgrad.serialization_torch import UnsafeCheckpointError, load_torch
from convgrad.vision import models
from tests.torch_models import TorchResNet18

torch.set_num_threads(1)


def _torch_resnet18(seed=0):
    torch.manual_seed(seed)
    tm = TorchResNet18(num_classes=10)
    with torch.no_grad():  # non-trivial running statistics
        for m in tm.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    return tm.eval()


def test_torchvision_resnet18_state_dict_loads_and_matches_pytorch(tmp_path):
    tm = _torch_resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(tm.state_dict(), path)
    sd = convgrad.load(path)
    assert isinstance(sd, collections.OrderedDict) and list(sd) == list(tm.state_dict())
    assert sd["bn1.num_batches_tracked"].dtype == np.int64 and sd["bn1.num_batches_tracked"].item() == 7
    model = models.resnet18(num_classes=10)
    model.load_state_dict(sd)
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    with convgrad.no_grad():
        got = model(convgrad.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_calls_os_system_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "x": _Payload(marker)}, path)
    # the payload is real: plain pickle (torch.load(weights_only=False)) would run it
    with pytest.raises(UnsafeCheckpointError, match=r"global '(posix|os|nt)\.system'"):
        convgrad.load(path)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError, match="not on the allow-list"):
        with open(path, "rb") as f:
            convgrad.load(f)
    assert not marker.exists()
    torch.load(path, weights_only=False)
    assert marker.exists()  # the same file does run code when unpickled without restrictions


def test_whole_module_pickle_is_refused_naming_the_class(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 3), path)
    with pytest.raises(UnsafeCheckpointError, match="global 'torch.nn.modules.linear.Linear'"):
        convgrad.load(path)


def test_dtypes_views_shared_storage_and_containers(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {
        "model": collections.OrderedDict(w=base, wt=base.t(), part=base[1:3, ::2]),
        "f64": torch.linspace(0, 1, 5, dtype=torch.float64),
        "f16": torch.tensor([1.5, -2.25], dtype=torch.float16),
        "bf16": torch.tensor([1.5, -2.25, 3.0e10], dtype=torch.bfloat16),
        "i32": torch.tensor([[1, -2]], dtype=torch.int32),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "mask": torch.tensor([True, False]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "param": torch.nn.Parameter(torch.ones(2)),
        "epoch": 3, "lr": 0.1, "name": "run", "steps": [1, 2, (3, 4)], "none": None,
    }
    path = tmp_path / "mixed.pt"
    torch.save(obj, path)
    back = convgrad.load(path)
    for key in ("f64", "f16", "i32", "u8", "mask", "scalar", "empty"):
        assert back[key].dtype == obj[key].numpy().dtype
        np.testing.assert_array_equal(back[key].numpy(), obj[key].numpy())
    np.testing.assert_array_equal(back["bf16"].numpy(), obj["bf16"].float().numpy())
    for key in ("w", "wt", "part"):
        np.testing.assert_array_equal(back["model"][key].numpy(), obj["model"][key].numpy())
        assert back["model"][key].shape == tuple(obj["model"][key].shape)
    assert isinstance(back["param"], Parameter) and back["param"].requires_grad
    assert (back["epoch"], back["lr"], back["name"], back["steps"], back["none"]) == (3, 0.1, "run",
                                                                                      [1, 2, (3, 4)], None)


def test_damaged_archive_gives_a_clear_error(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.ones(10)}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:12] if name.endswith("data/0") else data)
    with pytest.raises(ValueError, match="reaches past its storage"):
        load_torch(out.getvalue(), "'damaged.pt'")


def test_convgrad_save_loads_in_pytorch_with_safetensors(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    convgrad.manual_seed(0)
    model = models.resnet18(num_classes=10)
    model.eval()
    path = tmp_path / "resnet18.safetensors"
    convgrad.save(model.state_dict(), path)
    tm = TorchResNet18(num_classes=10).eval()
    tm.load_state_dict(safetensors_torch.load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    with convgrad.no_grad():
        got = model(convgrad.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
