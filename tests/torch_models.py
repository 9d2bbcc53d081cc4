"""Reference networks written in plain PyTorch with torchvision's layouts and state-dict keys
(torchvision is not installed here): the oracle for the model-zoo tests and the peer in bench/."""

import torch
import torch.nn as tnn


class TorchBasicBlock(tnn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = tnn.Sequential(tnn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                             tnn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNet18(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        inp = 64
        for i, planes in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", tnn.Sequential(TorchBasicBlock(inp, planes, stride),
                                                          TorchBasicBlock(planes, planes)))
            inp = planes
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TorchVGG11(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        layers, c = [], 3
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
            else:
                layers += [tnn.Conv2d(c, v, 3, padding=1), tnn.ReLU(inplace=True)]
                c = v
        self.features = tnn.Sequential(*layers)
        self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
        self.classifier = tnn.Sequential(
            tnn.Linear(512 * 7 * 7, 4096), tnn.ReLU(True), tnn.Dropout(),
            tnn.Linear(4096, 4096), tnn.ReLU(True), tnn.Dropout(), tnn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class TorchDenseLayer(tnn.Module):
    def __init__(self, c, growth, bn_size):
        super().__init__()
        self.norm1 = tnn.BatchNorm2d(c)
        self.relu1 = tnn.ReLU(inplace=True)
        self.conv1 = tnn.Conv2d(c, bn_size * growth, 1, bias=False)
        self.norm2 = tnn.BatchNorm2d(bn_size * growth)
        self.relu2 = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, feats):
        x = torch.cat(feats, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class TorchDenseBlock(tnn.ModuleDict):
    def __init__(self, n, c, growth, bn_size):
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", TorchDenseLayer(c + i * growth, growth, bn_size))

    def forward(self, x):
        feats = [x]
        for _, layer in self.items():
            feats.append(layer(feats))
        return torch.cat(feats, 1)


class TorchDenseNet121(tnn.Module):
    def __init__(self, num_classes=1000, growth=32, blocks=(6, 12, 24, 16), init=64):
        super().__init__()
        f = tnn.Sequential()
        f.add_module("conv0", tnn.Conv2d(3, init, 7, 2, 3, bias=False))
        f.add_module("norm0", tnn.BatchNorm2d(init))
        f.add_module("relu0", tnn.ReLU(inplace=True))
        f.add_module("pool0", tnn.MaxPool2d(3, 2, 1))
        c = init
        for i, n in enumerate(blocks):
            f.add_module(f"denseblock{i + 1}", TorchDenseBlock(n, c, growth, 4))
            c += n * growth
            if i != len(blocks) - 1:
                t = tnn.Sequential()
                t.add_module("norm", tnn.BatchNorm2d(c))
                t.add_module("relu", tnn.ReLU(inplace=True))
                t.add_module("conv", tnn.Conv2d(c, c // 2, 1, bias=False))
                t.add_module("pool", tnn.AvgPool2d(2, 2))
                f.add_module(f"transition{i + 1}", t)
                c //= 2
        f.add_module("norm5", tnn.BatchNorm2d(c))
        self.features = f
        self.classifier = tnn.Linear(c, num_classes)

    def forward(self, x):
        out = torch.nn.functional.relu(self.features(x))
        out = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


class TorchShortcutA(tnn.Module):
    """Option A: subsample, then zero-pad the new channels."""

    def __init__(self, inp, planes, stride):
        super().__init__()
        self.stride, self.pad = stride, (planes - inp) // 2
        self.extra = planes - inp - self.pad

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return torch.nn.functional.pad(x, (0, 0, 0, 0, self.pad, self.extra))


class TorchCifarBlock(tnn.Module):
    def __init__(self, inp, planes, stride=1):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.shortcut = TorchShortcutA(inp, planes, stride) if stride != 1 or inp != planes else None

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class TorchResNet20(tnn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(16)
        self.relu = tnn.ReLU(inplace=True)
        inp = 16
        for i, planes in enumerate((16, 32, 64)):
            blocks = [TorchCifarBlock(inp, planes, 1 if i == 0 else 2)]
            blocks += [TorchCifarBlock(planes, planes) for _ in range(2)]
            setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
            inp = planes
        self.avgpool = tnn.AdaptiveAvgPool2d(1)
        self.fc = tnn.Linear(64, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TorchMNIST1DCNN(tnn.Module):
    def __init__(self, num_classes=10, channels=25):
        super().__init__()
        self.conv1 = tnn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = tnn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = tnn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.relu = tnn.ReLU()
        self.linear = tnn.Linear(channels * 5, num_classes)

    def forward(self, x):
        x = self.relu(self.conv1(x.unsqueeze(1) if x.ndim == 2 else x))
        x = self.relu(self.conv3(self.relu(self.conv2(x))))
        return self.linear(torch.flatten(x, 1))
