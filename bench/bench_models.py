"""Whole networks: ResNet-18 inference (batch 8, 224x224, eval, no_grad) and CIFAR ResNet-20 training
(batch 128, 32x32, cross-entropy, SGD with momentum), convgrad against the same networks in PyTorch
(defined here, with convgrad's weights copied in). Few repeats: these are slow."""

import numpy as np

import convgrad
import convgrad.nn.functional as F
from bench.common import HEADER, interleaved, row, setup_torch
from convgrad.vision import models


def _copy_weights(torch, ours, ref):
    ref.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})


def main():
    torch = setup_torch()
    from tests.torch_models import TorchResNet18, TorchResNet20
    print(HEADER)
    rng = np.random.default_rng(0)

    # ResNet-18 inference, batch 8, 224x224
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

    tc, tt = interleaved(infer_c, infer_t, repeat=3, warmup=1)
    print(row("ResNet-18 inference, batch 8, 224x224", tc, tt,
              f"{8 / tc:.1f} vs {8 / tt:.1f} img/s"), flush=True)

    # CIFAR ResNet-20 training step, batch 128, 32x32, SGD momentum
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

    tc, tt = interleaved(step_c, step_t, repeat=5, warmup=1)
    print(row("CIFAR ResNet-20 training step, batch 128", tc, tt,
              f"{128 / tc:.0f} vs {128 / tt:.0f} img/s"), flush=True)


if __name__ == "__main__":
    main()
