"""ResNets for CIFAR-10 (He et al., 2016, section 4.2) and their "plain" counterparts.

A 3x3 convolution with 16 filters, then three stages of ``n`` basic blocks with 16, 32 and 64 filters on
32x32, 16x16 and 8x8 maps (the first block of stages 2 and 3 has stride 2), global average pooling and a
``num_classes``-way fully connected layer: ``6n + 2`` weighted layers. Where a shortcut changes shape it
is option A of the paper: subsample by 2 and zero-pad the new channels, so shortcuts add no parameters.

    resnet20  n=3     269,722 parameters        resnet56   n=9     853,018
    resnet32  n=5     464,154                   resnet110  n=18  1,727,962
    resnet44  n=7     658,586

``plain20`` ... ``plain110`` are the same stacks without shortcuts (the paper's degradation experiment):
the same parameter counts. Any input of 8x8 or more works (global average pooling).
"""

import convgrad
from convgrad import nn

from ._utils import bn_relu, no_weights, zoo_forward

__all__ = ["CifarResNet", "CifarBasicBlock", "ZeroPadShortcut", "cifar_resnet",
           "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
           "plain20", "plain32", "plain44", "plain56", "plain110"]


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: take every ``stride``-th pixel and pad the channel dimension with zeros (half
    the new channels before, half after). No parameters."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride = stride
        self.pad_before = (planes - in_planes) // 2
        self.pad_after = planes - in_planes - self.pad_before

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        n, _, h, w = x.shape
        parts = []
        if self.pad_before:
            parts.append(convgrad.zeros(n, self.pad_before, h, w, dtype=x.dtype))
        parts.append(x)
        if self.pad_after:
            parts.append(convgrad.zeros(n, self.pad_after, h, w, dtype=x.dtype))
        return convgrad.cat(parts, 1) if len(parts) > 1 else x

    def extra_repr(self):
        return f"stride={self.stride}, pad=({self.pad_before}, {self.pad_after})"


class CifarBasicBlock(nn.Module):
    """conv3x3-bn-relu-conv3x3-bn, plus the shortcut (unless ``residual=False``), then relu."""

    expansion = 1

    def __init__(self, in_planes, planes, stride=1, residual=True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.residual = residual
        if residual and (stride != 1 or in_planes != planes):
            self.shortcut = ZeroPadShortcut(in_planes, planes, stride)
        else:
            self.shortcut = None

    def forward(self, x):
        out = bn_relu(self.bn1, self.relu, self.conv1(x))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return self.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth=20, num_classes=10, residual=True, in_channels=3, widths=(16, 32, 64)):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got {depth}")
        n = (depth - 2) // 6
        self.depth = depth
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.in_planes = widths[0]
        self.layer1 = self._make_layer(widths[0], n, 1, residual)
        self.layer2 = self._make_layer(widths[1], n, 2, residual)
        self.layer3 = self._make_layer(widths[2], n, 2, residual)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[2], num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def _make_layer(self, planes, blocks, stride, residual):
        layers = []
        for s in [stride] + [1] * (blocks - 1):
            layers.append(CifarBasicBlock(self.in_planes, planes, s, residual))
            self.in_planes = planes
        return nn.Sequential(*layers)

    @zoo_forward()
    def forward(self, x):
        x = bn_relu(self.bn1, self.relu, self.conv1(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = convgrad.flatten(self.avgpool(x), 1)
        return self.fc(x)


def cifar_resnet(depth, residual=True, *, weights=None, **kwargs):
    """A CIFAR ResNet (``residual=True``) or plain network of ``depth = 6n + 2`` layers."""
    no_weights(weights, f"{'resnet' if residual else 'plain'}{depth}")
    return CifarResNet(depth, residual=residual, **kwargs)


def resnet20(**kwargs):
    """CIFAR ResNet-20: 269,722 parameters."""
    return cifar_resnet(20, **kwargs)


def resnet32(**kwargs):
    """CIFAR ResNet-32: 464,154 parameters."""
    return cifar_resnet(32, **kwargs)


def resnet44(**kwargs):
    """CIFAR ResNet-44: 658,586 parameters."""
    return cifar_resnet(44, **kwargs)


def resnet56(**kwargs):
    """CIFAR ResNet-56: 853,018 parameters."""
    return cifar_resnet(56, **kwargs)


def resnet110(**kwargs):
    """CIFAR ResNet-110: 1,727,962 parameters."""
    return cifar_resnet(110, **kwargs)


def plain20(**kwargs):
    """Plain 20-layer CIFAR network (ResNet-20 without shortcuts): 269,722 parameters."""
    return cifar_resnet(20, residual=False, **kwargs)


def plain32(**kwargs):
    """Plain 32-layer CIFAR network: 464,154 parameters."""
    return cifar_resnet(32, residual=False, **kwargs)


def plain44(**kwargs):
    """Plain 44-layer CIFAR network: 658,586 parameters."""
    return cifar_resnet(44, residual=False, **kwargs)


def plain56(**kwargs):
    """Plain 56-layer CIFAR network: 853,018 parameters."""
    return cifar_resnet(56, residual=False, **kwargs)


def plain110(**kwargs):
    """Plain 110-layer CIFAR network: 1,727,962 parameters."""
    return cifar_resnet(110, residual=False, **kwargs)
