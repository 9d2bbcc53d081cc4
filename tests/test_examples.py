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
                                             "--data", str(tmp_path)])
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
