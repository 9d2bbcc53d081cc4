"""Whole networks: ResNet-18 inference (batch 8, 224x224, eval, no_grad), CIFAR ResNet-20 training
(batch 128, 32x32, cross-entropy, SGD with momentum) and MNIST-1D CNN training (batch 100, 40 samples,
Adam, as `convgrad train --model mnist1d_cnn`; also on one thread, its CLI default), convgrad against
the same networks in PyTorch (tests/torch_models.py, with convgrad's weights copied in). Few repeats for
the large ones: they are slow."""

import numpy as np

import convgrad
import convgrad.nn.functional as F
from bench.common import HEADER, THREADS, interleaved, peak_memory, row, setup_torch
from convgrad.threads import set_blas_threads
from convgrad.vision import models


def _copy_weights(torch, ours, ref):
    ref.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})


def resnet20_steps(torch, rng):
    """One CIFAR ResNet-20 training step (batch 128, 32x32, SGD momentum) in each library, from the same
    weights and data: ``(step_convgrad, step_torch)``."""
    from tests.torch_models import TorchResNet20

    ours = models.resnet20().train()
    ref = TorchResNet20().train()
    _copy_weights(torch, ours, ref)
    x = rng.standard_normal((128, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    xc, yc = convgrad.tensor(x), convgrad.tensor(y)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt_c = convgrad.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    opt_t = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def step_c():
        opt_c.zero_grad()
        F.cross_entropy(ours(xc), yc).backward()
        opt_c.step()

    def step_t():
        opt_t.zero_grad()
        torch.nn.functional.cross_entropy(ref(xt), yt).backward()
        opt_t.step()

    return step_c, step_t


def resnet18_inference(torch, rng):
    """ResNet-18 inference (batch 8, 224x224, eval, no_grad) in each library, from the same weights:
    ``(infer_convgrad, infer_torch)``."""
    from tests.torch_models import TorchResNet18

    ours = models.resnet18().eval()
    ref = TorchResNet18().eval()
    _copy_weights(torch, ours, ref)
    x = rng.standard_normal((8, 3, 224, 224)).astype(np.float32)
    xc, xt = convgrad.tensor(x), torch.from_numpy(x)

    def infer_c():
        with convgrad.no_grad():
            ours(xc)

    def infer_t():
        with torch.no_grad():
            ref(xt)
    return infer_c, infer_t


def main():
    torch = setup_torch()
    from tests.torch_models import TorchMNIST1DCNN
    print(HEADER)
    rng = np.random.default_rng(0)

    # ResNet-18 inference, batch 8, 224x224
    infer_c, infer_t = resnet18_inference(torch, rng)
    tc, tt = interleaved(infer_c, infer_t, repeat=3, warmup=1)
    print(row("ResNet-18 inference, batch 8, 224x224", tc, tt,
              f"{8 / tc:.1f} vs {8 / tt:.1f} img/s; {peak_memory(infer_c, infer_t)}"), flush=True)

    # CIFAR ResNet-20 training step, batch 128, 32x32, SGD momentum
    step_c, step_t = resnet20_steps(torch, rng)
    tc, tt = interleaved(step_c, step_t, repeat=5, warmup=1)
    print(row("CIFAR ResNet-20 training step, batch 128", tc, tt,
              f"{128 / tc:.0f} vs {128 / tt:.0f} img/s; {peak_memory(step_c, step_t)}"), flush=True)

    # MNIST-1D CNN training step, batch 100, Adam
    ours = models.mnist1d_cnn().train()
    ref = TorchMNIST1DCNN().train()
    _copy_weights(torch, ours, ref)
    x = rng.standard_normal((100, 40)).astype(np.float32)
    y = rng.integers(0, 10, 100)
    xc, yc = convgrad.tensor(x), convgrad.tensor(y)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt_c = convgrad.optim.Adam(ours.parameters(), lr=1e-2)
    opt_t = torch.optim.Adam(ref.parameters(), lr=1e-2)
    step_c = _step(opt_c, ours, F, xc, yc)
    step_t = _step(opt_t, ref, torch.nn.functional, xt, yt)
    tc, tt = interleaved(step_c, step_t, repeat=25, warmup=3)
    print(row("MNIST-1D CNN training step, batch 100", tc, tt, peak_memory(step_c, step_t)), flush=True)
    set_blas_threads(1)
    torch.set_num_threads(1)
    tc, tt = interleaved(step_c, step_t, repeat=25, warmup=3)
    set_blas_threads(THREADS)
    torch.set_num_threads(THREADS)
    print(row("MNIST-1D CNN training step, batch 100, 1 thread", tc, tt), flush=True)


def _step(opt, model, F, x, y):
    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


if __name__ == "__main__":
    main()
