"""examples/pytorch_mnist.py: a PyTorch-style script with only its imports changed runs on convgrad and
its loss falls."""

import importlib.util
import os

import numpy as np
import pytest

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


# ------------------------------------------------------------------ the corpus of PyTorch-style scripts
_SWAPS = {
    "import convgrad as torch\n": "import torch\n",
    "import convgrad.nn.functional as F\n": "import torch.nn.functional as F\n",
    "from convgrad import nn, optim\n": "from torch import nn, optim\n",
    "from convgrad.utils.data import DataLoader, Subset\n":
        "from torch.utils.data import DataLoader, Subset\n",
    "from convgrad.utils.data import DataLoader\n": "from torch.utils.data import DataLoader\n",
    "from convgrad.vision import datasets, transforms\n":
        "from fake_torchvision import datasets, transforms\n",
    "from convgrad.vision import utils as vutils\n": "from fake_torchvision import utils as vutils\n",
    "from convgrad.vision.utils import save_image\n":
        "from fake_torchvision.utils import save_image\n",
}


def _load_example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_torchvision(monkeypatch, root):
    """torchvision is not installable beside torch 2.13 here: a stand-in with the same API serves the same
    images (convgrad's MNIST files and FakeData's PIL images) as torch tensors, and writes grids with
    convgrad's make_grid/save_image (whose semantics tests/test_vision_utils.py checks)."""
    import sys
    import types

    import torch
    from PIL import Image

    import convgrad
    from convgrad.vision import datasets as cdatasets
    from convgrad.vision import utils as cutils

    def to_tensor(pic):
        a = np.asarray(pic, dtype=np.float32) / 255
        return torch.from_numpy(np.ascontiguousarray(a[None] if a.ndim == 2 else a.transpose(2, 0, 1)))

    def normalize(mean, std):
        m, s = torch.tensor(mean).view(-1, 1, 1), torch.tensor(std).view(-1, 1, 1)
        return lambda t: (t - m) / s

    class MNIST(torch.utils.data.Dataset):
        def __init__(self, root_, train=True, download=False, transform=None):
            ds = cdatasets.MNIST(str(root), train=train)
            self.images, self.labels = ds.data.numpy(), ds.targets.numpy()
            self.transform = transform

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            img = Image.fromarray(self.images[i], mode="L")
            return (self.transform(img) if self.transform else img), int(self.labels[i])

    class FakeData(torch.utils.data.Dataset):
        def __init__(self, transform=None, **kwargs):
            self.ds, self.transform = cdatasets.FakeData(**kwargs), transform

        def __len__(self):
            return len(self.ds)

        def __getitem__(self, i):
            img, label = self.ds[i]
            return self.transform(img), label

    def grid_args(t):
        return convgrad.tensor(t.detach().numpy()) if isinstance(t, torch.Tensor) else t

    utils = types.ModuleType("fake_torchvision.utils")
    utils.make_grid = lambda t, **kw: torch.from_numpy(cutils.make_grid(grid_args(t), **kw).numpy())
    utils.save_image = lambda t, fp, **kw: cutils.save_image(grid_args(t), fp, **kw)
    tv = types.ModuleType("fake_torchvision")
    tv.datasets = types.SimpleNamespace(MNIST=MNIST, FakeData=FakeData)
    tv.transforms = types.SimpleNamespace(ToTensor=lambda: to_tensor, Normalize=normalize,
                                          Compose=lambda fs: (lambda x: [x := f(x) for f in fs][-1]))
    tv.utils = utils
    monkeypatch.setitem(sys.modules, "fake_torchvision", tv)
    monkeypatch.setitem(sys.modules, "fake_torchvision.utils", utils)


def _run_on_torch(name, argv, monkeypatch, root):
    """The example's source with PyTorch's imports swapped in, run on PyTorch."""
    _fake_torchvision(monkeypatch, root)
    source = open(os.path.join(ROOT, "examples", f"{name}.py")).read()
    for a, b in _SWAPS.items():
        source = source.replace(a, b)
    assert "convgrad" not in source.split('"""', 2)[2], "the script uses convgrad beyond its imports"
    namespace = {"__name__": f"{name}_on_torch"}
    exec(compile(source, f"{name}_on_torch.py", "exec"), namespace)
    return namespace["main"](argv)


