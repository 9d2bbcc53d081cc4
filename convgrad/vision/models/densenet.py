"""DenseNet (Huang et al., 2017): inside a dense block every layer receives the concatenation of all
earlier feature maps and adds ``growth_rate`` new ones; transitions between blocks (BN-ReLU-1x1 conv-
2x2 average pooling) compress the channels and halve the size. "BC" layers put a 1x1 bottleneck
(``bn_size * growth_rate`` channels) before the 3x3 convolution, and transitions compress by 0.5.

ImageNet models, layout and state-dict keys as torchvision's (7x7/2 stem, 3x3/2 max pooling, four blocks):

    densenet121  growth 32, blocks (6, 12, 24, 16), 64 initial    7,978,856 parameters
    densenet161  growth 48, blocks (6, 12, 36, 24), 96 initial   28,681,000
    densenet169  growth 32, blocks (6, 12, 32, 32), 64 initial   14,149,480
    densenet201  growth 32, blocks (6, 12, 48, 32), 64 initial   20,013,928

``densenet_bc_cifar(depth=100, growth_rate=12)``: the paper's CIFAR DenseNet-BC, a 3x3 stem with
``2 * growth_rate`` filters and three dense blocks of ``(depth - 4) / 6`` bottleneck layers each on
32x32, 16x16 and 8x8 maps: 769,162 parameters for 10 classes (the paper's "0.8M").
All accept any input size large enough for their pooling (global average pooling at the end).
"""

import convgrad
from convgrad import nn
from convgrad.nn import functional as F

from ._utils import no_weights, zoo_forward

__all__ = ["DenseNet", "DenseNetCifar", "densenet121", "densenet161", "densenet169", "densenet201",
           "densenet_bc_cifar"]


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (bottleneck) - BN-ReLU-3x3 conv: ``growth_rate`` new maps."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate, bottleneck=True):
        super().__init__()
        self.bottleneck = bottleneck
        if bottleneck:
            self.norm1 = nn.BatchNorm2d(num_input_features)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1,
                                   bias=False)
            inner = bn_size * growth_rate
        else:
            inner = num_input_features
        self.norm2 = nn.BatchNorm2d(inner)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(inner, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        x = convgrad.cat(features, 1) if isinstance(features, (list, tuple)) else features
        if self.bottleneck:
            x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class _DenseBlock(nn.Module):
    """``num_layers`` dense layers (``denselayer1`` ...); returns every map, concatenated."""

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate, bottleneck=True):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate,
                                bottleneck)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features):
        features = [init_features]
        for layer in self.children():
            features.append(layer(features))
        return convgrad.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(num_input_features))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                                          bias=False))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


def _init(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.constant_(m.bias, 0)


class DenseNet(nn.Module):
    """torchvision's DenseNet-BC for ImageNet: ``features`` (stem, blocks, transitions, ``norm5``), then
    ReLU, global average pooling and ``classifier``."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 drop_rate=0, num_classes=1000, memory_efficient=False, in_channels=3):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2,
                                                    padding=3, bias=False))
        self.features.add_module("norm0", nn.BatchNorm2d(num_init_features))
        self.features.add_module("relu0", nn.ReLU(inplace=True))
        self.features.add_module("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(num_features, num_features // 2))
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        _init(self)

    @zoo_forward()
    def forward(self, x):
        features = self.features(x)
        out = F.relu(features)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        out = convgrad.flatten(out, 1)
        return self.classifier(out)


class DenseNetCifar(nn.Module):
    """The CIFAR DenseNet of the paper: 3x3 stem (``2k`` filters for BC, 16 otherwise), three dense blocks
    with transitions (compression ``reduction``), BN-ReLU, global average pooling, ``fc``."""

    def __init__(self, depth=100, growth_rate=12, bottleneck=True, reduction=0.5, drop_rate=0.0,
                 num_classes=10, in_channels=3):
        super().__init__()
        n = (depth - 4) // 3
        if bottleneck:
            n //= 2
        if (depth - 4) % (6 if bottleneck else 3):
            raise ValueError(f"DenseNet{'-BC' if bottleneck else ''} depth must be "
                             f"{'6' if bottleneck else '3'}n + 4, got {depth}")
        num_features = 2 * growth_rate if bottleneck else 16
        self.conv1 = nn.Conv2d(in_channels, num_features, kernel_size=3, padding=1, bias=False)
        blocks = []
        for i in range(3):
            blocks.append(_DenseBlock(n, num_features, 4, growth_rate, drop_rate, bottleneck))
            num_features += n * growth_rate
            if i < 2:
                out_features = int(num_features * reduction)
                blocks.append(_Transition(num_features, out_features))
                num_features = out_features
        self.block1, self.trans1, self.block2, self.trans2, self.block3 = blocks
        self.bn = nn.BatchNorm2d(num_features)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(num_features, num_classes)
        _init(self)

    @zoo_forward()
    def forward(self, x):
        x = self.conv1(x)
        x = self.trans1(self.block1(x))
        x = self.trans2(self.block2(x))
        x = self.relu(self.bn(self.block3(x)))
        return self.fc(convgrad.flatten(self.avgpool(x), 1))


def _densenet(name, growth_rate, block_config, num_init_features, weights, **kwargs):
    no_weights(weights, name)
    return DenseNet(growth_rate, block_config, num_init_features, **kwargs)


def densenet121(*, weights=None, progress=True, **kwargs):
    """DenseNet-121: 7,978,856 parameters."""
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, weights, **kwargs)


def densenet161(*, weights=None, progress=True, **kwargs):
    """DenseNet-161: 28,681,000 parameters."""
    return _densenet("densenet161", 48, (6, 12, 36, 24), 96, weights, **kwargs)


def densenet169(*, weights=None, progress=True, **kwargs):
    """DenseNet-169: 14,149,480 parameters."""
    return _densenet("densenet169", 32, (6, 12, 32, 32), 64, weights, **kwargs)


def densenet201(*, weights=None, progress=True, **kwargs):
    """DenseNet-201: 20,013,928 parameters."""
    return _densenet("densenet201", 32, (6, 12, 48, 32), 64, weights, **kwargs)


def densenet_bc_cifar(depth=100, growth_rate=12, *, weights=None, **kwargs):
    """DenseNet-BC for CIFAR (depth 100, k = 12: 769,162 parameters for 10 classes)."""
    no_weights(weights, "densenet_bc_cifar")
    return DenseNetCifar(depth, growth_rate, bottleneck=True, reduction=0.5, **kwargs)
