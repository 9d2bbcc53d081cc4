"""examples/pytorch_mnist.py: a PyTorch-style script with only its imports changed runs on convgrad and
its loss falls."""

import importlib.util
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    spec = importlib.util.spec_from_file_location("pytorch_mnist", os.path.join(ROOT, "examples",
                                                                                "pytorch_mnist.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pytorch_mnist_example_trains(tmp_path, capsys):
    mod = _load()
    losses, (test_loss, test_acc) = mod.main(["--epochs", "1", "--max-batches", "30", "--log-interval", "10",
                                             "--test-batch-size", "100", "--data", str(tmp_path)])
    assert len(losses) == 30 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert test_acc > 0.5
    out = capsys.readouterr().out
    assert "Train Epoch: 1" in out and "Test set: Average loss" in out


def test_pytorch_mnist_example_dry_run_and_save(tmp_path, monkeypatch):
    import convgrad

    mod = _load()
    monkeypatch.chdir(tmp_path)
    losses, _ = mod.main(["--dry-run", "--epochs", "2", "--save-model", "--data", str(tmp_path)])
    assert len(losses) == 2  # one batch per epoch
    state = convgrad.load(tmp_path / "mnist_cnn.pt")
    net = mod.Net()
    net.load_state_dict(state)
    assert set(state) == set(net.state_dict())


def test_same_script_runs_on_pytorch(tmp_path, monkeypatch):
    """The script is plain PyTorch: with torch's imports swapped in it runs on PyTorch. (torchvision is
    not installed: a stand-in serves the same MNIST images through the same dataset/transform API.)"""
    import sys
    import types

    import torch

    from convgrad.vision.datasets import MNIST

    images = MNIST(str(tmp_path), train=True).data.numpy()[:640]
    labels = MNIST(str(tmp_path), train=True).targets.numpy()[:640]

    class FakeMNIST(torch.utils.data.Dataset):
        def __init__(self, root, train=True, download=False, transform=None):
            self.transform = transform

        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return self.transform(images[i]), int(labels[i])

    tv = types.ModuleType("fake_torchvision")
    tv.datasets = types.SimpleNamespace(MNIST=FakeMNIST)
    tv.transforms = types.SimpleNamespace(
        ToTensor=lambda: (lambda a: torch.from_numpy(a.astype(np.float32) / 255)[None]),
        Normalize=lambda mean, std: (lambda t: (t - mean[0]) / std[0]),
        Compose=lambda fs: (lambda x: [x := f(x) for f in fs][-1]),
    )
    monkeypatch.setitem(sys.modules, "fake_torchvision", tv)
    source = open(os.path.join(ROOT, "examples", "pytorch_mnist.py")).read()
    swaps = {
        "import convgrad as torch\n": "import torch\n",
        "import convgrad.nn.functional as F\n": "import torch.nn.functional as F\n",
        "from convgrad import nn, optim\n": "from torch import nn, optim\n",
        "from convgrad.optim.lr_scheduler import StepLR\n": "from torch.optim.lr_scheduler import StepLR\n",
        "from convgrad.vision import datasets, transforms\n":
            "from fake_torchvision import datasets, transforms\n",
    }
    for a, b in swaps.items():
        assert a in source, a
        source = source.replace(a, b)
    assert "convgrad" not in source.split('"""', 2)[2]  # nothing else of convgrad's is used
    namespace = {"__name__": "pytorch_mnist_on_torch"}
    exec(compile(source, "pytorch_mnist_on_torch.py", "exec"), namespace)
    losses, (test_loss, test_acc) = namespace["main"](["--epochs", "1", "--max-batches", "10",
                                                       "--log-interval", "100", "--data", str(tmp_path)])
    assert len(losses) == 10 and np.mean(losses[-3:]) < np.mean(losses[:3])
