"""Three small CIFAR/MNIST networks written once against a library's ``nn`` and built for convgrad and
for PyTorch from the same code: PreAct ResNet-18 (He et al. 2016, identity mappings, CIFAR stem),
LeNet-5 (modern: ReLU, max pooling) and EfficientNet-B0 (CIFAR stem; MBConv blocks with depthwise
convolutions, squeeze-and-excitation and swish). The state-dict keys agree, so weights copy across."""


def _flatten(lib, x):
    return lib.flatten(x, 1)


def build(lib, name, num_classes=10):
    """``name`` in {"preact_resnet18", "lenet5", "efficientnet_b0"} built with ``lib`` (convgrad or torch)."""
    nn, F = lib.nn, lib.nn.functional

    class PreActBlock(nn.Module):
        """BN - ReLU - conv3x3 - BN - ReLU - conv3x3, added to the (projected) input."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(cin)
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.shortcut = None
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False))

        def forward(self, x):
            out = F.relu(self.bn1(x))
            skip = x if self.shortcut is None else self.shortcut(out)
            out = self.conv1(out)
            out = self.conv2(F.relu(self.bn2(out)))
            return out + skip

    class PreActResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            cin, layers = 64, []
            for i, cout in enumerate((64, 128, 256, 512)):
                stride = 1 if i == 0 else 2
                layers.append(nn.Sequential(PreActBlock(cin, cout, stride), PreActBlock(cout, cout, 1)))
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.bn = nn.BatchNorm2d(512)
            self.linear = nn.Linear(512, num_classes)

        def forward(self, x):
            out = F.relu(self.bn(self.layers(self.conv1(x))))
            return self.linear(_flatten(lib, F.adaptive_avg_pool2d(out, 1)))

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
            self.classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                            nn.Linear(84, num_classes))

        def forward(self, x):
            return self.classifier(_flatten(lib, self.features(x)))

    class SqueezeExcite(nn.Module):
        def __init__(self, channels, squeezed):
            super().__init__()
            self.reduce = nn.Conv2d(channels, squeezed, 1)
            self.expand = nn.Conv2d(squeezed, channels, 1)

        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            s = lib.sigmoid(self.expand(F.silu(self.reduce(s))))
            return x * s

    class MBConv(nn.Module):
        """1x1 expansion, k x k depthwise, squeeze-and-excitation, 1x1 projection; identity skip when
        the shape is kept."""

        def __init__(self, cin, cout, expansion, kernel, stride):
            super().__init__()
            mid = cin * expansion
            self.expansion = expansion
            if expansion != 1:
                self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
                self.bn1 = nn.BatchNorm2d(mid)
            self.conv2 = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
            self.bn2 = nn.BatchNorm2d(mid)
            self.se = SqueezeExcite(mid, max(1, cin // 4))
            self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.skip = stride == 1 and cin == cout

        def forward(self, x):
            out = x if self.expansion == 1 else F.silu(self.bn1(self.conv1(x)))
            out = F.silu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(self.se(out)))
            return out + x if self.skip else out

    class EfficientNetB0(nn.Module):
        # (expansion, out channels, blocks, kernel, stride) per stage, the B0 table with CIFAR strides
        stages = ((1, 16, 1, 3, 1), (6, 24, 2, 3, 1), (6, 40, 2, 5, 2), (6, 80, 3, 3, 2),
                  (6, 112, 3, 5, 1), (6, 192, 4, 5, 2), (6, 320, 1, 3, 1))

        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(32)
            blocks, cin = [], 32
            for expansion, cout, n, kernel, stride in self.stages:
                for i in range(n):
                    blocks.append(MBConv(cin, cout, expansion, kernel, stride if i == 0 else 1))
                    cin = cout
            self.blocks = nn.Sequential(*blocks)
            self.linear = nn.Linear(320, num_classes)

        def forward(self, x):
            out = self.blocks(F.silu(self.bn1(self.conv1(x))))
            return self.linear(_flatten(lib, F.adaptive_avg_pool2d(out, 1)))

    return {"preact_resnet18": PreActResNet18, "lenet5": LeNet5, "efficientnet_b0": EfficientNetB0}[name]()


INPUTS = {"preact_resnet18": (3, 32, 32), "lenet5": (1, 28, 28), "efficientnet_b0": (3, 32, 32)}


def copy_weights(torch, ours, ref):
    """Load convgrad's parameters and buffers into the PyTorch twin."""
    import numpy as np

    ref.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})
