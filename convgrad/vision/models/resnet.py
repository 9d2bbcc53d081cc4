"""ResNet for ImageNet (He et al., 2016): a 7x7/2 stem and 3x3/2 max pooling, four stages of residual
blocks (64, 128, 256, 512 channels; each later stage halves the size in its first block), global average
pooling and one fully connected layer. Layout and state-dict keys as torchvision's (ResNet v1.5: in a
bottleneck block the stride sits on the 3x3 convolution).

    resnet18   BasicBlock  [2, 2, 2, 2]    11,689,512 parameters
    resnet34   BasicBlock  [3, 4, 6, 3]    21,797,672
    resnet50   Bottleneck  [3, 4, 6, 3]    25,557,032
    resnet101  Bottleneck  [3, 4, 23, 3]   44,549,160
    resnet152  Bottleneck  [3, 8, 36, 3]   60,192,808

A block computes ``relu(F(x) + shortcut(x))``; the shortcut is the identity, or a strided 1x1
convolution with BatchNorm (``downsample``) where the shape changes. Any input of 32x32 or more works
(global average pooling).
"""

import convgrad
from convgrad import nn

from ._utils import bn_relu, no_weights, zoo_forward

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101",
           "resnet152", "conv3x3", "conv1x1"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class _ResidualBlock(nn.Module):
    """What BasicBlock and Bottleneck share: torchvision's constructor (``_layers`` makes the block's own
    layers) and the end of forward, relu(out + shortcut)."""

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        self._layers(inplanes, planes, stride, groups, base_width, dilation, norm_layer or nn.BatchNorm2d)
        self.downsample = downsample
        self.stride = stride

    def _add_shortcut(self, out, x):
        """The shortcut is the identity, or ``downsample`` where the block changes the shape."""
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convolutions: conv-bn-relu-conv-bn, plus the shortcut, then relu."""

    expansion = 1

    def _layers(self, inplanes, planes, stride, groups, base_width, dilation, norm_layer):
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise ValueError("BasicBlock does not support dilation > 1")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)

    def forward(self, x):
        out = bn_relu(self.bn1, self.relu, self.conv1(x))
        return self._add_shortcut(self.bn2(self.conv2(out)), x)


class Bottleneck(_ResidualBlock):
    """1x1 (reduce) -> 3x3 (stride) -> 1x1 (expand x4), each with BatchNorm, plus the shortcut."""

    expansion = 4

    def _layers(self, inplanes, planes, stride, groups, base_width, dilation, norm_layer):
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = bn_relu(self.bn1, self.relu, self.conv1(x))
        out = bn_relu(self.bn2, self.relu, self.conv2(out))
        return self._add_shortcut(self.bn3(self.conv3(out)), x)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None, in_channels=3):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, got "
                             f"{replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        dil = replace_stride_with_dilation
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=dil[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=dil[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=dil[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d) or type(m).__name__ == "GroupNorm":
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            # each block then starts as the identity
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))
        return nn.Sequential(*layers)

    @zoo_forward()
    def forward(self, x):
        x = self.maxpool(bn_relu(self.bn1, self.relu, self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = convgrad.flatten(x, 1)
        return self.fc(x)


def _resnet(block, layers, name, weights, **kwargs):
    no_weights(weights, name)
    return ResNet(block, layers, **kwargs)


def resnet18(*, weights=None, progress=True, **kwargs):
    """ResNet-18: 11,689,512 parameters, 1.8 G mult-adds at 224x224."""
    return _resnet(BasicBlock, [2, 2, 2, 2], "resnet18", weights, **kwargs)


def resnet34(*, weights=None, progress=True, **kwargs):
    """ResNet-34: 21,797,672 parameters."""
    return _resnet(BasicBlock, [3, 4, 6, 3], "resnet34", weights, **kwargs)


def resnet50(*, weights=None, progress=True, **kwargs):
    """ResNet-50: 25,557,032 parameters, 4.1 G mult-adds at 224x224."""
    return _resnet(Bottleneck, [3, 4, 6, 3], "resnet50", weights, **kwargs)


def resnet101(*, weights=None, progress=True, **kwargs):
    """ResNet-101: 44,549,160 parameters."""
    return _resnet(Bottleneck, [3, 4, 23, 3], "resnet101", weights, **kwargs)


def resnet152(*, weights=None, progress=True, **kwargs):
    """ResNet-152: 60,192,808 parameters."""
    return _resnet(Bottleneck, [3, 8, 36, 3], "resnet152", weights, **kwargs)
