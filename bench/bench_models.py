"""Whole networks: ResNet-18 inference (batch 8, 224x224, eval, no_grad) and CIFAR ResNet-20 training
(batch 128, 32x32, cross-entropy, SGD with momentum), convgrad against the same networks in PyTorch
(defined here, with convgrad's weights copied in). Few repeats: these are slow."""

import numpy as np

import convgrad
import convgrad.nn.functional as F
from bench.common import HEADER, interleaved, row, setup_torch
from convgrad.vision import models


def _torch_resnet18(torch):
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self, inp, planes, stride=1):
            super().__init__()
            self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inp != planes:
                self.downsample = tnn.Sequential(tnn.Conv2d(inp, planes, 1, stride, bias=False),
                                                 tnn.BatchNorm2d(planes))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet18(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.relu = tnn.ReLU(inplace=True)
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
            inp = 64
            for i, planes in enumerate((64, 128, 256, 512)):
                setattr(self, f"layer{i + 1}", tnn.Sequential(Block(inp, planes, 1 if i == 0 else 2),
                                                              Block(planes, planes)))
                inp = planes
            self.avgpool = tnn.AdaptiveAvgPool2d(1)
            self.fc = tnn.Linear(512, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet18()


def _torch_resnet20(torch):
    tnn = torch.nn

    class Shortcut(tnn.Module):
        def __init__(self, inp, planes, stride):
            super().__init__()
            self.stride, self.pad = stride, (planes - inp) // 2
            self.extra = planes - inp - self.pad

        def forward(self, x):
            x = x[:, :, ::self.stride, ::self.stride]
            return torch.nn.functional.pad(x, (0, 0, 0, 0, self.pad, self.extra))

    class Block(tnn.Module):
        def __init__(self, inp, planes, stride=1):
            super().__init__()
            self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.shortcut = Shortcut(inp, planes, stride) if stride != 1 or inp != planes else None

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.shortcut is None else self.shortcut(x)))

    class ResNet20(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            self.relu = tnn.ReLU(inplace=True)
            inp = 16
            for i, planes in enumerate((16, 32, 64)):
                blocks = [Block(inp, planes, 1 if i == 0 else 2)] + [Block(planes, planes) for _ in range(2)]
                setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
                inp = planes
            self.avgpool = tnn.AdaptiveAvgPool2d(1)
            self.fc = tnn.Linear(64, 10)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet20()


def _copy_weights(torch, ours, ref):
    ref.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})


def main():
    torch = setup_torch()
    print(HEADER)
    rng = np.random.default_rng(0)

    # ResNet-18 inference, batch 8, 224x224
    ours = models.resnet18().eval()
    ref = _torch_resnet18(torch).eval()
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
    ref = _torch_resnet20(torch).train()
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