LIBS = ["convgrad", "torch"]


def _run(lib, name, argv, monkeypatch, tmp_path):
    if lib == "convgrad":
        return _load_example(name).main(argv)
    return _run_on_torch(name, argv, monkeypatch, tmp_path)


@pytest.mark.parametrize("lib", LIBS)
def test_dcgan_example(lib, tmp_path, monkeypatch):
    from PIL import Image

    out = tmp_path / "out"
    history, grid = _run(lib, "dcgan_mnist", ["--quick", "--data", str(tmp_path), "--out", str(out),
                                               "--batch-size", "32"], monkeypatch, tmp_path)
    assert len(history) == 16 and np.all(np.isfinite(history))
    d_losses = [h[0] for h in history]
    assert np.mean(d_losses[-4:]) < np.mean(d_losses[:4])   # the discriminator learns
    assert tuple(grid.shape) == (3, 2 + 8 * 30, 2 + 8 * 30)
    img = Image.open(out / "fake_samples_epoch_000.png")
    assert img.size == (242, 242) and img.mode == "RGB"
    assert (out / "real_samples.png").exists() and (out / "netG.pt").exists()


@pytest.mark.parametrize("lib", LIBS)
def test_vae_example(lib, tmp_path, monkeypatch):
    argv = ["--quick", "--data", str(tmp_path), "--out", str(tmp_path)]
    losses = _run(lib, "vae_mnist", argv, monkeypatch, tmp_path)
    assert len(losses) == 16 and np.all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])
    assert (tmp_path / "sample_1.png").exists()


@pytest.mark.parametrize("lib", LIBS)
def test_super_resolution_example(lib, tmp_path, monkeypatch):
    losses, result = _run(lib, "super_resolution", ["--quick", "--data", str(tmp_path), "--batch-size", "32"],
                          monkeypatch, tmp_path)
    assert len(losses) == 16 and np.all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert 10 < result["psnr"] < 40 and 10 < result["psnr_nearest"] < 40


@pytest.mark.parametrize("lib", LIBS)
def test_style_transfer_example(lib, tmp_path, monkeypatch):
    history = _run(lib, "style_transfer", ["--quick"], monkeypatch, tmp_path)
    assert len(history) == 4 and np.all(np.isfinite(history))
    total = [c + s for c, s in history]
    assert total[-1] < total[0]


def _blitz_needs():
    """What the blitz script uses that lives in issue 10's part A (Tensor.new_*) and in the autograd branch
    (grad_fn.next_functions as pairs, grad_fn.name()): while one is missing here the convgrad run is an
    expected failure."""
    import convgrad

    node = (convgrad.ones(1, requires_grad=True) * 2).grad_fn
    graph_api = callable(node.name) and isinstance(node.next_functions, tuple)
    new = all(hasattr(convgrad.Tensor, m) for m in ("new_ones", "new_zeros", "new_full", "new_tensor"))
    return not (graph_api and new)


@pytest.mark.parametrize("lib", [
    pytest.param("convgrad", marks=pytest.mark.xfail(_blitz_needs(), raises=(AttributeError, TypeError),
                                                     strict=True, reason="needs issue 10's Tensor.new_* and "
                                                     "grad_fn.name() / next_functions pairs")),
    "torch",
])
def test_blitz_example(lib, tmp_path, monkeypatch, capsys):
    result = _run(lib, "blitz", ["--quick"], monkeypatch, tmp_path)
    assert tuple(result["size"]) == (5, 3)
    assert result["grad_fn_names"][:3] == ["MeanBackward0", "MulBackward0", "MulBackward0"]
    assert any(n.endswith("AccumulateGrad") for n in result["grad_fn_names"])  # torch: torch::autograd::...
    assert len(result["losses"]) == 16 and np.all(np.isfinite(result["losses"]))
    assert 0 <= result["accuracy"] <= 1
    assert result["keys"][:2] == ["conv1.bias", "conv1.weight"]
    assert "Accuracy of the network on the 64 training images" in capsys.readouterr().out
